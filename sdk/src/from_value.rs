//! Replies as Rust types: [`FromValue`], [`Value::into_typed`] and
//! [`call_as`](crate::call_as).

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use crate::typed_reply::Reader;
use crate::{Error, Result, Value};

/// A Rust type a reply converts into, with an error that says what was
/// expected and what came when it does not fit.
///
/// | Reply | Types |
/// |---|---|
/// | integer, or a string of digits | `i64`, `i32`, `u64`, `u32`, `usize`, … |
/// | double, integer or numeric string | `f64` |
/// | boolean, or the integers 0 and 1 | `bool` |
/// | string | `String` (UTF-8), `Vec<u8>` |
/// | a type's name (`TYPE`'s reply) | [`KeyType`](crate::KeyType) |
/// | nil, or anything else | `Option<T>` |
/// | array or set | `Vec<T>`, tuples of its exact length |
/// | map, or an array of field, value, … | `HashMap<K, V>`, `BTreeMap<K, V>`, `Vec<(K, V)>` |
/// | anything | [`Value`] |
///
/// ```
/// use std::collections::HashMap;
/// use wasm_triggers_sdk::Value;
///
/// let time = Value::Array(vec![Value::Bytes(b"1700000000".to_vec()), Value::Bytes(b"42".to_vec())]);
/// let (seconds, micros): (i64, u32) = time.into_typed().unwrap();
/// assert_eq!((seconds, micros), (1_700_000_000, 42));
///
/// let hash = Value::Map(vec![(Value::Bytes(b"name".to_vec()), Value::Bytes(b"tom".to_vec()))]);
/// let hash: HashMap<String, String> = hash.into_typed().unwrap();
/// assert_eq!(hash["name"], "tom");
///
/// let missing: Option<String> = Value::Nil.into_typed().unwrap();
/// assert_eq!(missing, None);
/// let error = Value::Bytes(b"tom".to_vec()).into_typed::<i64>().unwrap_err();
/// assert_eq!(error.message(), "expected an integer, got the string \"tom\"");
/// ```
pub trait FromValue: Sized {
    /// Converts a reply.
    fn from_value(value: Value) -> Result<Self>;

    /// A string reply as a `Vec<Self>`: only `u8` takes it, so that
    /// `Vec<u8>` is the string's bytes and `Vec<T>` an array's elements;
    /// other types hand the bytes back.
    #[doc(hidden)]
    fn from_byte_vec(bytes: Vec<u8>) -> std::result::Result<Vec<Self>, Vec<u8>> {
        Err(bytes)
    }

    /// Reads the reply in place, without building a [`Value`] (the fast
    /// path of [`call_as`](crate::call_as)): `None` when it has another
    /// shape or does not fit, and the [`Value`] path decides. On `Some`,
    /// exactly one whole value was read (a pipeline's next reply starts
    /// there).
    #[doc(hidden)]
    fn read(reader: &mut Reader<'_>) -> Option<Self> {
        let _ = reader;
        None
    }
}

impl Value {
    /// Converts the reply into `T`, or says why it does not fit (see
    /// [`FromValue`]).
    ///
    /// ```
    /// use wasm_triggers_sdk::Value;
    ///
    /// let count: i64 = Value::Int(3).into_typed().unwrap();
    /// assert_eq!(count, 3);
    /// assert!(Value::Nil.into_typed::<String>().is_err());
    /// ```
    pub fn into_typed<T: FromValue>(self) -> Result<T> {
        T::from_value(self)
    }
}

/// `expected <what>, got <the value>`.
pub(crate) fn mismatch(expected: &str, got: &Value) -> Error {
    let got = match got {
        Value::Nil => "nil".to_string(),
        Value::Int(i) => format!("the integer {i}"),
        Value::Double(d) => format!("the double {d}"),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Bytes(b) if b.len() <= 40 => format!("the string {:?}", String::from_utf8_lossy(b)),
        Value::Bytes(b) => format!("a string of {} bytes", b.len()),
        Value::BigNumber(n) => format!("the big number {n}"),
        Value::Error(e) => format!("the error {e:?}"),
        Value::Array(items) => format!("an array of {}", items.len()),
        Value::Map(entries) => format!("a map of {}", entries.len()),
        Value::Set(items) => format!("a set of {}", items.len()),
    };
    Error::new(format!("expected {expected}, got {got}"))
}

impl FromValue for Value {
    fn from_value(value: Value) -> Result<Self> {
        Ok(value)
    }
}

macro_rules! integers {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(value: Value) -> Result<Self> {
                let int = value.as_int().ok_or_else(|| mismatch("an integer", &value))?;
                <$t>::try_from(int).map_err(|_| {
                    Error::new(format!("expected an integer that fits {}, got {int}", stringify!($t)))
                })
            }

            fn read(reader: &mut Reader<'_>) -> Option<Self> {
                <$t>::try_from(reader.int()?).ok()
            }
        }
    )*};
}
integers!(i64, i32, i16, i8, u64, u32, u16, usize, isize);

impl FromValue for u8 {
    fn from_value(value: Value) -> Result<Self> {
        let int = value
            .as_int()
            .ok_or_else(|| mismatch("an integer", &value))?;
        u8::try_from(int)
            .map_err(|_| Error::new(format!("expected an integer that fits u8, got {int}")))
    }

    fn from_byte_vec(bytes: Vec<u8>) -> std::result::Result<Vec<u8>, Vec<u8>> {
        Ok(bytes)
    }

    fn read(reader: &mut Reader<'_>) -> Option<Self> {
        u8::try_from(reader.int()?).ok()
    }
}

