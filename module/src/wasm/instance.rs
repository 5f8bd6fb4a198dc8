//! A library's live instance: one long-lived store and instance per
//! library, reused for every event; its calls (`describe`, `on-fired`,
//! `run`), what a trap means, and the rebuild that follows one.

use std::sync::mpsc::TryRecvError;

use wasmtime::component::Instance;
use wasmtime::Store;

use super::compile::{optimize_in_background, CompiledLibrary, PendingOptimization};
use super::contract::{Described, Exports, Version};
use super::engine::Tier;
use super::event::Event;
use super::owner::CallUser;
use super::store::{
    new_store, set_deadline, CallLimit, CallMode, HostState, Identity, Removed, Stopped,
};
use super::ticker::GuestCall;
use super::wasi;
use crate::config;
use crate::server::{redis_log, KeyName, RedisCtx};

/// Why a guest call failed.
pub enum CallError {
    /// The guest returned an error: the instance is still healthy.
    Guest(String),
    /// The guest trapped (or was interrupted): the instance was rebuilt.
    Trap(String),
}

impl CallError {
    /// The message for `last_error`.
    pub fn into_message(self) -> String {
        match self {
            CallError::Guest(m) | CallError::Trap(m) => m,
        }
    }
}

/// A trigger fired by an event: what `on-fired` and `run` are called with.
#[derive(Clone, Copy)]
pub struct Fired<'a> {
    /// The trigger's index in the library.
    pub trigger: u32,
    pub event: &'a Event,
    /// What `removed-value` answers during the call.
    pub removed: Option<&'a Removed>,
}

/// A live instance of a library, with its own store. Reused for every event.
pub struct LibraryInstance {
    compiled: CompiledLibrary,
    store: Store<HostState>,
    exports: Exports,
    /// The instance itself, for the exports 0.1's `trigger-library` does
    /// not have (`sdk-library`'s `describe-triggers`).
    instance: Instance,
    /// How many times the instance was rebuilt after a trap.
    pub rebuilds: u64,
    /// Cranelift's code for this library, while it is being compiled.
    optimization: Option<PendingOptimization>,
}

/// Instantiates a compiled library in a new store. Instantiation runs guest
/// code (constructors), so it is timed like any other guest call.
fn instantiate(
    compiled: &CompiledLibrary,
    identity: Identity,
) -> Result<(Store<HostState>, Exports, Instance), String> {
    let mut store = new_store(compiled.engine, identity);
    set_deadline(&mut store, CallLimit::full());
    let _running = GuestCall::start();
    let instance = compiled
        .pre
        .instance_pre()
        .instantiate(&mut store)
        .map_err(|e| format!("cannot instantiate the component: {e:#}"))?;
    let exports = Exports::new(&compiled.pre, &mut store, &instance)
        .map_err(|e| format!("cannot instantiate the component: {e:#}"))?;
    Ok((store, exports, instance))
}

impl LibraryInstance {
    /// Instantiates a compiled library in a new store, with its
    /// configuration (a JSON object).
    pub fn new(compiled: CompiledLibrary, library: &str, config: &str) -> Result<Self, String> {
        let identity = Identity {
            library: library.to_owned(),
            config: config.to_owned(),
            ..Identity::default()
        };
        let (store, exports, instance) = instantiate(&compiled, identity)?;
        Ok(LibraryInstance {
            compiled,
            store,
            exports,
            instance,
            rebuilds: 0,
            optimization: None,
        })
    }

    /// Which compiler made the code that runs now.
    pub fn tier(&self) -> Tier {
        self.compiled.tier
    }

    /// Once the library is loaded: starts compiling its optimized code, if
    /// it runs baseline code. `ready` is called on the compiler thread when
    /// the code is ready; [`switch_to_optimized_code`](Self::switch_to_optimized_code)
    /// must then be called on Redis' main thread (it also happens before
    /// the next guest call).
    pub fn optimize(&mut self, bytes: &[u8], ready: fn()) {
        if self.compiled.tier == Tier::Baseline && self.optimization.is_none() {
            self.optimization = optimize_in_background(bytes.to_vec(), ready);
        }
    }

