//! Reading one node: its outbox streams, each read with the consumer group,
//! this consumer's own pending entries first. The node says which streams
//! it appended to since the last round (`OUTBOX CHANGED`), so that only
//! those are read; every `list_every` all its streams are listed (`OUTBOX
//! STREAMS`), for entries it did not append itself (loaded, replicated
//! before a failover, moved here with their slot).

use std::time::Instant;

use anyhow::{bail, Result};
use redis::{Connection, Value};

use crate::entry::{bytes, Entry};
use crate::topology::connect;
use crate::{Auth, Options};

/// An outbox stream of the node.
struct Stream {
    db: i64,
    name: String,
    /// Whether this consumer's pending entries (delivered before, not
    /// acknowledged: a restart, a slot that moved here) are still to read.
    own_pending: bool,
    /// The id of the stream's last entry when it was last listed.
    last_id: String,
    /// The last id the stream had when this consumer last read all that
    /// was new in it: while it stays the stream's last id, there is
    /// nothing to read there.
    drained_to: Option<String>,
    /// Whether it may have entries this consumer has not read.
    dirty: bool,
}

pub(crate) struct Node {
    pub address: String,
    con: Connection,
    selected_db: i64,
    streams: Vec<Stream>,
    listed: Option<Instant>,
    claimed: Option<Instant>,
    /// Where `OUTBOX CHANGED` left off: the node's epoch and append number.
    changes: (String, String),
}

impl Node {
    pub fn open(address: &str, auth: Option<&Auth>) -> Result<Node> {
        Ok(Node {
            address: address.to_owned(),
            con: connect(address, auth)?,
            selected_db: 0,
            streams: Vec::new(),
            listed: None,
            // Entries left by other consumers can be taken over once they
            // have waited `claim_idle`: not before.
            claimed: Some(Instant::now()),
            changes: ("0".into(), "0".into()),
        })
    }

    fn select(&mut self, db: i64) -> Result<()> {
        if self.selected_db != db {
            let _: () = redis::cmd("SELECT").arg(db).query(&mut self.con)?;
            self.selected_db = db;
        }
        Ok(())
    }

    /// Finds the streams to read: those the node appended to since the last
    /// round, or every stream it holds when `list_every` has passed, the
    /// node restarted, or `force`.
    pub fn refresh(&mut self, options: &Options, force: bool) -> Result<()> {
        let due = self
            .listed
            .is_none_or(|at| at.elapsed() >= options.list_every);
        let changed = self.changed()?;
        match changed {
            Some(changed) if !force && !due => self.mark_changed(changed, &options.group),
            _ => self.list_streams(&options.group),
        }
    }

    /// `OUTBOX CHANGED`: the streams appended to since the last call, as
    /// (db, name); `None` when the node's epoch changed.
    fn changed(&mut self) -> Result<Option<Vec<(i64, String)>>> {
        let reply: Value = redis::cmd("OUTBOX")
            .arg("CHANGED")
            .arg(&self.changes.0)
            .arg(&self.changes.1)
            .query(&mut self.con)?;
        let fields = pairs(&reply);
        let text = |name: &[u8]| {
            field(&fields, name)
                .and_then(bytes)
                .map(|v| String::from_utf8_lossy(&v).into_owned())
        };
        let (Some(epoch), Some(last)) = (text(b"epoch"), text(b"last")) else {
            bail!("OUTBOX CHANGED replied {reply:?}");
        };
        self.changes = (epoch, last);
        let Some(Value::Array(streams)) = field(&fields, b"streams") else {
            return Ok(None);
        };
        Ok(Some(
            streams
                .iter()
                .filter_map(|s| {
                    let fields = pairs(s);
                    let Some(Value::Int(db)) = field(&fields, b"db") else {
                        return None;
                    };
                    let name = field(&fields, b"stream").and_then(bytes)?;
                    Some((*db, String::from_utf8_lossy(&name).into_owned()))
                })
                .collect(),
        ))
    }

    /// Marks the streams that changed to be read; new ones join the list.
    fn mark_changed(&mut self, changed: Vec<(i64, String)>, group: &str) -> Result<()> {
        let mut new = Vec::new();
        for (db, name) in changed {
            match self
                .streams
                .iter_mut()
                .find(|s| s.db == db && s.name == name)
            {
                Some(stream) => stream.dirty = true,
                None => {
                    new.push(self.streams.len());
                    self.streams.push(Stream {
                        db,
                        name,
                        own_pending: true,
                        last_id: String::new(),
                        drained_to: None,
                        dirty: true,
                    });
                }
            }
        }
        self.create_groups(&new, group)
    }

