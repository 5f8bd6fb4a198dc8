//! An outbox entry, as a consumer gets it.

use redis::Value;
use serde_json::json;

/// An event read from the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The node it was read from (`host:port`).
    pub node: String,
    /// The database of the key, and of the stream.
    pub db: i64,
    /// The outbox stream, `triggers:outbox:{<tag>}`.
    pub stream: String,
    /// The stream entry id, `<ms>-<seq>`.
    pub id: String,
    /// The keyspace event: `set`, `del`, `expired`, …
    pub event: String,
    /// The key, binary-safe.
    pub key: Vec<u8>,
    /// The server's time of the event, in milliseconds since the Unix epoch.
    pub time: u64,
    /// What sent it: `rule:<name>[,<name>…]`.
    pub source: String,
    /// Other fields, as a trigger added them.
    pub fields: Vec<(String, Vec<u8>)>,
}

impl Entry {
    /// An id unique in the cluster, for deduplicating: the database, the
    /// stream and the entry id. An entry delivered twice (after a consumer
    /// restarted, or a failover) has the same one.
    pub fn unique_id(&self) -> String {
        format!("{}/{}/{}", self.db, self.stream, self.id)
    }

    /// The entry as one JSON object. The key and the fields' values are
    /// strings when they are UTF-8; otherwise `key_hex` and hex values.
    pub fn to_json(&self) -> serde_json::Value {
        let mut object = json!({
            "id": self.unique_id(),
            "node": self.node,
            "db": self.db,
            "stream": self.stream,
            "entry": self.id,
            "event": self.event,
            "time": self.time,
            "source": self.source,
        });
        match std::str::from_utf8(&self.key) {
            Ok(key) => object["key"] = json!(key),
            Err(_) => object["key_hex"] = json!(hex(&self.key)),
        }
        if !self.fields.is_empty() {
            let fields: serde_json::Map<String, serde_json::Value> = self
                .fields
                .iter()
                .map(|(name, value)| {
                    let value = match std::str::from_utf8(value) {
                        Ok(text) => json!(text),
                        Err(_) => json!({ "hex": hex(value) }),
                    };
                    (name.clone(), value)
                })
                .collect();
            object["fields"] = serde_json::Value::Object(fields);
        }
        object
    }

    /// Parses a stream entry (`[id, [field, value, …]]`) read from `stream`.
    pub(crate) fn parse(node: &str, db: i64, stream: &str, value: &Value) -> Option<Entry> {
        let Value::Array(parts) = value else {
            return None;
        };
        let id = bytes(parts.first()?)?;
        // A deleted entry still pending is returned with no fields.
        let Some(Value::Array(flat)) = parts.get(1) else {
            return None;
        };
        let mut entry = Entry {
            node: node.to_owned(),
            db,
            stream: stream.to_owned(),
            id: String::from_utf8_lossy(&id).into_owned(),
            event: String::new(),
            key: Vec::new(),
            time: 0,
            source: String::new(),
            fields: Vec::new(),
        };
        for pair in flat.chunks(2) {
            let [name, value] = pair else { continue };
            let (Some(name), Some(value)) = (bytes(name), bytes(value)) else {
                continue;
            };
            let text = || String::from_utf8_lossy(&value).into_owned();
            match name.as_slice() {
                b"db" => {}
                b"event" => entry.event = text(),
                b"key" => entry.key = value,
                b"time" => entry.time = text().parse().unwrap_or(0),
                b"source" => entry.source = text(),
                _ => entry
                    .fields
                    .push((String::from_utf8_lossy(&name).into_owned(), value)),
            }
        }
        Some(entry)
    }
}

/// The bytes of a string reply.
pub(crate) fn bytes(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(b) => Some(b.clone()),
        Value::SimpleString(s) => Some(s.as_bytes().to_vec()),
        Value::Int(i) => Some(i.to_string().into_bytes()),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
