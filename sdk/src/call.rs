//! Running Redis commands from a trigger: [`call`] and [`call_as`], as the
//! library's owner, and what they share with
//! [`Pipeline`](crate::Pipeline): reading the host's answer.
//!
//! Each crossing to the host is three steps, and only the middle one needs
//! a host: the request is encoded (`request`, with `IntoArgs`), handed to
//! `host::call`, and the host's answer (the replies' bytes, or why nothing
//! ran) is read into the SDK's results (`answer_value`, `answer_as`,
//! `answer_bytes`, `read_as`). The first and last steps are plain functions
//! of bytes, which the unit tests call with literal requests and replies;
//! what goes through Redis is left to the integration tests, against real
//! servers.

use std::fmt;

use crate::__bindings::redis::triggers::{host, types};
use crate::request::{self, Request};
use crate::small_bytes::SmallBytes;
use crate::typed_reply::Reader;
use crate::{Error, FromValue, IntoArgs, Result, Value};

/// Runs a Redis command and returns its reply.
///
/// `args` mixes strings, bytes and numbers: a tuple, an array, a slice or a
/// `Vec` of anything that is an [`Arg`](crate::Arg), or `()` for none.
///
/// ```no_run
/// use wasm_triggers_sdk::{call, Event, Result};
///
/// fn example(event: &Event) -> Result<()> {
///     // A tuple of mixed arguments: bytes, &str and an integer.
///     call("HSET", (event.key(), "visits", 1))?;
///     // An array of arguments of one type.
///     let kind = call("TYPE", [event.key()])?;
///     // No arguments.
///     let now = call("TIME", ())?;
///     // A Vec built at run time.
///     let fields: Vec<String> = vec!["a".into(), "b".into()];
///     let mut args: Vec<Vec<u8>> = vec![event.key().to_vec()];
///     args.extend(fields.into_iter().map(String::into_bytes));
///     call("HMGET", args)?;
///     Ok(())
/// }
/// ```
///
/// An error reply (`WRONGTYPE …`, a refused write in
/// [`on_fired`](crate::Trigger::on_fired), an unknown command) is returned
/// as `Err`, so `?` hands it on to `last_error`.
///
/// To run several commands that do not depend on each other's replies,
/// a [`Pipeline`](crate::Pipeline) crosses to the host once for all of them.
pub fn call(command: &str, args: impl IntoArgs) -> Result<Value> {
    answer_value(cross(command, args))
}

/// Runs a Redis command and converts its reply into `T` (see
/// [`FromValue`]); a reply that does not fit is an error that names the
/// command, what was expected and what came.
///
/// ```no_run
/// use wasm_triggers_sdk::{call_as, Event, Result};
///
/// fn example(event: &Event) -> Result<()> {
///     let (seconds, _micros): (i64, i64) = call_as("TIME", ())?;
///     let kind: String = call_as("TYPE", [event.key()])?;
///     let name: Option<String> = call_as("HGET", (event.key(), "name"))?;
///     let fields: std::collections::HashMap<String, Vec<u8>> = call_as("HGETALL", [event.key()])?;
///     Ok(())
/// }
/// ```
pub fn call_as<T: FromValue>(command: &str, args: impl IntoArgs) -> Result<T> {
    answer_as(cross(command, args), command)
}

/// One command to the host and back: the one step of `call` and `call_as`
/// that needs a host. The request is written into a kept buffer, which the
/// host reads in place.
fn cross(command: &str, args: impl IntoArgs) -> types::Replies {
    with_request(command, args, |request| {
        host::call(&request.strings, &request.lengths)
    })
}

/// Hands `send` `command` with `args`, as the host reads it, written into
/// a kept request (`request::with_kept`).
#[inline]
pub(crate) fn with_request<R>(
    command: &str,
    args: impl IntoArgs,
    send: impl FnOnce(&Request) -> R,
) -> R {
    request::with_kept(|request| {
        args.write_command(command, request);
        send(request)
    })
}

/// What [`call`] returns for the host's answer: the reply as a [`Value`],
/// or an `Err` when it is an error reply (with its text alone) or when
/// nothing ran (with the host's reason).
pub(crate) fn answer_value(answer: types::Replies) -> Result<Value> {
    match answer {
        types::Replies::Integer(n) => Ok(Value::Int(n)),
        types::Replies::Resp3(bytes) => {
            SmallBytes::read_wit(bytes, Value::from_resp3).map_err(Error::new)?
        }
        types::Replies::Refused(why) => Err(Error::new(why)),
    }
}

