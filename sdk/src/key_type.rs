//! [`KeyType`]: `TYPE`'s reply as an enum, as redis-rs' `ValueType` is.

use std::fmt;

use crate::from_value::mismatch;
use crate::typed_reply::Reader;
use crate::{FromValue, Result, Value};

/// The type of the value a key holds, as `TYPE` names it.
///
/// Read it with [`call_as`](crate::call_as): a misspelt type is then a
/// compile error rather than a comparison that is never true, and the
/// usual types are read without an allocation.
///
/// ```no_run
/// use wasm_triggers_sdk::{call_as, Event, KeyType, Result};
///
/// fn example(event: &Event) -> Result<()> {
///     match call_as::<KeyType>("TYPE", [event.key()])? {
///         KeyType::Hash => { /* … */ }
///         KeyType::None => { /* the key is gone */ }
///         other => println!("not a hash: {other}"),
///     }
///     Ok(())
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// `none`: there is no such key.
    None,
    String,
    List,
    Set,
    /// `zset`: a sorted set.
    ZSet,
    Hash,
    Stream,
    /// Another type, by the name `TYPE` gives it: a module's (`ReJSON-RL`,
    /// …), or one newer than this SDK (Redis 8's `vectorset`).
    Other(String),
}

impl KeyType {
    /// The type `TYPE` names `name`; `None` for a name that is not UTF-8.
    pub fn from_name(name: &[u8]) -> Option<Self> {
        Some(match name {
            b"none" => KeyType::None,
            b"string" => KeyType::String,
            b"list" => KeyType::List,
            b"set" => KeyType::Set,
            b"zset" => KeyType::ZSet,
            b"hash" => KeyType::Hash,
            b"stream" => KeyType::Stream,
            other => KeyType::Other(std::str::from_utf8(other).ok()?.to_string()),
        })
    }

    /// The name `TYPE` gives this type.
    pub fn as_str(&self) -> &str {
        match self {
            KeyType::None => "none",
            KeyType::String => "string",
            KeyType::List => "list",
            KeyType::Set => "set",
            KeyType::ZSet => "zset",
            KeyType::Hash => "hash",
            KeyType::Stream => "stream",
            KeyType::Other(name) => name,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromValue for KeyType {
    fn from_value(value: Value) -> Result<Self> {
        match &value {
            Value::Bytes(name) => KeyType::from_name(name),
            _ => None,
        }
        .ok_or_else(|| mismatch("a type name", &value))
    }

    fn read(reader: &mut Reader<'_>) -> Option<Self> {
        KeyType::from_name(reader.string()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::read_as;

    #[test]
    fn type_replies_read_in_place_and_as_values() {
        for (name, kind) in [
            ("none", KeyType::None),
            ("string", KeyType::String),
            ("list", KeyType::List),
            ("set", KeyType::Set),
            ("zset", KeyType::ZSet),
            ("hash", KeyType::Hash),
            ("stream", KeyType::Stream),
        ] {
            let simple = format!("+{name}\r\n");
            assert_eq!(read_as(simple.as_bytes(), "TYPE"), Ok(kind.clone()));
            let blob = Value::Bytes(name.as_bytes().to_vec());
            assert_eq!(blob.into_typed(), Ok(kind.clone()));
            assert_eq!(kind.to_string(), name);
        }
        let module = read_as::<KeyType>(b"+ReJSON-RL\r\n", "TYPE");
        assert_eq!(module, Ok(KeyType::Other("ReJSON-RL".into())));
        assert_eq!(KeyType::Other("vectorset".into()).as_str(), "vectorset");
        // Case matters, as it does to Redis.
        assert_eq!(
            KeyType::from_name(b"Hash"),
            Some(KeyType::Other("Hash".into()))
        );
    }

    #[test]
    fn what_is_not_a_type_name_is_an_error() {
        let error = read_as::<KeyType>(b":1\r\n", "TYPE").unwrap_err();
        assert_eq!(
            error.message(),
            "TYPE: expected a type name, got the integer 1"
        );
        assert!(read_as::<KeyType>(b"+\xff\r\n", "TYPE").is_err());
        assert!(read_as::<KeyType>(b"_\r\n", "TYPE").is_err());
    }
}
