//! Redis Cluster: every node, primaries and replicas alike, holds the same
//! libraries, with no step on the client's side.
//!
//! - **A change spreads** (`spread.rs`). `TRIGGER LOAD` or `DELETE`, run
//!   by a client on any node, applies there, then goes to every other node
//!   over the cluster bus. Each node applies it, writes it to its own AOF
//!   and answers. The client's reply waits for the answers, at most 5 s,
//!   and names the nodes that did not apply the change.
//! - **Nodes converge** (`converge.rs`). Every change raises the set's
//!   version (`library/registry.rs`), which is saved with the set. Every
//!   second each node tells the others its version and the digest of its
//!   set. A node that hears of a newer set (a higher version; or the same
//!   version and a greater digest, when two changes crossed) asks that node
//!   for its whole set and takes it. So a node that was down, or that joins
//!   later, catches up by itself.
//!
//! Messages are `bincode`-encoded behind a protocol version, so that a
//! cluster can be upgraded one node at a time (`bus.rs`). Everything here runs on
//! Redis' main thread. Uses `library`, `replication` and `server`; of the
//! other parts, only `commands` and `persistence` use it.

use std::os::raw::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};

use redis_module::{raw, Context, ContextFlags};

use crate::server::redis_log;

mod bus;
mod converge;
mod spread;

use bus::{Message, NodeId, MESSAGE_TYPE, NODE_ID_LEN, UNVERSIONED_MESSAGE_TYPE};
use converge::GOSSIP_PERIOD;
pub use spread::spread;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether the server runs in cluster mode.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// At `MODULE LOAD`, in cluster mode only: the message receiver and the
/// gossip timer.
pub fn init(ctx: &Context) -> Result<(), String> {
    if !ctx.get_flags().contains(ContextFlags::CLUSTER) {
        return Ok(());
    }
    ENABLED.store(true, Ordering::Relaxed);
    let Some(register) = (unsafe { raw::RedisModule_RegisterClusterMessageReceiver }) else {
        return Err("this server cannot send module messages over the cluster bus".into());
    };
    for kind in [MESSAGE_TYPE, UNVERSIONED_MESSAGE_TYPE] {
        // SAFETY: called during `MODULE LOAD` with its context.
        unsafe { register(ctx.ctx, kind, Some(on_message)) };
    }
    ctx.create_timer(GOSSIP_PERIOD, converge::gossip, ());
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
        let sender = String::from_utf8_lossy(&from[..NODE_ID_LEN]);
        match bus::decode(kind, bytes, &sender) {
            Ok(Some(message)) => receive(ctx, &from, message),
            Ok(None) => {}
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
        } => spread::apply_change(ctx, from, request, version, change),
        Message::Applied { request, error } => spread::answered(from, request, error),
        Message::State { version, digest } => converge::on_state(ctx, from, version, &digest),
        Message::Pull => converge::on_pull(ctx, from),
        Message::Set {
            version,
            digest,
            libraries,
            rules,
        } => converge::on_set(ctx, from, version, digest, (libraries, rules)),
    }
}
