//! Event names: the cases of the WIT `known-event` enum, in which the host
//! sends the events Redis and Valkey raise, and the names Redis gives them.
//!
//! The host sends a known event as an enum case rather than a string, so
//! that the library need not allocate for its name; the SDK gives it back
//! as a `&'static str` from [`KNOWN_EVENTS`].

use crate::__bindings::redis::triggers::types::{EventName, KnownEvent};

/// Each case of `known-event`, in the WIT's order (a case's discriminant is
/// its index here), with the name Redis gives the event: the case's WIT
/// name, but for the six that Redis writes with `_` (`rename_from`, …,
/// `type_changed`); the `xgroup-*` events keep their `-`.
const KNOWN_EVENTS: [(KnownEvent, &str); 65] = [
    (KnownEvent::Del, "del"),
    (KnownEvent::Expire, "expire"),
    (KnownEvent::Persist, "persist"),
    (KnownEvent::RenameFrom, "rename_from"),
    (KnownEvent::RenameTo, "rename_to"),
    (KnownEvent::MoveFrom, "move_from"),
    (KnownEvent::MoveTo, "move_to"),
    (KnownEvent::CopyTo, "copy_to"),
    (KnownEvent::Restore, "restore"),
    (KnownEvent::Set, "set"),
    (KnownEvent::Setrange, "setrange"),
    (KnownEvent::Incrby, "incrby"),
    (KnownEvent::Incrbyfloat, "incrbyfloat"),
    (KnownEvent::Append, "append"),
    (KnownEvent::Setbit, "setbit"),
    (KnownEvent::Pfadd, "pfadd"),
    (KnownEvent::Lpush, "lpush"),
    (KnownEvent::Rpush, "rpush"),
    (KnownEvent::Lpop, "lpop"),
    (KnownEvent::Rpop, "rpop"),
    (KnownEvent::Linsert, "linsert"),
    (KnownEvent::Lset, "lset"),
    (KnownEvent::Lrem, "lrem"),
    (KnownEvent::Ltrim, "ltrim"),
    (KnownEvent::Sortstore, "sortstore"),
    (KnownEvent::Sadd, "sadd"),
    (KnownEvent::Srem, "srem"),
    (KnownEvent::Spop, "spop"),
    (KnownEvent::Sinterstore, "sinterstore"),
    (KnownEvent::Sunionstore, "sunionstore"),
    (KnownEvent::Sdiffstore, "sdiffstore"),
    (KnownEvent::Hset, "hset"),
    (KnownEvent::Hdel, "hdel"),
    (KnownEvent::Hincrby, "hincrby"),
    (KnownEvent::Hincrbyfloat, "hincrbyfloat"),
    (KnownEvent::Hexpire, "hexpire"),
    (KnownEvent::Hexpired, "hexpired"),
    (KnownEvent::Hpersist, "hpersist"),
    (KnownEvent::Zadd, "zadd"),
    (KnownEvent::Zincr, "zincr"),
    (KnownEvent::Zrem, "zrem"),
    (KnownEvent::Zrembyscore, "zrembyscore"),
    (KnownEvent::Zrembyrank, "zrembyrank"),
    (KnownEvent::Zrembylex, "zrembylex"),
    (KnownEvent::Zinterstore, "zinterstore"),
    (KnownEvent::Zunionstore, "zunionstore"),
    (KnownEvent::Zdiffstore, "zdiffstore"),
    (KnownEvent::Zrangestore, "zrangestore"),
    (KnownEvent::Zpopmin, "zpopmin"),
    (KnownEvent::Zpopmax, "zpopmax"),
    (KnownEvent::Xadd, "xadd"),
    (KnownEvent::Xtrim, "xtrim"),
    (KnownEvent::Xdel, "xdel"),
    (KnownEvent::Xsetid, "xsetid"),
    (KnownEvent::XgroupCreate, "xgroup-create"),
    (KnownEvent::XgroupCreateconsumer, "xgroup-createconsumer"),
    (KnownEvent::XgroupDelconsumer, "xgroup-delconsumer"),
    (KnownEvent::XgroupDestroy, "xgroup-destroy"),
    (KnownEvent::XgroupSetid, "xgroup-setid"),
    (KnownEvent::Expired, "expired"),
    (KnownEvent::Evicted, "evicted"),
    (KnownEvent::New, "new"),
    (KnownEvent::Keymiss, "keymiss"),
    (KnownEvent::Overwritten, "overwritten"),
    (KnownEvent::TypeChanged, "type_changed"),
];

/// The name Redis gives a known event.
pub(crate) fn known_name(event: KnownEvent) -> &'static str {
    // The table follows the enum's order (tested below), so the case's
    // discriminant is its index.
    KNOWN_EVENTS
        .get(event as usize)
        .map_or("unknown", |(_, name)| name)
}

/// An event's name as the host reads it: a known case when it is one.
pub(crate) fn to_wit(name: &str) -> EventName {
    match KNOWN_EVENTS.iter().find(|(_, known)| *known == name) {
        Some((event, _)) => EventName::Known(*event),
        None => EventName::Other(name.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases of `known-event`, read from the WIT file itself.
    fn wit_cases() -> Vec<&'static str> {
        let wit = include_str!("../../wit/triggers.wit");
        let start = wit
            .find("enum known-event {")
            .expect("known-event in the WIT");
        let body = &wit[start..];
        let body = &body[body.find('{').expect("{") + 1..body.find('}').expect("}")];
        body.split(',')
            .map(str::trim)
            .filter(|case| !case.is_empty())
            .collect()
    }

    #[test]
    fn the_table_has_every_case_in_order() {
        let cases = wit_cases();
        assert_eq!(KNOWN_EVENTS.len(), cases.len());
        let with_underscore = [
            "rename-from",
            "rename-to",
            "move-from",
            "move-to",
            "copy-to",
            "type-changed",
        ];
        for (index, ((event, name), case)) in KNOWN_EVENTS.iter().zip(cases).enumerate() {
            assert_eq!(*event as usize, index, "{name}");
            let redis_name = if with_underscore.contains(&case) {
                case.replace('-', "_")
            } else {
                case.to_owned()
            };
            assert_eq!(*name, redis_name);
            assert_eq!(known_name(*event), *name);
            assert!(
                matches!(to_wit(name), EventName::Known(back) if back == *event),
                "{name}"
            );
        }
    }

    #[test]
    fn other_names_stay_strings() {
        assert!(matches!(to_wit("json.set"), EventName::Other(name) if name == "json.set"));
        // Redis' spelling only: the WIT's `-` form is not an event Redis raises.
        assert!(matches!(to_wit("rename-from"), EventName::Other(_)));
        assert!(matches!(
            to_wit("xgroup-create"),
            EventName::Known(KnownEvent::XgroupCreate)
        ));
    }
}
