// An agency on the broker, as docs/contract.md section 3 and section 6 describe it: publish
// signed documents and receipts to `<ns>.ingress` with the agency's user_id, persistent,
// mandatory and confirmed; consume the inbox and the status queue with manual acks, accepting
// only what the hub stamped and the sender signed, and dropping what was already acked.

import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import amqp from 'amqplib';
import {
  ContractError,
  MAX_BODY_BYTES,
  TYP,
  acceptIncoming,
  sha256Hex,
  signJson,
} from './contract.js';

const CONTENT_TYPE = 'application/jose+json';

/** What a document or receipt publish needs (section 3, "Publishing"). */
const PUBLISH = Object.freeze({
  document: { routingKey: 'document', type: 'dochub.envelope', typ: TYP.document },
  status: { routingKey: 'status', type: 'dochub.status', typ: TYP.receipt },
});

/** The broker names of a namespace (section 3). */
export function brokerNames(namespace, agencyId) {
  return {
    ingress: `${namespace}.ingress`,
    inbox: `${namespace}.inbox.${agencyId}`,
    status: `${namespace}.status.${agencyId}`,
  };
}

/** The user name of an AMQP URL, decoded: the default `user_id`. */
export function urlUser(url) {
  return decodeURIComponent(new URL(url).username || 'guest');
}

/**
 * The ids an agency has acked, so that a redelivery is dropped (section 6, "Dedupe"). With a
 * path, the record is a file of one `kind id` a line, appended before the ack, so that it
 * survives a restart; without one it lives in memory.
 */
export class AckedIds {
  constructor(path = null) {
    this.path = path;
    this.seen = new Set();
    if (path && existsSync(path)) {
      for (const line of readFileSync(path, 'utf8').split('\n')) if (line) this.seen.add(line);
    }
  }

  static key(kind, id) {
    return `${kind} ${String(id).toLowerCase()}`;
  }

  has(kind, id) {
    return this.seen.has(AckedIds.key(kind, id));
  }

  add(kind, id) {
    const key = AckedIds.key(kind, id);
    if (this.seen.has(key)) return;
    if (this.path) appendFileSync(this.path, `${key}\n`, { flush: true });
    this.seen.add(key);
  }
}

export class PublishError extends Error {}

export class Agency {
  /**
   * @param {object} options
   * @param {string} options.url the AMQP URL with this agency's broker credentials
   * @param {string} options.namespace the hub's namespace
   * @param {import('./contract.js').Directory} options.directory
   * @param {string} options.agencyId this agency's id
   * @param {{privateKey, kid}} options.signer this agency's key (loadPrivateKey)
   * @param {string} [options.userId] the AMQP user_id; the URL's user name by default
   * @param {AckedIds} [options.acked]
   * @param {(event: object) => void} [options.log]
   */
  constructor({ url, namespace, directory, agencyId, signer, userId, acked, log }) {
    this.url = url;
    this.names = brokerNames(namespace, agencyId);
    this.directory = directory;
    this.agencyId = agencyId;
    this.organ = directory.organ(agencyId);
    this.signer = signer;
    this.userId = userId ?? urlUser(url);
    this.acked = acked ?? new AckedIds();
    this.log = log ?? (() => {});
    this.returned = new Set();
    if (directory.agency(agencyId).kid !== signer.kid) {
      throw new ContractError('key', `the key is not the one the directory lists for ${agencyId}`);
    }
  }

  async connect() {
    this.connection = await amqp.connect(this.url, {
      clientProperties: { connection_name: `node agency ${this.agencyId}` },
    });
    this.connection.on('error', (error) => this.log({ event: 'connection_error', error: `${error}` }));
    this.publisher = await this.connection.createConfirmChannel();
    // The broker closes the channel on a refused publish, e.g. a user_id that is not ours (406).
    this.publisher.on('error', (error) => {
      this.publisherError = error;
      this.log({ event: 'publisher_channel_error', error: `${error.message}` });
    });
    // A basic.return comes before the confirm of the same publish (mandatory, section 3).
    this.publisher.on('return', (message) => this.returned.add(message.properties.messageId));
    this.consumer = await this.connection.createChannel();
    this.consumer.on('error', (error) => this.log({ event: 'consumer_channel_error', error: `${error.message}` }));
    await this.consumer.prefetch(16);
  }

