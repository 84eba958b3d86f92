#!/usr/bin/env node
// The broker-free parts of the Node.js agency, checked against RFC vectors and against itself:
// key ids, signing and verifying bodies, the stamp rules, the directory reader, the acked-ids record.
//
//   node selfcheck.mjs [--verify-vector FILE] [--emit-vector FILE]
//
// --verify-vector FILE: a JSON file {"body", "public_key", "kid", "typ", "payload"} made by
//   another implementation (the Python test writes one): `body` must verify with `public_key`
//   (directory form), its kid must be `kid` and the thumbprint Node computes, and its payload
//   must be `payload`, byte for byte.
// --emit-vector FILE: write such a file signed here, for another implementation to verify.
//
// Prints one JSON line per check, then "N passed, M failed"; exits 0 only if none failed.

import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as edSign, verify as edVerify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as jose from 'jose';
import { AckedIds } from './agency.js';
import {
  ContractError,
  Directory,
  TYP,
  acceptIncoming,
  b64url,
  loadPrivateKey,
  newEnvelope,
  newReceipt,
  sha256Hex,
  signFlattened,
  signJson,
  thumbprint,
  thumbprintByHand,
  verifyFlattened,
} from './contract.js';

const results = [];

async function check(name, body) {
  try {
    const detail = await body();
    results.push(true);
    process.stdout.write(`${JSON.stringify({ check: name, ok: true, ...(detail ?? {}) })}\n`);
  } catch (error) {
    results.push(false);
    process.stdout.write(`${JSON.stringify({ check: name, ok: false, error: error.message })}\n`);
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

async function refused(reason, promise) {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ContractError && error.reason === reason) return;
    throw new Error(`expected ${reason}, got ${error.message}`);
  }
  throw new Error(`expected ${reason}, but it was accepted`);
}

/** A fresh Ed25519 key as the agency and the directory see it. */
async function freshKey() {
  const { privateKey } = generateKeyPairSync('ed25519');
  const signer = await loadPrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' }));
  return { ...signer, text: signer.raw.toString('base64') };
}

function directoryToml(hub, agencies) {
  const lines = ['schema_version = "2.0"', '', '[hub]', 'name = "DocHub"', `public_key = "${hub.text}"`];
  for (const [id, key] of Object.entries(agencies)) {
    lines.push('', '[[agencies]]', `id = "${id}"`, `name = "Cơ quan ${id}"`, 'kind = "ministry"');
    lines.push(`public_key = "${key.text}"`);
  }
  return `${lines.join('\n')}\n`;
}

/** A body with one member of its JSON object changed. */
function edited(body, change) {
  const jws = JSON.parse(body);
  change(jws);
  return Buffer.from(JSON.stringify(jws));
}

const { values: options } = parseArgs({
  options: { 'verify-vector': { type: 'string' }, 'emit-vector': { type: 'string' } },
});

// RFC 8037 appendix A: the Ed25519 key, its thumbprint, and the signature of its example.
const RFC8037 = {
  d: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A',
  x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
  thumbprint: 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k',
  input: 'eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc',
  signature: 'hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg',
};

await check('rfc8037_thumbprint', async () => {
  const raw = Buffer.from(RFC8037.x, 'base64url');
  assert((await thumbprint(raw)) === RFC8037.thumbprint, 'jose thumbprint differs from RFC 8037');
  assert(thumbprintByHand(raw) === RFC8037.thumbprint, 'hand thumbprint differs from RFC 8037');
});

await check('rfc8037_signature', async () => {
  const key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: RFC8037.d, x: RFC8037.x }, format: 'jwk' });
  const signature = edSign(null, Buffer.from(RFC8037.input, 'ascii'), key);
  assert(b64url(signature) === RFC8037.signature, 'the Ed25519 signature differs from RFC 8037');
});

const hub = await freshKey();
const g12 = await freshKey();
const h29 = await freshKey();
const stranger = await freshKey();
const directory = await Directory.fromToml(directoryToml(hub, { '000.00.00.G12': g12, '000.00.00.H29': h29 }));
const envelope = newEnvelope(directory.organ('000.00.00.G12'), [directory.organ('000.00.00.H29')], 'Thử');
const body = await signJson(envelope, g12, TYP.document);

await check('directory', async () => {
  assert(directory.hub.kid === hub.kid, 'hub kid');
  assert(directory.agency('000.00.00.G12').kid === g12.kid, 'G12 kid');
  assert(directory.organ('000.00.00.H29').name === 'Cơ quan 000.00.00.H29', 'H29 name');
});