    /// Lists every stream of the node, and creates the group on new ones.
    fn list_streams(&mut self, group: &str) -> Result<()> {
        let listed: Vec<Value> = redis::cmd("OUTBOX").arg("STREAMS").query(&mut self.con)?;
        let mut streams = Vec::with_capacity(listed.len());
        // The streams this node did not list before: the group is created
        // on them.
        let mut new = Vec::new();
        for item in &listed {
            let fields = pairs(item);
            let field = |name: &[u8]| field(&fields, name);
            let (Some(Value::Int(db)), Some(name)) =
                (field(b"db"), field(b"stream").and_then(bytes))
            else {
                bail!("OUTBOX STREAMS replied {item:?}");
            };
            let name = String::from_utf8_lossy(&name).into_owned();
            let last_id = field(b"last_id")
                .and_then(bytes)
                .map(|id| String::from_utf8_lossy(&id).into_owned())
                .unwrap_or_default();
            let known = self
                .streams
                .iter()
                .find(|s| s.db == *db && s.name == name)
                .map(|s| (s.own_pending, s.drained_to.clone()));
            if known.is_none() {
                new.push(streams.len());
            }
            let (own_pending, drained_to) = known.unwrap_or((true, None));
            streams.push(Stream {
                db: *db,
                name,
                own_pending,
                dirty: drained_to.as_ref() != Some(&last_id),
                last_id,
                drained_to,
            });
        }
        self.streams = streams;
        self.create_groups(&new, group)?;
        self.listed = Some(Instant::now());
        Ok(())
    }

    /// Creates the group on the streams of `indexes` that lack it: which do
    /// is asked first, so that the creations meet no `BUSYGROUP`.
    fn create_groups(&mut self, indexes: &[usize], group: &str) -> Result<()> {
        let groups = self.per_db(indexes, |pipe, stream| {
            pipe.cmd("XINFO").arg("GROUPS").arg(&stream.name);
        })?;
        let missing: Vec<usize> = indexes
            .iter()
            .zip(&groups)
            .filter(|(_, groups)| !has_group(groups, group))
            .map(|(&i, _)| i)
            .collect();
        self.per_db(&missing, |pipe, stream| {
            pipe.cmd("XGROUP")
                .arg("CREATE")
                .arg(&stream.name)
                .arg(group)
                .arg("0");
        })?;
        Ok(())
    }

    /// Runs one command per stream of `indexes`, as `build` writes it, in
    /// one pipeline per database; the replies in the order of `indexes`.
    fn per_db(
        &mut self,
        indexes: &[usize],
        build: impl Fn(&mut redis::Pipeline, &Stream),
    ) -> Result<Vec<Value>> {
        let mut replies = vec![Value::Nil; indexes.len()];
        for db in dedup(indexes.iter().map(|&i| self.streams[i].db)) {
            self.select(db)?;
            let positions: Vec<usize> = (0..indexes.len())
                .filter(|&p| self.streams[indexes[p]].db == db)
                .collect();
            let mut pipe = redis::pipe();
            for &p in &positions {
                build(&mut pipe, &self.streams[indexes[p]]);
            }
            let got: Vec<Value> = pipe.query(&mut self.con)?;
            for (&p, reply) in positions.iter().zip(got) {
                replies[p] = reply;
            }
        }
        Ok(replies)
    }

    /// Entries for this consumer: its own pending ones first, then new ones.
    pub fn read(&mut self, options: &Options) -> Result<Vec<Entry>> {
        let mut entries = Vec::new();
        // Own pending entries, where some may be left; a stream with none
        // left goes on to new entries in the same round.
        let pending: Vec<usize> = (0..self.streams.len())
            .filter(|&i| self.streams[i].own_pending)
            .collect();
        for (i, read) in pending
            .iter()
            .zip(self.read_streams(&pending, "0", options)?)
        {
            if read.is_empty() {
                self.streams[*i].own_pending = false;
            }
            entries.extend(read);
        }
        // Streams with entries added since this consumer last read them all
        // (an id that did not change means nothing new).
        let fresh: Vec<usize> = (0..self.streams.len())
            .filter(|&i| !self.streams[i].own_pending && self.streams[i].dirty)
            .collect();
        for (i, read) in fresh.iter().zip(self.read_streams(&fresh, ">", options)?) {
            if read.len() < options.count {
                let stream = &mut self.streams[*i];
                stream.dirty = false;
                stream.drained_to = Some(stream.last_id.clone());
            }
            entries.extend(read);
        }
        Ok(entries)
    }

    /// `XREADGROUP … STREAMS <stream> <id>` for each of `indexes`, one
    /// pipeline per database; the entries of each, in the same order.
    fn read_streams(
        &mut self,
        indexes: &[usize],
        id: &str,
        options: &Options,
    ) -> Result<Vec<Vec<Entry>>> {
        let replies = self.per_db(indexes, |pipe, stream| {
            pipe.cmd("XREADGROUP")
                .arg("GROUP")
                .arg(&options.group)
                .arg(&options.consumer)
                .arg("COUNT")
                .arg(options.count)
                .arg("STREAMS")
                .arg(&stream.name)
                .arg(id);
        })?;
        Ok(indexes
            .iter()
            .zip(&replies)
            .map(|(&i, reply)| {
                let stream = &self.streams[i];
                stream_replies(reply)
                    .into_iter()
                    .flat_map(|(_, items)| {
                        items
                            .iter()
                            .filter_map(|e| Entry::parse(&self.address, stream.db, &stream.name, e))
                    })
                    .collect()
            })
            .collect())
    }

