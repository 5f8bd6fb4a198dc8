//! wasm-pack's builds of the examples against their wasip2 builds
//! (`bench/wasm-pack.sh` runs it), on Redis 8: the size of each file, the
//! size of the library `TRIGGER LOAD` keeps (the component), and the time
//! of `TRIGGER LOAD` (after a `TRIGGER DELETE`, so every round loads),
//! the median of alternating rounds in one run.
//!
//! `cargo run --release -p wasm-triggers-tests --example wasm_pack_bench [rounds]`

use std::time::{Duration, Instant};

use wasm_triggers_tests::*;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(21);
    let server = Server::start(Flavor::Redis8);
    let mut con = server.connect();
    println!(
        "| example | build | file bytes | library bytes | TRIGGER LOAD (median of {rounds}) |"
    );
    println!("|---|---|---:|---:|---:|");
    for name in ["last_updated", "name_counter", "expired_orders"] {
        let builds = [
            ("wasip2 (cargo build)", wasm(name)),
            (
                "wasm-pack (core module)",
                std::fs::read(repo_root().join(format!("target/wasm-pack/{name}_bg.wasm")))
                    .expect("scripts/build-wasm.sh ran"),
            ),
        ];
        let mut times = [Vec::new(), Vec::new()];
        for _ in 0..rounds {
            for (index, (_, code)) in builds.iter().enumerate() {
                let _: redis::RedisResult<Value> = redis::cmd("TRIGGER")
                    .arg("DELETE")
                    .arg(name)
                    .query(&mut con);
                let started = Instant::now();
                let _: String = redis::cmd("TRIGGER")
                    .arg("LOAD")
                    .arg(code)
                    .query(&mut con)
                    .expect("TRIGGER LOAD");
                times[index].push(started.elapsed());
            }
        }
        for (index, (build, code)) in builds.iter().enumerate() {
            let _: redis::RedisResult<Value> = redis::cmd("TRIGGER")
                .arg("DELETE")
                .arg(name)
                .query(&mut con);
            let _: String = redis::cmd("TRIGGER")
                .arg("LOAD")
                .arg(code)
                .query(&mut con)
                .expect("TRIGGER LOAD");
            let reply: Value = query(&mut con, &["TRIGGER", "LIST", "LIBRARY", name, "WITHCODE"]);
            let library = as_map(&array(&reply)[0]);
            let Value::BulkString(kept) = &library["code"] else {
                panic!("no code");
            };
            println!(
                "| {name} | {build} | {} | {} | {:.2} ms |",
                code.len(),
                kept.len(),
                median(times[index].clone()).as_secs_f64() * 1e3
            );
        }
    }
}
