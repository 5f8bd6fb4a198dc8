//! A change spreads: a client's `TRIGGER LOAD` or `DELETE` goes to every
//! other node, which applies it and answers; the client's reply waits for
//! the answers, at most [`ANSWER_TIMEOUT`], and names the nodes that did
//! not apply the change.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::os::raw::{c_int, c_void};
use std::ptr;
use std::time::{Duration, Instant};

use redis_module::{raw, Context, ContextFlags, RedisError, RedisResult, RedisValue};

use super::bus::{encode, other_nodes, send, send_bytes, Message, NodeId};
use crate::library::{self, Change};
use crate::replication::{propagate, Propagation};
use crate::server::{redis_log, reply_guarded};

/// How long a client's `TRIGGER LOAD`/`DELETE` waits for the other nodes.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// What a client's reply says once every node answered or the time ran out.
struct Outcome {
    /// `TRIGGER LOAD 'name'` or `TRIGGER DELETE 'name'`.
    what: String,
    /// The reply when every node applied the change.
    success: Success,
    others: usize,
    /// `address: error` of the nodes that refused the change.
    refused: Vec<String>,
    /// The nodes that could not be reached, or did not answer in time.
    unreachable: Vec<String>,
}

#[derive(Clone)]
enum Success {
    Name(String),
    Ok,
}

impl Outcome {
    fn reply(&self) -> RedisResult {
        if self.refused.is_empty() && self.unreachable.is_empty() {
            return Ok(match &self.success {
                Success::Name(name) => RedisValue::BulkString(name.clone()),
                Success::Ok => RedisValue::SimpleStringStatic("OK"),
            });
        }
        let applied = self.others - self.refused.len() - self.unreachable.len();
        let mut message = format!(
            "ERR {}: applied on this node and on {applied} of {} other nodes.",
            self.what, self.others
        );
        if !self.unreachable.is_empty() {
            message.push_str(&format!(
                " Not reached in time: {} (they catch up by themselves once reachable).",
                self.unreachable.join(", ")
            ));
        }
        if !self.refused.is_empty() {
            message.push_str(&format!(" Refused by: {}.", self.refused.join("; ")));
        }
        Err(RedisError::String(message))
    }
}

/// A client waiting for the other nodes' answers.
struct Pending {
    client: *mut raw::RedisModuleBlockedClient,
    outcome: Outcome,
    /// The nodes yet to answer, with their addresses.
    waiting: Vec<(NodeId, String)>,
    started: Instant,
}

impl Pending {
    /// No more answers will come: those missing count as not reached.
    fn give_up(mut self) -> Outcome {
        self.outcome
            .unreachable
            .extend(self.waiting.drain(..).map(|(_, address)| address));
        self.outcome
    }
}

thread_local! {
    static PENDING: RefCell<HashMap<u64, Pending>> = RefCell::default();
    static NEXT_REQUEST: Cell<u64> = const { Cell::new(1) };
}

/// After a client's change on this node: sends it to every other node and
/// blocks the client until they answered (or [`ANSWER_TIMEOUT`]). Where
/// the client cannot block (in `MULTI`, say), replies at once; the nodes
/// apply the change all the same.
pub fn spread(ctx: &Context, change: Change, version: u64, reply: RedisValue) -> RedisResult {
    let request = NEXT_REQUEST.replace(NEXT_REQUEST.get() + 1);
    let what = match &change {
        Change::Load { .. } => match &reply {
            RedisValue::BulkString(name) => format!("TRIGGER LOAD '{name}'"),
            _ => "TRIGGER LOAD".to_string(),
        },
        Change::Delete { name } => format!("TRIGGER DELETE '{name}'"),
        Change::AddRule { rule } => format!("OUTBOX ADD '{}'", rule.name),
        Change::DeleteRule { name } => format!("OUTBOX DELETE '{name}'"),
    };
    let success = match reply {
        RedisValue::BulkString(name) => Success::Name(name),
        _ => Success::Ok,
    };
    let message = Message::Change {
        request,
        version,
        change,
    };
    let bytes = encode(&message).map_err(|e| RedisError::String(format!("ERR {e}")))?;
    let nodes = other_nodes(ctx.ctx);
    let mut outcome = Outcome {
        what,
        success,
        others: nodes.len(),
        refused: Vec::new(),
        unreachable: Vec::new(),
    };
    let mut waiting = Vec::new();
    for node in nodes {
        if node.reachable && send_bytes(ctx.ctx, Some(&node.id), &bytes) {
            waiting.push((node.id, node.address));
        } else {
            outcome.unreachable.push(node.address);
        }
    }
    if waiting.is_empty() || ctx.get_flags().contains(ContextFlags::DENY_BLOCKING) {
        return outcome.reply();
    }
    let Some(block) = (unsafe { raw::RedisModule_BlockClient }) else {
        return outcome.reply();
    };
    // SAFETY: `ctx` is the command's context; the callbacks are ours.
    let client = unsafe {
        block(
            ctx.ctx,
            Some(on_answers),
            Some(on_timeout),
            Some(free_outcome),
            ANSWER_TIMEOUT.as_millis() as i64,
        )
    };
    if client.is_null() {
        return outcome.reply();
    }
    PENDING.with(|p| {
        p.borrow_mut().insert(
            request,
            Pending {
                client,
                outcome,
                waiting,
                started: Instant::now(),
            },
        )
    });
    Ok(RedisValue::NoReply)
}

