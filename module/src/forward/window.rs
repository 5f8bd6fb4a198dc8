//! The batches the forwarder published and the broker has not answered
//! yet, oldest first, and where the reading of each stream goes on. A new
//! batch goes out while the broker still writes earlier ones to disk, so a
//! batch costs no round trip of its own; entries are acknowledged in the
//! order they were sent, and only once confirmed.
//!
//! Per stream, only the entries before the first one the broker did not
//! confirm are acknowledged, in that batch and in every later one. Once
//! the batches in flight are answered, every stream is read again from its
//! first pending entry: what was not acknowledged is sent again, in order.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use super::publishing::Outcome;
use super::stats::{add, CONFIRMED, NACKED, RETURNED};

/// A stream: its database and slot.
pub(super) type DbSlot = (i32, u16);

/// Where the reading of a stream goes on.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Cursor {
    /// Entries read before and not acknowledged, after this id (`0`: from
    /// the first).
    Pending(String),
    /// Entries never read (`>`).
    New,
}

/// One entry of a batch: its id, and whether it went out as a message
/// (entries trimmed while pending, and those of rules not forwarded, are
/// acknowledged without one).
pub(super) struct Entry {
    pub id: String,
    pub sent: bool,
}

/// A published batch: its entries by stream, in the order of the
/// messages, and the broker's word on each message (a task on the
/// forwarder's runtime).
struct Batch {
    streams: Vec<(DbSlot, Vec<Entry>)>,
    messages: usize,
    outcomes: JoinHandle<Result<Vec<Outcome>, String>>,
}

/// What the broker said about a batch, and what to acknowledge of it.
pub(super) struct Answered {
    pub acknowledge: Vec<(DbSlot, Vec<String>)>,
    /// Why something stays pending: a message nacked or returned, or (with
    /// `lost` set) the connection's error.
    pub error: Option<String>,
    /// The connection is no longer usable.
    pub lost: bool,
}

/// How long [`Window::answered`] waits.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Wait {
    /// Only the batches already answered.
    No,
    /// For the oldest batch, and those answered after it.
    Oldest,
    /// For every batch in flight.
    All,
}

#[derive(Default)]
pub(super) struct Window {
    batches: VecDeque<Batch>,
    /// Messages in the batches in flight.
    messages: usize,
    cursors: BTreeMap<DbSlot, Cursor>,
    /// Streams with a message the broker refused since the window was last
    /// empty: nothing more of them is acknowledged until they are read
    /// again from their first pending entry.
    stopped: BTreeSet<DbSlot>,
}

impl Window {
    /// Where the reading of `stream` goes on.
    pub fn cursor(&self, stream: DbSlot) -> Cursor {
        self.cursors
            .get(&stream)
            .cloned()
            .unwrap_or_else(|| Cursor::Pending("0".into()))
    }

    pub fn set_cursor(&mut self, stream: DbSlot, cursor: Cursor) {
        self.cursors.insert(stream, cursor);
    }

    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Messages in flight.
    pub fn messages(&self) -> usize {
        self.messages
    }

    /// Whether a refused message waits for the window to empty.
    pub fn stopped(&self) -> bool {
        !self.stopped.is_empty()
    }

    pub fn push(
        &mut self,
        streams: Vec<(DbSlot, Vec<Entry>)>,
        outcomes: JoinHandle<Result<Vec<Outcome>, String>>,
    ) {
        let messages = streams
            .iter()
            .flat_map(|(_, entries)| entries)
            .filter(|e| e.sent)
            .count();
        self.messages += messages;
        self.batches.push_back(Batch {
            streams,
            messages,
            outcomes,
        });
    }

    /// The oldest batches the broker has answered, in order, as what to
    /// acknowledge of each, after waiting as `wait` says (each batch's wait
    /// is bounded by the broker's timeout).
    pub fn answered(&mut self, runtime: &Runtime, wait: Wait) -> Vec<Answered> {
        let mut answered = Vec::new();
        while let Some(batch) = self.batches.front() {
            let waits = match wait {
                Wait::No => false,
                Wait::Oldest => answered.is_empty(),
                Wait::All => true,
            };
            if !waits && !batch.outcomes.is_finished() {
                break;
            }
            let Some(batch) = self.batches.pop_front() else {
                break;
            };
            self.messages -= batch.messages;
            let outcomes = match runtime.block_on(batch.outcomes) {
                Ok(outcomes) => outcomes,
                Err(e) => Err(format!("the forwarder's task failed: {e}")),
            };
            answered.push(self.settle(batch.streams, outcomes));
        }
        answered
    }

