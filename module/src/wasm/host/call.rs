//! `host.call`: a command run with `RM_Call`, its arguments read in place
//! from the guest's memory, its reply Redis' own RESP3 encoding.

use wasmtime::component::{WasmList, WasmStr};
use wasmtime::StoreContextMut;

use crate::server::CommandCall;
use crate::wasm::store::{CallMode, HostState};

/// `RM_Call` format strings: `v` arguments as an array of Redis strings,
/// `E` errors as replies, `S` script mode (refuses `noscript` commands such
/// as `MULTI` or `TRIGGER`, never blocks), `3` RESP3 replies, `C` as the
/// context's user (the library's owner, see [`CallUser`](crate::wasm::CallUser))
/// with its ACL checked, then `W` refuse writes or `!` replicate writes.
fn call_format(mode: CallMode) -> &'static std::ffi::CStr {
    match mode {
        CallMode::ReadOnly => c"vES3CW",
        CallMode::Write => c"vES3C!",
    }
}

/// `host.call`: runs a command with `RM_Call` and returns its RESP3 reply.
pub(super) fn call(
    mut store: StoreContextMut<'_, HostState>,
    command: WasmStr,
    args: WasmList<WasmList<u8>>,
) -> Result<Vec<u8>, String> {
    let ctx = store.data().ctx;
    if !ctx.is_set() {
        return Err(
            "call is not available in describe: describe must only declare triggers".into(),
        );
    }
    let mode = store.data().mode;
    let Some(user) = store.data_mut().user.as_mut() else {
        return Err("call is not available while the library loads".into());
    };
    user.attach(ctx)?;
    // Taken rather than borrowed, for the guest's memory to be read while
    // they fill; put back for the next call.
    let mut buffers = std::mem::take(&mut store.data_mut().call_buffers);
    let result = (|| {
        let name = command
            .to_str(&store)
            .map_err(|_| "the command name is not valid UTF-8".to_string())?;
        let mut call = CommandCall::new(&name, &mut buffers)?;
        for index in 0..args.len() {
            let arg = match args.get(&mut store, index) {
                Some(Ok(arg)) => arg,
                _ => return Err(format!("argument {index} is out of the library's memory")),
            };
            call.arg(arg.as_le_slice(&store));
        }
        call.run(ctx, call_format(mode))
    })();
    store.data_mut().call_buffers = buffers;
    result
}
