import { describe, expect, it } from 'vitest';
import { AppError, type Json } from '@strata/core';
import type { Project } from '@strata/store';
import { MAX_BATCH_ITEMS } from './normalize.ts';
import { ingestAnswer, prepareIngest, type IngestCall, type KnownUser } from './prepare-ingest.ts';

const AT = Date.UTC(2024, 5, 15, 12);
const project = (verify: boolean): Project => ({
  id: 'p1', name: 'test', createdAt: 0,
  settings: verify ? { identityVerification: { enabled: true, secret: 'x'.repeat(64) } } : {},
});
const call = (type: IngestCall['type'], body: unknown, verify = false): IngestCall =>
  ({ project: project(verify), type, body: body as Json, receivedAt: AT, geo: { requestIp: null, storeIp: false } });
/** Known users are "known-*"; every lookup is recorded. */
const lookups: string[] = [];
const knownUser: KnownUser = async (_projectId, id) => {
  lookups.push(id);
  return id.startsWith('known-');
};
const fault = async (p: Promise<unknown>): Promise<AppError> => {
  try {
    await p;
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected an AppError');
};

describe('prepareIngest', () => {
  it('normalises a single call into one item', async () => {
    const r = await prepareIngest(call('track', { userId: 'u1', event: 'Signed Up', timestamp: '2024-06-15T11:00:00Z' }), knownUser);
    expect(r.rejections).toEqual([]);
    expect(r.items).toHaveLength(1);
    expect(r.items[0]).toMatchObject({ type: 'track', name: 'Signed Up', userId: 'u1', timestamp: Date.UTC(2024, 5, 15, 11) });
  });

  it('refuses a single call that is not valid, naming the fault', async () => {
    const e = await fault(prepareIngest(call('track', { event: 'x' }), knownUser));
    expect(e.code).toBe('VALIDATION_FAILED');
    expect(e.message).toMatch(/^the track call is not valid: /);
    expect(e.issues.length).toBeGreaterThan(0);
  });

  it('refuses a single event over 32 KB as too large', async () => {
    const e = await fault(prepareIngest(call('track', { userId: 'u1', event: 'E', properties: { s: 'x'.repeat(33 * 1024) } }), knownUser));
    expect(e.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('keeps the valid messages of a batch and rejects the others with their index, reason and payload', async () => {
    const bad = { type: 'track', userId: 'u2' };
    const r = await prepareIngest(call(null, { batch: [{ type: 'track', userId: 'u1', event: 'A' }, bad, { type: 'identify', userId: 'u3' }] }), knownUser);
    expect(r.items.map((i) => i.userId)).toEqual(['u1', 'u3']);
    expect(r.rejections).toHaveLength(1);
    expect(r.rejections[0]).toMatchObject({ index: 1, payload: JSON.stringify(bad) });
    expect(r.rejections[0]!.message).toMatch(/event/);
    expect(ingestAnswer(r.rejections, 7)).toEqual({ success: true, position: 7, rejected: [{ index: 1, message: r.rejections[0]!.message }] });
  });

  it('refuses a batch none of whose messages is valid, with each fault under its /batch/<index> path', async () => {
    const e = await fault(prepareIngest(call(null, { batch: [{ type: 'track', userId: 'u1' }, { type: 'nope' }] }), knownUser));
    expect(e.code).toBe('VALIDATION_FAILED');
    expect(e.message).toBe('no message of the batch is valid; nothing was stored');
    expect(e.issues.map((i) => i.path.split('/').slice(0, 3).join('/'))).toEqual(expect.arrayContaining(['/batch/0', '/batch/1']));
  });

  it('refuses a body that is not {"batch": [...]}, and a batch over the item limit', async () => {
    expect((await fault(prepareIngest(call(null, { messages: [] }), knownUser))).issues).toEqual([{ path: '/batch', message: 'must be an array of messages' }]);
    const many = Array.from({ length: MAX_BATCH_ITEMS + 1 }, (_, i) => ({ type: 'track', userId: `u${i}`, event: 'E' }));
    expect((await fault(prepareIngest(call(null, { batch: many }), knownUser))).code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('with identity verification on, rejects a batch alias whose previousId is a known user and keeps the rest', async () => {
    lookups.length = 0;
    const batch = [
      { type: 'alias', userId: 'u9', previousId: 'known-1' },
      { type: 'track', userId: 'u9', event: 'E' },
      { type: 'alias', userId: 'u9', previousId: 'anon-7' },
    ];
    const r = await prepareIngest(call(null, { batch }, true), knownUser);
    expect(r.items.map((i) => i.type)).toEqual(['track', 'alias']);
    expect(r.rejections).toEqual([{ index: 0, message: expect.stringContaining('"known-1" is a known user'), payload: JSON.stringify(batch[0]) }]);
    expect(lookups.sort()).toEqual(['anon-7', 'known-1']);
  });

  it('with identity verification on, forbids a single alias call of a known user', async () => {
    const e = await fault(prepareIngest(call('alias', { userId: 'u9', previousId: 'known-1' }, true), knownUser));
    expect(e.code).toBe('FORBIDDEN');
    expect(e.issues).toEqual([{ path: '/previousId', message: 'is a known user' }]);
  });

  it('with identity verification off, lets an alias of a known user through without looking it up', async () => {
    lookups.length = 0;
    const r = await prepareIngest(call('alias', { userId: 'u9', previousId: 'known-1' }), knownUser);
    expect(r.items).toHaveLength(1);
    expect(lookups).toEqual([]);
  });

  it('answers a call without rejections with success only', () => {
    expect(ingestAnswer([], 3)).toEqual({ success: true, position: 3 });
  });
});
