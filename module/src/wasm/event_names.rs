//! Contract 0.2's `known-event`: the Redis name of each case, both ways.
//! A name that is not one of them travels as `event-name::other`.

use super::bindings::v0_2::{EventName, KnownEvent};

/// One list, in WIT order, gives both directions; `name_of`'s match is
/// exhaustive, so a case added to the WIT without its name here does not
/// compile.
macro_rules! known_events {
    ($($case:ident = $name:literal,)*) => {
        /// The case of a Redis event name, if the contract has one.
        #[inline]
        pub fn known(name: &str) -> Option<KnownEvent> {
            match name {
                $($name => Some(KnownEvent::$case),)*
                _ => None,
            }
        }

        /// The Redis name of a case.
        pub fn name_of(event: KnownEvent) -> &'static str {
            match event {
                $(KnownEvent::$case => $name,)*
            }
        }

        /// Every known name, in WIT order.
        #[cfg(test)]
        pub const ALL: &[&str] = &[$($name),*];
    };
}

known_events! {
    Del = "del", Expire = "expire", Persist = "persist", RenameFrom = "rename_from",
    RenameTo = "rename_to", MoveFrom = "move_from", MoveTo = "move_to", CopyTo = "copy_to",
    Restore = "restore",
    Set = "set", Setrange = "setrange", Incrby = "incrby", Incrbyfloat = "incrbyfloat",
    Append = "append", Setbit = "setbit", Pfadd = "pfadd",
    Lpush = "lpush", Rpush = "rpush", Lpop = "lpop", Rpop = "rpop", Linsert = "linsert",
    Lset = "lset", Lrem = "lrem", Ltrim = "ltrim", Sortstore = "sortstore",
    Sadd = "sadd", Srem = "srem", Spop = "spop", Sinterstore = "sinterstore",
    Sunionstore = "sunionstore", Sdiffstore = "sdiffstore",
    Hset = "hset", Hdel = "hdel", Hincrby = "hincrby", Hincrbyfloat = "hincrbyfloat",
    Hexpire = "hexpire", Hexpired = "hexpired", Hpersist = "hpersist",
    Zadd = "zadd", Zincr = "zincr", Zrem = "zrem", Zrembyscore = "zrembyscore",
    Zrembyrank = "zrembyrank", Zrembylex = "zrembylex", Zinterstore = "zinterstore",
    Zunionstore = "zunionstore", Zdiffstore = "zdiffstore", Zrangestore = "zrangestore",
    Zpopmin = "zpopmin", Zpopmax = "zpopmax",
    Xadd = "xadd", Xtrim = "xtrim", Xdel = "xdel", Xsetid = "xsetid",
    XgroupCreate = "xgroup-create", XgroupCreateconsumer = "xgroup-createconsumer",
    XgroupDelconsumer = "xgroup-delconsumer", XgroupDestroy = "xgroup-destroy",
    XgroupSetid = "xgroup-setid",
    Expired = "expired", Evicted = "evicted", New = "new", Keymiss = "keymiss",
    Overwritten = "overwritten", TypeChanged = "type_changed",
}

/// An event's name as 0.2 carries it.
#[inline]
pub fn event_name(name: &str) -> EventName {
    match known(name) {
        Some(known) => EventName::Known(known),
        None => EventName::Other(name.to_owned()),
    }
}

/// The Redis name of an event 0.2 carries.
pub fn name_string(name: &EventName) -> String {
    match name {
        EventName::Known(known) => name_of(*known).to_owned(),
        EventName::Other(other) => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_goes_there_and_back() {
        for &name in ALL {
            let case = known(name).expect("a known name");
            assert_eq!(name_of(case), name);
        }
        assert!(known("json.set").is_none());
        assert!(known("HSET").is_none());
        assert_eq!(name_string(&event_name("json.set")), "json.set");
        assert_eq!(name_string(&event_name("rename_from")), "rename_from");
    }

    #[test]
    fn the_cases_are_in_wit_order() {
        // The enum's discriminant is its index in the WIT: the list above
        // must follow it, for `ALL` to name what a guest receives.
        for (index, &name) in ALL.iter().enumerate() {
            let case = known(name).expect("a known name");
            assert_eq!(case as usize, index, "{name}");
        }
    }
}
