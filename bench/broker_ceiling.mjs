// The broker's own limit, measured with a fast client (Node.js amqplib), on quorum queues with
// persistent messages and publisher confirms, the way DocHub uses RabbitMQ:
//
// - publish: one producer, at most --window unconfirmed messages, into one queue;
// - relay: the same producer into queue A; a relay consumes A (prefetch --prefetch), publishes
//   each message to queue B on a confirm channel and acks it once confirmed; a consumer counts
//   and acks B. This is what bench/router_throughput.py times, without Python.
//
// Run (after `npm ci --prefix conformance/node`):
//   node bench/broker_ceiling.mjs --messages 5000 --rounds 3
// Every queue it declares is deleted when it ends, even on failure.

import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

const require = createRequire(new URL('../conformance/node/package.json', import.meta.url));
const amqp = require('amqplib');

const { values: options } = parseArgs({
  options: {
    url: { type: 'string', default: 'amqp://guest:guest@127.0.0.1:5672/' },
    messages: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '3' },
    window: { type: 'string', default: '512' },
    prefetch: { type: 'string', default: '256' },
    size: { type: 'string', default: '1200' },
  },
});
const MESSAGES = Number(options.messages);
const WINDOW = Number(options.window);
const PREFETCH = Number(options.prefetch);
const BODY = randomBytes(Number(options.size) / 2).toString('hex');
const QUORUM = { durable: true, arguments: { 'x-queue-type': 'quorum' } };
const PERSISTENT = { persistent: true, contentType: 'application/jose+json', mandatory: true };
const TIMEOUT_MS = 300_000;

/** Publish `count` messages to `queue`, at most WINDOW unconfirmed, resolved once all are. */
async function produce(channel, queue, count) {
  let sent = 0;
  let confirmed = 0;
  await new Promise((resolve, reject) => {
    const pump = () => {
      while (sent < count && sent - confirmed < WINDOW) {
        sent += 1;
        channel.sendToQueue(queue, Buffer.from(BODY), PERSISTENT, (error) => {
          if (error) return reject(error);
          confirmed += 1;
          if (confirmed === count) resolve();
          else pump();
        });
      }
    };
    pump();
  });
}

function countTo(channel, queue, count) {
  return new Promise((resolve, reject) => {
    let seen = 0;
    const timer = setTimeout(() => reject(new Error(`${queue}: ${seen} of ${count}`)), TIMEOUT_MS);
    channel.consume(queue, (message) => {
      channel.ack(message);
      seen += 1;
      if (seen === count) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

async function withQueues(connection, names, work) {
  const setup = await connection.createChannel();
  try {
    for (const name of names) await setup.assertQueue(name, QUORUM);
    return await work();
  } finally {
    for (const name of names) await setup.deleteQueue(name).catch(() => {});
    await setup.close().catch(() => {});
  }
}

async function publishRound(connection) {
  const name = `bench-ceiling-${randomBytes(4).toString('hex')}`;
  return withQueues(connection, [name], async () => {
    const producer = await connection.createConfirmChannel();
    const began = performance.now();
    await produce(producer, name, MESSAGES);
    const rate = MESSAGES / ((performance.now() - began) / 1000);
    await producer.close();
    return rate;
  });
}

async function relayRound(connection) {
  const name = `bench-ceiling-${randomBytes(4).toString('hex')}`;
  const [source, target] = [`${name}.in`, `${name}.out`];
  return withQueues(connection, [source, target], async () => {
    const relayIn = await connection.createChannel();
    const relayOut = await connection.createConfirmChannel();
    const consumer = await connection.createChannel();
    const producer = await connection.createConfirmChannel();
    await relayIn.prefetch(PREFETCH);
    await consumer.prefetch(WINDOW);
    await relayIn.consume(source, (message) => {
      relayOut.sendToQueue(target, message.content, PERSISTENT, (error) => {
        if (error) relayIn.nack(message, false, true);
        else relayIn.ack(message);
      });
    });
    const began = performance.now();
    const counted = countTo(consumer, target, MESSAGES);
    await produce(producer, source, MESSAGES);
    await counted;
    const rate = MESSAGES / ((performance.now() - began) / 1000);
    for (const channel of [relayIn, relayOut, consumer, producer]) await channel.close();
    return rate;
  });
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const connection = await amqp.connect(options.url);
try {
  const published = [];
  const relayed = [];
  for (let round = 1; round <= Number(options.rounds); round += 1) {
    published.push(await publishRound(connection));
    relayed.push(await relayRound(connection));
    console.log(
      `round ${round}: publish ${published.at(-1).toFixed(0)} msg/s, ` +
        `relay ${relayed.at(-1).toFixed(0)} msg/s`,
    );
  }
  console.log(
    `median of ${options.rounds} rounds of ${MESSAGES} messages of ${options.size} bytes: ` +
      `publish ${median(published).toFixed(0)} msg/s, relay ${median(relayed).toFixed(0)} msg/s`,
  );
} finally {
  await connection.close();
}
