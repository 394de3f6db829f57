/**
 * The loyalty program end to end, through the HTTP API only: users are segmented, see only
 * their segments' missions, complete one by sending events, are paid exactly once, redeem a
 * reward, and an experiment's results show its arms with statistics checked against an
 * independent computation.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bucketOf } from '@strata/core';
import { testBackends } from '@strata/store/testing';
import { WRITE, startTestApp, type TestApp } from './test-app.ts';

const backends = await testBackends();
const T0 = Date.UTC(2024, 5, 15, 12);
const HOUR = 3_600_000;
const USERS = 400;
const isVip = (i: number) => i % 4 === 0;

/** Φ by Simpson's rule over the normal density: independent of the statistics module. */
function normalCdf(z: number): number {
  const steps = 20000, a = 0, b = Math.abs(z), h = (b - a) / steps;
  const f = (x: number) => Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);
  let s = f(a) + f(b);
  for (let i = 1; i < steps; i++) s += f(a + i * h) * (i % 2 ? 4 : 2);
  const half = (s * h) / 3;
  return z >= 0 ? 0.5 + half : 0.5 - half;
}

describe.each(backends.map((b) => [b.name, b] as const))('a loyalty program end to end on %s', (_n, backend) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp(await backend.open(), T0);
  });
  afterEach(async () => t.close());

  const ok = async (method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown, status = method === 'POST' ? 201 : 200) => {
    const r = await t.admin(method, url, body);
    expect(r.status, `${method} ${url}: ${JSON.stringify(r.body)}`).toBe(status);
    return r.body;
  };
  const targeting = async (userId: string) => JSON.parse((await t.app.inject({ method: 'GET', url: `/v1/targeting?userId=${userId}`, headers: { 'x-write-key': WRITE } })).payload);
  const track = (userId: string, event: string, n: number, at = t.clock.now()) =>
    t.send('/v1/batch', { batch: Array.from({ length: n }, (_, k) => ({ type: 'track', userId, event, messageId: `${userId}-${event}-${at}-${k}`, timestamp: new Date(at + k).toISOString() })) });

  it('segments, targets, pays once, redeems, and reports an experiment', async () => {
    // ---- users and segments
    const people = Array.from({ length: USERS }, (_, i) => ({ type: 'identify', userId: `u${i}`, traits: { plan: isVip(i) ? 'vip' : 'free' } }));
    expect((await t.send('/v1/batch', { batch: people })).status).toBe(200);
    const vip = await ok('POST', '/api/segments', { name: 'VIP', condition: { attr: 'traits.plan', op: 'eq', value: 'vip' } });
    const known = await ok('POST', '/api/segments', { template: 'known' });
    expect(vip.size).toBe(USERS / 4);
    expect(known.size).toBe(USERS);

    // ---- missions: one for VIPs, one for everyone
    const streak = await ok('POST', '/api/missions', { name: 'VIP check-ins', segmentIds: [vip.id], goal: { kind: 'count', event: 'checkin', target: 3 }, points: 100 });
    const welcome = await ok('POST', '/api/missions', { name: 'Say hello', goal: { kind: 'count', event: 'hello', target: 1 }, points: 10 });
    const missionsOf = async (u: string) => ((await targeting(u)).missions as { name: string }[]).map((m) => m.name).sort();
    expect(await missionsOf('u0')).toEqual(['Say hello', 'VIP check-ins']);
    expect(await missionsOf('u1')).toEqual(['Say hello']);

    // ---- u0 and u4 (VIP) complete by sending events; a resent batch and a non-VIP pay nothing more
    expect((await track('u0', 'checkin', 3)).status).toBe(200);
    expect((await track('u0', 'checkin', 3)).status).toBe(200); // the same messageIds again: duplicates
    expect((await track('u4', 'checkin', 3)).status).toBe(200);
    expect((await track('u1', 'checkin', 3)).status).toBe(200);
    const points = async (u: string) => (await ok('GET', `/api/users/${u}/points`)).balance as number;
    expect(await points('u0')).toBe(100);
    expect(await points('u4')).toBe(100);
    expect(await points('u1')).toBe(0);
    const u0 = await targeting('u0');
    expect(u0.points).toBe(100);
    expect(u0.missions.find((m: { id: string }) => m.id === streak.id).progress).toMatchObject({ current: 3, target: 3, completed: true, completions: 1 });
    const completed = (await ok('GET', '/api/users/u0/events?limit=50')).events.filter((e: { event: string }) => e.event === '$mission_completed');
    expect(completed).toHaveLength(1);
    expect(completed[0].properties).toMatchObject({ missionId: streak.id, points: 100 });
    expect(welcome.id).toBeDefined();

    // ---- the bonus shop: one mug left, for VIPs, a code from the pool
    const mug = await ok('POST', '/api/rewards', { name: 'Strata mug', type: 'coupon', cost: 100, stock: 1, segmentIds: [vip.id] });
    await ok('POST', `/api/rewards/${mug.id}/codes`, { codes: ['MUG-0001'] }, 200);
    const redeem = (userId: string) => t.app.inject({ method: 'POST', url: `/v1/rewards/${mug.id}/redeem`, headers: { 'x-write-key': WRITE, 'content-type': 'application/json' }, payload: { userId } });
    const notVip = await redeem('u1');
    expect([notVip.statusCode, JSON.parse(notVip.payload).error.code]).toEqual([409, 'NOT_IN_SEGMENT']);
    const got = await redeem('u0');
    expect(got.statusCode).toBe(200);
    expect(JSON.parse(got.payload)).toMatchObject({ balance: 0, redemption: { code: 'MUG-0001', cost: 100 } });
    const late = await redeem('u4');
    expect([late.statusCode, JSON.parse(late.payload).error.code]).toEqual([409, 'OUT_OF_STOCK']);
    expect(await points('u0')).toBe(0);
    expect(await points('u4')).toBe(100);
    expect((await targeting('u0')).rewards.find((r: { id: string }) => r.id === mug.id)).toMatchObject({ inStock: false, affordable: false });

    // ---- an experiment over known users: the treatment converts more
    const exp = await ok('POST', '/api/experiments', { name: 'Checkout copy', audienceSegmentId: known.id, salt: 'checkout-copy', arms: [{ key: 'control', weight: 50 }, { key: 'treatment', weight: 50 }], status: 'running' });
    const armOf = (i: number) => (bucketOf('checkout-copy', `u${i}`) < 5000 ? 'control' : 'treatment');
    const converts = (i: number) => (armOf(i) === 'treatment' ? i % 3 !== 0 : i % 2 === 0);
    t.clock.advance(HOUR);
    for (let i = 0; i < USERS; i += 50) {
      const batch = [];
      for (let k = i; k < i + 50; k++) if (converts(k)) batch.push({ type: 'track', userId: `u${k}`, event: 'purchase', messageId: `buy-${k}` });
      expect((await t.send('/v1/batch', { batch })).status).toBe(200);
    }
    const results = await ok('GET', `/api/experiments/${exp.id}/results?metric=event&event=purchase&days=7`);

    // Independent: arms by the bucket formula, conversions by the rule above, the z-test by hand.
    const n = { control: 0, treatment: 0 }, x = { control: 0, treatment: 0 };
    for (let i = 0; i < USERS; i++) { n[armOf(i)]++; if (converts(i)) x[armOf(i)]++; }
    const pc = x.control / n.control, pt = x.treatment / n.treatment;
    const pooled = (x.control + x.treatment) / (n.control + n.treatment);
    const z = (pt - pc) / Math.sqrt(pooled * (1 - pooled) * (1 / n.control + 1 / n.treatment));
    const se = Math.sqrt(pc * (1 - pc) / n.control + pt * (1 - pt) / n.treatment);
    const control = results.arms.find((a: { key: string }) => a.key === 'control');
    const treatment = results.arms.find((a: { key: string }) => a.key === 'treatment');
    expect([control.users, control.conversions, treatment.users, treatment.conversions]).toEqual([n.control, x.control, n.treatment, x.treatment]);
    expect(treatment.rate).toBeCloseTo(pt, 12);
    expect(treatment.vsControl.absoluteLift).toBeCloseTo(pt - pc, 12);
    expect(treatment.vsControl.relativeLift).toBeCloseTo((pt - pc) / pc, 12);
    expect(treatment.vsControl.z).toBeCloseTo(z, 9);
    expect(treatment.vsControl.pValue).toBeCloseTo(2 * (1 - normalCdf(Math.abs(z))), 6);
    expect(treatment.vsControl.ci95.lower).toBeCloseTo(pt - pc - 1.959963984540054 * se, 9);
    expect(treatment.vsControl.ci95.upper).toBeCloseTo(pt - pc + 1.959963984540054 * se, 9);
    expect(treatment.vsControl.pValue).toBeLessThan(0.05);
    // An even split by the hash: no sample ratio mismatch.
    const chi = ((n.control - USERS / 2) ** 2 + (n.treatment - USERS / 2) ** 2) / (USERS / 2);
    expect(results.srm.chiSquare).toBeCloseTo(chi, 9);
    expect(results.srm.mismatch).toBe(false);
    expect(results.warnings).toEqual([]);

    // ---- and the VIP segment's insights see it all
    const insights = await ok('GET', `/api/segments/${vip.id}/insights?days=1`);
    expect(insights).toMatchObject({ size: USERS / 4, missions: { completers: 2, completions: 2 }, rewards: { redemptions: 1, redeemers: 1 }, points: { earned: 200, spent: 100 } });
    expect(insights.missions.participants).toBe(2);
  });
});
