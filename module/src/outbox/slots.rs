//! Hash slots, as Redis Cluster computes them, and the outbox stream of
//! each slot: `triggers:outbox:{<tag>}`, where `<tag>` is a short hash tag
//! chosen so that the stream lives in that slot. An event's entry goes to
//! the stream of its key's slot, so that it moves with its key in a
//! migration, is on the new primary after a failover, and keeps the order
//! of that key's events. A standalone server uses the same streams.

use std::sync::OnceLock;

/// The number of hash slots.
pub const SLOTS: usize = 16384;

/// What every outbox stream's name starts with.
pub const STREAM_PREFIX: &[u8] = b"triggers:outbox:{";

/// CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with.
fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= (byte as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The hash slot of `key`: of its hash tag (the text between its first `{`
/// and the next `}`, if not empty), or of the whole key.
pub fn key_slot(key: &[u8]) -> u16 {
    let hashed = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            let close = rest.iter().position(|&b| b == b'}')?;
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(key);
    crc16(hashed) % SLOTS as u16
}

/// For every slot, the shortest hash tag (of letters and digits) in it.
fn tags() -> &'static [Box<str>] {
    static TAGS: OnceLock<Vec<Box<str>>> = OnceLock::new();
    TAGS.get_or_init(|| {
        const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let mut tags: Vec<Option<Box<str>>> = vec![None; SLOTS];
        let mut missing = SLOTS;
        let mut len = 1;
        while missing > 0 {
            // Every string of `len` characters, in order.
            let count = ALPHABET.len().pow(len as u32);
            for mut n in 0..count {
                let mut tag = Vec::with_capacity(len);
                for _ in 0..len {
                    tag.push(ALPHABET[n % ALPHABET.len()]);
                    n /= ALPHABET.len();
                }
                let slot = key_slot(&tag) as usize;
                if tags[slot].is_none() {
                    tags[slot] = Some(String::from_utf8_lossy(&tag).into());
                    missing -= 1;
                }
            }
            len += 1;
        }
        tags.into_iter().map(Option::unwrap_or_default).collect()
    })
}

/// The name of the outbox stream of `slot`.
pub fn stream_key(slot: u16) -> Vec<u8> {
    let tag = &tags()[slot as usize % SLOTS];
    let mut key = Vec::with_capacity(STREAM_PREFIX.len() + tag.len() + 1);
    key.extend_from_slice(STREAM_PREFIX);
    key.extend_from_slice(tag.as_bytes());
    key.push(b'}');
    key
}

/// Whether `key` is an outbox stream's name (its events go to no outbox).
#[inline]
pub fn is_stream_key(key: &[u8]) -> bool {
    key.starts_with(STREAM_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_as_redis_computes_them() {
        // Values from `CLUSTER KEYSLOT`.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b""), 0);
    }

    #[test]
    fn every_slot_has_a_stream_in_it() {
        for slot in 0..SLOTS as u16 {
            let key = stream_key(slot);
            assert!(is_stream_key(&key));
            assert_eq!(key_slot(&key), slot, "{}", String::from_utf8_lossy(&key));
            assert!(key.len() <= STREAM_PREFIX.len() + 4);
        }
    }
}
