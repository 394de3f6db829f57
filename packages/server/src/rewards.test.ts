import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '@strata/core';
import { PointsStore, RewardStore } from '@strata/store';
import { testBackends } from '@strata/store/testing';
import { userHashOf } from './identity.ts';
import { DEFAULT_PROJECT, WRITE, startTestApp, type TestApp } from './test-app.ts';

const backends = await testBackends();
const T0 = Date.UTC(2024, 5, 15, 12);
const DAY = 86_400_000;
const P = DEFAULT_PROJECT;

describe.each(backends.map((b) => [b.name, b] as const))('rewards on %s', (name, backend) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp(await backend.open(), T0);
  });
  afterEach(async () => t.close());

  const identify = async (users: { userId: string; traits?: object; anonymousId?: string }[]) => {
    const r = await t.send('/v1/batch', { batch: users.map((u) => ({ type: 'identify', ...u })) });
    expect(r.status).toBe(200);
  };
  const grant = async (userId: string, amount: number) => {
    const r = await t.admin('POST', '/api/users/' + userId + '/points', { amount, reason: 'test', kind: 'earn' });
    expect(r.status).toBe(200);
  };
  const reward = async (body: object) => {
    const r = await t.admin('POST', '/api/rewards', { name: 'Coffee', type: 'digital', cost: 10, ...body });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body as { id: string; stock: number | null };
  };
  const redeem = (id: string, body: object, headers: Record<string, string> = {}) => t.send(`/v1/rewards/${id}/redeem`, body, headers);
  const balance = async (userId: string) => (await t.admin('GET', `/api/users/${userId}/points`)).body.balance as number;
  /** Every user's ledger adds up to the balance, and no balance is negative. */
  const ledgerConsistent = async () => {
    const db = t.ctx.store.db;
    const balances = await db.selectFrom('points_balances').selectAll().where('project_id', '=', P).execute();
    for (const b of balances) {
      expect(Number(b.balance)).toBeGreaterThanOrEqual(0);
      const entries = await db.selectFrom('points_ledger').select('amount').where('project_id', '=', P).where('profile_id', '=', b.profile_id).execute();
      expect(entries.reduce((s, e) => s + Number(e.amount), 0)).toBe(Number(b.balance));
    }
  };
  const vipSegment = async () => {
    const r = await t.admin('POST', '/api/segments', { name: 'VIP', condition: { attr: 'traits.plan', op: 'eq', value: 'vip' } });
    expect(r.status).toBe(201);
    return r.body.id as string;
  };

  it('creates, lists, changes and deletes rewards; bad input answers 400 with the field at fault', async () => {
    const seg = await vipSegment();
    const created = await t.admin('POST', '/api/rewards', {
      name: 'Free coffee', description: 'Any size', type: 'coupon', cost: 150, stock: 20, perUserLimit: 2, segmentIds: [seg],
      startsAt: '2024-06-01T00:00:00Z', endsAt: '2024-07-01T00:00:00.000Z',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'Free coffee', description: 'Any size', type: 'coupon', cost: 150, stock: 20, perUserLimit: 2, segmentIds: [seg], active: true,
      startsAt: '2024-06-01T00:00:00.000Z', endsAt: '2024-07-01T00:00:00.000Z', codes: { total: 0, available: 0 }, redemptions: 0,
    });
    const id = created.body.id as string;
    expect((await t.admin('GET', `/api/rewards/${id}`)).body).toEqual(created.body);
    const patched = await t.admin('PATCH', `/api/rewards/${id}`, { active: false, stock: null, endsAt: null });
    expect(patched.body).toMatchObject({ active: false, stock: null, endsAt: null, cost: 150, perUserLimit: 2 });
    expect((await t.admin('GET', '/api/rewards')).body.rewards.map((r: { id: string }) => r.id)).toEqual([id]);

    const bad = async (body: object, path: string, method: 'POST' | 'PATCH' = 'POST') => {
      const r = method === 'POST' ? await t.admin('POST', '/api/rewards', { name: 'x', type: 'digital', cost: 1, ...body }) : await t.admin('PATCH', `/api/rewards/${id}`, body);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error.issues.map((i: { path: string }) => i.path)).toContain(path);
    };
    await bad({ cost: -1 }, '/cost');
    await bad({ cost: 1.5 }, '/cost');
    await bad({ type: 'gift' }, '/type');
    await bad({ stock: -1 }, '/stock');
    await bad({ perUserLimit: 0 }, '/perUserLimit');
    await bad({ segmentIds: ['seg_nope'] }, '/segmentIds/0');
    await bad({ startsAt: 'tomorrow' }, '/startsAt');
    await bad({ startsAt: '2024-07-01T00:00:00Z', endsAt: '2024-06-01T00:00:00Z' }, '/endsAt');
    await bad({ colour: 'red' }, '/colour');
    await bad({ startsAt: '2024-08-01T00:00:00Z', endsAt: '2024-07-01T00:00:00Z' }, '/endsAt', 'PATCH');
    expect((await t.admin('POST', '/api/rewards', { type: 'digital', cost: 1 })).body.error.issues).toEqual([{ path: '/name', message: 'is required' }]);

    expect((await t.admin('DELETE', `/api/rewards/${id}`)).status).toBe(204);
    expect((await t.admin('GET', `/api/rewards/${id}`)).status).toBe(404);
    expect((await t.admin('DELETE', `/api/rewards/${id}`)).status).toBe(404);
    // The admin API needs the admin token.
    const w = await t.app.inject({ method: 'GET', url: '/api/rewards', headers: { 'x-write-key': WRITE } });
    expect(w.statusCode).toBe(401);
  });

  it('refuses with the 409 of the first failing check, in order, and a refusal changes nothing', async () => {
    const seg = await vipSegment();
    const other = (await t.admin('POST', '/api/segments', { name: 'Other', condition: { attr: 'traits.plan', op: 'eq', value: 'basic' } })).body.id;
    await identify([{ userId: 'u1', traits: { plan: 'vip' } }]);
    await grant('u1', 100);
    const r = await reward({ cost: 10, stock: 2, perUserLimit: 1, segmentIds: [seg] });
    expect((await redeem(r.id, { userId: 'u1' })).status).toBe(200);
    // Now break every check at once, then mend them one by one: each answer names the next.
    await t.admin('PATCH', `/api/rewards/${r.id}`, { active: false, startsAt: '2024-06-01T00:00:00Z', endsAt: '2024-06-10T00:00:00Z', segmentIds: [other], stock: 0, cost: 1000 });
    const steps: [string, object][] = [
      ['REWARD_INACTIVE', { active: true }],
      ['OUTSIDE_DATES', { endsAt: null }],
      ['NOT_IN_SEGMENT', { segmentIds: [other, seg] }],
      ['LIMIT_REACHED', { perUserLimit: 2 }],
      ['OUT_OF_STOCK', { stock: 3 }],
      ['INSUFFICIENT_POINTS', { cost: 90 }],
    ];
    for (const [code, fix] of steps) {
      const res = await redeem(r.id, { userId: 'u1' });
      expect(res.status, code).toBe(409);
      expect(res.body.error.code).toBe(code);
      expect(await balance('u1')).toBe(90);
      expect((await t.admin('PATCH', `/api/rewards/${r.id}`, fix)).status).toBe(200);
    }
    // The refused INSUFFICIENT_POINTS had taken a unit in its transaction: rolled back with it.
    expect((await t.admin('GET', `/api/rewards/${r.id}`)).body).toMatchObject({ stock: 3, redemptions: 1 });
    const ok = await redeem(r.id, { userId: 'u1' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ balance: 0, duplicate: false, redemption: { rewardId: r.id, userId: 'u1', cost: 90, code: null } });
    expect((await t.admin('GET', `/api/rewards/${r.id}`)).body).toMatchObject({ stock: 2, redemptions: 2 });
    await ledgerConsistent();
  });

  it('each refusal on its own: dates (before start, at the end), segment membership, the per-user limit, stock, balance', async () => {
    const seg = await vipSegment();
    await identify([{ userId: 'vip', traits: { plan: 'vip' } }, { userId: 'plain' }]);
    await grant('vip', 1000);
    await grant('plain', 1000);
    const code = async (id: string, userId: string) => {
      const res = await redeem(id, { userId });
      return res.status === 200 ? 'OK' : res.body.error.code;
    };
    const later = await reward({ startsAt: new Date(T0 + DAY).toISOString() });
    expect(await code(later.id, 'vip')).toBe('OUTSIDE_DATES');
    t.clock.advance(DAY);
    expect(await code(later.id, 'vip')).toBe('OK');
    const ending = await reward({ endsAt: new Date(t.clock.now() + 1000).toISOString() });
    expect(await code(ending.id, 'vip')).toBe('OK');
    t.clock.advance(1000); // endsAt is exclusive
    expect(await code(ending.id, 'vip')).toBe('OUTSIDE_DATES');

    const vipOnly = await reward({ segmentIds: [seg] });
    expect(await code(vipOnly.id, 'plain')).toBe('NOT_IN_SEGMENT');
    expect(await code(vipOnly.id, 'vip')).toBe('OK');
    // Joining the segment (a trait change) makes the user eligible at once.
    await identify([{ userId: 'plain', traits: { plan: 'vip' } }]);
    expect(await code(vipOnly.id, 'plain')).toBe('OK');

    const twice = await reward({ perUserLimit: 2 });
    expect([await code(twice.id, 'vip'), await code(twice.id, 'vip'), await code(twice.id, 'vip')]).toEqual(['OK', 'OK', 'LIMIT_REACHED']);
    expect(await code(twice.id, 'plain')).toBe('OK');

    const none = await reward({ stock: 0 });
    expect(await code(none.id, 'vip')).toBe('OUT_OF_STOCK');
    const one = await reward({ stock: 1 });
    expect([await code(one.id, 'vip'), await code(one.id, 'plain')]).toEqual(['OK', 'OUT_OF_STOCK']);

    const dear = await reward({ cost: 5000 });
    const res = await redeem(dear.id, { userId: 'vip' });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'INSUFFICIENT_POINTS' });
    expect(res.body.error.message).toMatch(/5000 are needed/);

    const off = await reward({ active: false });
    expect(await code(off.id, 'vip')).toBe('REWARD_INACTIVE');
    await ledgerConsistent();
  });

  it('100 concurrent redemptions of the last unit: exactly one succeeds, no balance goes negative, the ledger adds up', async () => {
    const users = Array.from({ length: 100 }, (_, i) => ({ userId: `user${i}` }));
    await identify(users);
    const store = new PointsStore(t.ctx.store);
    for (const u of users) {
      const p = (await t.ctx.store.findProfile(P, u.userId))!;
      await store.apply(P, p.id, { kind: 'earn', amount: 50, reason: 'seed', at: T0 });
    }
    const r = await reward({ cost: 30, stock: 1, type: 'physical' });
    const answers = await Promise.all(users.map((u) => redeem(r.id, { userId: u.userId })));
    const ok = answers.filter((a) => a.status === 200);
    expect(ok).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409 && a.body.error.code === 'OUT_OF_STOCK')).toHaveLength(99);
    expect((await t.admin('GET', `/api/rewards/${r.id}`)).body).toMatchObject({ stock: 0, redemptions: 1 });
    const winner = ok[0]!.body.redemption.userId as string;
    expect(ok[0]!.body.balance).toBe(20);
    for (const u of users) expect(await balance(u.userId)).toBe(u.userId === winner ? 20 : 50);
    await ledgerConsistent();
  });

  it('100 concurrent redemptions by one user with points for exactly one: one succeeds, the rest are INSUFFICIENT_POINTS', async () => {
    await identify([{ userId: 'poor' }]);
    await grant('poor', 30);
    const r = await reward({ cost: 30 }); // unlimited stock
    const answers = await Promise.all(Array.from({ length: 100 }, () => redeem(r.id, { userId: 'poor' })));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409 && a.body.error.code === 'INSUFFICIENT_POINTS')).toHaveLength(99);
    expect(await balance('poor')).toBe(0);
    expect((await t.admin('GET', '/api/users/poor/redemptions')).body.redemptions).toHaveLength(1);
    await ledgerConsistent();
  });

  it('hands out each code of a pool once, in upload order; a pool used up is OUT_OF_STOCK; coupons without a pool get generated codes', async () => {
    await identify([{ userId: 'a' }, { userId: 'b' }, { userId: 'c' }, { userId: 'd' }]);
    const r = await reward({ type: 'coupon', cost: 0 });
    const up = await t.admin('POST', `/api/rewards/${r.id}/codes`, { codes: ['CODE-A', 'CODE-B', 'CODE-A'] });
    expect(up.body).toEqual({ added: 2, duplicates: 1, total: 2, available: 2 });
    expect((await t.admin('POST', `/api/rewards/${r.id}/codes`, { codes: ['CODE-B', 'CODE-C'] })).body).toEqual({ added: 1, duplicates: 1, total: 3, available: 3 });
    expect((await t.admin('POST', `/api/rewards/${r.id}/codes`, { codes: [' CODE-D'] })).body.error.issues).toEqual([{ path: '/codes/0', message: expect.any(String) }]);
    expect((await t.admin('POST', `/api/rewards/${r.id}/codes`, { codes: [] })).status).toBe(400);
    expect((await t.admin('POST', '/api/rewards/rwd_nope/codes', { codes: ['X'] })).status).toBe(404);
    const got = [];
    for (const u of ['a', 'b', 'c']) got.push((await redeem(r.id, { userId: u })).body.redemption.code);
    expect(got).toEqual(['CODE-A', 'CODE-B', 'CODE-C']);
    const out = await redeem(r.id, { userId: 'd' });
    expect(out.status).toBe(409);
    expect(out.body.error.code).toBe('OUT_OF_STOCK');
    expect((await t.admin('GET', `/api/rewards/${r.id}`)).body.codes).toEqual({ total: 3, available: 0 });
    // More codes: in stock again.
    await t.admin('POST', `/api/rewards/${r.id}/codes`, { codes: ['CODE-D'] });
    expect((await redeem(r.id, { userId: 'd' })).body.redemption.code).toBe('CODE-D');

    // Concurrent redemptions never share a code.
    const many = await reward({ type: 'voucher', cost: 0 });
    await t.admin('POST', `/api/rewards/${many.id}/codes`, { codes: Array.from({ length: 10 }, (_, i) => `V${i}`) });
    const users = Array.from({ length: 15 }, (_, i) => ({ userId: `v${i}` }));
    await identify(users);
    const answers = await Promise.all(users.map((u) => redeem(many.id, { userId: u.userId })));
    const codes = answers.filter((a) => a.status === 200).map((a) => a.body.redemption.code);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    expect(answers.filter((a) => a.status === 409).every((a) => a.body.error.code === 'OUT_OF_STOCK')).toBe(true);

    const generated = await reward({ type: 'coupon', cost: 0 });
    const g = (await redeem(generated.id, { userId: 'a' })).body.redemption.code;
    expect(g).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    expect((await redeem(generated.id, { userId: 'b' })).body.redemption.code).not.toBe(g);
    const item = await reward({ type: 'physical', cost: 0 });
    expect((await redeem(item.id, { userId: 'a' })).body.redemption.code).toBeNull();
  });

  it('a write key cannot grant points: only admin routes add them, and a redemption only ever spends', async () => {
    await identify([{ userId: 'u1' }]);
    // The points API refuses a write key.
    const viaKey = await t.app.inject({ method: 'POST', url: '/api/users/u1/points', headers: { 'x-write-key': WRITE }, payload: { amount: 500, reason: 'x', kind: 'earn' } });
    expect(viaKey.statusCode).toBe(401);
    const bearerKey = await t.app.inject({ method: 'POST', url: '/api/users/u1/points', headers: { authorization: `Bearer ${WRITE}` }, payload: { amount: 500, reason: 'x', kind: 'earn' } });
    expect(bearerKey.statusCode).toBe(403);
    // Events that talk about points change nothing.
    await t.send('/v1/track', { userId: 'u1', event: 'points_earned', properties: { points: 500, amount: 500 } });
    await t.send('/v1/identify', { userId: 'u1', traits: { points: 500, balance: 500 } });
    expect(await balance('u1')).toBe(0);
    // The redeem route takes no amount, and nobody can redeem for free what costs points.
    const r = await reward({ cost: 10 });
    const extra = await redeem(r.id, { userId: 'u1', amount: -500 });
    expect(extra.status).toBe(400);
    expect(extra.body.error.issues).toEqual([{ path: '/amount', message: 'unknown field "amount"' }]);
    expect((await redeem(r.id, { userId: 'u1', cost: 0 })).status).toBe(400);
    expect((await redeem(r.id, { userId: 'u1' })).body.error.code).toBe('INSUFFICIENT_POINTS');
    expect(await balance('u1')).toBe(0);
    await grant('u1', 10);
    await redeem(r.id, { userId: 'u1' });
    const ledger = (await t.admin('GET', '/api/users/u1/points')).body.entries as { kind: string; amount: number; ref: string }[];
    expect(ledger.map((e) => [e.kind, e.amount])).toEqual([['spend', -10], ['earn', 10]]);
    expect(ledger[0]!.ref).toMatch(/^redemption:\d+$/);
  });

  it('identity verification: with it on, a valid userHash is needed (401 without or wrong); with it off, none is', async () => {
    await identify([{ userId: 'u1' }, { userId: 'u2' }]);
    const r = await reward({ cost: 0 });
    expect((await redeem(r.id, { userId: 'u1' })).status).toBe(200);
    const secret = 'test-identity-secret';
    await t.ctx.store.setProjectSettings(P, { identityVerification: { enabled: true, secret } });
    const missing = await redeem(r.id, { userId: 'u1' });
    expect(missing.status).toBe(401);
    expect(missing.body.error.code).toBe('UNAUTHORIZED');
    expect((await redeem(r.id, { userId: 'u1', userHash: 'ab'.repeat(32) })).status).toBe(401);
    expect((await redeem(r.id, { userId: 'u1', userHash: userHashOf(secret, 'u2') })).status).toBe(401);
    expect((await redeem(r.id, { userId: 'u1', userHash: userHashOf('another secret', 'u1') })).status).toBe(401);
    expect((await redeem(r.id, { userId: 'u1', userHash: 'not hex' })).status).toBe(401);
    const good = await redeem(r.id, { userId: 'u1', userHash: userHashOf(secret, 'u1') });
    expect(good.status).toBe(200);
    expect((await redeem(r.id, { userId: 'u2', userHash: userHashOf(secret, 'u2').toUpperCase() })).status).toBe(200);
    // The admin route needs no hash.
    expect((await t.admin('POST', `/api/rewards/${r.id}/redeem`, { userId: 'u2' })).status).toBe(200);
    await t.ctx.store.setProjectSettings(P, { identityVerification: { enabled: false, secret } });
    expect((await redeem(r.id, { userId: 'u1' })).status).toBe(200);
  });

  it('an idempotency key (Idempotency-Key header or requestId) answers the same redemption again and charges once', async () => {
    await identify([{ userId: 'u1' }, { userId: 'u2' }]);
    await grant('u1', 100);
    await grant('u2', 100);
    const r = await reward({ cost: 10, stock: 5, type: 'coupon' });
    const first = await redeem(r.id, { userId: 'u1' }, { 'idempotency-key': 'req-1' });
    expect(first.body).toMatchObject({ duplicate: false, balance: 90, redemption: { ref: 'req-1' } });
    const again = await redeem(r.id, { userId: 'u1' }, { 'idempotency-key': 'req-1' });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ ...first.body, duplicate: true });
    const viaBody = await redeem(r.id, { userId: 'u1', requestId: 'req-1' });
    expect(viaBody.body.redemption.id).toBe(first.body.redemption.id);
    // Retries racing each other still make one redemption.
    const burst = await Promise.all(Array.from({ length: 10 }, () => redeem(r.id, { userId: 'u1', requestId: 'req-2' })));
    expect(new Set(burst.map((b) => b.body.redemption.id)).size).toBe(1);
    expect(burst.filter((b) => !b.body.duplicate)).toHaveLength(1);
    expect(await balance('u1')).toBe(80);
    expect((await t.admin('GET', `/api/rewards/${r.id}`)).body).toMatchObject({ stock: 3, redemptions: 2 });
    // Keys are per user; a key cannot be reused for another reward; header and body must agree.
    expect((await redeem(r.id, { userId: 'u2', requestId: 'req-1' })).body).toMatchObject({ duplicate: false, balance: 90 });
    const other = await reward({ cost: 1 });
    const clash = await redeem(other.id, { userId: 'u1', requestId: 'req-1' });
    expect(clash.status).toBe(409);
    expect(clash.body.error.code).toBe('CONFLICT');
    const differ = await redeem(r.id, { userId: 'u1', requestId: 'a' }, { 'idempotency-key': 'b' });
    expect(differ.status).toBe(400);
    expect(differ.body.error.issues[0].path).toBe('/requestId');
    // The admin route honours keys too.
    const adm = await t.admin('POST', `/api/rewards/${r.id}/redeem`, { userId: 'u2', requestId: 'adm-1' });
    const adm2 = await t.admin('POST', `/api/rewards/${r.id}/redeem`, { userId: 'u2', requestId: 'adm-1' });
    expect(adm2.body).toEqual({ ...adm.body, duplicate: true });
    await ledgerConsistent();
  });

  it('the public route: write key, CORS, any content type, known users only', async () => {
    await identify([{ userId: 'u1', anonymousId: 'anon-1' }]);
    await t.send('/v1/track', { anonymousId: 'anon-2', event: 'visit' });
    const r = await reward({ cost: 0 });
    const url = `/v1/rewards/${r.id}/redeem`;
    const none = await t.app.inject({ method: 'POST', url, payload: { userId: 'u1' } });
    expect(none.statusCode).toBe(401);
    const wrong = await t.app.inject({ method: 'POST', url, headers: { 'x-write-key': 'nope' }, payload: { userId: 'u1' } });
    expect(wrong.statusCode).toBe(401);
    const pre = await t.app.inject({ method: 'OPTIONS', url, headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'idempotency-key, x-write-key' } });
    expect(pre.statusCode).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('*');
    expect(String(pre.headers['access-control-allow-headers'])).toMatch(/Idempotency-Key/);
    // A browser's text/plain body with the write key in it, and Basic auth.
    const plain = await t.app.inject({ method: 'POST', url, headers: { 'content-type': 'text/plain', origin: 'https://shop.example' }, payload: JSON.stringify({ userId: 'u1', writeKey: WRITE }) });
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['access-control-allow-origin']).toBe('*');
    const basic = await t.app.inject({ method: 'POST', url, headers: { authorization: `Basic ${Buffer.from(`${WRITE}:`).toString('base64')}` }, payload: { userId: 'u1' } });
    expect(basic.statusCode).toBe(200);
    // Anonymous users cannot redeem.
    const anon = await redeem(r.id, { anonymousId: 'anon-2' });
    expect(anon.status).toBe(400);
    expect(anon.body.error.issues).toEqual([{ path: '/userId', message: expect.stringMatching(/anonymousId/) }]);
    const anonAsUser = await redeem(r.id, { userId: 'anon-2' });
    expect(anonAsUser.status).toBe(400);
    expect(anonAsUser.body.error.issues[0].path).toBe('/userId');
    expect((await redeem(r.id, {})).body.error.issues).toEqual([{ path: '/userId', message: 'is required' }]);
    expect((await redeem(r.id, { userId: 'stranger' })).status).toBe(404);
    expect((await redeem('rwd_nope', { userId: 'u1' })).status).toBe(404);
    expect((await t.send(url, '{not json')).status).toBe(400);
    // An anonymousId of a known user is no userId either.
    expect((await redeem(r.id, { userId: 'anon-1' })).status).toBe(400);
    // Documented in the OpenAPI document.
    const doc = JSON.parse((await t.app.inject({ method: 'GET', url: '/openapi.json' })).payload);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/rewards/{id}/redeem', '/api/rewards', '/api/rewards/{id}', '/api/rewards/{id}/codes', '/api/rewards/{id}/redemptions', '/api/rewards/{id}/redeem', '/api/users/{id}/redemptions']));
  });

  it('lists redemptions by reward and by user with cursors; redemptions follow a merge of two users', async () => {
    await identify([{ userId: 'u1' }, { userId: 'u2' }]);
    const r = await reward({ cost: 0, perUserLimit: 3 });
    for (const u of ['u1', 'u2', 'u1']) expect((await redeem(r.id, { userId: u })).status).toBe(200);
    const page1 = await t.admin('GET', `/api/rewards/${r.id}/redemptions?limit=2`);
    expect(page1.body.redemptions.map((x: { userId: string }) => x.userId)).toEqual(['u1', 'u2']);
    const page2 = await t.admin('GET', `/api/rewards/${r.id}/redemptions?limit=2&cursor=${page1.body.nextCursor}`);
    expect(page2.body).toMatchObject({ redemptions: [{ userId: 'u1', rewardName: 'Coffee' }], nextCursor: null });
    expect((await t.admin('GET', '/api/users/u1/redemptions')).body.redemptions).toHaveLength(2);
    expect((await t.admin('GET', '/api/users/nobody/redemptions')).status).toBe(404);
    expect((await t.admin('GET', '/api/rewards/rwd_nope/redemptions')).status).toBe(404);
    expect((await t.admin('GET', `/api/rewards/${r.id}/redemptions?cursor=%%%`)).status).toBe(400);
    // u2 is aliased into u1: u2's redemption is u1's now, and counts towards u1's limit.
    expect((await t.send('/v1/alias', { userId: 'u1', previousId: 'u2' })).status).toBe(200);
    expect((await t.admin('GET', '/api/users/u1/redemptions')).body.redemptions).toHaveLength(3);
    const limit = await redeem(r.id, { userId: 'u1' });
    expect(limit.body.error.code).toBe('LIMIT_REACHED');
    // A deleted reward's redemptions stay.
    await t.admin('DELETE', `/api/rewards/${r.id}`);
    expect((await t.admin('GET', '/api/users/u1/redemptions')).body.redemptions[0]).toMatchObject({ rewardId: r.id, rewardName: null });
  });

  it('forUser: the active, in-date rewards a user may see, with stock, their redemptions and affordability; stats for insights', async () => {
    const seg = await vipSegment();
    await identify([{ userId: 'vip', traits: { plan: 'vip' } }, { userId: 'plain' }]);
    await grant('vip', 50);
    const cheap = await reward({ name: 'Cheap', cost: 5, perUserLimit: 2 });
    const vipOnly = await reward({ name: 'VIP lounge', cost: 100, segmentIds: [seg], stock: 3 });
    const pooled = await reward({ name: 'Pooled', type: 'coupon', cost: 20 });
    await t.admin('POST', `/api/rewards/${pooled.id}/codes`, { codes: ['ONLY'] });
    await reward({ name: 'Off', active: false });
    await reward({ name: 'Future', startsAt: new Date(T0 + DAY).toISOString() });
    await reward({ name: 'Past', endsAt: new Date(T0).toISOString() });
    expect((await redeem(cheap.id, { userId: 'vip' })).status).toBe(200);
    expect((await redeem(pooled.id, { userId: 'vip' })).status).toBe(200);
    const profile = async (u: string) => (await t.ctx.store.findProfile(P, u))!.id;
    const mine = await t.ctx.rewards.forUser(t.ctx.store, P, await profile('vip'), t.clock.now());
    expect(mine).toEqual([
      { id: cheap.id, name: 'Cheap', description: '', type: 'digital', cost: 5, stock: null, inStock: true, redeemedByUser: 1, remainingForUser: 1, affordable: true, endsAt: null },
      { id: pooled.id, name: 'Pooled', description: '', type: 'coupon', cost: 20, stock: null, inStock: false, redeemedByUser: 1, remainingForUser: null, affordable: true, endsAt: null },
      { id: vipOnly.id, name: 'VIP lounge', description: '', type: 'digital', cost: 100, stock: 3, inStock: true, redeemedByUser: 0, remainingForUser: null, affordable: false, endsAt: null },
    ]);
    const theirs = await t.ctx.rewards.forUser(t.ctx.store, P, await profile('plain'), t.clock.now());
    expect(theirs.map((r) => r.name)).toEqual(['Cheap', 'Pooled']);
    expect(theirs[0]!.affordable).toBe(false);
    // A profile id nobody has (an unknown user): what targets everyone.
    expect((await t.ctx.rewards.forUser(t.ctx.store, P, -1, t.clock.now())).map((r) => r.name)).toEqual(['Cheap', 'Pooled']);
    // Through the targeting API.
    const tg = await t.admin('GET', '/api/users/vip/targeting');
    expect(tg.body.rewards.map((r: { name: string }) => r.name)).toEqual(['Cheap', 'Pooled', 'VIP lounge']);
  });

  // The database on its own, without the engine's in-process writer: two transactions on two
  // connections of a PostgreSQL server race. (SQLite has one connection per process, and PGlite
  // one connection whose transactions take turns: neither can race.)
  describe.runIf(name === 'postgres')('database-level guards (two concurrent transactions)', () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    /** Runs A's redemption and holds its transaction open; starts B once A has done its writes; B must wait for A. */
    const race = async (a: (tx: import('@strata/store').SqlStore) => Promise<unknown>, b: (tx: import('@strata/store').SqlStore) => Promise<unknown>) => {
      let aDone!: () => void;
      const aWrote = new Promise<void>((r) => (aDone = r));
      const store = t.ctx.store;
      const first = store.transaction(async (tx) => {
        const out = await a(tx);
        aDone();
        await sleep(300);
        return out;
      });
      await aWrote;
      const started = Date.now();
      const second = store.transaction(b).then((v) => ({ ok: true as const, v }), (e: unknown) => ({ ok: false as const, e }));
      const [x, y] = await Promise.all([first, second]);
      return { a: x, b: y, waited: Date.now() - started };
    };
    const pid = async (u: string) => (await t.ctx.store.findProfile(P, u))!.id;
    const codeOf = (r: { ok: boolean; e?: unknown }) => (r.ok ? 'OK' : r.e instanceof AppError ? r.e.code : String(r.e));

    it('the last unit: the second transaction read stock 1, yet the conditional update gives it nothing', async () => {
      await identify([{ userId: 'a' }, { userId: 'b' }]);
      await grant('a', 10);
      await grant('b', 10);
      const r = await reward({ cost: 10, stock: 1 });
      const a = await pid('a'), b = await pid('b');
      let seenByB = -1;
      const out = await race(
        (tx) => t.ctx.rewards.redeemIn(tx, P, r.id, a, null, T0),
        async (tx) => {
          seenByB = (await new RewardStore(tx).get(P, r.id))!.stock!;
          return t.ctx.rewards.redeemIn(tx, P, r.id, b, null, T0);
        },
      );
      expect(seenByB).toBe(1);
      expect(codeOf(out.b)).toBe('OUT_OF_STOCK');
      expect(out.waited).toBeGreaterThan(150);
      expect((await new RewardStore(t.ctx.store).get(P, r.id))!.stock).toBe(0);
      expect(await balance('a')).toBe(0);
      expect(await balance('b')).toBe(10);
      expect((await t.admin('GET', `/api/rewards/${r.id}/redemptions`)).body.redemptions).toHaveLength(1);
    });

    it('one user: the per-user limit and the balance hold across racing transactions; racing code claims get different codes', async () => {
      await identify([{ userId: 'a' }, { userId: 'b' }]);
      const a = await pid('a'), b = await pid('b');
      await grant('a', 10);
      // The limit: B counts A's redemption only because it waits for A's lock on the user.
      const limited = await reward({ cost: 0, perUserLimit: 1 });
      const l = await race((tx) => t.ctx.rewards.redeemIn(tx, P, limited.id, a, null, T0), (tx) => t.ctx.rewards.redeemIn(tx, P, limited.id, a, null, T0));
      expect(codeOf(l.b)).toBe('LIMIT_REACHED');
      expect(l.waited).toBeGreaterThan(150);
      // The balance: points for one of two different rewards.
      const r1 = await reward({ cost: 10 }), r2 = await reward({ cost: 10 });
      const p = await race((tx) => t.ctx.rewards.redeemIn(tx, P, r1.id, a, null, T0), (tx) => t.ctx.rewards.redeemIn(tx, P, r2.id, a, null, T0));
      expect(codeOf(p.b)).toBe('INSUFFICIENT_POINTS');
      expect(await balance('a')).toBe(0);
      // The same idempotency key: B answers A's redemption.
      const free = await reward({ cost: 0 });
      const k = await race((tx) => t.ctx.rewards.redeemIn(tx, P, free.id, a, 'k1', T0), (tx) => t.ctx.rewards.redeemIn(tx, P, free.id, a, 'k1', T0));
      expect(k.b).toMatchObject({ ok: true, v: { duplicate: true } });
      // Two users claim from one pool: B's claim of A's code finds it taken and takes the next.
      const pool = await reward({ type: 'coupon', cost: 0 });
      await t.admin('POST', `/api/rewards/${pool.id}/codes`, { codes: ['C1', 'C2'] });
      const c = await race((tx) => t.ctx.rewards.redeemIn(tx, P, pool.id, a, null, T0), (tx) => t.ctx.rewards.redeemIn(tx, P, pool.id, b, null, T0));
      expect(c.a).toMatchObject({ redemption: { code: 'C1' } });
      expect(c.b).toMatchObject({ ok: true, v: { redemption: { code: 'C2' } } });
      await ledgerConsistent();
    });
  });
});
