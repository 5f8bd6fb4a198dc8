//! The host API that guests import (`redis:triggers/host` in `wit/`):
//! `call`, `log`, `report-panic`, `outbox-append`, `config` and
//! `removed-value`.
//!
//! These functions are linked by hand with `func_wrap` rather than
//! through the bindings `bindgen!` generates: `call` runs on every event, and
//! the generated code would copy the command and every argument into host
//! `String`s and `Vec`s before Redis copies them again. Here the arguments
//! are read in place from the guest's memory into Redis strings, and the
//! reply is Redis' own RESP3 encoding, copied once into the guest. wasmtime
//! still checks every signature against the WIT when a library is linked,
//! so `wit/` stays the contract.

use wasmtime::component::Linker;
use wasmtime::StoreContextMut;

use super::bindings::redis::triggers::types;
use super::bindings::LogLevel;
use super::guest_log;
use super::store::HostState;
use crate::server::{RemovedValue, Withheld};

mod call;
mod outbox;

/// The WIT name of the host interface.
const HOST_INTERFACE: &str = "redis:triggers/host@0.1.0";

/// Adds the host interface to the linker.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let mut host = linker.instance(HOST_INTERFACE)?;
    host.func_wrap("call", |store, (command, args)| {
        Ok((call::call(store, command, args),))
    })?;
    host.func_wrap("log", |store, (level, message)| {
        log(store, level, message);
        Ok(())
    })?;
    host.func_wrap("report-panic", |store, (message,)| {
        report_panic(store, message);
        Ok(())
    })?;
    host.func_wrap("outbox-append", |store, (event, fields)| {
        Ok((outbox::append(store, event, fields),))
    })?;
    host.func_wrap("removed-value", |store, ()| {
        Ok((store.data().removed.as_deref().map(removed_value),))
    })?;
    host.func_wrap("config", |store, ()| {
        let config = &store.data().config;
        Ok((if config.is_empty() {
            "{}".to_owned()
        } else {
            config.clone()
        },))
    })?;
    Ok(())
}

/// `host.removed-value`: the value as the WIT record.
fn removed_value(value: &RemovedValue) -> types::Removed {
    types::Removed {
        type_name: value.type_name.to_owned(),
        length: value.length,
        value: match value.resp3() {
            Ok(resp3) => Ok(resp3.to_vec()),
            Err(Withheld::TooLarge) => Err(types::Withheld::TooLarge),
            Err(Withheld::ModuleType) => Err(types::Withheld::ModuleType),
        },
    }
}

/// `host.log`.
fn log(store: StoreContextMut<'_, HostState>, level: LogLevel, message: String) {
    let level = match level {
        LogLevel::Debug => "debug",
        LogLevel::Verbose => "verbose",
        LogLevel::Notice => "notice",
        LogLevel::Warning => "warning",
    };
    guest_log::log(level, &format!("<{}> {message}", store.data().library));
}

/// `host.report-panic`.
fn report_panic(mut store: StoreContextMut<'_, HostState>, message: String) {
    let data = store.data_mut();
    guest_log::log("warning", &format!("<{}> {message}", data.library));
    data.panic_message = Some(guest_log::truncate(&message, guest_log::MAX_LINE_BYTES));
}
