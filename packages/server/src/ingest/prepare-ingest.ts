import { AppError, isPlainObject, limitText, type Issue, type Json } from '@strata/core';
import type { IngestItem, Project, Rejection } from '@strata/store';
import type { GeoOptions } from './geo.ts';
import { MAX_BATCH_ITEMS, MAX_EVENT_BYTES, normalizeMessage, type MessageType } from './normalize.ts';

/** One ingest call as the route received it, its write key already checked. */
export interface IngestCall {
  readonly project: Project;
  /** The call's message type; null for `/v1/batch`. */
  readonly type: MessageType | null;
  readonly body: Json;
  readonly receivedAt: number;
  readonly geo: GeoOptions;
}

/** What goes to the store: the valid messages, and the rejected items of a batch (ingestion warnings). */
export interface PreparedIngest {
  readonly items: IngestItem[];
  readonly rejections: Rejection[];
}

/** Whether an id names a known user (a userId) of the project. */
export type KnownUser = (projectId: string, id: string) => Promise<boolean>;

/**
 * Validates and normalises one ingest call. A single call that is not valid throws (400); a
 * batch keeps its valid messages and turns the others into rejections, and throws only when
 * none is valid, so nothing is stored and the client hears why.
 */
export async function prepareIngest(call: IngestCall, knownUser: KnownUser): Promise<PreparedIngest> {
  const { project, type, body, receivedAt, geo } = call;
  const items: IngestItem[] = [];
  /** The position in the batch of each item (0 for a single call). */
  const indexes: number[] = [];
  const issues: Issue[] = [];
  const rejections: Rejection[] = [];
  if (type !== null) {
    const raw = Buffer.byteLength(JSON.stringify(body ?? null));
    if (raw > MAX_EVENT_BYTES) throw new AppError({ code: 'PAYLOAD_TOO_LARGE', message: `the event is ${raw} bytes, over the ${limitText('MAX_EVENT_BYTES')} (32 KB)`, issues: [{ path: '/', message: `${raw} bytes, over the ${limitText('MAX_EVENT_BYTES')}` }] });
    const n = normalizeMessage(body, type, receivedAt, undefined, geo);
    if (!n.ok) throw new AppError({ code: 'VALIDATION_FAILED', message: `the ${type} call is not valid: ${n.issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, issues: n.issues });
    items.push(n.item);
    indexes.push(0);
  } else {
    if (!isPlainObject(body) || !Array.isArray(body.batch)) {
      throw new AppError({ code: 'VALIDATION_FAILED', message: 'a batch is {"batch": [message, ...]}', issues: [{ path: '/batch', message: 'must be an array of messages' }] });
    }
    if (body.batch.length > MAX_BATCH_ITEMS) {
      throw new AppError({ code: 'PAYLOAD_TOO_LARGE', message: `a batch holds at most ${MAX_BATCH_ITEMS} messages (${limitText('MAX_BATCH_ITEMS')}); this one has ${body.batch.length}`, issues: [{ path: '/batch', message: `more than ${MAX_BATCH_ITEMS} messages (${limitText('MAX_BATCH_ITEMS')})` }] });
    }
    body.batch.forEach((m, index) => {
      const n = normalizeMessage(m, null, receivedAt, body.sentAt, geo);
      if (n.ok) {
        items.push(n.item);
        indexes.push(index);
      } else {
        rejections.push({ index, message: n.issues.map((i) => `${i.path} ${i.message}`).join('; '), payload: JSON.stringify(m) ?? 'null' });
        for (const i of n.issues) issues.push({ path: `/batch/${index}${i.path === '/' ? '' : i.path}`, message: i.message });
      }
    });
  }
  // With identity verification on, a write key cannot prove who a user is: it may not merge
  // a known user into another (an alias of a userId would hand over their profile and points).
  if (project.settings.identityVerification?.enabled) {
    for (let i = items.length - 1; i >= 0; i--) {
      const item = items[i]!;
      if (item.type !== 'alias' || item.previousId === null || item.previousId === item.userId) continue;
      if (!(await knownUser(project.id, item.previousId))) continue;
      const message = `/previousId "${item.previousId}" is a known user: with identity verification on, merging known users needs the admin API`;
      if (type !== null) throw new AppError({ code: 'FORBIDDEN', message, issues: [{ path: '/previousId', message: 'is a known user' }] });
      rejections.push({ index: indexes[i]!, message, payload: JSON.stringify((body as { batch: Json[] }).batch[indexes[i]!]) ?? 'null' });
      issues.push({ path: `/batch/${indexes[i]!}/previousId`, message: 'is a known user' });
      items.splice(i, 1);
      indexes.splice(i, 1);
    }
  }
  if (type === null && items.length === 0 && rejections.length > 0) {
    throw new AppError({ code: 'VALIDATION_FAILED', message: 'no message of the batch is valid; nothing was stored', issues });
  }
  return { items, rejections };
}

/** The answer once the call is stored: the rejected items of a batch listed by index. */
export const ingestAnswer = (rejections: readonly Rejection[], position: number) =>
  rejections.length ? { success: true as const, position, rejected: rejections.map(({ index, message }) => ({ index, message })) } : { success: true as const, position };
