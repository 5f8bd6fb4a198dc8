//! Which keyspace events fire a trigger: event names (`hset`, `del`,
//! `expired`, …) and event classes (`@hash`, `@generic`, `@new`, …).
//!
//! The filter runs on every keyspace event before any Wasm is entered, so a
//! match is a bit test and, only when names are listed, a few short string
//! comparisons.

use std::sync::atomic::{AtomicI32, Ordering};

use redis_module::NotifyEvent;

/// Redis 8.2's `overwritten` (`o`) and `type_changed` (`c`) classes, which
/// redis-module does not name.
pub const OVERWRITTEN: NotifyEvent = NotifyEvent::from_bits_retain(1 << 15);
pub const TYPE_CHANGED: NotifyEvent = NotifyEvent::from_bits_retain(1 << 16);

/// The event classes a trigger can name, with the Redis notification bits
/// they stand for (the letters of `notify-keyspace-events`).
const CLASSES: &[(&str, NotifyEvent)] = &[
    ("@all", NotifyEvent::ALL),
    ("@generic", NotifyEvent::GENERIC),
    ("@string", NotifyEvent::STRING),
    ("@list", NotifyEvent::LIST),
    ("@set", NotifyEvent::SET),
    ("@hash", NotifyEvent::HASH),
    ("@zset", NotifyEvent::ZSET),
    ("@stream", NotifyEvent::STREAM),
    ("@expired", NotifyEvent::EXPIRED),
    ("@evicted", NotifyEvent::EVICTED),
    ("@module", NotifyEvent::MODULE),
    ("@new", NotifyEvent::NEW),
    ("@keymiss", NotifyEvent::MISSED),
    ("@overwritten", OVERWRITTEN),
    ("@type_changed", TYPE_CHANGED),
];

/// Every event Redis 8.0 to 8.6 and Valkey 8 and 9 raise, by the class they raise
/// it under, so that a trigger that names them needs only that class of
/// notifications. A name with a dot (`json.set`) is another module's event
/// (class `@module`); any other name is refused when a client loads it
/// ([`check_known`]).
const NAME_CLASSES: &[(NotifyEvent, &[&str])] = &[
    (
        NotifyEvent::GENERIC,
        &[
            "del",
            "expire",
            "persist",
            "rename_from",
            "rename_to",
            "move_from",
            "move_to",
            "copy_to",
            "restore",
        ],
    ),
    (
        NotifyEvent::STRING,
        &[
            "set",
            "setrange",
            "incrby",
            "incrbyfloat",
            "append",
            "setbit",
            "pfadd",
        ],
    ),
    (
        NotifyEvent::LIST,
        &[
            "lpush",
            "rpush",
            "lpop",
            "rpop",
            "linsert",
            "lset",
            "lrem",
            "ltrim",
            "sortstore",
        ],
    ),
    (
        NotifyEvent::SET,
        &[
            "sadd",
            "srem",
            "spop",
            "sinterstore",
            "sunionstore",
            "sdiffstore",
        ],
    ),
    (
        NotifyEvent::HASH,
        &[
            "hset",
            "hdel",
            "hincrby",
            "hincrbyfloat",
            "hexpire",
            "hexpired",
            "hpersist",
        ],
    ),
    (
        NotifyEvent::ZSET,
        &[
            "zadd",
            "zincr",
            "zrem",
            "zrembyscore",
            "zrembyrank",
            "zrembylex",
            "zinterstore",
            "zunionstore",
            "zdiffstore",
            "zrangestore",
            "zpopmin",
            "zpopmax",
        ],
    ),
    (
        NotifyEvent::STREAM,
        &[
            "xadd",
            "xtrim",
            "xdel",
            "xsetid",
            "xgroup-create",
            "xgroup-createconsumer",
            "xgroup-delconsumer",
            "xgroup-destroy",
            "xgroup-setid",
        ],
    ),
    (NotifyEvent::EXPIRED, &["expired"]),
    (NotifyEvent::EVICTED, &["evicted"]),
    (NotifyEvent::NEW, &["new"]),
    (NotifyEvent::MISSED, &["keymiss"]),
    (OVERWRITTEN, &["overwritten"]),
    (TYPE_CHANGED, &["type_changed"]),
];

