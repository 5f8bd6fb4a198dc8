//! The names of libraries, triggers and outbox rules.

/// Longest library, trigger or outbox rule name.
pub(super) const MAX_NAME_LEN: usize = 128;

/// 1 to [`MAX_NAME_LEN`] characters from `[A-Za-z0-9_]`.
pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}
