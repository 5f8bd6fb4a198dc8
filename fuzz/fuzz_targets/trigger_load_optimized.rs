//! As `trigger_load`, then, for a library that loads, what the background
//! compiler does next: Cranelift compiles the same bytes. The library it
//! describes with that code must be the same one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasm_triggers::fuzzing;

fuzz_target!(
    init: fuzzing::set_up().expect("the engines and the epoch ticker start"),
    |bytes: &[u8]| {
        let Ok(baseline) = fuzzing::check_library(bytes) else {
            return;
        };
        // A failure here is not a bug of itself (the library keeps its
        // baseline code, and the code may differ in stack use), but two
        // different answers are.
        if let Ok(optimized) = fuzzing::check_library_optimized(bytes) {
            assert_eq!(baseline, optimized, "baseline and optimized code disagree");
        }
    }
);
