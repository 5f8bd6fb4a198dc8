//! The host API that guests import (`redis:triggers/host` in `wit/`):
//! `call`, `log`, `report-panic`, `outbox-append`, `config` and
//! `removed-value`, in each version of the contract (`host@0.1.0`,
//! `host@0.2.0`): one implementation, each version's types at its edge.
//!
//! These functions are linked by hand with `func_wrap` rather than
//! through the bindings `bindgen!` generates: `call` runs on every event, and
//! the generated code would copy the command and every argument into host
//! `String`s and `Vec`s before Redis copies them again. Here Redis copies
//! the arguments once, in place from the guest's memory (`server/call.rs`),
//! and the reply is Redis' own RESP3 encoding, copied once into the guest
//! (in place in the call's return area when it is short). wasmtime
//! still checks every signature against the WIT when a library is linked,
//! so `wit/` stays the contract.

use wasmtime::component::Linker;
use wasmtime::StoreContextMut;

use super::bindings::{v0_1, v0_2};
use super::guest_log;
use super::store::HostState;
use crate::server::{RemovedValue, Withheld};

mod call;
mod outbox;
mod request;

/// Adds both versions of the host interface to the linker.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    add_v0_1(linker)?;
    add_v0_2(linker)
}

/// The functions both versions share, with each version's own types
/// (`$version` is `v0_1` or `v0_2`): `log`, `report-panic`,
/// `removed-value` and `config`.
macro_rules! add_shared {
    ($host:ident, $version:ident) => {{
        use $version::{LogLevel, Removed, Withheld};
        $host.func_wrap("log", |store, (level, message): (LogLevel, String)| {
            let level = match level {
                LogLevel::Debug => "debug",
                LogLevel::Verbose => "verbose",
                LogLevel::Notice => "notice",
                LogLevel::Warning => "warning",
            };
            log(store, level, message);
            Ok(())
        })?;
        $host.func_wrap("report-panic", |store, (message,)| {
            report_panic(store, message);
            Ok(())
        })?;
        $host.func_wrap("removed-value", |store, ()| {
            Ok((store.data().removed.as_deref().map(|value| Removed {
                type_name: value.type_name.to_owned(),
                length: value.length,
                value: removed_value(value, Withheld::TooLarge, Withheld::ModuleType),
            }),))
        })?;
        $host.func_wrap("config", |store, ()| Ok((config(store),)))?;
    }};
}

fn add_v0_1(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let mut host = linker.instance("redis:triggers/host@0.1.0")?;
    add_shared!(host, v0_1);
    host.func_wrap("call", |store, (command, args)| {
        Ok((call::call(store, command, args),))
    })?;
    host.func_wrap("outbox-append", |store, (event, fields)| {
        Ok((outbox::append(store, event, fields),))
    })?;
    Ok(())
}

fn add_v0_2(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let mut host = linker.instance("redis:triggers/host@0.2.0")?;
    add_shared!(host, v0_2);
    host.func_wrap("call", |store, (strings, lengths)| {
        match call::call_v0_2(store, strings, lengths) {
            Ok(Ok(replies)) => Ok((replies,)),
            Ok(Err(refused)) => Ok((v0_2::Replies::Refused(refused),)),
            Err(call::OutOfTime) => Err(wasmtime::Trap::Interrupt.into()),
        }
    })?;
    host.func_wrap("fail", |mut store, (message,): (String,)| {
        let message = guest_log::truncate(&message, guest_log::MAX_LINE_BYTES);
        store.data_mut().failure = Some(message);
        Ok(())
    })?;
    host.func_wrap("outbox-append", |store, (event, fields)| {
        Ok((outbox::append_v0_2(store, event, fields),))
    })?;
    Ok(())
}

/// `host.config`.
fn config(store: StoreContextMut<'_, HostState>) -> String {
    let config = &store.data().config;
    if config.is_empty() {
        "{}".to_owned()
    } else {
        config.clone()
    }
}

/// `removed.value`: the RESP3 bytes, or why they were withheld in the
/// version's own `withheld`.
fn removed_value<W>(value: &RemovedValue, too_large: W, module_type: W) -> Result<Vec<u8>, W> {
    match value.resp3() {
        Ok(resp3) => Ok(resp3.to_vec()),
        Err(Withheld::TooLarge) => Err(too_large),
        Err(Withheld::ModuleType) => Err(module_type),
    }
}

/// `host.log`.
fn log(store: StoreContextMut<'_, HostState>, level: &str, message: String) {
    guest_log::log(level, &format!("<{}> {message}", store.data().library));
}

/// `host.report-panic`.
fn report_panic(mut store: StoreContextMut<'_, HostState>, message: String) {
    let data = store.data_mut();
    guest_log::log("warning", &format!("<{}> {message}", data.library));
    data.panic_message = Some(guest_log::truncate(&message, guest_log::MAX_LINE_BYTES));
}
