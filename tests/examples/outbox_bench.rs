//! The outbox consumer draining a backlog (`bench/outbox.sh drain` runs
//! it), on Redis 8 with the module: `redis-benchmark` writes `HSET
//! h:__rand_int__ f v` (random keys, so entries in about every slot's
//! stream) under the rule `all_hashes EVENTS @hash`, then one reader reads
//! and acknowledges the whole backlog with a consumer group. In alternating
//! rounds of one run:
//!
//! - the anchor, a plain client (redis-rs) that knows the protocol and
//!   does nothing per entry but keep its id: `OUTBOX STREAMS`, `XGROUP
//!   CREATE` on each stream, then `XREADGROUP … COUNT 500 … >` on every
//!   stream with entries left, 1,024 streams per pipeline, and one `XACK`
//!   per stream, until it has them all;
//! - `outbox-tail` (this build's, or `TAIL`'s), its JSON lines read from a
//!   pipe, and an older build's (`BEFORE_TAIL`) if given: the time until
//!   every line is printed, and until nothing is pending any more.
//!
//! With `keep-up [seconds]`, instead: end to end at steady write rates
//! (25,000, 50,000 and 75,000 `HSET`s per second of random keys, from one
//! client in pipelines of 100 on a clock) while `outbox-tail` reads: its
//! largest lag (entries appended, not yet printed) while the writes go on,
//! and how soon after the last write it printed everything.
//!
//! `bench/outbox.sh drain [entries] [rounds]` (default 200000 3)
//! `bench/outbox.sh drain keep-up [seconds]` (default 10)

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::Value;
use wasm_triggers_tests::*;

/// Writes `requests` HSETs of random keys, and waits for nothing more.
fn write_backlog(server: &Server, requests: usize) {
    let status = Command::new(repo_root().join(".cache/redis-8/bin/redis-benchmark"))
        .args(["-p", &server.port.to_string(), "-c", "32", "-P", "16"])
        .args(["-r", "1000000", "-n", &requests.to_string(), "-q"])
        .args(["HSET", "h:__rand_int__", "f", "v"])
        .stdout(Stdio::null())
        .status()
        .expect("redis-benchmark");
    assert!(status.success(), "redis-benchmark failed");
}

/// The outbox streams of the server (`OUTBOX STREAMS`), by name.
fn streams(con: &mut Connection) -> Vec<Vec<u8>> {
    let listed: Vec<Value> = redis::cmd("OUTBOX")
        .arg("STREAMS")
        .query(con)
        .expect("streams");
    listed
        .iter()
        .filter_map(|item| {
            let Value::Array(flat) = item else {
                return None;
            };
            flat.chunks(2).find_map(|pair| match pair {
                [Value::BulkString(name), Value::BulkString(stream)] if name == b"stream" => {
                    Some(stream.clone())
                }
                _ => None,
            })
        })
        .collect()
}

/// The anchor: reads and acknowledges `total` entries; the seconds it took.
fn plain_client(server: &Server, total: usize) -> f64 {
    let mut con = server.connect();
    let start = Instant::now();
    let mut left = streams(&mut con);
    let mut pipe = redis::pipe();
    for stream in &left {
        pipe.cmd("XGROUP")
            .arg("CREATE")
            .arg(stream)
            .arg("plain")
            .arg("0")
            .ignore();
    }
    let _: () = pipe.query(&mut con).expect("XGROUP CREATE");
    let mut read = 0;
    while read < total {
        let mut still = Vec::new();
        for chunk in left.chunks(1024) {
            let mut pipe = redis::pipe();
            for stream in chunk {
                pipe.cmd("XREADGROUP")
                    .arg("GROUP")
                    .arg("plain")
                    .arg("c")
                    .arg("COUNT")
                    .arg(500);
                pipe.arg("STREAMS").arg(stream).arg(">");
            }
            let replies: Vec<Value> = pipe.query(&mut con).expect("XREADGROUP");
            let mut acks = redis::pipe();
            for (stream, reply) in chunk.iter().zip(replies) {
                let ids = entry_ids(reply);
                read += ids.len();
                if ids.len() == 500 {
                    still.push(stream.clone());
                }
                if !ids.is_empty() {
                    acks.cmd("XACK").arg(stream).arg("plain").arg(ids).ignore();
                }
            }
            let _: () = acks.query(&mut con).expect("XACK");
        }
        assert!(
            !still.is_empty() || read >= total,
            "{read} of {total} entries"
        );
        left = still;
    }
    start.elapsed().as_secs_f64()
}

