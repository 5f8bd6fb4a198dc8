//! The libraries an RDB holds replace the loaded ones only once the whole
//! load succeeded: a load that fails after the aux data was read leaves
//! the libraries as they were.

use wasm_triggers_tests::*;

/// `(name, digest)` of every loaded library.
fn names_and_digests(con: &mut Connection) -> Vec<(String, String)> {
    libraries(con)
        .iter()
        .map(|l| (text(&l["name"]), text(&l["digest"])))
        .collect()
}

// A replica with no keys loads its full sync straight from the socket
// (`repl-diskless-load on-empty-db`). Its primary, with another library
// and many keys, sends them slowly (`rdb-key-save-delay`) and is killed
// once the replica has read the libraries: the load fails, and the replica
// keeps its own library.
on_all_servers!(fn a_full_sync_cut_off_keeps_the_replicas_libraries(server) {
    let mut replica = server.connect();
    let _: String = query(&mut replica, &["CONFIG", "SET", "repl-diskless-load", "on-empty-db"]);
    load(&mut replica, "recorder");
    let before = names_and_digests(&mut replica);

    let mut primary = Server::start_with(
        server.flavor,
        &["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"],
    );
    let mut p = primary.connect();
    load(&mut p, "last_updated");
    let _: String = query(&mut p, &["DEBUG", "POPULATE", "20000"]);
    // 1 ms a key: the transfer takes 20 s, and is cut off long before.
    let _: String = query(&mut p, &["CONFIG", "SET", "rdb-key-save-delay", "1000"]);

    let port = primary.port.to_string();
    let _: String = query(&mut replica, &["REPLICAOF", "127.0.0.1", &port]);
    eventually("the replica to read the primary's libraries", || {
        server.log().contains("loaded 1 trigger libraries from the RDB file")
    });
    primary.kill();
    eventually("the full sync to fail", || {
        server.log().contains("synchronization DB from socket, check server logs")
    });
    assert!(!server.log().contains("Skipping diskless-load"), "{}", server.log());

    assert_eq!(names_and_digests(&mut replica), before);
    let keys: i64 = query(&mut replica, &["DBSIZE"]);
    assert_eq!(keys, 0, "the half-loaded data is gone");
    // And the library works: promoted, the replica runs its triggers.
    let _: String = query(&mut replica, &["REPLICAOF", "NO", "ONE"]);
    let _: String = query(&mut replica, &["SET", "user:1", "v"]);
    assert_eq!(stat(&mut replica, "recorder", "by_prefix", "num_success"), 1);
});
