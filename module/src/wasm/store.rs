//! A library's [`Store`]: what it carries ([`HostState`]), how long a call
//! may run ([`CallLimit`], the epoch deadline and its callback), and how
//! much memory the guest may take ([`Limiter`]).

use std::cell::RefCell;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::owner::CallUser;
use crate::config;
use crate::server::{CallBuffers, RedisCtx, RemovedValue};

/// What `call` may do in the guest call in progress. (In `describe` there
/// is no Redis context at all, so `call` is refused before the mode matters.)
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CallMode {
    /// `on-fired`: inside the keyspace notification; Redis refuses writes.
    ReadOnly,
    /// `run`: inside a post-notification job; writes are replicated.
    Write,
}

/// A value an event removed, shared by the triggers it is handed to. (An
/// `Arc` only because a store must be `Send`: removed values never leave
/// Redis' main thread.)
pub type Removed = std::sync::Arc<RemovedValue>;

/// Everything a library's store carries: the Redis context of the call in
/// progress, and the sandboxed WASI state.
pub struct HostState {
    /// The Redis context of the guest call in progress; null between calls
    /// and while `describe` runs.
    pub ctx: RedisCtx,
    /// Whether `call` may write (in `run`) or not (in `on-fired`).
    pub mode: CallMode,
    /// The library's name, for log lines.
    pub library: String,
    /// Its triggers' names, in `describe`'s order, and the index of the one
    /// called, for outbox entries' `source`.
    pub triggers: Vec<String>,
    pub trigger: u32,
    /// The library's configuration (a JSON object, `{}` when none): what
    /// `host.config` returns.
    pub config: String,
    /// The ACL user its calls run as; none while it loads.
    pub user: Option<CallUser>,
    /// What `call` puts a command together in, reused call after call.
    pub call_buffers: RefCell<CallBuffers>,
    /// The last panic message a guest reported through the SDK, used to
    /// explain the trap that follows it.
    pub panic_message: Option<String>,
    /// Why the `run` in progress fails, from `host.fail` (contract 0.2).
    pub failure: Option<String>,
    /// The replies of a pipeline (contract 0.2's `call` of several
    /// commands) as they come, kept for the next one.
    pub pipeline_replies: RefCell<Vec<u8>>,
    /// What the event being handled removed, for a trigger that reads
    /// removed values: what `host.removed-value` returns.
    pub removed: Option<Removed>,
    /// Whether the call in progress ends at its command's time budget
    /// rather than at the full time limit (`events/budget.rs`).
    pub(super) limited_by_budget: bool,
    /// When the call in progress must end.
    pub(super) call_deadline: Instant,
    pub(super) limiter: Limiter,
    pub(super) wasi: WasiCtx,
    /// What the call in progress checks while it runs ([`WhileRunning`]).
    pub(super) while_running: Option<WhileRunning>,
    pub(crate) table: ResourceTable,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// What a guest call checks every [`config::CHECK_INTERVAL`] while it runs,
/// besides its deadline: whether it may go on (for trigger calls, whether
/// `TRIGGER KILL` stopped them, see `events/busy.rs`).
pub type WhileRunning = fn() -> Result<(), Stopped>;

/// Why a [`WhileRunning`] check stopped a guest call.
#[derive(Debug)]
pub struct Stopped(pub &'static str);

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Stopped {}

/// Who a store's calls are for: the library, its owner (none while it
/// loads) and its triggers' names.
#[derive(Clone, Default)]
pub(super) struct Identity {
    pub library: String,
    pub owner: Option<String>,
    pub triggers: Vec<String>,
    /// The library's configuration, from `TRIGGER LOAD … CONFIG`.
    pub config: String,
}

pub(super) fn new_store(engine: &Engine, identity: Identity) -> Store<HostState> {
    let wasi = WasiCtxBuilder::new()
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build();
    let limits = StoreLimitsBuilder::new()
        // Memory is checked against `triggers.max-memory` in `Limiter`, so
        // that a change applies to running libraries.
        .instances(config::MAX_INSTANCES)
        .tables(config::MAX_TABLES)
        .memories(config::MAX_MEMORIES)
        .trap_on_grow_failure(false)
        .build();
    let mut store = Store::new(
        engine,
        HostState {
            ctx: RedisCtx::null(),
            mode: CallMode::ReadOnly,
            library: identity.library,
            triggers: identity.triggers,
            trigger: 0,
            config: identity.config,
            user: identity.owner.as_deref().map(CallUser::new),
            call_buffers: RefCell::default(),
            panic_message: None,
            failure: None,
            pipeline_replies: RefCell::default(),
            removed: None,
            limited_by_budget: false,
            call_deadline: Instant::now(),
            while_running: None,
            limiter: Limiter {
                limits,
                memory_bytes: 0,
                memory_denied: false,
            },
            wasi,
            table: ResourceTable::new(),
        },
    );
    store.limiter(|s| &mut s.limiter);
    // Called at each epoch deadline: every `config::CHECK_INTERVAL`, and at
    // the end of the call's time.
    store.epoch_deadline_callback(|store| {
        let left = store
            .data()
            .call_deadline
            .saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(wasmtime::Trap::Interrupt.into());
        }
        // Trigger calls only: loading a library and rebuilding an instance
        // check nothing, and are never killed.
        if let Some(while_running) = store.data().while_running {
            while_running().map_err(wasmtime::Error::new)?;
        }
        Ok(UpdateDeadline::Continue(check_ticks(left)))
    });
    store
}

/// The epoch ticks until the next check of a call with `left` to run.
fn check_ticks(left: Duration) -> u64 {
    config::deadline_ticks(left.min(config::CHECK_INTERVAL))
}

/// How long a guest call may run.
#[derive(Clone, Copy)]
pub struct CallLimit {
    /// When it must end.
    until: Instant,
    /// How long that is from its start.
    left: Duration,
    /// Whether that is its command's budget rather than the full limit.
    by_budget: bool,
    /// What the call checks while it runs.
    while_running: Option<WhileRunning>,
}

impl CallLimit {
    /// A call starting at `start`, with `left` of its command's budget.
    pub fn new(start: Instant, left: Duration) -> Self {
        CallLimit {
            until: start + left,
            left,
            by_budget: left + config::EPOCH_TICK < config::max_execution_time(),
            while_running: None,
        }
    }

