//! The keyspace event that fired a trigger, and what it removed.

use std::borrow::Cow;
use std::cell::OnceCell;

use crate::__bindings::redis::triggers::{host, types};
use crate::event_names::known_name;
use crate::small_bytes::SmallBytes;
use crate::{Removed, Value};

/// The keyspace event that fired a trigger.
///
/// ```
/// use wasm_triggers_sdk::Event;
///
/// let event = Event::new("hset", "user:1", 0);
/// assert_eq!((event.name(), event.key(), event.db()), ("hset", &b"user:1"[..], 0));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// A known event's name is a `&'static str` from the table of names,
    /// so that an event from the host costs no allocation for it.
    name: Cow<'static, str>,
    /// In place when the host sent it so (up to 40 bytes): no allocation.
    key: SmallBytes,
    db: i32,
    /// What the event removed: asked of the host the first time.
    removed: OnceCell<Option<Removed>>,
}

impl Event {
    /// An event, as Redis would send it. Useful to unit-test a trigger's logic.
    ///
    /// ```
    /// use wasm_triggers_sdk::Event;
    ///
    /// // A unit test of a trigger's logic that reads only the event.
    /// fn is_order(event: &Event) -> bool {
    ///     event.key().starts_with(b"order:")
    /// }
    /// assert!(is_order(&Event::new("expired", "order:42", 0)));
    /// ```
    pub fn new(name: impl Into<String>, key: impl Into<Vec<u8>>, db: i32) -> Self {
        Event {
            name: Cow::Owned(name.into()),
            key: SmallBytes::from(key.into()),
            db,
            removed: OnceCell::from(None),
        }
    }

    /// The same event, as if it had removed `removed`. Useful to unit-test
    /// a trigger that reads removed values.
    ///
    /// ```
    /// use wasm_triggers_sdk::{Event, Removed, Value};
    ///
    /// let order = Value::Map(vec![(Value::Bytes(b"total".to_vec()), Value::Bytes(b"42".to_vec()))]);
    /// let event = Event::new("expired", "order:7", 0).with_removed(Removed::new("hash", 1, Ok(order)));
    /// let total = event.removed_value().and_then(|v| v.get("total")).and_then(Value::as_int);
    /// assert_eq!(total, Some(42));
    /// ```
    pub fn with_removed(self, removed: Removed) -> Self {
        Event {
            removed: OnceCell::from(Some(removed)),
            ..self
        }
    }

    /// The event's name, for example `hset`, `del` or `expired`.
    ///
    /// ```
    /// use wasm_triggers_sdk::Event;
    ///
    /// assert_eq!(Event::new("expired", "order:42", 0).name(), "expired");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key, as bytes: keys need not be UTF-8.
    ///
    /// ```
    /// use wasm_triggers_sdk::Event;
    ///
    /// assert_eq!(Event::new("set", b"\xffbin".to_vec(), 0).key(), b"\xffbin");
    /// ```
    pub fn key(&self) -> &[u8] {
        self.key.as_slice()
    }

    /// The key as text, or `None` if it is not UTF-8.
    ///
    /// ```
    /// use wasm_triggers_sdk::Event;
    ///
    /// assert_eq!(Event::new("set", "user:1", 0).key_str(), Some("user:1"));
    /// assert_eq!(Event::new("set", b"\xff".to_vec(), 0).key_str(), None);
    /// ```
    pub fn key_str(&self) -> Option<&str> {
        std::str::from_utf8(self.key()).ok()
    }

    /// The logical database of the key.
    ///
    /// ```
    /// use wasm_triggers_sdk::Event;
    ///
    /// assert_eq!(Event::new("set", "k", 3).db(), 3);
    /// ```
    pub fn db(&self) -> i32 {
        self.db
    }

    /// What the event took out of its key, for a trigger declared
    /// [`with_removed_value`](crate::Trigger::with_removed_value): the value
    /// a `del`, `expired` or `evicted` removed, or that a `set`,
    /// `rename_to`, `restore`, `copy_to` or `…store` command overwrote,
    /// with its type and length. `None` when the event removed no value (an
    /// `hset`, a `set` of a new key, a key deleted because its last element
    /// was removed) or the trigger did not ask. `FLUSHALL` and `FLUSHDB`
    /// raise no event per key.
    ///
    /// ```
    /// use wasm_triggers_sdk::{Event, Removed, Value, Withheld};
    ///
    /// let event = Event::new("del", "big", 0).with_removed(Removed::new("list", 10_000_000, Err(Withheld::TooLarge)));
    /// let removed = event.removed().unwrap();
    /// assert_eq!((removed.type_name(), removed.len(), removed.withheld()), ("list", 10_000_000, Some(Withheld::TooLarge)));
    /// assert!(Event::new("hset", "user:1", 0).removed().is_none());
    /// ```
    pub fn removed(&self) -> Option<&Removed> {
        self.removed.get_or_init(removed_from_host).as_ref()
    }

    /// The value the event removed, when it was read: [`Event::removed`]'s
    /// value, shaped as the type's reply to a client (see [`Removed`]).
    ///
    /// ```
    /// use wasm_triggers_sdk::{Event, Removed, Value};
    ///
    /// let hello = Value::Bytes(b"hello".to_vec());
    /// let event = Event::new("del", "greeting", 0).with_removed(Removed::new("string", 5, Ok(hello)));
    /// assert_eq!(event.removed_value().and_then(Value::as_str), Some("hello"));
    /// ```
    pub fn removed_value(&self) -> Option<&Value> {
        self.removed()?.value()
    }
}

/// Asks the host what the event being handled removed.
fn removed_from_host() -> Option<Removed> {
    host::removed_value().map(Removed::from)
}

impl Event {
    /// The event the host sent, without an allocation for a known name and
    /// a key sent in place. A malformed key is an error, not a panic.
    pub(crate) fn from_wit(event: types::Event) -> Result<Self, String> {
        let name = match event.name {
            types::EventName::Known(known) => Cow::Borrowed(known_name(known)),
            types::EventName::Other(name) => Cow::Owned(name),
        };
        Ok(Event {
            name,
            key: SmallBytes::from_wit(event.key)?,
            db: event.db,
            removed: OnceCell::new(),
        })
    }
}
