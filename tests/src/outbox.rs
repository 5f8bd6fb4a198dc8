//! Reading the outbox back: the streams `OUTBOX STREAMS` lists, their
//! entries, and hash slots computed here (independently of the module) to
//! check that each entry is in its key's slot.

use std::collections::HashMap;

use redis::{Connection, Value};

use crate::{as_map, int, query, text};

/// An entry of an outbox stream.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    pub db: i64,
    pub slot: u16,
    pub stream: String,
    pub id: String,
    pub fields: HashMap<String, String>,
}

impl OutboxEntry {
    pub fn field(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }
}

/// The streams `OUTBOX STREAMS` lists: `(db, slot, stream, length)`.
pub fn outbox_streams(con: &mut Connection) -> Vec<(i64, u16, String, i64)> {
    let streams: Vec<Value> = query(con, &["OUTBOX", "STREAMS"]);
    streams
        .iter()
        .map(|s| {
            let s = as_map(s);
            (
                int(&s["db"]),
                int(&s["slot"]) as u16,
                text(&s["stream"]),
                int(&s["length"]),
            )
        })
        .collect()
}

/// Every entry of every outbox stream on the server of `con`, stream by
/// stream, each in its order. Leaves database 0 selected.
pub fn outbox_entries(con: &mut Connection) -> Vec<OutboxEntry> {
    let mut entries = Vec::new();
    for (db, slot, stream, _) in outbox_streams(con) {
        let _: String = query(con, &["SELECT", &db.to_string()]);
        let range: Vec<Value> = query(con, &["XRANGE", &stream, "-", "+"]);
        for entry in range {
            let Value::Array(parts) = entry else { continue };
            let (Some(id), Some(Value::Array(flat))) = (parts.first(), parts.get(1)) else {
                continue;
            };
            let fields = flat
                .chunks(2)
                .map(|pair| (text(&pair[0]), text(&pair[1])))
                .collect();
            entries.push(OutboxEntry {
                db,
                slot,
                stream: stream.clone(),
                id: text(id),
                fields,
            });
        }
    }
    let _: String = query(con, &["SELECT", "0"]);
    entries
}

/// The entries of one key, as `(event, source)`, in order.
pub fn outbox_events_of(entries: &[OutboxEntry], key: &str) -> Vec<(String, String)> {
    entries
        .iter()
        .filter(|e| e.field("key") == key)
        .map(|e| (e.field("event").to_string(), e.field("source").to_string()))
        .collect()
}

/// The hash slot of `key`, as Redis Cluster computes it (CRC16-XMODEM of
/// the hash tag, or of the whole key).
pub fn key_slot(key: &[u8]) -> u16 {
    let hashed = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            let close = rest.iter().position(|&b| b == b'}')?;
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(key);
    let mut crc: u16 = 0;
    for &byte in hashed {
        crc ^= (byte as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % 16384
}
