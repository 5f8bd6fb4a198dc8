//! Acknowledging entries: `XACK`s, one per run of entries of one stream,
//! in one pipeline per database. [`Acker`] does it on connections of its
//! own, so that a program can acknowledge on one thread while it reads
//! on another.

use std::collections::HashMap;

use anyhow::Result;
use redis::{Connection, Value};

use crate::entry::Entry;
use crate::topology::connect;
use crate::Auth;

/// Acknowledges `entries` for `group` on `con`, whose selected database
/// is `*selected` (and is left in it).
pub(crate) fn acknowledge(
    con: &mut Connection,
    selected: &mut i64,
    group: &str,
    entries: &[&Entry],
) -> Result<()> {
    let mut dbs: Vec<i64> = entries.iter().map(|e| e.db).collect();
    dbs.sort_unstable();
    dbs.dedup();
    for db in dbs {
        if *selected != db {
            let _: () = redis::cmd("SELECT").arg(db).query(con)?;
            *selected = db;
        }
        let mut pipe = redis::pipe();
        let mut of_db = entries.iter().filter(|e| e.db == db).peekable();
        while let Some(first) = of_db.next() {
            // A run of entries of one stream: poll returns each stream's
            // entries together.
            let xack = pipe
                .cmd("XACK")
                .arg(&first.stream)
                .arg(group)
                .arg(&first.id);
            while let Some(entry) = of_db.next_if(|e| e.stream == first.stream) {
                xack.arg(&entry.id);
            }
        }
        let _: Vec<Value> = pipe.query(con)?;
    }
    Ok(())
}

/// Acknowledges entries on connections of its own to their nodes, made as
/// needed: see [`Consumer::acker`](crate::Consumer::acker).
pub struct Acker {
    group: String,
    auth: Option<Auth>,
    /// By node address: the connection and its selected database.
    connections: HashMap<String, (Connection, i64)>,
}

impl Acker {
    pub(crate) fn new(group: &str, auth: Option<Auth>) -> Acker {
        Acker {
            group: group.to_owned(),
            auth,
            connections: HashMap::new(),
        }
    }

    /// Acknowledges handled entries. An entry whose node cannot be reached
    /// stays pending, and comes again; the errors met, by node.
    pub fn ack(&mut self, entries: &[Entry]) -> Vec<String> {
        let mut by_node: HashMap<&str, Vec<&Entry>> = HashMap::new();
        for entry in entries {
            by_node.entry(&entry.node).or_default().push(entry);
        }
        let mut errors = Vec::new();
        for (address, entries) in by_node {
            if let Err(e) = self.ack_on(address, &entries) {
                // Connected afresh next time.
                self.connections.remove(address);
                errors.push(format!("{address}: {e:#}"));
            }
        }
        errors
    }

    fn ack_on(&mut self, address: &str, entries: &[&Entry]) -> Result<()> {
        if !self.connections.contains_key(address) {
            let con = connect(address, self.auth.as_ref())?;
            self.connections.insert(address.to_owned(), (con, 0));
        }
        let Some((con, selected)) = self.connections.get_mut(address) else {
            return Ok(());
        };
        acknowledge(con, selected, &self.group, entries)
    }
}
