import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Json } from '@strata/core';
import { oracleMembers } from '@strata/core/testing';
import { generateBatches } from '@strata/datagen';
import { testBackends } from '@strata/store/testing';
import { DEFAULT_PROJECT, startTestApp, type TestApp } from './test-app.ts';

const backends = await testBackends();
const T0 = Date.UTC(2024, 5, 15, 12);

const REFERENCE_EXAMPLES: Record<string, Json> = {
  pricing: { event: '$pageview', where: [{ attr: 'properties.path', op: 'eq', value: '/pricing' }], window: { within: '30d' }, cmp: { op: 'gte', value: 5 } },
  cart: { all: [{ event: 'add_to_cart', window: { within: '7d' } }, { not: { event: 'purchase', window: { within: '7d' } } }] },
  vip: { any: [{ attr: 'traits.plan', op: 'eq', value: 'vip' }, { event: 'purchase', agg: { fn: 'sum', prop: 'properties.revenue' }, cmp: { op: 'gte', value: 500 } }] },
  resurrected: { all: [{ event: '*', window: { within: '7d' } }, { event: '*', window: { from: '37d', to: '7d' }, cmp: { op: 'eq', value: 0 } }, { event: '*', window: { from: '10000d', to: '37d' } }] },
};

describe.each(backends.map((b) => [b.name, b] as const))('segments API on %s', (_n, backend) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp(await backend.open(), T0);
  });
  afterEach(async () => t.close());

  const ids = (members: { userId: string | null; anonymousId: string | null }[]) => members.map((m) => m.userId ?? m.anonymousId).sort();
  const allMembers = async (id: string, limit = 1000) => {
    const out: { userId: string | null; anonymousId: string | null }[] = [];
    let cursor: string | null = null;
    do {
      const r: { body: { members: typeof out; nextCursor: string | null } } = await t.admin('GET', `/api/segments/${id}/members?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      out.push(...r.body.members);
      cursor = r.body.nextCursor;
    } while (cursor);
    return out;
  };

  it('gives each example of the condition language (docs/reference.md §3) exactly the members the naive oracle finds', async () => {
    for (const batch of generateBatches({ seed: 7, users: 300, end: T0 }, 400)) {
      expect((await t.send('/v1/batch', { batch })).status).toBe(200);
    }
    // Read from the store itself below: the acknowledged batches must be applied first.
    await t.ctx.ingest.drain();
    const store = t.ctx.store;
    const total = await store.countProfiles(DEFAULT_PROJECT);
    const data = await store.profilesWithEvents(DEFAULT_PROJECT, await store.profileIds(DEFAULT_PROJECT));
    expect(data.length).toBe(total);
    const keyToId = new Map(data.map((d) => [d.profile.key, d.profile.userId ?? d.profile.anonymousId]));
    for (const [name, condition] of Object.entries(REFERENCE_EXAMPLES)) {
      const created = await t.admin('POST', '/api/segments', { name, condition });
      expect(created.status).toBe(201);
      const want = oracleMembers(condition, data, {}, T0).map((k) => keyToId.get(k)).sort();
      expect(want.length, `${name} should match someone in the generated data`).toBeGreaterThan(0);
      expect(want.length, `${name} should not match everyone`).toBeLessThan(total);
      expect(created.body.size).toBe(want.length);
      expect(ids(await allMembers(created.body.id, 37))).toEqual(want);
      const preview = await t.admin('POST', '/api/segments/preview', { condition });
      expect(preview.body.count).toBe(want.length);
      expect(preview.body.total).toBe(total);
    }
    // The list's sizes (from the engine's memory) are the stored memberships' counts.
    const counted = await store.segmentSizes(DEFAULT_PROJECT);
    const listed: { id: string; size: number }[] = (await t.admin('GET', '/api/segments')).body.segments;
    expect(listed.length).toBe(Object.keys(REFERENCE_EXAMPLES).length);
    for (const s of listed) expect(s.size, s.id).toBe(counted.get(s.id) ?? 0);
  });

  it('creates, lists, gets, changes and deletes segments, recomputing on a definition change', async () => {
    await t.send('/v1/identify', { userId: 'a', traits: { plan: 'pro' } });
    await t.send('/v1/identify', { userId: 'b', traits: { plan: 'free' } });
    const c = await t.admin('POST', '/api/segments', { name: 'Pro', description: 'paying', condition: { attr: 'traits.plan', op: 'eq', value: 'pro' } });
    expect(c.status).toBe(201);
    expect(c.body).toMatchObject({ name: 'Pro', description: 'paying', size: 1, include: [], exclude: [], template: null });
    // The condition comes back as it was given, in every answer.
    expect(c.body.condition).toEqual({ attr: 'traits.plan', op: 'eq', value: 'pro' });
    expect((await t.admin('GET', `/api/segments/${c.body.id}`)).body.condition).toEqual({ attr: 'traits.plan', op: 'eq', value: 'pro' });
    expect((await t.admin('GET', '/api/segments')).body.segments.map((s: { name: string }) => s.name)).toEqual(['Pro']);
    expect((await t.admin('GET', `/api/segments/${c.body.id}`)).body.size).toBe(1);
    const p = await t.admin('PATCH', `/api/segments/${c.body.id}`, { condition: { attr: 'traits.plan', op: 'in', value: ['pro', 'free'] } });
    expect(p.status).toBe(200);
    expect(p.body.size).toBe(2);
    expect(p.body.description).toBe('paying');
    expect((await t.admin('GET', '/api/users/b/segments')).body.segments.map((s: { name: string }) => s.name)).toEqual(['Pro']);
    expect((await t.admin('DELETE', `/api/segments/${c.body.id}`)).status).toBe(204);
    expect((await t.admin('GET', `/api/segments/${c.body.id}`)).status).toBe(404);
    expect((await t.admin('GET', '/api/users/b/segments')).body.segments).toEqual([]);
  });

  it('keeps membership current as events arrive', async () => {
    const s = await t.admin('POST', '/api/segments', { name: 'Buyers 2+', condition: { event: 'purchase', window: { within: '7d' }, cmp: { op: 'gte', value: 2 } } });
    await t.send('/v1/track', { userId: 'c', event: 'purchase' });
    expect((await t.admin('GET', '/api/users/c/segments')).body.segments).toEqual([]);
    t.clock.advance(60_000);
    await t.send('/v1/track', { userId: 'c', event: 'purchase' });
    const segs = (await t.admin('GET', '/api/users/c/segments')).body.segments;
    expect(segs).toEqual([{ id: s.body.id, name: 'Buyers 2+', since: new Date(T0 + 60_000).toISOString() }]);
  });

  it('rejects bad definitions with the path of each fault, unknown fields, clashing names and unknown ids', async () => {
    const bad = await t.admin('POST', '/api/segments', { name: 'x', condition: { all: [{ attr: 'traits.a', op: 'equals', value: 1 }, { event: 'a', window: { within: '3y' } }] } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
    expect(bad.body.error.issues.map((i: { path: string }) => i.path)).toEqual(['/condition/all/0/op', '/condition/all/1/window/within']);
    const unknownField = await t.admin('POST', '/api/segments', { name: 'x', condition: null, colour: 'red' });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.error.issues[0].path).toBe('/colour');
    const noName = await t.admin('POST', '/api/segments', { condition: null });
    expect(noName.body.error.issues[0].path).toBe('/name');
    const ref = await t.admin('POST', '/api/segments', { name: 'y', condition: { segment: 'seg_nope' } });
    expect(ref.body.error.issues[0]).toEqual({ path: '/condition/segment', message: 'unknown segment id "seg_nope"' });
    expect((await t.admin('POST', '/api/segments', { name: 'Same', condition: null })).status).toBe(201);
    const clash = await t.admin('POST', '/api/segments', { name: 'Same', condition: null });
    expect(clash.status).toBe(409);
    expect(clash.body.error.code).toBe('CONFLICT');
    expect((await t.admin('PATCH', '/api/segments/seg_nope', { name: 'z' })).status).toBe(404);
    expect((await t.admin('GET', '/api/users/nobody')).status).toBe(404);
    expect((await t.admin('GET', '/api/segments/x/members?limit=0')).status).toBe(400);
    const malformed = await t.app.inject({ method: 'POST', url: '/api/segments', headers: { authorization: `Bearer ${(await import('./test-app.ts')).ADMIN}`, 'content-type': 'application/json' }, payload: '{"name":' });
    expect(malformed.statusCode).toBe(400);
  });

  it('answers 401 and 403 for missing, wrong and write-only credentials', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/api/segments' })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/api/segments', headers: { authorization: 'Bearer wrong' } })).statusCode).toBe(401);
    const w = await t.app.inject({ method: 'GET', url: '/api/segments', headers: { authorization: `Bearer ${(await import('./test-app.ts')).WRITE}` } });
    expect(w.statusCode).toBe(403);
    expect(w.json().error.code).toBe('FORBIDDEN');
  });

  it('nests segments and refuses to delete one that another references, or to make a cycle', async () => {
    await t.send('/v1/identify', { userId: 'd', traits: { plan: 'vip', country: 'GB' } });
    const vip = await t.admin('POST', '/api/segments', { name: 'VIP', condition: { attr: 'traits.plan', op: 'eq', value: 'vip' } });
    const ukVip = await t.admin('POST', '/api/segments', { name: 'UK VIP', condition: { all: [{ segment: vip.body.id }, { attr: 'traits.country', op: 'eq', value: 'GB' }] } });
    expect(ukVip.body.size).toBe(1);
    const refused = await t.admin('DELETE', `/api/segments/${vip.body.id}`);
    expect(refused.status).toBe(409);
    // Said in names (the admin UI shows it as written).
    expect(refused.body.error.message).toBe('segment "VIP" is used in the condition of segment "UK VIP"; change those first');
    const cycle = await t.admin('PATCH', `/api/segments/${vip.body.id}`, { condition: { segment: ukVip.body.id } });
    expect(cycle.status).toBe(400);
    expect(cycle.body.error.issues[0].message).toMatch(/cycle/);
    // Changing the inner segment recomputes the outer one.
    await t.admin('PATCH', `/api/segments/${vip.body.id}`, { condition: { attr: 'traits.plan', op: 'eq', value: 'gold' } });
    expect((await t.admin('GET', `/api/segments/${ukVip.body.id}`)).body.size).toBe(0);
  });

  it('adds users by id (creating unseen ones when asked), removes includes and excludes condition matches', async () => {
    await t.send('/v1/identify', { userId: 'e', traits: { plan: 'pro' } });
    const s = await t.admin('POST', '/api/segments', { name: 'Pro', condition: { attr: 'traits.plan', op: 'eq', value: 'pro' } });
    const add = await t.admin('POST', `/api/segments/${s.body.id}/members`, { userIds: ['new-user', 'e'], createMissing: true });
    expect(add.status).toBe(200);
    expect(add.body.created).toEqual(['new-user']);
    expect(add.body.include).toEqual(['e', 'new-user']);
    expect(add.body.size).toBe(2);
    const fresh = (await t.admin('GET', '/api/users/new-user')).body;
    expect(fresh).toMatchObject({ userId: 'new-user', firstSeen: null, segments: [{ id: s.body.id, name: 'Pro' }] });
    expect((await t.admin('DELETE', `/api/segments/${s.body.id}/members/new-user`)).status).toBe(204);
    expect((await t.admin('DELETE', `/api/segments/${s.body.id}/members/e`)).status).toBe(204);
    const after = (await t.admin('GET', `/api/segments/${s.body.id}`)).body;
    expect(after).toMatchObject({ size: 0, include: [], exclude: ['e'] });
    await t.admin('POST', `/api/segments/${s.body.id}/members`, { userIds: ['e'] });
    expect((await t.admin('GET', `/api/segments/${s.body.id}`)).body).toMatchObject({ size: 1, include: ['e'], exclude: [] });
    expect((await t.admin('DELETE', `/api/segments/${s.body.id}/members/ghost`)).status).toBe(404);
  });

  it('refuses ids never seen with 409 naming each one, adding nothing, unless createMissing', async () => {
    await t.send('/v1/identify', { userId: 'known-1' });
    await t.send('/v1/page', { anonymousId: 'anon-1', name: 'Home' });
    const s = await t.admin('POST', '/api/segments', { name: 'Hand-picked', condition: null });
    const url = `/api/segments/${s.body.id}/members`;
    const refused = await t.admin('POST', url, { userIds: ['known-1', 'typo-1', 'anon-1', 'typo-2'] });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('CONFLICT');
    expect(refused.body.error.message).toMatch(/2 ids were never seen: "typo-1", "typo-2"; nothing was added/);
    expect(refused.body.error.issues).toEqual([
      { path: '/userIds/1', message: 'no user was ever seen with id "typo-1"' },
      { path: '/userIds/3', message: 'no user was ever seen with id "typo-2"' },
    ]);
    // Nothing was added and no profile was made.
    expect((await t.admin('GET', `/api/segments/${s.body.id}`)).body).toMatchObject({ size: 0, include: [] });
    expect((await t.admin('GET', '/api/users/typo-1')).status).toBe(404);
    // Known ids (a userId, an anonymousId) go in without the flag; created is empty.
    const ok = await t.admin('POST', url, { userIds: ['known-1', 'anon-1'] });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ size: 2, created: [] });
    const made = await t.admin('POST', url, { userIds: ['typo-2'], createMissing: true });
    expect(made.body).toMatchObject({ size: 3, created: ['typo-2'] });
    expect((await t.admin('GET', '/api/users/typo-2')).body).toMatchObject({ userId: 'typo-2', firstSeen: null });
    // An over-long id is a 400 at its path, not a 500 or a new profile.
    const long = await t.admin('POST', url, { userIds: ['x'.repeat(257)] });
    expect(long.status).toBe(400);
    expect(long.body.error.issues[0].path).toBe('/userIds/0');
  });

  it('marks the members added by hand in the member listing', async () => {
    await t.send('/v1/batch', { batch: ['p1', 'p2', 'p3'].map((userId) => ({ type: 'identify', userId, traits: { plan: userId === 'p3' ? 'free' : 'pro' } })) });
    const s = await t.admin('POST', '/api/segments', { name: 'Pro', condition: { attr: 'traits.plan', op: 'eq', value: 'pro' } });
    // p2 both matches and is included: it counts as added by hand.
    expect((await t.admin('POST', `/api/segments/${s.body.id}/members`, { userIds: ['p2', 'p3'] })).status).toBe(200);
    const page = (await t.admin('GET', `/api/segments/${s.body.id}/members`)).body;
    expect(page.members.map((m: { userId: string; manual: boolean }) => [m.userId, m.manual])).toEqual([['p1', false], ['p2', true], ['p3', true]]);
    await t.admin('DELETE', `/api/segments/${s.body.id}/members/p2`);
    await t.admin('POST', `/api/segments/${s.body.id}/members`, { userIds: ['p1'] });
    const after = (await t.admin('GET', `/api/segments/${s.body.id}/members`)).body;
    expect(after.members.map((m: { userId: string; manual: boolean }) => [m.userId, m.manual])).toEqual([['p1', true], ['p3', true]]);
  });

  it('pages members with a cursor, each member exactly once', async () => {
    const batch = Array.from({ length: 120 }, (_, i) => ({ type: 'identify', userId: `m${String(i).padStart(3, '0')}`, traits: { n: i } }));
    await t.send('/v1/batch', { batch });
    const s = await t.admin('POST', '/api/segments', { name: 'Even', condition: { attr: 'traits.n', op: 'in', value: Array.from({ length: 60 }, (_, i) => i * 2) } });
    const got = ids(await allMembers(s.body.id, 7));
    expect(got).toEqual(batch.filter((_, i) => i % 2 === 0).map((b) => b.userId).sort());
    expect((await t.admin('GET', `/api/segments/${s.body.id}/members?cursor=%%%`)).status).toBe(400);
  });

  it('puts users in label segments when labels change', async () => {
    await t.send('/v1/identify', { userId: 'f' });
    const s = await t.admin('POST', '/api/segments', { name: 'Beta', condition: { attr: 'labels', op: 'contains', value: 'beta' } });
    expect(s.body.size).toBe(0);
    const r = await t.admin('POST', '/api/users/f/labels', { add: ['beta', 'staff'] });
    expect(r.body.labels).toEqual(['beta', 'staff']);
    expect((await t.admin('GET', `/api/segments/${s.body.id}`)).body.size).toBe(1);
    await t.admin('POST', '/api/users/f/labels', { remove: ['beta'] });
    expect((await t.admin('GET', `/api/segments/${s.body.id}`)).body.size).toBe(0);
  });

  it('previews without saving, with a sample', async () => {
    await t.send('/v1/batch', { batch: Array.from({ length: 30 }, (_, i) => ({ type: 'track', userId: `p${i}`, event: i < 12 ? 'signup' : 'visit' })) });
    const r = await t.admin('POST', '/api/segments/preview', { condition: { event: 'signup' } });
    expect(r.body.count).toBe(12);
    expect(r.body.total).toBe(30);
    expect(r.body.sample).toHaveLength(10);
    for (const m of r.body.sample) expect(Number(m.userId.slice(1))).toBeLessThan(12);
    const none = await t.admin('POST', '/api/segments/preview', { condition: { event: 'never-sent' } });
    expect(none.body).toEqual({ count: 0, total: 30, sample: [], warnings: [{ code: 'EMPTY', message: 'no user matches now (of 30)', segmentIds: [] }] });
    expect((await t.admin('GET', '/api/segments')).body.segments).toEqual([]);
  });
});
