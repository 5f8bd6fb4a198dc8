//! Two consumers of one group (`consumer/`): one dies with entries
//! delivered and not acknowledged, the other takes them over with
//! `XAUTOCLAIM` once they have been idle long enough. Keys of two hash
//! tags: two streams of 150 entries each.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use wasm_triggers_outbox::{Consumer, Entry, Options};
use wasm_triggers_tests::*;

const TAGS: [&str; 2] = ["{a}", "{b}"];
const WRITES: usize = 300;

fn key(i: usize) -> String {
    format!("k:{}:{i}", TAGS[i % TAGS.len()])
}

on_each_flavor!(fn a_consumer_takes_over_what_another_left(flavor) {
    let server = Server::start(flavor);
    let mut con = server.connect();
    let _: String = query(&mut con, &["OUTBOX", "ADD", "all", "EVENTS", "set"]);
    for i in 0..WRITES {
        let _: String = query(&mut con, &["SET", &key(i), "v"]);
    }
    let address = format!("127.0.0.1:{}", server.port);
    let options = |name: &str| {
        let mut options = Options::new("tests", name);
        options.count = 20;
        options.claim_idle = Duration::from_secs(1);
        options
    };
    // The first reads a batch from each stream, and dies without
    // acknowledging it.
    let mut first = Consumer::new(std::slice::from_ref(&address), options("w1")).expect("a consumer");
    let left = first.poll();
    assert_eq!(left.len(), 40, "{flavor:?}: 20 entries of each stream");
    drop(first);

    // The second, of another name, reads everything else at once, and what
    // the first left once it has been idle for a second.
    let mut second = Consumer::new(&[address], options("w2")).expect("a consumer");
    let mut got: Vec<Entry> = Vec::new();
    let started = Instant::now();
    while got.iter().map(Entry::unique_id).collect::<HashSet<_>>().len() < WRITES {
        assert!(started.elapsed() < Duration::from_secs(30), "{} of {WRITES}", got.len());
        let entries = second.poll();
        second.ack(&entries);
        got.extend(entries);
    }
    let ids: HashSet<String> = got.iter().map(Entry::unique_id).collect();
    assert_eq!(ids.len(), got.len(), "{flavor:?}: the second got each entry once");
    assert!(
        left.iter().all(|e| ids.contains(&e.unique_id())),
        "{flavor:?}: it took over every entry the first left"
    );
    let keys: HashSet<String> = got.iter().map(|e| String::from_utf8_lossy(&e.key).into_owned()).collect();
    assert_eq!(keys, (0..WRITES).map(key).collect(), "{flavor:?}");

    // Nothing is pending any more, with either consumer.
    let mut streams: BTreeMap<String, i64> = BTreeMap::new();
    for entry in &got {
        streams.insert(entry.stream.clone(), 0);
    }
    assert_eq!(streams.len(), TAGS.len(), "{flavor:?}: one stream per tag");
    for stream in streams.keys() {
        let pending: Vec<Value> = query(&mut con, &["XPENDING", stream, "tests"]);
        assert_eq!(pending.first(), Some(&Value::Int(0)), "{flavor:?}: {stream} {pending:?}");
    }
});
