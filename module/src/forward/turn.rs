//! One turn of the forwarder's loop (`supervisor.rs` runs the loop). Each
//! turn it collects the broker's answers to the batches in flight
//! (`window.rs`) without the server lock, takes the lock once to
//! acknowledge what the broker confirmed and read the next batch
//! (`reading.rs`), and lets it go to publish that batch (`publishing.rs`),
//! without waiting for its confirms while fewer than [`IN_FLIGHT`] messages
//! are unconfirmed. Only primaries forward; a node that becomes a replica
//! drops its connection at its next turn.
//!
//! When the broker refuses a message, the batches in flight are answered
//! first, then every stream is read again from its first pending entry,
//! after a pause that doubles up to 5 s.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis_module::{Context, ContextFlags, ThreadSafeContext};
use tokio::runtime::Runtime;

use super::message::{message, OutboxEntry};
use super::publishing::{self, Broker};
use super::reading;
use super::settings::Settings;
use super::stats::{self, add, BACKLOG, SENT, SKIPPED};
use super::window::{Answered, DbSlot, Entry, Wait, Window};
use crate::outbox;
use crate::server::{config_get, redis_log};

/// Set by `OUTBOX DISCONNECT`, cleared by `OUTBOX CONNECT`.
pub static PAUSED: AtomicBool = AtomicBool::new(false);

/// Entries read per stream, and in all, per batch: the server lock is held
/// about a millisecond for each 200 (reading them and acknowledging as many).
const PER_STREAM: usize = 100;
const PER_BATCH: usize = 200;
/// Messages published and not yet confirmed, at most: the next batch waits
/// for the oldest one's confirms.
const IN_FLIGHT: usize = 2000;
/// How often every outbox stream is looked at, not only those this node
/// appended to: streams loaded, replicated before a failover, or moved in.
/// It looks up one key per slot in each database that has keys, as
/// `OUTBOX STREAMS` does (7 ms on this 2-core machine, busy).
const LIST_EVERY: Duration = Duration::from_secs(5);
/// How often the backlog of the streams with entries is counted.
const COUNT_EVERY: Duration = Duration::from_secs(1);
const IDLE: Duration = Duration::from_millis(20);
const MAX_PAUSE: Duration = Duration::from_secs(5);

#[derive(Default)]
pub(super) struct Forwarder {
    runtime: Option<Runtime>,
    broker: Option<Broker>,
    window: Window,
    /// Answers collected without the server lock, acknowledged under it.
    answered: Vec<Answered>,
    /// Streams that may have entries to forward.
    streams: BTreeSet<DbSlot>,
    /// The stream the next batch starts with, so that every stream gets
    /// its turn however full the others are.
    next_stream: Option<DbSlot>,
    /// Where `outbox::since` left off.
    epoch: u64,
    after: u64,
    listed: Option<Instant>,
    counted: Option<Instant>,
    databases: i32,
    pause: Duration,
    logged_error: Option<String>,
}

/// Logs from this thread, under the server lock.
pub(super) fn log(level: &str, message: &str) {
    let context = ThreadSafeContext::new();
    let _lock = context.lock();
    redis_log(level, message);
}

impl Forwarder {
    /// One turn; returns how long to wait before the next.
    pub(super) fn turn(&mut self) -> Duration {
        stats::sample_rate();
        let settings = Settings::now();
        if !settings.enabled() || PAUSED.load(Ordering::SeqCst) {
            self.disconnect();
            stats::set_state(if settings.enabled() {
                "disconnected"
            } else {
                "disabled"
            });
            if settings.enabled() {
                // Entries wait: keep counting them.
                self.count_backlog();
            }
            return Duration::from_millis(100);
        }
        // The broker's answers, without the server lock: all of them after a
        // refusal, the oldest when the window is full.
        let wait = if self.window.stopped() {
            Wait::All
        } else if self.window.messages() >= IN_FLIGHT {
            Wait::Oldest
        } else {
            Wait::No
        };
        self.collect_answers(wait);
        // Nothing is read before the connection is there: what is read is
        // published in the same turn.
        let connected = self.broker.as_ref().is_some_and(|b| b.serves(&settings));
        let read = connected && !self.window.stopped() && self.window.messages() < IN_FLIGHT;
        let Some(batch) = self.acknowledge_and_read(read) else {
            self.disconnect();
            stats::set_state("replica");
            return Duration::from_millis(100);
        };
        if let Some(error) = self.take_error() {
            return error;
        }
        if !connected {
            // On a primary: connect (ahead of the first event, to show
            // errors early); the next turn reads.
            if let Err(e) = self.connect(&settings) {
                self.count_backlog();
                return self.failed(&e);
            }
            return Duration::ZERO;
        }
        if self.window.stopped() {
            if !self.window.is_empty() {
                // The next turn waits for the rest of the window.
                return Duration::ZERO;
            }
            let read = self.window.restart_reading();
            self.streams.extend(read);
            return self.back_off();
        }
        if batch.is_empty() {
            if self.window.is_empty() {
                return IDLE;
            }
            // Nothing new: wait for the broker, then acknowledge.
            self.collect_answers(Wait::Oldest);
            return Duration::ZERO;
        }
        if let Err(e) = self.publish(&settings, batch) {
            self.disconnect();
            return self.failed(&e);
        }
        Duration::ZERO
    }

