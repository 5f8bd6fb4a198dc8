//! A consumer of the outbox of Wasm Triggers for Redis.
//!
//! The module appends keyspace events that its outbox rules match to one
//! stream per hash slot, `triggers:outbox:{<tag>}`, on the node that holds
//! the slot, atomically with the command. A [`Consumer`] reads them all,
//! at least once, with a consumer group:
//!
//! 1. it finds the nodes to read from any node it is given: every primary
//!    (`CLUSTER SLOTS`), or the server itself when it is not in a cluster;
//! 2. on each node, `OUTBOX STREAMS` lists the outbox streams with entries
//!    and the id of their last entry (no keyspace scan), and the group is
//!    created on each (`XGROUP CREATE <stream> <group> 0`); between two
//!    such lists, `OUTBOX CHANGED` says which streams the node appended to;
//! 3. a stream is read with `XREADGROUP` when it may hold entries the
//!    consumer has not read (this consumer's own pending entries first,
//!    after a restart or a slot move, then new ones), many streams to a
//!    pipeline, the next pipeline sent while the last one's replies are
//!    parsed, until a round has about [`Options::round_entries`]; the next
//!    round goes on with the streams after those. An entry is acknowledged
//!    (`XACK`, one per stream and round) only once the caller handled it;
//! 4. entries another consumer left pending for `claim_idle` are taken over
//!    (`XAUTOCLAIM`);
//! 5. any error (a node down, `MOVED` after a slot moved or a failover)
//!    makes it find the nodes again, and so does a timer.
//!
//! Delivery is at least once: after a crash, a failover or a slot move an
//! entry may come again. [`Entry::unique_id`] is the same each time.
//! Any Redis client can follow the same protocol.

mod acking;
mod entry;
mod node;
mod topology;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Result;

pub use acking::Acker;
pub use entry::Entry;
use node::Node;

/// How a [`Consumer`] reads.
#[derive(Clone, Debug)]
pub struct Options {
    /// The consumer group: consumers of one group share the entries.
    pub group: String,
    /// This consumer's name in the group: a restarted consumer should keep
    /// it, to get back the entries it had not acknowledged.
    pub consumer: String,
    /// The most entries read from one stream at a time.
    pub count: usize,
    /// About the most entries one [`poll`](Consumer::poll) reads from one
    /// node: streams are read a pipeline at a time until this many came,
    /// and the next poll goes on with the streams after them.
    pub round_entries: usize,
    /// How often every stream of each node is listed again. In between,
    /// only the streams a node says it appended to are read; the full list
    /// finds the entries it did not append itself (a stream loaded, moved
    /// here with its slot, or replicated before a failover).
    pub list_every: Duration,
    /// How long another consumer's entry stays pending before it is taken
    /// over, and how often that is checked.
    pub claim_idle: Duration,
    /// How long to wait after a round that brought nothing.
    pub idle_wait: Duration,
    /// How often the nodes are found again, besides after an error.
    pub rediscover_every: Duration,
    /// The ACL user and password to `AUTH` with on every node; none for
    /// the `default` user without a password.
    pub auth: Option<Auth>,
}

/// An ACL user and its password (`AUTH <user> <password>`).
#[derive(Clone)]
pub struct Auth {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Auth {
    /// The password is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Auth {{ user: {:?}, password: \"…\" }}", self.user)
    }
}

impl Options {
    pub fn new(group: &str, consumer: &str) -> Options {
        Options {
            group: group.to_owned(),
            consumer: consumer.to_owned(),
            count: 500,
            round_entries: 10_000,
            list_every: Duration::from_secs(2),
            claim_idle: Duration::from_secs(30),
            idle_wait: Duration::from_millis(50),
            rediscover_every: Duration::from_secs(5),
            auth: None,
        }
    }
}

/// Reads the outbox of a cluster or of a standalone server.
pub struct Consumer {
    /// Where to look for nodes: the addresses given, then those found.
    seeds: Vec<String>,
    options: Options,
    nodes: Vec<Node>,
    discovered: Instant,
    /// The last error of a node or of finding the nodes, for reports.
    last_error: Option<String>,
}