    /// The same limit, with `check` made every [`config::CHECK_INTERVAL`].
    pub fn checking(self, check: WhileRunning) -> Self {
        CallLimit {
            while_running: Some(check),
            ..self
        }
    }

    /// The full time limit, from now.
    pub(super) fn full() -> Self {
        Self::new(Instant::now(), config::max_execution_time())
    }
}

/// Ends the next guest call at `limit`.
pub(super) fn set_deadline(store: &mut Store<HostState>, limit: CallLimit) {
    let data = store.data_mut();
    data.call_deadline = limit.until;
    data.limited_by_budget = limit.by_budget;
    data.while_running = limit.while_running;
    store.set_epoch_deadline(check_ticks(limit.left));
}

/// [`StoreLimits`], plus a record of how large the guest's memory grew.
pub(super) struct Limiter {
    limits: StoreLimits,
    pub(super) memory_bytes: usize,
    /// Set when a memory grow was refused during the call in progress.
    pub(super) memory_denied: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self
            .memory_bytes
            .saturating_sub(current)
            .saturating_add(desired);
        let allowed = total <= config::max_memory_bytes()
            && self.limits.memory_growing(current, desired, maximum)?;
        if allowed {
            self.memory_bytes = self
                .memory_bytes
                .saturating_sub(current)
                .saturating_add(desired);
        } else {
            self.memory_denied = true;
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}
