//! A Redis reply as a trigger reads it: [`Value`], in RESP3 form, and its
//! accessors.

/// A Redis reply.
///
/// Replies come in RESP3 form: `HGETALL` gives a [`Value::Map`], `SMEMBERS`
/// a [`Value::Set`], status replies such as `OK` and bulk strings both give
/// [`Value::Bytes`].
///
/// ```
/// use wasm_triggers_sdk::Value;
///
/// let reply = Value::Array(vec![Value::Bytes(b"1700000000".to_vec()), Value::Int(7)]);
/// assert_eq!(reply.at(0).and_then(Value::as_int), Some(1_700_000_000));
/// assert_eq!(reply.at(1).and_then(Value::as_int), Some(7));
///
/// let hash = Value::Map(vec![(Value::Bytes(b"name".to_vec()), Value::Bytes(b"tom".to_vec()))]);
/// assert_eq!(hash.get("name").and_then(Value::as_str), Some("tom"));
/// assert!(Value::Nil.is_nil());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Nil: a missing key or field.
    Nil,
    /// An integer.
    Int(i64),
    /// A double (RESP3).
    Double(f64),
    /// A boolean (RESP3).
    Bool(bool),
    /// A bulk string or a status reply, as bytes.
    Bytes(Vec<u8>),
    /// A big number (RESP3), in decimal.
    BigNumber(String),
    /// An error inside an aggregate reply, such as one entry of an `EXEC`.
    /// (An error reply to the command itself is an `Err` from `call`.)
    Error(String),
    /// An array.
    Array(Vec<Value>),
    /// A map, in reply order.
    Map(Vec<(Value, Value)>),
    /// A set, in reply order.
    Set(Vec<Value>),
}