    /// What the answers collected say went wrong, if anything: `Some` with
    /// the wait before the next turn when the connection is lost (a
    /// refusal stops the window instead).
    fn take_error(&mut self) -> Option<Duration> {
        let mut lost = None;
        let mut accepted = false;
        for answered in std::mem::take(&mut self.answered) {
            match answered.error {
                Some(error) if answered.lost => {
                    lost.get_or_insert(error);
                }
                Some(error) => stats::set_error(&error),
                None => accepted = true,
            }
        }
        if let Some(error) = lost {
            self.disconnect();
            return Some(self.failed(&error));
        }
        // A batch the broker took whole ends the pauses after errors.
        if accepted && !self.window.stopped() {
            self.pause = Duration::ZERO;
            self.logged_error = None;
        }
        None
    }

    fn collect_answers(&mut self, wait: Wait) {
        if let Some(runtime) = self.runtime.as_ref() {
            let answered = self.window.answered(runtime, wait);
            self.answered.extend(answered);
        }
    }

    fn failed(&mut self, error: &str) -> Duration {
        stats::set_error(error);
        // Logged once until another error or a success, not at each retry.
        if self.logged_error.as_deref() != Some(error) {
            log("warning", &format!("forwarding to RabbitMQ: {error}"));
            self.logged_error = Some(error.to_owned());
        }
        self.back_off()
    }

    fn back_off(&mut self) -> Duration {
        stats::set_state("retrying");
        self.pause = (self.pause * 2).clamp(Duration::from_millis(100), MAX_PAUSE);
        self.pause
    }

    fn connect(&mut self, settings: &Settings) -> Result<(), String> {
        if self.broker.as_ref().is_some_and(|b| b.serves(settings)) {
            return Ok(());
        }
        self.disconnect();
        stats::set_state("connecting");
        if self.runtime.is_none() {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("triggers-fwd-io")
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the forwarder's runtime: {e}"))?;
            self.runtime = Some(runtime);
        }
        let runtime = self.runtime.as_ref().ok_or("no runtime")?;
        let broker = runtime.block_on(Broker::connect(settings))?;
        publishing::set_in_use(Some((&broker, runtime.handle().clone())));
        self.broker = Some(broker);
        stats::set_state("connected");
        Ok(())
    }

    /// Closes the connection; the batches in flight stay pending, to be
    /// read again.
    pub(super) fn disconnect(&mut self) {
        let read = self.window.abandon();
        self.streams.extend(read);
        self.answered.clear();
        if let (Some(broker), Some(runtime)) = (self.broker.take(), self.runtime.as_ref()) {
            publishing::set_in_use(None);
            runtime.block_on(broker.close());
        }
    }

