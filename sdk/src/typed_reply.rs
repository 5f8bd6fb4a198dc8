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
            b'$' => self.plain_blob_int().or_else(|| parse_int(self.string()?)),
            _ => parse_int(self.string()?),
        }
    }

    /// The usual blob of digits (`TIME`'s numbers): its header and its
    /// body each read in one pass, the body as the number it spells. `None`
    /// for anything else (a sign, more than 18 digits, a length that is not
    /// the body's), which the caller reads the long way.
    #[inline(always)]
    fn plain_blob_int(&mut self) -> Option<i64> {
        let input = self.0.input;
        let (length, body) = digit_line(input, self.0.pos + 1)?;
        let (n, next) = digit_line(input, body)?;
        // Compared as u64: a length past 4 GiB must not wrap on wasm32.
        if u64::try_from(next - body).ok() != Some(length + 2) {
            return None;
        }
        self.0.pos = next;
        i64::try_from(n).ok()
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
    /// moves past it. Up to 18 plain digits are read here in one pass
    /// (every length there is); anything else as the parser reads it.
    #[inline(always)]
    fn header_length(&mut self) -> Option<usize> {
        let start = self.0.pos + 1;
        if let Some((n, next)) = digit_line(self.0.input, start) {
            if let Ok(n) = usize::try_from(n) {
                self.0.pos = next;
                return Some(n);
            }
        }
        self.0.pos = start;
        self.0.length().ok()?
    }
}

/// One to 18 digits from `at`, then CRLF: their number (which fits an
/// `i64`), and where what follows starts. Eight bytes at a time where the
/// input has them (`TIME`'s seconds are ten digits), one at a time after.
#[inline(always)]
fn digit_line(input: &[u8], at: usize) -> Option<(u64, usize)> {
    let (mut n, mut end) = (0, at);
    if let Some(word) = input.get(at..).and_then(|rest| rest.first_chunk::<8>()) {
        let word = u64::from_le_bytes(*word);
        let count = leading_digits(word);
        if count == 0 {
            return None;
        }
        n = eight_digits(word, count);
        end = at + count;
        if count < 8 {
            return crlf_after(input, n, end);
        }
    }
    while let Some(&byte) = input.get(end) {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 || end - at == 18 {
            break;
        }
        n = n * 10 + u64::from(digit);
        end += 1;
    }
    if end == at {
        return None;
    }
    crlf_after(input, n, end)
}

#[inline(always)]
fn crlf_after(input: &[u8], n: u64, end: usize) -> Option<(u64, usize)> {
    (input.get(end..end.checked_add(2)?)? == b"\r\n").then_some((n, end + 2))
}

/// A byte of 1 in each of a word's eight bytes.
const ONES: u64 = 0x0101_0101_0101_0101;

/// How many of the eight bytes of `word` (little-endian: its first byte
/// lowest) are ASCII digits before the first that is not. A byte below
/// `'0'` borrows from the bytes after it, and a carry goes up too: only
/// bytes after the first non-digit are touched, which are not counted.
#[inline(always)]
fn leading_digits(word: u64) -> usize {
    let values = word.wrapping_sub(ONES * u64::from(b'0'));
    // A value over 9 gets its high bit set by adding 0x76, unless it had
    // it already (0x80 and up).
    let not_digits = (values.wrapping_add(ONES * 0x76) | values) & (ONES * 0x80);
    (not_digits.trailing_zeros() / 8) as usize
}

