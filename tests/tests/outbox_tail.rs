//! The consumer's rounds and its command-line tool (`consumer/`): a round
//! reads a bounded batch and goes on where the last one stopped, so no
//! stream waits behind others; an `Acker` acknowledges from another thread,
//! in every database; `outbox-tail` prints every entry as one JSON line, in
//! order per stream, and acknowledges each.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use wasm_triggers_outbox::{Consumer, Entry, Options};
use wasm_triggers_tests::*;

/// The key `n` of hash tag `tag`: every tag is a slot, so a stream.
fn key(tag: usize, n: usize) -> String {
    format!("k:{{t{tag}}}:{n}")
}

/// `SET`s `key(tag, n)` for every tag of `tags` and `n` of `0..per_tag`,
/// each tag's keys in increasing `n`.
fn write(con: &mut Connection, tags: usize, per_tag: usize) {
    let mut pipe = redis::pipe();
    for n in 0..per_tag {
        for tag in 0..tags {
            pipe.cmd("SET").arg(key(tag, n)).arg("v").ignore();
        }
    }
    let _: () = pipe.query(con).expect("the writes");
}

/// The `n` of each key read, by tag, in the order read.
fn by_tag<'a>(keys: impl Iterator<Item = &'a str>) -> BTreeMap<String, Vec<usize>> {
    let mut by_tag: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for key in keys {
        let mut parts = key.rsplitn(2, ':');
        let n = parts
            .next()
            .and_then(|n| n.parse().ok())
            .expect("k:{tag}:n");
        by_tag
            .entry(parts.next().unwrap_or_default().to_owned())
            .or_default()
            .push(n);
    }
    by_tag
}

const TAGS: usize = 200;
const PER_TAG: usize = 30;

on_each_flavor!(fn rounds_are_bounded_and_take_every_stream_in_turn(flavor) {
    let server = Server::start(flavor);
    let mut con = server.connect();
    let _: String = query(&mut con, &["OUTBOX", "ADD", "all", "EVENTS", "set"]);
    write(&mut con, TAGS, PER_TAG);
    let mut options = Options::new("tests", "c1");
    options.count = 10;
    options.round_entries = 100;
    let address = format!("127.0.0.1:{}", server.port);
    let mut consumer = Consumer::new(&[address], options).expect("a consumer");

    // A pipeline reads 64 streams (the fewest): a round stops after the
    // one that reached 100 entries and the one sent after it.
    let most = 100 + 2 * 64 * 10;
    let mut got: Vec<Entry> = Vec::new();
    let mut streams_of_round: Vec<HashSet<String>> = Vec::new();
    while got.len() < TAGS * PER_TAG {
        assert!(streams_of_round.len() < 100, "{flavor:?}: {} of {}", got.len(), TAGS * PER_TAG);
        let entries = consumer.poll();
        assert!(entries.len() <= most, "{flavor:?}: a round read {}", entries.len());
        streams_of_round.push(entries.iter().map(|e| e.stream.clone()).collect());
        consumer.ack(&entries);
        got.extend(entries);
    }
    assert!(streams_of_round.len() > 1, "{flavor:?}: it all came in one round");
    // The second round goes on where the first stopped: after both, every
    // stream has been read, although each still had entries left.
    let first_two: HashSet<&String> = streams_of_round.iter().take(2).flatten().collect();
    assert_eq!(first_two.len(), TAGS, "{flavor:?}: streams read in the first two rounds");

    let ids: HashSet<String> = got.iter().map(Entry::unique_id).collect();
    assert_eq!(ids.len(), TAGS * PER_TAG, "{flavor:?}: each entry once");
    let order = by_tag(got.iter().map(|e| std::str::from_utf8(&e.key).expect("a key")));
    assert_eq!(order.len(), TAGS);
    for (tag, ns) in order {
        assert_eq!(ns, (0..PER_TAG).collect::<Vec<_>>(), "{flavor:?}: {tag} in order");
    }
});

/// Entries of `group` pending on each of `streams` in database `db`.
fn pending(con: &mut Connection, db: i64, streams: &HashSet<String>, group: &str) -> Vec<i64> {
    let _: () = redis::cmd("SELECT").arg(db).query(con).expect("SELECT");
    let counts = streams
        .iter()
        .map(|stream| {
            let summary: redis::Value = redis::cmd("XPENDING")
                .arg(stream)
                .arg(group)
                .query(con)
                .expect("XPENDING");
            match summary {
                redis::Value::Array(s) => match s.first() {
                    Some(redis::Value::Int(n)) => *n,
                    _ => -1,
                },
                _ => -1,
            }
        })
        .collect();
    let _: () = redis::cmd("SELECT").arg(0).query(con).expect("SELECT");
    counts
}

