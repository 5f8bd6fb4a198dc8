//! Where an event happened: whether triggers and outbox rules act on this
//! node now, and the event's database. Each is looked up at most once per
//! event, and only once a trigger or rule matched it.

use redis_module::{Context, ContextFlags};

use crate::server::selected_db;

pub(super) struct Here<'a> {
    ctx: &'a Context,
    may_act: Option<bool>,
    db: Option<i32>,
}

impl<'a> Here<'a> {
    /// `db` is the event's database, or `None` for the context's.
    pub(super) fn new(ctx: &'a Context, db: Option<i32>) -> Self {
        Here {
            ctx,
            may_act: None,
            db,
        }
    }

    /// Triggers fire and rules send events only on a primary, and never
    /// while data is loading.
    pub(super) fn may_act(&mut self) -> bool {
        *self.may_act.get_or_insert_with(|| {
            let flags = self.ctx.get_flags();
            flags.contains(ContextFlags::MASTER) && !flags.contains(ContextFlags::LOADING)
        })
    }

    pub(super) fn db(&mut self) -> i32 {
        *self.db.get_or_insert_with(|| selected_db(self.ctx))
    }
}