/// The ids of an `XREADGROUP` reply's entries (RESP2).
fn entry_ids(reply: Value) -> Vec<Vec<u8>> {
    let Value::Array(streams) = reply else {
        return Vec::new();
    };
    streams
        .into_iter()
        .filter_map(|pair| match pair {
            Value::Array(pair) => pair.into_iter().nth(1),
            _ => None,
        })
        .flat_map(|entries| match entries {
            Value::Array(entries) => entries,
            _ => Vec::new(),
        })
        .filter_map(|entry| match entry {
            Value::Array(entry) => match entry.into_iter().next() {
                Some(Value::BulkString(id)) => Some(id),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Runs `tail` until it printed `total` lines and nothing of its group is
/// pending: the seconds to each.
fn outbox_tail(server: &Server, tail: &Path, group: &str, total: usize) -> (f64, f64) {
    let mut con = server.connect();
    let names = streams(&mut con);
    let start = Instant::now();
    let reader = Tail::start(server, tail, group);
    reader.wait_for(total, start);
    let printed = start.elapsed().as_secs_f64();
    // Acknowledged: no entry of the group pending on any stream.
    loop {
        let mut pipe = redis::pipe();
        for name in &names {
            pipe.cmd("XPENDING").arg(name).arg(group);
        }
        let summaries: Vec<Value> = pipe.query(&mut con).expect("XPENDING");
        let pending = summaries.iter().any(
            |s| matches!(s, Value::Array(s) if s.first().is_some_and(|n| *n != Value::Int(0))),
        );
        if !pending {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "still pending after 120 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    (printed, start.elapsed().as_secs_f64())
}

/// `outbox-tail` reading `server` with `group`, its lines counted as they
/// come; stopped when dropped.
struct Tail {
    child: Child,
    lines: Arc<AtomicUsize>,
}

impl Tail {
    fn start(server: &Server, tail: &Path, group: &str) -> Tail {
        let mut child = Command::new(tail)
            .args([
                "--node",
                &format!("127.0.0.1:{}", server.port),
                "--group",
                group,
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("outbox-tail");
        let stdout = child.stdout.take().expect("its output");
        let lines = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&lines);
        std::thread::spawn(move || {
            let (mut stdout, mut buffer) = (stdout, vec![0; 1 << 20]);
            while let Ok(read @ 1..) = stdout.read(&mut buffer) {
                let count = memchr::memchr_iter(b'\n', &buffer[..read]).count();
                counted.fetch_add(count, Ordering::Relaxed);
            }
        });
        Tail { child, lines }
    }

    fn lines(&self) -> usize {
        self.lines.load(Ordering::Relaxed)
    }

    /// Waits until `total` lines came; fails 300 s after `since`.
    fn wait_for(&self, total: usize, since: Instant) {
        while self.lines() < total {
            assert!(
                since.elapsed() < Duration::from_secs(300),
                "{} of {total}",
                self.lines()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `rate` HSETs of random keys per second for `seconds` while
/// `tail` reads; prints the largest lag seen and how long after the last
/// write the last entry was printed.
fn keep_up(server: &Server, tail: &Path, rate: usize, seconds: usize) {
    let mut con = server.connect();
    let _: String = query(&mut con, &["FLUSHALL"]);
    let _: String = query(
        &mut con,
        &["OUTBOX", "ADD", "all_hashes", "EVENTS", "@hash"],
    );
    let appended =
        |con: &mut Connection| info_number(con, "triggers", "triggers_outbox_appended") as usize;
    // The count goes on from earlier rates.
    let before = appended(&mut con);
    let reader = Tail::start(server, tail, &format!("keep-up-{rate}"));
    let total = rate * seconds;
    let mut writer = server.connect();
    let writes = std::thread::spawn(move || {
        let start = Instant::now();
        // A linear congruential sequence: keys spread over every slot.
        let mut next: u64 = 1;
        for (tick, first) in (0..total).step_by(100).enumerate() {
            let due = start + Duration::from_secs_f64(tick as f64 * 100.0 / rate as f64);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            let mut pipe = redis::pipe();
            for _ in first..(first + 100).min(total) {
                next = next
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                pipe.cmd("HSET")
                    .arg(format!("h:{}", next >> 44))
                    .arg("f")
                    .arg("v")
                    .ignore();
            }
            let () = pipe.query(&mut writer).expect("the writes");
        }
        start.elapsed()
    });
    let mut lags = Vec::new();
    while !writes.is_finished() {
        std::thread::sleep(Duration::from_millis(500));
        lags.push((appended(&mut con) - before).saturating_sub(reader.lines()));
    }
    let lag = lags.iter().max().copied().unwrap_or(0);
    let took = writes.join().expect("the writer");
    let written = Instant::now();
    let total = appended(&mut con) - before;
    reader.wait_for(total, written);
    println!(
        "  {rate:>6}/s asked, {:>6.0}/s written for {:.1} s: lag at most {lag:>7}; \
         all {total} printed {:.2} s after the last write",
        total as f64 / took.as_secs_f64(),
        took.as_secs_f64(),
        written.elapsed().as_secs_f64()
    );
    let thousands: Vec<String> = lags
        .iter()
        .map(|l| format!("{:.1}k", *l as f64 / 1000.0))
        .collect();
    println!("          lag every 0.5 s: {}", thousands.join(" "));
    let _: String = query(&mut con, &["OUTBOX", "DELETE", "all_hashes"]);
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let only_keep_up = args.first().is_some_and(|a| a == "keep-up");
    if only_keep_up {
        args.remove(0);
    }
    let requests: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3);
    let this_build = std::env::var_os("TAIL")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/release/outbox-tail"));
    let mut tails = vec![("outbox-tail".to_owned(), this_build)];
    if let Some(before) = std::env::var_os("BEFORE_TAIL") {
        tails.push(("outbox-tail, older build".to_owned(), PathBuf::from(before)));
    }

    let server = Server::start(Flavor::Redis8);
    let mut con = server.connect();
    let _: String = query(
        &mut con,
        &["CONFIG", "SET", "triggers.outbox-max-length", "1000000"],
    );
    if only_keep_up {
        let seconds = args.first().and_then(|a| a.parse().ok()).unwrap_or(10);
        println!("outbox-tail end to end at steady write rates, Redis 8:");
        for rate in [25_000, 50_000, 75_000] {
            keep_up(&server, &tails[0].1, rate, seconds);
        }
        return;
    }
    let mut anchor = Vec::new();
    let mut printed = vec![Vec::new(); tails.len()];
    let mut acknowledged = vec![Vec::new(); tails.len()];
    let fill = |con: &mut Connection| -> usize {
        let _: String = query(con, &["FLUSHALL"]);
        let _: String = query(con, &["OUTBOX", "ADD", "all_hashes", "EVENTS", "@hash"]);
        let before = info_number(con, "triggers", "triggers_outbox_appended");
        write_backlog(&server, requests);
        let appended = info_number(con, "triggers", "triggers_outbox_appended") - before;
        let _: String = query(con, &["OUTBOX", "DELETE", "all_hashes"]);
        appended as usize
    };
    let mut streams_seen = 0;
    for round in 0..rounds {
        // Alternating which goes first.
        let anchor_first = round % 2 == 0;
        if anchor_first {
            let total = fill(&mut con);
            streams_seen = streams(&mut con).len();
            anchor.push(total as f64 / plain_client(&server, total));
        }
        for (i, (_, tail)) in tails.iter().enumerate() {
            let total = fill(&mut con);
            let (p, a) = outbox_tail(&server, tail, &format!("tail{round}"), total);
            printed[i].push(total as f64 / p);
            acknowledged[i].push(total as f64 / a);
        }
        if !anchor_first {
            let total = fill(&mut con);
            anchor.push(total as f64 / plain_client(&server, total));
        }
        eprintln!("round {round} done");
    }
    let anchor = median(&mut anchor);
    println!(
        "Draining {requests} outbox entries over {streams_seen} streams, Redis 8, \
         median of {rounds} alternating rounds (entries/s):"
    );
    println!(
        "  {:<58} {anchor:>10.0}",
        "a plain client, read and acknowledged (anchor)"
    );
    for (i, (name, _)) in tails.iter().enumerate() {
        let (p, a) = (median(&mut printed[i]), median(&mut acknowledged[i]));
        println!("  {:<58} {p:>10.0}", format!("{name}, printed"));
        println!(
            "  {:<58} {a:>10.0}  {:.2}× the anchor",
            format!("{name}, printed and acknowledged"),
            a / anchor
        );
    }
}
