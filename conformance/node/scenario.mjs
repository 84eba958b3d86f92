#!/usr/bin/env node
// The conformance scenario: one Node.js agency exchanging with a PEER agency through a running
// DocHub hub. It prints one JSON line per step to stdout and exits 0 only if every step passed
// (1 when a step failed, 2 on the global timeout, 3 on bad arguments). Diagnostics go to stderr.
//
//   node scenario.mjs --amqp-url URL --namespace NS --directory FILE --agency-id ID --key FILE \
//        --peer PEER_ID [--timeout-s 60] [--user-id USER] [--state FILE] [--quiet-s 2] \
//        [--unknown-recipient 000.00.00.H98]
//
// (a) sends PEER a signed document and waits for PEER's receipts 01 and 03 about it;
// (b) waits for a document from PEER, acks it, and answers with receipts 01 then 03;
// (c) sends a tampered document (no refusal must come back: no key authenticated it) and a valid
//     one to an unregistered recipient (the hub's refusal 02, signed by the hub, must come back
//     with `refused.sha256` the SHA-256 of the body published and reason `unknown_recipient`).

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { AckedIds, Agency } from './agency.js';
import { Directory, b64url, loadPrivateKey, newEnvelope, newReceipt, sameId, signJson, TYP } from './contract.js';

const USAGE =
  'usage: node scenario.mjs --amqp-url URL --namespace NS --directory FILE --agency-id ID ' +
  '--key FILE --peer PEER_ID [--timeout-s 60] [--user-id USER] [--state FILE] [--quiet-s 2] ' +
  '[--unknown-recipient 000.00.00.H98]';

const print = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
const diagnostic = (event) => process.stderr.write(`${JSON.stringify(event)}\n`);

class StepFailed extends Error {
  constructor(step, message) {
    super(message);
    this.step = step;
  }
}

/** Messages taken from a queue, awaited by predicate. */
class Mailbox {
  constructor(name) {
    this.name = name;
    this.items = [];
    this.waiters = [];
    this.rejections = [];
  }

  put(item) {
    this.items.push(item);
    for (const waiter of [...this.waiters]) waiter();
  }

  /** The first item (past or future) for which `matches` holds, within `withinMs`. */
  waitFor(step, description, matches, withinMs) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.items.find(matches);
        if (!found) return false;
        cleanup();
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        const rejected = this.rejections.length ? `; rejected there: ${JSON.stringify(this.rejections)}` : '';
        reject(new StepFailed(step, `no ${description} in the ${this.name} within ${withinMs} ms${rejected}`));
      }, withinMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      if (!check()) this.waiters.push(check);
    });
  }
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      'amqp-url': { type: 'string' },
      namespace: { type: 'string', default: 'dochub' },
      directory: { type: 'string' },
      'agency-id': { type: 'string' },
      key: { type: 'string' },
      peer: { type: 'string' },
      'timeout-s': { type: 'string', default: '60' },
      'user-id': { type: 'string' },
      state: { type: 'string' },
      'quiet-s': { type: 'string', default: '2' },
      'unknown-recipient': { type: 'string', default: '000.00.00.H98' },
    },
  });
  for (const required of ['amqp-url', 'directory', 'agency-id', 'key', 'peer']) {
    if (!values[required]) throw new Error(`--${required} is required`);
  }
  return values;
}

/** A document signed by `agency`, whose payload is then changed: the signature no longer holds. */
async function tamperedDocument(agency, peerOrgan) {
  const envelope = newEnvelope(agency.organ, [peerOrgan], 'Văn bản bị sửa sau khi ký');
  const jws = JSON.parse(await signJson(envelope, agency.signer, TYP.document));
  const changed = { ...envelope, subject: 'Nội dung đã bị sửa' };
  jws.payload = b64url(Buffer.from(JSON.stringify(changed), 'utf8'));
  return { envelope, body: Buffer.from(JSON.stringify(jws), 'utf8') };
}

async function run(options, agency, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(0, deadline - Date.now());
  const peer = options.peer;
  const peerOrgan = agency.directory.organ(peer);
  const inbox = new Mailbox('inbox');
  const statuses = new Mailbox('status queue');
  agency.log = (event) => {
    diagnostic(event);
    if (event.event === 'rejected') {
      (event.queue === agency.names.inbox ? inbox : statuses).rejections.push(event.detail);
    }
  };

  try {
    await agency.connect();
    await agency.waitForTopology(deadline);
  } catch (error) {
    throw new StepFailed('connect', error.message);
  }
  print({ step: 'connect', ok: true, user_id: agency.userId, namespace: options.namespace });
  await agency.consume('document', async (message) => inbox.put(message));
  await agency.consume('status', async (message) => statuses.put(message));

  // (b) Answer PEER's document, concurrently with the rest.
  const answer = (async () => {
    const delivery = await inbox.waitFor(
      'receive_document', `document from ${peer}`, (m) => m.payload.sender?.id === peer, left(),
    );
    print({
      step: 'receive_document', ok: true, id: delivery.payload.id, sha256: delivery.sha256,
      stamp: delivery.stamp, properties: delivery.properties, members: Object.keys(delivery.payload),
    });
    for (const code of ['01', '03']) {
      const sent = await agency.sendReceipt(newReceipt(delivery.payload, agency.organ, code));
      print({ step: `send_receipt_${code}`, ok: true, id: sent.id, document: delivery.payload.id });
    }
  })();

  // (a) and (c), concurrently with (b): the first failure of either ends the scenario.
  await Promise.all([answer, exchange(agency, options, statuses, peerOrgan, left)]);
}

