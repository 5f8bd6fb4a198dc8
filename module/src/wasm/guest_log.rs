//! What guests write to the Redis log: `host.log`, `report-panic`, stdout
//! and stderr ([`LogStream`], handed out by `wasi.rs`). A guest must not
//! flood the log nor make the host keep unbounded text: each line is cut at
//! [`MAX_LINE_BYTES`], and at most [`LINES_PER_SECOND`] guest lines are
//! written each second. Lines past that are counted, and the count is
//! logged once lines are allowed again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use crate::server::redis_log;

/// The longest line a guest can have logged, in bytes.
pub const MAX_LINE_BYTES: usize = 4096;

/// How many guest lines reach the log each second, from all libraries.
pub const LINES_PER_SECOND: u32 = 100;

struct Window {
    start: Option<Instant>,
    lines: u32,
    dropped: u64,
}

static WINDOW: Mutex<Window> = Mutex::new(Window {
    start: None,
    lines: 0,
    dropped: 0,
});

/// Writes a guest's line to the Redis log, cut and rate-limited.
pub fn log(level: &str, message: &str) {
    let Ok(mut window) = WINDOW.lock() else {
        return;
    };
    let now = Instant::now();
    if window
        .start
        .is_none_or(|start| now.duration_since(start) >= Duration::from_secs(1))
    {
        if window.dropped > 0 {
            redis_log(
                "warning",
                &format!(
                    "{} lines from trigger libraries were not logged \
                     (more than {LINES_PER_SECOND} a second)",
                    window.dropped
                ),
            );
        }
        *window = Window {
            start: Some(now),
            lines: 0,
            dropped: 0,
        };
    }
    if window.lines >= LINES_PER_SECOND {
        window.dropped += 1;
        return;
    }
    window.lines += 1;
    drop(window);
    redis_log(level, &truncate(message, MAX_LINE_BYTES));
}

/// `text` cut to at most `max` bytes (at a character boundary), saying how
/// much was cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes cut)", &text[..end], text.len() - end)
}

/// stdout or stderr: lines written to the Redis log ([`log`]).
pub struct LogStream {
    /// `<library> stdout:`, the prefix of every line.
    prefix: String,
    /// The line being written, up to [`MAX_LINE_BYTES`].
    line: Vec<u8>,
}

/// How much a guest may write at once.
const WRITE_PERMIT: usize = 64 << 10;

impl LogStream {
    pub fn new(library: &str, name: &str) -> Self {
        LogStream {
            prefix: format!("<{library}> {name}:"),
            line: Vec::new(),
        }
    }

    fn emit(&mut self) {
        if !self.line.is_empty() {
            let text = String::from_utf8_lossy(&self.line);
            log("debug", &format!("{} {text}", self.prefix));
            self.line.clear();
        }
    }
}

impl OutputStream for LogStream {
    fn write(&mut self, bytes: wasmtime_wasi_io::bytes::Bytes) -> StreamResult<()> {
        for &byte in bytes.iter() {
            if byte == b'\n' {
                self.emit();
            } else if self.line.len() < MAX_LINE_BYTES {
                self.line.push(byte);
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LogStream {
    async fn ready(&mut self) {}
}

impl Drop for LogStream {
    fn drop(&mut self) {
        self.emit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_a_character_boundary() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("abcdef", 3), "abc… (3 bytes cut)");
        // "é" is two bytes: a cut in its middle moves before it.
        assert_eq!(truncate("aé", 2), "a… (2 bytes cut)");
    }
}
