//! Reading Redis' replies: maps in RESP2 or RESP3, `XREADGROUP`'s and
//! `XINFO GROUPS`' shapes.

use redis::Value;

use crate::entry::bytes;

/// A map reply, RESP2 (a flat array) or RESP3, as name and value pairs.
pub(super) fn pairs(value: &Value) -> Vec<(Vec<u8>, &Value)> {
    match value {
        Value::Array(flat) => flat
            .chunks(2)
            .filter_map(|pair| Some((bytes(&pair[0])?, pair.get(1)?)))
            .collect(),
        Value::Map(map) => map
            .iter()
            .filter_map(|(k, v)| Some((bytes(k)?, v)))
            .collect(),
        _ => Vec::new(),
    }
}

pub(super) fn field<'a>(fields: &[(Vec<u8>, &'a Value)], name: &[u8]) -> Option<&'a Value> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
}

/// Whether an `XINFO GROUPS` reply lists `group`.
pub(super) fn has_group(groups: &Value, group: &str) -> bool {
    match groups {
        Value::Array(groups) => groups.iter().any(|g| is_named(&pairs(g), group)),
        _ => false,
    }
}

/// Whether an `XINFO GROUPS` entry is `group`'s.
pub(super) fn is_named(fields: &[(Vec<u8>, &Value)], group: &str) -> bool {
    field(fields, b"name").and_then(bytes).as_deref() == Some(group.as_bytes())
}

/// The entries of an `XREADGROUP` reply for one stream, taken out of it
/// (none for nil).
pub(super) fn read_entries(reply: Value) -> Vec<Value> {
    let entries = match reply {
        // RESP2: `[[stream, entries]]`.
        Value::Array(streams) => streams.into_iter().next().and_then(|pair| match pair {
            Value::Array(pair) => pair.into_iter().nth(1),
            _ => None,
        }),
        // RESP3: `{stream: entries}`.
        Value::Map(map) => map.into_iter().next().map(|(_, entries)| entries),
        _ => None,
    };
    match entries {
        Some(Value::Array(entries)) => entries,
        _ => Vec::new(),
    }
}

/// The entries of an `XAUTOCLAIM` reply (`[cursor, entries, deleted ids]`),
/// taken out of it.
pub(super) fn claimed_entries(reply: Value) -> Vec<Value> {
    match reply {
        Value::Array(parts) => match parts.into_iter().nth(1) {
            Some(Value::Array(entries)) => entries,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The items, each once, in the order they first come.
pub(super) fn dedup<T: PartialEq>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}
