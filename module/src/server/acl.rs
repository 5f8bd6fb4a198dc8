//! ACL users: a user looked up by name, its key permissions, and a
//! context's calls run as it (`RM_GetModuleUserFromUserName`,
//! `RM_ACLCheckKeyPermissions`, `RM_SetContextUser`).
//!
//! A user looked up is kept ([`UserByName`]) until a command that may
//! change the users comes: Redis tells modules of no ACL change, so a
//! command filter watches for them while [`watch_acl_changes`] is on. An
//! `ACL` command (`DELUSER`, `LOAD`, `SETUSER`, …) drops every user kept
//! before it runs; an `EXEC`, which may run one the filter saw when it was
//! queued, drops them too, and nothing is kept until Redis is back in its
//! event loop. A user Redis freed is never used: only the lookup's own
//! record is freed, which does not touch the user.

use std::cell::Cell;
use std::marker::PhantomData;
use std::os::raw::c_int;
use std::ptr;

use redis_module::{raw, RedisString};

use super::{create_string, free_string, set_command_filter, FilteredCommand, RedisCtx};

/// A key to check: a Redis string Redis passed to a callback in progress,
/// or bytes.
#[derive(Clone, Copy)]
pub enum KeyName<'a> {
    String(CallbackString<'a>),
    Bytes(&'a [u8]),
}

/// A Redis string owned by Redis and valid during the callback that passed
/// it (a notification's key, say).
#[derive(Clone, Copy)]
pub struct CallbackString<'a> {
    string: *mut raw::RedisModuleString,
    _callback: PhantomData<&'a raw::RedisModuleString>,
}

impl CallbackString<'_> {
    /// # Safety
    /// `string` is a live Redis string for the whole lifetime chosen.
    pub(super) unsafe fn new(string: *mut raw::RedisModuleString) -> Self {
        CallbackString {
            string,
            _callback: PhantomData,
        }
    }
}

thread_local! {
    /// Raised by every command that may change the users: a user kept
    /// with an older one is looked up again.
    static GENERATION: Cell<u64> = const { Cell::new(0) };
    /// Whether the command filter watches for such commands.
    static WATCHING: Cell<bool> = const { Cell::new(false) };
    /// Set by `EXEC` until Redis is back in its event loop.
    static KEEP_NONE: Cell<bool> = const { Cell::new(false) };
}

/// Watches for commands that may change the users (`on`), so that users
/// looked up are kept between events, or stops (every user is then looked
/// up again for each use). The filter costs every command about a hundred
/// instructions.
pub fn watch_acl_changes(on: bool) -> Result<(), String> {
    if on == WATCHING.get() {
        return Ok(());
    }
    GENERATION.set(GENERATION.get() + 1);
    set_command_filter(note_acl_command, on, "watches ACL changes")?;
    WATCHING.set(on);
    Ok(())
}

/// The command filter: before an `ACL` or `EXEC` command runs.
fn note_acl_command(command: &mut FilteredCommand) {
    let Some(name) = command.arg(0) else {
        return;
    };
    if name.eq_ignore_ascii_case(b"acl") {
        GENERATION.set(GENERATION.get() + 1);
    } else if name.eq_ignore_ascii_case(b"exec") {
        GENERATION.set(GENERATION.get() + 1);
        KEEP_NONE.set(true);
    }
}

/// Redis is back in its event loop: no transaction runs.
pub(super) fn event_loop_reached() {
    KEEP_NONE.set(false);
}

/// The generation a user looked up now belongs to; `None` when it may not
/// be kept.
fn generation() -> Option<u64> {
    (WATCHING.get() && !KEEP_NONE.get()).then(|| GENERATION.get())
}

/// The ACL user of a name, looked up when needed, kept while no command
/// that may change the users came (see the file's opening), and attached
/// to a context for its calls.
pub struct UserByName {
    /// The name, as the lookup takes it, made once.
    name: RedisString,
    /// The user looked up last, and its generation (`None`: not to be
    /// used again).
    kept: Option<(AclUser, Option<u64>)>,
    /// The context whose calls run as the kept user, until `detach`.
    attached: Option<*mut raw::RedisModuleCtx>,
}

impl UserByName {
    pub fn new(name: &str) -> Self {
        UserByName {
            name: RedisString::create_from_slice(ptr::null_mut(), name.as_bytes()),
            kept: None,
            attached: None,
        }
    }

