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

use std::sync::atomic::{AtomicBool, Ordering};

use redis_module::{Context, ContextFlags};

use crate::server::{receive_cluster_messages, redis_log, NODE_ID_LEN};

mod bus;
mod converge;
mod spread;

use bus::{Message, NodeId, MESSAGE_TYPE, UNVERSIONED_MESSAGE_TYPE};
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
    receive_cluster_messages(ctx, &[MESSAGE_TYPE, UNVERSIONED_MESSAGE_TYPE], on_message)?;
    ctx.create_timer(GOSSIP_PERIOD, converge::gossip, ());
    Ok(())
}

/// A message from another node.
fn on_message(ctx: &Context, from: &NodeId, kind: u8, bytes: &[u8]) {
    let sender = String::from_utf8_lossy(&from[..NODE_ID_LEN]);
    match bus::decode(kind, bytes, &sender) {
        Ok(Some(message)) => receive(ctx, from, message),
        Ok(None) => {}
        Err(e) => redis_log(
            "warning",
            &format!("ignored a damaged trigger message from another node: {e}"),
        ),
    }
}

fn receive(ctx: &Context, from: &NodeId, message: Message) {
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
