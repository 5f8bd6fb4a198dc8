//! Reading a server's AOF increments back as commands.

use std::path::PathBuf;

use crate::Server;

/// The commands in a server's AOF increments (`appendonlydir/*.incr.aof`),
/// as words: each argument lowercased if it is short text, or `<N bytes>`
/// (a library's code, say).
pub fn aof_commands(server: &Server) -> Vec<Vec<String>> {
    let dir = server.dir().join("appendonlydir");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.to_string_lossy().ends_with(".incr.aof"));
    // Named `<base>.<seq>.incr.aof`: sorted by their sequence number.
    files.sort_by_key(|p| {
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let seq = name.rsplit('.').nth(2).and_then(|n| n.parse::<u64>().ok());
        seq.unwrap_or(0)
    });
    let mut commands = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        commands.extend(parse_resp_commands(&bytes));
    }
    commands
}

/// Parses `*<n>\r\n$<len>\r\n<bytes>\r\n...` commands; stops at a
/// partial one (an AOF being written).
fn parse_resp_commands(bytes: &[u8]) -> Vec<Vec<String>> {
    fn line(bytes: &[u8], at: &mut usize, marker: u8) -> Option<usize> {
        if *bytes.get(*at)? != marker {
            return None;
        }
        let end = *at + bytes[*at..].windows(2).position(|w| w == b"\r\n")?;
        let n = std::str::from_utf8(&bytes[*at + 1..end])
            .ok()?
            .parse()
            .ok()?;
        *at = end + 2;
        Some(n)
    }
    let mut commands = Vec::new();
    let mut at = 0;
    'commands: while at < bytes.len() {
        let Some(count) = line(bytes, &mut at, b'*') else {
            break;
        };
        let mut words = Vec::with_capacity(count);
        for _ in 0..count {
            let Some(len) = line(bytes, &mut at, b'$') else {
                break 'commands;
            };
            let Some(arg) = bytes.get(at..at + len) else {
                break 'commands;
            };
            at += len + 2;
            words.push(match std::str::from_utf8(arg) {
                Ok(text) if len <= 64 => text.to_ascii_lowercase(),
                _ => format!("<{len} bytes>"),
            });
        }
        commands.push(words);
    }
    commands
}
