//! What the `removed_values` test library logs: one entry of the stream
//! `log:removed` per event its `copy` trigger sees.

use std::collections::HashMap;

use redis::Connection;

/// One entry of `log:removed`: its fields, as text (keys and heads in the
/// tests are UTF-8).
pub type RemovedEntry = HashMap<String, String>;

/// A stream entry as `XRANGE` gives it: its id and fields.
type StreamEntry = (String, Vec<(String, Vec<u8>)>);

/// The entries of `log:removed`, oldest first.
pub fn removed_log(con: &mut Connection) -> Vec<RemovedEntry> {
    let entries: Vec<StreamEntry> = redis::cmd("XRANGE")
        .arg("log:removed")
        .arg("-")
        .arg("+")
        .query(con)
        .expect("XRANGE log:removed");
    entries
        .into_iter()
        .map(|(_, fields)| {
            fields
                .into_iter()
                .map(|(f, v)| (f, String::from_utf8_lossy(&v).into_owned()))
                .collect()
        })
        .collect()
}

/// The entry of `event` for `key`, which must be the only one.
pub fn removed_entry(log: &[RemovedEntry], event: &str, key: &str) -> RemovedEntry {
    let found: Vec<&RemovedEntry> = log
        .iter()
        .filter(|e| e["event"] == event && e["key"] == key)
        .collect();
    assert_eq!(found.len(), 1, "one '{event}' of {key} in {log:#?}");
    found[0].clone()
}

/// `type/length/withheld` of an entry, or `none`.
pub fn summary(entry: &RemovedEntry) -> String {
    match entry.get("type") {
        Some(t) => format!("{t}/{}/{}", entry["length"], entry["withheld"]),
        None => "none".into(),
    }
}
