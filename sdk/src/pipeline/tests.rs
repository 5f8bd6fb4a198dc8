//! Unit tests of [`Pipeline`](super::Pipeline): how its commands are
//! written, and how the host's answer is split into its replies and read,
//! from literal bytes; running it against Redis is the integration tests'.

use super::*;
use crate::small_bytes::SHORT_CAPACITY;

/// Replies to `count` commands named `A`, `B`, … (as `run` would return
/// them): `replies` in place when they fit, as the host sends them.
fn replies_to(count: usize, replies: &[u8]) -> Replies {
    let mut pipeline = Pipeline::new();
    for name in ["A", "B", "C", "D"].iter().take(count) {
        pipeline.call(name, ());
    }
    let answer = types::Replies::Resp3(SmallBytes::to_wit(replies));
    pipeline.into_replies(answer).expect("well formed")
}

#[test]
fn commands_are_written_one_after_the_other() {
    let mut pipeline = Pipeline::new();
    pipeline.call("TYPE", [&b"k\xff"[..]]).call("TIME", ());
    pipeline.call("HSET", ("k", "f", -7i64));
    assert_eq!(pipeline.len(), 3);
    assert_eq!(pipeline.commands.strings, b"TYPEk\xffTIMEHSETkf-7");
    assert_eq!(pipeline.commands.lengths, [2, 4, 2, 1, 4, 4, 4, 1, 1, 2]);
    assert_eq!(pipeline.commands.name(0).as_deref(), Some("TYPE"));
    assert_eq!(pipeline.commands.name(2).as_deref(), Some("HSET"));
    assert_eq!(pipeline.commands.name(3), None);
}

#[test]
fn replies_are_read_in_order() {
    let time = "*2\r\n$10\r\n1700000000\r\n$6\r\n123456\r\n";
    let mut replies = replies_to(
        4,
        format!("+hash\r\n{time}:1\r\n%1\r\n+f\r\n:2\r\n").as_bytes(),
    );
    assert_eq!(replies.len(), 4);
    assert_eq!(replies.next_as::<String>(), Ok("hash".to_string()));
    assert_eq!(
        replies.next_as::<(i64, i64)>(),
        Ok((1_700_000_000, 123_456))
    );
    assert_eq!(replies.next(), Ok(Value::Int(1)));
    assert_eq!(replies.len(), 1);
    let map = replies.next().expect("a map");
    assert_eq!(map.get("f"), Some(&Value::Int(2)));
    assert!(replies.is_empty());
    let past_the_end = replies.next().unwrap_err();
    assert_eq!(
        past_the_end.message(),
        "no reply left: the pipeline ran 4 commands"
    );
    assert!(replies.next_as::<i64>().is_err());
}

#[test]
fn an_error_reply_is_an_err_and_the_next_reply_still_reads() {
    let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
    let bytes = format!("-{wrongtype}\r\n!7\r\nERR bad\r\n:5\r\n");
    let mut replies = replies_to(3, bytes.as_bytes());
    assert_eq!(replies.next_as::<String>(), Err(Error::new(wrongtype)));
    assert_eq!(replies.next(), Err(Error::new("ERR bad")));
    assert_eq!(replies.next_as::<i64>(), Ok(5));
}

#[test]
fn a_reply_that_does_not_fit_names_its_command() {
    let mut replies = replies_to(2, b":1\r\n+hash\r\n");
    assert_eq!(replies.next_as::<i64>(), Ok(1));
    assert_eq!(
        replies.next_as::<i64>().unwrap_err().message(),
        "B (command 2 of the pipeline): expected an integer, got the string \"hash\""
    );
}

#[test]
fn missing_or_malformed_replies_are_errors() {
    // The host answered one command of two.
    let mut replies = replies_to(2, b":1\r\n");
    assert_eq!(replies.next(), Ok(Value::Int(1)));
    assert!(replies.next().is_err());
    // A truncated reply is an error, every time it is asked for.
    let mut replies = replies_to(2, b"$5\r\nab\r\n");
    assert!(replies.next().is_err());
    assert!(replies.next_as::<String>().is_err());
    assert_eq!(replies.len(), 2);
}

#[test]
fn replies_in_place_and_in_a_list_are_split_alike() {
    let mut pipeline = Pipeline::new();
    pipeline.call("TYPE", ["k"]).call("STRLEN", ["k"]);
    assert_eq!(pipeline.commands.strings, b"TYPEkSTRLENk");
    assert_eq!(pipeline.commands.lengths, [2, 4, 1, 2, 6, 1]);
    let short = SmallBytes::to_wit(b"+string\r\n:3\r\n");
    assert!(matches!(short, types::Bytes::Short(_)));
    let mut replies = pipeline
        .into_replies(types::Replies::Resp3(short))
        .expect("in place");
    assert!(matches!(replies.replies, SmallBytes::Inline { .. }));
    assert_eq!(replies.next_as::<String>(), Ok("string".into()));
    assert_eq!(replies.next_as::<u32>(), Ok(3));
    assert!(replies.next().is_err());

    // Past 40 bytes, the replies come in a list; a reply may straddle
    // the 40th byte.
    let value = "v".repeat(40);
    let bytes = format!("+OK\r\n${}\r\n{value}\r\n:40\r\n", value.len());
    assert!(bytes.len() > SHORT_CAPACITY);
    let mut replies = replies_to(3, bytes.as_bytes());
    assert!(matches!(replies.replies, SmallBytes::Heap(_)));
    assert_eq!(replies.next(), Ok(Value::Bytes(b"OK".to_vec())));
    assert_eq!(replies.next_as::<String>(), Ok(value));
    assert_eq!(replies.next_as::<i64>(), Ok(40));
    assert!(replies.is_empty());
}

#[test]
fn an_empty_pipeline_runs_nothing_and_a_refused_one_is_an_err() {
    // Natively the host's `call` is unreachable: this runs without
    // crossing.
    let replies = Pipeline::new().run().expect("nothing to run");
    assert!(replies.is_empty());
    let mut pipeline = Pipeline::new();
    pipeline.call("TIME", ());
    let refused = types::Replies::Refused("no command may run in describe".to_string());
    assert_eq!(
        pipeline.into_replies(refused).unwrap_err().message(),
        "no command may run in describe"
    );
}

#[test]
fn the_buffer_goes_back_when_the_replies_are_dropped() {
    let mut pipeline = Pipeline::new();
    pipeline.call("TIME", ());
    let buffer = pipeline.commands.strings.as_ptr();
    let replies = pipeline.into_replies(types::Replies::Resp3(SmallBytes::to_wit(b"*0\r\n")));
    drop(replies);
    assert_eq!(Pipeline::new().commands.strings.as_ptr(), buffer);
    // As when nothing ran.
    let mut pipeline = Pipeline::new();
    pipeline.call("TIME", ());
    let refused = pipeline.into_replies(types::Replies::Refused("refused".to_string()));
    assert!(refused.is_err());
    assert_eq!(Pipeline::new().commands.strings.as_ptr(), buffer);
}
