//! Several commands in one crossing to the host: [`Pipeline`], and the
//! [`Replies`] it returns.
//!
//! Each [`call`](crate::call) crosses from the library into Redis and back,
//! and its reply costs the library an allocation when it is longer than 40
//! bytes. Commands that do not depend on each other's replies can go
//! together: the host runs them one after the other and hands all their
//! replies back at once.
//!
//! ```no_run
//! use wasm_triggers_sdk::{call, Event, KeyType, Pipeline, Result};
//!
//! fn stamp(event: &Event) -> Result<()> {
//!     let mut pipeline = Pipeline::new();
//!     pipeline.call("TYPE", [event.key()]).call("TIME", ());
//!     let mut replies = pipeline.run()?; // one crossing
//!     let kind: KeyType = replies.next_as()?;
//!     let (seconds, _micros): (i64, i64) = replies.next_as()?;
//!     if kind == KeyType::Hash {
//!         call("HSET", (event.key(), "__last_updated__", seconds))?;
//!     }
//!     Ok(())
//! }
//! ```
//!
//! It is a pipeline, as a client sends one, not a transaction: each command
//! runs whatever the one before replied, and a command that fails leaves
//! its error reply in its place ([`Replies::next`] returns it as an `Err`)
//! while the others run. The whole pipeline fails, running nothing, only
//! when no command may run there (in `describe`). Inside
//! [`Trigger::run`](crate::Trigger::run), the commands are atomic with the
//! one that fired the trigger, as every `call` is.

use std::fmt;

use crate::__bindings::redis::triggers::{host, types};
use crate::call::{answer_bytes, read_as};
use crate::request::{self, Request};
use crate::resp3::Parser;
use crate::small_bytes::SmallBytes;
use crate::typed_reply::Reader;
use crate::{Error, FromValue, IntoArgs, Result, Value};

/// Commands to run together, in one crossing to the host: see the
/// [module](crate::pipeline) documentation.
///
/// ```no_run
/// use wasm_triggers_sdk::{Pipeline, Result};
///
/// fn counts() -> Result<(i64, i64)> {
///     let mut pipeline = Pipeline::new();
///     pipeline.call("SCARD", ["online"]).call("ZCARD", ["scores"]);
///     let mut replies = pipeline.run()?;
///     Ok((replies.next_as()?, replies.next_as()?))
/// }
/// ```
#[derive(Debug)]
pub struct Pipeline {
    /// The commands, as the host reads them, in the request `call` keeps
    /// (handed back when the replies are dropped).
    commands: Request,
    count: usize,
}

impl Pipeline {
    /// An empty pipeline.
    ///
    /// ```
    /// use wasm_triggers_sdk::Pipeline;
    ///
    /// assert!(Pipeline::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Pipeline {
            commands: request::take(),
            count: 0,
        }
    }

    /// Adds a command, with its arguments as [`call`](crate::call) takes
    /// them. Nothing runs before [`run`](Pipeline::run).
    ///
    /// ```
    /// use wasm_triggers_sdk::Pipeline;
    ///
    /// let mut pipeline = Pipeline::new();
    /// pipeline.call("INCR", ["visits"]).call("EXPIRE", ("visits", 60));
    /// assert_eq!(pipeline.len(), 2);
    /// ```
    pub fn call(&mut self, command: &str, args: impl IntoArgs) -> &mut Self {
        args.write_command(command, &mut self.commands);
        self.count += 1;
        self
    }

    /// How many commands it holds.
    ///
    /// ```
    /// use wasm_triggers_sdk::Pipeline;
    ///
    /// assert_eq!(Pipeline::new().call("TIME", ()).len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether it holds no command.
    ///
    /// ```
    /// use wasm_triggers_sdk::Pipeline;
    ///
    /// assert!(!Pipeline::new().call("TIME", ()).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Runs the commands, one after the other, in one crossing to the host,
    /// and returns their replies to read in order. `Err` only when nothing
    /// ran (no command may run in `describe`); a command's error reply is
    /// an `Err` when it is read. An empty pipeline runs nothing.
    ///
    /// ```no_run
    /// use wasm_triggers_sdk::{Pipeline, Result};
    ///
    /// fn names() -> Result<(Option<String>, Option<String>)> {
    ///     let mut pipeline = Pipeline::new();
    ///     pipeline.call("HGET", ("user:1", "name")).call("HGET", ("user:2", "name"));
    ///     let mut replies = pipeline.run()?;
    ///     Ok((replies.next_as()?, replies.next_as()?))
    /// }
    /// ```
    pub fn run(self) -> Result<Replies> {
        // An empty pipeline does not cross: there is nothing to run, and
        // no replies (an empty list, not allocated).
        let answer = match self.count {
            0 => types::Replies::Resp3(types::Bytes::Long(Vec::new())),
            _ => host::call(&self.commands.strings, &self.commands.lengths),
        };
        self.into_replies(answer)
    }

    /// The replies to these commands, from the host's answer (every reply,
    /// in RESP3, one after the other, or why nothing ran): what `run`
    /// returns, without the crossing. The replies keep the commands, to
    /// name them in errors and then to give the buffer back; on an `Err`,
    /// dropping the pipeline gives it back.
    pub(crate) fn into_replies(mut self, answer: types::Replies) -> Result<Replies> {
        let replies = answer_bytes(answer)?;
        Ok(Replies {
            commands: std::mem::take(&mut self.commands),
            replies,
            pos: 0,
            next: 0,
            count: self.count,
        })
    }
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline::new()
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        request::keep(std::mem::take(&mut self.commands));
    }
}

