//! The cluster bus: the module's messages ([`Message`], `bincode`-encoded,
//! behind a protocol version), the other nodes, and sending.
//!
//! **Versions.** A message is sent as module message type
//! [`MESSAGE_TYPE`], its payload one byte of protocol version and then the
//! message. A node reads only the versions it knows: a message of another
//! is logged (once per version) and ignored, so a node of a newer build
//! never misreads what an older one sends, or the reverse, while a cluster
//! is upgraded one node at a time; once every node runs the same build, the
//! set converges as usual (`converge.rs`). The first builds sent protocol 1
//! without a version byte, as type [`UNVERSIONED_MESSAGE_TYPE`]: it is
//! still read, and never sent.

use std::collections::HashSet;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int};
use std::ptr;
use std::sync::{Mutex, OnceLock};

use redis_module::raw;

use crate::library::{Change, RuleSpec, SavedLibrary};
use crate::server::redis_log;

/// The module's message type: a protocol version byte, then the message.
pub(super) const MESSAGE_TYPE: u8 = 2;
/// The type of the first builds' messages: protocol 1, without a version.
pub(super) const UNVERSIONED_MESSAGE_TYPE: u8 = 1;
/// The protocol this build speaks: [`Message`] as it is.
const PROTOCOL: u8 = 1;
/// The largest message read: a whole set of libraries.
const MAX_MESSAGE_BYTES: usize = 1 << 30;

pub(super) const NODE_ID_LEN: usize = raw::REDISMODULE_NODE_ID_LEN as usize;

/// A node's id, NUL-terminated: Redis looks ids up with `strlen`.
pub(super) type NodeId = [u8; NODE_ID_LEN + 1];

#[derive(bincode::Encode, bincode::Decode)]
pub(super) enum Message {
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
    /// The whole set of the sending node: each library's owner, code and
    /// configuration, and the outbox rules.
    Set {
        version: u64,
        digest: String,
        libraries: Vec<SavedLibrary>,
        rules: Vec<RuleSpec>,
    },
}

/// The protocol version this node sends: [`PROTOCOL`], unless the
/// environment variable `WASM_TRIGGERS_BUS_PROTOCOL` says another, so that
/// a test can play a node of another build.
fn sent_protocol() -> u8 {
    static SENT: OnceLock<u8> = OnceLock::new();
    *SENT.get_or_init(|| {
        std::env::var("WASM_TRIGGERS_BUS_PROTOCOL")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(PROTOCOL)
    })
}

/// Encodes a message behind its protocol version.
pub(super) fn encode(message: &Message) -> Result<Vec<u8>, String> {
    let mut bytes = vec![sent_protocol()];
    bincode::encode_into_std_write(message, &mut bytes, bincode::config::standard())
        .map_err(|e| format!("cannot encode a cluster message: {e}"))?;
    Ok(bytes)
}

/// Decodes a message of type `kind`, at most [`MAX_MESSAGE_BYTES`] long;
/// `None` for a protocol version this build does not know, logged once
/// per version.
pub(super) fn decode(
    kind: u8,
    bytes: &[u8],
    from: &str,
) -> Result<Option<Message>, bincode::error::DecodeError> {
    let message = match kind {
        UNVERSIONED_MESSAGE_TYPE => bytes,
        _ => match bytes.split_first() {
            Some((&PROTOCOL, message)) => message,
            Some((&version, _)) => {
                unknown_version(version, from);
                return Ok(None);
            }
            None => return Err(bincode::error::DecodeError::UnexpectedEnd { additional: 1 }),
        },
    };
    let config = bincode::config::standard().with_limit::<MAX_MESSAGE_BYTES>();
    bincode::decode_from_slice::<Message, _>(message, config).map(|(message, _)| Some(message))
}

/// Logs, once per version, that messages of an unknown protocol are
/// ignored.
fn unknown_version(version: u8, from: &str) {
    static LOGGED: Mutex<Option<HashSet<u8>>> = Mutex::new(None);
    let Ok(mut logged) = LOGGED.lock() else {
        return;
    };
    if logged.get_or_insert_with(HashSet::new).insert(version) {
        redis_log(
            "warning",
            &format!(
                "ignoring trigger messages of cluster protocol {version} (from node {from} and \
                 any other): this node speaks protocol {PROTOCOL}. Libraries and rules converge \
                 once every node runs the same build of the module"
            ),
        );
    }
}

/// Another node, as this node sees it.
pub(super) struct Node {
    pub(super) id: NodeId,
    /// `ip:port`, for replies and logs.
    pub(super) address: String,
    /// Not flagged as failing.
    pub(super) reachable: bool,
}

/// Every other node of the cluster.
pub(super) fn other_nodes(ctx: *mut raw::RedisModuleCtx) -> Vec<Node> {
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
pub(super) fn send(ctx: *mut raw::RedisModuleCtx, to: Option<&NodeId>, message: &Message) -> bool {
    match encode(message) {
        Ok(bytes) => send_bytes(ctx, to, &bytes),
        Err(e) => {
            redis_log("warning", &e);
            false
        }
    }
}

pub(super) fn send_bytes(ctx: *mut raw::RedisModuleCtx, to: Option<&NodeId>, bytes: &[u8]) -> bool {
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
