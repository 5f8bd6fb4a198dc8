//! Events to the outbox: the outbox rules an event matches (prefix and
//! event filter, as for triggers), the owner's key permission, and the job
//! that appends the event's entry once the command is done (`outbox/`).
//! One entry per event, whatever the number of rules it matched.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use redis_module::{Context, Status};

use super::event::KeyEvent;
use super::guard::ExecutionGuard;
use super::here::Here;
use crate::library::{Rule, RuleStats};
use crate::outbox::{self, Appended, Entry};
use crate::server::{redis_log, select_db};

/// Sends an event to the outbox if rules match it. Outbox streams' own
/// events never go to the outbox.
pub(super) fn send(ctx: &Context, rules: &[Rc<Rule>], event: &KeyEvent, here: &mut Here) {
    let KeyEvent {
        kind,
        name: event,
        key,
        key_name,
        ..
    } = *event;
    if !rules.iter().any(|rule| rule.matches(kind, event, key))
        || outbox::is_stream_key(key)
        || !here.may_act()
    {
        return;
    }
    // The event, then the source: the rules whose owner may read the key
    // (one allocation for both).
    let mut text = String::with_capacity(event.len() + 64);
    text.push_str(event);
    text.push_str("rule:");
    let mut stats = Vec::with_capacity(1);
    for rule in rules.iter().filter(|rule| rule.matches(kind, event, key)) {
        RuleStats::bump(&rule.stats.num_matched);
        let allowed = match rule.owner.try_borrow_mut() {
            Ok(mut owner) => owner.may_read_key(key_name),
            Err(_) => Err("the rule is busy".to_string()),
        };
        match allowed {
            Ok(true) => {
                if !stats.is_empty() {
                    text.push(',');
                }
                text.push_str(&rule.spec.name);
                stats.push(Rc::clone(&rule.stats));
            }
            Ok(false) => RuleStats::bump(&rule.stats.num_denied),
            Err(error) => {
                RuleStats::bump(&rule.stats.num_denied);
                rule.stats.set_last_error(&error);
            }
        }
    }
    if stats.is_empty() {
        return;
    }
    let job = AppendJob {
        db: here.db(),
        text,
        event_len: event.len(),
        key: key.to_vec(),
        stats,
    };
    let scheduled = ctx.add_post_notification_job(move |ctx| {
        if catch_unwind(AssertUnwindSafe(|| job.run(ctx))).is_err() {
            redis_log(
                "warning",
                "an outbox append panicked in its post-notification job",
            );
        }
    });
    if scheduled == Status::Err {
        redis_log(
            "warning",
            "Redis refused to schedule an outbox append (post-notification job)",
        );
    }
}

/// An event's entry, waiting for Redis to append it after the command.
struct AppendJob {
    db: i32,
    /// The event's name (its first `event_len` bytes), then the source.
    text: String,
    event_len: usize,
    key: Vec<u8>,
    /// The counters of the rules that sent it.
    stats: Vec<Rc<RuleStats>>,
}

impl AppendJob {
    fn run(&self, ctx: &Context) {
        // The append's own events fire no trigger.
        let _guard = ExecutionGuard::enter();
        select_db(ctx, self.db);
        let (event, source) = self.text.split_at(self.event_len);
        let entry = Entry {
            db: self.db,
            event,
            key: &self.key,
            source,
            fields: &[],
        };
        match outbox::append(ctx, &entry) {
            Ok(Appended::Written) => self.count(|s| &s.num_appended),
            Ok(Appended::Dropped) => self.count(|s| &s.num_dropped),
            Err(error) => {
                self.count(|s| &s.num_failed);
                for stats in &self.stats {
                    stats.set_last_error(&error);
                }
            }
        }
    }

    fn count(&self, counter: impl Fn(&RuleStats) -> &std::cell::Cell<u64>) {
        for stats in &self.stats {
            RuleStats::bump(counter(stats));
        }
    }
}
