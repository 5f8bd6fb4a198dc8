//! A library and a whole set as they are kept (in the RDB file, the AOF)
//! and sent (to replicas and other cluster nodes): what it takes to load
//! them again. Plain data, used by every other file of `library/`.

use super::rules::RuleSpec;

/// A library as the RDB file keeps it: what it takes to load it again.
#[derive(Clone, Debug, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct SavedLibrary {
    pub owner: String,
    pub code: Vec<u8>,
    /// The configuration from `TRIGGER LOAD … CONFIG`, or empty.
    pub config: String,
}

/// A whole set, as the RDB file keeps it or another node sends it.
#[derive(Default)]
pub struct SavedSet {
    pub libraries: Vec<SavedLibrary>,
    pub rules: Vec<RuleSpec>,
}