/// The notification classes the server raises (all, until `MODULE LOAD`
/// says, and without a server).
static SERVER_CLASSES: AtomicI32 = AtomicI32::new(-1);

/// At `MODULE LOAD`: the classes this server raises, so that a trigger or
/// rule on an event it never raises is refused.
pub fn set_server_classes(classes: NotifyEvent) {
    SERVER_CLASSES.store(classes.bits(), Ordering::Relaxed);
}

/// Whether `name` (lower case) is an event of another module: they are
/// named `<module>.<event>` by convention (`json.set`).
fn is_module_event(name: &str) -> bool {
    name.contains('.')
}

/// Refuses event names that no server raises: a trigger or rule declared
/// on `exipred` would load and never fire; likewise an event or class this
/// server does not raise (`overwritten` before Redis 8.2). Checked when a
/// client loads a library or adds a rule, not when one comes back from an
/// RDB file, the AOF, a primary or another node: what was loaded must
/// always load again.
pub fn check_known(events: &[String]) -> Result<(), String> {
    let raised = NotifyEvent::from_bits_retain(SERVER_CLASSES.load(Ordering::Relaxed));
    for event in events {
        let event = event.to_ascii_lowercase();
        let class = match CLASSES.iter().find(|(name, _)| *name == event) {
            Some((_, class)) => Some(*class),
            None => class_of(&event),
        };
        if class.is_some_and(|class| !raised.contains(class)) {
            return Err(format!(
                "this server does not raise '{event}' events ('overwritten' and \
                 'type_changed' come with Redis 8.2)"
            ));
        }
        if event.starts_with('@') || is_module_event(&event) || class.is_some() {
            continue;
        }
        let names = NAME_CLASSES.iter().flat_map(|(_, names)| names.iter());
        let hint = names
            .clone()
            .min_by_key(|name| edit_distance(name, &event))
            .filter(|name| edit_distance(name, &event) <= 2)
            .map(|name| format!(" (did you mean '{name}'?)"))
            .unwrap_or_default();
        let classes: Vec<&str> = CLASSES.iter().map(|(n, _)| *n).collect();
        let names: Vec<&str> = names.copied().collect();
        return Err(format!(
            "unknown event '{event}'{hint}. Events: {}; classes: {}; another module's events \
             are named <module>.<event>",
            names.join(", "),
            classes.join(", ")
        ));
    }
    Ok(())
}

fn class_of(name: &str) -> Option<NotifyEvent> {
    NAME_CLASSES
        .iter()
        .find(|(_, names)| names.contains(&name))
        .map(|(class, _)| *class)
}

/// Levenshtein distance, for the hint of [`check_known`].
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// A parsed `events` list.
#[derive(Debug, Clone)]
pub struct EventFilter {
    classes: NotifyEvent,
    names: Box<[Box<str>]>,
}

