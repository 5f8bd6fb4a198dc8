//! `last_updated` on a real server (wasm-triggers-harness): a hash that
//! changes gets `__last_updated__`, other keys do not.

use wasm_triggers_harness::redis::Commands;
use wasm_triggers_harness::Server;

#[test]
fn stamps_a_hash_that_changes() -> anyhow::Result<()> {
    let server = Server::start()?;
    assert_eq!(server.load_this_crate()?, "last_updated");
    let mut con = server.connect()?;
    let (before, _): (i64, i64) = wasm_triggers_harness::redis::cmd("TIME").query(&mut con)?;
    let _: i64 = con.hset("h", "x", 1)?;
    let stamp: i64 = con.hget("h", "__last_updated__")?;
    assert!(stamp >= before);
    let _: () = con.set("s", "v")?;
    assert_eq!(con.get::<_, String>("s")?, "v");
    let stats = server.stats("last_updated", "consumer")?;
    assert_eq!(
        stats["num_success"],
        wasm_triggers_harness::redis::Value::Int(1)
    );
    Ok(())
}