    /// Under the server lock: acknowledges what the broker confirmed, then
    /// reads the next entries to forward, by stream (if `read`). `None` on
    /// a replica or while data loads.
    fn acknowledge_and_read(&mut self, read: bool) -> Option<Vec<(DbSlot, Vec<OutboxEntry>)>> {
        let context = ThreadSafeContext::new();
        let ctx = context.lock();
        let flags = ctx.get_flags();
        if !flags.contains(ContextFlags::MASTER) || flags.contains(ContextFlags::LOADING) {
            self.listed = None;
            return None;
        }
        for answered in &self.answered {
            for ((db, slot), ids) in &answered.acknowledge {
                if let Err(e) = reading::acknowledge(&ctx, *db, &outbox::stream_key(*slot), ids) {
                    stats::set_error(&e);
                }
            }
        }
        self.find_streams(&ctx);
        if !read {
            return Some(Vec::new());
        }
        // From `next_stream` on, then the streams before it.
        let start = self.next_stream.unwrap_or((i32::MIN, 0));
        let order: Vec<DbSlot> = self
            .streams
            .range(start..)
            .chain(self.streams.range(..start))
            .copied()
            .collect();
        let mut batch = Vec::new();
        let mut total = 0;
        for stream in order {
            if total >= PER_BATCH {
                self.next_stream = Some(stream);
                break;
            }
            let (db, slot) = stream;
            let cursor = self.window.cursor(stream);
            let count = PER_STREAM.min(PER_BATCH - total);
            match reading::read(&ctx, db, &outbox::stream_key(slot), count, &cursor) {
                Ok((entries, next)) => {
                    self.window.set_cursor(stream, next);
                    if entries.is_empty() {
                        self.streams.remove(&stream);
                    } else {
                        total += entries.len();
                        batch.push((stream, entries));
                    }
                }
                Err(e) => stats::set_error(&e),
            }
        }
        Some(batch)
    }

    /// Adds the streams appended to since the last turn, and every stream
    /// with entries every [`LIST_EVERY`]; counts the backlog every
    /// [`COUNT_EVERY`].
    fn find_streams(&mut self, ctx: &Context) {
        let since = outbox::since(self.epoch, self.after);
        let due = self.listed.is_none_or(|at| at.elapsed() >= LIST_EVERY);
        match since.streams {
            Some(changed) if !due => self.streams.extend(changed),
            _ => self.list_all(ctx),
        }
        self.epoch = since.epoch;
        self.after = since.last;
        if self.counted.is_none_or(|at| at.elapsed() >= COUNT_EVERY) {
            let (mut backlog, mut oldest) = (0, None::<u64>);
            for &(db, slot) in &self.streams {
                let (count, first) = reading::backlog(ctx, db, &outbox::stream_key(slot));
                backlog += count;
                oldest = match (oldest, first) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            BACKLOG.store(backlog, Ordering::Relaxed);
            stats::set_oldest_waiting(oldest);
            self.counted = Some(Instant::now());
        }
    }

    /// Every outbox stream with entries.
    fn list_all(&mut self, ctx: &Context) {
        if self.databases == 0 {
            self.databases = config_get(ctx, "databases")
                .and_then(|d| d.parse().ok())
                .unwrap_or(16);
        }
        let streams = outbox::non_empty(ctx, self.databases);
        self.streams.extend(streams.iter().map(|s| (s.db, s.slot)));
        self.listed = Some(Instant::now());
    }

    /// Keeps the backlog counted while not forwarding (on a primary).
    fn count_backlog(&mut self) {
        if self.counted.is_some_and(|at| at.elapsed() < COUNT_EVERY) {
            return;
        }
        let context = ThreadSafeContext::new();
        let ctx = context.lock();
        if ctx.get_flags().contains(ContextFlags::MASTER) {
            self.find_streams(&ctx);
        }
    }

    /// Publishes a batch without waiting for the broker's confirms (a task
    /// on the runtime waits for them), and adds it to the window.
    fn publish(
        &mut self,
        settings: &Settings,
        batch: Vec<(DbSlot, Vec<OutboxEntry>)>,
    ) -> Result<(), String> {
        let broker = self.broker.as_ref().ok_or("not connected")?;
        let runtime = self.runtime.as_ref().ok_or("no runtime")?;
        let mut messages = Vec::new();
        let mut streams = Vec::with_capacity(batch.len());
        for (stream, entries) in batch {
            let entries = entries
                .into_iter()
                .map(|entry| {
                    // Entries trimmed while pending, and those of rules not
                    // forwarded, are acknowledged without a message.
                    let sent =
                        !entry.fields.is_empty() && settings.forwards(&text(entry.field("source")));
                    if sent {
                        messages.push(message(&entry, settings));
                    }
                    Entry { id: entry.id, sent }
                })
                .collect::<Vec<_>>();
            add(&SKIPPED, entries.iter().filter(|e| !e.sent).count() as u64);
            streams.push((stream, entries));
        }
        add(&SENT, messages.len() as u64);
        let confirms = runtime.block_on(broker.send(&settings.exchange, &messages))?;
        let outcomes = runtime.spawn(publishing::outcomes(confirms));
        self.window.push(streams, outcomes);
        Ok(())
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
