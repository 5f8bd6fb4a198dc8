//! A RESP3 parser: the host hands every reply over in the encoding Redis
//! itself produced (see `host.call` in `wit/triggers.wit`).
//!
//! Replies come from Redis, but the parser still treats its input as
//! untrusted: a malformed or truncated reply is an error, never a panic, and
//! no length read from the input reserves more memory than the input holds.

use crate::{Error, Result, Value};

/// Aggregates nested deeper than this are refused; Redis replies are far
/// shallower, and the limit keeps a malformed reply from exhausting the
/// guest's stack.
const MAX_DEPTH: usize = 256;

/// Parses one reply that spans the whole of `input`.
pub(crate) fn parse(input: &[u8]) -> Result<Value> {
    let mut parser = Parser::new(input);
    let value = parser.value(0)?;
    if parser.pos != input.len() {
        return Err(malformed("trailing bytes after the reply"));
    }
    Ok(value)
}

fn malformed(what: &str) -> Error {
    Error::new(format!("malformed RESP3 reply from the host: {what}"))
}

/// A reply being read; [`Reader`](crate::typed_reply::Reader) reads one
/// with the same methods, without building a [`Value`].
pub(crate) struct Parser<'a> {
    pub(crate) input: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Parser { input, pos: 0 }
    }

    /// The type byte of the next value, `depth` aggregates deep, consumed.
    #[inline]
    fn kind(&mut self, depth: usize) -> Result<u8> {
        if depth > MAX_DEPTH {
            return Err(malformed("nested too deep"));
        }
        let kind = *self
            .input
            .get(self.pos)
            .ok_or_else(|| malformed("truncated"))?;
        self.pos += 1;
        Ok(kind)
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        let kind = self.kind(depth)?;
        Ok(match kind {
            b'+' => Value::Bytes(self.line()?.to_vec()),
            b'-' => Value::Error(text(self.line()?)),
            b':' => Value::Int(self.number()?),
            b'$' => match self.length()? {
                None => Value::Nil,
                Some(len) => Value::Bytes(self.blob(len)?.to_vec()),
            },
            b'_' => {
                self.line()?;
                Value::Nil
            }
            b',' => Value::Double(
                std::str::from_utf8(self.line()?)
                    .ok()
                    .and_then(|d| d.parse().ok())
                    .ok_or_else(|| malformed("bad double"))?,
            ),
            b'#' => match self.line()? {
                b"t" => Value::Bool(true),
                b"f" => Value::Bool(false),
                _ => return Err(malformed("bad boolean")),
            },
            b'(' => Value::BigNumber(text(self.line()?)),
            b'!' => {
                let len = self.length()?.ok_or_else(|| malformed("null error"))?;
                Value::Error(text(self.blob(len)?))
            }
            b'=' => {
                // `txt:` or `mkd:`, then the text.
                let len = self.length()?.ok_or_else(|| malformed("null verbatim"))?;
                let blob = self.blob(len)?;
                Value::Bytes(blob.get(4..).unwrap_or_default().to_vec())
            }
            b'*' | b'>' => match self.length()? {
                None => Value::Nil,
                Some(n) => Value::Array(self.values(n, depth)?),
            },
            b'~' => match self.length()? {
                None => Value::Nil,
                Some(n) => Value::Set(self.values(n, depth)?),
            },
            b'%' => {
                let n = self.length()?.ok_or_else(|| malformed("null map"))?;
                let mut entries = Vec::with_capacity(n.min(self.remaining() / 4));
                for _ in 0..n {
                    let key = self.value(depth + 1)?;
                    let value = self.value(depth + 1)?;
                    entries.push((key, value));
                }
                Value::Map(entries)
            }
            b'|' => {
                // Attributes describe the reply that follows; skip them.
                let n = self.length()?.ok_or_else(|| malformed("null attribute"))?;
                for _ in 0..n.saturating_mul(2) {
                    self.value(depth + 1)?;
                }
                self.value(depth)?
            }
            _ => return Err(malformed("unknown type byte")),
        })
    }

    /// Steps over one value without building it: where one reply of a
    /// pipeline ends. What it holds is checked when the reply is read.
    pub(crate) fn skip(&mut self, depth: usize) -> Result<()> {
        let kind = self.kind(depth)?;
        // How many values the aggregate holds, or None for a single value.
        let elements = match kind {
            b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => {
                self.line()?;
                return Ok(());
            }
            b'$' | b'!' | b'=' => {
                if let Some(len) = self.length()? {
                    self.blob(len)?;
                }
                return Ok(());
            }
            b'*' | b'>' | b'~' => self.length()?.unwrap_or(0),
            b'%' | b'|' => self.length()?.unwrap_or(0).saturating_mul(2),
            _ => return Err(malformed("unknown type byte")),
        };
        for _ in 0..elements {
            self.skip(depth + 1)?;
        }
        // Attributes describe the value that follows them.
        if kind == b'|' {
            self.skip(depth)?;
        }
        Ok(())
    }

    fn values(&mut self, n: usize, depth: usize) -> Result<Vec<Value>> {
        // Every element takes at least 3 bytes, so a bogus count cannot
        // reserve more than the input could hold.
        let mut items = Vec::with_capacity(n.min(self.remaining() / 3));
        for _ in 0..n {
            items.push(self.value(depth + 1)?);
        }
        Ok(items)
    }

    fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    /// The bytes up to the next CRLF, which is consumed.
    pub(crate) fn line(&mut self) -> Result<&'a [u8]> {
        let rest = &self.input[self.pos..];
        let end = rest
            .iter()
            .position(|&b| b == b'\r')
            .filter(|&cr| rest.get(cr + 1) == Some(&b'\n'))
            .ok_or_else(|| malformed("truncated line"))?;
        self.pos += end + 2;
        Ok(&rest[..end])
    }

    pub(crate) fn number(&mut self) -> Result<i64> {
        parse_int(self.line()?).ok_or_else(|| malformed("bad integer"))
    }

    /// A length or count; `-1` (RESP2's null) is `None`.
    pub(crate) fn length(&mut self) -> Result<Option<usize>> {
        if let Some(short) = self.short_length() {
            return Ok(Some(short));
        }
        match self.number()? {
            -1 => Ok(None),
            n => usize::try_from(n)
                .map(Some)
                .map_err(|_| malformed("negative length")),
        }
    }

    /// A length of up to 9 digits, read with its CRLF in one pass: most
    /// are. `None`, with nothing consumed, for anything else.
    fn short_length(&mut self) -> Option<usize> {
        let rest = self.input.get(self.pos..)?;
        let mut n = 0;
        for (at, &byte) in rest.iter().enumerate().take(10) {
            match byte {
                b'0'..=b'9' if at < 9 => n = n * 10 + usize::from(byte - b'0'),
                b'\r' if at > 0 && rest.get(at + 1) == Some(&b'\n') => {
                    self.pos += at + 2;
                    return Some(n);
                }
                _ => return None,
            }
        }
        None
    }

    /// `len` bytes followed by CRLF.
    pub(crate) fn blob(&mut self, len: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&end| {
                let crlf = end
                    .checked_add(2)
                    .and_then(|after| self.input.get(end..after));
                crlf == Some(b"\r\n".as_slice())
            })
            .ok_or_else(|| malformed("truncated string"))?;
        let blob = &self.input[self.pos..end];
        self.pos = end + 2;
        Ok(blob)
    }
}

/// A decimal integer, parsed by hand: the generic `str::parse` is several
/// times slower, and every reply holds at least one number.
///
/// Up to 19 digits cannot overflow a `u64`, so they are summed without
/// overflow checks: on wasm32 a checked 64-bit multiply is a call to a
/// 128-bit multiply (`__multi3`), once per digit.
pub(crate) fn parse_int(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    let (head, last) = match digits.split_at_checked(19) {
        Some((head, last)) => (head, last),
        None => (digits, &[][..]),
    };
    let mut n: u64 = 0;
    for &d in head {
        let d = d.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + u64::from(d);
    }
    // A twentieth digit (leading zeros) may overflow: checked.
    for &d in last {
        let d = d.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    if negative {
        // Down to i64::MIN, whose magnitude is one more than i64::MAX.
        match n.checked_sub(1) {
            None => Some(0),
            Some(m) => i64::try_from(m).ok().map(|m| -m - 1),
        }
    } else {
        i64::try_from(n).ok()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests;
