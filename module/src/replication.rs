//! Replication: a change to the set of libraries, propagated to the AOF
//! and to replicas as the `TRIGGER` command that makes it. Uses only
//! `library` (the change) and `server`.

use redis_module::Context;

use crate::library::Change;
use crate::server::{redis_log, replicate, ReplicateTo};

/// Propagates a change as the command that makes it, whatever the replica
/// or the AOF held before: `TRIGGER LOAD REPLACE OWNER <owner> VERSION
/// <version> <code>` (the same library, with the same owner), `TRIGGER
/// DELETE VERSION <version> <name>`, `OUTBOX ADD <name> REPLACE OWNER
/// <owner> VERSION <version> PREFIX <prefix> [EVENTS <event>...]` or
/// `OUTBOX DELETE VERSION <version> <name>`.
pub fn propagate(ctx: &Context, change: &Change, version: u64, to: ReplicateTo) {
    let version = version.to_string();
    let command = match change {
        Change::Load(..) | Change::Delete { .. } => c"TRIGGER",
        Change::AddRule { .. } | Change::DeleteRule { .. } => c"OUTBOX",
    };
    let args: Vec<&[u8]> = match change {
        Change::Load(saved) => {
            let mut args: Vec<&[u8]> = vec![
                b"LOAD",
                b"REPLACE",
                b"OWNER",
                saved.owner.as_bytes(),
                b"VERSION",
                version.as_bytes(),
            ];
            if !saved.config.is_empty() {
                args.extend([&b"CONFIG"[..], saved.config.as_bytes()]);
            }
            args.push(&saved.code);
            args
        }
        Change::Delete { name } | Change::DeleteRule { name } => {
            vec![b"DELETE", b"VERSION", version.as_bytes(), name.as_bytes()]
        }
        Change::AddRule { rule } => {
            let mut args: Vec<&[u8]> = vec![
                b"ADD",
                rule.name.as_bytes(),
                b"REPLACE",
                b"OWNER",
                rule.owner.as_bytes(),
                b"VERSION",
                version.as_bytes(),
                b"PREFIX",
                &rule.prefix,
            ];
            if !rule.events.is_empty() {
                args.push(b"EVENTS");
                args.extend(rule.events.iter().map(|e| e.as_bytes()));
            }
            args
        }
    };
    if !replicate(ctx, command, &args, to) {
        redis_log(
            "warning",
            "cannot propagate a change of the trigger libraries or outbox rules to the AOF and \
             replicas",
        );
    }
}