impl EventFilter {
    /// Parses a trigger's `events` list. Empty means `@all`.
    pub fn parse(events: &[String]) -> Result<EventFilter, String> {
        let mut classes = NotifyEvent::empty();
        let mut names: Vec<Box<str>> = Vec::new();
        for event in events {
            let event = event.to_ascii_lowercase();
            if event.starts_with('@') {
                let Some((_, bits)) = CLASSES.iter().find(|(name, _)| *name == event) else {
                    let known: Vec<&str> = CLASSES.iter().map(|(n, _)| *n).collect();
                    return Err(format!(
                        "unknown event class '{event}' (known: {})",
                        known.join(", ")
                    ));
                };
                classes |= *bits;
            } else {
                let valid = !event.is_empty()
                    && event.len() <= 64
                    && event
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b));
                if !valid {
                    return Err(format!(
                        "invalid event name {event:?}: use a keyspace event name such as \
                         'hset' or a class such as '@hash'"
                    ));
                }
                if !names.iter().any(|n| **n == *event) {
                    names.push(event.into_boxed_str());
                }
            }
        }
        if events.is_empty() {
            classes = NotifyEvent::ALL;
        }
        Ok(EventFilter {
            classes,
            names: names.into_boxed_slice(),
        })
    }

    /// The notification classes Redis must deliver for this filter.
    pub fn notifications(&self) -> NotifyEvent {
        let mut classes = self.classes;
        for name in &self.names {
            classes |= match class_of(name) {
                Some(class) => class,
                None if is_module_event(name) => NotifyEvent::MODULE,
                // Loaded before names were checked: it may be anything.
                None => NotifyEvent::ALL,
            };
        }
        classes
    }

    /// Whether an event of class `kind` named `name` passes the filter.
    #[inline]
    pub fn matches(&self, kind: NotifyEvent, name: &str) -> bool {
        self.classes.intersects(kind) || self.names.iter().any(|n| **n == *name)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_event_known_here_travels_as_a_known_event_in_contract_0_2() {
        // A name missing from `known-event` would cost its guests an
        // allocation per event, as `event-name::other`.
        for (_, names) in NAME_CLASSES {
            for name in *names {
                assert!(crate::wasm::known_event(name).is_some(), "{name}");
            }
        }
    }

    use super::*;

    fn filter(events: &[&str]) -> EventFilter {
        let events: Vec<String> = events.iter().map(|e| e.to_string()).collect();
        EventFilter::parse(&events).expect("valid filter")
    }

    #[test]
    fn notifications_needed() {
        assert_eq!(filter(&["@hash"]).notifications(), NotifyEvent::HASH);
        assert_eq!(
            filter(&["hset", "expired"]).notifications(),
            NotifyEvent::HASH | NotifyEvent::EXPIRED
        );
        assert_eq!(
            filter(&["new", "del"]).notifications(),
            NotifyEvent::NEW | NotifyEvent::GENERIC
        );
        assert_eq!(filter(&[]).notifications(), NotifyEvent::ALL);
        assert_eq!(
            filter(&["my.module.event"]).notifications(),
            NotifyEvent::MODULE
        );
        assert_eq!(filter(&["keymiss"]).notifications(), NotifyEvent::MISSED);
        assert_eq!(filter(&["@keymiss"]).notifications(), NotifyEvent::MISSED);
    }

    #[test]
    fn unknown_names_are_refused_with_a_hint() {
        let check = |events: &[&str]| {
            check_known(&events.iter().map(|e| e.to_string()).collect::<Vec<_>>())
        };
        assert!(check(&["expired", "HSET", "@hash", "json.set", "keymiss"]).is_ok());
        let error = check(&["exipred"]).expect_err("a misspelled event");
        assert!(error.contains("did you mean 'expired'?"), "{error}");
        assert!(
            error.contains("keymiss") && error.contains("@keymiss"),
            "{error}"
        );
        let error = check(&["nothing_like_it"]).expect_err("an unknown event");
        assert!(!error.contains("did you mean"), "{error}");
    }

    #[test]
    fn empty_means_all_but_new() {
        let f = filter(&[]);
        assert!(f.matches(NotifyEvent::HASH, "hset"));
        assert!(f.matches(NotifyEvent::EXPIRED, "expired"));
        assert!(!f.matches(NotifyEvent::NEW, "new"));
    }

    #[test]
    fn names_and_classes() {
        let f = filter(&["expired", "@hash"]);
        assert!(f.matches(NotifyEvent::EXPIRED, "expired"));
        assert!(f.matches(NotifyEvent::HASH, "hdel"));
        assert!(!f.matches(NotifyEvent::STRING, "set"));
        assert!(!f.matches(NotifyEvent::GENERIC, "del"));
        // "set" the event (a string command) is not "@set" the class.
        let f = filter(&["set"]);
        assert!(f.matches(NotifyEvent::STRING, "set"));
        assert!(!f.matches(NotifyEvent::SET, "sadd"));
    }

    #[test]
    fn names_are_case_insensitive() {
        assert!(filter(&["HSET"]).matches(NotifyEvent::HASH, "hset"));
    }

    #[test]
    fn bad_events_are_refused() {
        assert!(EventFilter::parse(&["@nope".into()]).is_err());
        assert!(EventFilter::parse(&["".into()]).is_err());
        assert!(EventFilter::parse(&["h set".into()]).is_err());
    }
}
