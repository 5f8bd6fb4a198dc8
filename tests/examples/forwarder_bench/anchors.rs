//! The plain clients the forwarder is measured beside: lapin (the client
//! the forwarder uses) and amqplib (Node's), each publishing messages like
//! the forwarder's with publisher confirms and at most [`CLIENT_WINDOW`]
//! unconfirmed, as RabbitMQ's guide to confirms advises.

use std::collections::VecDeque;
use std::process::Command;
use std::time::Instant;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::BasicProperties;
use wasm_triggers_tests::*;

/// Unconfirmed messages a plain client keeps at most.
pub const CLIENT_WINDOW: usize = 1000;
/// Outbox streams the drained backlog spreads over.
pub const STREAMS: usize = 64;

/// The key of the `i`th write, `k:{t<i % 64>}:<i>`: [`STREAMS`] hash tags,
/// so many entries in each outbox stream.
pub fn key(i: usize) -> String {
    format!("k:{{t{}}}:{i}", i % STREAMS)
}

/// Message `i` as the forwarder would send it for a `set` of [`key`]`(i)`.
fn message_like_the_forwarder(i: usize) -> (Vec<u8>, BasicProperties) {
    let key = key(i);
    let id = format!("outbox:{{{}}}/1700000000000-{i}", i % STREAMS);
    let mut headers = FieldTable::default();
    for (name, value) in [
        ("event", "set"),
        ("db", "0"),
        ("key", key.as_str()),
        ("source", "rule:sets"),
        ("message_id", id.as_str()),
    ] {
        headers.insert(
            ShortString::from(name),
            AMQPValue::LongString(LongString::from(value.as_bytes().to_vec())),
        );
    }
    let properties = BasicProperties::default()
        .with_message_id(ShortString::from(id))
        .with_delivery_mode(2)
        .with_content_type(ShortString::from("text/plain"))
        .with_timestamp(1_700_000_000)
        .with_headers(headers);
    (format!("0\nset\n{key}").into_bytes(), properties)
}

/// The anchor: a plain lapin client publishing `count` messages into the
/// queue `bench` with confirms, at most [`CLIENT_WINDOW`] unconfirmed.
/// Messages per second, from the first publish to the last confirm.
pub fn plain_client(broker: &Broker, count: usize) -> f64 {
    let client = broker.client();
    client.purge("bench");
    let messages: Vec<_> = (0..count).map(message_like_the_forwarder).collect();
    let channel = &client.channel;
    block_on(async {
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirm mode");
        let start = Instant::now();
        let mut unconfirmed = VecDeque::with_capacity(CLIENT_WINDOW);
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        for (body, properties) in messages {
            let confirm = channel
                .basic_publish(
                    "amq.direct".into(),
                    "bench".into(),
                    options,
                    &body,
                    properties,
                )
                .await
                .expect("a publish");
            unconfirmed.push_back(confirm);
            if unconfirmed.len() >= CLIENT_WINDOW {
                if let Some(oldest) = unconfirmed.pop_front() {
                    assert!(oldest.await.expect("a confirm").is_ack());
                }
            }
        }
        for confirm in unconfirmed {
            assert!(confirm.await.expect("a confirm").is_ack());
        }
        count as f64 / start.elapsed().as_secs_f64()
    })
}

/// The second anchor, if `bench/forwarder.sh` set it up: amqplib publishing
/// as [`plain_client`] does (`bench/amqplib/publish.js`). Messages per
/// second.
pub fn amqplib_client(broker: &Broker, count: usize) -> Option<f64> {
    let script = std::env::var_os("AMQPLIB_PUBLISHER")?;
    broker.client().purge("bench");
    let output = Command::new("node")
        .arg(script)
        .arg(broker.url())
        .arg(count.to_string())
        .arg(CLIENT_WINDOW.to_string())
        .output()
        .expect("node");
    assert!(
        output.status.success(),
        "amqplib: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}
