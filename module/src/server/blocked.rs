//! A client blocked until its reply is ready (`RM_BlockClient`): a
//! [`BlockedClient`] is unblocked exactly once, by [`BlockedClient::unblock`]
//! with its reply, or on drop without one.

use std::marker::PhantomData;
use std::os::raw::{c_int, c_void};
use std::ptr;
use std::time::Duration;

use redis_module::{raw, Context, RedisError, RedisResult};

use super::reply_guarded;

/// What a blocked client is eventually answered.
pub trait BlockedReply: Sized + 'static {
    /// The reply, once the client is unblocked with `self`.
    fn reply(&self) -> RedisResult;
    /// The reply when the time ran out first; `client` is the client's
    /// [`BlockedClient::id`].
    fn timed_out(client: BlockedClientId) -> RedisResult;
}

/// Which blocked client a timeout is for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct BlockedClientId(usize);

/// A client blocked by [`BlockedClient::block`], answered with an `R`.
pub struct BlockedClient<R: BlockedReply> {
    handle: *mut raw::RedisModuleBlockedClient,
    _reply: PhantomData<R>,
}

impl<R: BlockedReply> BlockedClient<R> {
    /// Blocks the client of the command in progress for at most `timeout`.
    /// `None` where it cannot block (in `MULTI`, a script, …): the command
    /// then replies at once.
    pub fn block(ctx: &Context, timeout: Duration) -> Option<Self> {
        if ctx
            .get_flags()
            .contains(redis_module::ContextFlags::DENY_BLOCKING)
        {
            return None;
        }
        let block = api!(RedisModule_BlockClient)?;
        let millis = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        // SAFETY: `ctx` is the command's context, on the main thread; the
        // callbacks are this file's, for `R`.
        let handle = unsafe {
            block(
                ctx.ctx,
                Some(on_reply::<R>),
                Some(on_timeout::<R>),
                Some(free_reply::<R>),
                millis,
            )
        };
        if handle.is_null() {
            return None;
        }
        Some(BlockedClient {
            handle,
            _reply: PhantomData,
        })
    }

    /// What [`BlockedReply::timed_out`] is told for this client.
    pub fn id(&self) -> BlockedClientId {
        BlockedClientId(self.handle as usize)
    }

    /// Unblocks the client: it is answered `reply` (if it is still there).
    pub fn unblock(mut self, reply: R) {
        let data = Box::into_raw(Box::new(reply)) as *mut c_void;
        unblock(std::mem::replace(&mut self.handle, ptr::null_mut()), data);
    }
}

impl<R: BlockedReply> Drop for BlockedClient<R> {
    /// Unblocks a client never answered: it gets an error, and Redis frees
    /// what it holds for it (also after a timeout, when it is gone).
    fn drop(&mut self) {
        unblock(self.handle, ptr::null_mut());
    }
}

fn unblock(handle: *mut raw::RedisModuleBlockedClient, data: *mut c_void) {
    if handle.is_null() {
        return;
    }
    if let Some(unblock) = api!(RedisModule_UnblockClient) {
        // SAFETY: `handle` is blocked and unblocked once (it is taken from
        // the `BlockedClient`); Redis hands `data` to `on_reply` and then
        // to `free_reply`.
        unsafe { unblock(handle, data) };
    }
}

/// Replies to a client unblocked with its reply. Never panics into Redis.
extern "C" fn on_reply<R: BlockedReply>(
    ctx: *mut raw::RedisModuleCtx,
    _argv: *mut *mut raw::RedisModuleString,
    _argc: c_int,
) -> c_int {
    reply_guarded(ctx, |_| {
        let data = api!(RedisModule_GetBlockedClientPrivateData).map_or(ptr::null_mut(), |get| {
            // SAFETY: the context of the reply callback in progress.
            unsafe { get(ctx) }
        }) as *const R;
        // SAFETY: null, or set by `unblock` from a `Box<R>`, freed by
        // `free_reply` after this call.
        match unsafe { data.as_ref() } {
            Some(reply) => reply.reply(),
            None => Err(RedisError::Str("ERR no reply")),
        }
    })
}

/// Replies to a client whose time ran out. Never panics into Redis.
extern "C" fn on_timeout<R: BlockedReply>(
    ctx: *mut raw::RedisModuleCtx,
    _argv: *mut *mut raw::RedisModuleString,
    _argc: c_int,
) -> c_int {
    reply_guarded(ctx, |_| {
        let handle = api!(RedisModule_GetBlockedClientHandle).map_or(ptr::null_mut(), |get| {
            // SAFETY: the context of the timeout callback in progress.
            unsafe { get(ctx) }
        });
        R::timed_out(BlockedClientId(handle as usize))
    })
}

extern "C" fn free_reply<R: BlockedReply>(_ctx: *mut raw::RedisModuleCtx, data: *mut c_void) {
    if !data.is_null() {
        // SAFETY: made by `unblock` with `Box::into_raw` of an `R`, freed once.
        drop(unsafe { Box::from_raw(data as *mut R) });
    }
}
