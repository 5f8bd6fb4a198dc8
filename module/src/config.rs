//! Limits and settings of the module.
//!
//! Every guest call runs under an execution-time limit and every library's
//! linear memory under a size limit, so that a trigger that loops or
//! allocates without end is stopped instead of stopping Redis.
//!
//! The limits users set are module configurations: arguments of `MODULE
//! LOAD` (`loadmodule libwasm_triggers.so max-execution-time 200`), lines
//! of `redis.conf`, and `CONFIG SET triggers.<name>` at run time. Each takes
//! effect at the next guest call.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use redis_module::configuration::{ConfigurationContext, ConfigurationFlags};
use redis_module::{Context, ContextFlags};

use crate::server::{self, config_get, redis_log};

/// `triggers.max-execution-time`: the time limit of one `describe`,
/// `on_fired` or `run` call, in milliseconds.
pub static MAX_EXECUTION_TIME_MS: AtomicI64 = AtomicI64::new(DEFAULT_MAX_EXECUTION_TIME_MS);
pub const DEFAULT_MAX_EXECUTION_TIME_MS: i64 = 500;

/// `triggers.max-memory`: the limit of one library's linear memory, in MB.
pub static MAX_MEMORY_MB: AtomicI64 = AtomicI64::new(DEFAULT_MAX_MEMORY_MB);
pub const DEFAULT_MAX_MEMORY_MB: i64 = 64;

/// `triggers.max-payload-size`: the largest payload `on_fired` may hand to
/// `run`, in bytes (`16mb` and other memory units are accepted).
pub static MAX_PAYLOAD_BYTES: AtomicI64 = AtomicI64::new(DEFAULT_MAX_PAYLOAD_BYTES);
pub const DEFAULT_MAX_PAYLOAD_BYTES: i64 = 16 << 20;

/// `triggers.max-library-size`: the largest component `TRIGGER LOAD`
/// accepts, in bytes.
pub static MAX_LIBRARY_BYTES: AtomicI64 = AtomicI64::new(DEFAULT_MAX_LIBRARY_BYTES);
pub const DEFAULT_MAX_LIBRARY_BYTES: i64 = 32 << 20;

/// `triggers.outbox-max-length`: the most entries one outbox stream holds
/// (see `outbox/append.rs` for what happens at the cap).
pub static OUTBOX_MAX_LENGTH: AtomicI64 = AtomicI64::new(DEFAULT_OUTBOX_MAX_LENGTH);
pub const DEFAULT_OUTBOX_MAX_LENGTH: i64 = 100_000;

/// `triggers.max-removed-value-size`: the largest removed value (its RESP3
/// encoding) a trigger that asks for removed values is given, in bytes;
/// a larger one is withheld (`events/removed.rs`).
pub static MAX_REMOVED_VALUE_BYTES: AtomicI64 = AtomicI64::new(DEFAULT_MAX_REMOVED_VALUE_BYTES);
pub const DEFAULT_MAX_REMOVED_VALUE_BYTES: i64 = 1 << 20;

/// A limit users can set: its `triggers.<name>`, where it is kept, and its
/// bounds (also given to Redis when the configuration is registered).
pub struct Limit {
    pub name: &'static str,
    pub value: &'static AtomicI64,
    pub default: i64,
    pub min: i64,
    pub max: i64,
    /// A size in bytes, which also takes `kb`, `mb` and `gb` units
    /// (registered with Redis' `MEMORY` flag).
    pub size: bool,
}

impl Limit {
    /// The flags it is registered with.
    pub fn flags(&self) -> ConfigurationFlags {
        if self.size {
            ConfigurationFlags::MEMORY
        } else {
            ConfigurationFlags::DEFAULT
        }
    }
}

/// The limits, by name: `lib.rs` registers each with Redis, and
/// [`apply_module_args`] looks them up in [`LIMITS`].
pub mod limits {
    use super::{
        Limit, DEFAULT_MAX_EXECUTION_TIME_MS, DEFAULT_MAX_LIBRARY_BYTES, DEFAULT_MAX_MEMORY_MB,
        DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_MAX_REMOVED_VALUE_BYTES, DEFAULT_OUTBOX_MAX_LENGTH,
        MAX_EXECUTION_TIME_MS, MAX_LIBRARY_BYTES, MAX_MEMORY_MB, MAX_PAYLOAD_BYTES,
        MAX_REMOVED_VALUE_BYTES,
    };

