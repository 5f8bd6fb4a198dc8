//! From an outbox entry to an AMQP message: the body in the configured
//! format, the routing key, and the properties and headers every message
//! carries (`message_id` is the entry's id in the cluster, for consumers to
//! deduplicate).

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::BasicProperties;
use serde_json::{json, Map, Value};

use super::settings::{Format, Settings};

/// An outbox entry as read from its stream.
pub struct OutboxEntry {
    pub stream: Vec<u8>,
    pub id: String,
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
}

/// The fields every entry has, before a trigger's own.
const ENTRY_FIELDS: [&str; 5] = ["db", "event", "key", "time", "source"];

impl OutboxEntry {
    pub fn field(&self, name: &str) -> &[u8] {
        self.fields
            .iter()
            .find(|(n, _)| n == name.as_bytes())
            .map_or(&[][..], |(_, v)| v)
    }

    fn text(&self, name: &str) -> String {
        String::from_utf8_lossy(self.field(name)).into_owned()
    }

    /// Unique in the cluster: the stream and the entry's id.
    pub fn message_id(&self) -> String {
        format!("{}/{}", String::from_utf8_lossy(&self.stream), self.id)
    }
}

/// A message ready to publish.
pub struct Message {
    pub routing_key: String,
    pub body: Vec<u8>,
    pub properties: BasicProperties,
}

pub fn message(entry: &OutboxEntry, settings: &Settings) -> Message {
    let (db, event, source) = (entry.text("db"), entry.text("event"), entry.text("source"));
    let routing_key = settings
        .routing_key
        .replace("{event}", &event)
        .replace("{source}", &source)
        .replace("{db}", &db);
    let (body, content_type) = match settings.format {
        Format::key_evt_amqp => {
            let mut body = format!("{db}\n{event}\n").into_bytes();
            body.extend_from_slice(entry.field("key"));
            (body, "text/plain")
        }
        Format::json => (
            json_body(entry).to_string().into_bytes(),
            "application/json",
        ),
    };
    let mut headers = FieldTable::default();
    let mut header = |name: &str, value: &[u8]| {
        headers.insert(
            ShortString::from(name),
            AMQPValue::LongString(LongString::from(value.to_vec())),
        );
    };
    header("event", event.as_bytes());
    header("db", db.as_bytes());
    header("key", entry.field("key"));
    header("source", source.as_bytes());
    header("message_id", entry.message_id().as_bytes());
    let properties = BasicProperties::default()
        .with_message_id(ShortString::from(entry.message_id()))
        .with_delivery_mode(settings.delivery_mode)
        .with_content_type(ShortString::from(content_type))
        .with_timestamp(entry.text("time").parse::<u64>().unwrap_or(0) / 1000)
        .with_headers(headers);
    Message {
        routing_key,
        body,
        properties,
    }
}

/// The entry as JSON: its id, the five fields every entry has (`db` and
/// `time` as numbers), and a trigger's own under `fields`. Text that is
/// not UTF-8 shows U+FFFD; the `key` header and the key_evt_amqp format
/// carry keys byte for byte.
fn json_body(entry: &OutboxEntry) -> Value {
    let own: Map<String, Value> = entry
        .fields
        .iter()
        .filter(|(name, _)| !ENTRY_FIELDS.iter().any(|f| f.as_bytes() == name))
        .map(|(name, value)| {
            (
                String::from_utf8_lossy(name).into_owned(),
                Value::String(String::from_utf8_lossy(value).into_owned()),
            )
        })
        .collect();
    json!({
        "id": entry.message_id(),
        "db": entry.text("db").parse::<i64>().unwrap_or(0),
        "event": entry.text("event"),
        "key": entry.text("key"),
        "time": entry.text("time").parse::<u64>().unwrap_or(0),
        "source": entry.text("source"),
        "fields": own,
    })
}
