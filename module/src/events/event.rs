//! The event on its whole path: [`KeyEvent`] as the notification brings it
//! (borrowed from Redis), and [`KeptEvent`], its owned form, for an event
//! kept to fire once a guest returns (`guard.rs`).

use redis_module::NotifyEvent;

use crate::server::KeyName;
use crate::wasm::Removed;

/// A keyspace event.
pub(super) struct KeyEvent<'a> {
    /// Its class (with the bits redis-module does not name).
    pub kind: NotifyEvent,
    /// Its name: `set`, `hset`, `expired`, …
    pub name: &'a str,
    pub key: &'a [u8],
    /// The key as the owner's ACL check takes it.
    pub key_name: KeyName<'a>,
    /// The value it removed, if one was read (`removed.rs`).
    pub removed: Option<Removed>,
}

/// A [`KeyEvent`] kept for later, with its database.
pub(super) struct KeptEvent {
    pub kind: NotifyEvent,
    pub name: String,
    pub key: Vec<u8>,
    pub db: i32,
    pub removed: Option<Removed>,
}

impl KeyEvent<'_> {
    /// The owned form, in database `db`.
    pub(super) fn kept(self, db: i32) -> KeptEvent {
        KeptEvent {
            kind: self.kind,
            name: self.name.to_owned(),
            key: self.key.to_vec(),
            db,
            removed: self.removed,
        }
    }
}

impl KeptEvent {
    /// The borrowed form, taking the removed value along.
    pub(super) fn event(&mut self) -> KeyEvent<'_> {
        KeyEvent {
            kind: self.kind,
            name: &self.name,
            key: &self.key,
            key_name: KeyName::Bytes(&self.key),
            removed: self.removed.take(),
        }
    }
}
