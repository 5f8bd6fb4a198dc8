//! Test harness: starts real Redis 8.0 and 8.6, Valkey 8.1 and Valkey 9.1 servers on
//! free loopback ports, with the module loaded, and talks to them with the
//! `redis` crate.
//!
//! The servers and Wasm files come from `scripts/setup.sh`; `scripts/test.sh`
//! runs it before the tests. Paths can be overridden with `REDIS_SERVER`,
//! `REDIS86_SERVER`, `VALKEY_SERVER`, `VALKEY9_SERVER` and `TRIGGERS_MODULE`.
//!
//! - `server.rs`: [`Flavor`], the paths of the servers, the module and the
//!   Wasm files, and [`Server`], a server process (started, restarted and
//!   killed by `wasm_triggers_harness`, the launcher trigger authors use).
//! - `replies.rs`: reply decoding ([`as_map`], [`text`], [`int`], [`array()`])
//!   and the `TRIGGER LIST` helpers.
//! - `commands.rs`: [`query`], the `TRIGGER LOAD` helpers, [`list`],
//!   [`eventually`], replication, `INFO` and `SAVE`.
//! - `aof.rs`: [`aof_commands`], a server's AOF increments as commands.
//! - `cluster.rs`: [`Cluster`], a Redis Cluster of servers.
//! - `outbox.rs`: [`outbox_entries`], the outbox streams read back.
//! - `pings.rs`: [`with_pings`], a second client PINGing during an action.
//! - `broker.rs`: [`Broker`], a real RabbitMQ, and [`Client`], its client;
//!   `certificates.rs`: [`Certificates`] for its TLS listener;
//!   `slow_proxy.rs`: [`SlowProxy`], a slow link to it;
//!   `forwarding.rs`: what the forwarder's tests share.
//! - this file: the test macros, [`on_each_flavor!`] and [`on_all_servers!`].

pub use redis::{Connection, Value};

mod aof;
mod broker;
mod certificates;
mod cluster;
mod commands;
pub mod forwarding;
mod outbox;
mod pings;
mod removed_values;
mod replies;
mod server;
mod slow_proxy;
pub use aof::aof_commands;
pub use broker::{block_on, Broker, Client, Got};
pub use certificates::Certificates;
pub use cluster::Cluster;
pub use commands::{
    eventually, info_number, limit_memory_of_volatile_keys, list, load, load_error, load_replace,
    query, replicaof, save, wait_for_optimized_code, wait_for_replicas, within,
};
pub use outbox::{key_slot, outbox_entries, outbox_events_of, outbox_streams, OutboxEntry};
pub use pings::{with_pings, Pings};
pub use removed_values::{removed_entry, removed_log, summary, RemovedEntry};
pub use replies::{array, as_map, int, libraries, library_names, stat, text, trigger_stats};
pub(crate) use server::free_port;
pub use server::{datatype_module, module_path, repo_root, wasm, Flavor, Server};
pub use slow_proxy::SlowProxy;

/// Declares a test that runs once for each server (Redis 8.0 and 8.6,
/// Valkey 8 and Valkey 9), with the server's [`Flavor`], for tests that start servers of
/// their own (a cluster, a replica):
///
/// ```ignore
/// on_each_flavor!(fn my_test(flavor) { let cluster = Cluster::start(flavor); ... });
/// ```
#[macro_export]
macro_rules! on_each_flavor {
    (fn $name:ident($flavor:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn body($flavor: $crate::Flavor) $body

            #[test]
            fn redis8() {
                body($crate::Flavor::Redis8);
            }

            #[test]
            fn redis86() {
                body($crate::Flavor::Redis86);
            }

            #[test]
            fn valkey8() {
                body($crate::Flavor::Valkey8);
            }

            #[test]
            fn valkey9() {
                body($crate::Flavor::Valkey9);
            }
        }
    };
}

/// Declares a test that runs once on each server (Redis 8.0 and 8.6,
/// Valkey 8 and Valkey 9), each on a server of its own, and checks that the server is
/// still alive after it:
///
/// ```ignore
/// on_all_servers!(fn my_test(server) { ... });
/// ```
#[macro_export]
macro_rules! on_all_servers {
    (fn $name:ident($server:ident) $body:block) => {
        $crate::on_each_flavor!(fn $name(flavor) {
            fn test($server: &mut $crate::Server) $body
            let mut server = $crate::Server::start(flavor);
            test(&mut server);
            assert!(server.is_alive(), "the server died:\n{}", server.log());
        });
    };
}