async function exchange(agency, options, statuses, peerOrgan, left) {
  const peer = peerOrgan.id;
  // (a) Send PEER a document and wait for its receipts.
  const document = await agency.sendDocument(
    newEnvelope(agency.organ, [peerOrgan], 'Công văn thử nghiệm từ tác nhân Node.js'),
  );
  print({ step: 'send_document', ok: true, id: document.id, sha256: document.sha256 });

  // (c) A tampered document, then a valid one to an unregistered recipient.
  const tampered = await tamperedDocument(agency, peerOrgan);
  const tamperedSent = await agency.publish('document', tampered.body, tampered.envelope.id);
  print({ step: 'send_tampered', ok: true, id: tamperedSent.id, sha256: tamperedSent.sha256 });
  const stranger = { id: options['unknown-recipient'], name: 'Cơ quan không có trong danh bạ' };
  const unknown = await agency.sendDocument(
    newEnvelope(agency.organ, [stranger], 'Gửi tới cơ quan không đăng ký'),
  );
  print({ step: 'send_unknown_recipient', ok: true, id: unknown.id, sha256: unknown.sha256 });

  for (const code of ['01', '03']) {
    const step = `receipt_${code}`;
    const receipt = await statuses.waitFor(
      step,
      `receipt ${code} from ${peer} about ${document.id}`,
      (m) => m.payload.code === code && m.payload.responder?.id === peer && sameId(m.payload.document?.id, document.id),
      left(),
    );
    // acceptIncoming has verified the stamp and that PEER's key signed it.
    print({
      step, ok: true, id: receipt.payload.id, signed_by: receipt.signer.id, kid: receipt.signer.kid,
      stamp: receipt.stamp, properties: receipt.properties, payload: receipt.payload,
    });
  }

  const refusal = await statuses.waitFor(
    'refusal_unknown_recipient',
    `hub refusal with refused.sha256 ${unknown.sha256}`,
    (m) => m.signer.id === null && m.payload.refused?.sha256?.toLowerCase() === unknown.sha256,
    left(),
  );
  const r = refusal.payload;
  const problems = [];
  if (r.code !== '02') problems.push(`code ${r.code}`);
  if (r.responder != null) problems.push('a responder');
  if (r.reason !== 'unknown_recipient') problems.push(`reason ${JSON.stringify(r.reason)}`);
  if (r.refused.kind !== 'document') problems.push(`refused.kind ${r.refused.kind}`);
  if (r.document != null && !sameId(r.document.id, unknown.id)) problems.push(`document ${r.document.id}`);
  if (problems.length) throw new StepFailed('refusal_unknown_recipient', `refusal has ${problems.join(', ')}`);
  print({
    step: 'refusal_unknown_recipient', ok: true, id: r.id, reason: r.reason, kid: refusal.signer.kid,
    stamp: refusal.stamp, properties: refusal.properties, payload: r,
  });

  // Nothing may come back for the tampered document: wait a little past the refusal above,
  // which the hub produced for a later publish.
  const quietMs = Math.min(Number(options['quiet-s']) * 1000, left());
  await new Promise((resolve) => setTimeout(resolve, quietMs));
  const told = statuses.items.filter(
    (m) => m.payload.refused?.sha256?.toLowerCase() === tamperedSent.sha256 || sameId(m.payload.document?.id, tamperedSent.id),
  );
  if (told.length) throw new StepFailed('no_refusal_for_tampered', `the hub answered it: ${JSON.stringify(told[0].payload)}`);
  print({ step: 'no_refusal_for_tampered', ok: true, watched_ms: quietMs });
}

async function main() {
  let options;
  try {
    options = parseOptions();
  } catch (error) {
    print({ step: 'arguments', ok: false, error: error.message });
    process.stderr.write(`${USAGE}\n`);
    return 3;
  }
  const timeoutMs = Number(options['timeout-s']) * 1000;
  let agency;
  const timer = setTimeout(() => {
    print({ step: 'timeout', ok: false, error: `the scenario did not finish within ${options['timeout-s']} s` });
    process.exit(2);
  }, timeoutMs + 1000); // a step's own wait ends first, with a better message
  try {
    const directory = await Directory.fromToml(readFileSync(options.directory, 'utf8'));
    agency = new Agency({
      url: options['amqp-url'],
      namespace: options.namespace,
      directory,
      agencyId: options['agency-id'],
      signer: await loadPrivateKey(readFileSync(options.key, 'utf8')),
      userId: options['user-id'],
      acked: new AckedIds(options.state ?? null),
    });
    await run(options, agency, timeoutMs);
    print({ step: 'done', ok: true });
    return 0;
  } catch (error) {
    print({ step: error.step ?? 'scenario', ok: false, error: error.message });
    return 1;
  } finally {
    clearTimeout(timer);
    await agency?.close();
  }
}

process.exit(await main());
