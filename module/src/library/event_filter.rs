//! Which keyspace events fire a trigger: event names (`hset`, `del`,
//! `expired`, …) and event classes (`@hash`, `@generic`, `@new`, …).
//!
//! The filter runs on every keyspace event before any Wasm is entered, so a
//! match is a bit test and, only when names are listed, a few short string
//! comparisons.

use redis_module::NotifyEvent;

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
];

/// The class Redis raises common events under, so that a trigger that
/// names them needs only that class of notifications. A name not listed
/// here (an event of another module, a rare command) subscribes to every
/// class; the filter still decides.
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
        &["set", "setrange", "incrby", "incrbyfloat", "append"],
    ),
    (
        NotifyEvent::LIST,
        &[
            "lpush", "rpush", "lpop", "rpop", "linsert", "lset", "lrem", "ltrim",
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
        &["hset", "hdel", "hincrby", "hincrbyfloat"],
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
        ],
    ),
    (NotifyEvent::STREAM, &["xadd", "xtrim", "xdel", "xsetid"]),
    (NotifyEvent::EXPIRED, &["expired"]),
    (NotifyEvent::EVICTED, &["evicted"]),
    (NotifyEvent::NEW, &["new"]),
];

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
            classes |= NAME_CLASSES
                .iter()
                .find(|(_, names)| names.contains(&&**name))
                .map_or(NotifyEvent::ALL, |(class, _)| *class);
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
            NotifyEvent::ALL
        );
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
