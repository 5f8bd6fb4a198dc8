//! What an event took out of its key ([`Removed`]), for the triggers that
//! ask with [`Trigger::with_removed_value`](crate::Trigger::with_removed_value).

use crate::__bindings::redis::triggers::types;
use crate::Value;

/// The value an event removed, with its type and length, read by the server
/// before it freed it.
///
/// The value has the shape of the type's reply to a client (RESP3):
///
/// | type | [`Value`] |
/// |---|---|
/// | `string` | [`Value::Bytes`] |
/// | `hash` | [`Value::Map`] of fields to values |
/// | `list` | [`Value::Array`], head first |
/// | `set` | [`Value::Set`] |
/// | `zset` | [`Value::Array`] of `[member, score]` pairs, in score order (as `ZRANGE … WITHSCORES`) |
/// | `stream` | [`Value::Array`] of `[id, [field, value, …]]` entries (as `XRANGE`) |
///
/// A value over `triggers.max-removed-value-size` or of another module's
/// type is [withheld](Removed::withheld): the type and length are still
/// there.
///
/// ```
/// use std::collections::HashMap;
/// use wasm_triggers_sdk::{Removed, Value};
///
/// let hash = Value::Map(vec![(Value::Bytes(b"name".to_vec()), Value::Bytes(b"tom".to_vec()))]);
/// let removed = Removed::new("hash", 1, Ok(hash));
/// let fields: HashMap<String, String> = removed.value().cloned().unwrap().into_typed()?;
/// assert_eq!(fields["name"], "tom");
/// # Ok::<(), wasm_triggers_sdk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Removed {
    type_name: String,
    length: u64,
    value: Result<Value, Withheld>,
}

/// Why a removed value was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Withheld {
    /// Its RESP3 encoding is larger than `triggers.max-removed-value-size`,
    /// or the removed values the command's triggers already hold reached
    /// `triggers.max-payload-size`.
    TooLarge,
    /// It is of a type another module defines (`type_name` is `module`).
    ModuleType,
}

impl Removed {
    /// A removed value, as the server would give it. Useful to unit-test a
    /// trigger (with [`Event::with_removed`](crate::Event::with_removed)).
    ///
    /// ```
    /// use wasm_triggers_sdk::{Removed, Value, Withheld};
    ///
    /// let read = Removed::new("string", 2, Ok(Value::Bytes(b"hi".to_vec())));
    /// let withheld = Removed::new("hash", 50_000, Err(Withheld::TooLarge));
    /// assert!(read.value().is_some() && withheld.value().is_none());
    /// ```
    pub fn new(type_name: impl Into<String>, length: u64, value: Result<Value, Withheld>) -> Self {
        Removed {
            type_name: type_name.into(),
            length,
            value,
        }
    }

    /// The value's type, as `TYPE` names it: `string`, `list`, `set`,
    /// `zset`, `hash` or `stream`; `module` for another module's type.
    ///
    /// ```
    /// use wasm_triggers_sdk::{Removed, Value};
    ///
    /// assert_eq!(Removed::new("set", 0, Ok(Value::Set(vec![]))).type_name(), "set");
    /// ```
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// Its length: bytes of a string, elements of a list, set, sorted set
    /// or hash, entries of a stream.
    ///
    /// ```
    /// use wasm_triggers_sdk::{Removed, Value};
    ///
    /// assert_eq!(Removed::new("string", 3, Ok(Value::Bytes(b"abc".to_vec()))).len(), 3);
    /// ```
    #[allow(clippy::len_without_is_empty)] // a removed value is never empty
    pub fn len(&self) -> u64 {
        self.length
    }

    /// The value, if it was read.
    ///
    /// ```
    /// use wasm_triggers_sdk::{Removed, Value};
    ///
    /// let list = Value::Array(vec![Value::Bytes(b"a".to_vec())]);
    /// assert_eq!(Removed::new("list", 1, Ok(list.clone())).value(), Some(&list));
    /// ```
    pub fn value(&self) -> Option<&Value> {
        self.value.as_ref().ok()
    }

    /// The value, if it was read, without a copy.
    ///
    /// ```
    /// use wasm_triggers_sdk::{Removed, Value};
    ///
    /// let removed = Removed::new("string", 2, Ok(Value::Bytes(b"hi".to_vec())));
    /// assert_eq!(removed.into_value().and_then(Value::into_string).as_deref(), Some("hi"));
    /// ```
    pub fn into_value(self) -> Option<Value> {
        self.value.ok()
    }

    /// Why the value was not read, if it was not.
    ///
    /// ```
    /// use wasm_triggers_sdk::{Removed, Withheld};
    ///
    /// let json = Removed::new("module", 0, Err(Withheld::ModuleType));
    /// assert_eq!(json.withheld(), Some(Withheld::ModuleType));
    /// ```
    pub fn withheld(&self) -> Option<Withheld> {
        self.value.as_ref().err().copied()
    }
}

impl From<types::Removed> for Removed {
    fn from(removed: types::Removed) -> Self {
        let value = match removed.value {
            // The host encodes what it read in RESP3; should it ever send
            // what the SDK cannot parse, the raw bytes are still given.
            Ok(resp3) => Ok(Value::from_resp3(&resp3).unwrap_or(Value::Bytes(resp3))),
            Err(types::Withheld::TooLarge) => Err(Withheld::TooLarge),
            Err(types::Withheld::ModuleType) => Err(Withheld::ModuleType),
        };
        Removed {
            type_name: removed.type_name,
            length: removed.length,
            value,
        }
    }
}
