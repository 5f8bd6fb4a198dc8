//! The library's owner, the ACL user its calls run as, and the key
//! permission checked before any of its code runs for an event.

use crate::server::{KeyName, RedisCtx, UserByName};

/// The ACL user a library's calls run as: the user that loaded it, its
/// owner. Looked up by name, and kept only while no command that may
/// change the users came (`server/acl.rs`), so that an ACL change applies
/// at once, and a deleted user's library can no longer call anything.
pub struct CallUser {
    owner: String,
    user: UserByName,
}

impl CallUser {
    pub fn new(owner: &str) -> Self {
        CallUser {
            owner: owner.to_owned(),
            user: UserByName::new(owner),
        }
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Makes `ctx`'s `RM_Call`s run as the owner, until [`detach`](Self::detach).
    #[inline]
    pub(super) fn attach(&mut self, ctx: RedisCtx) -> Result<(), String> {
        match self.user.attach(ctx)? {
            true => Ok(()),
            false => Err(self.missing()),
        }
    }

    /// Whether the owner may read `key`, by its ACL key patterns. On a
    /// server without the check, the library's calls are still checked.
    pub fn may_read_key(&mut self, key: KeyName) -> Result<bool, String> {
        self.user.may_access_key(key)?.ok_or_else(|| self.missing())
    }

    /// Ends the guest call: the context forgets the user.
    pub fn detach(&mut self) {
        self.user.detach();
    }

    fn missing(&self) -> String {
        format!(
            "the library's owner, ACL user '{}', does not exist on this server",
            self.owner
        )
    }
}
