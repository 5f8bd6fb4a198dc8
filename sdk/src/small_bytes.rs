//! Bytes kept in place when they fit: [`SmallBytes`], what the SDK makes of
//! the WIT `bytes` variant (an event's key, a command's replies), and back.
//!
//! The host sends up to 40 bytes in `bytes`' `short` case, inside the call's
//! own arguments or return area, so that the library need not allocate for
//! them: every `list` the host hands over costs a call into the library's
//! allocator. Keeping them in a stack array here, rather than copying them
//! into a `Vec`, keeps that saving.

use std::fmt;

use crate::__bindings::redis::triggers::types;

/// How many bytes `short-bytes` holds: five 8-byte words.
pub(crate) const SHORT_CAPACITY: usize = 40;

/// How many bytes `tiny` holds: seven, and their count in the eighth.
const TINY_CAPACITY: usize = 7;

/// Bytes: up to [`SHORT_CAPACITY`] in place, more on the heap.
#[derive(Clone)]
pub(crate) enum SmallBytes {
    Inline {
        len: u8,
        bytes: [u8; SHORT_CAPACITY],
    },
    Heap(Vec<u8>),
}

impl SmallBytes {
    /// The bytes the host sent. A case in place claiming more bytes than
    /// it holds is malformed: an error, not a panic, since it comes from
    /// the host.
    pub(crate) fn from_wit(bytes: types::Bytes) -> Result<Self, String> {
        match bytes {
            types::Bytes::Long(vec) => Ok(SmallBytes::Heap(vec)),
            types::Bytes::Tiny(word) => {
                let word = word.to_le_bytes();
                let len = word[TINY_CAPACITY];
                if usize::from(len) > TINY_CAPACITY {
                    return Err(format!(
                        "malformed bytes from the host: {len} bytes in one word, more than \
                         {TINY_CAPACITY}"
                    ));
                }
                let mut bytes = [0; SHORT_CAPACITY];
                bytes[..TINY_CAPACITY].copy_from_slice(&word[..TINY_CAPACITY]);
                Ok(SmallBytes::Inline { len, bytes })
            }
            types::Bytes::Short(short) if usize::from(short.length) <= SHORT_CAPACITY => {
                let (a, b, c, d, e) = short.bytes;
                // Byte i is byte (i % 8) of word i / 8, little-endian.
                let [a, b, c, d, e] = [a, b, c, d, e].map(u64::to_le_bytes);
                let mut bytes = [0; SHORT_CAPACITY];
                bytes[..8].copy_from_slice(&a);
                bytes[8..16].copy_from_slice(&b);
                bytes[16..24].copy_from_slice(&c);
                bytes[24..32].copy_from_slice(&d);
                bytes[32..].copy_from_slice(&e);
                Ok(SmallBytes::Inline {
                    len: short.length,
                    bytes,
                })
            }
            types::Bytes::Short(short) => Err(format!(
                "malformed bytes from the host: {} bytes in place, more than {SHORT_CAPACITY}",
                short.length
            )),
        }
    }

