//! Libraries saved with the data (RDB aux data) and loaded back: `SAVE` and
//! a restart, `DEBUG RELOAD`, the AOF's RDB preamble; `FLUSHALL` keeps them;
//! an unreadable payload refuses the RDB file. And the compiled-code cache
//! in `triggers-cache/`, which spares a restart the compilation.

use std::path::{Path, PathBuf};

use wasm_triggers_tests::*;

/// `(name, digest)` of every loaded library.
fn names_and_digests(con: &mut Connection) -> Vec<(String, String)> {
    libraries(con)
        .iter()
        .map(|l| (text(&l["name"]), text(&l["digest"])))
        .collect()
}

/// A field of `INFO triggers`.
fn info(con: &mut Connection, field: &str) -> i64 {
    let info: String = query(con, &["INFO", "triggers"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("triggers_{field}:")))
        .unwrap_or_else(|| panic!("{field} in {info}"))
        .trim()
        .parse()
        .expect("an integer")
}

/// Loads `last_updated` and `name_counter`; returns their names and digests.
fn load_two(con: &mut Connection) -> Vec<(String, String)> {
    load(con, "last_updated");
    load(con, "name_counter");
    // The optimized code is compiled, cached and written in the background.
    wait_for_optimized_code(con);
    let loaded = names_and_digests(con);
    assert_eq!(loaded.len(), 2);
    loaded
}

/// Both libraries fire: `last_updated` stamps the hash, `name_counter`
/// counts the name.
fn assert_both_fire(con: &mut Connection, key: &str) {
    let _: i64 = query(con, &["HSET", key, "name", key]);
    let stamped: Option<String> = query(con, &["HGET", key, "__last_updated__"]);
    assert!(stamped.is_some(), "last_updated fired on {key}");
    let count: i64 = query(con, &["GET", &format!("name_{key}")]);
    assert_eq!(count, 1, "name_counter fired on {key}");
}

fn rdb_path(server: &Server) -> PathBuf {
    server.dir().join("dump.rdb")
}

fn cache_dir(server: &Server) -> PathBuf {
    server.dir().join("triggers-cache")
}

/// The `.cwasm` files of the cache, sorted.
fn cache_files(server: &Server) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cache_dir(server))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "cwasm"));
    files.sort();
    files
}

/// The cache file of the library with this digest.
fn cache_file(server: &Server, digest: &str) -> PathBuf {
    cache_files(server)
        .into_iter()
        .find(|p| file_name(p).starts_with(&format!("{digest}-")))
        .unwrap_or_else(|| panic!("no cache file for {digest}"))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("a file name")
        .to_string_lossy()
        .into_owned()
}

/// The module type's id in RDB files, as Redis computes it
/// (`moduleTypeEncodeId`): the 9 characters of `wasmtrigr` in 6 bits each,
/// then the 10-bit encoding version.
fn module_type_id() -> u64 {
    const CHARSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut id = 0u64;
    for c in b"wasmtrigr" {
        let position = CHARSET.iter().position(|x| x == c).expect("in the charset");
        id = (id << 6) | position as u64;
    }
    (id << 10) | 1
}

/// Where the module's payload starts in an RDB file: after the opcode
/// `MODULE_AUX` (0xf7), the type id (a 64-bit length: 0x81 and 8 bytes, big
/// endian) and the `when` field (UINT opcode 2, value 1: before the
/// keyspace).
fn aux_payload_offset(rdb: &[u8]) -> Option<usize> {
    let mut header = vec![0xf7, 0x81];
    header.extend_from_slice(&module_type_id().to_be_bytes());
    header.extend_from_slice(&[0x02, 0x01]);
    rdb.windows(header.len())
        .position(|w| w == header)
        .map(|i| i + header.len())
}

/// Edits an RDB file and clears its checksum (Redis skips the check of a
/// zero checksum), so that the edit reaches the module.
fn edit_rdb(path: &Path, edit: impl FnOnce(&mut Vec<u8>)) {
    let mut rdb = std::fs::read(path).expect("the RDB file");
    edit(&mut rdb);
    let len = rdb.len();
    rdb[len - 8..].fill(0);
    std::fs::write(path, rdb).expect("the RDB file is written");
}

