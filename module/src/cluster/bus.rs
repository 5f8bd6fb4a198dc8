//! The cluster bus: the module's messages ([`Message`], `bincode`-encoded,
//! of one module message type), the other nodes, and sending.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int};
use std::ptr;

use redis_module::raw;

use crate::library::{Change, RuleSpec, SavedLibrary};
use crate::server::redis_log;

/// The module's one cluster message type.
pub(super) const MESSAGE_TYPE: u8 = 1;
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

/// Decodes a message, at most [`MAX_MESSAGE_BYTES`] long.
pub(super) fn decode(bytes: &[u8]) -> Result<Message, bincode::error::DecodeError> {
    let config = bincode::config::standard().with_limit::<MAX_MESSAGE_BYTES>();
    bincode::decode_from_slice::<Message, _>(bytes, config).map(|(message, _)| message)
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
    match bincode::encode_to_vec(message, bincode::config::standard()) {
        Ok(bytes) => send_bytes(ctx, to, &bytes),
        Err(e) => {
            redis_log("warning", &format!("cannot encode a cluster message: {e}"));
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