    /// Switches to the optimized code if it is ready. A fresh instance
    /// replaces the current one, as after a trap: a library's in-memory
    /// state lasts until it is replaced, never longer.
    pub fn switch_to_optimized_code(&mut self) {
        let Some(PendingOptimization(receiver)) = &self.optimization else {
            return;
        };
        let compiled = match receiver.try_recv() {
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => Err("the compiler thread stopped".to_string()),
            Ok(result) => result,
        };
        self.optimization = None;
        let identity = self.identity();
        let library = identity.library.clone();
        let switched = compiled.and_then(|compiled| {
            let (store, exports, instance) = instantiate(&compiled, identity)?;
            self.compiled = compiled;
            self.store = store;
            self.exports = exports;
            self.instance = instance;
            Ok(())
        });
        if let Err(e) = switched {
            redis_log(
                "warning",
                &format!("library '{library}' keeps its baseline code: {e}"),
            );
        }
    }

    /// Once `describe` said the library's name and its triggers' names:
    /// names it in log lines and outbox entries, and makes its calls run as
    /// `owner`, the ACL user that loaded it.
    pub fn set_identity(&mut self, name: &str, owner: &str, triggers: Vec<String>) {
        let data = self.store.data_mut();
        data.library = name.to_owned();
        data.user = Some(CallUser::new(owner));
        data.triggers = triggers;
    }

    /// The library's name, owner and triggers, for a new store.
    fn identity(&self) -> Identity {
        let data = self.store.data();
        Identity {
            library: data.library.clone(),
            owner: data.user.as_ref().map(|u| u.owner().to_owned()),
            triggers: data.triggers.clone(),
            config: data.config.clone(),
        }
    }

    /// Calls `describe`, and for a 0.1 library the two exports the SDK
    /// added to it (`describe-triggers`, `removed-value-triggers`), if it
    /// has them. Runs with no Redis context: `call` is refused.
    pub fn describe(&mut self) -> Result<Described, String> {
        let running = self.enter(RedisCtx::null(), CallMode::ReadOnly, CallLimit::full());
        let result = self.exports.describe(&mut self.store);
        self.leave(running);
        let mut described = result.map_err(|e| self.explain_trap("describe", e))?;
        if self.compiled.pre.version() == Version::V0_1 {
            // Libraries built before them have neither: no descriptions,
            // no trigger reads removed values.
            described.descriptions = self
                .call_if_exported("describe-triggers")?
                .unwrap_or_default();
            described.removed_value = self
                .call_if_exported("removed-value-triggers")?
                .unwrap_or_default();
        }
        Ok(described)
    }

