//! Redis Cluster: every node, primaries and replicas alike, holds the same
//! libraries, with no step on the client's side.
//!
//! - **A change spreads.** `TRIGGER LOAD` or `DELETE`, run by a client on
//!   any node, applies there, then goes to every other node over the
//!   cluster bus ([`spread`]). Each node applies it, writes it to its own
//!   AOF and answers. The client's reply waits for the answers, at most
//!   [`ANSWER_TIMEOUT`], and names the nodes that did not apply the change.
//! - **Nodes converge.** Every change raises the set's version
//!   (`registry.rs`), which is saved with the set. Every [`GOSSIP_PERIOD`]
//!   each node tells the others its version and the digest of its set. A
//!   node that hears of a newer set (a higher version; or the same version
//!   and a greater digest, when two changes crossed) asks that node for its
//!   whole set and takes it. So a node that was down, or that joins later,
//!   catches up by itself.
//!
//! Messages are `bincode`-encoded [`Message`]s of one module message type.
//! Everything here runs on Redis' main thread.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis_module::{raw, Context, ContextFlags, RedisError, RedisResult, RedisValue};

use crate::commands::{self, Propagation};
use crate::host_api::redis_log;
use crate::migration;
use crate::registry::{self, Change, SavedLibrary};

/// The module's one cluster message type.
const MESSAGE_TYPE: u8 = 1;
/// How long a client's `TRIGGER LOAD`/`DELETE` waits for the other nodes.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// How often each node tells the others which set it holds.
const GOSSIP_PERIOD: Duration = Duration::from_secs(1);
/// How long a node waits for a set it asked for before asking again.
const PULL_RETRY: Duration = Duration::from_secs(3);
/// The largest message read: a whole set of libraries.
const MAX_MESSAGE_BYTES: usize = 1 << 30;

const NODE_ID_LEN: usize = raw::REDISMODULE_NODE_ID_LEN as usize;

/// A node's id, NUL-terminated: Redis looks ids up with `strlen`.
type NodeId = [u8; NODE_ID_LEN + 1];

#[derive(bincode::Encode, bincode::Decode)]
enum Message {
    /// A change a client made on the sending node.
    Change {
        request: u64,
        version: u64,
        change: Change,
    },
    /// The answer to a `Change`: `None` if applied.
    Applied { request: u64, error: Option<String> },
    /// The set the sending node holds.
    State { version: u64, digest: String },
    /// "Send me your whole set."
    Pull,
    /// The whole set of the sending node: each library's owner and code.
    Set {
        version: u64,
        digest: String,
        libraries: Vec<(String, Vec<u8>)>,
    },
}

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether the server runs in cluster mode.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// At `MODULE LOAD`, in cluster mode only: the message receiver, the slot
/// migration filter and the gossip timer.
pub fn init(ctx: &Context) -> Result<(), String> {
    if !ctx.get_flags().contains(ContextFlags::CLUSTER) {
        return Ok(());
    }
    ENABLED.store(true, Ordering::Relaxed);
    let Some(register) = (unsafe { raw::RedisModule_RegisterClusterMessageReceiver }) else {
        return Err("this server cannot send module messages over the cluster bus".into());
    };
    // SAFETY: called during `MODULE LOAD` with its context.
    unsafe { register(ctx.ctx, MESSAGE_TYPE, Some(on_message)) };
    migration::init(ctx)?;
    ctx.create_timer(GOSSIP_PERIOD, gossip, ());
    Ok(())
}

/// Another node, as this node sees it.
struct Node {
    id: NodeId,
    /// `ip:port`, for replies and logs.
    address: String,
    /// Not flagged as failing.
    reachable: bool,
}