on_each_flavor!(fn an_acker_acknowledges_from_another_thread_in_every_database(flavor) {
    let server = Server::start(flavor);
    let mut con = server.connect();
    let _: String = query(&mut con, &["OUTBOX", "ADD", "all", "EVENTS", "set"]);
    write(&mut con, 4, 50);
    let _: () = redis::cmd("SELECT").arg(3).query(&mut con).expect("SELECT");
    write(&mut con, 4, 50);
    let _: () = redis::cmd("SELECT").arg(0).query(&mut con).expect("SELECT");

    let address = format!("127.0.0.1:{}", server.port);
    let mut consumer = Consumer::new(&[address], Options::new("tests", "c1")).expect("a consumer");
    let mut got: Vec<Entry> = Vec::new();
    while got.len() < 400 {
        let entries = consumer.poll();
        assert!(!entries.is_empty(), "{flavor:?}: {} of 400", got.len());
        got.extend(entries);
    }
    let streams: HashSet<String> = got.iter().map(|e| e.stream.clone()).collect();
    assert_eq!(pending(&mut con, 0, &streams, "tests"), vec![50; 4], "{flavor:?}: read, not acknowledged");
    assert_eq!(pending(&mut con, 3, &streams, "tests"), vec![50; 4], "{flavor:?}: read, not acknowledged");

    let mut acker = consumer.acker();
    let acked = got.clone();
    let errors = std::thread::spawn(move || acker.ack(&acked)).join().expect("the acking thread");
    assert!(errors.is_empty(), "{flavor:?}: {errors:?}");
    assert_eq!(pending(&mut con, 0, &streams, "tests"), vec![0; 4], "{flavor:?}: database 0");
    assert_eq!(pending(&mut con, 3, &streams, "tests"), vec![0; 4], "{flavor:?}: database 3");
    // Nothing comes again.
    assert!(consumer.poll().is_empty(), "{flavor:?}");

    // A node that cannot be reached: the entry stays pending, and it says why.
    let mut stray = got[0].clone();
    stray.node = "127.0.0.1:1".into();
    let errors = consumer.acker().ack(&[stray]);
    assert_eq!(errors.len(), 1, "{flavor:?}: {errors:?}");
    assert!(errors[0].starts_with("127.0.0.1:1: "), "{flavor:?}: {errors:?}");
});

on_each_flavor!(fn outbox_tail_prints_json_lines_and_acknowledges_them(flavor) {
    let server = Server::start(flavor);
    let mut con = server.connect();
    let _: String = query(&mut con, &["OUTBOX", "ADD", "all", "EVENTS", "set"]);
    write(&mut con, 4, 100);
    // A key that is not UTF-8.
    let _: () = redis::cmd("SET").arg(b"k:{t0}:\xff").arg("v").query(&mut con).expect("SET");
    let total = 4 * 100 + 1;

    let mut tail = Tail(
        Command::new(repo_root().join("target/release/outbox-tail"))
            .args(["--node", &format!("127.0.0.1:{}", server.port), "--group", "tail"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("target/release/outbox-tail (cargo build --release --workspace)"),
    );
    let stdout = tail.0.stdout.take().expect("its output");
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut entries: Vec<serde_json::Value> = Vec::new();
    while entries.len() < total {
        let line = received
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{flavor:?}: {} of {total} lines", entries.len()));
        entries.push(serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}")));
    }
    let streams: HashSet<String> =
        entries.iter().map(|e| e["stream"].as_str().expect("stream").to_owned()).collect();
    assert_eq!(streams.len(), 4, "{flavor:?}: one stream per tag");
    // Every entry acknowledged once printed: nothing stays pending.
    eventually("no entry pending", || {
        streams.iter().all(|stream| {
            let summary: redis::Value = redis::cmd("XPENDING")
                .arg(stream)
                .arg("tail")
                .query(&mut con)
                .expect("XPENDING");
            matches!(summary, redis::Value::Array(ref s) if s.first() == Some(&redis::Value::Int(0)))
        })
    });
    drop(tail);

    let ids: HashSet<&str> = entries.iter().map(|e| e["id"].as_str().expect("id")).collect();
    assert_eq!(ids.len(), total, "{flavor:?}: each entry once");
    for entry in &entries {
        assert_eq!(entry["event"], "set");
        assert_eq!(entry["source"], "rule:all");
        assert_eq!(
            entry["id"].as_str(),
            Some(format!("0/{}/{}", entry["stream"].as_str().unwrap_or("?"), entry["entry"].as_str().unwrap_or("?")).as_str()),
        );
    }
    let binary: Vec<&serde_json::Value> = entries.iter().filter(|e| e.get("key_hex").is_some()).collect();
    assert_eq!(binary.len(), 1, "{flavor:?}: the key that is not UTF-8");
    assert_eq!(binary[0]["key_hex"], hex_of(b"k:{t0}:\xff"));
    let order = by_tag(entries.iter().filter_map(|e| e["key"].as_str()));
    for (tag, ns) in order {
        assert_eq!(ns, (0..100).collect::<Vec<_>>(), "{flavor:?}: {tag} in order");
    }
});

/// `outbox-tail`, stopped when the test ends, failed or not.
struct Tail(Child);

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
