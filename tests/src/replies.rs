//! Reply decoding (maps, strings, integers, arrays) and the `TRIGGER LIST`
//! helpers built on it.

use std::collections::HashMap;

use crate::{Connection, Value};

/// Turns a RESP2 flat key/value array or a RESP3 map into a map.
pub fn as_map(value: &Value) -> HashMap<String, Value> {
    let pairs: Vec<(Value, Value)> = match value {
        Value::Map(entries) => entries.clone(),
        Value::Array(items) => items
            .chunks(2)
            .map(|pair| (pair[0].clone(), pair[1].clone()))
            .collect(),
        other => panic!("not a map: {other:?}"),
    };
    pairs.into_iter().map(|(k, v)| (text(&k), v)).collect()
}

/// The text of a string reply.
pub fn text(value: &Value) -> String {
    match value {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::VerbatimString { text, .. } => text.clone(),
        Value::Nil => String::new(),
        other => panic!("not a string: {other:?}"),
    }
}

/// The integer of an integer reply.
pub fn int(value: &Value) -> i64 {
    match value {
        Value::Int(i) => *i,
        other => panic!("not an integer: {other:?}"),
    }
}

pub fn array(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) | Value::Set(items) => items.clone(),
        other => panic!("not an array: {other:?}"),
    }
}

/// `TRIGGER LIST` as a list of library maps.
pub fn libraries(con: &mut Connection) -> Vec<HashMap<String, Value>> {
    let reply: Value = redis::cmd("TRIGGER")
        .arg("LIST")
        .query(con)
        .expect("TRIGGER LIST");
    array(&reply).iter().map(as_map).collect()
}

/// The names of the loaded libraries, sorted.
pub fn library_names(con: &mut Connection) -> Vec<String> {
    libraries(con).iter().map(|l| text(&l["name"])).collect()
}

/// The `TRIGGER LIST` entry of one trigger.
pub fn trigger_stats(con: &mut Connection, library: &str, trigger: &str) -> HashMap<String, Value> {
    let reply: Value = redis::cmd("TRIGGER")
        .arg("LIST")
        .arg("LIBRARY")
        .arg(library)
        .query(con)
        .expect("TRIGGER LIST LIBRARY");
    let libraries = array(&reply);
    assert_eq!(libraries.len(), 1, "library {library} is loaded");
    let library = as_map(&libraries[0]);
    array(&library["triggers"])
        .iter()
        .map(as_map)
        .find(|t| text(&t["name"]) == trigger)
        .unwrap_or_else(|| panic!("trigger {trigger} in {library:?}"))
}

/// A statistic of a trigger, as an integer.
pub fn stat(con: &mut Connection, library: &str, trigger: &str, field: &str) -> i64 {
    int(&trigger_stats(con, library, trigger)[field])
}