/// What [`call_as`] returns for the host's answer to `command`: see
/// `read_as`.
pub(crate) fn answer_as<T: FromValue>(answer: types::Replies, command: &str) -> Result<T> {
    match answer {
        // As the `Value` path of `read_as` converts it.
        types::Replies::Integer(n) => Value::Int(n)
            .into_typed()
            .map_err(|e| Error::new(format!("{command}: {e}"))),
        types::Replies::Resp3(bytes) => {
            SmallBytes::read_wit(bytes, |reply| read_as(reply, command)).map_err(Error::new)?
        }
        types::Replies::Refused(why) => Err(Error::new(why)),
    }
}

/// The replies in the host's answer, in RESP3: in a stack array when the
/// host sent them in place, which it does up to 40 bytes (and an integer
/// written back as `:<n>`). An `Err` from the host means nothing ran; a
/// malformed `short` case is an `Err` too, not a panic, since it comes
/// from the host.
pub(crate) fn answer_bytes(answer: types::Replies) -> Result<SmallBytes> {
    match answer {
        types::Replies::Integer(n) => Ok(SmallBytes::integer_reply(n)),
        types::Replies::Resp3(bytes) => SmallBytes::from_wit(bytes).map_err(Error::new),
        types::Replies::Refused(why) => Err(Error::new(why)),
    }
}