fn wait_for_aof_rewrite(con: &mut Connection) {
    eventually("the AOF rewrite", || {
        let info: String = query(con, &["INFO", "persistence"]);
        info.contains("aof_rewrite_in_progress:0")
            && info.contains("aof_rewrite_scheduled:0")
            && info.contains("aof_last_bgrewrite_status:ok")
    });
}

on_all_servers!(fn save_and_restart_keep_the_libraries(server) {
    let mut con = server.connect();
    let loaded = load_two(&mut con);
    let _: String = query(&mut con, &["SAVE"]);
    server.restart();

    let mut con = server.connect();
    assert_eq!(names_and_digests(&mut con), loaded);
    assert_both_fire(&mut con, "after_restart");
    assert!(server.log().contains("loaded 2 trigger libraries from the RDB file"));
});

on_all_servers!(fn debug_reload_keeps_the_libraries(server) {
    let mut con = server.connect();
    let loaded = load_two(&mut con);
    assert_both_fire(&mut con, "before");
    let compiles = info(&mut con, "code_cache_compiles");

    let _: String = query(&mut con, &["DEBUG", "RELOAD"]);
    assert_eq!(names_and_digests(&mut con), loaded);
    // The same libraries, replaced in place: not compiled again, and their
    // triggers keep their statistics; loading the keyspace fired nothing.
    assert_eq!(info(&mut con, "code_cache_compiles"), compiles);
    assert_eq!(info(&mut con, "code_cache_memory_hits"), 2);
    assert_eq!(stat(&mut con, "last_updated", "consumer", "num_triggered"), 1);
    assert_both_fire(&mut con, "after");
    assert_eq!(stat(&mut con, "last_updated", "consumer", "num_triggered"), 2);
    let before: i64 = query(&mut con, &["GET", "name_before"]);
    assert_eq!(before, 1);
});

#[test]
fn aof_with_rdb_preamble_keeps_the_libraries() {
    for flavor in Flavor::ALL {
        let mut server = Server::start_with(
            flavor,
            &["--appendonly", "yes", "--aof-use-rdb-preamble", "yes"],
        );
        let mut con = server.connect();
        wait_for_aof_rewrite(&mut con);
        let loaded = load_two(&mut con);
        let _: String = query(&mut con, &["BGREWRITEAOF"]);
        wait_for_aof_rewrite(&mut con);
        let _: i64 = query(&mut con, &["HSET", "kept", "f", "v"]);
        let base = std::fs::read_dir(server.dir().join("appendonlydir"))
            .expect("appendonlydir")
            .filter_map(|e| e.ok())
            .any(|e| file_name(&e.path()).ends_with(".base.rdb"));
        assert!(base, "{flavor:?}: the AOF has an RDB base file");
        assert!(
            !rdb_path(&server).exists(),
            "{flavor:?}: no dump.rdb to load instead"
        );

        server.restart();
        let mut con = server.connect();
        assert_eq!(names_and_digests(&mut con), loaded, "{flavor:?}");
        let kept: Option<String> = query(&mut con, &["HGET", "kept", "__last_updated__"]);
        assert!(kept.is_some(), "{flavor:?}: the AOF's data came back too");
        assert_both_fire(&mut con, "after_aof");
        // The RDB preamble holds them: no commands for them in the AOF.
        assert!(!server
            .log()
            .contains("AOF rewrite without the RDB preamble"));
        assert!(server.is_alive());
    }
}

on_all_servers!(fn flushall_keeps_the_libraries(server) {
    let mut con = server.connect();
    let loaded = load_two(&mut con);
    let _: i64 = query(&mut con, &["HSET", "gone", "f", "v"]);
    let _: String = query(&mut con, &["FLUSHALL"]);
    assert_eq!(names_and_digests(&mut con), loaded);
    let keys: i64 = query(&mut con, &["DBSIZE"]);
    assert_eq!(keys, 0);
    assert_both_fire(&mut con, "after_flush");

    // Saved with an empty keyspace, they still come back.
    let _: String = query(&mut con, &["FLUSHALL"]);
    let _: String = query(&mut con, &["SAVE"]);
    server.restart();
    let mut con = server.connect();
    assert_eq!(names_and_digests(&mut con), loaded);
});

