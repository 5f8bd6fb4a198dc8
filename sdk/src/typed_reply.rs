//! Replies read straight into Rust types: the fast path of
//! [`call_as`](crate::call_as).
//!
//! Most commands answer with an integer, a string, a nil or a short array
//! of them, read into a tuple (`TIME`, `HMGET` of two fields). For those,
//! [`FromValue::read`] takes the reply's bytes in place, without building a
//! [`Value`] tree first: no allocation for an integer, one for a string,
//! none for the array itself. Anything else, or a reply that does not fit
//! `T`, is left to the [`Value`] path, which gives the same result and says
//! why when it fails; the tests below hold the two paths to the same
//! answers.
//!
//! [`FromValue::read`]: crate::FromValue::read
//! [`Value`]: crate::Value

use crate::resp3::{parse_int, Parser};

/// A RESP3 reply being read element by element, with the parser's own
/// methods. Every method reads the next element only if it has the shape
/// asked for, and returns `None` otherwise (the caller then falls back to
/// the [`Value`](crate::Value) path, so where the reader stops does not
/// matter).
#[doc(hidden)]
pub struct Reader<'a>(Parser<'a>);

impl<'a> Reader<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Reader(Parser::new(input))
    }

    /// A reader of `input` from `pos` on (a pipeline's next reply).
    pub(crate) fn at(input: &'a [u8], pos: usize) -> Self {
        let mut parser = Parser::new(input);
        parser.pos = pos;
        Reader(parser)
    }

    /// Where the next element starts.
    pub(crate) fn pos(&self) -> usize {
        self.0.pos
    }

    pub(crate) fn at_end(&self) -> bool {
        self.0.pos == self.0.input.len()
    }

    /// The type byte of the next element, not consumed.
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.0.input.get(self.0.pos).copied()
    }

    /// A simple string or a blob string, not a null one.
    #[inline(always)]
    pub fn string(&mut self) -> Option<&'a [u8]> {
        match self.peek()? {
            b'+' => {
                let (line, next) = self.line_from(self.0.pos + 1)?;
                self.0.pos = next;
                Some(line)
            }
            b'$' => {
                let len = self.header_length()?;
                let start = self.0.pos;
                let end = start.checked_add(len)?;
                let body = self.0.input.get(start..end)?;
                if self.0.input.get(end..end.checked_add(2)?)? != b"\r\n" {
                    return None;
                }
                self.0.pos = end + 2;
                Some(body)
            }
            _ => None,
        }
    }

    /// An integer reply, or a string of digits (as [`Value::as_int`]
    /// reads one).
    ///
    /// [`Value::as_int`]: crate::Value::as_int
    #[inline(always)]
    pub fn int(&mut self) -> Option<i64> {
        match self.peek()? {
            b':' => {
                let (line, next) = self.line_from(self.0.pos + 1)?;
                let n = parse_int(line)?;
                self.0.pos = next;
                Some(n)
            }
            _ => parse_int(self.string()?),
        }
    }

    /// A null (`_`, or RESP2's `$-1` and `*-1`), consumed if it is next.
    pub fn nil(&mut self) -> bool {
        let rest = self.0.input.get(self.0.pos..).unwrap_or_default();
        for null in [&b"_\r\n"[..], b"$-1\r\n", b"*-1\r\n"] {
            if rest.starts_with(null) {
                self.0.pos += null.len();
                return true;
            }
        }
        false
    }

    /// The header of an array of exactly `len` elements.
    pub fn array_of(&mut self, len: usize) -> Option<()> {
        if self.peek()? != b'*' {
            return None;
        }
        (self.header_length()? == len).then_some(())
    }

    /// The bytes from `at` to the next CRLF, and where what follows it
    /// starts.
    #[inline(always)]
    fn line_from(&self, at: usize) -> Option<(&'a [u8], usize)> {
        let rest = self.0.input.get(at..)?;
        let cr = rest.iter().position(|&b| b == b'\r')?;
        match rest.get(cr + 1) {
            Some(b'\n') => Some((&rest[..cr], at + cr + 2)),
            _ => None,
        }
    }

    /// The length of the `$` or `*` header at the reader's position, which
    /// moves past it. Up to 9 plain digits are read here in one pass over
    /// an `Option` (most lengths); anything else as the parser reads it.
    #[inline(always)]
    fn header_length(&mut self) -> Option<usize> {
        let start = self.0.pos + 1;
        if let Some((digits, next)) = self.line_from(start) {
            if let Some(n) = plain(digits) {
                self.0.pos = next;
                return Some(n);
            }
        }
        self.0.pos = start;
        self.0.length().ok()?
    }
}