    /// `triggers.max-execution-time`.
    pub static MAX_EXECUTION_TIME: Limit = Limit {
        name: "max-execution-time",
        value: &MAX_EXECUTION_TIME_MS,
        default: DEFAULT_MAX_EXECUTION_TIME_MS,
        min: 1,
        max: 600_000,
        size: false,
    };

    /// `triggers.max-memory`.
    pub static MAX_MEMORY: Limit = Limit {
        name: "max-memory",
        value: &MAX_MEMORY_MB,
        default: DEFAULT_MAX_MEMORY_MB,
        min: 1,
        max: 65_536,
        size: false,
    };

    /// `triggers.max-payload-size`.
    pub static MAX_PAYLOAD_SIZE: Limit = Limit {
        name: "max-payload-size",
        value: &MAX_PAYLOAD_BYTES,
        default: DEFAULT_MAX_PAYLOAD_BYTES,
        min: 0,
        max: 1 << 30,
        size: true,
    };

    /// `triggers.max-library-size`.
    pub static MAX_LIBRARY_SIZE: Limit = Limit {
        name: "max-library-size",
        value: &MAX_LIBRARY_BYTES,
        default: DEFAULT_MAX_LIBRARY_BYTES,
        min: 1,
        max: 1 << 30,
        size: true,
    };

    /// `triggers.outbox-max-length`.
    pub static OUTBOX_MAX_LENGTH: Limit = Limit {
        name: "outbox-max-length",
        value: &super::OUTBOX_MAX_LENGTH,
        default: DEFAULT_OUTBOX_MAX_LENGTH,
        min: 1,
        max: 1 << 40,
        size: false,
    };

    /// `triggers.max-removed-value-size`.
    pub static MAX_REMOVED_VALUE_SIZE: Limit = Limit {
        name: "max-removed-value-size",
        value: &MAX_REMOVED_VALUE_BYTES,
        default: DEFAULT_MAX_REMOVED_VALUE_BYTES,
        min: 0,
        max: 1 << 30,
        size: true,
    };
}

/// Every limit, for `MODULE LOAD` arguments.
pub static LIMITS: [&Limit; 6] = [
    &limits::MAX_EXECUTION_TIME,
    &limits::MAX_MEMORY,
    &limits::MAX_PAYLOAD_SIZE,
    &limits::MAX_LIBRARY_SIZE,
    &limits::OUTBOX_MAX_LENGTH,
    &limits::MAX_REMOVED_VALUE_SIZE,
];

/// Applies `MODULE LOAD` arguments: pairs of a limit's name and its value,
/// such as `max-execution-time 200 max-payload-size 1mb`. An unknown name,
/// a bad value or a value out of bounds refuses the load.
pub fn apply_module_args(args: &[String]) -> Result<(), String> {
    if !args.len().is_multiple_of(2) {
        return Err(format!(
            "module arguments come in pairs, name and value; got {}",
            args.join(" ")
        ));
    }
    for pair in args.chunks(2) {
        let (name, text) = (pair[0].to_ascii_lowercase(), &pair[1]);
        let Some(limit) = LIMITS.iter().find(|l| l.name == name) else {
            let known: Vec<&str> = LIMITS.iter().map(|l| l.name).collect();
            return Err(format!(
                "unknown module argument '{name}' (known: {})",
                known.join(", ")
            ));
        };
        let value = parse_value(text, limit.size)
            .filter(|v| (limit.min..=limit.max).contains(v))
            .ok_or_else(|| {
                format!(
                    "bad value '{text}' for {name}: expected {}{} to {}",
                    if limit.size {
                        "a size from "
                    } else {
                        "a number from "
                    },
                    limit.min,
                    limit.max
                )
            })?;
        limit.value.store(value, Ordering::Relaxed);
    }
    Ok(())
}

fn parse_value(text: &str, size: bool) -> Option<i64> {
    let lower = text.to_ascii_lowercase();
    let (digits, unit) = match lower.find(|c: char| !c.is_ascii_digit()) {
        Some(at) if size => lower.split_at(at),
        Some(_) => return None,
        None => (lower.as_str(), ""),
    };
    let unit: i64 = match unit {
        "" | "b" => 1,
        "k" | "kb" => 1 << 10,
        "m" | "mb" => 1 << 20,
        "g" | "gb" => 1 << 30,
        _ => return None,
    };
    digits.parse::<i64>().ok()?.checked_mul(unit)
}

