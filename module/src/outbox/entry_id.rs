//! Stream entry ids, `<ms>-<seq>`.

use std::cmp::Ordering;

/// A stream entry id, `<ms>-<seq>`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct EntryId(pub u64, pub u64);

impl EntryId {
    pub fn parse(text: &str) -> Option<EntryId> {
        let (ms, seq) = text.split_once('-')?;
        Some(EntryId(ms.parse().ok()?, seq.parse().ok()?))
    }

    /// The smallest id after this one.
    pub fn next(self) -> EntryId {
        match self.1.checked_add(1) {
            Some(seq) => EntryId(self.0, seq),
            None => EntryId(self.0.saturating_add(1), 0),
        }
    }

    pub fn min(self, other: EntryId) -> EntryId {
        match (self.0, self.1).cmp(&(other.0, other.1)) {
            Ordering::Greater => other,
            _ => self,
        }
    }
}

impl std::fmt::Display for EntryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_ids() {
        let id = EntryId::parse("1700000000000-5").expect("an id");
        assert_eq!(id.next().to_string(), "1700000000000-6");
        assert_eq!(EntryId(1, u64::MAX).next(), EntryId(2, 0));
        assert_eq!(EntryId(2, 0).min(EntryId(1, 9)), EntryId(1, 9));
        assert_eq!(EntryId::parse("nope"), None);
    }
}
