//! One turn of the forwarder's loop (`supervisor.rs` runs the loop). Each
//! turn it takes the server lock to read a batch
//! (`reading.rs`), lets it go to publish the batch and wait for the
//! broker (`publishing.rs`), and takes it again to acknowledge what the
//! broker confirmed. Only primaries forward; a node that becomes a replica
//! drops its connection at its next turn.
//!
//! Per stream, only the entries before the first one the broker did not
//! confirm are acknowledged: the rest are read again, in order, after a
//! pause that doubles up to 5 s.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis_module::{Context, ContextFlags, ThreadSafeContext};
use tokio::runtime::Runtime;

use super::message::{message, OutboxEntry};
use super::publishing::{self, Broker, Outcome};
use super::reading;
use super::settings::Settings;
use super::stats::{self, add, BACKLOG, CONFIRMED, NACKED, RETURNED, SENT, SKIPPED};
use crate::outbox;
use crate::server::{config_get, redis_log};

/// Set by `OUTBOX DISCONNECT`, cleared by `OUTBOX CONNECT`.
pub static PAUSED: AtomicBool = AtomicBool::new(false);

/// Entries read per stream, and in all, per turn.
const PER_STREAM: usize = 100;
const PER_TURN: usize = 1000;
/// How often every outbox stream is looked at, not only those this node
/// appended to: streams loaded, replicated before a failover, or moved in.
/// It looks up one key per slot in each database that has keys, as
/// `OUTBOX STREAMS` does (7 ms on this 2-core machine, busy).
const LIST_EVERY: Duration = Duration::from_secs(5);
/// How often the backlog of the streams with entries is counted.
const COUNT_EVERY: Duration = Duration::from_secs(1);
const IDLE: Duration = Duration::from_millis(20);
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// A stream: its database and slot.
type StreamId = (i32, u16);

#[derive(Default)]
pub(super) struct Forwarder {
    runtime: Option<Runtime>,
    broker: Option<Broker>,
    /// Streams that may have entries to forward.
    streams: BTreeSet<StreamId>,
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
        let Some(batch) = self.read_batch() else {
            self.disconnect();
            stats::set_state("replica");
            return Duration::from_millis(100);
        };
        if batch.is_empty() {
            if self.broker.is_none() {
                // Connect ahead of the first event, to show errors early.
                if let Err(e) = self.connect(&settings) {
                    return self.failed(&e);
                }
                self.pause = Duration::ZERO;
            }
            return IDLE;
        }
        if let Err(e) = self.connect(&settings) {
            self.count_backlog();
            return self.failed(&e);
        }
        match self.forward(&settings, batch) {
            Ok(true) => {
                self.pause = Duration::ZERO;
                self.logged_error = None;
                Duration::ZERO
            }
            // `forward` recorded why.
            Ok(false) => self.back_off(),
            Err(e) => {
                self.disconnect();
                self.failed(&e)
            }
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

    pub(super) fn disconnect(&mut self) {
        if let (Some(broker), Some(runtime)) = (self.broker.take(), self.runtime.as_ref()) {
            publishing::set_in_use(None);
            runtime.block_on(broker.close());
        }
    }

    /// Under the server lock: the next entries to forward, by stream; `None`
    /// on a replica or while data loads.
    fn read_batch(&mut self) -> Option<Vec<(StreamId, Vec<OutboxEntry>)>> {
        let context = ThreadSafeContext::new();
        let ctx = context.lock();
        let flags = ctx.get_flags();
        if !flags.contains(ContextFlags::MASTER) || flags.contains(ContextFlags::LOADING) {
            self.listed = None;
            return None;
        }
        self.find_streams(&ctx);
        let mut batch = Vec::new();
        let mut total = 0;
        let mut drained = Vec::new();
        for &(db, slot) in &self.streams {
            if total >= PER_TURN {
                break;
            }
            match reading::read(&ctx, db, &outbox::stream_key(slot), PER_STREAM) {
                Ok(entries) if entries.is_empty() => drained.push((db, slot)),
                Ok(entries) => {
                    total += entries.len();
                    batch.push(((db, slot), entries));
                }
                Err(e) => stats::set_error(&e),
            }
        }
        for stream in drained {
            self.streams.remove(&stream);
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
        let streams = outbox::non_empty(ctx.ctx, self.databases);
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

    /// Publishes a batch and acknowledges what the broker confirmed: every
    /// message of the batch is published before the confirms are awaited,
    /// so a batch costs one round trip to the broker (and its disk).
    /// `Ok(false)` when some message was nacked or returned.
    fn forward(
        &mut self,
        settings: &Settings,
        batch: Vec<(StreamId, Vec<OutboxEntry>)>,
    ) -> Result<bool, String> {
        let broker = self.broker.as_ref().ok_or("not connected")?;
        let runtime = self.runtime.as_ref().ok_or("no runtime")?;
        // Entries trimmed while pending, and those of rules not forwarded,
        // are acknowledged without a message.
        let sent: Vec<Vec<&OutboxEntry>> = batch
            .iter()
            .map(|(_, entries)| {
                entries
                    .iter()
                    .filter(|e| !e.fields.is_empty() && settings.forwards(&text(e.field("source"))))
                    .collect()
            })
            .collect();
        let messages: Vec<_> = sent
            .iter()
            .flatten()
            .map(|e| message(e, settings))
            .collect();
        let total: usize = batch.iter().map(|(_, entries)| entries.len()).sum();
        add(&SKIPPED, (total - messages.len()) as u64);
        add(&SENT, messages.len() as u64);
        let mut outcomes = runtime
            .block_on(broker.publish(&settings.exchange, &messages))?
            .into_iter();
        let mut acknowledge: Vec<(StreamId, Vec<String>)> = Vec::new();
        let mut all_accepted = true;
        let mut first_error = None;
        for ((stream, entries), sent) in batch.iter().zip(&sent) {
            let outcomes: Vec<Outcome> = outcomes.by_ref().take(sent.len()).collect();
            for outcome in &outcomes {
                match outcome {
                    Outcome::Confirmed => add(&CONFIRMED, 1),
                    Outcome::Nacked => add(&NACKED, 1),
                    Outcome::Returned(reason) => {
                        add(&RETURNED, 1);
                        first_error.get_or_insert_with(|| {
                            format!("a message was returned unroutable: {reason}")
                        });
                    }
                }
            }
            // The first refused message, and all after it, stay pending.
            let keep_from = match outcomes.iter().position(|o| *o != Outcome::Confirmed) {
                Some(index) => {
                    all_accepted = false;
                    first_error.get_or_insert_with(|| "the broker nacked a message".into());
                    Some(sent[index].id.as_str())
                }
                None => None,
            };
            let done: Vec<String> = entries
                .iter()
                .map(|e| e.id.clone())
                .take_while(|id| keep_from.is_none_or(|keep| id_before(id, keep)))
                .collect();
            acknowledge.push((*stream, done));
        }
        let context = ThreadSafeContext::new();
        let ctx = context.lock();
        for ((db, slot), ids) in acknowledge {
            if let Err(e) = reading::acknowledge(&ctx, db, &outbox::stream_key(slot), &ids) {
                stats::set_error(&e);
            }
        }
        if let Some(error) = first_error {
            stats::set_error(&error);
        }
        Ok(all_accepted)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether stream id `a` (`<ms>-<seq>`) comes before `b`.
fn id_before(a: &str, b: &str) -> bool {
    let parse = |id: &str| {
        let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
        (
            ms.parse::<u64>().unwrap_or(0),
            seq.parse::<u64>().unwrap_or(0),
        )
    };
    parse(a) < parse(b)
}