/// Reads one reply as `T`: in place when `T` reads it directly (integers,
/// strings, nils and short arrays of them, see `typed_reply`), through a
/// [`Value`] otherwise. An error reply is an `Err` with its text alone, as
/// Redis wrote it; a reply that does not fit `T` an `Err` that starts with
/// `command`.
pub(crate) fn read_as<T: FromValue>(reply: &[u8], command: impl fmt::Display) -> Result<T> {
    let mut reader = Reader::new(reply);
    if let Some(typed) = T::read(&mut reader).filter(|_| reader.at_end()) {
        return Ok(typed);
    }
    // An error reply (`-` or `!`) is an `Err` here, with its text.
    Value::from_resp3(reply)?
        .into_typed()
        .map_err(|e| Error::new(format!("{command}: {e}")))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// The host's answer with `replies`, in place when they fit, as the host
    /// sends them.
    fn answer(replies: &[u8]) -> types::Replies {
        types::Replies::Resp3(SmallBytes::to_wit(replies))
    }

    #[test]
    fn a_command_is_sent_in_the_kept_request() {
        let kept = with_request("TYPE", [&b"user:1"[..]], |sent| {
            assert_eq!(sent.strings, b"TYPEuser:1");
            assert_eq!(sent.lengths, [2, 4, 6]);
            sent.strings.as_ptr()
        });
        let again = with_request("HSET", ("h", "f", -7i64), |sent| {
            assert_eq!(sent.strings, b"HSEThf-7");
            assert_eq!(sent.lengths, [4, 4, 1, 1, 2]);
            sent.strings.as_ptr()
        });
        assert_eq!(again, kept, "the kept request, reused");
        // A call made while another is written uses the second kept
        // request; one more, a new one; none touches the others.
        let second = request::with_kept(|outer| {
            outer.string(b"outer");
            let second = with_request("TIME", (), |inner| {
                assert_eq!(inner.lengths, [1, 4]);
                request::with_kept(|third| assert_eq!(third.strings.capacity(), 0));
                inner.strings.as_ptr()
            });
            assert_eq!(outer.strings, b"outer");
            second
        });
        // A pipeline takes the kept request and gives it back; calls made
        // meanwhile use the second. Neither a request grown too large nor
        // one never allocated (what a pipeline's replies leave) replaces
        // the kept one.
        let taken = request::take();
        assert_eq!(taken.strings.as_ptr(), kept);
        let meanwhile = with_request("TIME", (), |sent| sent.strings.as_ptr());
        assert_eq!(meanwhile, second);
        request::keep(taken);
        let mut large = Request::default();
        large.strings.reserve(request::KEPT_CAPACITY + 1);
        request::keep(large);
        request::keep(Request::default());
        assert_eq!(with_request("TIME", (), |sent| sent.strings.as_ptr()), kept);
        // Nor does a call's request that grew too large stay kept.
        let value = vec![b'v'; request::KEPT_CAPACITY + 1];
        with_request("SET", [&b"k"[..], &value[..]], |_| ());
        let capacity = with_request("TIME", (), |sent| sent.strings.capacity());
        assert!(capacity < request::KEPT_CAPACITY, "{capacity}");
    }

    #[test]
    fn replies_in_place_and_in_a_list_read_alike() {
        let tiny = answer(b"+hash\r\n");
        assert!(matches!(tiny, types::Replies::Resp3(types::Bytes::Tiny(_))));
        assert_eq!(answer_as::<String>(tiny, "TYPE"), Ok("hash".into()));
        let short = answer(b"+string\r\n");
        assert!(matches!(
            short,
            types::Replies::Resp3(types::Bytes::Short(_))
        ));
        assert_eq!(answer_as::<String>(short, "TYPE"), Ok("string".into()));
        assert_eq!(answer_value(answer(b":1\r\n")), Ok(Value::Int(1)));
        let long = "v".repeat(100);
        let reply = format!("${}\r\n{long}\r\n", long.len());
        assert!(matches!(
            answer(reply.as_bytes()),
            types::Replies::Resp3(types::Bytes::Long(_))
        ));
        assert_eq!(
            answer_as::<String>(answer(reply.as_bytes()), "GET"),
            Ok(long.clone())
        );
        assert_eq!(
            answer_value(answer(reply.as_bytes())),
            Ok(Value::Bytes(long.into_bytes()))
        );
    }

    #[test]
    fn typed_replies_are_read_in_place_or_through_a_value() {
        let time = b"*2\r\n$10\r\n1700000000\r\n$6\r\n123456\r\n";
        assert_eq!(read_as(time, "TIME"), Ok((1_700_000_000i64, 123_456i64)));
        assert_eq!(read_as::<Option<String>>(b"_\r\n", "HGET"), Ok(None));
        // No reading in place for these: the `Value` path gives them.
        let map = read_as::<HashMap<String, i64>>(b"%1\r\n+a\r\n:1\r\n", "HGETALL");
        assert_eq!(map, Ok(HashMap::from([("a".to_string(), 1)])));
        assert_eq!(read_as::<Value>(b":3\r\n", "INCR"), Ok(Value::Int(3)));
        let set = read_as::<Vec<i64>>(b"~2\r\n:1\r\n$1\r\n2\r\n", "SMEMBERS");
        assert_eq!(set, Ok(vec![1, 2]));
    }

    #[test]
    fn error_replies_are_errors_with_their_text_alone() {
        let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
        let simple = format!("-{wrongtype}\r\n");
        let blob = format!("!{}\r\n{wrongtype}\r\n", wrongtype.len());
        for reply in [simple, blob] {
            let reply = reply.as_bytes();
            assert_eq!(answer_value(answer(reply)), Err(Error::new(wrongtype)));
            // Not "GET: …": the error is Redis', not a type that did not fit.
            let typed = answer_as::<String>(answer(reply), "GET");
            assert_eq!(typed, Err(Error::new(wrongtype)));
        }
        // In place too.
        let short = answer(b"!7\r\nERR bad\r\n");
        assert!(matches!(
            short,
            types::Replies::Resp3(types::Bytes::Short(_))
        ));
        assert_eq!(answer_as::<i64>(short, "X"), Err(Error::new("ERR bad")));
        // When nothing ran, the host says why.
        let refused = || types::Replies::Refused("no command may run in describe".to_string());
        let why = Error::new("no command may run in describe");
        assert_eq!(answer_value(refused()), Err(why.clone()));
        assert_eq!(answer_as::<(i64, i64)>(refused(), "TIME"), Err(why));
    }

    #[test]
    fn a_reply_that_does_not_fit_names_the_command() {
        assert_eq!(
            answer_as::<i64>(answer(b"+hash\r\n"), "TYPE")
                .unwrap_err()
                .message(),
            "TYPE: expected an integer, got the string \"hash\""
        );
        // A reply with more after it is not read in place as its first part.
        assert!(read_as::<i64>(b":1\r\n:2\r\n", "INCR").is_err());
    }

    #[test]
    fn an_integer_reply_is_the_number() {
        let integer = || types::Replies::Integer(-3);
        assert_eq!(answer_value(integer()), Ok(Value::Int(-3)));
        assert_eq!(answer_as::<i64>(integer(), "INCR"), Ok(-3));
        let error = answer_as::<u32>(integer(), "INCR").unwrap_err();
        assert!(error.message().starts_with("INCR: "), "{error}");
        assert_eq!(
            answer_bytes(integer()).map(|b| b.as_slice().to_vec()),
            Ok(b":-3\r\n".to_vec())
        );
    }

    #[test]
    fn malformed_replies_are_errors_not_panics() {
        assert!(answer_value(answer(b"$5\r\nab\r\n")).is_err());
        assert!(answer_as::<String>(answer(b"$5\r\nab\r\n"), "GET").is_err());
        assert!(answer_value(answer(b"")).is_err());
        let overlong = types::ShortBytes {
            length: 41,
            bytes: (0, 0, 0, 0, 0),
        };
        let overlong = || types::Replies::Resp3(types::Bytes::Short(overlong));
        assert!(answer_value(overlong()).is_err());
        assert!(answer_as::<i64>(overlong(), "INCR").is_err());
    }
}
