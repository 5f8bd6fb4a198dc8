// A plain client, the anchor of bench/forwarder.sh: amqplib publishes
// <count> messages like the forwarder's (persistent, mandatory, the same
// headers and body) to amq.direct with routing key `bench`, on a confirm
// channel, with at most <window> unconfirmed. Prints messages per second,
// from the first publish to the last confirm.
//
//   node publish.js <amqp url> <count> [window]
"use strict";
const amqp = require("amqplib");

async function main() {
  const [url, countArg, windowArg] = process.argv.slice(2);
  const count = Number(countArg);
  const window = Number(windowArg || 1000);
  const connection = await amqp.connect(url);
  const channel = await connection.createConfirmChannel();
  const messages = [];
  for (let i = 0; i < count; i++) {
    const key = `k:{t${i % 64}}:${i}`;
    const id = `outbox:{${i % 64}}/1700000000000-${i}`;
    messages.push([
      Buffer.from(`0\nset\n${key}`),
      {
        mandatory: true,
        persistent: true,
        messageId: id,
        contentType: "text/plain",
        timestamp: 1700000000,
        headers: { event: "set", db: "0", key, source: "rule:sets", message_id: id },
      },
    ]);
  }
  let unconfirmed = 0;
  let wake = null;
  const confirmed = (error) => {
    if (error) throw new Error("a message was nacked");
    unconfirmed--;
    if (wake) { const w = wake; wake = null; w(); }
  };
  const start = process.hrtime.bigint();
  for (const [body, options] of messages) {
    while (unconfirmed >= window) await new Promise((resolve) => { wake = resolve; });
    unconfirmed++;
    if (!channel.publish("amq.direct", "bench", body, options, confirmed)) {
      await new Promise((resolve) => channel.once("drain", resolve));
    }
  }
  await channel.waitForConfirms();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log((count / seconds).toFixed(0));
  await connection.close();
}

main().catch((error) => { console.error(error); process.exit(1); });
