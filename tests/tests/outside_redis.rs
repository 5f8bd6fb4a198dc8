//! `TRIGGER LOAD`'s checks without a server, through the entry points of
//! the fuzz targets (`fuzz/`): compile, instantiate, `describe` under the
//! time limit, validate. Nothing on that path may need Redis.

use wasm_triggers::fuzzing::{check_library, check_library_optimized};
use wasm_triggers_tests::wasm;

#[test]
fn the_examples_check_with_both_compilers() {
    for name in ["last_updated", "name_counter", "expired_orders"] {
        let code = wasm(name);
        let summary = check_library(&code).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(summary.starts_with(&format!("{name}: ")), "{summary}");
        assert_eq!(check_library_optimized(&code), Ok(summary));
    }
}

#[test]
fn call_in_describe_is_refused_without_redis() {
    let summary = check_library(&wasm("describe_calls"));
    assert!(
        summary
            .as_deref()
            .is_ok_and(|s| s.starts_with("describe_calls: refused ")),
        "{summary:?}"
    );
}

#[test]
fn load_errors_without_redis() {
    let cases: [(&[u8], &str); 7] = [
        (b"", "empty library"),
        (b"\0asm\x01\0\0\0", "core Wasm module, not a component"),
        (&wasm("wrong_world"), "redis:triggers/trigger-library"),
        (&wasm("no_run"), "describe panicked"),
        (
            &wasm("describe_loops"),
            "describe exceeded the execution time limit of 500 ms",
        ),
        (&wasm("bad_name"), "invalid trigger name \"bad-name!\""),
        (&wasm("duplicate"), "duplicate trigger name 'same'"),
    ];
    for (code, expected) in cases {
        let error = check_library(code).expect_err(expected);
        assert!(
            error.contains(expected),
            "{error:?} should say {expected:?}"
        );
    }
}
