//! Hundreds of damaged copies of a real component: each one loads, with
//! the triggers it describes, or is refused with an error and changes
//! nothing, as TRIGGER LOAD's checks without a server say; the server stays
//! up, and the library loaded before keeps working.

use wasm_triggers::fuzzing::check_library;
use wasm_triggers_tests::*;

/// A small deterministic generator (xorshift64*): mutant `n` of the same
/// build of the library is always the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Mutant `seed` of `original`: flipped bytes, a truncation, inserted or
/// removed bytes, or a range copied over another.
fn mutant(original: &[u8], seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut bytes = original.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = bytes.len();
        match rng.below(5) {
            0 => {
                let at = rng.below(len);
                bytes[at] ^= 1 << rng.below(8);
            }
            1 => {
                let at = rng.below(len);
                bytes[at] = rng.next() as u8;
            }
            2 => bytes.truncate(rng.below(len)),
            3 => {
                let at = rng.below(len);
                let count = 1 + rng.below(16);
                let junk: Vec<u8> = (0..count).map(|_| rng.next() as u8).collect();
                bytes.splice(at..at, junk);
            }
            _ => {
                let from = rng.below(len);
                let to = rng.below(len);
                let count = rng.below(64).min(len - from).min(len - to);
                let chunk = bytes[from..from + count].to_vec();
                bytes[to..to + count].copy_from_slice(&chunk);
            }
        }
        if bytes.is_empty() {
            break;
        }
    }
    bytes
}

/// Saves the mutant under test to `target/mutants/` if the test fails with
/// it, so that the failure can be replayed with `TRIGGER LOAD`: the bytes
/// of a build, and so its mutants, differ from one checkout to another
/// (the paths compiled into it).
struct SavedOnFailure<'a> {
    seed: u64,
    bytes: &'a [u8],
}

impl Drop for SavedOnFailure<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let dir = repo_root().join("target/mutants");
        let path = dir.join(format!("mutant-{}.wasm", self.seed));
        match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, self.bytes)) {
            Ok(()) => eprintln!("mutant {} saved to {}", self.seed, path.display()),
            Err(e) => eprintln!("mutant {} not saved to {}: {e}", self.seed, path.display()),
        }
    }
}

/// What `TRIGGER LIST` says of a loaded library, in the form of
/// `check_library`'s summary; asserts that the code it lists is `code`.
fn listed_summary(con: &mut Connection, name: &str, code: &[u8]) -> String {
    let reply: Value = query(
        con,
        &["TRIGGER", "LIST", "LIBRARY", name, "VERBOSE", "WITHCODE"],
    );
    let libraries = array(&reply);
    assert_eq!(libraries.len(), 1, "{name} is listed");
    let library = as_map(&libraries[0]);
    assert!(
        library["code"] == Value::BulkString(code.to_vec()),
        "{name}: the code listed is the code loaded"
    );
    let triggers: Vec<String> = array(&library["triggers"])
        .iter()
        .map(|t| {
            let t = as_map(t);
            let events: Vec<String> = array(&t["events"]).iter().map(text).collect();
            format!(
                "{} prefix={:?} events={:?} on_fired={}",
                text(&t["name"]),
                text(&t["prefix"]),
                events,
                int(&t["on_fired"]) == 1
            )
        })
        .collect();
    format!("{name}: {}", triggers.join("; "))
}

/// Every trigger of `library` finished each execution it started, with a
/// success or a failure.
fn assert_finished_cleanly(con: &mut Connection, library: &str, seed: u64) {
    let reply: Value = query(con, &["TRIGGER", "LIST", "LIBRARY", library]);
    for trigger in array(&as_map(&array(&reply)[0])["triggers"]) {
        let t = as_map(&trigger);
        let (triggered, finished) = (int(&t["num_triggered"]), int(&t["num_finished"]));
        assert_eq!(triggered, finished, "mutant {seed}: {t:?}");
        assert_eq!(
            int(&t["num_success"]) + int(&t["num_failed"]),
            finished,
            "mutant {seed}: {t:?}"
        );
    }
}