on_all_servers!(fn a_deleted_library_does_not_come_back(server) {
    let mut con = server.connect();
    let loaded = load_two(&mut con);
    let _: String = query(&mut con, &["TRIGGER", "DELETE", "last_updated"]);
    // Its compiled code leaves the cache with it.
    assert_eq!(cache_files(server).len(), 1);
    let _: String = query(&mut con, &["SAVE"]);
    server.restart();
    let mut con = server.connect();
    assert_eq!(names_and_digests(&mut con), loaded[1..]);
    let _: i64 = query(&mut con, &["HSET", "h", "name", "tom"]);
    let fields: Vec<String> = query(&mut con, &["HKEYS", "h"]);
    assert_eq!(fields, ["name"], "the deleted library does not fire");

    // With no library at all, nothing of the module is in the RDB file, so
    // it loads on a server without the module.
    let rdb = std::fs::read(rdb_path(server)).expect("dump.rdb");
    assert!(aux_payload_offset(&rdb).is_some());
    let _: String = query(&mut con, &["TRIGGER", "DELETE", "name_counter"]);
    let _: String = query(&mut con, &["SAVE"]);
    let rdb = std::fs::read(rdb_path(server)).expect("dump.rdb");
    assert!(aux_payload_offset(&rdb).is_none(), "no aux data without libraries");
    server.restart();
    let mut con = server.connect();
    assert!(names_and_digests(&mut con).is_empty());
});

/// Restarts the server and waits until its libraries run their optimized
/// code, whose cache files are then written.
fn restart_settled(server: &mut Server) -> Connection {
    server.restart();
    let mut con = server.connect();
    wait_for_optimized_code(&mut con);
    con
}

