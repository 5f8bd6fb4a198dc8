//! Hundreds of damaged copies of a real component: each one loads or is
//! refused with an error, the server stays up, and the libraries already
//! loaded keep working.

use wasm_triggers_tests::*;

/// A small deterministic generator (xorshift64*), so that a failure can be
/// reproduced from its mutant number.
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

on_all_servers!(fn damaged_components_load_or_are_refused(server) {
    let mut con = server.connect();
    load(&mut con, "name_counter");
    let original = wasm("last_updated");
    let (mut loaded, mut refused) = (0, 0);
    for seed in 0..300u64 {
        let bytes = mutant(&original, seed);
        let reply = redis::cmd("TRIGGER")
            .arg("LOAD")
            .arg("REPLACE")
            .arg(&bytes)
            .query::<String>(&mut con);
        match reply {
            Ok(name) => {
                loaded += 1;
                if name != "name_counter" {
                    let _: String = query(&mut con, &["TRIGGER", "DELETE", &name]);
                } else {
                    // A mutant that took name_counter's place: put it back.
                    load_replace(&mut con, &wasm("name_counter"));
                }
            }
            Err(error) => {
                refused += 1;
                assert!(!error.to_string().is_empty(), "mutant {seed}: an empty error");
            }
        }
        let pong: String = query(&mut con, &["PING"]);
        assert_eq!(pong, "PONG", "mutant {seed}");
    }
    eprintln!("{:?}: {loaded} mutants loaded, {refused} refused", server.flavor);
    assert!(refused > 0 && loaded + refused == 300, "{loaded} loaded, {refused} refused");
    // The library loaded before is still there and works.
    assert_eq!(library_names(&mut con), ["name_counter"]);
    let _: i64 = query(&mut con, &["HSET", "user:1", "name", "ada"]);
    let count: i64 = query(&mut con, &["GET", "name_ada"]);
    assert_eq!(count, 1);
    assert!(server.is_alive(), "{}", server.log());
});
