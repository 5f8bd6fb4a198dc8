//! The library's owner, the ACL user its calls run as, and the key
//! permission checked before any of its code runs for an event.

use std::os::raw::c_int;
use std::ptr;

use redis_module::raw;

use crate::server::{create_string, free_string};

/// The key of an event: the notification's own Redis string, or bytes (an
/// event kept for later, see `events/guard.rs`).
#[derive(Clone, Copy)]
pub enum KeyName<'a> {
    String(*mut raw::RedisModuleString),
    Bytes(&'a [u8]),
}

/// The ACL user a library's calls run as: the user that loaded it, its
/// owner. Looked up by name at the first `call` of each guest call, so that
/// an ACL change applies at once, and a deleted user's library can no
/// longer call anything.
pub struct CallUser {
    owner: String,
    /// `owner` as a Redis string, made at the first lookup.
    name: *mut raw::RedisModuleString,
    /// The user, attached to the context of the guest call in progress.
    attached: Option<(*mut raw::RedisModuleCtx, *mut raw::RedisModuleUser)>,
}

// Like `RedisCtx`: only ever used on Redis' main thread.
unsafe impl Send for CallUser {}

impl CallUser {
    pub fn new(owner: &str) -> Self {
        CallUser {
            owner: owner.to_owned(),
            name: ptr::null_mut(),
            attached: None,
        }
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Makes `ctx`'s `RM_Call`s run as the owner, until [`detach`](Self::detach).
    pub(super) fn attach(&mut self, ctx: *mut raw::RedisModuleCtx) -> Result<(), String> {
        if self.attached.is_some() {
            return Ok(());
        }
        let Some(set_user) = (unsafe { raw::RedisModule_SetContextUser }) else {
            return Err("this server cannot run calls as the library's owner".into());
        };
        // Freed in `detach`.
        let user = self.look_up()?;
        // SAFETY: `ctx` is the context of the guest call in progress.
        unsafe { set_user(ctx, user) };
        self.attached = Some((ctx, user));
        Ok(())
    }

    /// The owner's ACL user, which the caller must free before its Redis
    /// callback returns (an ACL change may delete the user after it).
    fn look_up(&mut self) -> Result<*mut raw::RedisModuleUser, String> {
        let Some(lookup) = (unsafe { raw::RedisModule_GetModuleUserFromUserName }) else {
            return Err("this server cannot run calls as the library's owner".into());
        };
        if self.name.is_null() {
            self.name = create_string(self.owner.as_bytes());
        }
        // SAFETY: `name` is a live string.
        let user = unsafe { lookup(self.name) };
        if user.is_null() {
            return Err(format!(
                "the library's owner, ACL user '{}', does not exist on this server",
                self.owner
            ));
        }
        Ok(user)
    }

    /// Whether the owner may read `key`, by its ACL key patterns. On a
    /// server without the check, the library's calls are still checked.
    pub fn may_read_key(&mut self, key: KeyName) -> Result<bool, String> {
        let (Some(check), Some(free_user)) =
            (unsafe { raw::RedisModule_ACLCheckKeyPermissions }, unsafe {
                raw::RedisModule_FreeModuleUser
            })
        else {
            return Ok(true);
        };
        let user = self.look_up()?;
        let (string, owned) = match key {
            KeyName::String(string) => (string, false),
            KeyName::Bytes(bytes) => (create_string(bytes), true),
        };
        // SAFETY: `user` and `string` are live.
        let status = unsafe { check(user, string, raw::REDISMODULE_CMD_KEY_ACCESS as c_int) };
        if owned {
            free_string(string);
        }
        // SAFETY: looked up above.
        unsafe { free_user(user) };
        Ok(status == raw::REDISMODULE_OK as c_int)
    }

    /// Ends the guest call: the context forgets the user, which is freed.
    pub fn detach(&mut self) {
        let Some((ctx, user)) = self.attached.take() else {
            return;
        };
        // SAFETY: both were attached by `attach` during this guest call.
        unsafe {
            if let Some(set_user) = raw::RedisModule_SetContextUser {
                set_user(ctx, ptr::null());
            }
            if let Some(free_user) = raw::RedisModule_FreeModuleUser {
                free_user(user);
            }
        }
    }
}

impl Drop for CallUser {
    fn drop(&mut self) {
        self.detach();
        if !self.name.is_null() {
            free_string(self.name);
        }
    }
}