    /// Every `claim_idle`: entries pending for longer than that with other
    /// consumers (which died, or lost their node), taken over.
    pub fn claim(&mut self, options: &Options) -> Result<Vec<Entry>> {
        if self
            .claimed
            .is_some_and(|at| at.elapsed() < options.claim_idle)
        {
            return Ok(Vec::new());
        }
        self.claimed = Some(Instant::now());
        let idle = options.claim_idle.as_millis().to_string();
        let all: Vec<usize> = (0..self.streams.len()).collect();
        let replies = self.per_db(&all, |pipe, stream| {
            pipe.cmd("XAUTOCLAIM")
                .arg(&stream.name)
                .arg(&options.group)
                .arg(&options.consumer)
                .arg(&idle)
                .arg("0-0")
                .arg("COUNT")
                .arg(options.count);
        })?;
        let mut entries = Vec::new();
        for (stream, reply) in self.streams.iter().zip(&replies) {
            if let Value::Array(parts) = reply {
                if let Some(Value::Array(items)) = parts.get(1) {
                    entries.extend(
                        items.iter().filter_map(|e| {
                            Entry::parse(&self.address, stream.db, &stream.name, e)
                        }),
                    );
                }
            }
        }
        Ok(entries)
    }

    /// Acknowledges entries read from this node.
    pub fn ack(&mut self, group: &str, entries: &[&Entry]) -> Result<()> {
        for db in dedup(entries.iter().map(|e| e.db)) {
            self.select(db)?;
            let mut pipe = redis::pipe();
            for entry in entries.iter().filter(|e| e.db == db) {
                pipe.cmd("XACK")
                    .arg(&entry.stream)
                    .arg(group)
                    .arg(&entry.id);
            }
            let _: Vec<Value> = pipe.query(&mut self.con)?;
        }
        Ok(())
    }

    /// Entries of this node's streams not yet delivered to the group.
    pub fn lag(&mut self, group: &str) -> Result<u64> {
        let mut lag = 0;
        for i in 0..self.streams.len() {
            let (db, name) = (self.streams[i].db, self.streams[i].name.clone());
            self.select(db)?;
            let groups: Vec<Value> = redis::cmd("XINFO")
                .arg("GROUPS")
                .arg(&name)
                .query(&mut self.con)?;
            for fields in groups.iter().map(pairs) {
                if is_named(&fields, group) {
                    if let Some(Value::Int(n)) = field(&fields, b"lag") {
                        lag += (*n).max(0) as u64;
                    }
                }
            }
        }
        Ok(lag)
    }
}

/// A map reply, RESP2 (a flat array) or RESP3, as name and value pairs.
fn pairs(value: &Value) -> Vec<(Vec<u8>, &Value)> {
    match value {
        Value::Array(flat) => flat
            .chunks(2)
            .filter_map(|pair| Some((bytes(&pair[0])?, pair.get(1)?)))
            .collect(),
        Value::Map(map) => map
            .iter()
            .filter_map(|(k, v)| Some((bytes(k)?, v)))
            .collect(),
        _ => Vec::new(),
    }
}

fn field<'a>(fields: &[(Vec<u8>, &'a Value)], name: &[u8]) -> Option<&'a Value> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
}

/// Whether an `XINFO GROUPS` reply lists `group`.
fn has_group(groups: &Value, group: &str) -> bool {
    match groups {
        Value::Array(groups) => groups.iter().any(|g| is_named(&pairs(g), group)),
        _ => false,
    }
}

/// Whether an `XINFO GROUPS` entry is `group`'s.
fn is_named(fields: &[(Vec<u8>, &Value)], group: &str) -> bool {
    field(fields, b"name").and_then(bytes).as_deref() == Some(group.as_bytes())
}

/// The `[stream, entries]` pairs of an `XREADGROUP` reply (none for nil).
fn stream_replies(reply: &Value) -> Vec<(Vec<u8>, &[Value])> {
    let pairs: Vec<(&Value, &Value)> = match reply {
        Value::Array(streams) => streams
            .iter()
            .filter_map(|s| match s {
                Value::Array(pair) if pair.len() == 2 => Some((&pair[0], &pair[1])),
                _ => None,
            })
            .collect(),
        Value::Map(map) => map.iter().map(|(k, v)| (k, v)).collect(),
        _ => Vec::new(),
    };
    pairs
        .into_iter()
        .filter_map(|(name, items)| match items {
            Value::Array(items) => Some((bytes(name)?, items.as_slice())),
            _ => None,
        })
        .collect()
}

fn dedup(items: impl Iterator<Item = i64>) -> Vec<i64> {
    let mut out: Vec<i64> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}
