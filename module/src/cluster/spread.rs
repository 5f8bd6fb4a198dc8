//! A change spreads: a client's `TRIGGER LOAD` or `DELETE` goes to every
//! other node, which applies it and answers; the client's reply waits for
//! the answers, at most [`ANSWER_TIMEOUT`], and names the nodes that did
//! not apply the change.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::{Duration, Instant};

use redis_module::{Context, RedisError, RedisResult, RedisValue};

use super::bus::{encode, other_nodes, send, send_bytes, Message, NodeId};
use crate::library::{self, Change};
use crate::replication::propagate;
use crate::server::ReplicateTo;
use crate::server::{redis_log, BlockedClient, BlockedClientId, BlockedReply};

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

impl BlockedReply for Outcome {
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

    /// The nodes did not all answer in time.
    fn timed_out(client: BlockedClientId) -> RedisResult {
        let pending = PENDING.with(|p| {
            let mut p = p.borrow_mut();
            let request = p
                .iter()
                .find(|(_, v)| v.client.id() == client)
                .map(|(k, _)| *k)?;
            p.remove(&request)
        });
        match pending {
            // The client, timed out, is unblocked as `_client` drops.
            Some(pending) => {
                let (_client, outcome) = pending.give_up();
                outcome.reply()
            }
            None => Err(RedisError::Str(
                "ERR no answer in time from the other nodes",
            )),
        }
    }
}

/// A client waiting for the other nodes' answers.
struct Pending {
    client: BlockedClient<Outcome>,
    outcome: Outcome,
    /// The nodes yet to answer, with their addresses.
    waiting: Vec<(NodeId, String)>,
    started: Instant,
}

impl Pending {
    /// No more answers will come: those missing count as not reached. The
    /// client, unless it is answered the outcome, is unblocked on drop.
    fn give_up(self) -> (BlockedClient<Outcome>, Outcome) {
        let Pending {
            client,
            mut outcome,
            waiting,
            ..
        } = self;
        outcome
            .unreachable
            .extend(waiting.into_iter().map(|(_, address)| address));
        (client, outcome)
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
    let nodes = other_nodes(ctx);
    let mut outcome = Outcome {
        what,
        success,
        others: nodes.len(),
        refused: Vec::new(),
        unreachable: Vec::new(),
    };
    let mut waiting = Vec::new();
    for node in nodes {
        if node.reachable && send_bytes(ctx, Some(&node.id), &bytes) {
            waiting.push((node.id, node.address));
        } else {
            outcome.unreachable.push(node.address);
        }
    }
    if waiting.is_empty() {
        return outcome.reply();
    }
    let Some(client) = BlockedClient::block(ctx, ANSWER_TIMEOUT) else {
        return outcome.reply();
    };
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
    let (client, outcome) = pending.give_up();
    client.unblock(outcome);
}

/// A change a client made on another node: applied here, written to this
/// node's AOF, and answered.
pub(super) fn apply_change(
    ctx: &Context,
    from: &NodeId,
    request: u64,
    version: u64,
    change: Change,
) {
    let error = library::apply(&change).err();
    match &error {
        None => {
            library::set_version(version, false);
            propagate(ctx, &change, version, ReplicateTo::AofOnly);
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
