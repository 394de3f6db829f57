import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MissionStore, openSqlite, PointsStore, SqlStore } from '@strata/store';
import { testBackends } from '@strata/store/testing';
import { stopContext } from './bootstrap.ts';
import { DEFAULT_PROJECT, startTestApp, type TestApp } from './test-app.ts';

const backends = await testBackends();
const T0 = Date.UTC(2024, 5, 15, 12);
const MIN = 60_000, HOUR = 60 * MIN, DAY = 24 * HOUR;

/** Stops an app but leaves its store open, as a process exit leaves the database. */
async function stopApp(t: TestApp): Promise<void> {
  await t.app.close();
  await stopContext(t.ctx, { closeStore: false });
}

describe.each(backends.map((b) => [b.name, b] as const))('missions on %s', (_n, backend) => {
  let t: TestApp;
  let store: SqlStore;
  beforeEach(async () => {
    store = await backend.open();
    t = await startTestApp(store, T0);
  });
  afterEach(async () => t.close());

  let seq = 0;
  const track = async (userId: string, event: string, properties: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => {
    const r = await t.send('/v1/track', { userId, event, properties, messageId: `m${++seq}`, ...extra });
    expect(r.status).toBe(200);
    return r;
  };
  const balance = async (userId: string) => (await t.admin('GET', `/api/users/${userId}/points`)).body.balance as number;
  const userMissions = async (userId: string) => (await t.admin('GET', `/api/users/${userId}/missions`)).body.missions as any[];
  const progressOf = async (userId: string, missionId: string) => (await userMissions(userId)).find((m) => m.id === missionId)?.progress;
  const completedEvents = async (userId: string) =>
    ((await t.admin('GET', `/api/users/${userId}/events`)).body.events as any[]).filter((e) => e.event === '$mission_completed');
  const create = async (body: Record<string, unknown>) => {
    const r = await t.admin('POST', '/api/missions', { name: 'mission', points: 50, ...body });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body as { id: string; name: string };
  };
  const profileId = async (userId: string) => (await store.findProfile(DEFAULT_PROJECT, userId))!.id;

  it('CRUD: create, get, list, toggle, patch, delete; 404s name the id', async () => {
    const m = await create({ name: 'Shop 3 times', description: 'three purchases', goal: { kind: 'count', event: 'purchase', target: 3 }, repeatable: true, cooldown: '1d' });
    expect(m).toMatchObject({ name: 'Shop 3 times', description: 'three purchases', segmentIds: [], active: true, startsAt: null, endsAt: null, points: 50, repeatable: true, cooldown: '1d', goal: { kind: 'count', event: 'purchase', target: 3 } });
    expect((await t.admin('GET', `/api/missions/${m.id}`)).body).toEqual(m);
    expect((await t.admin('GET', '/api/missions')).body.missions).toEqual([m]);
    const off = await t.admin('PATCH', `/api/missions/${m.id}`, { active: false });
    expect(off.body).toMatchObject({ active: false, name: 'Shop 3 times', cooldown: '1d' });
    const once = await t.admin('PATCH', `/api/missions/${m.id}`, { repeatable: false, startsAt: '2024-07-01T00:00:00Z' });
    expect(once.body).toMatchObject({ repeatable: false, cooldown: null, startsAt: '2024-07-01T00:00:00.000Z' });
    // null clears a date or the cooldown (it is not read as "").
    const cleared = await t.admin('PATCH', `/api/missions/${m.id}`, { startsAt: null, endsAt: null, repeatable: true, cooldown: null });
    expect(cleared.status, JSON.stringify(cleared.body)).toBe(200);
    expect(cleared.body).toMatchObject({ startsAt: null, endsAt: null, repeatable: true, cooldown: null });
    expect((await t.admin('DELETE', `/api/missions/${m.id}`)).status).toBe(204);
    const gone = await t.admin('GET', `/api/missions/${m.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.message).toContain(m.id);
    expect((await t.admin('PATCH', '/api/missions/msn_nope', { active: true })).body.error).toMatchObject({ code: 'NOT_FOUND', message: 'no mission with id "msn_nope"' });
    expect((await t.admin('GET', '/api/missions/msn_nope/progress')).status).toBe(404);
    expect((await t.admin('GET', '/api/users/nobody/missions')).status).toBe(404);
    // Admin only.
    const r = await t.app.inject({ method: 'GET', url: '/api/missions', headers: { 'x-write-key': 'stw_test_write_key' } });
    expect(r.statusCode).toBe(401);
    // A targeted segment cannot be deleted; once no mission targets it, it can, and naming it again is a 400.
    const seg = (await t.admin('POST', '/api/segments', { name: 'temp', condition: { attr: 'known', op: 'eq', value: true } })).body.id as string;
    const targeted = await create({ goal: { kind: 'count', event: 'purchase', target: 1 }, segmentIds: [seg] });
    const refused = await t.admin('DELETE', `/api/segments/${seg}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain(`mission "${targeted.name}" (${targeted.id})`);
    expect(refused.body.error.message).toMatch(/^segment "temp" is targeted by /);
    expect((await t.admin('PATCH', `/api/missions/${targeted.id}`, { segmentIds: [] })).status).toBe(200);
    expect((await t.admin('DELETE', `/api/segments/${seg}`)).status).toBe(204);
    expect((await t.admin('PATCH', `/api/missions/${targeted.id}`, { active: false })).status).toBe(200);
    expect((await t.admin('PATCH', `/api/missions/${targeted.id}`, { segmentIds: [seg] })).body.error.issues).toEqual([{ path: '/segmentIds/0', message: `unknown segment id "${seg}"` }]);
    const doc = JSON.parse((await t.app.inject({ method: 'GET', url: '/openapi.json' })).payload);
    for (const p of ['/api/missions', '/api/missions/{id}', '/api/missions/{id}/progress', '/api/users/{id}/missions']) expect(doc.paths[p], p).toBeDefined();
    expect(doc.paths['/api/missions'].post.requestBody.content['application/json'].schema.properties.goal.description).toContain('streak');
  });

  it('refuses goals that cannot be met, and other bad input, with the JSON path at fault', async () => {
    const seg = (await t.admin('POST', '/api/segments', { name: 'vip', condition: { attr: 'traits.plan', op: 'eq', value: 'vip' } })).body.id as string;
    const cases: [Record<string, unknown>, string][] = [
      [{ goal: { kind: 'count', event: 'purchase', target: 0 } }, '/goal/target'],
      [{ goal: { kind: 'sum', event: 'purchase', prop: 'properties.amount', target: -5 } }, '/goal/target'],
      [{ goal: { kind: 'streak', event: '$session', days: 8, within: '7d' } }, '/goal/days'],
      [{ goal: { kind: 'distinctDays', event: 'open', target: 3, within: '2d' } }, '/goal/target'],
      [{ goal: { kind: 'streak', event: 'open', days: 5 }, startsAt: '2024-06-20T00:00:00Z', endsAt: '2024-06-23T00:00:00Z' }, '/goal/days'],
      [{ goal: { kind: 'count', event: 'purchase', target: 1 }, startsAt: '2024-06-20T00:00:00Z', endsAt: '2024-06-19T00:00:00Z' }, '/endsAt'],
      [{ goal: { kind: 'count', event: 'purchase', target: 1 }, endsAt: '2024-06-01T00:00:00Z' }, '/endsAt'],
      [{ goal: { kind: 'count', event: 'purchase', target: 1 }, startsAt: 'next tuesday' }, '/startsAt'],
      [{ goal: { kind: 'count', event: 'purchase', target: 1 }, segmentIds: [seg, 'seg_missing'] }, '/segmentIds/1'],
      [{ goal: { kind: 'count', event: '$mission_completed', target: 1 } }, '/goal/event'],
      [{ goal: { kind: 'count', event: '$segment_entered', target: 1 } }, '/goal/event'],
      [{ goal: { kind: 'count', event: 'purchase', where: [{ attr: 'properties.plan', op: 'equals', value: 'x' }], target: 1 } }, '/goal/where/0/op'],
      [{ goal: { kind: 'count', event: 'purchase', where: [{ attr: 'event', op: 'eq', value: 'refund' }], target: 1 } }, '/goal/where'],
      [{ goal: { kind: 'sum', event: 'purchase', target: 100 } }, '/goal/prop'],
      [{ goal: { kind: 'weekly', event: 'purchase', target: 1 } }, '/goal/kind'],
      [{ goal: { kind: 'count', event: 'purchase', target: 1 }, cooldown: '1d' }, '/cooldown'],
      [{ goal: { kind: 'count', event: 'purchase', target: 1 }, repeatable: true, cooldown: 'a day' }, '/cooldown'],
      [{ goal: { kind: 'count', event: 'purchase', target: 1 }, points: -1 }, '/points'],
      [{ goal: { kind: 'count', event: 'purchase', target: 1 }, bogus: 1 }, '/bogus'],
      [{}, '/goal'],
    ];
    for (const [body, path] of cases) {
      const r = await t.admin('POST', '/api/missions', { name: 'm', points: 10, ...body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_FAILED');
      expect(r.body.error.issues.map((i: { path: string }) => i.path), JSON.stringify(body)).toContain(path);
    }
    expect((await t.admin('GET', '/api/missions')).body.missions).toEqual([]);
    // A streak as long as its window is fine; so is PATCH that keeps it so, and a PATCH that breaks it is refused.
    const ok = await create({ goal: { kind: 'streak', event: '$session', days: 7, within: '7d' } });
    const bad = await t.admin('PATCH', `/api/missions/${ok.id}`, { goal: { kind: 'streak', event: '$session', days: 9, within: '7d' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues[0].path).toBe('/goal/days');
  });

  it('count: completes at exactly the Nth matching event, awards once, emits $mission_completed that segments read', async () => {
    const m = await create({ name: 'Three pro purchases', goal: { kind: 'count', event: 'purchase', where: [{ attr: 'properties.plan', op: 'eq', value: 'pro' }], target: 3 } });
    const done = (await t.admin('POST', '/api/segments', { name: 'did it', condition: { event: '$mission_completed', where: [{ attr: 'properties.missionId', op: 'eq', value: m.id }] } })).body.id as string;
    t.clock.advance(MIN);
    await track('u1', 'purchase', { plan: 'pro' });
    await track('u1', 'purchase', { plan: 'basic' });
    await track('u1', 'view', { plan: 'pro' });
    await track('u1', 'purchase', { plan: 'pro' });
    expect(await progressOf('u1', m.id)).toMatchObject({ current: 2, target: 3, completions: 0, completed: false, startedAt: new Date(T0 + MIN).toISOString() });
    expect(await balance('u1')).toBe(0);
    expect(await completedEvents('u1')).toEqual([]);
    t.clock.advance(MIN);
    await track('u1', 'purchase', { plan: 'pro' });
    expect(await progressOf('u1', m.id)).toMatchObject({ current: 3, completions: 1, completed: true, lastCompletedAt: new Date(T0 + 2 * MIN).toISOString() });
    expect(await balance('u1')).toBe(50);
    const evs = await completedEvents('u1');
    expect(evs).toHaveLength(1);
    expect(evs[0]).toMatchObject({ properties: { missionId: m.id, missionName: 'Three pro purchases', points: 50 }, timestamp: new Date(T0 + 2 * MIN).toISOString() });
    // The segment on $mission_completed has the user, in the same transaction.
    expect((await t.admin('GET', '/api/users/u1/segments')).body.segments.map((s: { id: string }) => s.id)).toContain(done);
    // A segment defined afterwards finds the stored event too.
    const later = (await t.admin('POST', '/api/segments', { name: 'did it later', condition: { event: '$mission_completed', where: [{ attr: 'properties.missionId', op: 'eq', value: m.id }] } })).body;
    expect(later.size).toBe(1);
    // Once only: more purchases add nothing.
    await track('u1', 'purchase', { plan: 'pro' });
    await track('u1', 'purchase', { plan: 'pro' });
    await track('u1', 'purchase', { plan: 'pro' });
    expect(await balance('u1')).toBe(50);
    expect(await completedEvents('u1')).toHaveLength(1);
    const ledger = (await t.admin('GET', '/api/users/u1/points')).body.entries;
    expect(ledger).toEqual([expect.objectContaining({ kind: 'earn', amount: 50, ref: `mission:${m.id}:${await profileId('u1')}:1`, reason: 'mission "Three pro purchases" completed' })]);
    const page = (await t.admin('GET', `/api/missions/${m.id}/progress`)).body;
    expect(page).toEqual({ progress: [expect.objectContaining({ userId: 'u1', current: 3, target: 3, completions: 1, completed: true })], nextCursor: null });
  });

  it('events before the mission was created or before startsAt, or at/after endsAt, never count', async () => {
    await track('u1', 'purchase', {}, { timestamp: new Date(T0 - HOUR).toISOString() });
    const m = await create({ goal: { kind: 'count', event: 'purchase', target: 2 }, startsAt: new Date(T0 + HOUR).toISOString(), endsAt: new Date(T0 + 3 * HOUR).toISOString() });
    t.clock.advance(MIN);
    await track('u1', 'purchase');
    expect(await userMissions('u1')).toEqual([]);
    t.clock.advance(HOUR);
    await track('u1', 'purchase', {}, { timestamp: new Date(T0 + 30 * MIN).toISOString() });
    await track('u1', 'purchase');
    expect(await progressOf('u1', m.id)).toMatchObject({ current: 1 });
    t.clock.t = T0 + 3 * HOUR;
    await track('u1', 'purchase');
    expect(await userMissions('u1')).toMatchObject([{ id: m.id, eligible: false, progress: { current: 1, completed: false } }]);
    expect(await balance('u1')).toBe(0);
  });

  it('distinctDays: completes on the Nth distinct UTC day', async () => {
    const m = await create({ goal: { kind: 'distinctDays', event: 'open', target: 3, within: '7d' } });
    for (const at of [T0 + MIN, T0 + 2 * MIN, T0 + DAY, T0 + DAY + HOUR]) {
      t.clock.t = at;
      await track('u1', 'open');
    }
    expect(await progressOf('u1', m.id)).toMatchObject({ current: 2, completed: false, expiresAt: new Date(T0 + MIN + 7 * DAY).toISOString() });
    t.clock.t = T0 + 3 * DAY;
    await track('u1', 'open');
    expect(await progressOf('u1', m.id)).toMatchObject({ current: 3, completed: true, lastCompletedAt: new Date(T0 + 3 * DAY).toISOString() });
    expect(await balance('u1')).toBe(50);
  });

  it('streak: "come back 3 days in a row" over visits; a missed day starts again; completes on the 3rd day', async () => {
    const m = await create({ goal: { kind: 'streak', event: '$session', days: 3 } });
    const visit = async (at: number) => { t.clock.t = at; await track('u1', 'open'); };
    await visit(T0 + MIN);
    await visit(T0 + 5 * MIN); // same visit
    await visit(T0 + DAY);
    expect(await progressOf('u1', m.id)).toMatchObject({ current: 2, completed: false });
    // Day 2 is missed: at day 3 the streak shows as broken before any event.
    t.clock.t = T0 + 3 * DAY;
    expect(await progressOf('u1', m.id)).toMatchObject({ current: 0 });
    await visit(T0 + 3 * DAY);
    await visit(T0 + 4 * DAY);
    expect(await progressOf('u1', m.id)).toMatchObject({ current: 2, completed: false });
    expect(await balance('u1')).toBe(0);
    await visit(T0 + 5 * DAY);
    expect(await progressOf('u1', m.id)).toMatchObject({ current: 3, completed: true, lastCompletedAt: new Date(T0 + 5 * DAY).toISOString() });
    expect(await balance('u1')).toBe(50);
  });

  it('sum: spend ≥ 100 completes at the purchase that reaches it; out-of-order events count where they belong', async () => {
    const m = await create({ goal: { kind: 'sum', event: 'purchase', prop: 'properties.amount', target: 100 } });
    t.clock.advance(HOUR);
    await track('u1', 'purchase', { amount: 40 }, { timestamp: new Date(T0 + 10 * MIN).toISOString() });
    await track('u1', 'purchase', { amount: 'a lot' }, { timestamp: new Date(T0 + 20 * MIN).toISOString() });
    await track('u1', 'purchase', { amount: '50' }, { timestamp: new Date(T0 + 40 * MIN).toISOString() });
    expect(await progressOf('u1', m.id)).toMatchObject({ current: 90, completed: false });
    // Arrives last but happened at minute 30: the goal is met at minute 40's purchase.
    await track('u1', 'purchase', { amount: 15 }, { timestamp: new Date(T0 + 30 * MIN).toISOString() });
    expect(await progressOf('u1', m.id)).toMatchObject({ current: 105, completed: true, lastCompletedAt: new Date(T0 + 40 * MIN).toISOString() });
    expect((await completedEvents('u1'))[0].timestamp).toBe(new Date(T0 + 40 * MIN).toISOString());
    expect(await balance('u1')).toBe(50);
  });

  it('targets segments: outside gets no progress or completion; a user who leaves keeps the attempt under way', async () => {
    const vip = (await t.admin('POST', '/api/segments', { name: 'vip', condition: { attr: 'traits.plan', op: 'eq', value: 'vip' } })).body.id as string;
    const other = (await t.admin('POST', '/api/segments', { name: 'beta', condition: { attr: 'labels', op: 'contains', value: 'beta' } })).body.id as string;
    const m = await create({ goal: { kind: 'count', event: 'purchase', target: 3 }, segmentIds: [other, vip] });
    const everyone = await create({ name: 'for all', goal: { kind: 'count', event: 'purchase', target: 100 } });
    t.clock.advance(MIN);
    for (const u of ['u1', 'u2']) expect((await t.send('/v1/identify', { userId: u, traits: { plan: u === 'u1' ? 'vip' : 'basic' } })).status).toBe(200);
    for (let i = 0; i < 3; i++) { await track('u2', 'purchase'); await track('u1', 'purchase'); }
    expect(await balance('u1')).toBe(50);
    expect(await balance('u2')).toBe(0);
    expect((await userMissions('u2')).map((x) => x.id)).toEqual([everyone.id]);
    expect((await t.admin('GET', `/api/missions/${m.id}/progress`)).body.progress.map((p: { userId: string }) => p.userId)).toEqual(['u1']);
    expect(await t.ctx.missions.forUser(store, DEFAULT_PROJECT, await profileId('u2'), t.clock.now())).toMatchObject([{ id: everyone.id, progress: { current: 3 } }]);

    // u3 starts as a VIP, then leaves the segment: the attempt under way stays theirs, and the third purchase completes it.
    expect((await t.send('/v1/identify', { userId: 'u3', traits: { plan: 'vip' } })).status).toBe(200);
    await track('u3', 'purchase');
    await track('u3', 'purchase');
    expect((await t.send('/v1/identify', { userId: 'u3', traits: { plan: 'basic' } })).status).toBe(200);
    expect((await t.admin('GET', '/api/users/u3/segments')).body.segments.map((x: { id: string }) => x.id)).not.toContain(vip);
    expect((await userMissions('u3')).find((x) => x.id === m.id)).toMatchObject({ eligible: true, progress: { current: 2, completions: 0, completed: false } });
    // The SDK's targeting answer shows the same: the started mission does not vanish.
    const sdk = async (query: string) => JSON.parse((await t.app.inject({ method: 'GET', url: `/v1/targeting?${query}`, headers: { 'x-write-key': 'stw_test_write_key' } })).payload);
    expect((await sdk('userId=u3')).missions.find((x: { id: string }) => x.id === m.id)).toMatchObject({ progress: { current: 2, completed: false } });
    await track('u3', 'purchase');
    expect(await balance('u3')).toBe(50);
    await track('u3', 'purchase');
    expect(await balance('u3')).toBe(50);
    // Completed and outside every target segment: the SDK no longer offers it; the admin still sees it, not eligible.
    expect((await t.ctx.missions.forUser(store, DEFAULT_PROJECT, await profileId('u3'), t.clock.now())).map((x) => x.id)).toEqual([everyone.id]);
    expect((await userMissions('u3')).find((x) => x.id === m.id)).toMatchObject({ eligible: false, progress: { current: 3, completions: 1, completed: true } });
    expect((await sdk('userId=u3')).missions).toEqual([expect.objectContaining({ id: everyone.id, progress: expect.objectContaining({ current: 4, target: 100 }) })]);
    expect((await sdk('userId=u1')).missions.map((x: { id: string }) => x.id).sort()).toEqual([m.id, everyone.id].sort());
    expect((await sdk('anonymousId=stranger')).missions).toEqual([expect.objectContaining({ id: everyone.id, progress: expect.objectContaining({ current: 0, startedAt: null }) })]);
    // u4 buys twice before joining a target segment: those purchases were made outside it and never count; the next one does.
    await track('u4', 'purchase');
    await track('u4', 'purchase');
    expect((await userMissions('u4')).map((x) => x.id)).toEqual([everyone.id]);
    expect((await t.admin('POST', '/api/users/u4/labels', { add: ['beta'] })).status).toBe(200);
    t.clock.advance(MIN);
    await track('u4', 'purchase');
    expect(await progressOf('u4', m.id)).toMatchObject({ current: 1, completed: false });
    expect(await balance('u4')).toBe(0);
  });

  it('inactive (the toggle) and outside its dates: no progress and no completion', async () => {
    const m = await create({ goal: { kind: 'count', event: 'purchase', target: 2 }, active: false });
    t.clock.advance(MIN);
    await track('u1', 'purchase');
    await track('u1', 'purchase');
    expect(await userMissions('u1')).toEqual([]);
    expect((await t.admin('GET', `/api/missions/${m.id}/progress`)).body.progress).toEqual([]);
    expect((await t.admin('PATCH', `/api/missions/${m.id}`, { active: true })).body.active).toBe(true);
    t.clock.advance(MIN);
    await track('u1', 'purchase');
    // The user starts with their first event counted while the mission is on.
    expect(await progressOf('u1', m.id)).toMatchObject({ current: 1, startedAt: new Date(T0 + 2 * MIN).toISOString() });
    await t.admin('PATCH', `/api/missions/${m.id}`, { active: false });
    await track('u1', 'purchase');
    expect(await balance('u1')).toBe(0);
    expect((await userMissions('u1'))[0]).toMatchObject({ active: false, eligible: false, progress: { current: 1 } });
    const future = await create({ name: 'later', goal: { kind: 'count', event: 'purchase', target: 1 }, startsAt: new Date(T0 + DAY).toISOString() });
    await track('u1', 'purchase');
    expect((await userMissions('u1')).map((x) => x.id)).not.toContain(future.id);
  });

  it('awards exactly once: the same batch twice (also concurrently), a retried request', async () => {
    const m = await create({ goal: { kind: 'count', event: 'purchase', target: 3 } });
    t.clock.advance(MIN);
    const batch = { batch: [1, 2, 3].map((i) => ({ type: 'track', userId: 'u1', event: 'purchase', messageId: `b${i}` })) };
    const [a, b] = await Promise.all([t.send('/v1/batch', batch), t.send('/v1/batch', batch)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect((await t.send('/v1/batch', batch)).status).toBe(200);
    const retry = { userId: 'u1', event: 'purchase', messageId: 'b3' };
    expect((await t.send('/v1/track', retry)).status).toBe(200);
    expect(await balance('u1')).toBe(50);
    expect(await completedEvents('u1')).toHaveLength(1);
    expect(await progressOf('u1', m.id)).toMatchObject({ current: 3, completions: 1 });
    const pid = await profileId('u1');
    expect(await new MissionStore(store).completionsOf(DEFAULT_PROJECT, m.id, pid)).toEqual([expect.objectContaining({ n: 1, ref: `mission:${m.id}:${pid}:1`, at: T0 + MIN, points: 50 })]);
    expect((await new PointsStore(store).byRef(DEFAULT_PROJECT, `mission:${m.id}:${pid}:1`))?.amount).toBe(50);
  });

  it('repeatable with a cooldown: each completion pays once; events in the cooldown do not count', async () => {
    const m = await create({ goal: { kind: 'count', event: 'checkin', target: 2 }, points: 10, repeatable: true, cooldown: '1h' });
    const at = async (minutes: number) => { t.clock.t = T0 + minutes * MIN; await track('u1', 'checkin'); };
    await at(1);
    await at(2);
    expect(await balance('u1')).toBe(10);
    expect(await progressOf('u1', m.id)).toMatchObject({ current: 0, completions: 1, completed: true, availableAt: new Date(T0 + 62 * MIN).toISOString() });
    await at(3);
    await at(30);
    expect(await balance('u1')).toBe(10);
    await at(70);
    expect(await progressOf('u1', m.id)).toMatchObject({ current: 1, completions: 1, availableAt: null });
    await at(71);
    expect(await balance('u1')).toBe(20);
    expect(await progressOf('u1', m.id)).toMatchObject({ current: 0, completions: 2, lastCompletedAt: new Date(T0 + 71 * MIN).toISOString() });
    expect((await completedEvents('u1')).map((e) => e.timestamp)).toEqual([new Date(T0 + 71 * MIN).toISOString(), new Date(T0 + 2 * MIN).toISOString()]);
    const pid = await profileId('u1');
    expect((await new MissionStore(store).completionsOf(DEFAULT_PROJECT, m.id, pid)).map((c) => c.ref)).toEqual([`mission:${m.id}:${pid}:1`, `mission:${m.id}:${pid}:2`]);
  });

  it('survives a restart: progress carries over, the completion pays once, resent events add nothing', async () => {
    const m = await create({ goal: { kind: 'count', event: 'purchase', target: 3 }, points: 25, repeatable: true });
    t.clock.advance(MIN);
    const first = { batch: [1, 2].map((i) => ({ type: 'track', userId: 'u1', event: 'purchase', messageId: `r${i}` })) };
    expect((await t.send('/v1/batch', first)).status).toBe(200);
    await stopApp(t);
    t = await startTestApp(store, t.clock.t + MIN);
    expect(await progressOf('u1', m.id)).toMatchObject({ current: 2, completions: 0 });
    expect((await t.send('/v1/batch', first)).status).toBe(200);
    expect(await balance('u1')).toBe(0);
    expect((await t.send('/v1/track', { userId: 'u1', event: 'purchase', messageId: 'r3' })).status).toBe(200);
    expect(await balance('u1')).toBe(25);
    await stopApp(t);
    t = await startTestApp(store, t.clock.t + MIN);
    expect((await t.send('/v1/batch', { batch: [1, 2, 3].map((i) => ({ type: 'track', userId: 'u1', event: 'purchase', messageId: `r${i}` })) })).status).toBe(200);
    expect(await balance('u1')).toBe(25);
    expect(await progressOf('u1', m.id)).toMatchObject({ current: 0, completions: 1 });
    expect(await completedEvents('u1')).toHaveLength(1);
  });

  it('progress follows an anonymous user who logs in (merge keeps the larger progress)', async () => {
    const m = await create({ goal: { kind: 'count', event: 'purchase', target: 3 } });
    t.clock.advance(MIN);
    await t.send('/v1/track', { anonymousId: 'a1', event: 'purchase', messageId: 'x1' });
    await t.send('/v1/track', { anonymousId: 'a1', event: 'purchase', messageId: 'x2' });
    await track('u1', 'purchase');
    expect((await t.send('/v1/identify', { userId: 'u1', anonymousId: 'a1', messageId: 'x3' })).status).toBe(200);
    // All three purchases are now the known user's: the merge completes the mission.
    expect(await progressOf('u1', m.id)).toMatchObject({ current: 3, completions: 1 });
    expect(await balance('u1')).toBe(50);
    expect((await t.admin('GET', `/api/missions/${m.id}/progress`)).body.progress).toHaveLength(1);
  });

  it('"*" counts any event the user causes (never derived ones); where filters may read the context', async () => {
    const m = await create({ goal: { kind: 'count', event: '*', where: [{ attr: 'context.locale', op: 'eq', value: 'fr-FR' }], target: 3 } });
    t.clock.advance(MIN);
    await track('u1', 'open', {}, { context: { locale: 'fr-FR' } });
    await track('u1', 'open', {}, { context: { locale: 'en-GB' } });
    expect((await t.send('/v1/page', { userId: 'u1', name: 'Home', properties: { path: '/' }, context: { locale: 'fr-FR' } })).status).toBe(200);
    // Two counted events so far; the derived $session visit (same context) is not one of them.
    expect(await progressOf('u1', m.id)).toMatchObject({ current: 2, completed: false });
    expect((await t.send('/v1/identify', { userId: 'u1', traits: { a: 1 }, context: { locale: 'fr-FR' } })).status).toBe(200);
    expect(await progressOf('u1', m.id)).toMatchObject({ current: 3, completed: true });
    expect(await balance('u1')).toBe(50);
  });

  it('pages the per-user progress by cursor', async () => {
    const m = await create({ goal: { kind: 'count', event: 'purchase', target: 5 } });
    t.clock.advance(MIN);
    for (const u of ['u1', 'u2', 'u3']) await track(u, 'purchase');
    const p1 = (await t.admin('GET', `/api/missions/${m.id}/progress?limit=2`)).body;
    expect(p1.progress.map((p: { userId: string }) => p.userId)).toEqual(['u1', 'u2']);
    const p2 = (await t.admin('GET', `/api/missions/${m.id}/progress?limit=2&cursor=${p1.nextCursor}`)).body;
    expect(p2).toMatchObject({ progress: [{ userId: 'u3', current: 1, target: 5 }], nextCursor: null });
    expect((await t.admin('GET', `/api/missions/${m.id}/progress?cursor=zzz`)).status).toBe(400);
  });
});

describe('missions across a restart of the embedded store (a file on disk)', () => {
  it('keeps progress and pays a completion exactly once after the process comes back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-missions-'));
    const open = async () => {
      const s = new SqlStore(openSqlite({ filename: join(dir, 'strata.db') }).db, 'sqlite');
      await s.migrate();
      return s;
    };
    try {
      let t = await startTestApp(await open(), T0);
      const m = (await t.admin('POST', '/api/missions', { name: 'three', points: 30, goal: { kind: 'count', event: 'buy', target: 3 } })).body;
      t.clock.advance(MIN);
      const batch = (ids: number[]) => ({ batch: ids.map((i) => ({ type: 'track', userId: 'u1', event: 'buy', messageId: `d${i}` })) });
      expect((await t.send('/v1/batch', batch([1, 2]))).status).toBe(200);
      await t.close();

      t = await startTestApp(await open(), T0 + 2 * MIN);
      expect((await t.admin('GET', '/api/users/u1/missions')).body.missions[0].progress).toMatchObject({ current: 2, completions: 0 });
      expect((await t.send('/v1/batch', batch([1, 2, 3]))).status).toBe(200);
      expect((await t.admin('GET', '/api/users/u1/points')).body.balance).toBe(30);
      await t.close();

      t = await startTestApp(await open(), T0 + 3 * MIN);
      expect((await t.send('/v1/batch', batch([1, 2, 3, 4]))).status).toBe(200);
      expect((await t.admin('GET', '/api/users/u1/points')).body.balance).toBe(30);
      expect((await t.admin('GET', `/api/missions/${m.id}/progress`)).body.progress).toMatchObject([{ userId: 'u1', completions: 1 }]);
      await t.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
