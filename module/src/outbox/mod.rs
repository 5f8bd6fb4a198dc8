//! The outbox: a durable log of keyspace events, in Redis streams next to
//! the data. An event that an outbox rule (`library/rules.rs`) matches is
//! appended, from a post-notification job, to the stream of its key's hash
//! slot (`slots.rs`), atomically with the command that raised it
//! (`append.rs`): the entry is in the outbox exactly when the command's
//! effect is in the data, in the AOF and on the replicas. Consumers read
//! the streams with consumer groups; `streams.rs` tells them which streams
//! this node holds, and `changes.rs` which it appended to lately.
//!
//! It uses `config` and `server`; it knows nothing of rules or triggers
//! (the entries it is given say what sent them), nor of Wasm.

mod append;
mod changes;
mod entry_id;
mod slots;
mod streams;

pub use append::{append, counts, note_evicted, run, run_with, Appended, Entry, Replicate};
pub use changes::since;
pub use entry_id::EntryId;
pub use slots::{is_stream_key, key_slot, stream_key};
pub use streams::non_empty;
