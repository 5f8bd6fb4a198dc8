//! `expired_orders` on a real server (wasm-triggers-harness): an order
//! that expires lands in the outbox, with what it held; one deleted does
//! not.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use wasm_triggers_harness::redis::{self, Commands};
use wasm_triggers_harness::Server;

#[test]
fn records_expired_orders_only() -> anyhow::Result<()> {
    let server = Server::start()?;
    server.load_this_crate()?;
    let mut con = server.connect()?;
    let _: () = con.hset_multiple("checkout:1", &[("total", "42.50"), ("items", "3")])?;
    let _: () = con.pexpire("checkout:1", 20)?;
    let _: () = con.set("checkout:2", "cart")?;
    let _: i64 = con.del("checkout:2")?;
    let started = Instant::now();
    loop {
        let stats = server.stats("expired_orders", "order_expired")?;
        if stats["num_success"] == redis::Value::Int(1) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no expiry recorded: {stats:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        server.stats("expired_orders", "order_expired")?["num_triggered"],
        redis::Value::Int(1)
    );
    // The outbox entry has the order's id and content.
    let entry = &outbox_entries(&mut con)?[0];
    assert_eq!(entry["order"], "1");
    assert_eq!(
        (entry["order.total"].as_str(), entry["order.items"].as_str()),
        ("42.50", "3")
    );
    Ok(())
}

/// Every entry of every outbox stream (`OUTBOX STREAMS`), as its fields.
fn outbox_entries(con: &mut redis::Connection) -> anyhow::Result<Vec<HashMap<String, String>>> {
    let streams: Vec<HashMap<String, redis::Value>> =
        redis::cmd("OUTBOX").arg("STREAMS").query(con)?;
    let mut entries = Vec::new();
    for mut stream in streams {
        let name = stream
            .remove("stream")
            .ok_or_else(|| anyhow::anyhow!("no stream"))?;
        let name: String = redis::from_redis_value(name)?;
        let range: Vec<(String, HashMap<String, String>)> = redis::cmd("XRANGE")
            .arg(name)
            .arg("-")
            .arg("+")
            .query(con)?;
        entries.extend(range.into_iter().map(|(_, fields)| fields));
    }
    Ok(entries)
}
