//! Commands in one crossing (`Pipeline`):
//!
//! - `batch`, on a `set` of `batch:<name>`: pipelines `TYPE <key>`, `INCR
//!   <key>` (an error: the value is not a number), `HSET batch:seen <key> 1`
//!   and `TIME`, then appends what each replied to the list `batch:out`,
//!   and whether reading past the last reply was an error;
//! - `long`, on a `set` of `long:<n>`: pipelines `n` times `KEYS nomatch:*`
//!   (a scan of the whole keyspace) and `INCR long:count`.

use wasm_triggers_sdk::{call, library, Event, Pipeline, Result, Trigger, Value};

library! {
    name: "pipeline",
    triggers: [
        Trigger::new("batch").prefix("batch:").events(["set"]).run(batch),
        Trigger::new("long").prefix("long:").events(["set"]).run(long),
    ],
}

fn batch(event: &Event) -> Result<()> {
    let mut pipeline = Pipeline::new();
    pipeline
        .call("TYPE", [event.key()])
        .call("INCR", [event.key()])
        .call("HSET", ("batch:seen", event.key(), 1))
        .call("TIME", ());
    let mut replies = pipeline.run()?;
    let kind: String = replies.next_as()?;
    let incr = match replies.next() {
        Ok(value) => format!("no error: {value:?}"),
        Err(error) => error.to_string(),
    };
    let added: i64 = replies.next_as()?;
    let (seconds, _micros): (i64, i64) = replies.next_as()?;
    let past_the_end = match replies.next() {
        Ok(value) => format!("a reply past the end: {value:?}"),
        Err(_) => "no more".to_string(),
    };
    let time = if seconds > 1_600_000_000 {
        "time"
    } else {
        "no time"
    };
    call(
        "RPUSH",
        ("batch:out", kind, incr, added, time, past_the_end),
    )?;
    Ok(())
}

fn long(event: &Event) -> Result<()> {
    let n: usize = event
        .key_str()
        .and_then(|key| key.strip_prefix("long:"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut pipeline = Pipeline::new();
    for _ in 0..n {
        pipeline
            .call("KEYS", ["nomatch:*"])
            .call("INCR", ["long:count"]);
    }
    let mut replies = pipeline.run()?;
    for _ in 0..2 * n {
        let _: Value = replies.next()?;
    }
    Ok(())
}
