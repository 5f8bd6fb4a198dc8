//! The `INFO triggers` sections: the libraries, the set's version and
//! digest, the totals of all triggers, the removed values read for them,
//! the compiled-code cache, and the outbox; then the forwarder to RabbitMQ.

use redis_module::{InfoContext, RedisError, RedisResult};

use crate::forward::settings;
use crate::forward::stats::{self as fwd, get};
use crate::library::{self, stats};
use crate::wasm::code_cache;
use crate::{events, outbox};

/// The `INFO triggers` section. Never panics into Redis.
#[redis_module_macros::info_command_handler]
fn info_section(ctx: &InfoContext, _for_crash_report: bool) -> RedisResult<()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write_info(ctx))).unwrap_or(Err(
        RedisError::Str("internal error in the triggers INFO section"),
    ))
}

fn write_info(ctx: &InfoContext) -> RedisResult<()> {
    let (libraries, triggers) = library::counts();
    let totals = stats::totals();
    let (memory_hits, disk_hits, compiles) = code_cache::counts();
    let rules = library::all_rules().map_or(0, |r| r.len());
    let outbox = outbox::counts();
    let last_error = fwd::last_error();
    let (removed_read, removed_too_large, removed_module_type) = events::removed_value_counts();
    ctx.builder()
        .add_section("")
        .field("libraries", libraries as i64)?
        .field("triggers", triggers as i64)?
        .field("set_version", library::version() as i64)?
        .field("set_digest", library::set_digest())?
        .field("num_triggered", totals.triggered as i64)?
        .field("num_success", totals.success as i64)?
        .field("num_failed", totals.failed as i64)?
        .field("num_denied", totals.denied as i64)?
        .field("num_over_budget", events::over_budget() as i64)?
        .field("removed_values_read", removed_read as i64)?
        .field("removed_values_too_large", removed_too_large as i64)?
        .field("removed_values_module_type", removed_module_type as i64)?
        .field("keyspace_events", crate::server::delivered_classes())?
        .field("code_cache_memory_hits", memory_hits as i64)?
        .field("code_cache_disk_hits", disk_hits as i64)?
        .field("code_cache_compiles", compiles as i64)?
        .field("outbox_rules", rules as i64)?
        .field("outbox_appended", outbox.appended as i64)?
        .field("outbox_dropped", outbox.dropped as i64)?
        .field("outbox_trimmed", outbox.trimmed as i64)?
        .field("outbox_failed", outbox.failed as i64)?
        .field("outbox_evicted", outbox.evicted as i64)?
        .field("outbox_held", events::held_while_slots_move() as i64)?
        .build_section()?
        .add_section("forwarder")
        .field("forwarder_state", fwd::state())?
        .field(
            "forwarder_url",
            settings::redacted_url(&settings::URL.value()),
        )?
        .field("forwarder_backlog", get(&fwd::BACKLOG) as i64)?
        .field("forwarder_lag_ms", fwd::lag_ms() as i64)?
        .field("forwarder_rate", {
            fwd::sample_rate();
            get(&fwd::RATE) as i64
        })?
        .field("forwarder_sent", get(&fwd::SENT) as i64)?
        .field("forwarder_confirmed", get(&fwd::CONFIRMED) as i64)?
        .field("forwarder_nacked", get(&fwd::NACKED) as i64)?
        .field("forwarder_returned", get(&fwd::RETURNED) as i64)?
        .field("forwarder_skipped", get(&fwd::SKIPPED) as i64)?
        .field(
            "forwarder_last_error",
            last_error.as_ref().map_or("", |e| e.0.as_str()),
        )?
        .field(
            "forwarder_last_error_time",
            last_error.as_ref().map_or(0, |e| e.1 as i64),
        )?
        .build_section()?
        .build_info()?;
    Ok(())
}
