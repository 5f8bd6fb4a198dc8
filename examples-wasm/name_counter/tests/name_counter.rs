//! `name_counter` on a real server (wasm-triggers-harness): each name set
//! in a transaction is counted once, as it was when its command ran.

use wasm_triggers_harness::redis::{self, Commands};
use wasm_triggers_harness::Server;

#[test]
fn counts_each_name_of_a_transaction() -> anyhow::Result<()> {
    let server = Server::start()?;
    server.load_this_crate()?;
    let mut con = server.connect()?;
    let _: (i64, i64) = redis::pipe()
        .atomic()
        .hset("user:1", "name", "tom")
        .hset("user:1", "name", "jerry")
        .query(&mut con)?;
    assert_eq!(con.get::<_, i64>("name_tom")?, 1);
    assert_eq!(con.get::<_, i64>("name_jerry")?, 1);
    Ok(())
}