    /// Hands `read` the bytes the host sent, from the stack when they came
    /// in place: for a reply read once, without a `SmallBytes` kept.
    /// Malformed as in [`from_wit`](Self::from_wit).
    #[inline]
    pub(crate) fn read_wit<R>(
        bytes: types::Bytes,
        read: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, String> {
        if let types::Bytes::Tiny(word) = bytes {
            let word = word.to_le_bytes();
            let len = usize::from(word[TINY_CAPACITY]);
            if len <= TINY_CAPACITY {
                return Ok(read(&word[..len]));
            }
        }
        Self::from_wit(bytes).map(|bytes| read(bytes.as_slice()))
    }

    /// `bytes` as the host reads them: in place when they fit, in the
    /// smallest case they fit, as the host sends them.
    pub(crate) fn to_wit(bytes: &[u8]) -> types::Bytes {
        let Ok(length) = u8::try_from(bytes.len()) else {
            return types::Bytes::Long(bytes.to_vec());
        };
        if bytes.len() <= TINY_CAPACITY {
            let mut word = [0; 8];
            word[..bytes.len()].copy_from_slice(bytes);
            word[TINY_CAPACITY] = length;
            return types::Bytes::Tiny(u64::from_le_bytes(word));
        }
        if bytes.len() > SHORT_CAPACITY {
            return types::Bytes::Long(bytes.to_vec());
        }
        let mut words = [0u64; 5];
        for (word, chunk) in words.iter_mut().zip(bytes.chunks(8)) {
            let mut padded = [0; 8];
            padded[..chunk.len()].copy_from_slice(chunk);
            *word = u64::from_le_bytes(padded);
        }
        let [a, b, c, d, e] = words;
        types::Bytes::Short(types::ShortBytes {
            length,
            bytes: (a, b, c, d, e),
        })
    }

    /// An integer reply, `:<n>\r\n`, in place.
    pub(crate) fn integer_reply(n: i64) -> Self {
        let mut bytes = [0; SHORT_CAPACITY];
        let mut len = 0;
        for &b in b":".iter().chain(n.to_string().as_bytes()).chain(b"\r\n") {
            bytes[len] = b;
            len += 1;
        }
        SmallBytes::Inline {
            // At most 23 bytes: `:`, a sign, 19 digits and CRLF.
            len: len as u8,
            bytes,
        }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            // `len` was checked when the bytes came in; `min` keeps this
            // free of a panic path all the same.
            SmallBytes::Inline { len, bytes } => &bytes[..usize::from(*len).min(SHORT_CAPACITY)],
            SmallBytes::Heap(vec) => vec,
        }
    }
}

impl From<Vec<u8>> for SmallBytes {
    fn from(vec: Vec<u8>) -> Self {
        SmallBytes::Heap(vec)
    }
}

/// Equal when the bytes are, wherever they are kept.
impl PartialEq for SmallBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

/// As a byte slice, as `Vec<u8>` shows.
impl fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_slice().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bytes: &[u8]) -> SmallBytes {
        SmallBytes::from_wit(SmallBytes::to_wit(bytes)).expect("well formed")
    }

    #[test]
    fn short_bytes_are_little_endian_words() {
        let types::Bytes::Short(short) = SmallBytes::to_wit(b"abcdefghi") else {
            panic!("9 bytes travel in place");
        };
        assert_eq!(short.length, 9);
        assert_eq!(short.bytes.0, u64::from_le_bytes(*b"abcdefgh"));
        assert_eq!(short.bytes.1, u64::from(b'i'));
        assert_eq!((short.bytes.2, short.bytes.4), (0, 0));
    }

    #[test]
    fn up_to_7_bytes_are_one_word_with_their_length_last() {
        let types::Bytes::Tiny(word) = SmallBytes::to_wit(b"+hash\r\n") else {
            panic!("7 bytes travel in one word");
        };
        assert_eq!(word, u64::from_le_bytes(*b"+hash\r\n\x07"));
        assert!(matches!(SmallBytes::to_wit(b""), types::Bytes::Tiny(0)));
        assert!(matches!(
            SmallBytes::to_wit(b"+string\r\n"),
            types::Bytes::Short(_)
        ));
    }

    #[test]
    fn bytes_round_trip_in_place_up_to_40() {
        for len in [0, 1, 6, 7, 8, 9, 39, 40, 41, 300] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + 1) as u8).collect();
            let back = round_trip(&bytes);
            assert_eq!(back.as_slice(), bytes, "{len} bytes");
            assert_eq!(matches!(back, SmallBytes::Inline { .. }), len <= 40);
        }
        assert_eq!(round_trip(b"k"), SmallBytes::from(b"k".to_vec()));
    }

    #[test]
    fn integer_replies() {
        assert_eq!(SmallBytes::integer_reply(0).as_slice(), b":0\r\n");
        assert_eq!(
            SmallBytes::integer_reply(i64::MIN).as_slice(),
            b":-9223372036854775808\r\n"
        );
    }

    #[test]
    fn an_overlong_case_in_place_is_an_error() {
        let eight = types::Bytes::Tiny(u64::from_le_bytes(*b"abcdefg\x08"));
        assert!(SmallBytes::from_wit(eight).is_err());
        let short = types::ShortBytes {
            length: 41,
            bytes: (0, 0, 0, 0, 0),
        };
        assert!(SmallBytes::from_wit(types::Bytes::Short(short)).is_err());
    }
}
