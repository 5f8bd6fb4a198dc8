//! Reading one node: its outbox streams (`streams.rs`), each read with the
//! consumer group, this consumer's own pending entries first, and
//! acknowledged (`reading.rs`); the shapes of Redis' replies (`reply.rs`).
//! The node says which streams it appended to since the last round
//! (`OUTBOX CHANGED`), so that only those are read; every `list_every` all
//! its streams are listed (`OUTBOX STREAMS`), for entries it did not append
//! itself (loaded, replicated before a failover, moved here with their
//! slot).

mod reading;
mod reply;
mod streams;

use std::collections::HashMap;
use std::time::Instant;

use anyhow::Result;
use redis::{Connection, Value};

use crate::topology::connect;
use crate::Auth;

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
    /// Where each stream is in `streams`, by database and name.
    by_name: HashMap<(i64, String), usize>,
    /// Where the next round starts reading, so that a round that stops at
    /// its budget leaves no stream behind for long.
    next_stream: usize,
    /// Whether the last round read every stream that was due.
    passed: bool,
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
            by_name: HashMap::new(),
            next_stream: 0,
            passed: true,
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

    /// Runs one command per stream of `indexes`, as `build` writes it, in
    /// one pipeline per database; the replies in the order of `indexes`.
    fn per_db(
        &mut self,
        indexes: &[usize],
        build: impl Fn(&mut redis::Pipeline, &Stream),
    ) -> Result<Vec<Value>> {
        let mut replies = vec![Value::Nil; indexes.len()];
        for db in reply::dedup(indexes.iter().map(|&i| self.streams[i].db)) {
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
}
