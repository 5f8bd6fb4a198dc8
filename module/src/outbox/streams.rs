//! The outbox streams this node holds: what `OUTBOX STREAMS` lists, so that
//! a consumer never scans the keyspace. The streams' names are known in
//! advance (one per slot), so this looks each of them up in every database
//! that has keys: a fixed cost, whatever the size of the keyspace.

use redis_module::Context;

use super::slots::{stream_key, SLOTS};
use crate::server::{db_size, select_db, selected_db, stream_last_id, stream_length, KeyLength};

/// An outbox stream with entries.
pub struct Stream {
    pub db: i32,
    pub slot: u16,
    pub key: Vec<u8>,
    pub length: usize,
    /// The id of its last entry, `<ms>-<seq>`: a consumer that read up to
    /// it has nothing new to read there.
    pub last_id: String,
}

/// The outbox streams with entries in databases `0..databases`, looked up
/// with `ctx`, whose selected database is restored afterwards.
pub fn non_empty(ctx: &Context, databases: i32) -> Vec<Stream> {
    let selected = selected_db(ctx);
    let mut streams = Vec::new();
    for db in 0..databases {
        if !select_db(ctx, db) || db_size(ctx) == 0 {
            continue;
        }
        for slot in 0..SLOTS as u16 {
            let key = stream_key(slot);
            if let KeyLength::Stream(length) = stream_length(ctx, &key) {
                let last_id = stream_last_id(ctx, &key).map(|(ms, seq)| format!("{ms}-{seq}"));
                if let (true, Some(last_id)) = (length > 0, last_id) {
                    streams.push(Stream {
                        db,
                        slot,
                        key,
                        length,
                        last_id,
                    });
                }
            }
        }
    }
    select_db(ctx, selected);
    streams
}
