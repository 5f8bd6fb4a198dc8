//! A set of hash slots, for the slot migrations this node takes part in.

/// A set of slots, one bit each; empty (no allocation) when no slot is in.
#[derive(Default)]
pub(super) struct Slots(Vec<u64>);

impl Slots {
    /// No slot.
    pub(super) const fn new() -> Self {
        Slots(Vec::new())
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(super) fn contains(&self, slot: u16) -> bool {
        let slot = usize::from(slot);
        !self.0.is_empty() && self.0[slot / 64] & (1 << (slot % 64)) != 0
    }

    pub(super) fn set(&mut self, ranges: &[(u16, u16)], member: bool) {
        self.0.resize(16384 / 64, 0);
        for &(start, end) in ranges {
            for slot in usize::from(start)..=usize::from(end.min(16383)) {
                if member {
                    self.0[slot / 64] |= 1 << (slot % 64);
                } else {
                    self.0[slot / 64] &= !(1 << (slot % 64));
                }
            }
        }
        if self.0.iter().all(|&word| word == 0) {
            self.0 = Vec::new();
        }
    }
}
