import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { constants, gunzip, gzip } from 'node:zlib';
import type { LogRecord } from './event-log.ts';
import { encodeRecordBody, readRecordBody } from './record-codec.ts';

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

/** The record's message body, and whether it is gzipped. */
export async function encodeRecord(r: LogRecord): Promise<{ body: Uint8Array; gzipped: boolean }> {
  const json = encodeRecordBody(r, `"projectId":${JSON.stringify(r.projectId)},"partition":${r.partition},"receivedAt":${r.receivedAt},`);
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
  const fields = readRecordBody(parsed);
  if (fields === null || typeof r!.projectId !== 'string' || typeof r!.partition !== 'number' || typeof r!.receivedAt !== 'number') {
    throw new Error(`${where} is not a Strata log record (fields missing or of the wrong type)`);
  }
  return { projectId: r!.projectId, partition: r!.partition, receivedAt: r!.receivedAt, ...fields };
}