    /// The user now: `Ok(None)` if no user has the name, an error where
    /// the server cannot look users up.
    fn user(&mut self) -> Result<Option<&AclUser>, String> {
        // The user a context runs as stays until it is detached: no
        // command that changes the users runs during a callback.
        if self.attached.is_none() {
            let now = generation();
            let fresh = matches!(&self.kept, Some((_, Some(at))) if Some(*at) == now);
            if !fresh {
                self.kept = None;
                self.kept = AclUser::by_name(&self.name)?.map(|user| (user, now));
            }
        }
        Ok(self.kept.as_ref().map(|(user, _)| user))
    }

    /// Whether the user may access `key` by its key patterns: `Ok(None)` if
    /// no user has the name; `Ok(Some(true))` where the server cannot check.
    pub fn may_access_key(&mut self, key: KeyName) -> Result<Option<bool>, String> {
        Ok(self
            .user()?
            .map(|user| user.may_access_key(key).unwrap_or(true)))
    }

    /// Makes `ctx`'s calls run as the user, until [`detach`](Self::detach)
    /// (before the callback of `ctx` returns). False if no user has the
    /// name.
    pub fn attach(&mut self, ctx: RedisCtx) -> Result<bool, String> {
        if self.attached.is_some() {
            return Ok(true);
        }
        let (Some(set_user), Some(ctx)) = (api!(RedisModule_SetContextUser), ctx.get()) else {
            return Err("this server cannot run calls as the library's owner".into());
        };
        let Some(user) = self.user()? else {
            return Ok(false);
        };
        // SAFETY: `ctx` is the context of the callback in progress; the
        // user stays kept until `detach` resets it.
        unsafe { set_user(ctx, user.0) };
        self.attached = Some(ctx);
        Ok(true)
    }

    /// The context attached forgets the user.
    pub fn detach(&mut self) {
        let Some(ctx) = self.attached.take() else {
            return;
        };
        if let Some(set_user) = api!(RedisModule_SetContextUser) {
            // SAFETY: the context `attach` set the user on, in the same
            // callback.
            unsafe { set_user(ctx, ptr::null()) };
        }
    }
}

impl Drop for UserByName {
    fn drop(&mut self) {
        self.detach();
    }
}

/// An ACL user, as a lookup returned it; its record is freed on drop
/// (which does not touch the user itself).
struct AclUser(*mut raw::RedisModuleUser);

impl AclUser {
    /// The user called `name`: `Ok(None)` if there is none, an error where
    /// the server cannot look users up.
    fn by_name(name: &RedisString) -> Result<Option<AclUser>, String> {
        let Some(lookup) = api!(RedisModule_GetModuleUserFromUserName) else {
            return Err("this server cannot run calls as the library's owner".into());
        };
        // SAFETY: `name` is a live string.
        let user = unsafe { lookup(name.inner) };
        // Not `then_some`: it would make (and drop, freeing null) an
        // `AclUser` for a user that does not exist.
        if user.is_null() {
            return Ok(None);
        }
        Ok(Some(AclUser(user)))
    }

    /// Whether the user may access `key` by its key patterns; `None` where
    /// the server cannot check.
    fn may_access_key(&self, key: KeyName) -> Option<bool> {
        let check = api!(RedisModule_ACLCheckKeyPermissions)?;
        let (string, owned) = match key {
            KeyName::String(string) => (string.string, false),
            KeyName::Bytes(bytes) => (create_string(bytes), true),
        };
        // SAFETY: `string` is live, and so is the user: it was looked up
        // after the last command that may change the users.
        let status = unsafe { check(self.0, string, raw::REDISMODULE_CMD_KEY_ACCESS as c_int) };
        if owned {
            free_string(string);
        }
        Some(status == raw::REDISMODULE_OK as c_int)
    }
}

impl Drop for AclUser {
    fn drop(&mut self) {
        if let Some(free_user) = api!(RedisModule_FreeModuleUser) {
            // SAFETY: the record `by_name` returned, freed once. Redis and
            // Valkey free only the record for a user looked up by name,
            // even one deleted since.
            unsafe { free_user(self.0) };
        }
    }
}

// Like `RedisCtx`: only ever used on Redis' main thread, inside a store
// whose state wasmtime-wasi requires to be `Send`.
// SAFETY: see above; never sent to another thread.
unsafe impl Send for UserByName {}