/// In a cluster, warns when `max-execution-time` is half of
/// `cluster-node-timeout` or more: triggers holding the server that long
/// before it answers `-BUSY` and serves the cluster bus again (`events/busy.rs`)
/// could make the other nodes fail this one over. Checked at `MODULE LOAD`
/// and at every change of the limit.
pub fn check_node_timeout(ctx: &Context) {
    if !ctx.get_flags().contains(ContextFlags::CLUSTER) {
        return;
    }
    let timeout = config_get(ctx, "cluster-node-timeout").and_then(|t| t.parse::<u64>().ok());
    let limit = max_execution_time_ms();
    if let Some(timeout) = timeout.filter(|t| limit.saturating_mul(2) >= *t) {
        redis_log(
            "warning",
            &format!(
                "triggers.max-execution-time ({limit} ms) is half of cluster-node-timeout \
                 ({timeout} ms) or more: triggers that hold the server that long can make \
                 the cluster fail this node over. Keep it well below half."
            ),
        );
    }
}

/// `CONFIG SET triggers.max-execution-time`: see [`check_node_timeout`].
pub fn on_time_limit_set(_: &ConfigurationContext, _: &str, _: &'static AtomicI64) {
    let ctx = server::module_ctx();
    if !ctx.is_null() {
        check_node_timeout(&Context::new(ctx));
    }
}

fn get(value: &AtomicI64) -> u64 {
    value.load(Ordering::Relaxed).max(0) as u64
}

pub fn max_execution_time_ms() -> u64 {
    get(&MAX_EXECUTION_TIME_MS)
}

pub fn max_memory_bytes() -> usize {
    (get(&MAX_MEMORY_MB) as usize).saturating_mul(1 << 20)
}

pub fn max_payload_bytes() -> usize {
    get(&MAX_PAYLOAD_BYTES) as usize
}

pub fn max_library_bytes() -> usize {
    get(&MAX_LIBRARY_BYTES) as usize
}

pub fn max_removed_value_bytes() -> usize {
    get(&MAX_REMOVED_VALUE_BYTES) as usize
}

pub fn outbox_max_length() -> usize {
    get(&OUTBOX_MAX_LENGTH) as usize
}

/// How often a long guest call checks its deadline, yields and looks for
/// `TRIGGER KILL` (`events/busy.rs`).
pub const CHECK_INTERVAL: Duration = Duration::from_millis(20);

/// How often the epoch ticker thread advances wasmtime's epoch. A guest
/// past its time limit is interrupted within one tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The Wasm stack a guest may use, in bytes.
pub const MAX_WASM_STACK_BYTES: usize = 512 << 10;

/// A library is one component: a few instances, tables and memories.
pub const MAX_INSTANCES: usize = 64;
pub const MAX_TABLES: usize = 64;
pub const MAX_MEMORIES: usize = 16;

pub fn max_execution_time() -> Duration {
    Duration::from_millis(max_execution_time_ms())
}

/// The epoch deadline, in ticks, that ends a guest call after `limit`.
/// One tick is added because the first one may come at once.
pub fn deadline_ticks(limit: Duration) -> u64 {
    let tick = EPOCH_TICK.as_micros().max(1);
    u64::try_from(limit.as_micros().div_ceil(tick)).unwrap_or(u64::MAX / 2) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_units() {
        assert_eq!(parse_value("200", false), Some(200));
        assert_eq!(parse_value("1mb", true), Some(1 << 20));
        assert_eq!(parse_value("16M", true), Some(16 << 20));
        assert_eq!(parse_value("3kb", true), Some(3 << 10));
        assert_eq!(parse_value("1mb", false), None);
        assert_eq!(parse_value("-5", false), None);
        assert_eq!(parse_value("", false), None);
        assert_eq!(parse_value("1tb", true), None);
        assert_eq!(parse_value("99999999999999999999", false), None);
    }

    #[test]
    fn module_arguments() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(apply_module_args(&args(&["max-execution-time"])).is_err());
        assert!(apply_module_args(&args(&["max-speed", "1"])).is_err());
        assert!(apply_module_args(&args(&["max-execution-time", "0"])).is_err());
        assert!(apply_module_args(&args(&["max-memory", "12x"])).is_err());
        assert!(apply_module_args(&args(&[])).is_ok());
    }
}
