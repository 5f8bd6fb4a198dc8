//! Reading one node: its outbox streams (`OUTBOX STREAMS`), each read with
//! the consumer group, this consumer's own pending entries first.

use std::time::Instant;

use anyhow::{bail, Result};
use redis::{Connection, Value};

use crate::entry::{bytes, Entry};
use crate::topology::connect;
use crate::Options;

/// An outbox stream of the node.
struct Stream {
    db: i64,
    name: String,
    /// Whether this consumer's pending entries (delivered before, not
    /// acknowledged: a restart, a slot that moved here) are still to read.
    own_pending: bool,
}

pub(crate) struct Node {
    pub address: String,
    con: Connection,
    selected_db: i64,
    streams: Vec<Stream>,
    listed: Option<Instant>,
    claimed: Option<Instant>,
}

impl Node {
    pub fn open(address: &str) -> Result<Node> {
        Ok(Node {
            address: address.to_owned(),
            con: connect(address)?,
            selected_db: 0,
            streams: Vec::new(),
            listed: None,
            claimed: None,
        })
    }

    fn select(&mut self, db: i64) -> Result<()> {
        if self.selected_db != db {
            let _: () = redis::cmd("SELECT").arg(db).query(&mut self.con)?;
            self.selected_db = db;
        }
        Ok(())
    }

    /// Lists the node's streams again if `every` has passed (or `force`),
    /// and creates the group on the new ones.
    pub fn list_streams(&mut self, options: &Options, force: bool) -> Result<()> {
        if !force
            && self
                .listed
                .is_some_and(|at| at.elapsed() < options.list_every)
        {
            return Ok(());
        }
        let listed: Vec<Value> = redis::cmd("OUTBOX").arg("STREAMS").query(&mut self.con)?;
        let mut streams = Vec::with_capacity(listed.len());
        for item in &listed {
            let Value::Array(flat) = item else { continue };
            let field = |name: &[u8]| {
                flat.chunks(2)
                    .find(|pair| bytes(&pair[0]).as_deref() == Some(name))
                    .and_then(|pair| pair.get(1))
            };
            let (Some(Value::Int(db)), Some(name)) =
                (field(b"db"), field(b"stream").and_then(bytes))
            else {
                bail!("OUTBOX STREAMS replied {item:?}");
            };
            let name = String::from_utf8_lossy(&name).into_owned();
            let known = self
                .streams
                .iter()
                .find(|s| s.db == *db && s.name == name)
                .map(|s| s.own_pending);
            let own_pending = match known {
                Some(own_pending) => own_pending,
                None => {
                    self.create_group(*db, &name, &options.group)?;
                    true
                }
            };
            streams.push(Stream {
                db: *db,
                name,
                own_pending,
            });
        }
        self.streams = streams;
        self.listed = Some(Instant::now());
        Ok(())
    }

    fn create_group(&mut self, db: i64, stream: &str, group: &str) -> Result<()> {
        self.select(db)?;
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(stream)
            .arg(group)
            .arg("0")
            .query(&mut self.con);
        match created {
            Err(e) if e.code() != Some("BUSYGROUP") => Err(e.into()),
            _ => Ok(()),
        }
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
        let fresh: Vec<usize> = (0..self.streams.len())
            .filter(|&i| !self.streams[i].own_pending)
            .collect();
        for read in self.read_streams(&fresh, ">", options)? {
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
        let mut results: Vec<Vec<Entry>> = vec![Vec::new(); indexes.len()];
        for db in dedup(indexes.iter().map(|&i| self.streams[i].db)) {
            self.select(db)?;
            let positions: Vec<usize> = (0..indexes.len())
                .filter(|&p| self.streams[indexes[p]].db == db)
                .collect();
            let mut pipe = redis::pipe();
            for &p in &positions {
                pipe.cmd("XREADGROUP")
                    .arg("GROUP")
                    .arg(&options.group)
                    .arg(&options.consumer)
                    .arg("COUNT")
                    .arg(options.count)
                    .arg("STREAMS")
                    .arg(&self.streams[indexes[p]].name)
                    .arg(id);
            }
            let replies: Vec<Value> = pipe.query(&mut self.con)?;
            for (&p, reply) in positions.iter().zip(&replies) {
                let name = &self.streams[indexes[p]].name;
                for (_, items) in stream_replies(reply) {
                    results[p].extend(
                        items
                            .iter()
                            .filter_map(|e| Entry::parse(&self.address, db, name, e)),
                    );
                }
            }
        }
        Ok(results)
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
        let mut entries = Vec::new();
        for i in 0..self.streams.len() {
            let (db, name) = (self.streams[i].db, self.streams[i].name.clone());
            self.select(db)?;
            let reply: Value = redis::cmd("XAUTOCLAIM")
                .arg(&name)
                .arg(&options.group)
                .arg(&options.consumer)
                .arg(&idle)
                .arg("0-0")
                .arg("COUNT")
                .arg(options.count)
                .query(&mut self.con)?;
            if let Value::Array(parts) = reply {
                if let Some(Value::Array(items)) = parts.get(1) {
                    entries.extend(
                        items
                            .iter()
                            .filter_map(|e| Entry::parse(&self.address, db, &name, e)),
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
            for g in &groups {
                let Value::Array(flat) = g else { continue };
                let field = |n: &[u8]| {
                    flat.chunks(2)
                        .find(|pair| bytes(&pair[0]).as_deref() == Some(n))
                        .and_then(|pair| pair.get(1))
                };
                if field(b"name").and_then(bytes).as_deref() == Some(group.as_bytes()) {
                    if let Some(Value::Int(n)) = field(b"lag") {
                        lag += (*n).max(0) as u64;
                    }
                }
            }
        }
        Ok(lag)
    }
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
