//! Unit tests of the RESP3 parser: every type, malformed and truncated
//! replies, integers to the last digit, and how deep replies may nest.

use super::*;

fn ok(input: &[u8]) -> Value {
    parse(input).unwrap()
}

#[test]
fn every_type() {
    assert_eq!(ok(b"+OK\r\n"), Value::Bytes(b"OK".to_vec()));
    assert_eq!(ok(b":-12\r\n"), Value::Int(-12));
    assert_eq!(ok(b":9223372036854775807\r\n"), Value::Int(i64::MAX));
    assert_eq!(ok(b":-9223372036854775808\r\n"), Value::Int(i64::MIN));
    assert_eq!(ok(b":-0\r\n"), Value::Int(0));
    assert_eq!(ok(b"$3\r\na\r\n\r\n"), Value::Bytes(b"a\r\n".to_vec()));
    assert_eq!(ok(b"$0\r\n\r\n"), Value::Bytes(vec![]));
    assert_eq!(ok(b"$-1\r\n"), Value::Nil);
    assert_eq!(ok(b"*-1\r\n"), Value::Nil);
    assert_eq!(ok(b"_\r\n"), Value::Nil);
    assert_eq!(ok(b",1.5\r\n"), Value::Double(1.5));
    assert_eq!(ok(b",-inf\r\n"), Value::Double(f64::NEG_INFINITY));
    assert_eq!(ok(b"#t\r\n"), Value::Bool(true));
    assert_eq!(ok(b"#f\r\n"), Value::Bool(false));
    assert_eq!(
        ok(b"(12345678901234567890\r\n"),
        Value::BigNumber("12345678901234567890".into())
    );
    assert_eq!(ok(b"!5\r\nERR x\r\n"), Value::Error("ERR x".into()));
    assert_eq!(ok(b"-ERR y\r\n"), Value::Error("ERR y".into()));
    assert_eq!(ok(b"=7\r\ntxt:abc\r\n"), Value::Bytes(b"abc".to_vec()));
    assert_eq!(
        ok(b"~2\r\n:1\r\n:2\r\n"),
        Value::Set(vec![Value::Int(1), Value::Int(2)])
    );
    assert_eq!(
        ok(b"%1\r\n+k\r\n:1\r\n"),
        Value::Map(vec![(Value::Bytes(b"k".to_vec()), Value::Int(1))])
    );
    assert_eq!(ok(b"|1\r\n+a\r\n+b\r\n:3\r\n"), Value::Int(3));
    assert_eq!(ok(b"*0\r\n"), Value::Array(vec![]));
}

#[test]
fn malformed_replies_are_errors() {
    for input in [
        &b""[..],
        b"+OK",
        b"+OK\r\nextra",
        b":x\r\n",
        b"$5\r\nab\r\n",
        b"$-2\r\n",
        b"*3\r\n:1\r\n",
        b"*99999999999\r\n",
        b"%-1\r\n",
        b"#x\r\n",
        b"?\r\n",
        b"$18446744073709551615\r\n",
        b":\r\n",
        b":-\r\n",
        b":1\r",
        b":1\n\r\n",
        b":9223372036854775808\r\n",
        b":-9223372036854775809\r\n",
    ] {
        assert!(parse(input).is_err(), "{input:?}");
    }
}

#[test]
fn integers_to_the_last_digit() {
    assert_eq!(parse_int(b"9223372036854775807"), Some(i64::MAX));
    assert_eq!(parse_int(b"-9223372036854775808"), Some(i64::MIN));
    assert_eq!(parse_int(b"9223372036854775808"), None);
    assert_eq!(parse_int(b"-9223372036854775809"), None);
    assert_eq!(parse_int(b"9999999999999999999"), None);
    assert_eq!(parse_int(b"00000000000000000001"), Some(1));
    assert_eq!(parse_int(b"-00000000000000000012"), Some(-12));
    assert_eq!(parse_int(b"18446744073709551616"), None);
    assert_eq!(parse_int(b"99999999999999999999"), None);
    assert_eq!(parse_int(b"000000000000000000001"), None);
    assert_eq!(parse_int(b"+7"), Some(7));
    assert_eq!(parse_int(b"-0"), Some(0));
    for bad in [
        &b""[..],
        b"-",
        b"1a",
        b"1 ",
        b"/",
        b":",
        b"0000000000000000000a",
    ] {
        assert_eq!(parse_int(bad), None, "{bad:?}");
    }
}

#[test]
fn skip_steps_over_exactly_one_value() {
    let replies: &[&[u8]] = &[
        b"+OK\r\n",
        b"-ERR x\r\n",
        b"!5\r\nERR x\r\n",
        b"$3\r\na\r\n\r\n",
        b"$-1\r\n",
        b"*2\r\n:1\r\n%1\r\n+k\r\n~1\r\n,1.5\r\n",
        b"|1\r\n+a\r\n+b\r\n:3\r\n",
        b"=7\r\ntxt:abc\r\n",
        b"*0\r\n",
    ];
    let all = replies.concat();
    let mut parser = Parser::new(&all);
    for reply in replies {
        let start = parser.pos;
        parser.skip(0).expect("well formed");
        assert_eq!(&all[start..parser.pos], *reply);
    }
    for truncated in [&b"*2\r\n:1\r\n"[..], b"$5\r\nab\r\n", b"", b"?\r\n"] {
        assert!(Parser::new(truncated).skip(0).is_err(), "{truncated:?}");
    }
    let deep = b"*1\r\n".repeat(MAX_DEPTH + 2);
    assert!(Parser::new(&deep).skip(0).is_err());
}

#[test]
fn deep_nesting_is_refused() {
    let mut input = b"*1\r\n".repeat(MAX_DEPTH + 2);
    input.extend_from_slice(b":1\r\n");
    assert!(parse(&input).is_err());
    let mut input = b"*1\r\n".repeat(MAX_DEPTH);
    input.extend_from_slice(b":1\r\n");
    assert!(parse(&input).is_ok());
}
