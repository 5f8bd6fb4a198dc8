//! A keyspace event as the host hands it to a library's `on-fired` and
//! `run`: its name as contract 0.2 carries it (a known event is a number,
//! not a string to copy), its key and its database; and the event in each
//! version's own terms.

use super::bindings::{v0_1, v0_2};
use super::contract::bytes;
use super::event_names::{event_name, name_string};

/// A keyspace event for a library.
pub struct Event {
    name: v0_2::EventName,
    key: Vec<u8>,
    pub db: i32,
}

impl Event {
    /// The event `name` of `key`, in database `db`.
    #[inline]
    pub fn new(name: &str, key: &[u8], db: i32) -> Self {
        Event {
            name: event_name(name),
            key: key.to_vec(),
            db,
        }
    }

    /// As contract 0.1 hands it over: its name a string.
    pub(super) fn v0_1(&self) -> v0_1::Event {
        v0_1::Event {
            name: name_string(&self.name),
            key: self.key.clone(),
            db: self.db,
        }
    }

    /// As contract 0.2 hands it over: its key in place when it fits.
    #[inline]
    pub(super) fn v0_2(&self) -> v0_2::Event {
        v0_2::Event {
            name: self.name.clone(),
            key: bytes(&self.key),
            db: self.db,
        }
    }
}