  /** Wait until the hub has declared the ingress and this agency's queues (passive declares). */
  async waitForTopology(deadline) {
    for (;;) {
      const probe = await this.connection.createChannel();
      probe.on('error', () => {}); // a failed passive declare closes the probe channel
      try {
        await probe.checkExchange(this.names.ingress);
        await probe.checkQueue(this.names.inbox);
        await probe.checkQueue(this.names.status);
        await probe.close();
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`no hub topology: ${error.message}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  /** Publish a body to the ingress and wait for the broker's confirm. */
  async publish(kind, body, id) {
    const { routingKey, type } = PUBLISH[kind];
    if (body.length > MAX_BODY_BYTES) throw new PublishError(`${body.length} bytes is over 4 MiB`);
    await new Promise((resolve, reject) => {
      this.publisher.publish(
        this.names.ingress,
        routingKey,
        body,
        {
          persistent: true,
          mandatory: true,
          contentType: CONTENT_TYPE,
          messageId: id,
          type,
          userId: this.userId,
        },
        (error) => {
          if (!error) resolve();
          else if (error.message === 'message nacked') reject(new PublishError("nacked: the hub's ingress is full"));
          else reject(new PublishError(`not confirmed: ${this.publisherError?.message ?? error.message}`));
        },
      );
    });
    if (this.returned.delete(id)) throw new PublishError(`returned: no hub on this namespace`);
    return { id, body, sha256: sha256Hex(body) };
  }

  /** Sign and send a document (an envelope object); resolves once the broker confirmed it. */
  async sendDocument(envelope) {
    return this.publish('document', await signJson(envelope, this.signer, TYP.document), envelope.id);
  }

  /** Sign and send a status receipt (a receipt object). */
  async sendReceipt(receipt) {
    return this.publish('status', await signJson(receipt, this.signer, TYP.receipt), receipt.id);
  }

  /**
   * Consume the inbox (`kind` "document") or the status queue (`kind` "status"). `handle` gets
   * each accepted message `{payload, signer, stamp, sha256, body, properties, redelivered}` and should store
   * it; once it resolves the message is acked and its id recorded. A message that fails
   * verification is rejected without requeue (to the dead-letter queue); a duplicate is acked
   * and dropped.
   */
  async consume(kind, handle) {
    const queue = kind === 'document' ? this.names.inbox : this.names.status;
    const ackedKind = kind === 'document' ? 'document' : 'receipt';
    await this.consumer.consume(
      queue,
      async (message) => {
        if (message === null) return this.log({ event: 'consumer_cancelled', queue });
        let accepted;
        try {
          accepted = await acceptIncoming({
            body: message.content,
            stampHeader: message.properties.headers?.['x-dochub-stamp'],
            directory: this.directory,
            me: this.agencyId,
            kind,
          });
        } catch (error) {
          this.consumer.nack(message, false, false);
          this.log({ event: 'rejected', queue, reason: error.reason ?? 'error', detail: error.message });
          return;
        }
        const id = accepted.payload.id;
        if (this.acked.has(ackedKind, id)) {
          this.consumer.ack(message);
          this.log({ event: 'duplicate_dropped', queue, id });
          return;
        }
        try {
          const { messageId, type, contentType } = message.properties;
          const properties = { messageId, type, contentType };
          await handle({ ...accepted, body: message.content, properties, redelivered: message.fields.redelivered });
        } catch (error) {
          // Not stored: put it back (the queue's delivery limit bounds the retries).
          this.consumer.nack(message, false, true);
          this.log({ event: 'handler_failed', queue, id, detail: `${error}` });
          return;
        }
        this.acked.add(ackedKind, id);
        this.consumer.ack(message);
      },
      { noAck: false },
    );
  }

  async close() {
    try {
      await this.connection?.close();
    } catch {
      // already closed
    }
  }
}