on_all_servers!(fn a_restart_uses_the_compiled_code_cache(server) {
    let mut con = server.connect();
    let loaded = load_two(&mut con);
    assert_eq!(info(&mut con, "code_cache_compiles"), 2);

    // One file per library, named by its digest, in a private directory.
    let files = cache_files(server);
    assert_eq!(files.len(), 2, "{files:?}");
    for (_, digest) in &loaded {
        let name = file_name(&cache_file(server, digest));
        assert!(name.len() == 64 + 1 + 16 + ".cwasm".len(), "{name}");
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(cache_dir(server)).expect("the cache directory").permissions().mode();
    assert_eq!(mode & 0o777, 0o700);

    let _: String = query(&mut con, &["SAVE"]);
    let mut con = restart_settled(server);
    assert_eq!(names_and_digests(&mut con), loaded);
    assert_eq!(info(&mut con, "code_cache_disk_hits"), 2);
    assert_eq!(info(&mut con, "code_cache_compiles"), 0);
    assert_both_fire(&mut con, "warm");

    // A damaged file is ignored: that library is compiled again, and its
    // file written anew.
    let damaged = cache_file(server, &loaded[0].1);
    std::fs::write(&damaged, b"garbage, not compiled code").expect("overwrite");
    let mut con = restart_settled(server);
    assert_eq!(names_and_digests(&mut con), loaded);
    assert_eq!(info(&mut con, "code_cache_disk_hits"), 1);
    assert_eq!(info(&mut con, "code_cache_compiles"), 1);
    assert_both_fire(&mut con, "after_damage");
    assert!(server.log().contains("not a cache file of this module; compiling instead"));
    let rewritten = std::fs::read(&damaged).expect("the file is written again");
    assert!(rewritten.starts_with(b"WTCWASM1"));

    // A sound file of another library under this library's name: refused
    // by the digest in its header.
    let other = cache_file(server, &loaded[1].1);
    std::fs::copy(&other, &damaged).expect("copy");
    let mut con = restart_settled(server);
    assert_eq!(names_and_digests(&mut con), loaded);
    assert_eq!(info(&mut con, "code_cache_disk_hits"), 1);
    assert_eq!(info(&mut con, "code_cache_compiles"), 1);
    assert!(server.log().contains("compiled from other bytes"));
    assert_both_fire(&mut con, "after_swap");
});

on_all_servers!(fn a_cache_that_cannot_be_written_is_only_slower(server) {
    // A file where the directory should be.
    std::fs::write(cache_dir(server), b"in the way").expect("a file");
    let mut con = server.connect();
    load(&mut con, "last_updated");
    wait_for_optimized_code(&mut con);
    let _: i64 = query(&mut con, &["HSET", "h", "f", "v"]);
    let stamped: Option<String> = query(&mut con, &["HGET", "h", "__last_updated__"]);
    assert!(stamped.is_some());
    assert!(server.log().contains("cannot write the compiled code of library"));
    // REPLACE with the same bytes and owner changes nothing.
    load_replace(&mut con, &wasm("last_updated"));
    assert_eq!(info(&mut con, "code_cache_compiles"), 1);
    assert_eq!(info(&mut con, "code_cache_memory_hits"), 0);
    // By another user, it loads again, from the compiled code in memory.
    let _: String = query(&mut con, &["ACL", "SETUSER", "bob", "on", ">bob-pw", "~*", "+@all"]);
    load_replace(&mut server.connect_as("bob", "bob-pw"), &wasm("last_updated"));
    assert_eq!(info(&mut con, "code_cache_compiles"), 1);
    assert_eq!(info(&mut con, "code_cache_memory_hits"), 1);
});

on_all_servers!(fn an_unknown_payload_version_refuses_the_rdb(server) {
    let mut con = server.connect();
    let loaded = load_two(&mut con);
    let _: String = query(&mut con, &["SAVE"]);
    let original = std::fs::read(rdb_path(server)).expect("dump.rdb");

    // The payload starts with its version: UINT opcode 2, then 3.
    edit_rdb(&rdb_path(server), |rdb| {
        let at = aux_payload_offset(rdb).expect("the module's aux data");
        assert_eq!(rdb[at..at + 2], [0x02, 0x03], "format version 3");
        rdb[at + 1] = 42;
    });
    // Loaded by a running server: an error, and the libraries stay.
    let error = redis::cmd("DEBUG")
        .arg("RELOAD")
        .arg("NOSAVE")
        .query::<Value>(&mut con)
        .expect_err("the RDB file is refused");
    assert!(error.to_string().contains("Error trying to load the RDB"), "{error}");
    assert_eq!(names_and_digests(&mut con), loaded);
    assert!(server.log().contains("unknown payload format version 42"));

    // Loaded at startup: the server does not start.
    let error = server.try_restart().expect_err("the RDB file is refused");
    assert!(
        error.contains("cannot load the trigger libraries from the RDB file: unknown payload \
                        format version 42"),
        "{error}"
    );

    // The original file loads.
    std::fs::write(rdb_path(server), original).expect("restore dump.rdb");
    server.restart();
    let mut con = server.connect();
    assert_eq!(names_and_digests(&mut con), loaded);
});

#[test]
fn a_damaged_library_in_the_rdb_refuses_the_rdb() {
    for flavor in Flavor::ALL {
        // Uncompressed, so that the component's bytes can be found.
        let mut server = Server::start_with(flavor, &["--rdbcompression", "no"]);
        let mut con = server.connect();
        load(&mut con, "last_updated");
        let _: String = query(&mut con, &["SAVE"]);
        server.kill();
        edit_rdb(&rdb_path(&server), |rdb| {
            let at = aux_payload_offset(rdb).expect("the module's aux data");
            let magic = rdb[at..]
                .windows(4)
                .position(|w| w == b"\0asm")
                .expect("the component in the payload");
            rdb[at + magic + 3] = b'X';
        });
        let error = server.try_restart().expect_err("the RDB file is refused");
        // The library that failed has no name yet: its position, its digest
        // and the reason are logged.
        assert!(
            error.contains("cannot load the trigger libraries from the RDB file: library 1 of 1"),
            "{flavor:?}: {error}"
        );
        assert!(
            error.contains("not a WebAssembly binary"),
            "{flavor:?}: {error}"
        );
        assert!(error.contains("(sha256 "), "{flavor:?}: {error}");
    }
}

on_all_servers!(fn a_replica_gets_the_libraries_with_its_full_sync(server) {
    let mut con = server.connect();
    let loaded = load_two(&mut con);
    let replica = Server::start(server.flavor);
    let mut replica_con = replica.connect();
    load(&mut replica_con, "recorder");
    replicaof(&replica, server);
    // The primary's set replaced the replica's own.
    assert_eq!(names_and_digests(&mut replica_con), loaded);
    assert_both_fire(&mut con, "replicated");
    eventually("the trigger's writes on the replica", || {
        let stamped: Option<String> =
            query(&mut replica_con, &["HGET", "replicated", "__last_updated__"]);
        stamped.is_some()
    });
});

on_all_servers!(fn a_truncated_payload_refuses_the_rdb(server) {
    let mut con = server.connect();
    let loaded = load_two(&mut con);
    let _: String = query(&mut con, &["SAVE"]);
    server.kill();
    let original = std::fs::read(rdb_path(server)).expect("dump.rdb");
    // Format version 3, the set's version (2: two loads), then the count:
    // 2 libraries. Say 3: the third read finds the end of the module's
    // data instead of a string.
    edit_rdb(&rdb_path(server), |rdb| {
        let at = aux_payload_offset(rdb).expect("the module's aux data");
        assert_eq!(
            rdb[at..at + 6],
            [0x02, 0x03, 0x02, 0x02, 0x02, 0x02],
            "format 3, set version 2, 2 libraries"
        );
        rdb[at + 5] = 3;
    });
    // A read error the module handles (no server panic): a clear refusal.
    let error = server.try_restart().expect_err("the RDB file is refused");
    assert!(
        error.contains(
            "the payload is truncated or damaged (reading the owner of library 3 of 3)"
        ),
        "{error}"
    );
    assert!(!error.contains("Guru Meditation"), "no serverPanic: {error}");

    std::fs::write(rdb_path(server), original).expect("restore dump.rdb");
    server.restart();
    let mut con = server.connect();
    assert_eq!(names_and_digests(&mut con), loaded);
});

// Version 1 of the payload (before libraries had owners) still loads: its
// libraries run as `default`.
on_all_servers!(fn a_version_1_payload_loads_with_the_default_owner(server) {
    let mut con = server.connect();
    let loaded = load_two(&mut con);
    let _: String = query(&mut con, &["SAVE"]);
    server.kill();
    // Format version 3 to 1: the set's version and each library's owner
    // string (STRING opcode 5, length 7, "default") taken out.
    edit_rdb(&rdb_path(server), |rdb| {
        let at = aux_payload_offset(rdb).expect("the module's aux data");
        assert_eq!(rdb[at..at + 4], [0x02, 0x03, 0x02, 0x02], "format 3, set version 2");
        rdb[at + 1] = 1;
        rdb.drain(at + 2..at + 4);
        let owner = b"\x05\x07default";
        for _ in 0..2 {
            let found = rdb[at..]
                .windows(owner.len())
                .position(|w| w == owner)
                .expect("an owner in the payload");
            rdb.drain(at + found..at + found + owner.len());
        }
    });
    server.restart();
    let mut con = server.connect();
    assert_eq!(names_and_digests(&mut con), loaded);
    for library in libraries(&mut con) {
        assert_eq!(text(&library["owner"]), "default");
    }
    assert_both_fire(&mut con, "after_v1");
});

// An RDB file without libraries, loaded in place of the data, takes the
// loaded libraries away with the keys, as a replica's full sync from a
// primary without libraries must.
on_all_servers!(fn an_rdb_without_libraries_clears_them(server) {
    let mut con = server.connect();
    let _: String = query(&mut con, &["SAVE"]);
    let empty = std::fs::read(rdb_path(server)).expect("dump.rdb");
    assert!(aux_payload_offset(&empty).is_none());
    load_two(&mut con);
    std::fs::write(rdb_path(server), &empty).expect("dump.rdb");
    let _: String = query(&mut con, &["DEBUG", "RELOAD", "NOSAVE"]);
    assert!(names_and_digests(&mut con).is_empty());
    assert!(server.log().contains("removed 2 trigger libraries that the loaded data does not hold"));
    let _: i64 = query(&mut con, &["HSET", "h", "name", "tom"]);
    let fields: Vec<String> = query(&mut con, &["HKEYS", "h"]);
    assert_eq!(fields, ["name"], "nothing fires");
});

// Without the RDB preamble, the AOF holds the libraries as the TRIGGER
// commands that loaded and deleted them, replayed at startup.
#[test]
fn aof_without_rdb_preamble_replays_load_and_delete() {
    for flavor in Flavor::ALL {
        let mut server = Server::start_with(
            flavor,
            &["--appendonly", "yes", "--aof-use-rdb-preamble", "no"],
        );
        let mut con = server.connect();
        wait_for_aof_rewrite(&mut con);
        let loaded = load_two(&mut con);
        load(&mut con, "recorder");
        let _: String = query(&mut con, &["TRIGGER", "DELETE", "recorder"]);
        let _: i64 = query(&mut con, &["HSET", "kept", "name", "tom"]);
        // Redis may delay an AOF write while a background fsync runs; the
        // restart below kills the server.
        eventually("the AOF write", || {
            aof_commands(&server).iter().any(|c| c[0] == "incr")
        });
        let commands = aof_commands(&server);
        let triggers: Vec<String> = commands
            .iter()
            .filter(|c| c[0] == "trigger")
            .map(|c| c[..2].join(" "))
            .collect();
        assert_eq!(
            triggers,
            [
                "trigger load",
                "trigger load",
                "trigger load",
                "trigger delete"
            ],
            "{flavor:?}"
        );
        assert!(
            !rdb_path(&server).exists(),
            "{flavor:?}: no dump.rdb to load instead"
        );

        server.restart();
        let mut con = server.connect();
        assert_eq!(names_and_digests(&mut con), loaded, "{flavor:?}");
        // The replay fired nothing: the trigger's own write came back from
        // the AOF, once.
        let count: i64 = query(&mut con, &["GET", "name_tom"]);
        assert_eq!(count, 1, "{flavor:?}");
        assert_eq!(
            stat(&mut con, "name_counter", "consumer", "num_triggered"),
            0
        );
        assert_both_fire(&mut con, "after_aof");

        // A rewrite without the preamble has no place for the libraries:
        // they head the new increment, as commands.
        let _: String = query(&mut con, &["BGREWRITEAOF"]);
        wait_for_aof_rewrite(&mut con);
        assert!(server.log().contains(
            "AOF rewrite without the RDB preamble: 2 trigger libraries written to the new AOF \
             increment"
        ));
        // One transaction at the head of the new increment.
        eventually("the AOF write", || {
            aof_commands(&server).iter().any(|c| c[0] == "exec")
        });
        let head: Vec<String> = aof_commands(&server)
            .iter()
            .take_while(|c| c[0] != "exec")
            .map(|c| c.join(" "))
            .collect();
        // The set's version: 2 loads, a load and a delete.
        let library = |name: &str| {
            format!(
                "trigger load replace owner default version 4 <{} bytes>",
                wasm(name).len()
            )
        };
        assert_eq!(
            head,
            [
                "multi".to_string(),
                "select 0".into(),
                library("last_updated"),
                library("name_counter")
            ],
            "{flavor:?}"
        );
        server.restart();
        let mut con = server.connect();
        assert_eq!(names_and_digests(&mut con), loaded, "{flavor:?}");
    }
}