/// The replies of a [`Pipeline`], read in the order of its commands.
///
/// Reading past the last one is an `Err`, as is a reply that was an error
/// (`WRONGTYPE …`) or that does not fit the type asked for.
#[derive(Debug)]
pub struct Replies {
    /// The commands that ran: their names, for errors.
    commands: Request,
    /// Every reply, in RESP3, one after the other.
    replies: SmallBytes,
    /// Where the next reply starts in `replies`.
    pos: usize,
    /// The index of the next reply.
    next: usize,
    count: usize,
}

impl Replies {
    /// The next reply, or an `Err` when it was an error (with the error's
    /// text, `WRONGTYPE …`) or when none is left.
    ///
    /// ```no_run
    /// use wasm_triggers_sdk::{Pipeline, Result};
    ///
    /// fn example() -> Result<()> {
    ///     let mut pipeline = Pipeline::new();
    ///     pipeline.call("SET", ("k", "v")).call("GET", ["k"]);
    ///     let mut replies = pipeline.run()?;
    ///     replies.next()?; // OK
    ///     assert_eq!(replies.next()?.as_str(), Some("v"));
    ///     assert!(replies.next().is_err()); // no third reply
    ///     Ok(())
    /// }
    /// ```
    // Not `Iterator::next`: reading past the end is an `Err`, for `?`.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Value> {
        let (_, reply) = self.next_reply()?;
        Value::from_resp3(&self.replies.as_slice()[reply])
    }

    /// The next reply as `T` (see [`FromValue`]), read in place as
    /// [`call_as`](crate::call_as) reads it. An `Err` when it was an error,
    /// does not fit `T` (the error names the command), or none is left.
    ///
    /// ```no_run
    /// use wasm_triggers_sdk::{Pipeline, Result};
    ///
    /// fn example() -> Result<()> {
    ///     let mut pipeline = Pipeline::new();
    ///     pipeline.call("INCR", ["visits"]).call("TIME", ());
    ///     let mut replies = pipeline.run()?;
    ///     let visits: i64 = replies.next_as()?;
    ///     let (seconds, micros): (i64, i64) = replies.next_as()?;
    ///     Ok(())
    /// }
    /// ```
    pub fn next_as<T: FromValue>(&mut self) -> Result<T> {
        // In place when `T` reads it directly: the reply is read once.
        if self.next < self.count {
            let mut reader = Reader::at(self.replies.as_slice(), self.pos);
            if let Some(typed) = T::read(&mut reader) {
                self.pos = reader.pos();
                self.next += 1;
                return Ok(typed);
            }
        }
        let (index, reply) = self.next_reply()?;
        let command = NthCommand {
            commands: &self.commands,
            index,
        };
        read_as(&self.replies.as_slice()[reply], command)
    }

    /// How many replies are left to read.
    ///
    /// ```no_run
    /// use wasm_triggers_sdk::{Pipeline, Result};
    ///
    /// fn example() -> Result<()> {
    ///     let mut pipeline = Pipeline::new();
    ///     pipeline.call("INCR", ["a"]).call("INCR", ["b"]);
    ///     let mut replies = pipeline.run()?;
    ///     while !replies.is_empty() {
    ///         replies.next()?;
    ///     }
    ///     assert_eq!(replies.len(), 0);
    ///     Ok(())
    /// }
    /// ```
    pub fn len(&self) -> usize {
        self.count - self.next
    }

    /// Whether every reply has been read.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The index and the extent of the next reply, which is then read.
    /// A malformed reply is an error, and stays next: where the ones after
    /// it start cannot be known.
    fn next_reply(&mut self) -> Result<(usize, std::ops::Range<usize>)> {
        if self.next == self.count {
            return Err(Error::new(format!(
                "no reply left: the pipeline ran {} commands",
                self.count
            )));
        }
        let mut parser = Parser::new(self.replies.as_slice());
        parser.pos = self.pos;
        parser.skip(0)?;
        let reply = self.pos..parser.pos;
        self.pos = parser.pos;
        self.next += 1;
        Ok((self.next - 1, reply))
    }
}

impl Drop for Replies {
    fn drop(&mut self) {
        request::keep(std::mem::take(&mut self.commands));
    }
}

/// The name of the `index`th command of a pipeline, for an error message:
/// read from the commands only when the message is written.
struct NthCommand<'a> {
    commands: &'a Request,
    index: usize,
}

impl fmt::Display for NthCommand<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.commands.name(self.index) {
            Some(name) => write!(f, "{name} (command {} of the pipeline)", self.index + 1),
            None => write!(f, "command {} of the pipeline", self.index + 1),
        }
    }
}

#[cfg(test)]
mod tests;
