//! A library built against a version of the contract the host does not
//! know (`redis:triggers@0.3.0`): refused at load, with a message to rebuild.

wit_bindgen::generate!({ path: "wit", world: "trigger-library" });

struct Future;

impl exports::redis::triggers::library::Guest for Future {
    fn describe() -> String {
        "from the future".into()
    }
}

export!(Future);
