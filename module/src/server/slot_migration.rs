//! Atomic slot migrations, as the two servers report them: Valkey 9's
//! `CLUSTER MIGRATESLOTS` and Redis 8.4+'s `CLUSTER MIGRATION IMPORT`. Each
//! has its own server events and structures; both reach the handler as a
//! [`SlotMigration`] with the slot ranges it concerns.

use std::cell::Cell;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

use redis_module::{raw, raw::ModuleOptions, Context, RedisValue};

use super::{redis_log, subscribe_to_server_event, valkey_major_version};

/// What happens to some slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotMigration {
    /// This node starts importing them: what it receives is the source's.
    ImportStarted,
    /// The import ended: the node serves them now, or never will from it.
    ImportEnded,
    /// This node starts sending them to another.
    ExportStarted,
    /// The export failed or was cancelled: this node still serves them.
    ExportAborted,
    /// The export succeeded: another node serves them now.
    ExportCompleted,
    /// Redis deletes the keys of slots this node gave away (or of a failed
    /// import) on its main thread, one by one.
    TrimStarted,
    /// That deletion is over.
    TrimEnded,
}

/// A slot migration handler: what happens, and to which slot ranges
/// (first and last slot of each, inclusive).
pub type SlotMigrationHandler = fn(SlotMigration, &[(u16, u16)]);

thread_local! {
    static HANDLER: Cell<Option<SlotMigrationHandler>> = const { Cell::new(None) };
}

/// Valkey's `VALKEYMODULE_OPTIONS_HANDLE_ATOMIC_SLOT_MIGRATION`: without it
/// Valkey 9 refuses atomic migrations while the module is loaded.
const VALKEY_HANDLES_ATOMIC_SLOT_MIGRATION: c_int = 0x20;
/// Valkey's `VALKEYMODULE_EVENT_ATOMIC_SLOT_MIGRATION`.
const VALKEY_EVENT: u64 = 19;
/// Redis' `REDISMODULE_EVENT_CLUSTER_SLOT_MIGRATION` and `…_TRIM`.
const REDIS_EVENT: u64 = 18;
const REDIS_TRIM_EVENT: u64 = 19;

/// At `MODULE LOAD`, in a cluster: sends the server's atomic slot
/// migration events, if it has them, to `handler`. Returns the module
/// options the server needs to allow such migrations.
pub fn follow_atomic_slot_migrations(
    ctx: &Context,
    handler: SlotMigrationHandler,
) -> Result<ModuleOptions, String> {
    HANDLER.set(Some(handler));
    match valkey_major_version(ctx) {
        Some(major) if major >= 9 => {
            subscribe_to_server_event(ctx, VALKEY_EVENT, on_valkey_event, "atomic slot migration")?;
            Ok(ModuleOptions::from_bits_retain(
                VALKEY_HANDLES_ATOMIC_SLOT_MIGRATION,
            ))
        }
        Some(_) => Ok(ModuleOptions::empty()),
        // Redis before 8.4 refuses these events: it has no atomic migration.
        None => {
            let migration = subscribe_to_server_event(
                ctx,
                REDIS_EVENT,
                on_redis_event,
                "cluster slot migration",
            );
            if migration.is_ok() {
                subscribe_to_server_event(
                    ctx,
                    REDIS_TRIM_EVENT,
                    on_redis_trim_event,
                    "cluster slot migration trim",
                )?;
            }
            Ok(ModuleOptions::empty())
        }
    }
}

fn deliver(what: SlotMigration, ranges: &[(u16, u16)]) {
    let Some(handler) = HANDLER.get() else {
        return;
    };
    if catch_unwind(AssertUnwindSafe(|| handler(what, ranges))).is_err() {
        redis_log("warning", "following a slot migration panicked");
    }
}

/// `ValkeyModuleSlotRange`.
#[repr(C)]
struct ValkeySlotRange {
    start: c_int,
    end: c_int,
}

/// `ValkeyModuleAtomicSlotMigrationInfoV1`.
#[repr(C)]
struct ValkeyMigrationInfo {
    version: u64,
    job_name: [c_char; 41],
    slot_ranges: *const ValkeySlotRange,
    num_slot_ranges: u32,
}

/// Valkey's migration event. Never panics.
extern "C" fn on_valkey_event(
    _ctx: *mut raw::RedisModuleCtx,
    _event: raw::RedisModuleEvent,
    subevent: u64,
    data: *mut c_void,
) {
    let what = match subevent {
        0 => SlotMigration::ImportStarted,
        1 => SlotMigration::ExportStarted,
        2 | 4 => SlotMigration::ImportEnded,
        3 => SlotMigration::ExportAborted,
        5 => SlotMigration::ExportCompleted,
        _ => return,
    };
    if data.is_null() {
        return;
    }
    // SAFETY: for this event Valkey passes its
    // `ValkeyModuleAtomicSlotMigrationInfo`, whose ranges live for the call.
    let info = unsafe { &*(data as *const ValkeyMigrationInfo) };
    if info.version != 1 || info.slot_ranges.is_null() {
        return;
    }
    // SAFETY: `num_slot_ranges` ranges at `slot_ranges`, as above.
    let ranges =
        unsafe { std::slice::from_raw_parts(info.slot_ranges, info.num_slot_ranges as usize) };
    let slot = |s: c_int| s.clamp(0, 16383) as u16;
    let ranges: Vec<(u16, u16)> = ranges
        .iter()
        .map(|r| (slot(r.start), slot(r.end)))
        .collect();
    deliver(what, &ranges);
}

/// `RedisModuleSlotRange`.
#[repr(C)]
struct RedisSlotRange {
    start: u16,
    end: u16,
}

