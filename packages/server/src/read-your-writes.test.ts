import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openTestSqlite } from '@strata/store/testing';
import { ADMIN, startTestApp, WRITE, type TestApp } from './test-app.ts';

const T0 = Date.UTC(2026, 0, 5, 12);

/** Reads wait for what was acknowledged before them: with the worker held back, a read sees an acknowledged event only once it is applied. */
describe('read your writes', () => {
  let t: TestApp;
  /** While set, the store's transactions (the worker's) wait for it to be released. */
  let gate: { open: Promise<void>; release(): void } | null = null;
  beforeEach(async () => {
    t = await startTestApp(await openTestSqlite(), T0, { config: { readWaitMs: 400 } });
    const transaction = t.ctx.store.transaction.bind(t.ctx.store);
    t.ctx.store.transaction = (async (fn: never) => {
      while (gate) await gate.open;
      return transaction(fn);
    }) as typeof t.ctx.store.transaction;
  });
  afterEach(async () => {
    gate?.release();
    await t.close();
  });

  const hold = () => {
    let release!: () => void;
    const open = new Promise<void>((r) => { release = r; });
    gate = { open, release: () => { gate = null; release(); } };
    return gate;
  };
  /** An ingest that does not wait for its apply (the test app's `send` does). */
  const track = async (userId: string, event = 'signup') => {
    const r = await t.app.inject({ method: 'POST', url: '/v1/track', headers: { 'x-write-key': WRITE }, payload: { userId, event } });
    expect(r.statusCode).toBe(200);
    expect(r.headers['strata-position']).toBe(String(r.json().position));
    return r.json().position as number;
  };
  const get = (url: string, headers: Record<string, string> = {}) => t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${ADMIN}`, ...headers } });

  it('holds a read until the events acknowledged before it are applied, then answers with the position it saw', async () => {
    const g = hold();
    const position = await track('rw-1');
    const read = get('/api/users/rw-1');
    let answered = false;
    void read.then(() => { answered = true; });
    await new Promise((r) => setTimeout(r, 100));
    expect(answered).toBe(false);
    g.release();
    const r = await read;
    expect(r.statusCode).toBe(200);
    expect(r.json().userId).toBe('rw-1');
    expect(Number(r.headers['strata-position'])).toBeGreaterThanOrEqual(position);
  });

  it('answers 503 NOT_YET_APPLIED with Retry-After when the events are not applied within the bound, never a view without them', async () => {
    const g = hold();
    const position = await track('rw-2');
    const r = await get('/api/users/rw-2');
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('1');
    expect(r.json().error).toMatchObject({ code: 'NOT_YET_APPLIED', message: expect.stringContaining(`up to log position ${position} are not applied yet`) });
    g.release();
    expect((await get('/api/users/rw-2')).statusCode).toBe(200);
  });

  it('waits on /v1/targeting too, and for the position a Strata-Position header names', async () => {
    const g = hold();
    const position = await track('rw-3');
    const pending = t.app.inject({ method: 'GET', url: '/v1/targeting?userId=rw-3', headers: { 'x-write-key': WRITE, 'strata-position': String(position) } });
    await new Promise((r) => setTimeout(r, 50));
    g.release();
    const r = await pending;
    expect(r.statusCode).toBe(200);
    expect(Number(r.headers['strata-position'])).toBeGreaterThanOrEqual(position);
  });

  it('refuses a Strata-Position that is not a position this Strata acknowledged, with 400 naming the header', async () => {
    const position = await track('rw-4');
    for (const bad of ['abc', '-1', '1.5', '', '99999999999999999999']) {
      const r = await get('/api/users/rw-4', { 'strata-position': bad });
      expect([bad, r.statusCode, r.json().error.code]).toEqual([bad, 400, 'VALIDATION_FAILED']);
      expect(r.json().error.issues).toEqual([{ path: '/headers/strata-position', message: expect.stringContaining('must be a log position') }]);
    }
    const ahead = await get('/api/users/rw-4', { 'strata-position': String(position + 10) });
    expect(ahead.statusCode).toBe(400);
    expect(ahead.json().error.message).toBe(`the Strata-Position header names position ${position + 10}, but no request has been acknowledged past ${position}`);
    expect((await get('/api/users/rw-4', { 'strata-position': String(position) })).statusCode).toBe(200);
  });

  it('lets browsers send and read the header (CORS)', async () => {
    const r = await t.app.inject({ method: 'OPTIONS', url: '/v1/targeting', headers: { origin: 'https://shop.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'strata-position' } });
    expect(r.statusCode).toBe(204);
    expect(String(r.headers['access-control-allow-headers']).toLowerCase()).toContain('strata-position');
    const ingest = await t.app.inject({ method: 'POST', url: '/v1/track', headers: { 'x-write-key': WRITE, origin: 'https://shop.example' }, payload: { userId: 'rw-5', event: 'x' } });
    expect(String(ingest.headers['access-control-expose-headers']).toLowerCase()).toContain('strata-position');
  });
});
