// The pure parts of the DocHub wire contract 2.0 (docs/contract.md), written from that page alone:
// keys and key ids (section 2), the agency directory (section 7), signing and verifying bodies
// (section 2), the hub's routing stamp and what an agency accepts (section 6), and builders of
// the envelope (section 4) and the status receipt (section 5). Nothing here touches the broker.

import { createHash, createPrivateKey, createPublicKey, randomUUID } from 'node:crypto';
import * as jose from 'jose';
import { parse as parseToml } from 'smol-toml';

export const SCHEMA_VERSION = '2.0';

/** The three `typ` values of section 2 and section 6. */
export const TYP = Object.freeze({
  document: 'dochub-document+json',
  receipt: 'dochub-receipt+json',
  stamp: 'dochub-stamp+json',
});

/** The national agency id format. */
export const AGENCY_ID = /^[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}$/;

/** The broker refuses bodies larger than this (section 3). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Something that does not meet the contract; `reason` is a short machine-readable word. */
export class ContractError extends Error {
  constructor(reason, detail) {
    super(`${reason}: ${detail}`);
    this.name = 'ContractError';
    this.reason = reason;
  }
}

const fail = (reason, detail) => {
  throw new ContractError(reason, detail);
};

// ---------------------------------------------------------------------------------------------
// Encodings

const B64URL = /^[A-Za-z0-9_-]*$/;
const B64_RAW_KEY = /^[A-Za-z0-9+/]{43}=$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** base64url without padding (RFC 4648 section 5, RFC 7515 section 2). */
export const b64url = (bytes) => Buffer.from(bytes).toString('base64url');

/** Strict base64url decoding: the URL-safe alphabet only, no padding. */
export function b64urlDecode(text, what) {
  if (typeof text !== 'string' || !B64URL.test(text) || text.length % 4 === 1) {
    fail('schema_invalid', `${what} is not base64url without padding`);
  }
  return Buffer.from(text, 'base64url');
}