/// `RedisModuleSlotRangeArray`: a count, then the ranges.
#[repr(C)]
struct RedisSlotRanges {
    num_ranges: i32,
    ranges: [RedisSlotRange; 0],
}

/// `RedisModuleClusterSlotMigrationInfoV1`.
#[repr(C)]
struct RedisMigrationInfo {
    version: u64,
    source_node_id: [c_char; 41],
    destination_node_id: [c_char; 41],
    task_id: *const c_char,
    slots: *const RedisSlotRanges,
}

/// `RedisModuleClusterSlotMigrationTrimInfoV1`.
#[repr(C)]
struct RedisTrimInfo {
    version: u64,
    slots: *const RedisSlotRanges,
}

/// The ranges of a `RedisModuleSlotRangeArray`.
///
/// # Safety
/// `slots` is null or points to a range array valid for the call.
unsafe fn redis_ranges(slots: *const RedisSlotRanges) -> Vec<(u16, u16)> {
    if slots.is_null() {
        return Vec::new();
    }
    // SAFETY: the caller's promise; `num_ranges` ranges follow the count.
    let ranges = unsafe {
        let count = usize::try_from((*slots).num_ranges).unwrap_or(0);
        std::slice::from_raw_parts(
            std::ptr::addr_of!((*slots).ranges).cast::<RedisSlotRange>(),
            count,
        )
    };
    let slot = |s: u16| s.min(16383);
    ranges
        .iter()
        .map(|r| (slot(r.start), slot(r.end)))
        .collect()
}

/// Redis' migration event. Never panics.
extern "C" fn on_redis_event(
    _ctx: *mut raw::RedisModuleCtx,
    _event: raw::RedisModuleEvent,
    subevent: u64,
    data: *mut c_void,
) {
    let what = match subevent {
        0 => SlotMigration::ImportStarted,
        1 | 2 => SlotMigration::ImportEnded,
        3 => SlotMigration::ExportStarted,
        4 => SlotMigration::ExportAborted,
        5 => SlotMigration::ExportCompleted,
        // 6, MIGRATE_MODULE_PROPAGATE: the module sends nothing of its own.
        _ => return,
    };
    if data.is_null() {
        return;
    }
    // SAFETY: for this event Redis passes a
    // `RedisModuleClusterSlotMigrationInfoV1`, valid for the call, whose
    // range array lives as long.
    let ranges = unsafe { redis_ranges((*(data as *const RedisMigrationInfo)).slots) };
    deliver(what, &ranges);
}

/// Redis' trim event. Never panics.
extern "C" fn on_redis_trim_event(
    _ctx: *mut raw::RedisModuleCtx,
    _event: raw::RedisModuleEvent,
    subevent: u64,
    data: *mut c_void,
) {
    let what = match subevent {
        0 => SlotMigration::TrimStarted,
        1 => SlotMigration::TrimEnded,
        // 2, TRIM_BACKGROUND: freed in another thread, with no event per key.
        _ => return,
    };
    if data.is_null() {
        return;
    }
    // SAFETY: for this event Redis passes a
    // `RedisModuleClusterSlotMigrationTrimInfoV1`, valid for the call.
    let ranges = unsafe { redis_ranges((*(data as *const RedisTrimInfo)).slots) };
    deliver(what, &ranges);
}

/// The slots this node moves key by key (`CLUSTER SETSLOT <slot>
/// MIGRATING|IMPORTING`): those it migrates to another node, and those it
/// imports from one, as its line of `CLUSTER NODES` shows them
/// (`[<slot>->-<node>]`, `[<slot>-<-<node>]`). `None` if it cannot be read.
pub fn open_slots(ctx: &Context) -> Option<(Vec<u16>, Vec<u16>)> {
    let nodes = match ctx.call("CLUSTER", &["NODES"][..]) {
        Ok(RedisValue::SimpleString(s) | RedisValue::BulkString(s)) => s,
        Ok(RedisValue::BulkRedisString(s)) => s.to_string_lossy(),
        Ok(RedisValue::VerbatimString((_, s))) => String::from_utf8_lossy(&s).into_owned(),
        Ok(RedisValue::StringBuffer(s)) => String::from_utf8_lossy(&s).into_owned(),
        _ => return None,
    };
    Some(parse_open_slots(&nodes))
}

fn parse_open_slots(nodes: &str) -> (Vec<u16>, Vec<u16>) {
    let (mut migrating, mut importing) = (Vec::new(), Vec::new());
    let Some(myself) = nodes.lines().find(|line| {
        line.split(' ')
            .nth(2)
            .is_some_and(|f| f.split(',').any(|f| f == "myself"))
    }) else {
        return (migrating, importing);
    };
    for field in myself.split(' ') {
        let Some(inner) = field.strip_prefix('[').and_then(|f| f.strip_suffix(']')) else {
            continue;
        };
        if let Some((slot, _)) = inner.split_once("->-") {
            migrating.extend(slot.parse::<u16>().ok());
        } else if let Some((slot, _)) = inner.split_once("-<-") {
            importing.extend(slot.parse::<u16>().ok());
        }
    }
    (migrating, importing)
}

#[cfg(test)]
mod tests {
    use super::parse_open_slots;

    #[test]
    fn open_slots_of_this_node() {
        let nodes = "\
07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002,host myself,master - 0 0 2 connected 5461-10922 [5461->-e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca] [93-<-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 master - 0 1426238316232 1 connected 0-5460 [5461-<-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]
";
        assert_eq!(parse_open_slots(nodes), (vec![5461], vec![93]));
        assert_eq!(parse_open_slots(""), (vec![], vec![]));
    }
}
