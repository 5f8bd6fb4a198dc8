//! Reads what events removed, to test `with_removed_value`.
//!
//! - `copy` (keys `r:*`, every event) logs each event to the stream
//!   `log:removed` (`event`, `key`, `type`, `length`, `withheld`, or
//!   `removed` = `none`; for a string, `head`: its first 32 bytes), and
//!   writes a value it was given back as the key `copy:<key>`, of the same
//!   type, so a test can compare the two with plain commands (not for an
//!   eviction: copies would take the memory evictions free).
//! - `peek` (keys `r:*`) reads the removed value in `on_fired` and hands a
//!   summary to `run`, which appends to the list `log:peek` whether it
//!   sees the same value.
//! - `blind` (keys `r:*`, `del`) does not ask for removed values: it
//!   appends to `log:blind` what it is given, which must be nothing.

use wasm_triggers_sdk::{call, library, Event, Removed, Result, Trigger, Value, Withheld};

library! {
    name: "removed_values",
    triggers: [
        Trigger::new("copy").prefix("r:").with_removed_value().run(copy),
        Trigger::new("peek")
            .prefix("r:")
            .events(["del", "expired", "evicted", "set", "rename_to"])
            .with_removed_value()
            .on_fired(|event: &Event| -> Result<Option<String>> { Ok(Some(summary(event.removed()))) })
            .run(|event: &Event, seen: String| -> Result<()> {
                let same = if summary(event.removed()) == seen { "same" } else { "different" };
                call("RPUSH", ("log:peek", format!("{} {seen} {same}", event.name())))?;
                Ok(())
            }),
        Trigger::new("blind").prefix("r:").events(["del"]).run(|event: &Event| -> Result<()> {
            call("RPUSH", ("log:blind", summary(event.removed())))?;
            Ok(())
        }),
    ],
}

/// `none`, or the type, length and whether the value is there.
fn summary(removed: Option<&Removed>) -> String {
    match removed {
        None => "none".into(),
        Some(r) => format!("{}/{}/{}", r.type_name(), r.len(), withheld(r)),
    }
}

fn withheld(removed: &Removed) -> &'static str {
    match removed.withheld() {
        None => "read",
        Some(Withheld::TooLarge) => "too-large",
        Some(Withheld::ModuleType) => "module-type",
        Some(_) => "other",
    }
}

fn copy(event: &Event) -> Result<()> {
    let Some(removed) = event.removed() else {
        call(
            "XADD",
            (
                "log:removed",
                "*",
                "event",
                event.name(),
                "key",
                event.key(),
                "removed",
                "none",
            ),
        )?;
        return Ok(());
    };
    let length = removed.len().to_string();
    let head = match removed.value() {
        Some(Value::Bytes(b)) => &b[..b.len().min(32)],
        _ => &b""[..],
    };
    let entry: Vec<&[u8]> = vec![
        b"log:removed",
        b"*",
        b"event",
        event.name().as_bytes(),
        b"key",
        event.key(),
        b"type",
        removed.type_name().as_bytes(),
        b"length",
        length.as_bytes(),
        b"withheld",
        withheld(removed).as_bytes(),
        b"head",
        head,
    ];
    call("XADD", entry)?;
    let Some(value) = removed.value().filter(|_| event.name() != "evicted") else {
        return Ok(());
    };
    let mut copy = b"copy:".to_vec();
    copy.extend_from_slice(event.key());
    call("DEL", [&copy])?;
    let mut args: Vec<Vec<u8>> = vec![copy];
    let command = match (removed.type_name(), value) {
        ("string", Value::Bytes(bytes)) => {
            args.push(bytes.clone());
            "SET"
        }
        ("hash", Value::Map(fields)) => {
            for (field, value) in fields {
                args.push(bytes(field)?);
                args.push(bytes(value)?);
            }
            "HSET"
        }
        ("list", Value::Array(elements)) => {
            args.extend(elements.iter().map(bytes).collect::<Result<Vec<_>>>()?);
            "RPUSH"
        }
        ("set", Value::Set(members)) => {
            args.extend(members.iter().map(bytes).collect::<Result<Vec<_>>>()?);
            "SADD"
        }
        ("zset", Value::Array(pairs)) => {
            for pair in pairs {
                let (member, score): (Vec<u8>, f64) = pair.clone().into_typed()?;
                args.push(score.to_string().into_bytes());
                args.push(member);
            }
            "ZADD"
        }
        ("stream", Value::Array(entries)) => {
            for entry in entries {
                let (id, fields): (String, Vec<Vec<u8>>) = entry.clone().into_typed()?;
                let mut xadd = vec![args[0].clone(), id.into_bytes()];
                xadd.extend(fields);
                call("XADD", xadd)?;
            }
            return Ok(());
        }
        (type_name, value) => {
            return Err(format!("a {type_name} came as {value:?}").into());
        }
    };
    if args.len() > 1 {
        call(command, args)?;
    }
    Ok(())
}

fn bytes(value: &Value) -> Result<Vec<u8>> {
    value
        .as_bytes()
        .map(<[u8]>::to_vec)
        .ok_or_else(|| format!("expected a string, got {value:?}").into())
}
