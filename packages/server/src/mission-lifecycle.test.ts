/**
 * The lifecycle missions of the product brief, end to end over HTTP: each row of its table — a
 * welcome quest for New users, win-back for Churned users, a habit streak for Resurrected users,
 * a milestone for Active users, a premium reward for VIP users — and the checkout mission for
 * cart abandoners. Each hinges on the qualification rule of docs/missions.md: an event counts
 * when the user is in a target segment just before it or just after it, and an attempt under
 * way stays the user's when they leave the segment.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testBackends } from '@strata/store/testing';
import { DEFAULT_PROJECT, WRITE, startTestApp, type TestApp } from './test-app.ts';

const backends = await testBackends();
const T0 = Date.UTC(2024, 5, 15, 12);
const MIN = 60_000, HOUR = 60 * MIN, DAY = 24 * HOUR;

describe.each(backends.map((b) => [b.name, b] as const))('lifecycle missions on %s', (_n, backend) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp(await backend.open(), T0);
  });
  afterEach(async () => t.close());

  let seq = 0;
  const msg = (userId: string, event: string, at = t.clock.now(), properties: Record<string, unknown> = {}) =>
    ({ type: 'track', userId, event, properties, messageId: `life-${++seq}`, timestamp: new Date(at).toISOString() });
  const batch = async (messages: unknown[]) => {
    const r = await t.send('/v1/batch', { batch: messages });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body;
  };
  const track = (userId: string, event: string, properties: Record<string, unknown> = {}) => batch([msg(userId, event, t.clock.now(), properties)]);
  /** Moves the clock and applies the time transitions due (the engine's timer, by hand). */
  const at = async (when: number) => {
    t.clock.t = when;
    await t.ctx.engine.tick();
  };
  const ok = async (method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown, status = method === 'POST' ? 201 : 200) => {
    const r = await t.admin(method, url, body);
    expect(r.status, `${method} ${url}: ${JSON.stringify(r.body)}`).toBe(status);
    return r.body;
  };
  const segment = async (template: string, params: Record<string, unknown> = {}) => (await ok('POST', '/api/segments', { template, params })).id as string;
  const mission = async (body: Record<string, unknown>) => (await ok('POST', '/api/missions', body)).id as string;
  const balance = async (userId: string) => (await ok('GET', `/api/users/${userId}/points`)).balance as number;
  const segmentsOf = async (userId: string) => ((await ok('GET', `/api/users/${userId}/segments`)).segments as { id: string }[]).map((s) => s.id);
  /** The admin's view: GET /api/users/:id/missions. */
  const adminView = async (userId: string, missionId: string) => ((await ok('GET', `/api/users/${userId}/missions`)).missions as any[]).find((m) => m.id === missionId);
  /** The SDK's view: GET /v1/targeting. */
  const sdkView = async (userId: string, missionId: string) => {
    const r = await t.app.inject({ method: 'GET', url: `/v1/targeting?userId=${userId}`, headers: { 'x-write-key': WRITE } });
    expect(r.statusCode).toBe(200);
    return (JSON.parse(r.payload).missions as any[]).find((m) => m.id === missionId);
  };
  const earned = async (userId: string) => ((await ok('GET', `/api/users/${userId}/points`)).entries as { kind: string; ref: string }[]).filter((e) => e.kind === 'earn').map((e) => e.ref);
  const profileId = async (userId: string) => (await t.ctx.store.findProfile(DEFAULT_PROJECT, userId))!.id;

  it('New: a welcome quest counts from the very first event, and a user who stops being New mid-quest finishes it', async () => {
    const fresh = await segment('new', { window: '7d' });
    const quest = await mission({ name: 'Welcome quest', segmentIds: [fresh], goal: { kind: 'count', event: 'tutorial_step', target: 3 }, points: 30 });
    // u1's first request holds their first event: it is what makes them New, and it counts.
    await at(T0 + MIN);
    await track('u1', 'tutorial_step');
    expect(await segmentsOf('u1')).toContain(fresh);
    expect(await adminView('u1', quest)).toMatchObject({ eligible: true, progress: { current: 1, startedAt: new Date(T0 + MIN).toISOString() } });
    // u2 joins the same minute but does no tutorial while New.
    await track('u2', 'signup');
    await at(T0 + 3 * DAY);
    await track('u1', 'tutorial_step');
    // A week later neither is New any more.
    await at(T0 + 8 * DAY);
    expect(await segmentsOf('u1')).not.toContain(fresh);
    expect(await segmentsOf('u2')).not.toContain(fresh);
    // u1's started quest does not vanish from either view ...
    expect(await sdkView('u1', quest)).toMatchObject({ progress: { current: 2, target: 3, completed: false } });
    expect(await adminView('u1', quest)).toMatchObject({ eligible: true, progress: { current: 2 } });
    // ... and the third step completes it.
    await track('u1', 'tutorial_step');
    expect(await balance('u1')).toBe(30);
    expect(await adminView('u1', quest)).toMatchObject({ progress: { current: 3, completions: 1, completed: true } });
    // u2 never started while New: the quest is not theirs, and their steps count for nothing.
    expect(await sdkView('u2', quest)).toBeUndefined();
    await track('u2', 'tutorial_step');
    expect(await adminView('u2', quest)).toBeUndefined();
    expect(await balance('u2')).toBe(0);
  });

  it('Churned: the win-back login pays 100 points once — alone, in a batch, in a shared transaction, resent, or sent late', async () => {
    const churned = await segment('churned', { inactivity: '7d' });
    const winBack = await mission({ name: 'We miss you!', description: 'Log in and tap to earn a comeback bonus', segmentIds: [churned], goal: { kind: 'count', event: 'login', target: 1 }, points: 100 });
    const users = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7'];
    await at(T0 + MIN);
    await batch(users.map((u) => msg(u, 'login')));
    // Active users are not offered it, and their logins do not start it.
    await at(T0 + HOUR);
    await track('u1', 'login');
    expect(await sdkView('u1', winBack)).toBeUndefined();
    expect(await adminView('u1', winBack)).toBeUndefined();

    // A week without any event: all of them are churned and see the mission.
    await at(T0 + 8 * DAY);
    for (const u of users) expect(await segmentsOf(u), u).toContain(churned);
    expect(await sdkView('u1', winBack)).toMatchObject({ name: 'We miss you!', points: 100, progress: { current: 0, completed: false } });

    // u1 logs in: the login that ends their churn is the one the mission asks for.
    const login = msg('u1', 'login');
    await batch([login]);
    expect(await segmentsOf('u1')).not.toContain(churned);
    expect(await balance('u1')).toBe(100);
    expect(await adminView('u1', winBack)).toMatchObject({ progress: { current: 1, completions: 1, completed: true } });
    expect(await earned('u1')).toEqual([`mission:${winBack}:${await profileId('u1')}:1`]);
    // The same request again (a retry): a duplicate, paid nothing more.
    expect(await batch([login])).toMatchObject({ success: true });
    expect(await balance('u1')).toBe(100);

    // u2's comeback request opens the app before logging in: the visit began while churned, so the login is paid, once.
    await batch([msg('u2', 'app_open', t.clock.now()), msg('u2', 'login', t.clock.now() + 1), msg('u2', 'login', t.clock.now() + 2)]);
    expect(await balance('u2')).toBe(100);

    // u3 and u4 log in at the same moment: their requests share one group-commit transaction.
    await Promise.all(['u3', 'u4'].map((u) => track(u, 'login')));
    expect([await balance('u3'), await balance('u4')]).toEqual([100, 100]);

    // u5's phone was offline: the login, made an hour ago while churned, arrives now.
    await at(T0 + 8 * DAY + 2 * HOUR);
    await batch([msg('u5', 'login', t.clock.now() - HOUR)]);
    expect(await balance('u5')).toBe(100);

    // u6 opens the app first (which ends the churn), sees the offer, and logs in ten minutes later: the same visit, paid.
    await track('u6', 'app_open');
    expect(await segmentsOf('u6')).not.toContain(churned);
    expect(await sdkView('u6', winBack)).toMatchObject({ progress: { current: 0 } });
    expect(await adminView('u6', winBack)).toMatchObject({ eligible: true });
    t.clock.advance(10 * MIN);
    await track('u6', 'login');
    expect(await balance('u6')).toBe(100);
    // u7 opens the app too, but logs in only in a later visit, when no longer churned: nothing.
    await track('u7', 'app_open');
    await at(t.clock.now() + 2 * HOUR);
    expect(await sdkView('u7', winBack)).toBeUndefined();
    await track('u7', 'login');
    expect(await balance('u7')).toBe(0);
  });

  it('Churned, repeatable: paid again only for the login that ends the next churn', async () => {
    const churned = await segment('churned', { inactivity: '7d' });
    const winBack = await mission({ name: 'Come back', segmentIds: [churned], goal: { kind: 'count', event: 'login', target: 1 }, points: 100, repeatable: true, cooldown: '1d' });
    await at(T0 + MIN);
    await track('u1', 'login');
    await at(T0 + 8 * DAY);
    await track('u1', 'login');
    expect(await balance('u1')).toBe(100);
    // Back to daily use: no longer churned, so these logins start nothing.
    for (const d of [9, 10, 11]) {
      await at(T0 + d * DAY);
      await track('u1', 'login');
    }
    expect(await balance('u1')).toBe(100);
    expect(await adminView('u1', winBack)).toMatchObject({ eligible: false, progress: { current: 0, completions: 1 } });
    expect(await sdkView('u1', winBack)).toBeUndefined();
    // Gone again for a week, then back: the second comeback is paid.
    await at(T0 + 19 * DAY);
    expect(await segmentsOf('u1')).toContain(churned);
    await track('u1', 'login');
    expect(await balance('u1')).toBe(200);
    const pid = await profileId('u1');
    expect(await earned('u1')).toEqual([`mission:${winBack}:${pid}:2`, `mission:${winBack}:${pid}:1`]);
  });

  it('Resurrected: a 5-days-in-a-row habit started on the comeback is kept when the user stops being Resurrected mid-streak', async () => {
    const resurrected = await segment('resurrected', { activeWindow: '3d', gap: '30d' });
    const habit = await mission({ name: 'Five days in a row', segmentIds: [resurrected], goal: { kind: 'streak', event: 'login', days: 5 }, points: 200 });
    await at(T0 + MIN);
    await track('u1', 'login');
    const D = T0 + 40 * DAY;
    // u2 is seen for the first time on u1's comeback day: active, but not resurrected.
    await at(D);
    await track('u2', 'login');
    expect(await segmentsOf('u2')).not.toContain(resurrected);
    // The comeback login makes u1 Resurrected, and is day 1 of the streak.
    await track('u1', 'login');
    expect(await segmentsOf('u1')).toContain(resurrected);
    for (const d of [1, 2]) {
      await at(D + d * DAY);
      await track('u1', 'login');
      await track('u2', 'login');
    }
    expect(await adminView('u1', habit)).toMatchObject({ progress: { current: 3, completed: false } });
    // Three days after the comeback u1 is simply active again, not Resurrected: the streak is still theirs.
    await at(D + 3 * DAY);
    expect(await segmentsOf('u1')).not.toContain(resurrected);
    expect(await sdkView('u1', habit)).toMatchObject({ progress: { current: 3, target: 5 } });
    expect(await adminView('u1', habit)).toMatchObject({ eligible: true });
    await track('u1', 'login');
    await track('u2', 'login');
    expect(await balance('u1')).toBe(0);
    await at(D + 4 * DAY);
    await track('u1', 'login');
    await track('u2', 'login');
    expect(await balance('u1')).toBe(200);
    expect(await adminView('u1', habit)).toMatchObject({ progress: { current: 5, completions: 1, completed: true, lastCompletedAt: new Date(D + 4 * DAY).toISOString() } });
    // u2 logged in five days in a row too, never Resurrected: nothing.
    expect(await balance('u2')).toBe(0);
    expect(await adminView('u2', habit)).toBeUndefined();
  });

  it('Active: a purchase milestone is not lost when the user goes quiet for a week', async () => {
    const active = await segment('active', { activeWindow: '7d', newWindow: '7d' });
    const milestone = await mission({ name: '5th purchase', segmentIds: [active], goal: { kind: 'count', event: 'purchase', target: 5 }, points: 150 });
    await at(T0 + MIN);
    await track('u1', 'signup');
    // New users are not Active: a purchase in the first week does not start it.
    await at(T0 + 2 * DAY);
    await track('u1', 'purchase');
    expect(await adminView('u1', milestone)).toBeUndefined();
    // Eight days in, u1 is Active and buys three times (one request).
    await at(T0 + 8 * DAY);
    expect(await segmentsOf('u1')).toContain(active);
    await batch([0, 1, 2].map((k) => msg('u1', 'purchase', t.clock.now() + k * MIN)));
    expect(await adminView('u1', milestone)).toMatchObject({ progress: { current: 3 } });
    // Quiet for eight days: no longer Active, and the milestone under way stays in both views.
    await at(T0 + 16 * DAY);
    expect(await segmentsOf('u1')).not.toContain(active);
    expect(await sdkView('u1', milestone)).toMatchObject({ progress: { current: 3, target: 5, completed: false } });
    expect(await adminView('u1', milestone)).toMatchObject({ eligible: true, progress: { current: 3 } });
    await track('u1', 'purchase');
    t.clock.advance(MIN);
    await track('u1', 'purchase');
    expect(await balance('u1')).toBe(150);
    expect(await adminView('u1', milestone)).toMatchObject({ progress: { current: 5, completions: 1, completed: true } });
  });

  it('VIP: points earned on a VIP mission stay earned after a downgrade; the premium reward is redeemable only as VIP, and spent once', async () => {
    const vip = await segment('vip');
    const vipMission = await mission({ name: 'VIP triple', segmentIds: [vip], goal: { kind: 'count', event: 'purchase', target: 3 }, points: 300 });
    const lounge = await ok('POST', '/api/rewards', { name: 'Lounge pass', type: 'digital', cost: 300, segmentIds: [vip] });
    const redeem = (userId: string) => t.app.inject({ method: 'POST', url: `/v1/rewards/${lounge.id}/redeem`, headers: { 'x-write-key': WRITE, 'content-type': 'application/json' }, payload: { userId } });
    const identify = async (plan: string) => expect((await t.send('/v1/identify', { userId: 'u1', traits: { plan } })).status).toBe(200);
    await at(T0 + MIN);
    await identify('vip');
    await track('u1', 'purchase', { revenue: 10 });
    t.clock.advance(MIN);
    await track('u1', 'purchase', { revenue: 10 });
    // Downgraded mid-mission: out of VIP, the mission under way still shows and completes.
    t.clock.advance(MIN);
    await identify('basic');
    expect(await segmentsOf('u1')).not.toContain(vip);
    expect(await sdkView('u1', vipMission)).toMatchObject({ progress: { current: 2, target: 3 } });
    t.clock.advance(MIN);
    await track('u1', 'purchase', { revenue: 10 });
    expect(await balance('u1')).toBe(300);
    // The premium reward is for VIPs only.
    const refused = await redeem('u1');
    expect([refused.statusCode, JSON.parse(refused.payload).error.code]).toEqual([409, 'NOT_IN_SEGMENT']);
    expect(await balance('u1')).toBe(300);
    // VIP again: two redemptions at once, one succeeds and the points are spent once.
    await identify('vip');
    const both = await Promise.all([redeem('u1'), redeem('u1')]);
    expect(both.map((r) => r.statusCode).sort()).toEqual([200, 409]);
    expect(JSON.parse(both.find((r) => r.statusCode === 409)!.payload).error.code).toBe('INSUFFICIENT_POINTS');
    expect(await balance('u1')).toBe(0);
    const spends = ((await ok('GET', '/api/users/u1/points')).entries as { kind: string; amount: number }[]).filter((e) => e.kind === 'spend');
    expect(spends).toHaveLength(1);
  });

  it('cart abandonment: the purchase that takes the user out of the segment is the checkout the mission pays for', async () => {
    const carts = await segment('cart-abandonment');
    const checkout = await mission({ name: 'Complete your checkout', segmentIds: [carts], goal: { kind: 'count', event: 'purchase', target: 1 }, points: 50 });
    await at(T0 + MIN);
    for (const u of ['u1', 'u4', 'u5', 'u6']) await track(u, 'add_to_cart');
    await at(T0 + HOUR);
    expect(await segmentsOf('u1')).toContain(carts);
    expect(await sdkView('u1', checkout)).toMatchObject({ progress: { current: 0 } });
    // u1 buys: out of the segment at once, and paid.
    await track('u1', 'purchase');
    expect(await segmentsOf('u1')).not.toContain(carts);
    expect(await balance('u1')).toBe(50);
    expect(await adminView('u1', checkout)).toMatchObject({ progress: { completed: true, completions: 1 } });

    // u2 adds to cart and buys in one request, in that order: the cart makes them an abandoner just before the purchase.
    const u2 = [msg('u2', 'add_to_cart', t.clock.now()), msg('u2', 'purchase', t.clock.now() + 1000)];
    await batch(u2);
    expect(await balance('u2')).toBe(50);
    await batch(u2);
    expect(await balance('u2')).toBe(50);
    // u3 buys first and adds to cart after (one request, sent in reverse order): never an abandoner, nothing.
    await batch([msg('u3', 'add_to_cart', t.clock.now() + 1000), msg('u3', 'purchase', t.clock.now())]);
    expect(await balance('u3')).toBe(0);
    expect(await adminView('u3', checkout)).toBeUndefined();
    // One request of two people: u7 adds to cart then buys (paid), u8 buys then adds to cart (not).
    await batch([msg('u8', 'add_to_cart', t.clock.now() + 1000), msg('u7', 'add_to_cart', t.clock.now()), msg('u8', 'purchase', t.clock.now()), msg('u7', 'purchase', t.clock.now() + 1000)]);
    expect([await balance('u7'), await balance('u8')]).toEqual([50, 0]);
    // u4 and u5 buy at the same moment (one shared transaction); u6 buys twice in one request: paid once.
    await Promise.all(['u4', 'u5'].map((u) => track(u, 'purchase')));
    await batch([msg('u6', 'purchase', t.clock.now()), msg('u6', 'purchase', t.clock.now() + 1)]);
    expect([await balance('u4'), await balance('u5'), await balance('u6')]).toEqual([50, 50, 50]);
  });
});
