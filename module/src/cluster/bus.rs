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
use std::sync::{Mutex, OnceLock};

use redis_module::Context;

use crate::library::{Change, RuleSpec, SavedLibrary};
pub(super) use crate::server::{other_cluster_nodes as other_nodes, NodeId};
use crate::server::{redis_log, send_cluster_message};

/// The module's message type: a protocol version byte, then the message.
pub(super) const MESSAGE_TYPE: u8 = 2;
/// The type of the first builds' messages: protocol 1, without a version.
pub(super) const UNVERSIONED_MESSAGE_TYPE: u8 = 1;
/// The protocol this build speaks: [`Message`] as it is.
const PROTOCOL: u8 = 1;
/// The largest message read: a whole set of libraries.
const MAX_MESSAGE_BYTES: usize = 1 << 30;

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

/// Sends `message` to one node, or to all with `None`. False if it could
/// not be sent (an unknown node, or no link to it).
pub(super) fn send(ctx: &Context, to: Option<&NodeId>, message: &Message) -> bool {
    match encode(message) {
        Ok(bytes) => send_bytes(ctx, to, &bytes),
        Err(e) => {
            redis_log("warning", &e);
            false
        }
    }
}

pub(super) fn send_bytes(ctx: &Context, to: Option<&NodeId>, bytes: &[u8]) -> bool {
    send_cluster_message(ctx, to, MESSAGE_TYPE, bytes)
}