/// One to nine digits and nothing else, as a number.
#[inline]
fn plain(digits: &[u8]) -> Option<usize> {
    if !(1..=9).contains(&digits.len()) {
        return None;
    }
    digits.iter().try_fold(0, |n, &digit| {
        let digit = digit.wrapping_sub(b'0');
        (digit <= 9).then(|| n * 10 + usize::from(digit))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::fmt::Debug;

    use super::Reader;
    use crate::{FromValue, Value};

    /// The fast path, where it answers, gives what the `Value` path gives.
    fn same<T: FromValue + PartialEq + Debug>(reply: &[u8]) -> Option<T> {
        let mut reader = Reader::new(reply);
        let fast = T::read(&mut reader).filter(|_| reader.at_end());
        let slow = Value::from_resp3(reply).and_then(Value::into_typed::<T>);
        if let Some(fast) = &fast {
            assert_eq!(
                Ok(fast),
                slow.as_ref(),
                "{}",
                String::from_utf8_lossy(reply)
            );
        }
        fast
    }

    #[test]
    fn integers() {
        assert_eq!(same::<i64>(b":42\r\n"), Some(42));
        assert_eq!(same::<i64>(b":-9223372036854775808\r\n"), Some(i64::MIN));
        assert_eq!(same::<i64>(b"$2\r\n17\r\n"), Some(17));
        assert_eq!(same::<i64>(b"+17\r\n"), Some(17));
        assert_eq!(same::<u32>(b":7\r\n"), Some(7));
        assert_eq!(same::<u8>(b":255\r\n"), Some(255));
        // Left to the Value path, which says why.
        for reply in [
            &b":-1\r\n"[..],
            b"$3\r\nabc\r\n",
            b"_\r\n",
            b"-ERR no\r\n",
            b":1\r\n:2\r\n",
        ] {
            assert_eq!(same::<u32>(reply), None);
        }
        assert_eq!(same::<u8>(b":256\r\n"), None);
        assert_eq!(same::<i64>(b"*1\r\n:1\r\n"), None);
    }

    #[test]
    fn strings() {
        assert_eq!(same::<String>(b"+hash\r\n"), Some("hash".into()));
        assert_eq!(same::<String>(b"$5\r\na\r\nbc\r\n"), Some("a\r\nbc".into()));
        assert_eq!(same::<String>(b"$0\r\n\r\n"), Some(String::new()));
        // Lengths of up to 9 digits are read in one pass, others as numbers.
        assert_eq!(same::<String>(b"$000000003\r\nabc\r\n"), Some("abc".into()));
        assert_eq!(
            same::<String>(b"$0000000003\r\nabc\r\n"),
            Some("abc".into())
        );
        assert_eq!(same::<String>(b"$+3\r\nabc\r\n"), Some("abc".into()));
        for reply in [
            &b"$\r\n\r\n"[..],
            b"$-2\r\n",
            b"$3\r\nabcd\r\n",
            b"$3\nabc\r\n",
        ] {
            assert_eq!(same::<String>(reply), None);
        }
        // Not UTF-8, an integer, a verbatim string, truncated: the Value path.
        for reply in [
            &b"$1\r\n\xff\r\n"[..],
            b":1\r\n",
            b"=8\r\ntxt:abcd\r\n",
            b"$5\r\nab\r\n",
        ] {
            assert_eq!(same::<String>(reply), None);
        }
    }

    #[test]
    fn options_and_tuples() {
        assert_eq!(same::<Option<String>>(b"_\r\n"), Some(None));
        assert_eq!(same::<Option<String>>(b"$-1\r\n"), Some(None));
        assert_eq!(same::<Option<i64>>(b":3\r\n"), Some(Some(3)));
        let time = b"*2\r\n$10\r\n1700000000\r\n$6\r\n123456\r\n";
        assert_eq!(same::<(i64, i64)>(time), Some((1_700_000_000, 123_456)));
        assert_eq!(
            same::<(String, Option<i64>, i64)>(b"*3\r\n+a\r\n_\r\n:5\r\n"),
            Some(("a".into(), None, 5))
        );
        // Wrong length, a map, an element that does not fit: the Value path.
        assert_eq!(same::<(i64, i64)>(b"*3\r\n:1\r\n:2\r\n:3\r\n"), None);
        assert_eq!(same::<(i64, i64)>(b"%1\r\n:1\r\n:2\r\n"), None);
        assert_eq!(same::<(i64, i64)>(b"*2\r\n:1\r\n+x\r\n"), None);
        // Types without a fast path.
        assert_eq!(same::<Value>(b":1\r\n"), None);
        assert_eq!(same::<HashMap<String, i64>>(b"%1\r\n+a\r\n:1\r\n"), None);
    }
}
