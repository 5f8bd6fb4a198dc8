//! Which of the node's outbox streams to read: those `OUTBOX CHANGED` says
//! were appended to, or all of them as `OUTBOX STREAMS` lists them; the
//! group created on each new one.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{bail, Result};
use redis::Value;

use super::reply::{field, has_group, pairs};
use super::{Node, Stream};
use crate::entry::bytes;
use crate::Options;

impl Node {
    /// Finds the streams to read: those the node appended to since the last
    /// round, or every stream it holds when `list_every` has passed, the
    /// node restarted, or `force`. While the last round left streams due to
    /// read, nothing is asked: those are read first, and the next question
    /// gets every change since the last one.
    pub fn refresh(&mut self, options: &Options, force: bool) -> Result<()> {
        let due = self
            .listed
            .is_none_or(|at| at.elapsed() >= options.list_every);
        if !force && !due && !self.passed {
            return Ok(());
        }
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
        for key in changed {
            match self.by_name.get(&key) {
                Some(&i) => self.streams[i].dirty = true,
                None => {
                    let (db, name) = key.clone();
                    new.push(self.streams.len());
                    self.by_name.insert(key, self.streams.len());
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
        let mut by_name = HashMap::with_capacity(listed.len());
        let mut known = std::mem::take(&mut self.streams);
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
            let key = (*db, name);
            let (own_pending, drained_to) = match self.by_name.get(&key) {
                Some(&i) => (known[i].own_pending, known[i].drained_to.take()),
                None => {
                    new.push(streams.len());
                    (true, None)
                }
            };
            let name = key.1.clone();
            by_name.insert(key, streams.len());
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
        self.by_name = by_name;
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
        // A group just made has nothing pending for anyone.
        for i in missing {
            self.streams[i].own_pending = false;
        }
        Ok(())
    }
}
