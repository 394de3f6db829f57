import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { constants, gunzip, gzip } from 'node:zlib';
import type { IngestItem } from '../types.ts';
import type { LogRecord } from './event-log.ts';

/**
 * How one log record is a JetStream message: its body (JSON, gzipped when large) and its
 * de-duplication id. docs/scale-out.md § The event log on NATS JetStream.
 */

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/**
 * Bodies at least this long are gzipped. A record may carry up to ~500 KB of ingest and its JSON
 * grows past the request's (field names, nulls, the server's additions), while JetStream refuses
 * messages over the server's max_payload (1 MB by default); ingest JSON shrinks several-fold,
 * and below this size the CPU is not worth the bytes.
 */
export const GZIP_FROM = 32 * 1024;

/** The header that marks a gzipped body (absent: plain JSON). */
export const ENCODING_HEADER = 'Strata-Encoding';

/**
 * The record's id for JetStream's duplicate window: the record's identity (the project, the
 * partition, the items' messageIds and, for a record of refused items only, what was refused),
 * the append attempt's nonce (drawn once per `append` call) and the record's place in that call.
 * A message the client library sends again within one attempt is kept once; a new attempt — a
 * client's retry after a lost PubAck, or another request with the same content — is always a
 * new message with a position of its own, never answered with an earlier copy's (which may
 * already be applied, or never be: the answer would acknowledge what is not applied). A second
 * copy in the log is harmless: ingest drops items whose messageId is stored. 128 bits of
 * SHA-256: the server keeps every id of the window in memory, so shorter is cheaper, and a
 * collision stays out of reach.
 */
export function recordMsgId(r: LogRecord, attempt: string, index: number): string {
  const h = createHash('sha256');
  h.update(`${attempt}\0${index}\0${r.projectId}\0${r.partition}`);
  for (const item of r.items) h.update(`\0${item.messageId}`);
  h.update('\x01');
  for (const rej of r.rejections) h.update(`\0${rej.index}\0${rej.payload}`);
  return h.digest('base64url').slice(0, 22);
}

/** A nonce for one append attempt (`recordMsgId`). */
export function appendAttempt(): string {
  return randomBytes(12).toString('base64url');
}

/** An item's JSON, reusing the properties and context the size check already serialised. */
function itemJson(item: IngestItem): string {
  const { propertiesJson, contextJson, properties, context, ...rest } = item;
  const head = JSON.stringify(rest);
  return `${head.slice(0, -1)},"properties":${propertiesJson ?? JSON.stringify(properties)},"context":${contextJson ?? JSON.stringify(context)}}`;
}

/** The record's message body, and whether it is gzipped. */
export async function encodeRecord(r: LogRecord): Promise<{ body: Uint8Array; gzipped: boolean }> {
  const json = `{"projectId":${JSON.stringify(r.projectId)},"partition":${r.partition},"receivedAt":${r.receivedAt},${r.more ? `"more":${r.more},` : ''}${r.request !== undefined ? `"request":${JSON.stringify(r.request)},` : ''}${r.awaits?.length ? `"awaits":${JSON.stringify(r.awaits)},"links":${JSON.stringify(r.links ?? [])},` : ''}`
    + `"items":[${r.items.map(itemJson).join(',')}],"rejections":${JSON.stringify(r.rejections)}}`;
  const plain = Buffer.from(json, 'utf8');
  if (plain.length < GZIP_FROM) return { body: plain, gzipped: false };
  return { body: await gzipAsync(plain, { level: constants.Z_BEST_SPEED }), gzipped: true };
}

/** A message body back to its record; a body that is not one (written by something else) is an error naming where it is. */
export async function decodeRecord(body: Uint8Array, gzipped: boolean, where: string): Promise<LogRecord> {
  let parsed: unknown;
  try {
    const json = gzipped ? await gunzipAsync(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    parsed = JSON.parse(json.toString('utf8'));
  } catch (err) {
    throw new Error(`${where} is not a Strata log record: ${(err as Error).message}`, { cause: err });
  }
  const r = parsed as Partial<LogRecord> | null;
  if (r === null || typeof r !== 'object' || typeof r.projectId !== 'string' || typeof r.partition !== 'number'
    || typeof r.receivedAt !== 'number' || !Array.isArray(r.items) || !Array.isArray(r.rejections)
    || (r.more !== undefined && !(Number.isSafeInteger(r.more) && r.more >= 0)) || (r.request !== undefined && typeof r.request !== 'string')
    || (r.awaits !== undefined && !(Array.isArray(r.awaits) && r.awaits.every((p) => Number.isSafeInteger(p) && p >= 0)))
    || (r.links !== undefined && !(Array.isArray(r.links) && r.links.every((id) => typeof id === 'string')))) {
    throw new Error(`${where} is not a Strata log record (fields missing or of the wrong type)`);
  }
  return r as LogRecord;
}
