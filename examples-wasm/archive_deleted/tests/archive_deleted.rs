//! `archive_deleted` on a real server (wasm-triggers-harness): a deleted
//! hash is archived with its fields; other keys and types are not.

use std::collections::HashMap;

use wasm_triggers_harness::redis::{self, Commands};
use wasm_triggers_harness::Server;

#[test]
fn deleted_hashes_are_archived() -> anyhow::Result<()> {
    let server = Server::start()?;
    server.load_this_crate()?;
    let mut con = server.connect()?;
    let _: () = con.hset_multiple("user:1", &[("name", "tom"), ("bin", "\u{0}\u{ff}")])?;
    let _: () = con.hset("order:1", "total", "3")?;
    let _: () = con.set("user:string", "not a hash")?;
    let _: i64 = con.del(&["user:1", "order:1", "user:string"])?;

    let archived: HashMap<String, String> = con.hgetall("archive:user:1")?;
    assert_eq!(archived["name"], "tom");
    assert_eq!(archived["bin"], "\u{0}\u{ff}");
    assert!(archived["__deleted_at__"].parse::<i64>()? > 1_700_000_000);
    let ttl: i64 = con.ttl("archive:user:1")?;
    assert!(ttl > 600_000, "kept a week: {ttl}");
    let others: Vec<String> = con.keys("archive:*")?;
    assert_eq!(others, ["archive:user:1"]);

    // Restored with COPY.
    let _: () = redis::cmd("COPY")
        .arg("archive:user:1")
        .arg("user:1")
        .query(&mut con)?;
    let name: String = con.hget("user:1", "name")?;
    assert_eq!(name, "tom");
    Ok(())
}
