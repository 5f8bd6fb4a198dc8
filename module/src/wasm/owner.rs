//! The library's owner, the ACL user its calls run as, and the key
//! permission checked before any of its code runs for an event.

use crate::server::{AclUser, ContextUser, KeyName, RedisCtx, UserName};

/// The ACL user a library's calls run as: the user that loaded it, its
/// owner. Looked up by name at the first `call` of each guest call, so that
/// an ACL change applies at once, and a deleted user's library can no
/// longer call anything.
pub struct CallUser {
    owner: String,
    /// `owner` as a Redis string, made at the first lookup.
    name: Option<UserName>,
    /// The user, attached to the context of the guest call in progress.
    attached: Option<ContextUser>,
}

impl CallUser {
    pub fn new(owner: &str) -> Self {
        CallUser {
            owner: owner.to_owned(),
            name: None,
            attached: None,
        }
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Makes `ctx`'s `RM_Call`s run as the owner, until [`detach`](Self::detach).
    #[inline]
    pub(super) fn attach(&mut self, ctx: RedisCtx) -> Result<(), String> {
        if self.attached.is_some() {
            return Ok(());
        }
        self.attached = Some(self.look_up()?.attach(ctx)?);
        Ok(())
    }

    /// The owner's ACL user, freed when dropped (before the Redis callback
    /// returns: an ACL change may delete the user after it).
    fn look_up(&mut self) -> Result<AclUser, String> {
        let owner = &self.owner;
        let name = self.name.get_or_insert_with(|| UserName::new(owner));
        AclUser::by_name(name)?.ok_or_else(|| {
            format!("the library's owner, ACL user '{owner}', does not exist on this server")
        })
    }

    /// Whether the owner may read `key`, by its ACL key patterns. On a
    /// server without the check, the library's calls are still checked.
    pub fn may_read_key(&mut self, key: KeyName) -> Result<bool, String> {
        Ok(self.look_up()?.may_access_key(key).unwrap_or(true))
    }

    /// Ends the guest call: the context forgets the user, which is freed.
    pub fn detach(&mut self) {
        self.attached = None;
    }
}
