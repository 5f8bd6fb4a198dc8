//! ACL users: a user looked up by name, its key permissions, and a
//! context's calls run as it (`RM_GetModuleUserFromUserName`,
//! `RM_ACLCheckKeyPermissions`, `RM_SetContextUser`).

use std::marker::PhantomData;
use std::os::raw::c_int;
use std::ptr;

use redis_module::{raw, RedisString};

use super::{create_string, free_string, RedisCtx};

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

/// A user's name, as the Redis string lookups take, made once.
pub struct UserName(RedisString);

impl UserName {
    pub fn new(name: &str) -> Self {
        UserName(RedisString::create_from_slice(
            ptr::null_mut(),
            name.as_bytes(),
        ))
    }
}

/// An ACL user, freed on drop. Look it up again for each callback: an ACL
/// change may delete it after.
pub struct AclUser(*mut raw::RedisModuleUser);

impl AclUser {
    /// The user called `name`: `Ok(None)` if there is none, an error where
    /// the server cannot look users up.
    pub fn by_name(name: &UserName) -> Result<Option<AclUser>, String> {
        let Some(lookup) = api!(RedisModule_GetModuleUserFromUserName) else {
            return Err("this server cannot run calls as the library's owner".into());
        };
        // SAFETY: `name` is a live string.
        let user = unsafe { lookup(name.0.inner) };
        // Not `then_some`: it would make (and drop, freeing null) an
        // `AclUser` for a user that does not exist.
        if user.is_null() {
            return Ok(None);
        }
        Ok(Some(AclUser(user)))
    }

    /// Whether the user may access `key` by its key patterns; `None` where
    /// the server cannot check.
    pub fn may_access_key(&self, key: KeyName) -> Option<bool> {
        let check = api!(RedisModule_ACLCheckKeyPermissions)?;
        let (string, owned) = match key {
            KeyName::String(string) => (string.string, false),
            KeyName::Bytes(bytes) => (create_string(bytes), true),
        };
        // SAFETY: the user and `string` are live.
        let status = unsafe { check(self.0, string, raw::REDISMODULE_CMD_KEY_ACCESS as c_int) };
        if owned {
            free_string(string);
        }
        Some(status == raw::REDISMODULE_OK as c_int)
    }

    /// Makes `ctx`'s calls run as this user, until the [`ContextUser`] is
    /// dropped (before the callback of `ctx` returns).
    pub fn attach(self, ctx: RedisCtx) -> Result<ContextUser, String> {
        let (Some(set_user), Some(ctx)) = (api!(RedisModule_SetContextUser), ctx.get()) else {
            return Err("this server cannot run calls as the library's owner".into());
        };
        // SAFETY: `ctx` is the context of the callback in progress.
        unsafe { set_user(ctx, self.0) };
        Ok(ContextUser { ctx, _user: self })
    }
}

impl Drop for AclUser {
    fn drop(&mut self) {
        if let Some(free_user) = api!(RedisModule_FreeModuleUser) {
            // SAFETY: looked up by `by_name`, freed once.
            unsafe { free_user(self.0) };
        }
    }
}

/// A user a context's calls run as; on drop, the context forgets it.
pub struct ContextUser {
    ctx: *mut raw::RedisModuleCtx,
    /// Freed after the context forgot it.
    _user: AclUser,
}

impl Drop for ContextUser {
    fn drop(&mut self) {
        if let Some(set_user) = api!(RedisModule_SetContextUser) {
            // SAFETY: the context `attach` set the user on, in the same
            // callback.
            unsafe { set_user(self.ctx, ptr::null()) };
        }
        // `_user` is freed now, after the context forgot it.
    }
}

// Like `RedisCtx`: only ever used on Redis' main thread, inside a store
// whose state wasmtime-wasi requires to be `Send`.
// SAFETY: see above; never sent to another thread.
unsafe impl Send for ContextUser {}
// SAFETY: as for `ContextUser`.
unsafe impl Send for AclUser {}
// SAFETY: as for `ContextUser`.
unsafe impl Send for UserName {}