// Each mutant gets the verdict that TRIGGER LOAD's checks give it without a
// server (`check_library`): loaded with the triggers it describes, or
// refused with the same error, leaving TRIGGER LIST as it was.
on_all_servers!(fn damaged_components_load_or_are_refused(server) {
    let mut con = server.connect();
    load(&mut con, "name_counter");
    let original = wasm("last_updated");
    let (mut loaded, mut refused) = (0, 0);
    for seed in 0..300u64 {
        let bytes = mutant(&original, seed);
        let _saved = SavedOnFailure { seed, bytes: &bytes };
        let expected = check_library(&bytes);
        let before: Value = query(&mut con, &["TRIGGER", "LIST", "WITHCODE"]);
        let reply = redis::cmd("TRIGGER")
            .arg("LOAD")
            .arg("REPLACE")
            .arg(&bytes)
            .query::<String>(&mut con);
        match reply {
            Ok(name) => {
                loaded += 1;
                let summary = expected.unwrap_or_else(|e| {
                    panic!("mutant {seed}: loaded as {name}, but refused without a server: {e}")
                });
                assert_eq!(listed_summary(&mut con, &name, &bytes), summary, "mutant {seed}");
                let mut names = vec![name.clone(), "name_counter".to_string()];
                names.sort();
                names.dedup();
                assert_eq!(library_names(&mut con), names, "mutant {seed}");
                // It fires or fails cleanly, and name_counter keeps counting.
                let value = format!("p{seed}");
                let _: i64 = query(&mut con, &["HSET", &format!("probe:{seed}"), "name", &value]);
                assert_finished_cleanly(&mut con, &name, seed);
                if name != "name_counter" {
                    let count: i64 = query(&mut con, &["GET", &format!("name_{value}")]);
                    assert_eq!(count, 1, "mutant {seed}: name_counter counted");
                    let _: String = query(&mut con, &["TRIGGER", "DELETE", &name]);
                } else {
                    // A mutant that took name_counter's place: put it back.
                    load_replace(&mut con, &wasm("name_counter"));
                }
                assert_eq!(library_names(&mut con), ["name_counter"], "mutant {seed}");
            }
            Err(error) => {
                refused += 1;
                let error = error.to_string();
                let expected = expected.expect_err(&format!(
                    "mutant {seed}: refused with {error:?}, but loads without a server"
                ));
                assert!(!expected.is_empty(), "mutant {seed}: an empty error");
                // An error reply has spaces for line breaks and NUL bytes,
                // and the rest of the text, UTF-8 included, as it was.
                let expected = expected.replace(['\r', '\n', '\0'], " ");
                assert!(error.contains(&expected), "mutant {seed}: {error:?} should say {expected:?}");
                let after: Value = query(&mut con, &["TRIGGER", "LIST", "WITHCODE"]);
                assert_eq!(after, before, "mutant {seed}: a refused load changed TRIGGER LIST");
            }
        }
        let pong: String = query(&mut con, &["PING"]);
        assert_eq!(pong, "PONG", "mutant {seed}");
    }
    eprintln!("{:?}: {loaded} mutants loaded, {refused} refused", server.flavor);
    // Both paths were taken: the mutations are neither all fatal nor all
    // harmless.
    assert!(loaded > 0 && refused > 0, "{loaded} loaded, {refused} refused");
    // The library loaded before is still there and works.
    assert_eq!(library_names(&mut con), ["name_counter"]);
    let _: i64 = query(&mut con, &["HSET", "user:1", "name", "ada"]);
    let count: i64 = query(&mut con, &["GET", "name_ada"]);
    assert_eq!(count, 1);
    assert!(server.is_alive(), "{}", server.log());
});