/// Every other node of the cluster.
fn other_nodes(ctx: *mut raw::RedisModuleCtx) -> Vec<Node> {
    let (Some(list), Some(info), Some(free)) = (
        unsafe { raw::RedisModule_GetClusterNodesList },
        unsafe { raw::RedisModule_GetClusterNodeInfo },
        unsafe { raw::RedisModule_FreeClusterNodesList },
    ) else {
        return Vec::new();
    };
    let mut count = 0;
    // SAFETY: Redis returns `count` ids of NODE_ID_LEN bytes each, freed
    // below; `ip` has room for an IPv6 address (NET_IP_STR_LEN is 46).
    unsafe {
        let ids = list(ctx, &mut count);
        if ids.is_null() {
            return Vec::new();
        }
        let mut nodes = Vec::with_capacity(count);
        for i in 0..count {
            let id_ptr = *ids.add(i);
            let mut id: NodeId = [0; NODE_ID_LEN + 1];
            ptr::copy_nonoverlapping(id_ptr as *const u8, id.as_mut_ptr(), NODE_ID_LEN);
            let mut ip = [0 as c_char; 64];
            let mut port = 0;
            let mut flags = 0;
            let found = info(
                ctx,
                id.as_ptr() as *const c_char,
                ip.as_mut_ptr(),
                ptr::null_mut(),
                &mut port,
                &mut flags,
            );
            if found != raw::REDISMODULE_OK as c_int
                || flags & raw::REDISMODULE_NODE_MYSELF as c_int != 0
            {
                continue;
            }
            let ip = CStr::from_ptr(ip.as_ptr()).to_string_lossy();
            let failing = (raw::REDISMODULE_NODE_PFAIL | raw::REDISMODULE_NODE_FAIL) as c_int;
            nodes.push(Node {
                id,
                address: format!("{ip}:{port}"),
                reachable: flags & failing == 0,
            });
        }
        free(ids);
        nodes
    }
}

/// Sends `message` to one node, or to all with `None`. False if it could
/// not be sent (an unknown node, or no link to it).
fn send(ctx: *mut raw::RedisModuleCtx, to: Option<&NodeId>, message: &Message) -> bool {
    match bincode::encode_to_vec(message, bincode::config::standard()) {
        Ok(bytes) => send_bytes(ctx, to, &bytes),
        Err(e) => {
            redis_log("warning", &format!("cannot encode a cluster message: {e}"));
            false
        }
    }
}

fn send_bytes(ctx: *mut raw::RedisModuleCtx, to: Option<&NodeId>, bytes: &[u8]) -> bool {
    let (Some(send), Ok(len)) = (
        unsafe { raw::RedisModule_SendClusterMessage },
        u32::try_from(bytes.len()),
    ) else {
        return false;
    };
    let target = to.map_or(ptr::null(), |id| id.as_ptr() as *const c_char);
    // SAFETY: `target` is null or a NUL-terminated id; `bytes` is `len` bytes.
    unsafe {
        send(
            ctx,
            target,
            MESSAGE_TYPE,
            bytes.as_ptr() as *const c_char,
            len,
        ) == raw::REDISMODULE_OK as c_int
    }
}

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
    /// When this node last asked another for its set.
    static LAST_PULL: Cell<Option<Instant>> = const { Cell::new(None) };
    /// A set (version and digest) that failed to load here: not asked for
    /// again, so that a node that cannot load it does not retry forever.
    static FAILED_SET: RefCell<Option<(u64, String)>> = const { RefCell::new(None) };
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
    let bytes = bincode::encode_to_vec(&message, bincode::config::standard())
        .map_err(|e| RedisError::String(format!("ERR cannot encode the change: {e}")))?;
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
    commands::reply_guarded(ctx, |_| {
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
    commands::reply_guarded(ctx, |_| {
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

/// A message from another node. Never panics into Redis.
extern "C" fn on_message(
    ctx: *mut raw::RedisModuleCtx,
    sender: *const c_char,
    _kind: u8,
    payload: *const u8,
    len: u32,
) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        if sender.is_null() || payload.is_null() {
            return;
        }
        let mut from: NodeId = [0; NODE_ID_LEN + 1];
        // SAFETY: Redis passes a NODE_ID_LEN-byte id and `len` bytes.
        let bytes = unsafe {
            ptr::copy_nonoverlapping(sender as *const u8, from.as_mut_ptr(), NODE_ID_LEN);
            std::slice::from_raw_parts(payload, len as usize)
        };
        let config = bincode::config::standard().with_limit::<MAX_MESSAGE_BYTES>();
        match bincode::decode_from_slice::<Message, _>(bytes, config) {
            Ok((message, _)) => receive(ctx, &from, message),
            Err(e) => redis_log(
                "warning",
                &format!("ignored a damaged trigger message from another node: {e}"),
            ),
        }
    }));
    if outcome.is_err() {
        redis_log("warning", "internal error while handling a cluster message");
    }
}

