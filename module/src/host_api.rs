//! The host API that guests import (`redis:triggers/host` in `wit/`):
//! `call`, `log` and `report-panic`.

use std::ffi::CString;
use std::os::raw::c_char;
use std::ptr;
use std::sync::OnceLock;

use redis_module::{
    raw, CallOptionResp, CallOptions, CallOptionsBuilder, CallReply, CallResult, Context,
    ErrorReply,
};

use crate::runtime::redis::triggers::{host, types};
use crate::runtime::{HostState, LogLevel, ReplyNode};

/// The Redis context of the guest call in progress.
///
/// A raw pointer is only valid during the Redis callback that set it; the
/// runtime clears it as soon as the guest call returns.
#[derive(Clone, Copy)]
pub struct RedisCtx(*mut raw::RedisModuleCtx);

// The store that holds it lives on Redis' main thread only; wasmtime-wasi
// requires its state to be `Send`, and this pointer is never used elsewhere.
unsafe impl Send for RedisCtx {}

impl RedisCtx {
    pub fn null() -> Self {
        RedisCtx(ptr::null_mut())
    }

    pub fn new(ctx: *mut raw::RedisModuleCtx) -> Self {
        RedisCtx(ctx)
    }

    fn get(self) -> Option<*mut raw::RedisModuleCtx> {
        (!self.0.is_null()).then_some(self.0)
    }
}

/// What `call` may do in the guest call in progress. (In `describe` there
/// is no Redis context at all, so `call` is refused before the mode matters.)
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CallMode {
    /// `on-fired`: inside the keyspace notification; Redis refuses writes.
    ReadOnly,
    /// `run`: inside a post-notification job; writes are replicated.
    Write,
}

/// RM_Call flags: `E` errors as replies, `S` script mode (refuses
/// `noscript` commands such as `MULTI` or `TRIGGER`, never blocks),
/// `3` RESP3 replies, `W` refuse writes, `!` replicate writes.
fn call_options(mode: CallMode) -> &'static CallOptions {
    static READ_ONLY: OnceLock<CallOptions> = OnceLock::new();
    static WRITE: OnceLock<CallOptions> = OnceLock::new();
    let base = || {
        CallOptionsBuilder::new()
            .errors_as_replies()
            .script_mode()
            .resp(CallOptionResp::Resp3)
    };
    match mode {
        CallMode::Write => WRITE.get_or_init(|| base().replicate().build()),
        CallMode::ReadOnly => READ_ONLY.get_or_init(|| base().no_writes().build()),
    }
}

impl types::Host for HostState {}

impl host::Host for HostState {
    fn call(
        &mut self,
        command: String,
        args: Vec<Vec<u8>>,
    ) -> wasmtime::Result<Result<Vec<ReplyNode>, String>> {
        let Some(ctx) = self.ctx.get() else {
            return Ok(Err(
                "call is not available in describe: describe must only declare triggers".into(),
            ));
        };
        if command.is_empty() || command.contains('\0') {
            return Ok(Err(format!("invalid command name {command:?}")));
        }
        let context = Context::new(ctx);
        let arg_refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let reply: CallResult<'static> =
            context.call_ext(&command, call_options(self.mode), arg_refs.as_slice());
        Ok(match reply {
            Ok(reply) => {
                let mut nodes = Vec::new();
                flatten_reply(&reply, &mut nodes);
                Ok(nodes)
            }
            Err(error) => Err(error_text(&error)),
        })
    }

    fn log(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
        let level = match level {
            LogLevel::Debug => "debug",
            LogLevel::Verbose => "verbose",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
        };
        redis_log(level, &format!("<{}> {message}", self.library));
        Ok(())
    }

    fn report_panic(&mut self, message: String) -> wasmtime::Result<()> {
        redis_log("warning", &format!("<{}> {message}", self.library));
        self.panic_message = Some(message);
        Ok(())
    }
}

fn error_text(error: &ErrorReply<'_>) -> String {
    String::from_utf8_lossy(error.as_bytes()).into_owned()
}

/// Appends `reply` to `out` in pre-order, as `reply-node` documents.
fn flatten_reply(reply: &CallReply<'_>, out: &mut Vec<ReplyNode>) {
    match reply {
        CallReply::Unknown | CallReply::Null(_) => out.push(ReplyNode::Nil),
        CallReply::I64(i) => out.push(ReplyNode::Integer(i.to_i64())),
        CallReply::String(s) => out.push(ReplyNode::Bulk(s.as_bytes().to_vec())),
        CallReply::Bool(b) => out.push(ReplyNode::Boolean(b.to_bool())),
        CallReply::Double(d) => out.push(ReplyNode::Double(d.to_double())),
        CallReply::BigNumber(n) => {
            out.push(ReplyNode::BigNumber(n.to_string().unwrap_or_default()))
        }
        CallReply::VerbatimString(v) => out.push(ReplyNode::Bulk(
            v.as_parts()
                .map(|(_, text)| text.to_vec())
                .unwrap_or_default(),
        )),
        CallReply::Array(array) => {
            out.push(ReplyNode::Array(array.len() as u32));
            for element in array.iter() {
                flatten_result(&element, out);
            }
        }
        CallReply::Set(set) => {
            out.push(ReplyNode::Set(set.len() as u32));
            for element in set.iter() {
                flatten_result(&element, out);
            }
        }
        CallReply::Map(map) => {
            out.push(ReplyNode::Map(map.len() as u32));
            for (key, value) in map.iter() {
                flatten_result(&key, out);
                flatten_result(&value, out);
            }
        }
    }
}

fn flatten_result(result: &CallResult<'_>, out: &mut Vec<ReplyNode>) {
    match result {
        Ok(reply) => flatten_reply(reply, out),
        Err(error) => out.push(ReplyNode::Error(error_text(error))),
    }
}

/// Writes `message` to the Redis log. Unlike redis-module's helpers, the
/// message is never used as a printf format, and NUL bytes are replaced, so
/// text from a guest cannot crash the server.
pub fn redis_log(level: &str, message: &str) {
    let Some(log) = (unsafe { raw::RedisModule_Log }) else {
        return;
    };
    let Ok(level) = CString::new(level) else {
        return;
    };
    let message = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    unsafe {
        log(
            ptr::null_mut(),
            level.as_ptr(),
            c"%s".as_ptr(),
            message.as_ptr() as *const c_char,
        )
    };
}