export const sha256Hex = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** UTF-8 JSON bytes to a plain object, or a ContractError. */
export function parseJsonObject(bytes, what) {
  let value;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch (error) {
    fail('malformed', `${what} is not UTF-8 JSON (${error.message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail('schema_invalid', `${what} is not a JSON object`);
  }
  return value;
}

/** UUIDs may come in either case (section 4): compare them case-insensitively. */
export const sameId = (a, b) =>
  typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();

// ---------------------------------------------------------------------------------------------
// Keys and key ids

/** RFC 7638 thumbprint of an Ed25519 public key given as its 32 raw bytes: the `kid`. */
export function thumbprint(raw) {
  return jose.calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: b64url(raw) }, 'sha256');
}

/** The same thumbprint computed by hand, exactly as section 2 words it (for the self-check). */
export function thumbprintByHand(raw) {
  const members = `{"crv":"Ed25519","kty":"OKP","x":"${b64url(raw)}"}`;
  return b64url(createHash('sha256').update(members, 'ascii').digest());
}

/** A directory's public key text (standard base64 with padding of 32 raw bytes) to the bytes. */
export function rawKeyFromText(text, what) {
  if (typeof text !== 'string' || !B64_RAW_KEY.test(text)) {
    fail('directory', `${what}: public_key is not standard base64 of 32 bytes`);
  }
  return Buffer.from(text, 'base64');
}

/** A key holder of the directory, ready to verify: `id` is null for the hub. */
async function party(id, name, kind, publicKeyText, what) {
  const raw = rawKeyFromText(publicKeyText, what);
  const key = await jose.importJWK({ kty: 'OKP', crv: 'Ed25519', x: b64url(raw) }, 'EdDSA');
  return Object.freeze({ id, name, kind, raw, kid: await thumbprint(raw), key });
}

/** An agency's own signing key, from a PKCS#8 PEM file's text. */
export async function loadPrivateKey(pem) {
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    fail('key', `the private key is ${privateKey.asymmetricKeyType}, not Ed25519`);
  }
  const raw = Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x, 'base64url');
  return Object.freeze({ privateKey, raw, kid: await thumbprint(raw) });
}

// ---------------------------------------------------------------------------------------------
// The agency directory (section 7)

export class Directory {
  constructor(hub, agencies) {
    this.hub = hub;
    this.agencies = new Map(agencies.map((entry) => [entry.id, entry]));
    this.byKid = new Map([[hub.kid, hub], ...agencies.map((entry) => [entry.kid, entry])]);
  }

  /** Parse the directory's TOML text. */
  static async fromToml(text) {
    let data;
    try {
      data = parseToml(text);
    } catch (error) {
      fail('directory', `not TOML: ${error.message}`);
    }
    if (data.schema_version !== SCHEMA_VERSION) {
      fail('directory', `schema_version is ${JSON.stringify(data.schema_version)}, not "2.0"`);
    }
    if (!data.hub || typeof data.hub !== 'object') fail('directory', 'no [hub] table');
    const hub = await party(null, data.hub.name ?? 'DocHub', 'hub', data.hub.public_key, '[hub]');
    const agencies = [];
    for (const entry of data.agencies ?? []) {
      if (!AGENCY_ID.test(entry.id ?? '')) fail('directory', `bad agency id ${entry.id}`);
      agencies.push(await party(entry.id, entry.name, entry.kind, entry.public_key, entry.id));
    }
    return new Directory(hub, agencies);
  }

  agency(id) {
    const entry = this.agencies.get(id);
    if (!entry) fail('directory', `${id} is not in the directory`);
    return entry;
  }

  /** The organ (`{id, name}`) of a registered agency. */
  organ(id) {
    return { id, name: this.agency(id).name };
  }
}

// ---------------------------------------------------------------------------------------------
// Signing and verifying message bodies (section 2)

/**
 * Sign payload bytes as a flattened JWS and return the message body: exactly the three members
 * `protected`, `payload`, `signature`.
 */
export async function signFlattened(payloadBytes, signer, typ) {
  const jws = await new jose.FlattenedSign(payloadBytes)
    .setProtectedHeader({ alg: 'EdDSA', kid: signer.kid, typ })
    .sign(signer.privateKey);
  const body = { protected: jws.protected, payload: jws.payload, signature: jws.signature };
  return Buffer.from(JSON.stringify(body), 'utf8');
}

/** Sign a JSON value (written with JSON.stringify, kept as those bytes). */
export function signJson(value, signer, typ) {
  return signFlattened(Buffer.from(JSON.stringify(value), 'utf8'), signer, typ);
}

/** `typ` compares case-insensitively, with an optional `application/` prefix (RFC 7515 4.1.9). */
export function typMatches(typ, expected) {
  if (typeof typ !== 'string') return false;
  const lower = typ.toLowerCase();
  return (lower.startsWith('application/') ? lower.slice('application/'.length) : lower) === expected;
}

/** Check a decoded protected header: `alg`, no `crit`, `typ`, a `kid`. */
function checkHeader(header, typ) {
  if (header.alg !== 'EdDSA') fail('schema_invalid', `alg is ${JSON.stringify(header.alg)}`);
  if ('crit' in header) fail('schema_invalid', 'the header has crit');
  if (!typMatches(header.typ, typ)) fail('schema_invalid', `typ ${header.typ} is not ${typ}`);
  if (typeof header.kid !== 'string' || header.kid === '') fail('schema_invalid', 'no kid');
}

/**
 * Verify a message body as section 2 says, in its order: parse it, check the three members,
 * decode and check the header, find the key by `kid` in the directory, verify the signature over
 * the strings as received, and only then parse the payload. Returns the payload (parsed), its
 * bytes, the header and the directory entry of the signer (the hub's entry has `id` null).
 * Whether the signer is the agency the payload names is the caller's check (signedBy below).
 */
export async function verifyFlattened(body, directory, typ) {
  const jws = parseJsonObject(body, 'the body');
  const members = Object.keys(jws).sort().join(',');
  if (members !== 'payload,protected,signature') {
    fail('schema_invalid', `the body's members are ${members}, not protected, payload, signature`);
  }
  if (typeof jws.signature !== 'string' || jws.signature === '') fail('unsigned', 'no signature');
  const header = parseJsonObject(b64urlDecode(jws.protected, 'protected'), 'the protected header');
  checkHeader(header, typ);
  const payloadBytes = b64urlDecode(jws.payload, 'payload');
  if (b64urlDecode(jws.signature, 'signature').length !== 64) {
    fail('schema_invalid', 'the signature is not 64 bytes');
  }
  const signer = directory.byKid.get(header.kid);
  if (!signer) fail('unknown_key', `no key in the directory has kid ${header.kid}`);
  try {
    await jose.flattenedVerify(jws, signer.key, { algorithms: ['EdDSA'] });
  } catch (error) {
    fail('bad_signature', `the signature does not verify with ${signer.id ?? 'the hub'}'s key`);
  }
  return { payload: parseJsonObject(payloadBytes, 'the payload'), payloadBytes, header, signer };
}

/** Verify a compact JWS (the hub's stamp, section 6) with one key; return its parsed payload. */
export async function verifyCompact(text, signer, typ) {
  if (typeof text !== 'string' || text.split('.').length !== 3) {
    fail('bad_stamp', 'the stamp is not a compact JWS');
  }
  const [protectedText] = text.split('.');
  const header = parseJsonObject(b64urlDecode(protectedText, 'stamp header'), 'the stamp header');
  checkHeader(header, typ);
  if (header.kid !== signer.kid) fail('bad_stamp', `the stamp's kid ${header.kid} is not the hub's`);
  let verified;
  try {
    verified = await jose.compactVerify(text, signer.key, { algorithms: ['EdDSA'] });
  } catch (error) {
    fail('bad_stamp', `the stamp does not verify with the hub's key (${error.message})`);
  }
  return parseJsonObject(verified.payload, 'the stamp payload');
}

/** Whether `signer` is the agency that signs `payload`: the sender of a document, the responder
 * of a receipt, or the hub for a receipt whose responder is null (its refusals, section 5). */
export function checkSignedBy(kind, payload, signer) {
  if (kind === 'document') {
    if (signer.id === null || payload.sender?.id !== signer.id) {
      fail('sender_mismatch', `signed by ${signer.id ?? 'the hub'}, sender ${payload.sender?.id}`);
    }
  } else if (payload.responder == null) {
    if (signer.id !== null) fail('sender_mismatch', `a hub refusal signed by ${signer.id}`);
  } else if (signer.id === null || payload.responder.id !== signer.id) {
    fail('sender_mismatch', `signed by ${signer.id ?? 'the hub'}, responder ${payload.responder.id}`);
  }
}

// ---------------------------------------------------------------------------------------------
// What an agency accepts from its queues (section 6)

/**
 * Check a message taken from one of `me`'s queues: `kind` is "document" for the inbox and
 * "status" for the status queue. Returns `{payload, signer, stamp, sha256}` or throws a
 * ContractError saying why the message must be rejected.
 */
export async function acceptIncoming({ body, stampHeader, directory, me, kind }) {
  const stampText = Buffer.isBuffer(stampHeader) ? stampHeader.toString('utf8') : stampHeader;
  if (typeof stampText !== 'string') fail('bad_stamp', 'no x-dochub-stamp header');
  const stamp = await verifyCompact(stampText, directory.hub, TYP.stamp);
  const sha256 = sha256Hex(body);
  if (stamp.kind !== kind) fail('bad_stamp', `stamp kind ${stamp.kind} in a ${kind} queue`);
  if (typeof stamp.sha256 !== 'string' || stamp.sha256.toLowerCase() !== sha256) {
    fail('bad_stamp', "the stamp's sha256 is not the body's");
  }
  if (!Array.isArray(stamp.to) || !stamp.to.includes(me)) fail('bad_stamp', `not stamped to ${me}`);

  const typ = kind === 'document' ? TYP.document : TYP.receipt;
  const { payload, signer } = await verifyFlattened(body, directory, typ);
  checkSignedBy(kind, payload, signer);
  if (!sameId(stamp.id, payload.id)) fail('bad_stamp', `stamp id ${stamp.id} is not ${payload.id}`);
  if ((payload.schema_version ?? SCHEMA_VERSION) !== SCHEMA_VERSION) {
    fail('unsupported_version', `schema_version ${payload.schema_version}`);
  }
  if (kind === 'document') {
    if (!Array.isArray(payload.recipients) || !payload.recipients.some((r) => r?.id === me)) {
      fail('not_for_me', `${me} is not among the recipients`);
    }
  } else if (payload.document != null || signer.id !== null) {
    // A hub refusal may carry `document: null` when it could not read one (section 5).
    if (payload.document?.sender !== me) fail('not_for_me', 'a receipt about another sender');
  }
  return { payload, signer, stamp, sha256 };
}

// ---------------------------------------------------------------------------------------------
// Builders. They leave every optional member out on purpose: the contract says nothing left out
// is filled in on the sender's behalf. Timestamps are JavaScript's toISOString() (milliseconds,
// `Z`), ids upper-case UUIDs: both forms the contract allows.

const today = () => new Date().toISOString().slice(0, 10);

/** A new document from `sender` (an organ) to `recipients` (organs). */
export function newEnvelope(sender, recipients, subject) {
  return {
    id: randomUUID().toUpperCase(),
    sender,
    recipients,
    code: { number: '42', notation: 'CV-NODE' },
    document_type: 'cong_van',
    subject,
    promulgation: { place: 'Hà Nội', date: today() },
    signer: { full_name: 'Nguyễn Văn Node' },
    sent_at: new Date().toISOString(),
  };
}

/** A receipt by `responder` (an organ) about `envelope`, with a status code such as "01". */
export function newReceipt(envelope, responder, code) {
  return {
    id: randomUUID().toUpperCase(),
    document: { id: envelope.id, sender: envelope.sender.id },
    responder,
    code,
    timestamp: new Date().toISOString(),
  };
}
