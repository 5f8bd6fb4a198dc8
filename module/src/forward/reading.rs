//! The outbox as the forwarder reads it, under the server lock: its own
//! consumer group on every outbox stream, the entries it has yet to
//! forward (first those it read before and did not acknowledge, in order,
//! then new ones, from where the last read left off), and `XACK` once the
//! broker confirmed them. Every write
//! (`XGROUP CREATE`, the group's delivery state, `XACK`) is replicated, so
//! a replica that takes over forwards from where its primary stopped.

use redis_module::{CallReply, Context, RedisValue};

use super::message::OutboxEntry;
use super::window::Cursor;
use crate::outbox::{self, EntryId, Replicate};
use crate::server::select_db;

/// The consumer group, and its one consumer: every node uses the same
/// names, so that a new primary finds the old one's pending entries.
pub const GROUP: &str = "triggers-forwarder";
const CONSUMER: &str = "forwarder";

/// Runs a command; its writes are replicated.
fn run(ctx: &Context, command: &str, args: &[&[u8]]) -> Result<RedisValue, String> {
    outbox::run(ctx, Replicate::Yes, command, args)
}

/// Up to `count` entries of `stream` in database `db` to forward, from
/// `cursor`: those read before and not acknowledged, else new ones; with
/// where the next read goes on.
pub fn read(
    ctx: &Context,
    db: i32,
    stream: &[u8],
    count: usize,
    cursor: &Cursor,
) -> Result<(Vec<OutboxEntry>, Cursor), String> {
    if !select_db(ctx, db) {
        return Err(format!("cannot select database {db}"));
    }
    if let Cursor::Pending(after) = cursor {
        let pending = read_or_create(ctx, stream, after.as_bytes(), count)?;
        if let Some(last) = pending.last() {
            let next = Cursor::Pending(last.id.clone());
            return Ok((pending, next));
        }
    }
    Ok((read_or_create(ctx, stream, b">", count)?, Cursor::New))
}

/// [`read_group`], creating the group where the stream has none yet.
fn read_or_create(
    ctx: &Context,
    stream: &[u8],
    from: &[u8],
    count: usize,
) -> Result<Vec<OutboxEntry>, String> {
    match read_group(ctx, stream, from, count) {
        Err(e) if e.contains("NOGROUP") => {
            // A stream deleted, or moved to another node with its slot, has
            // nothing left to read here.
            if !matches!(run(ctx, "EXISTS", &[stream]), Ok(RedisValue::Integer(1))) {
                return Ok(Vec::new());
            }
            run(ctx, "XGROUP", &[b"CREATE", stream, GROUP.as_bytes(), b"0"])?;
            // A new group has nothing pending: every entry is new.
            read_group(ctx, stream, b">", count)
        }
        other => other,
    }
}

/// `XREADGROUP` of up to `count` entries of `stream` from `from`, its
/// reply read in place (no copy of it but the entries' own).
fn read_group(
    ctx: &Context,
    stream: &[u8],
    from: &[u8],
    count: usize,
) -> Result<Vec<OutboxEntry>, String> {
    let count = count.to_string();
    let args: [&[u8]; 8] = [
        b"GROUP",
        GROUP.as_bytes(),
        CONSUMER.as_bytes(),
        b"COUNT",
        count.as_bytes(),
        b"STREAMS",
        stream,
        from,
    ];
    outbox::run_with(ctx, Replicate::Yes, "XREADGROUP", &args, |reply| {
        entries(stream, reply)
    })
}

/// The entries of an `XREADGROUP` reply: `[[stream, [[id, [field, value,
/// ...]], ...]]]`, or nil.
fn entries(stream: &[u8], reply: &CallReply) -> Vec<OutboxEntry> {
    let CallReply::Array(streams) = reply else {
        return Vec::new();
    };
    let mut entries = Vec::new();
    for one in streams.iter() {
        let Ok(CallReply::Array(parts)) = one else {
            continue;
        };
        let Some(Ok(CallReply::Array(items))) = parts.get(1) else {
            continue;
        };
        entries.reserve(items.len());
        for item in items.iter() {
            let Ok(CallReply::Array(item)) = item else {
                continue;
            };
            let Some(Ok(CallReply::String(id))) = item.get(0) else {
                continue;
            };
            // A pending entry trimmed since has no fields: nothing to send.
            let mut fields = Vec::new();
            if let Some(Ok(CallReply::Array(flat))) = item.get(1) {
                fields.reserve(flat.len() / 2);
                let mut flat = flat.iter();
                while let (Some(Ok(CallReply::String(name))), Some(Ok(CallReply::String(value)))) =
                    (flat.next(), flat.next())
                {
                    fields.push((name.as_bytes().to_vec(), value.as_bytes().to_vec()));
                }
            }
            entries.push(OutboxEntry {
                stream: stream.to_vec(),
                id: String::from_utf8_lossy(id.as_bytes()).into_owned(),
                fields,
            });
        }
    }
    entries
}

