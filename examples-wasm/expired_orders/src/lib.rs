//! `expired_orders`: the checkout flow of the Go expiry-notification
//! service, done inside Redis, on a standalone server or a cluster.
//!
//! An order is a key `checkout:<id>` with a TTL. When it expires, an entry
//! with the order id (field `order`) and what the order held goes to the
//! outbox, atomically with the expiry: to the stream of the key's hash
//! slot, on the node that held the key. The trigger reads the expired value
//! (`with_removed_value`), which a keyspace notification alone cannot give:
//! a hash order's fields come as `order.<field>`, a string order as
//! `content`. A value too large to read (`triggers.max-removed-value-size`)
//! or of another type comes as `content_withheld` (the reason) and
//! `content_type`, so the consumer knows what it missed. Unlike a `PSUBSCRIBE __keyevent@0__:expired` listener, nothing
//! is lost when no client is connected, and nothing is missed on the other
//! primaries of a cluster: a consumer (`outbox-tail`, or the
//! `wasm-triggers-outbox` crate) reads every slot's stream on every node,
//! with a consumer group, and gets each order once it handles it.
//!
//! Only expiries fire it: a `DEL` of an order is a cancellation, not an
//! expiry.
//!
//! The prefix of order keys is `checkout:` unless the library is loaded
//! with another: `TRIGGER LOAD CONFIG '{"prefix": "basket:"}' <library>`
//! (the same build, no rebuild).
//!
//! Build and load it (from this folder), either as a wasip2 component:
//!
//! ```text
//! cargo build --release --target wasm32-wasip2
//! redis-cli -x TRIGGER LOAD < ../target/wasm32-wasip2/release/expired_orders.wasm
//! ```
//!
//! or with wasm-pack (see the README for its traps):
//!
//! ```text
//! wasm-pack build --no-opt -- --target wasm32-unknown-unknown
//! redis-cli -x TRIGGER LOAD < pkg/expired_orders_bg.wasm
//! ```

use std::sync::OnceLock;

use serde::Deserialize;
use wasm_triggers_sdk::{config, library, outbox, Event, Result, Trigger, Value, Withheld};

/// The library's configuration (`TRIGGER LOAD CONFIG <json>`).
#[derive(Deserialize)]
struct Settings {
    /// The prefix of order keys.
    #[serde(default = "default_prefix")]
    prefix: String,
}

fn default_prefix() -> String {
    "checkout:".into()
}

/// Read once, when the library is loaded: a bad configuration fails the
/// load with serde's message.
fn settings() -> &'static Settings {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    SETTINGS.get_or_init(|| config().unwrap_or_else(|e| panic!("{e}")))
}

library! {
    name: "expired_orders",
    triggers: [
        Trigger::new("order_expired")
            .description("Appends each expired checkout order to the outbox, with its id and content")
            .prefix(&settings().prefix)
            .events(["expired"])
            .with_removed_value()
            .run(record_expiry),
    ],
}

fn record_expiry(event: &Event) -> Result<()> {
    let id = &event.key()[settings().prefix.len()..];
    let mut fields: Vec<(String, &[u8])> = vec![("order".into(), id)];
    match event.removed().map(|r| (r, r.value())) {
        Some((_, Some(Value::Map(hash)))) => {
            for (field, value) in hash {
                let (Some(field), Some(value)) = (field.as_str(), value.as_bytes()) else {
                    continue;
                };
                fields.push((format!("order.{field}"), value));
            }
        }
        Some((_, Some(Value::Bytes(content)))) => fields.push(("content".into(), content)),
        Some((removed, _)) => {
            let why = match removed.withheld() {
                Some(Withheld::TooLarge) => "too large",
                Some(Withheld::ModuleType) => "a module's type",
                _ => "not a hash or a string",
            };
            fields.push(("content_withheld".into(), why.as_bytes()));
            fields.push(("content_type".into(), removed.type_name().as_bytes()));
        }
        None => {}
    }
    let fields: Vec<(&str, &[u8])> = fields.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    outbox::append(event, &fields)
}