impl Consumer {
    /// Finds the nodes from `seeds` (`host:port`); fails only if none of
    /// them answers.
    pub fn new(seeds: &[String], options: Options) -> Result<Consumer> {
        let mut consumer = Consumer {
            seeds: seeds.to_vec(),
            options,
            nodes: Vec::new(),
            discovered: Instant::now(),
            last_error: None,
        };
        consumer.rediscover()?;
        Ok(consumer)
    }

    /// The nodes read, as `host:port`.
    pub fn nodes(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.address.clone()).collect()
    }

    /// The last error met (the consumer goes on after errors).
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    fn rediscover(&mut self) -> Result<()> {
        let mut known = self.seeds.clone();
        known.extend(self.nodes.iter().map(|n| n.address.clone()));
        let primaries = topology::discover(&known, self.options.auth.as_ref())?;
        let mut nodes = Vec::with_capacity(primaries.len());
        for address in primaries {
            match self.nodes.iter().position(|n| n.address == address) {
                Some(i) => nodes.push(self.nodes.swap_remove(i)),
                None => match Node::open(&address, self.options.auth.as_ref()) {
                    Ok(node) => nodes.push(node),
                    Err(e) => self.last_error = Some(format!("{e:#}")),
                },
            }
        }
        for node in &nodes {
            if !self.seeds.contains(&node.address) {
                self.seeds.push(node.address.clone());
            }
        }
        self.nodes = nodes;
        self.discovered = Instant::now();
        Ok(())
    }

    /// The next entries, not yet acknowledged: call [`ack`](Self::ack)
    /// once they are handled. Waits `idle_wait` when none came.
    pub fn poll(&mut self) -> Vec<Entry> {
        let mut failed = self.discovered.elapsed() >= self.options.rediscover_every;
        let mut entries = Vec::new();
        let mut broken = Vec::new();
        for (i, node) in self.nodes.iter_mut().enumerate() {
            let read = node
                .refresh(&self.options, failed)
                .and_then(|()| node.read(&self.options))
                .and_then(|mut read| {
                    read.extend(node.claim(&self.options)?);
                    Ok(read)
                });
            match read {
                Ok(read) => entries.extend(read),
                Err(e) => {
                    self.last_error = Some(format!("{}: {e:#}", node.address));
                    broken.push(i);
                    failed = true;
                }
            }
        }
        // A node that failed is connected to afresh, and everything known
        // of its streams is read again (a stream deleted and made again
        // has lost its group).
        for i in broken.into_iter().rev() {
            self.nodes.remove(i);
        }
        if failed {
            if let Err(e) = self.rediscover() {
                self.last_error = Some(format!("{e:#}"));
            }
        }
        if entries.is_empty() {
            std::thread::sleep(self.options.idle_wait);
        }
        entries
    }

    /// Acknowledges handled entries. An entry whose node cannot be reached
    /// stays pending, and comes again.
    pub fn ack(&mut self, entries: &[Entry]) {
        let mut by_node: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
        for entry in entries {
            by_node.entry(entry.node.as_str()).or_default().push(entry);
        }
        let group = self.options.group.clone();
        for (address, entries) in by_node {
            let Some(node) = self.nodes.iter_mut().find(|n| n.address == address) else {
                continue;
            };
            if let Err(e) = node.ack(&group, &entries) {
                self.last_error = Some(format!("{address}: {e:#}"));
            }
        }
    }

    /// An [`Acker`] for this consumer's group: it acknowledges entries
    /// read here on connections of its own, so that a program can hand
    /// what it handled to another thread to acknowledge while it reads on.
    pub fn acker(&self) -> Acker {
        Acker::new(&self.options.group, self.options.auth.clone())
    }

    /// Reads forever: `handle` gets each entry, which is acknowledged if it
    /// returns `Ok` and comes again later otherwise.
    pub fn run<E>(&mut self, mut handle: impl FnMut(&Entry) -> Result<(), E>) -> ! {
        loop {
            let entries = self.poll();
            let handled: Vec<Entry> = entries.into_iter().filter(|e| handle(e).is_ok()).collect();
            self.ack(&handled);
        }
    }

    /// Entries written and not yet delivered to the group, on every node.
    pub fn lag(&mut self) -> Result<u64> {
        let group = self.options.group.clone();
        let mut lag = 0;
        for node in &mut self.nodes {
            lag += node.lag(&group)?;
        }
        Ok(lag)
    }
}