fn bytes(value: &RedisValue) -> Option<Vec<u8>> {
    match value {
        RedisValue::BulkString(s) | RedisValue::SimpleString(s) => Some(s.clone().into_bytes()),
        RedisValue::StringBuffer(b) => Some(b.clone()),
        RedisValue::BulkRedisString(s) => Some(s.as_slice().to_vec()),
        _ => None,
    }
}

/// Acknowledges entries of `stream` in database `db`.
pub fn acknowledge(ctx: &Context, db: i32, stream: &[u8], ids: &[String]) -> Result<(), String> {
    if ids.is_empty() {
        return Ok(());
    }
    if !select_db(ctx, db) {
        return Err(format!("cannot select database {db}"));
    }
    let mut args: Vec<&[u8]> = vec![stream, GROUP.as_bytes()];
    args.extend(ids.iter().map(|id| id.as_bytes()));
    run(ctx, "XACK", &args).map(|_| ())
}

/// How many entries of `stream` in database `db` the forwarder has yet to
/// confirm: pending and not yet read (the group's `lag`, Redis ≥ 7); all of
/// them before it has a group there. With the time (ms since the epoch, from
/// its id) of the oldest of them, if any.
pub fn backlog(ctx: &Context, db: i32, stream: &[u8]) -> (u64, Option<u64>) {
    if !select_db(ctx, db) {
        return (0, None);
    }
    let Ok(RedisValue::Array(groups)) = run(ctx, "XINFO", &[b"GROUPS", stream]) else {
        return (0, None);
    };
    for group in groups {
        let RedisValue::Array(flat) = group else {
            continue;
        };
        let field = |name: &str| {
            flat.chunks(2)
                .find(|pair| pair.first().and_then(bytes).as_deref() == Some(name.as_bytes()))
                .and_then(|pair| pair.get(1))
        };
        if field("name").and_then(bytes).as_deref() != Some(GROUP.as_bytes()) {
            continue;
        }
        let number = |name: &str| match field(name) {
            Some(RedisValue::Integer(n)) => (*n).max(0) as u64,
            _ => 0,
        };
        let (pending, unread) = (number("pending"), number("lag"));
        let oldest = if pending > 0 {
            // XPENDING's summary: the count, then the smallest id.
            match run(ctx, "XPENDING", &[stream, GROUP.as_bytes()]) {
                Ok(RedisValue::Array(summary)) => summary.get(1).and_then(id_time),
                _ => None,
            }
        } else if unread > 0 {
            let after = field("last-delivered-id")
                .and_then(bytes)
                .unwrap_or_default();
            let mut start = b"(".to_vec();
            start.extend_from_slice(&after);
            first_id_time(ctx, stream, &start)
        } else {
            None
        };
        return (pending + unread, oldest);
    }
    match run(ctx, "XLEN", &[stream]) {
        Ok(RedisValue::Integer(n)) if n > 0 => (n as u64, first_id_time(ctx, stream, b"-")),
        _ => (0, None),
    }
}

/// The time of the first entry of `stream` from `start` (an `XRANGE` start).
fn first_id_time(ctx: &Context, stream: &[u8], start: &[u8]) -> Option<u64> {
    match run(ctx, "XRANGE", &[stream, start, b"+", b"COUNT", b"1"]) {
        Ok(RedisValue::Array(entries)) => match entries.first() {
            Some(RedisValue::Array(entry)) => entry.first().and_then(id_time),
            _ => None,
        },
        _ => None,
    }
}

/// The milliseconds of a stream id `<ms>-<seq>`.
fn id_time(id: &RedisValue) -> Option<u64> {
    let id = bytes(id)?;
    Some(EntryId::parse(std::str::from_utf8(&id).ok()?)?.0)
}