await check('kid_is_43_chars_and_matches_by_hand', async () => {
  assert(g12.kid.length === 43, `kid has ${g12.kid.length} characters`);
  assert(g12.kid === thumbprintByHand(g12.raw), 'jose and the contract wording disagree');
});

await check('body_is_exactly_three_members', async () => {
  const jws = JSON.parse(body);
  assert(Object.keys(jws).sort().join() === 'payload,protected,signature', Object.keys(jws).join());
  const header = JSON.parse(Buffer.from(jws.protected, 'base64url'));
  assert(header.alg === 'EdDSA' && header.typ === TYP.document && header.kid === g12.kid, JSON.stringify(header));
  assert(!/=/.test(body.toString()), 'padding in the body');
});

await check('sign_verify_round_trip', async () => {
  const verified = await verifyFlattened(body, directory, TYP.document);
  assert(verified.signer.id === '000.00.00.G12', 'signer');
  assert(verified.payloadBytes.equals(Buffer.from(JSON.stringify(envelope))), 'payload bytes');
  assert(verified.payload.id === envelope.id && envelope.id === envelope.id.toUpperCase(), 'id');
});

await check('typ_any_case_with_application_prefix', async () => {
  const payload = Buffer.from(JSON.stringify(envelope));
  const loud = await signFlattened(payload, g12, 'application/DOCHUB-Document+JSON');
  await verifyFlattened(loud, directory, TYP.document);
  await refused('schema_invalid', verifyFlattened(loud, directory, TYP.receipt));
});

await check('refusals', async () => {
  const changed = b64url(Buffer.from(JSON.stringify({ ...envelope, subject: 'sửa' })));
  await refused('bad_signature', verifyFlattened(edited(body, (j) => { j.payload = changed; }), directory, TYP.document));
  await refused('unknown_key', verifyFlattened(await signJson(envelope, stranger, TYP.document), directory, TYP.document));
  await refused('schema_invalid', verifyFlattened(edited(body, (j) => { j.header = {}; }), directory, TYP.document));
  await refused('schema_invalid', verifyFlattened(edited(body, (j) => { j.signature += '=='; }), directory, TYP.document));
  await refused('schema_invalid', verifyFlattened(edited(body, (j) => { j.signature = j.signature.slice(0, 40); }), directory, TYP.document));
  await refused('unsigned', verifyFlattened(edited(body, (j) => { j.signature = ''; }), directory, TYP.document));
  await refused('malformed', verifyFlattened(Buffer.from('not json'), directory, TYP.document));
  // jose will not sign a `crit` it does not know: sign this one by hand.
  const header = b64url(Buffer.from(JSON.stringify({ alg: 'EdDSA', kid: g12.kid, typ: TYP.document, crit: ['x'], x: 1 })));
  const payload = JSON.parse(body).payload;
  const signature = b64url(edSign(null, Buffer.from(`${header}.${payload}`, 'ascii'), g12.privateKey));
  const crit = JSON.stringify({ protected: header, payload, signature });
  await refused('schema_invalid', verifyFlattened(Buffer.from(crit), directory, TYP.document));
});

/** A hub stamp over `messageBody`, with payload members overridden by `overrides`. */
async function stamp(messageBody, kind, id, overrides = {}, key = hub) {
  const payload = {
    schema_version: '2.0', kind, id, sha256: sha256Hex(messageBody), to: ['000.00.00.H29'],
    routed_at: new Date().toISOString(), node: 'hub:selfcheck', ...overrides,
  };
  return new jose.CompactSign(Buffer.from(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: TYP.stamp })
    .sign(key.privateKey);
}

await check('stamp_rules_inbox', async () => {
  const me = '000.00.00.H29';
  const accept = async (stampHeader, kind = 'document', who = me) =>
    acceptIncoming({ body, stampHeader, directory, me: who, kind });
  const accepted = await accept(Buffer.from(await stamp(body, 'document', envelope.id.toLowerCase())));
  assert(accepted.signer.id === '000.00.00.G12', 'signer');
  await refused('bad_stamp', accept(undefined));
  await refused('bad_stamp', accept(await stamp(body, 'status', envelope.id), 'document'));
  await refused('bad_stamp', accept(await stamp(body, 'document', envelope.id), 'status'));
  await refused('bad_stamp', accept(await stamp(body, 'document', envelope.id, { sha256: sha256Hex('x') })));
  await refused('bad_stamp', accept(await stamp(body, 'document', envelope.id, { to: ['000.00.00.G01'] })));
  await refused('bad_stamp', accept(await stamp(body, 'document', envelope.id, { id: crypto.randomUUID() })));
  await refused('bad_stamp', accept(await stamp(body, 'document', envelope.id, {}, g12)));
  await refused('not_for_me', accept(await stamp(body, 'document', envelope.id, { to: ['000.00.00.G12'] }), 'document', '000.00.00.G12'));
});

