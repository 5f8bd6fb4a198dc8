//! The forwarder: the outbox's entries published to RabbitMQ (AMQP 0-9-1)
//! with publisher confirms — key_evt_amqp's job, without its losses.
//!
//! The outbox is the backlog: durable, replicated, moving with its slot.
//! A thread of its own (`supervisor.rs`, each turn in `turn.rs`) reads
//! each of this node's outbox streams with a consumer group under the
//! server lock (`reading.rs`), turns entries into messages (`message.rs`),
//! publishes them with the lock released (`publishing.rs`), keeps up to
//! 2,000 of them unconfirmed while the next batches go out (`window.rs`),
//! and acknowledges an entry only once the broker confirmed it. Nothing of
//! it runs on Redis' main thread but the short reads and acknowledgements.
//! Settings are module configuration (`settings.rs`); `INFO triggers`
//! shows what it did (`stats.rs`).
//!
//! It uses `outbox` and `server`; nothing else uses it but `commands`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use redis_module::Context;

use crate::server::on_shutdown;

mod message;
mod publishing;
mod reading;
pub mod settings;
pub mod stats;
mod supervisor;
mod turn;
mod window;

/// At `MODULE LOAD`: starts the thread, which stays idle until
/// `triggers.amqp-url` is set, and stops it at `SHUTDOWN`.
pub fn init(ctx: &Context) -> Result<(), String> {
    on_shutdown(ctx, || supervisor::stop(Duration::from_secs(1)))?;
    settings::init()?;
    supervisor::start()
}

/// `OUTBOX CONNECT`: forwarding goes on (if a URL is set).
pub fn connect() {
    turn::PAUSED.store(false, Ordering::SeqCst);
}

/// `OUTBOX DISCONNECT`: the connection closes and entries wait in the
/// outbox until `OUTBOX CONNECT` (or a restart).
pub fn disconnect() {
    turn::PAUSED.store(true, Ordering::SeqCst);
}