    /// The version of the contract the library was built against.
    pub fn contract(&self) -> &'static str {
        match self.compiled.pre.version() {
            Version::V0_1 => "0.1.0",
            Version::V0_2 => "0.2.0",
        }
    }

    /// Calls an export that takes nothing, that 0.1's `sdk-library` adds
    /// to `trigger-library`, if the library has it, as `describe`: with no
    /// Redis context.
    fn call_if_exported<R>(&mut self, export: &str) -> Result<Option<R>, String>
    where
        R: wasmtime::component::ComponentType + wasmtime::component::Lift + Send + Sync + 'static,
    {
        let Ok(func) = self
            .instance
            .get_typed_func::<(), (R,)>(&mut self.store, export)
        else {
            return Ok(None);
        };
        let running = self.enter(RedisCtx::null(), CallMode::ReadOnly, CallLimit::full());
        let result = func.call(&mut self.store, ()).map(|(value,)| value);
        self.leave(running);
        result.map(Some).map_err(|e| self.explain_trap(export, e))
    }

    /// Whether the library's owner may read `key` (its ACL key patterns):
    /// checked before the library's code runs for an event of that key.
    pub fn owner_may_read(&mut self, key: KeyName) -> Result<bool, String> {
        match self.store.data_mut().user.as_mut() {
            Some(user) => user.may_read_key(key),
            None => Ok(true),
        }
    }

    /// Calls `on-fired` with a read-only Redis context, until `limit`;
    /// `removed` is what `removed-value` answers during the call.
    pub fn on_fired(
        &mut self,
        ctx: RedisCtx,
        Fired {
            trigger,
            event,
            removed,
        }: Fired,
        limit: CallLimit,
    ) -> Result<Option<Vec<u8>>, CallError> {
        let data = self.store.data_mut();
        data.trigger = trigger;
        data.removed = removed.cloned();
        let running = self.enter(ctx, CallMode::ReadOnly, limit);
        let result = self.exports.on_fired(&mut self.store, trigger, event);
        self.leave(running);
        match result {
            Ok(Ok(payload)) => Ok(payload),
            Ok(Err(message)) => Err(CallError::Guest(message)),
            Err(trap) => Err(self.trapped("on_fired", trap)),
        }
    }

    /// Calls `run` with a Redis context that may write, until `limit`;
    /// `removed` is what `removed-value` answers during the call.
    pub fn run(
        &mut self,
        ctx: RedisCtx,
        Fired {
            trigger,
            event,
            removed,
        }: Fired,
        payload: Option<&[u8]>,
        limit: CallLimit,
    ) -> Result<(), CallError> {
        let data = self.store.data_mut();
        data.trigger = trigger;
        data.removed = removed.cloned();
        let running = self.enter(ctx, CallMode::Write, limit);
        let result = self.exports.run(&mut self.store, trigger, event, payload);
        self.leave(running);
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(CallError::Guest(message)),
            Err(trap) => Err(self.trapped("run", trap)),
        }
    }

    /// The size of the guest's linear memory, in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.store.data().limiter.memory_bytes
    }

    /// Prepares the store for a guest call: the Redis context and mode, its
    /// deadline, and the ticker told that a guest runs.
    fn enter(&mut self, ctx: RedisCtx, mode: CallMode, limit: CallLimit) -> GuestCall {
        if self.optimization.is_some() {
            self.switch_to_optimized_code();
        }
        let data = self.store.data_mut();
        data.ctx = ctx;
        data.mode = mode;
        data.failure = None;
        data.limiter.memory_denied = false;
        set_deadline(&mut self.store, limit);
        GuestCall::start()
    }

    /// Ends a guest call: the Redis context, and the owner attached to it,
    /// are only valid during it.
    fn leave(&mut self, running: GuestCall) {
        drop(running);
        let data = self.store.data_mut();
        if let Some(user) = data.user.as_mut() {
            user.detach();
        }
        data.ctx = RedisCtx::null();
        data.removed = None;
    }

    fn explain_trap(&mut self, export: &str, trap: wasmtime::Error) -> String {
        let panic = self.store.data_mut().panic_message.take();
        if let Some(message) = panic {
            return format!("{export} panicked: {message}");
        }
        if self.store.data().limiter.memory_denied {
            return format!(
                "{export} exceeded the memory limit of {} MB (triggers.max-memory)",
                config::max_memory_bytes() >> 20
            );
        }
        if let Some(stopped) = trap.downcast_ref::<Stopped>() {
            return format!("{export} was stopped: {stopped}");
        }
        if let Some(refused) = trap.downcast_ref::<wasi::Refused>() {
            return format!("{export} was stopped: {refused}");
        }
        if let Some(code) = trap.downcast_ref::<wasmtime::Trap>() {
            if *code == wasmtime::Trap::Interrupt && self.store.data().limited_by_budget {
                return format!(
                    "{export} was stopped: the triggers of this command used up their time \
                     budget of {} ms (triggers.max-execution-time)",
                    config::max_execution_time_ms()
                );
            }
            if *code == wasmtime::Trap::Interrupt {
                return format!(
                    "{export} exceeded the execution time limit of {} ms \
                     (triggers.max-execution-time)",
                    config::max_execution_time_ms()
                );
            }
            return format!("{export} trapped: {code}");
        }
        format!("{export} failed: {trap:#}")
    }

    /// Records why the call trapped, then replaces the poisoned instance.
    fn trapped(&mut self, export: &str, trap: wasmtime::Error) -> CallError {
        let mut message = self.explain_trap(export, trap);
        match instantiate(&self.compiled, self.identity()) {
            Ok((store, exports, instance)) => {
                self.store = store;
                self.exports = exports;
                self.instance = instance;
                self.rebuilds += 1;
            }
            Err(e) => message.push_str(&format!("; the instance could not be rebuilt: {e}")),
        }
        CallError::Trap(message)
    }
}
