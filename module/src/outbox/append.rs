//! Appending an entry to the outbox stream of its key's slot, from a
//! post-notification job: atomically with the command that raised the
//! event, and replicated with it (the `XADD` is propagated together with
//! the command, in one `MULTI`/`EXEC`). The entry is added in place
//! (`server::stream_append`), not by running `XADD`: a third of the cost.
//!
//! An entry's fields: `db`, `event`, `key` (binary-safe), `time` (the
//! server's time, in milliseconds since the Unix epoch) and `source` (what
//! sent it: `rule:<name>`, or several rules, comma-separated), then the
//! fields of its own that a trigger added.
//!
//! **The cap.** A stream holds at most `triggers.outbox-max-length`
//! entries. When an append finds it full:
//! - with no consumer group on the stream, nobody acknowledges anything:
//!   the oldest entries are trimmed, as from a capped log (counted as
//!   `outbox_trimmed`);
//! - with consumer groups, the entries every group has acknowledged are
//!   trimmed first (an entry a group has not acknowledged is never
//!   trimmed); if the stream is still full, the new entry is not written,
//!   and it is counted (`outbox_dropped` in `INFO`, `num_dropped` of the
//!   rule). The entries waiting for consumers stay as they were.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use redis_module::{CallOptionsBuilder, CallReply, CallResult, Context, RedisValue};

use super::changes;
use super::entry_id::EntryId;
use super::slots::{key_slot, stream_key};
use crate::config;
use crate::server::{decimal, redis_log, stream_append, StreamAppend, Text};

/// An event, as its outbox entry holds it.
pub struct Entry<'a> {
    pub db: i32,
    pub event: &'a str,
    pub key: &'a [u8],
    pub source: &'a str,
    /// Fields of its own, after the outbox's.
    pub fields: &'a [(&'a [u8], &'a [u8])],
}

/// What became of an entry.
pub enum Appended {
    Written,
    /// Not written: its stream was full of entries not yet acknowledged.
    Dropped,
}

static APPENDED: AtomicU64 = AtomicU64::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);
static TRIMMED: AtomicU64 = AtomicU64::new(0);
static FAILED: AtomicU64 = AtomicU64::new(0);
static EVICTED: AtomicU64 = AtomicU64::new(0);

/// The outbox's counters, for `INFO triggers`.
pub struct Counts {
    pub appended: u64,
    pub dropped: u64,
    pub trimmed: u64,
    pub failed: u64,
    pub evicted: u64,
}

pub fn counts() -> Counts {
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    Counts {
        appended: load(&APPENDED),
        dropped: load(&DROPPED),
        trimmed: load(&TRIMMED),
        failed: load(&FAILED),
        evicted: load(&EVICTED),
    }
}

