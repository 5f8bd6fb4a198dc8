//! Nodes converge: every change raises the set's version, which is saved
//! with the set. Every [`GOSSIP_PERIOD`] each node tells the others its
//! version and the digest of its set. A node that hears of a newer set (a
//! higher version; or the same version and a greater digest, when two
//! changes crossed) asks that node for its whole set and takes it. So a
//! node that was down, or that joins later, catches up by itself.

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use redis_module::Context;

use super::bus::{send, Message, NodeId};
use super::spread;
use crate::library::{self, Change, RuleSpec, SavedLibrary, SavedSet};
use crate::replication::propagate;
use crate::server::redis_log;
use crate::server::ReplicateTo;
use crate::server::NODE_ID_LEN;

/// How often each node tells the others which set it holds.
pub(super) const GOSSIP_PERIOD: Duration = Duration::from_secs(1);
/// How long a node waits for a set it asked for before asking again.
const PULL_RETRY: Duration = Duration::from_secs(3);

thread_local! {
    /// When this node last asked another for its set.
    static LAST_PULL: Cell<Option<Instant>> = const { Cell::new(None) };
    /// A set (version and digest) that failed to load here: not asked for
    /// again, so that a node that cannot load it does not retry forever.
    static FAILED_SET: RefCell<Option<(u64, String)>> = const { RefCell::new(None) };
}

/// Another node holds the set `version` with `digest`: asked for, if newer.
pub(super) fn on_state(ctx: &Context, from: &NodeId, version: u64, digest: &str) {
    if is_newer(version, digest) && should_pull(version, digest) {
        LAST_PULL.set(Some(Instant::now()));
        send(ctx, Some(from), &Message::Pull);
    }
}

/// Another node asks for this node's whole set.
pub(super) fn on_pull(ctx: &Context, from: &NodeId) {
    let libraries = library::all()
        .unwrap_or_default()
        .iter()
        .map(|l| l.saved())
        .collect();
    let rules = library::all_rules()
        .unwrap_or_default()
        .iter()
        .map(|r| r.spec.clone())
        .collect();
    let set = Message::Set {
        version: library::version(),
        digest: library::set_digest(),
        libraries,
        rules,
    };
    send(ctx, Some(from), &set);
}

/// Another node's whole set, asked for: taken, if still newer.
pub(super) fn on_set(
    ctx: &Context,
    from: &NodeId,
    version: u64,
    digest: String,
    set: (Vec<SavedLibrary>, Vec<RuleSpec>),
) {
    LAST_PULL.set(None);
    if is_newer(version, &digest) {
        take_set(ctx, from, version, digest, set);
    }
}

/// Whether a set is newer than this node's: a higher version, or the same
/// version and a greater digest (two changes made at once on two nodes:
/// every node settles on the same one).
fn is_newer(version: u64, digest: &str) -> bool {
    let mine = library::version();
    version > mine || (version == mine && digest > library::set_digest().as_str())
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
    ctx: &Context,
    from: &NodeId,
    version: u64,
    digest: String,
    (libraries, rules): (Vec<SavedLibrary>, Vec<RuleSpec>),
) {
    let before: Vec<String> = library::all()
        .unwrap_or_default()
        .iter()
        .map(|l| l.name.clone())
        .collect();
    let rules_before: Vec<String> = library::all_rules()
        .unwrap_or_default()
        .iter()
        .map(|r| r.spec.name.clone())
        .collect();
    let saved = SavedSet { libraries, rules };
    let node = String::from_utf8_lossy(&from[..NODE_ID_LEN]).into_owned();
    if let Err(e) = library::replace_all(saved) {
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
    library::set_version(version, true);
    let after = library::all().unwrap_or_default();
    for library in &after {
        let change = Change::Load(library.saved());
        propagate(ctx, &change, version, ReplicateTo::AofOnly);
    }
    for name in before
        .iter()
        .filter(|n| !after.iter().any(|l| &l.name == *n))
    {
        let change = Change::Delete { name: name.clone() };
        propagate(ctx, &change, version, ReplicateTo::AofOnly);
    }
    let rules_after = library::all_rules().unwrap_or_default();
    for rule in &rules_after {
        let change = Change::AddRule {
            rule: rule.spec.clone(),
        };
        propagate(ctx, &change, version, ReplicateTo::AofOnly);
    }
    for name in rules_before
        .iter()
        .filter(|n| !rules_after.iter().any(|r| &r.spec.name == *n))
    {
        let change = Change::DeleteRule { name: name.clone() };
        propagate(ctx, &change, version, ReplicateTo::AofOnly);
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
pub(super) fn gossip(ctx: &Context, (): ()) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let state = Message::State {
            version: library::version(),
            digest: library::set_digest(),
        };
        send(ctx, None, &state);
        spread::give_up_stale(GOSSIP_PERIOD);
    }));
    if outcome.is_err() {
        redis_log(
            "warning",
            "internal error while telling other nodes the library set",
        );
    }
    ctx.create_timer(GOSSIP_PERIOD, gossip, ());
}
