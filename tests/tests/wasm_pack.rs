//! Libraries built with `wasm-pack build` (a core module for
//! wasm32-unknown-unknown that keeps wit-bindgen's component-type
//! section): `TRIGGER LOAD` makes them components, which every later step
//! sees (the digest, `REPLACE`'s no-op, `WITHCODE`, the RDB file, a
//! replica). The builds come from `scripts/build-wasm.sh`.

use wasm_triggers_tests::*;

/// `examples-wasm/<name>`'s `pkg/<name>_bg.wasm`, as wasm-pack built it.
fn wasm_pack(name: &str) -> Vec<u8> {
    let path = repo_root().join(format!("target/wasm-pack/{name}_bg.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run scripts/setup.sh", path.display()))
}

fn load_bytes(con: &mut Connection, code: &[u8], replace: bool) -> String {
    let mut cmd = redis::cmd("TRIGGER");
    cmd.arg("LOAD");
    if replace {
        cmd.arg("REPLACE");
    }
    cmd.arg(code)
        .query(con)
        .expect("TRIGGER LOAD of a wasm-pack build")
}

/// The digest and code `TRIGGER LIST WITHCODE` shows for `name`.
fn listed(con: &mut Connection, name: &str) -> (String, Vec<u8>) {
    let reply: Value = query(con, &["TRIGGER", "LIST", "LIBRARY", name, "WITHCODE"]);
    let library = as_map(&array(&reply)[0]);
    let Value::BulkString(code) = &library["code"] else {
        panic!("no code in {library:?}");
    };
    (text(&library["digest"]), code.clone())
}

on_all_servers!(fn the_examples_built_with_wasm_pack_load_and_fire(server) {
    let mut con = server.connect();
    for name in ["last_updated", "name_counter", "expired_orders", "archive_deleted"] {
        let module = wasm_pack(name);
        assert_eq!(&module[4..8], [1, 0, 0, 0], "{name}: wasm-pack gives a core module");
        assert_eq!(load_bytes(&mut con, &module, false), name);
        let (digest, code) = listed(&mut con, name);
        assert_eq!(&code[4..8], [0x0d, 0, 1, 0], "{name}: the library is a component");
        // The same module gives the same component: REPLACE changes nothing.
        assert_eq!(load_bytes(&mut con, &module, true), name);
        assert_eq!(listed(&mut con, name), (digest, code));
    }
    let _: i64 = query(&mut con, &["HSET", "h", "name", "tom"]);
    let stamp: Option<String> = query(&mut con, &["HGET", "h", "__last_updated__"]);
    assert!(stamp.is_some(), "last_updated stamped the hash");
    let tom: i64 = query(&mut con, &["GET", "name_tom"]);
    assert_eq!(tom, 1, "name_counter counted");
    let _: String = query(&mut con, &["SET", "checkout:order-1", "cart", "PX", "20"]);
    eventually("expired_orders recorded the expiry", || {
        outbox_entries(&mut server.connect()).iter().any(|e| e.field("order") == "order-1")
    });
    let _: i64 = query(&mut con, &["HSET", "user:1", "name", "ada"]);
    let _: i64 = query(&mut con, &["DEL", "user:1"]);
    let archived: Option<String> = query(&mut con, &["HGET", "archive:user:1", "name"]);
    assert_eq!(archived.as_deref(), Some("ada"), "archive_deleted archived the hash");
});

on_each_flavor!(fn a_wasm_pack_library_persists_and_replicates_as_a_component(flavor) {
    let primary = Server::start(flavor);
    let replica = Server::start(flavor);
    let mut con = primary.connect();
    load_bytes(&mut con, &wasm_pack("last_updated"), false);
    let on_primary = listed(&mut con, "last_updated");
    replicaof(&replica, &primary);
    eventually("the library on the replica", || {
        libraries(&mut replica.connect()).len() == 1
    });
    assert_eq!(listed(&mut replica.connect(), "last_updated"), on_primary);
    let _: String = query(&mut con, &["DEBUG", "RELOAD"]);
    assert_eq!(listed(&mut con, "last_updated"), on_primary);
    let _: i64 = query(&mut con, &["HSET", "h", "f", "v"]);
    let stamp: Option<String> = query(&mut con, &["HGET", "h", "__last_updated__"]);
    assert!(stamp.is_some());
});

on_all_servers!(fn core_modules_that_cannot_be_made_components_say_how_to_build(server) {
    let mut con = server.connect();
    // A module without wit-bindgen's section (built without the SDK).
    let bare: &[u8] = b"\0asm\x01\0\0\0";
    // A wasm32-wasip1 module: it imports WASI preview 1.
    let mut wasip1 = b"\0asm\x01\0\0\0".to_vec();
    wasip1.extend([1, 4, 1, 0x60, 0, 0]); // one type: () -> ()
    wasip1.extend([2, 35, 1, 22]);
    wasip1.extend(b"wasi_snapshot_preview1");
    wasip1.push(8);
    wasip1.extend(b"fd_write");
    wasip1.extend([0, 0]);
    for (what, code, expected) in [
        ("no section", bare, "without the component-type section the SDK writes"),
        ("wasip1", &wasip1[..], "wasm32-wasip1 module"),
    ] {
        let error = load_error(&mut con, &[code]);
        assert!(error.contains(expected), "{what}: {error}");
        assert!(error.contains("wasm-pack build --no-opt -- --target wasm32-unknown-unknown"), "{error}");
    }
    assert!(libraries(&mut con).is_empty());
});
