//! `expired_orders` on a real server (wasm-triggers-harness): an order
//! that expires lands in the outbox; one deleted does not.

use std::time::{Duration, Instant};

use wasm_triggers_harness::redis::{self, Commands};
use wasm_triggers_harness::Server;

#[test]
fn records_expired_orders_only() -> anyhow::Result<()> {
    let server = Server::start()?;
    server.load_this_crate()?;
    let mut con = server.connect()?;
    let _: () = redis::cmd("SET")
        .arg("checkout:1")
        .arg("cart")
        .arg("PX")
        .arg(20)
        .query(&mut con)?;
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
    Ok(())
}
