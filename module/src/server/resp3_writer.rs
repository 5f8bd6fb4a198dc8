//! RESP3, written up to a size: the encoding of a removed value
//! (`removed_value.rs`), as Redis would reply it to a client.

use super::decimal;

#[derive(Debug)]
pub(super) struct Encoded {
    pub(super) bytes: Vec<u8>,
    /// Where the encoding starts: the header of an aggregate is written
    /// last, in front of its elements, into room kept for it.
    pub(super) start: usize,
}

/// Room kept in front of the elements for an aggregate's header (`%` and
/// up to 20 digits and `\r\n`).
const HEADER_ROOM: usize = 24;

/// Writes RESP3 up to a size, noting when it would go over.
pub(super) struct Writer {
    bytes: Vec<u8>,
    max_bytes: usize,
    /// Set once a write would have gone past `max_bytes`: the rest is
    /// not written.
    pub(super) overflowed: bool,
}

impl Writer {
    /// A writer of at most `max_bytes`, with room for `expected` at first.
    pub(super) fn new(max_bytes: usize, expected: usize) -> Self {
        let mut bytes = Vec::with_capacity(HEADER_ROOM + expected);
        bytes.resize(HEADER_ROOM, 0);
        Writer {
            bytes,
            max_bytes,
            overflowed: false,
        }
    }

    pub(super) fn raw(&mut self, bytes: &[u8]) {
        if self.overflowed || self.bytes.len() - HEADER_ROOM + bytes.len() > self.max_bytes {
            self.overflowed = true;
            return;
        }
        self.bytes.extend_from_slice(bytes);
    }

    /// A blob string: `$<length>\r\n<bytes>\r\n`, in one write.
    pub(super) fn bulk(&mut self, bytes: &[u8]) {
        let (header, at) = header(b'$', bytes.len());
        let size = header.len() - at + bytes.len() + 2;
        if self.overflowed || self.bytes.len() - HEADER_ROOM + size > self.max_bytes {
            self.overflowed = true;
            return;
        }
        self.bytes.extend_from_slice(&header[at..]);
        self.bytes.extend_from_slice(bytes);
        self.bytes.extend_from_slice(b"\r\n");
    }

    /// An aggregate's or a string's header: `<kind><n>\r\n`.
    pub(super) fn count_header(&mut self, kind: u8, n: usize) {
        let (header, at) = header(kind, n);
        self.raw(&header[at..]);
    }

    pub(super) fn double(&mut self, score: f64) {
        let text = match score {
            f64::INFINITY => "inf".to_owned(),
            f64::NEG_INFINITY => "-inf".to_owned(),
            // Exact either way; the exponent keeps 1e300 short.
            _ if score != 0.0 && !(1e-5..1e17).contains(&score.abs()) => format!("{score:e}"),
            _ => score.to_string(),
        };
        self.raw(format!(",{text}\r\n").as_bytes());
    }

    /// The encoding: for an aggregate, its header (`kind` and `count`)
    /// goes into the room kept in front of the elements.
    pub(super) fn finish(self, aggregate: Option<u8>, count: usize) -> Encoded {
        let mut bytes = self.bytes;
        let Some(kind) = aggregate else {
            return Encoded {
                bytes,
                start: HEADER_ROOM,
            };
        };
        let (header, at) = header(kind, count);
        let start = HEADER_ROOM - (header.len() - at);
        bytes[start..HEADER_ROOM].copy_from_slice(&header[at..]);
        Encoded { bytes, start }
    }
}

/// `<kind><n>\r\n` at the end of a buffer, and where it starts: written
/// without `format!`, which costs an allocation per element.
fn header(kind: u8, n: usize) -> ([u8; HEADER_ROOM], usize) {
    let mut buffer = [0; HEADER_ROOM];
    let mut digits = [0; 20];
    let digits = decimal(n as u64, &mut digits);
    let at = HEADER_ROOM - 3 - digits.len();
    buffer[at] = kind;
    buffer[at + 1..HEADER_ROOM - 2].copy_from_slice(digits);
    buffer[HEADER_ROOM - 2..].copy_from_slice(b"\r\n");
    (buffer, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_aggregate_header_goes_in_front_of_its_elements() {
        let mut w = Writer::new(100, 0);
        w.bulk(b"f");
        w.bulk(b"v");
        let e = w.finish(Some(b'%'), 1);
        assert_eq!(&e.bytes[e.start..], b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
    }

    #[test]
    fn headers_of_any_size() {
        for n in [0, 7, 10, 12345, usize::MAX] {
            let (header, at) = header(b'*', n);
            assert_eq!(&header[at..], format!("*{n}\r\n").as_bytes());
        }
    }

    #[test]
    fn a_string_has_no_header() {
        let mut w = Writer::new(100, 0);
        w.bulk(b"\x00bin");
        let e = w.finish(None, 1);
        assert_eq!(&e.bytes[e.start..], b"$4\r\n\x00bin\r\n");
    }

    #[test]
    fn writing_past_the_size_is_noted_and_stops() {
        let mut w = Writer::new(12, 0);
        w.bulk(b"1234"); // `$4\r\n1234\r\n`: 10 bytes
        assert!(!w.overflowed);
        w.bulk(b"5"); // 7 more: nothing of it is written
        assert!(w.overflowed);
        w.raw(b"x");
        assert_eq!(w.bytes.len(), HEADER_ROOM + 10);
    }

    #[test]
    fn scores_are_resp3_doubles() {
        let mut w = Writer::new(100, 0);
        w.double(1.5);
        w.double(f64::NEG_INFINITY);
        w.double(3.0);
        w.double(1e300);
        assert_eq!(
            &w.bytes[HEADER_ROOM..],
            b",1.5\r\n,-inf\r\n,3\r\n,1e300\r\n"
        );
    }
}
