//! `TRIGGER LOAD <bytes>` up to the point where it involves Redis: the
//! header check, the baseline compiler, instantiation, `describe` under the
//! time limit, and the validation of what it declares. Any input must end
//! in a library or an error, never in a panic, a crash or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasm_triggers::fuzzing;

fuzz_target!(
    init: fuzzing::set_up().expect("the engines and the epoch ticker start"),
    |bytes: &[u8]| {
        let _ = fuzzing::check_library(bytes);
    }
);