impl FromValue for f64 {
    fn from_value(value: Value) -> Result<Self> {
        value
            .as_double()
            .ok_or_else(|| mismatch("a number", &value))
    }
}

impl FromValue for bool {
    fn from_value(value: Value) -> Result<Self> {
        match value {
            Value::Bool(b) => Ok(b),
            Value::Int(0) => Ok(false),
            Value::Int(1) => Ok(true),
            other => Err(mismatch("a boolean", &other)),
        }
    }
}

impl FromValue for String {
    fn from_value(value: Value) -> Result<Self> {
        match value {
            Value::Bytes(bytes) => String::from_utf8(bytes).map_err(|e| {
                Error::new(format!(
                    "expected UTF-8 text, got {} bytes that are not",
                    e.as_bytes().len()
                ))
            }),
            Value::Int(i) => Ok(i.to_string()),
            Value::BigNumber(n) => Ok(n),
            other => Err(mismatch("a string", &other)),
        }
    }

    fn read(reader: &mut Reader<'_>) -> Option<Self> {
        String::from_utf8(reader.string()?.to_vec()).ok()
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: Value) -> Result<Self> {
        match value {
            Value::Nil => Ok(None),
            value => T::from_value(value).map(Some),
        }
    }

    fn read(reader: &mut Reader<'_>) -> Option<Self> {
        if reader.nil() {
            return Some(None);
        }
        T::read(reader).map(Some)
    }
}

impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(value: Value) -> Result<Self> {
        match value {
            Value::Array(items) | Value::Set(items) => {
                items.into_iter().map(T::from_value).collect()
            }
            Value::Bytes(bytes) => {
                T::from_byte_vec(bytes).map_err(|bytes| mismatch("an array", &Value::Bytes(bytes)))
            }
            // A map as a list of pairs, when T is a pair.
            Value::Map(entries) => entries
                .into_iter()
                .map(|(k, v)| T::from_value(Value::Array(vec![k, v])))
                .collect(),
            other => Err(mismatch("an array", &other)),
        }
    }
}

/// The entries of a map, or of an array of field, value, field, value, ….
fn pairs(value: Value) -> Result<Vec<(Value, Value)>> {
    match value {
        Value::Map(entries) => Ok(entries),
        Value::Array(items) if items.len() % 2 == 0 => {
            let mut items = items.into_iter();
            let mut entries = Vec::with_capacity(items.len() / 2);
            while let (Some(k), Some(v)) = (items.next(), items.next()) {
                entries.push((k, v));
            }
            Ok(entries)
        }
        other => Err(mismatch("a map", &other)),
    }
}

impl<K: FromValue + Eq + Hash, V: FromValue> FromValue for HashMap<K, V> {
    fn from_value(value: Value) -> Result<Self> {
        pairs(value)?
            .into_iter()
            .map(|(k, v)| Ok((K::from_value(k)?, V::from_value(v)?)))
            .collect()
    }
}

impl<K: FromValue + Ord, V: FromValue> FromValue for BTreeMap<K, V> {
    fn from_value(value: Value) -> Result<Self> {
        pairs(value)?
            .into_iter()
            .map(|(k, v)| Ok((K::from_value(k)?, V::from_value(v)?)))
            .collect()
    }
}

macro_rules! tuples {
    ($($len:literal => ($($name:ident),+);)*) => {$(
        impl<$($name: FromValue),+> FromValue for ($($name,)+) {
            fn from_value(value: Value) -> Result<Self> {
                match value {
                    Value::Array(items) if items.len() == $len => {
                        let mut items = items.into_iter();
                        Ok(($($name::from_value(items.next().unwrap_or(Value::Nil))?,)+))
                    }
                    other => Err(mismatch(concat!("an array of ", $len), &other)),
                }
            }

            fn read(reader: &mut Reader<'_>) -> Option<Self> {
                reader.array_of($len)?;
                Some(($($name::read(reader)?,)+))
            }
        }
    )*};
}
tuples! {
    1 => (A);
    2 => (A, B);
    3 => (A, B, C);
    4 => (A, B, C, D);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(s: &str) -> Value {
        Value::Bytes(s.as_bytes().to_vec())
    }

    #[test]
    fn conversions() {
        assert_eq!(bytes("12").into_typed::<i64>(), Ok(12));
        assert_eq!(Value::Int(7).into_typed::<u32>(), Ok(7));
        assert!(Value::Int(-1).into_typed::<u32>().is_err());
        assert_eq!(bytes("raw").into_typed::<Vec<u8>>(), Ok(b"raw".to_vec()));
        let list = Value::Array(vec![bytes("a"), Value::Nil]);
        assert_eq!(
            list.into_typed::<Vec<Option<String>>>(),
            Ok(vec![Some("a".into()), None])
        );
        let flat = Value::Array(vec![bytes("f"), bytes("1"), bytes("g"), bytes("2")]);
        let map: BTreeMap<String, i64> = flat.into_typed().expect("pairs");
        assert_eq!(map, BTreeMap::from([("f".into(), 1), ("g".into(), 2)]));
        let error = Value::Array(vec![Value::Int(1)]).into_typed::<(i64, i64)>();
        assert_eq!(
            error.unwrap_err().message(),
            "expected an array of 2, got an array of 1"
        );
        let error = bytes("abc").into_typed::<Vec<String>>();
        assert_eq!(
            error.unwrap_err().message(),
            "expected an array, got the string \"abc\""
        );
        assert_eq!(Value::Int(1).into_typed::<bool>(), Ok(true));
    }
}