/// Unblocks a waiting client with its outcome.
fn finish(pending: Pending) {
    let client = pending.client;
    let outcome = Box::new(pending.give_up());
    if let Some(unblock) = unsafe { raw::RedisModule_UnblockClient } {
        // SAFETY: `client` is blocked and unblocked once; Redis hands the
        // outcome to `on_answers` and then to `free_outcome`.
        unsafe { unblock(client, Box::into_raw(outcome) as *mut c_void) };
    }
}

/// Replies to a client once every node answered. Never panics into Redis.
extern "C" fn on_answers(
    ctx: *mut raw::RedisModuleCtx,
    _argv: *mut *mut raw::RedisModuleString,
    _argc: c_int,
) -> c_int {
    reply_guarded(ctx, |_| {
        let outcome = unsafe { raw::RedisModule_GetBlockedClientPrivateData }
            .map_or(ptr::null_mut(), |get| unsafe { get(ctx) })
            as *const Outcome;
        // SAFETY: set by `finish` from a `Box<Outcome>`, freed by `free_outcome`.
        match unsafe { outcome.as_ref() } {
            Some(outcome) => outcome.reply(),
            None => Err(RedisError::Str("ERR no outcome")),
        }
    })
}

/// Replies to a client whose nodes did not all answer in time.
extern "C" fn on_timeout(
    ctx: *mut raw::RedisModuleCtx,
    _argv: *mut *mut raw::RedisModuleString,
    _argc: c_int,
) -> c_int {
    reply_guarded(ctx, |_| {
        let client = unsafe { raw::RedisModule_GetBlockedClientHandle }
            .map_or(ptr::null_mut(), |get| unsafe { get(ctx) });
        let pending = PENDING.with(|p| {
            let mut p = p.borrow_mut();
            let request = p
                .iter()
                .find(|(_, v)| v.client == client)
                .map(|(k, _)| *k)?;
            p.remove(&request)
        });
        match pending {
            Some(pending) => pending.give_up().reply(),
            None => Err(RedisError::Str(
                "ERR no answer in time from the other nodes",
            )),
        }
    })
}

extern "C" fn free_outcome(_ctx: *mut raw::RedisModuleCtx, outcome: *mut c_void) {
    if !outcome.is_null() {
        // SAFETY: made by `finish` with `Box::into_raw`, freed once.
        drop(unsafe { Box::from_raw(outcome as *mut Outcome) });
    }
}

/// A change a client made on another node: applied here, written to this
/// node's AOF, and answered.
pub(super) fn apply_change(
    ctx: *mut raw::RedisModuleCtx,
    from: &NodeId,
    request: u64,
    version: u64,
    change: Change,
) {
    let error = library::apply(&change).err();
    match &error {
        None => {
            library::set_version(version, false);
            propagate(ctx, &change, version, Propagation::AofOnly);
        }
        Some(e) => redis_log(
            "warning",
            &format!("cannot apply a trigger library change from another node: {e}"),
        ),
    }
    send(ctx, Some(from), &Message::Applied { request, error });
}

/// Records a node's answer to a change; the last answer unblocks the client.
pub(super) fn answered(from: &NodeId, request: u64, error: Option<String>) {
    let done = PENDING.with(|p| {
        let mut p = p.borrow_mut();
        let pending = p.get_mut(&request)?;
        let at = pending.waiting.iter().position(|(id, _)| id == from)?;
        let (_, address) = pending.waiting.remove(at);
        if let Some(error) = error {
            pending.outcome.refused.push(format!("{address}: {error}"));
        }
        if pending.waiting.is_empty() {
            p.remove(&request)
        } else {
            None
        }
    });
    if let Some(pending) = done {
        finish(pending);
    }
}

/// Gives up on answers that never came: a client that disconnected while
/// it waited has no timeout. `grace` is how long past [`ANSWER_TIMEOUT`].
pub(super) fn give_up_stale(grace: Duration) {
    let stale: Vec<Pending> = PENDING.with(|p| {
        let mut p = p.borrow_mut();
        let old: Vec<u64> = p
            .iter()
            .filter(|(_, v)| v.started.elapsed() > ANSWER_TIMEOUT + grace)
            .map(|(k, _)| *k)
            .collect();
        old.iter().filter_map(|k| p.remove(k)).collect()
    });
    stale.into_iter().for_each(finish);
}
