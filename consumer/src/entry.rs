//! An outbox entry, as a consumer gets it.

use redis::Value;
use serde::ser::{Serialize, SerializeMap, Serializer};

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

    /// The entry as one JSON object: see [`Entry`]'s `Serialize`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Parses a stream entry (`[id, [field, value, …]]`) read from `stream`,
    /// taking its strings out of the reply.
    pub(crate) fn parse(node: &str, db: i64, stream: &str, value: Value) -> Option<Entry> {
        let Value::Array(parts) = value else {
            return None;
        };
        let mut parts = parts.into_iter();
        let id = into_bytes(parts.next()?)?;
        // A deleted entry still pending is returned with no fields.
        let Some(Value::Array(flat)) = parts.next() else {
            return None;
        };
        let mut entry = Entry {
            node: node.to_owned(),
            db,
            stream: stream.to_owned(),
            id: text(id),
            event: String::new(),
            key: Vec::new(),
            time: 0,
            source: String::new(),
            fields: Vec::new(),
        };
        let mut flat = flat.into_iter();
        while let (Some(name), Some(value)) = (flat.next(), flat.next()) {
            let (Some(name), Some(value)) = (into_bytes(name), into_bytes(value)) else {
                continue;
            };
            match name.as_slice() {
                b"db" => {}
                b"event" => entry.event = text(value),
                b"key" => entry.key = value,
                b"time" => entry.time = text(value).parse().unwrap_or(0),
                b"source" => entry.source = text(value),
                _ => entry.fields.push((text(name), value)),
            }
        }
        Some(entry)
    }
}

/// As one JSON object: `id` (its [`unique_id`](Entry::unique_id)), `node`,
/// `db`, `stream`, `entry` (the stream entry id), `event`, `time`,
/// `source`, then `key` when it is UTF-8 or else `key_hex`, and `fields`
/// when a trigger added some: each a string when it is UTF-8, else
/// `{"hex": …}`.
impl Serialize for Entry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry(
            "id",
            &format_args!("{}/{}/{}", self.db, self.stream, self.id),
        )?;
        map.serialize_entry("node", &self.node)?;
        map.serialize_entry("db", &self.db)?;
        map.serialize_entry("stream", &self.stream)?;
        map.serialize_entry("entry", &self.id)?;
        map.serialize_entry("event", &self.event)?;
        map.serialize_entry("time", &self.time)?;
        map.serialize_entry("source", &self.source)?;
        match std::str::from_utf8(&self.key) {
            Ok(key) => map.serialize_entry("key", key)?,
            Err(_) => map.serialize_entry("key_hex", &Hex(&self.key))?,
        }
        if !self.fields.is_empty() {
            map.serialize_entry("fields", &Fields(&self.fields))?;
        }
        map.end()
    }
}

/// An entry's own fields, as a JSON object.
struct Fields<'a>(&'a [(String, Vec<u8>)]);

impl Serialize for Fields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            match std::str::from_utf8(value) {
                Ok(text) => map.serialize_entry(name, text)?,
                Err(_) => map.serialize_entry(name, &HexObject(value))?,
            }
        }
        map.end()
    }
}

/// Bytes as `{"hex": "<hex>"}`.
struct HexObject<'a>(&'a [u8]);

impl Serialize for HexObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("hex", &Hex(self.0))?;
        map.end()
    }
}

/// Bytes as a string of hex digits.
struct Hex<'a>(&'a [u8]);

impl Serialize for Hex<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl std::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// Bytes as text, invalid UTF-8 replaced.
fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The bytes of a string reply, taken out of it.
fn into_bytes(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.into_bytes()),
        Value::Int(i) => Some(i.to_string().into_bytes()),
        _ => None,
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(key: &[u8], fields: Vec<(String, Vec<u8>)>) -> Entry {
        Entry {
            node: "127.0.0.1:7000".into(),
            db: 2,
            stream: "triggers:outbox:{a}".into(),
            id: "1700000000000-3".into(),
            event: "expired".into(),
            key: key.to_vec(),
            time: 1_700_000_000_000,
            source: "rule:orders".into(),
            fields,
        }
    }

    #[test]
    fn text_is_written_as_text() {
        let fields = vec![("order".to_owned(), b"42 \"quoted\"\n".to_vec())];
        let entry = entry(b"checkout:42", fields);
        let expected = json!({
            "id": "2/triggers:outbox:{a}/1700000000000-3",
            "node": "127.0.0.1:7000",
            "db": 2,
            "stream": "triggers:outbox:{a}",
            "entry": "1700000000000-3",
            "event": "expired",
            "time": 1_700_000_000_000_u64,
            "source": "rule:orders",
            "key": "checkout:42",
            "fields": { "order": "42 \"quoted\"\n" },
        });
        assert_eq!(entry.to_json(), expected);
        let line = serde_json::to_string(&entry).expect("JSON");
        assert!(!line.contains('\n'), "one line: {line}");
        let parsed: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
        assert_eq!(parsed, expected);
        assert_eq!(entry.unique_id(), expected["id"]);
    }

    #[test]
    fn other_bytes_are_written_in_hex() {
        let fields = vec![("blob".to_owned(), vec![0xff, 0x00, 0x10])];
        let json = entry(&[0x80, b'k'], fields).to_json();
        assert_eq!(json["key_hex"], "806b");
        assert!(json.get("key").is_none());
        assert_eq!(json["fields"], json!({ "blob": { "hex": "ff0010" } }));
    }

    #[test]
    fn no_fields_writes_no_fields_object() {
        let json = entry(b"k", Vec::new()).to_json();
        assert!(json.get("fields").is_none());
        assert_eq!(json.as_object().map(|o| o.len()), Some(9));
    }

    #[test]
    fn an_entry_is_taken_out_of_its_reply() {
        let bulk = |s: &[u8]| Value::BulkString(s.to_vec());
        let reply = Value::Array(vec![
            bulk(b"5-1"),
            Value::Array(
                [
                    &b"db"[..],
                    b"0",
                    b"event",
                    b"hset",
                    b"key",
                    b"h:\xff",
                    b"time",
                    b"5",
                    b"source",
                    b"rule:all",
                    b"extra",
                    b"x",
                ]
                .iter()
                .map(|s| bulk(s))
                .collect(),
            ),
        ]);
        let parsed = Entry::parse("n:1", 0, "s", reply).expect("an entry");
        assert_eq!(parsed.id, "5-1");
        assert_eq!(parsed.event, "hset");
        assert_eq!(parsed.key, b"h:\xff");
        assert_eq!(parsed.time, 5);
        assert_eq!(parsed.source, "rule:all");
        assert_eq!(parsed.fields, vec![("extra".to_owned(), b"x".to_vec())]);
        // A deleted entry, still pending, has no fields: it is skipped.
        let deleted = Value::Array(vec![bulk(b"5-2"), Value::Nil]);
        assert_eq!(Entry::parse("n:1", 0, "s", deleted), None);
    }
}