/// An outbox stream was evicted (`maxmemory-policy allkeys-*`): its
/// entries are lost. Counted (`outbox_evicted`) and logged.
pub fn note_evicted(key: &[u8]) {
    add(&EVICTED, 1);
    redis_log(
        "warning",
        &format!(
            "the outbox stream {} was evicted with its entries (maxmemory-policy allkeys-*): \
             use a volatile-* policy or noeviction with outbox rules",
            String::from_utf8_lossy(key)
        ),
    );
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Appends `entry` to its stream, in the database selected in `ctx` (the
/// entry's). Runs in a post-notification job.
pub fn append(ctx: &Context, entry: &Entry) -> Result<Appended, String> {
    let result = try_append(ctx, entry);
    match &result {
        Ok(Appended::Written) => add(&APPENDED, 1),
        Ok(Appended::Dropped) => add(&DROPPED, 1),
        Err(_) => add(&FAILED, 1),
    }
    result
}

fn try_append(ctx: &Context, entry: &Entry) -> Result<Appended, String> {
    let slot = key_slot(entry.key);
    let stream = stream_key(slot);
    let (mut db, mut time) = ([0; 20], [0; 20]);
    let db = decimal(entry.db.max(0) as u64, &mut db);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| t.as_millis() as u64);
    let time = decimal(now, &mut time);
    let mut fields: Vec<Text> = Vec::with_capacity(10 + 2 * entry.fields.len());
    fields.extend_from_slice(&[
        Text::Shared(b"db"),
        Text::Shared(db),
        Text::Shared(b"event"),
        Text::Shared(entry.event.as_bytes()),
        Text::Shared(b"key"),
        Text::Own(entry.key),
        Text::Shared(b"time"),
        Text::Own(time),
        Text::Shared(b"source"),
        Text::Shared(entry.source.as_bytes()),
    ]);
    for &(name, value) in entry.fields {
        fields.extend_from_slice(&[Text::Own(name), Text::Own(value)]);
    }
    let cap = config::outbox_max_length();
    let mut made_room = false;
    loop {
        match stream_append(ctx, &stream, cap, &fields) {
            StreamAppend::Added(..) => {
                changes::note_append(entry.db, slot);
                return Ok(Appended::Written);
            }
            StreamAppend::Full(length) if !made_room => {
                if !make_room(ctx, &stream, length, cap)? {
                    return Ok(Appended::Dropped);
                }
                made_room = true;
            }
            StreamAppend::Full(_) => return Ok(Appended::Dropped),
            StreamAppend::NotAStream => {
                return Err(format!(
                    "the key {} is not a stream: the outbox cannot use it",
                    String::from_utf8_lossy(&stream)
                ))
            }
            StreamAppend::Refused(why) => {
                return Err(format!(
                    "XADD to the outbox stream {} failed: {why}",
                    String::from_utf8_lossy(&stream)
                ))
            }
        }
    }
}

/// Whether a command's writes are replicated with the command in progress.
#[derive(Clone, Copy, PartialEq)]
pub enum Replicate {
    Yes,
    No,
}

/// Runs a command on the outbox; with [`Replicate::Yes`], its writes go to
/// the AOF and replicas with the command in progress (from the forwarder's
/// thread, when it releases the server lock).
pub fn run(
    ctx: &Context,
    replicate: Replicate,
    command: &str,
    args: &[&[u8]],
) -> Result<RedisValue, String> {
    run_with(ctx, replicate, command, args, |reply| reply.into())
}

/// [`run`], with the reply read in place by `read` rather than copied
/// into a [`RedisValue`].
pub fn run_with<T>(
    ctx: &Context,
    replicate: Replicate,
    command: &str,
    args: &[&[u8]],
    read: impl FnOnce(&CallReply) -> T,
) -> Result<T, String> {
    let mut options = CallOptionsBuilder::new().errors_as_replies();
    if replicate == Replicate::Yes {
        options = options.replicate();
    }
    let reply: CallResult = ctx.call_ext(command, &options.build(), args);
    match reply {
        Ok(reply) => Ok(read(&reply)),
        Err(error) => Err(format!(
            "{command} on the outbox failed: {}",
            error.to_utf8_string().unwrap_or_default()
        )),
    }
}

/// Makes room in a full stream, as the module's opening comment says;
/// false if it stays full.
fn make_room(ctx: &Context, stream: &[u8], length: usize, cap: usize) -> Result<bool, String> {
    let groups = run(ctx, Replicate::No, "XINFO", &[b"GROUPS", stream])?;
    let RedisValue::Array(groups) = groups else {
        return Err("XINFO GROUPS replied with something other than an array".into());
    };
    if groups.is_empty() {
        let keep = (cap - 1).to_string();
        let trimmed = run(
            ctx,
            Replicate::Yes,
            "XTRIM",
            &[stream, b"MAXLEN", b"=", keep.as_bytes()],
        )?;
        add(&TRIMMED, integer(&trimmed));
        return Ok(true);
    }
    // The first entry some group still needs: its oldest pending entry, or
    // the one after the last it was delivered.
    let mut keep_from: Option<EntryId> = None;
    for group in &groups {
        let fields = pairs(group);
        let name = field(&fields, "name").ok_or("a consumer group without a name")?;
        let pending = field(&fields, "pending").map_or(0, |v| text(v).parse().unwrap_or(0));
        let needed = if pending > 0 {
            let summary = run(
                ctx,
                Replicate::No,
                "XPENDING",
                &[stream, text(name).as_bytes()],
            )?;
            match summary {
                RedisValue::Array(items) => items.get(1).and_then(|v| EntryId::parse(&text(v))),
                _ => None,
            }
        } else {
            field(&fields, "last-delivered-id")
                .and_then(|v| EntryId::parse(&text(v)))
                .map(EntryId::next)
        };
        let Some(needed) = needed else {
            return Err("cannot tell which entries a consumer group still needs".into());
        };
        keep_from = Some(keep_from.map_or(needed, |k| k.min(needed)));
    }
    let Some(keep_from) = keep_from else {
        return Ok(false);
    };
    let minid = keep_from.to_string();
    let trimmed = integer(&run(
        ctx,
        Replicate::Yes,
        "XTRIM",
        &[stream, b"MINID", b"=", minid.as_bytes()],
    )?);
    Ok(length.saturating_sub(trimmed as usize) < cap)
}

/// A flat array of names and values (a RESP2 map), as pairs.
fn pairs(value: &RedisValue) -> Vec<(String, &RedisValue)> {
    match value {
        RedisValue::Array(items) => items
            .chunks(2)
            .filter_map(|pair| match pair {
                [name, value] => Some((text(name), value)),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn field<'a>(fields: &[(String, &'a RedisValue)], name: &str) -> Option<&'a RedisValue> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
}

fn text(value: &RedisValue) -> String {
    match value {
        RedisValue::SimpleString(s) | RedisValue::BulkString(s) => s.clone(),
        RedisValue::SimpleStringStatic(s) => (*s).to_owned(),
        RedisValue::BulkRedisString(s) => s.to_string_lossy(),
        RedisValue::StringBuffer(b) => String::from_utf8_lossy(b).into_owned(),
        RedisValue::Integer(i) => i.to_string(),
        _ => String::new(),
    }
}

fn integer(value: &RedisValue) -> u64 {
    match value {
        RedisValue::Integer(i) => (*i).max(0) as u64,
        _ => 0,
    }
}