/// The number the first `count` (1 to 8) bytes of `word` spell, each an
/// ASCII digit: the digits moved to the word's top, zeros before them,
/// then summed in pairs, fours and eights (three multiplications).
#[inline(always)]
fn eight_digits(word: u64, count: usize) -> u64 {
    let values = word.wrapping_sub(ONES * u64::from(b'0')) << (8 * (8 - count));
    let pairs = values.wrapping_mul(10).wrapping_add(values >> 8);
    const MASK: u64 = 0x0000_00FF_0000_00FF;
    let fours = (pairs & MASK).wrapping_mul(100 + (1_000_000 << 32));
    let eights = ((pairs >> 16) & MASK).wrapping_mul(1 + (10_000 << 32));
    (fours.wrapping_add(eights) >> 32) & 0xFFFF_FFFF
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
        // Blobs of digits, read in one pass each up to 18 digits, as the
        // Value path reads them; the rest left to it.
        for (reply, n) in [
            (&b"$3\r\n007\r\n"[..], Some(7)),
            (
                b"$18\r\n999999999999999999\r\n",
                Some(999_999_999_999_999_999),
            ),
            (b"$19\r\n9223372036854775807\r\n", Some(i64::MAX)),
            (b"$2\r\n-7\r\n", Some(-7)),
            (b"$2\r\n+7\r\n", Some(7)),
            (b"$01\r\n7\r\n", Some(7)),
            (b"$19\r\n9223372036854775808\r\n", None),
            (b"$2\r\n7\r\n", None),
            (b"$1\r\n17\r\n", None),
            (b"$1\r\n7\n", None),
            (b"$1\r\n7", None),
            (b"$0\r\n\r\n", None),
        ] {
            assert_eq!(same::<i64>(reply), n, "{}", String::from_utf8_lossy(reply));
        }
    }

    /// `digit_line`, eight bytes at a time, against one byte at a time:
    /// every count of digits from 0 to 20, each followed by CRLF, by
    /// another byte or by nothing, at every offset from a word's start.
    #[test]
    fn digit_lines_as_read_one_byte_at_a_time() {
        fn one_at_a_time(input: &[u8], at: usize) -> Option<(u64, usize)> {
            let digits = input[at..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
                .min(18);
            let n = input[at..at + digits]
                .iter()
                .fold(0u64, |n, &b| n * 10 + u64::from(b - b'0'));
            let end = at + digits;
            (digits > 0 && input.get(end..end + 2) == Some(b"\r\n")).then_some((n, end + 2))
        }
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for count in 0..=20 {
            for after in [
                &b"\r\n"[..],
                b"\r",
                b"",
                b"x\r\n",
                b"/",
                b":",
                b"\xff",
                b"\n\r",
            ] {
                for before in 0..3 {
                    for _ in 0..20 {
                        let mut input = vec![b'$'; before];
                        for _ in 0..count {
                            seed ^= seed << 13;
                            seed ^= seed >> 7;
                            seed ^= seed << 17;
                            input.push(b'0' + (seed % 10) as u8);
                        }
                        input.extend_from_slice(after);
                        assert_eq!(
                            super::digit_line(&input, before),
                            one_at_a_time(&input, before),
                            "{}",
                            String::from_utf8_lossy(&input)
                        );
                    }
                }
            }
        }
        // Bytes around the digits' range, and past `at`'s end.
        for byte in 0..=255u8 {
            let input = [b'1', byte, b'\r', b'\n', b'0', b'0', b'0', b'0', b'0'];
            assert_eq!(
                super::digit_line(&input, 0),
                one_at_a_time(&input, 0),
                "{byte}"
            );
        }
        assert_eq!(super::digit_line(b"12\r\n", 5), None);
        assert_eq!(super::digit_line(b"12\r\n", 9), None);
    }

    #[test]
    fn strings() {
        assert_eq!(same::<String>(b"+hash\r\n"), Some("hash".into()));
        assert_eq!(same::<String>(b"$5\r\na\r\nbc\r\n"), Some("a\r\nbc".into()));
        assert_eq!(same::<String>(b"$0\r\n\r\n"), Some(String::new()));
        // Lengths of up to 18 digits are read in one pass, others as numbers.
        assert_eq!(
            same::<String>(b"$000000000000000003\r\nabc\r\n"),
            Some("abc".into())
        );
        assert_eq!(
            same::<String>(b"$0000000000000000003\r\nabc\r\n"),
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
