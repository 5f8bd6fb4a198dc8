//! A slot moved key by key, in batches of `MIGRATE` (as `redis-cli --cluster
//! reshard --cluster-pipeline 5` moves it), with every key written between
//! two batches: every acknowledged write has its event in the outbox,
//! exactly once, on 3 primaries.
//!
//! While the slot's keys are split between the two nodes, a write whose
//! entry could not be appended is refused with `-TRYAGAIN` (the target
//! refuses until the slot is its own; the source once the stream has left),
//! and the client that sent it learns it was not done.

use std::collections::HashMap;

use wasm_triggers_tests::*;

const KEYS: usize = 40;
const BATCH: usize = 5;

/// A client that follows the cluster's answers as cluster clients do:
/// `MOVED` (the slot's owner changed) and `ASK` (the key is on the node the
/// slot moves to: `ASKING`, then the command there). A `-TRYAGAIN` is a
/// refusal: the write is not done, and counted.
struct Client {
    owner: u16,
    connections: HashMap<u16, Connection>,
    refused: usize,
}

impl Client {
    fn new(owner: u16) -> Client {
        Client {
            owner,
            connections: HashMap::new(),
            refused: 0,
        }
    }

    fn connection(&mut self, port: u16) -> &mut Connection {
        self.connections.entry(port).or_insert_with(|| {
            redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                .and_then(|c| c.get_connection())
                .expect("a connection")
        })
    }

    /// `HSET key n value`: whether it was done.
    fn hset(&mut self, key: &str, value: usize) -> bool {
        let mut command = redis::cmd("HSET");
        command.arg(key).arg("n").arg(value);
        let mut port = self.owner;
        let mut asking = false;
        loop {
            let con = self.connection(port);
            let reply: redis::RedisResult<i64> = if asking {
                redis::pipe()
                    .cmd("ASKING")
                    .ignore()
                    .add_command(command.clone())
                    .query::<(i64,)>(con)
                    .map(|(n,)| n)
            } else {
                command.query(con)
            };
            let error = match reply {
                Ok(_) => return true,
                Err(error) => error,
            };
            let to = error
                .redirect_node()
                .and_then(|(address, _)| address.rsplit(':').next()?.parse::<u16>().ok());
            match (error.code(), to) {
                (Some("MOVED"), Some(to)) => {
                    self.owner = to;
                    (port, asking) = (to, false);
                }
                (Some("ASK"), Some(to)) => (port, asking) = (to, true),
                (Some("TRYAGAIN"), _) => {
                    self.refused += 1;
                    return false;
                }
                _ => panic!("HSET {key}: {error}"),
            }
        }
    }
}

on_each_flavor!(fn a_slot_moved_in_batches_keeps_every_acknowledged_event_once(flavor) {
    let cluster = Cluster::start(flavor, 3, 0);
    let p = cluster.primaries();
    let (from, to) = (p[0], p[1]);
    let mut con = cluster.nodes[from].connect();
    let _: String = query(&mut con, &["OUTBOX", "ADD", "orders", "PREFIX", "ord:", "EVENTS", "hset"]);
    eventually("the rule on every node", || {
        cluster.nodes.iter().all(|n| {
            let rules: Vec<Value> = query(&mut n.connect(), &["OUTBOX", "LIST"]);
            rules.len() == 1
        })
    });
    let tag = cluster.tag_on(from, &[]);
    let slot = cluster.slot(&tag);
    let keys: Vec<String> = (0..KEYS).map(|k| format!("ord:{tag}:{k}")).collect();

    // Every key written once before the move, after each batch, and after.
    let mut client = Client::new(cluster.nodes[from].port);
    let mut acknowledged: HashMap<String, usize> = HashMap::new();
    let mut round = 0;
    let mut write_all = |client: &mut Client| {
        for key in &keys {
            if client.hset(key, round) {
                *acknowledged.entry(format!("hset {key}")).or_insert(0) += 1;
            }
        }
        round += 1;
    };
    write_all(&mut client);
    cluster.start_slot_move(slot, from, to);
    let mut source = cluster.nodes[from].connect();
    let port = cluster.nodes[to].port.to_string();
    let mut batches = 0;
    loop {
        let batch: Vec<String> = query(
            &mut source,
            &["CLUSTER", "GETKEYSINSLOT", &slot.to_string(), &BATCH.to_string()],
        );
        if batch.is_empty() {
            break;
        }
        let mut args = vec!["MIGRATE", "127.0.0.1", &port, "", "0", "5000", "KEYS"];
        args.extend(batch.iter().map(String::as_str));
        let _: String = query(&mut source, &args);
        batches += 1;
        if batches == 1 {
            let moved = batch.iter().find(|k| k.starts_with("ord:")).expect("a key moved");
            a_transaction_does_nothing(&cluster.nodes[to], &tag, moved);
        }
        write_all(&mut client);
    }
    cluster.finish_slot_move(slot, to);
    let refused_during_move = client.refused;
    write_all(&mut client);
    assert!(batches > 2, "{flavor:?}: the slot moved in {batches} batches");

    // The new owner holds the slot's stream with every acknowledged write
    // of every key once; the source holds none.
    let entries = outbox_entries(&mut cluster.nodes[to].connect());
    let events: Vec<String> = entries
        .iter()
        .map(|e| format!("{} {}", e.field("event"), e.field("key")))
        .collect();
    let mut in_outbox: HashMap<String, usize> = HashMap::new();
    for event in events {
        *in_outbox.entry(event).or_insert(0) += 1;
    }
    assert_eq!(in_outbox, acknowledged, "{flavor:?}: the outbox, per key");
    assert!(outbox_entries(&mut cluster.nodes[from].connect()).is_empty());

    // Writes met the split slot and were refused, none after the move;
    // every refusal was the module's, and no append failed.
    assert!(refused_during_move > 0, "{flavor:?}: no write met the split slot");
    assert_eq!(client.refused, refused_during_move, "{flavor:?}: refused after the move");
    let mut held = 0;
    for &node in &p {
        let mut con = cluster.nodes[node].connect();
        assert_eq!(info_number(&mut con, "triggers", "triggers_outbox_failed"), 0, "node {node}");
        held += info_number(&mut con, "triggers", "triggers_outbox_held");
    }
    assert_eq!(held, client.refused as i64 + 2, "{flavor:?}: and the transaction's two");
});

/// On the target, a transaction of a write to a moved key and one to a key
/// no rule matches, in the moving slot: both refused, neither done.
fn a_transaction_does_nothing(target: &Server, tag: &str, moved: &str) {
    let mut con = target.connect();
    let other = format!("other:{tag}");
    for command in [&["ASKING"][..], &["MULTI"]] {
        let _: String = query(&mut con, command);
    }
    let _: String = query(&mut con, &["SET", &other, "v"]);
    let _: String = query(&mut con, &["HSET", moved, "n", "x"]);
    let replies: Vec<Value> = match redis::cmd("EXEC").query::<Value>(&mut con) {
        Ok(Value::Array(replies)) => replies,
        // The client reports the first error of the transaction as its own.
        Err(error) if error.code() == Some("TRYAGAIN") => vec![],
        other => panic!("EXEC: {other:?}"),
    };
    for reply in &replies {
        let Value::ServerError(error) = reply else {
            panic!("done in a transaction while the slot moves: {replies:?}");
        };
        assert_eq!(error.code(), "TRYAGAIN", "{replies:?}");
    }
    let _: String = query(&mut con, &["ASKING"]);
    let exists: i64 = query(&mut con, &["EXISTS", &other]);
    assert_eq!(exists, 0);
}