    /// What to acknowledge of a batch the broker answered.
    fn settle(
        &mut self,
        streams: Vec<(DbSlot, Vec<Entry>)>,
        outcomes: Result<Vec<Outcome>, String>,
    ) -> Answered {
        let outcomes = match outcomes {
            Ok(outcomes) => outcomes,
            Err(error) => {
                // Nothing of it is acknowledged, nor anything later of its
                // streams: what is sent again arrives after the rest.
                self.stopped
                    .extend(streams.iter().map(|(stream, _)| *stream));
                return Answered {
                    acknowledge: Vec::new(),
                    error: Some(error),
                    lost: true,
                };
            }
        };
        let mut outcomes = outcomes.into_iter();
        let mut error = None;
        let mut acknowledge = Vec::with_capacity(streams.len());
        for (stream, entries) in streams {
            let mut done = Vec::with_capacity(entries.len());
            for entry in entries {
                let accepted = if entry.sent {
                    match outcomes.next() {
                        Some(Outcome::Confirmed) => {
                            add(&CONFIRMED, 1);
                            true
                        }
                        Some(Outcome::Nacked) => {
                            add(&NACKED, 1);
                            error.get_or_insert_with(|| "the broker nacked a message".into());
                            false
                        }
                        Some(Outcome::Returned(reason)) => {
                            add(&RETURNED, 1);
                            error.get_or_insert_with(|| {
                                format!("a message was returned unroutable: {reason}")
                            });
                            false
                        }
                        None => false,
                    }
                } else {
                    true
                };
                if !accepted {
                    self.stopped.insert(stream);
                }
                if !self.stopped.contains(&stream) {
                    done.push(entry.id);
                }
            }
            acknowledge.push((stream, done));
        }
        Answered {
            acknowledge,
            error,
            lost: false,
        }
    }

    /// Once the window is empty after a refusal: every stream is read
    /// again from its first pending entry. The streams read so far, to
    /// read again.
    pub fn restart_reading(&mut self) -> Vec<DbSlot> {
        debug_assert!(self.batches.is_empty());
        self.stopped.clear();
        std::mem::take(&mut self.cursors).into_keys().collect()
    }

    /// Forgets the batches in flight (their entries stay pending) and
    /// reads every stream again from its first pending entry: after the
    /// connection is lost or closed, or when this node stops being a
    /// primary.
    pub fn abandon(&mut self) -> Vec<DbSlot> {
        for batch in self.batches.drain(..) {
            batch.outcomes.abort();
        }
        self.messages = 0;
        self.restart_reading()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(ids: &[(&str, bool)]) -> Vec<Entry> {
        ids.iter()
            .map(|(id, sent)| Entry {
                id: id.to_string(),
                sent: *sent,
            })
            .collect()
    }

    const A: DbSlot = (0, 1);
    const B: DbSlot = (0, 2);

    /// A refused message stops its stream, in its batch and in later
    /// ones, and no other.
    #[test]
    fn a_refusal_stops_only_its_stream_until_read_again() {
        let mut window = Window::default();
        let first = window.settle(
            vec![
                (A, entries(&[("1-0", true), ("2-0", true), ("3-0", false)])),
                (B, entries(&[("1-1", true), ("2-1", false)])),
            ],
            Ok(vec![
                Outcome::Confirmed,
                Outcome::Nacked,
                Outcome::Confirmed,
            ]),
        );
        assert_eq!(
            first.acknowledge,
            [
                (A, vec!["1-0".to_string()]),
                (B, vec!["1-1".into(), "2-1".into()])
            ]
        );
        assert_eq!(first.error.as_deref(), Some("the broker nacked a message"));
        assert!(!first.lost && window.stopped());
        let second = window.settle(
            vec![
                (A, entries(&[("4-0", true)])),
                (B, entries(&[("3-1", true)])),
            ],
            Ok(vec![Outcome::Confirmed, Outcome::Confirmed]),
        );
        assert_eq!(
            second.acknowledge,
            [(A, vec![]), (B, vec!["3-1".to_string()])]
        );
        assert_eq!(second.error, None);
        window.set_cursor(B, Cursor::New);
        assert_eq!(window.restart_reading(), [B]);
        assert!(!window.stopped());
        assert_eq!(window.cursor(A), Cursor::Pending("0".into()));
    }

    /// A batch whose confirms never came acknowledges nothing, and stops
    /// its streams.
    #[test]
    fn a_lost_batch_acknowledges_nothing() {
        let mut window = Window::default();
        let lost = window.settle(
            vec![(A, entries(&[("1-0", true), ("2-0", false)]))],
            Err("the broker did not confirm a batch in 10 s".into()),
        );
        assert!(lost.lost && lost.acknowledge.is_empty());
        let later = window.settle(
            vec![(A, entries(&[("3-0", true)]))],
            Ok(vec![Outcome::Confirmed]),
        );
        assert_eq!(later.acknowledge, [(A, vec![])]);
    }

    /// A returned message is refused like a nacked one.
    #[test]
    fn a_returned_message_stops_its_stream() {
        let mut window = Window::default();
        let answered = window.settle(
            vec![(A, entries(&[("1-0", true), ("2-0", true)]))],
            Ok(vec![
                Outcome::Returned("NO_ROUTE".into()),
                Outcome::Confirmed,
            ]),
        );
        assert_eq!(answered.acknowledge, [(A, vec![])]);
        assert!(answered.error.is_some_and(|e| e.contains("NO_ROUTE")));
    }
}
