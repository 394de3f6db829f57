import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PointsStore } from '@strata/store';
import { testBackends } from '@strata/store/testing';
import { DEFAULT_PROJECT, startTestApp, type TestApp } from './test-app.ts';

const backends = await testBackends();
const T0 = Date.UTC(2024, 5, 15, 12);

describe.each(backends.map((b) => [b.name, b] as const))('points on %s', (_n, backend) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp(await backend.open(), T0);
    expect((await t.send('/v1/batch', { batch: [{ type: 'identify', userId: 'u1' }, { type: 'track', anonymousId: 'a1', event: 'visit' }] })).status).toBe(200);
  });
  afterEach(async () => t.close());

  it('keeps a ledger and a balance, refuses to go below zero, and a ref makes a change idempotent', async () => {
    expect((await t.admin('GET', '/api/users/u1/points')).body).toEqual({ balance: 0, entries: [], nextCursor: null });
    const add = await t.admin('POST', '/api/users/u1/points', { amount: 100, reason: 'welcome', kind: 'earn', ref: 'welcome-u1' });
    expect(add.body).toMatchObject({ balance: 100, duplicate: false, entry: { kind: 'earn', amount: 100, balance: 100, reason: 'welcome', ref: expect.stringMatching(/^admin:\d+:welcome-u1$/) } });
    const again = await t.admin('POST', '/api/users/u1/points', { amount: 100, reason: 'welcome', kind: 'earn', ref: 'welcome-u1' });
    expect(again.body).toMatchObject({ balance: 100, duplicate: true });
    // A ref is the caller's key per user: the same ref for another user is another change.
    const other = await t.admin('POST', '/api/users/a1/points', { amount: 5, reason: 'welcome', kind: 'earn', ref: 'welcome-u1' });
    expect(other.body).toMatchObject({ balance: 5, duplicate: false });
    const over = await t.admin('POST', '/api/users/u1/points', { amount: -101, reason: 'too much' });
    expect(over.status).toBe(409);
    expect(over.body.error).toMatchObject({ code: 'INSUFFICIENT_POINTS', message: 'the balance is 100 points; 101 are needed' });
    expect((await t.admin('POST', '/api/users/u1/points', { amount: -30, reason: 'expired', kind: 'expire' })).body.balance).toBe(70);
    const page = await t.admin('GET', '/api/users/u1/points?limit=1');
    expect(page.body).toMatchObject({ balance: 70, entries: [{ kind: 'expire', amount: -30, balance: 70 }] });
    const rest = await t.admin('GET', `/api/users/u1/points?limit=5&cursor=${page.body.nextCursor}`);
    expect(rest.body.entries.map((e: { amount: number }) => e.amount)).toEqual([100]);
  });

  it('answers bad input with the field at fault', async () => {
    expect((await t.admin('POST', '/api/users/u1/points', { amount: 0, reason: 'x' })).body.error.issues).toEqual([{ path: '/amount', message: 'must not be 0' }]);
    expect((await t.admin('POST', '/api/users/u1/points', { amount: -5, reason: 'x', kind: 'earn' })).body.error.issues[0].path).toBe('/amount');
    expect((await t.admin('POST', '/api/users/u1/points', { amount: 1.5, reason: 'x' })).status).toBe(400);
    expect((await t.admin('POST', '/api/users/u1/points', { amount: 5 })).body.error.issues[0].path).toBe('/reason');
    expect((await t.admin('POST', '/api/users/nobody/points', { amount: 5, reason: 'x' })).status).toBe(404);
    // A write key cannot reach the points routes.
    const r = await t.app.inject({ method: 'POST', url: '/api/users/u1/points', headers: { 'x-write-key': 'stw_test_write_key' }, payload: { amount: 5, reason: 'x' } });
    expect(r.statusCode).toBe(401);
  });

  it('never goes negative under concurrent spends', async () => {
    await t.admin('POST', '/api/users/u1/points', { amount: 100, reason: 'start', kind: 'earn' });
    const spends = await Promise.all(Array.from({ length: 30 }, (_, i) => t.admin('POST', '/api/users/u1/points', { amount: -10, reason: `spend ${i}` })));
    expect(spends.filter((s) => s.status === 200)).toHaveLength(10);
    expect(spends.filter((s) => s.status === 409)).toHaveLength(20);
    expect((await t.admin('GET', '/api/users/u1/points')).body.balance).toBe(0);
  });

  it('the store refuses a change below zero by itself (the conditional update), and points follow a merge', async () => {
    const store = t.ctx.store;
    const u1 = (await store.findProfile(DEFAULT_PROJECT, 'u1'))!.id;
    const a1 = (await store.findProfile(DEFAULT_PROJECT, 'a1'))!.id;
    const points = new PointsStore(store);
    expect(await points.apply(DEFAULT_PROJECT, u1, { kind: 'spend', amount: -1, reason: 'x', at: T0 })).toEqual({ ok: false, reason: 'insufficient', balance: 0 });
    await points.apply(DEFAULT_PROJECT, u1, { kind: 'earn', amount: 5, reason: 'x', at: T0 });
    await points.apply(DEFAULT_PROJECT, a1, { kind: 'earn', amount: 7, reason: 'y', at: T0 });
    // a1 becomes u1: the anonymous profile's points move over.
    expect((await t.send('/v1/identify', { userId: 'u1', anonymousId: 'a1' })).status).toBe(200);
    expect((await t.admin('GET', '/api/users/u1/points')).body.balance).toBe(12);
    const entries = (await t.admin('GET', '/api/users/u1/points')).body.entries;
    // The two entries moved with their own balances, and an entry of 0 records the merge with the new total.
    expect(entries.map((e: { kind: string; amount: number; balance: number }) => [e.kind, e.amount, e.balance])).toEqual([['adjust', 0, 12], ['earn', 7, 7], ['earn', 5, 5]]);
  });
});