await check('stamp_rules_status', async () => {
  const me = '000.00.00.G12';
  const receipt = newReceipt(envelope, directory.organ('000.00.00.H29'), '01');
  const signed = await signJson(receipt, h29, TYP.receipt);
  const accept = (messageBody, stampText) =>
    acceptIncoming({ body: messageBody, stampHeader: stampText, directory, me, kind: 'status' });
  await accept(signed, await stamp(signed, 'status', receipt.id, { to: [me] }));
  const forged = await signJson(receipt, g12, TYP.receipt); // signed by another than the responder
  await refused('sender_mismatch', accept(forged, await stamp(forged, 'status', receipt.id, { to: [me] })));
  const refusal = {
    id: crypto.randomUUID(), document: { id: envelope.id, sender: me }, responder: null, code: '02',
    reason: 'unknown_recipient', refused: { sha256: sha256Hex(body), kind: 'document' },
    timestamp: new Date().toISOString(),
  };
  const byHub = await signJson(refusal, hub, TYP.receipt);
  const taken = await accept(byHub, await stamp(byHub, 'status', refusal.id, { to: [me] }));
  assert(taken.signer.id === null && taken.payload.reason === 'unknown_recipient', 'hub refusal');
  const byAgency = await signJson(refusal, g12, TYP.receipt);
  await refused('sender_mismatch', accept(byAgency, await stamp(byAgency, 'status', refusal.id, { to: [me] })));
});

await check('acked_ids_survive_a_restart', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'dochub-node-'));
  try {
    const path = join(folder, 'acked');
    new AckedIds(path).add('document', envelope.id); // upper case, as sent
    const again = new AckedIds(path);
    assert(again.has('document', envelope.id.toLowerCase()), 'the id is not remembered, in any case');
    assert(!again.has('receipt', envelope.id), 'documents and receipts share ids');
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

if (options['verify-vector']) {
  await check('verifies_the_other_implementations_jws', async () => {
    const vector = JSON.parse(readFileSync(options['verify-vector'], 'utf8'));
    const other = { text: vector.public_key };
    const theirs = await Directory.fromToml(directoryToml(hub, { '000.00.00.G01': other }));
    const entry = theirs.agency('000.00.00.G01');
    assert(entry.kid === vector.kid, `Node's thumbprint ${entry.kid} is not theirs ${vector.kid}`);
    assert(entry.kid === thumbprintByHand(entry.raw), 'thumbprint by hand');
    const verified = await verifyFlattened(Buffer.from(vector.body, 'utf8'), theirs, vector.typ);
    assert(verified.header.kid === vector.kid, `kid in the header is ${verified.header.kid}`);
    assert(verified.signer === entry, 'signer');
    assert(verified.payloadBytes.equals(Buffer.from(vector.payload, 'utf8')), 'payload bytes differ');
    await refused('bad_signature', verifyFlattened(
      edited(Buffer.from(vector.body), (j) => { j.payload = b64url(Buffer.from(`${vector.payload} `)); }),
      theirs, vector.typ,
    ));
    return { kid: entry.kid };
  });
}

if (options['emit-vector']) {
  await check('emits_a_vector', async () => {
    const payload = JSON.stringify(newReceipt(envelope, directory.organ('000.00.00.H29'), '03'));
    const signed = await signFlattened(Buffer.from(payload), h29, TYP.receipt);
    const [p, s] = [JSON.parse(signed).protected, JSON.parse(signed).signature];
    const input = Buffer.from(`${p}.${b64url(Buffer.from(payload))}`, 'ascii');
    const publicKey = createPublicKey(h29.privateKey);
    assert(edVerify(null, input, publicKey, Buffer.from(s, 'base64url')), 'raw Ed25519 verify');
    const vector = { body: signed.toString('utf8'), public_key: h29.text, kid: h29.kid, typ: TYP.receipt, payload };
    writeFileSync(options['emit-vector'], JSON.stringify(vector));
    return { kid: h29.kid };
  });
}

const failed = results.filter((ok) => !ok).length;
process.stdout.write(`${results.length - failed} passed, ${failed} failed\n`);
process.exit(failed ? 1 : 0);