fn receive(ctx: *mut raw::RedisModuleCtx, from: &NodeId, message: Message) {
    match message {
        Message::Change {
            request,
            version,
            change,
        } => {
            let error = registry::apply(&change).err();
            match &error {
                None => {
                    registry::set_version(version, false);
                    commands::propagate(ctx, &change, version, Propagation::AofOnly);
                }
                Some(e) => redis_log(
                    "warning",
                    &format!("cannot apply a trigger library change from another node: {e}"),
                ),
            }
            send(ctx, Some(from), &Message::Applied { request, error });
        }
        Message::Applied { request, error } => answered(from, request, error),
        Message::State { version, digest } => {
            if is_newer(version, &digest) && should_pull(version, &digest) {
                LAST_PULL.set(Some(Instant::now()));
                send(ctx, Some(from), &Message::Pull);
            }
        }
        Message::Pull => {
            let libraries = registry::all()
                .unwrap_or_default()
                .iter()
                .map(|l| (l.owner.clone(), l.code.clone()))
                .collect();
            let set = Message::Set {
                version: registry::version(),
                digest: registry::set_digest(),
                libraries,
            };
            send(ctx, Some(from), &set);
        }
        Message::Set {
            version,
            digest,
            libraries,
        } => {
            LAST_PULL.set(None);
            if is_newer(version, &digest) {
                take_set(ctx, from, version, digest, libraries);
            }
        }
    }
}

/// Records a node's answer to a change; the last answer unblocks the client.
fn answered(from: &NodeId, request: u64, error: Option<String>) {
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

/// Whether a set is newer than this node's: a higher version, or the same
/// version and a greater digest (two changes made at once on two nodes:
/// every node settles on the same one).
fn is_newer(version: u64, digest: &str) -> bool {
    let mine = registry::version();
    version > mine || (version == mine && digest > registry::set_digest().as_str())
}

/// Whether to ask for a newer set now: not while an answer to the last
/// request may still come, and never again for a set that failed to load.
fn should_pull(version: u64, digest: &str) -> bool {
    let failed = FAILED_SET.with(|f| {
        f.borrow()
            .as_ref()
            .is_some_and(|(v, d)| *v == version && d == digest)
    });
    let waiting = LAST_PULL.get().is_some_and(|at| at.elapsed() < PULL_RETRY);
    !failed && !waiting
}

/// Takes another node's whole set in place of this node's, all or nothing,
/// and writes the change to this node's AOF.
fn take_set(
    ctx: *mut raw::RedisModuleCtx,
    from: &NodeId,
    version: u64,
    digest: String,
    libraries: Vec<(String, Vec<u8>)>,
) {
    let before: Vec<String> = registry::all()
        .unwrap_or_default()
        .iter()
        .map(|l| l.name.clone())
        .collect();
    let saved = libraries
        .into_iter()
        .map(|(owner, code)| SavedLibrary { owner, code })
        .collect();
    let node = String::from_utf8_lossy(&from[..NODE_ID_LEN]).into_owned();
    if let Err(e) = registry::replace_all(saved) {
        redis_log(
            "warning",
            &format!(
                "cannot take the trigger libraries (version {version}) of node {node}: {e}. \
                 This node keeps its own until the set changes again"
            ),
        );
        FAILED_SET.with(|f| *f.borrow_mut() = Some((version, digest)));
        return;
    }
    registry::set_version(version, true);
    let after = registry::all().unwrap_or_default();
    for library in &after {
        let change = Change::Load {
            owner: library.owner.clone(),
            code: library.code.clone(),
        };
        commands::propagate(ctx, &change, version, Propagation::AofOnly);
    }
    for name in before
        .iter()
        .filter(|n| !after.iter().any(|l| &l.name == *n))
    {
        let change = Change::Delete { name: name.clone() };
        commands::propagate(ctx, &change, version, Propagation::AofOnly);
    }
    redis_log(
        "notice",
        &format!(
            "took the {} trigger libraries (version {version}) of node {node}",
            after.len()
        ),
    );
}

/// Every [`GOSSIP_PERIOD`]: tells the other nodes which set this node
/// holds, and gives up on answers that never came.
fn gossip(ctx: &Context, (): ()) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let state = Message::State {
            version: registry::version(),
            digest: registry::set_digest(),
        };
        send(ctx.ctx, None, &state);
        // A client that disconnected while it waited has no timeout.
        let stale: Vec<Pending> = PENDING.with(|p| {
            let mut p = p.borrow_mut();
            let old: Vec<u64> = p
                .iter()
                .filter(|(_, v)| v.started.elapsed() > ANSWER_TIMEOUT + GOSSIP_PERIOD)
                .map(|(k, _)| *k)
                .collect();
            old.iter().filter_map(|k| p.remove(k)).collect()
        });
        stale.into_iter().for_each(finish);
    }));
    if outcome.is_err() {
        redis_log(
            "warning",
            "internal error while telling other nodes the library set",
        );
    }
    ctx.create_timer(GOSSIP_PERIOD, gossip, ());
}