impl Value {
    /// Whether this is nil.
    ///
    /// ```
    /// use wasm_triggers_sdk::Value;
    ///
    /// assert!(Value::Nil.is_nil());
    /// assert!(!Value::Int(0).is_nil());
    /// ```
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The integer, also parsed from a string reply such as `TIME`'s.
    ///
    /// ```
    /// use wasm_triggers_sdk::Value;
    ///
    /// assert_eq!(Value::Int(7).as_int(), Some(7));
    /// assert_eq!(Value::Bytes(b"42".to_vec()).as_int(), Some(42));
    /// assert_eq!(Value::Nil.as_int(), None);
    /// ```
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bytes(b) => crate::resp3::parse_int(b),
            _ => None,
        }
    }

    /// The double, also parsed from a string or an integer reply.
    ///
    /// ```
    /// use wasm_triggers_sdk::Value;
    ///
    /// assert_eq!(Value::Double(0.5).as_double(), Some(0.5));
    /// assert_eq!(Value::Bytes(b"1.5".to_vec()).as_double(), Some(1.5));
    /// ```
    pub fn as_double(&self) -> Option<f64> {
        match self {
            Value::Double(d) => Some(*d),
            Value::Int(i) => Some(*i as f64),
            Value::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok(),
            _ => None,
        }
    }

    /// The boolean.
    ///
    /// ```
    /// use wasm_triggers_sdk::Value;
    ///
    /// assert_eq!(Value::Bool(true).as_bool(), Some(true));
    /// assert_eq!(Value::Int(1).as_bool(), None);
    /// ```
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The bytes of a string reply.
    ///
    /// ```
    /// use wasm_triggers_sdk::Value;
    ///
    /// assert_eq!(Value::Bytes(b"\xff".to_vec()).as_bytes(), Some(&b"\xff"[..]));
    /// assert_eq!(Value::Int(1).as_bytes(), None);
    /// ```
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The text of a string reply, if it is UTF-8.
    ///
    /// ```
    /// use wasm_triggers_sdk::Value;
    ///
    /// assert_eq!(Value::Bytes(b"tom".to_vec()).as_str(), Some("tom"));
    /// assert_eq!(Value::Bytes(b"\xff".to_vec()).as_str(), None);
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self.as_bytes()?).ok()
    }

    /// The bytes of a string reply, without copying.
    ///
    /// ```
    /// use wasm_triggers_sdk::Value;
    ///
    /// assert_eq!(Value::Bytes(b"raw".to_vec()).into_bytes(), Some(b"raw".to_vec()));
    /// ```
    pub fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The text of a string reply, if it is UTF-8, without copying.
    ///
    /// ```
    /// use wasm_triggers_sdk::Value;
    ///
    /// assert_eq!(Value::Bytes(b"tom".to_vec()).into_string(), Some("tom".to_string()));
    /// ```
    pub fn into_string(self) -> Option<String> {
        String::from_utf8(self.into_bytes()?).ok()
    }

    /// The elements of an array or a set.
    ///
    /// ```
    /// use wasm_triggers_sdk::Value;
    ///
    /// let reply = Value::Set(vec![Value::Int(1), Value::Int(2)]);
    /// assert_eq!(reply.as_array().map(|items| items.len()), Some(2));
    /// ```
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) | Value::Set(items) => Some(items),
            _ => None,
        }
    }

    /// The element at `index` of an array or a set.
    ///
    /// ```
    /// use wasm_triggers_sdk::Value;
    ///
    /// let time = Value::Array(vec![Value::Bytes(b"1700000000".to_vec()), Value::Bytes(b"5".to_vec())]);
    /// assert_eq!(time.at(1).and_then(Value::as_int), Some(5));
    /// assert_eq!(time.at(2), None);
    /// ```
    pub fn at(&self, index: usize) -> Option<&Value> {
        self.as_array()?.get(index)
    }

    /// The entries of a map.
    ///
    /// ```
    /// use wasm_triggers_sdk::Value;
    ///
    /// let hash = Value::Map(vec![(Value::Bytes(b"f".to_vec()), Value::Int(1))]);
    /// assert_eq!(hash.as_map().map(|entries| entries.len()), Some(1));
    /// ```
    pub fn as_map(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value of a map entry whose key is the string `key`.
    ///
    /// ```
    /// use wasm_triggers_sdk::Value;
    ///
    /// let hash = Value::Map(vec![(Value::Bytes(b"name".to_vec()), Value::Bytes(b"tom".to_vec()))]);
    /// assert_eq!(hash.get("name").and_then(Value::as_str), Some("tom"));
    /// assert_eq!(hash.get("age"), None);
    /// ```
    pub fn get(&self, key: impl AsRef<[u8]>) -> Option<&Value> {
        let key = key.as_ref();
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_bytes() == Some(key))
            .map(|(_, v)| v)
    }

    /// Parses a reply encoded in RESP3, the form in which the host hands
    /// replies over. An error at the top level is an `Err`, as from
    /// [`call`](crate::call); an error inside an aggregate is a
    /// [`Value::Error`].
    ///
    /// ```
    /// use wasm_triggers_sdk::Value;
    ///
    /// let reply = Value::from_resp3(b"*2\r\n$10\r\n1700000000\r\n:7\r\n").unwrap();
    /// assert_eq!(reply.at(0).and_then(Value::as_int), Some(1_700_000_000));
    /// assert!(Value::from_resp3(b"-ERR no\r\n").is_err());
    /// ```
    pub fn from_resp3(reply: &[u8]) -> crate::Result<Value> {
        match crate::resp3::parse(reply)? {
            Value::Error(message) => Err(crate::Error::new(message)),
            value => Ok(value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_replies() {
        // [1, {"a": [nil, "x"]}, error]
        let value = Value::from_resp3(b"*3\r\n:1\r\n%1\r\n+a\r\n*2\r\n_\r\n$1\r\nx\r\n-ERR no\r\n")
            .unwrap();
        assert_eq!(
            value,
            Value::Array(vec![
                Value::Int(1),
                Value::Map(vec![(
                    Value::Bytes(b"a".to_vec()),
                    Value::Array(vec![Value::Nil, Value::Bytes(b"x".to_vec())])
                )]),
                Value::Error("ERR no".into()),
            ])
        );
        assert_eq!(
            value
                .at(1)
                .and_then(|m| m.get("a"))
                .and_then(|a| a.at(1))
                .and_then(Value::as_str),
            Some("x")
        );
    }

    #[test]
    fn top_level_errors_are_errors() {
        let error = Value::from_resp3(b"-WRONGTYPE no\r\n").unwrap_err();
        assert_eq!(error.to_string(), "WRONGTYPE no");
    }
}
