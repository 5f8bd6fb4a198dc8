//! The cluster bus as the module API offers it: the other nodes, and
//! module messages sent to them and received from them
//! (`RM_SendClusterMessage`, `RM_RegisterClusterMessageReceiver`).

use std::cell::Cell;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use redis_module::{raw, Context};

use super::redis_log;

pub const NODE_ID_LEN: usize = raw::REDISMODULE_NODE_ID_LEN as usize;

/// A node's id, NUL-terminated: Redis looks ids up with `strlen`.
pub type NodeId = [u8; NODE_ID_LEN + 1];

/// Another node, as this node sees it.
pub struct ClusterNode {
    pub id: NodeId,
    /// `ip:port`, for replies and logs.
    pub address: String,
    /// Not flagged as failing.
    pub reachable: bool,
}

/// What receives module messages: the context, the sender, the message
/// type and the payload.
pub type MessageHandler = fn(&Context, &NodeId, u8, &[u8]);

thread_local! {
    /// Set once, at `MODULE LOAD`.
    static RECEIVER: Cell<Option<MessageHandler>> = const { Cell::new(None) };
}

/// At `MODULE LOAD`: module messages of the types `kinds` go to `handler`.
pub fn receive_cluster_messages(
    ctx: &Context,
    kinds: &[u8],
    handler: MessageHandler,
) -> Result<(), String> {
    let Some(register) = api!(RedisModule_RegisterClusterMessageReceiver) else {
        return Err("this server cannot send module messages over the cluster bus".into());
    };
    RECEIVER.set(Some(handler));
    for &kind in kinds {
        // SAFETY: called during `MODULE LOAD` with its context.
        unsafe { register(ctx.ctx, kind, Some(on_message)) };
    }
    Ok(())
}

/// A message from another node. Never panics into Redis.
extern "C" fn on_message(
    ctx: *mut raw::RedisModuleCtx,
    sender: *const c_char,
    kind: u8,
    payload: *const u8,
    len: u32,
) {
    let Some(handler) = RECEIVER.get() else {
        return;
    };
    if ctx.is_null() || sender.is_null() || payload.is_null() {
        return;
    }
    let mut from: NodeId = [0; NODE_ID_LEN + 1];
    // SAFETY: Redis passes a NODE_ID_LEN-byte id and `len` bytes, valid
    // during the call.
    let bytes = unsafe {
        ptr::copy_nonoverlapping(sender as *const u8, from.as_mut_ptr(), NODE_ID_LEN);
        std::slice::from_raw_parts(payload, len as usize)
    };
    let ctx = Context::new(ctx);
    if catch_unwind(AssertUnwindSafe(|| handler(&ctx, &from, kind, bytes))).is_err() {
        redis_log("warning", "internal error while handling a cluster message");
    }
}

/// Every other node of the cluster.
pub fn other_cluster_nodes(ctx: &Context) -> Vec<ClusterNode> {
    let (Some(list), Some(info), Some(free)) = (
        api!(RedisModule_GetClusterNodesList),
        api!(RedisModule_GetClusterNodeInfo),
        api!(RedisModule_FreeClusterNodesList),
    ) else {
        return Vec::new();
    };
    let mut count = 0;
    // SAFETY: Redis returns `count` ids of NODE_ID_LEN bytes each, freed
    // below; `ip` has room for an IPv6 address (NET_IP_STR_LEN is 46).
    unsafe {
        let ids = list(ctx.ctx, &mut count);
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
                ctx.ctx,
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
            nodes.push(ClusterNode {
                id,
                address: format!("{ip}:{port}"),
                reachable: flags & failing == 0,
            });
        }
        free(ids);
        nodes
    }
}

/// Sends a module message of type `kind` to one node, or to all with
/// `None`. False if it could not be sent (an unknown node, or no link).
pub fn send_cluster_message(ctx: &Context, to: Option<&NodeId>, kind: u8, bytes: &[u8]) -> bool {
    let (Some(send), Ok(len)) = (
        api!(RedisModule_SendClusterMessage),
        u32::try_from(bytes.len()),
    ) else {
        return false;
    };
    let target = to.map_or(ptr::null(), |id| id.as_ptr() as *const c_char);
    // SAFETY: `target` is null or a NUL-terminated id; `bytes` is `len`
    // bytes; on the main thread.
    unsafe {
        send(ctx.ctx, target, kind, bytes.as_ptr() as *const c_char, len)
            == raw::REDISMODULE_OK as c_int
    }
}
