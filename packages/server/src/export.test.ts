import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testBackends } from '@strata/store/testing';
import { ADMIN, DEFAULT_PROJECT, startTestApp, type TestApp } from './test-app.ts';

const backends = await testBackends();
const T0 = Date.UTC(2024, 5, 15, 12);
const SINCE = new Date(T0).toISOString();

describe.each(backends.map((b) => [b.name, b] as const))('segment export on %s', (_n, backend) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp(await backend.open(), T0);
  });
  afterEach(async () => {
    await t.close();
  });

  const get = async (url: string, token = ADMIN) => {
    const r = await t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
    return { status: r.statusCode, type: String(r.headers['content-type']), text: r.payload, disposition: r.headers['content-disposition'] };
  };

  /** Three members whose traits need every kind of escaping, one profile outside the segment. */
  const seed = async () => {
    const people = [
      { userId: 'u1', traits: { plan: 'pro, annual', country: 'FR', tier: 'in' } },
      { userId: 'u"2"', traits: { plan: 'say "hi"\nthen go', country: null, tier: 'in' } },
      { userId: 'u3', traits: { plan: '=HYPERLINK("http://x")', score: 7, tier: 'in', country: { code: 'DE' } } },
      { userId: 'out', traits: { plan: 'free', tier: 'out' } },
    ];
    for (const p of people) expect((await t.send('/v1/identify', p)).status).toBe(200);
    expect((await t.admin('POST', '/api/users/u1/labels', { add: ['vip', 'beta'] })).status).toBeLessThan(300);
    const seg = await t.admin('POST', '/api/segments', { name: 'In', condition: { attr: 'traits.tier', op: 'eq', value: 'in' } });
    expect(seg.status).toBe(201);
    return seg.body.id as string;
  };

  it('writes CSV with the chosen traits, escaped', async () => {
    const id = await seed();
    const r = await get(`/api/segments/${id}/export?traits=plan,country`);
    expect(r.status).toBe(200);
    expect(r.type).toBe('text/csv; charset=utf-8');
    expect(r.disposition).toBe(`attachment; filename="segment-${id}.csv"`);
    expect(r.text).toBe([
      'userId,anonymousId,since,plan,country',
      `u1,,${SINCE},"pro, annual",FR`,
      `"u""2""",,${SINCE},"say ""hi""\nthen go",`,
      `u3,,${SINCE},"=HYPERLINK(""http://x"")","{""code"":""DE""}"`,
      '',
    ].join('\n'));
    const safe = await get(`/api/segments/${id}/export?traits=plan&escapeFormulas=true`);
    expect(safe.text.split('\n')[4]).toBe(`u3,,${SINCE},"'=HYPERLINK(""http://x"")"`);
    const plain = await get(`/api/segments/${id}/export?labels=true`);
    expect(plain.text.split('\n').slice(0, 2)).toEqual(['userId,anonymousId,since,labels', `u1,,${SINCE},beta;vip`]);
  });

  it('writes NDJSON, one object per line', async () => {
    const id = await seed();
    const r = await get(`/api/segments/${id}/export?format=ndjson&traits=plan,score&labels=true`);
    expect(r.status).toBe(200);
    expect(r.type).toBe('application/x-ndjson; charset=utf-8');
    const lines = r.text.split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1).map((l) => JSON.parse(l))).toEqual([
      { userId: 'u1', anonymousId: null, since: SINCE, traits: { plan: 'pro, annual', score: null }, labels: expect.arrayContaining(['vip', 'beta']) },
      { userId: 'u"2"', anonymousId: null, since: SINCE, traits: { plan: 'say "hi"\nthen go', score: null }, labels: [] },
      { userId: 'u3', anonymousId: null, since: SINCE, traits: { plan: '=HYPERLINK("http://x")', score: 7 }, labels: [] },
    ]);
  });

  it('answers 404, 400 and 401 before streaming', async () => {
    const id = await seed();
    expect((await get('/api/segments/seg_nope/export')).status).toBe(404);
    expect((await get(`/api/segments/${id}/export?format=xml`)).status).toBe(400);
    const clash = await get(`/api/segments/${id}/export?traits=plan,userId`);
    expect(clash.status).toBe(400);
    expect(JSON.parse(clash.text).error.issues[0].path).toBe('/querystring/traits/1');
    expect((await get(`/api/segments/${id}/export`, 'nope')).status).toBe(401);
  });

  it('streams every member once across pages (12,000 members, pages of 5,000)', async () => {
    const seg = await t.admin('POST', '/api/segments', { name: 'Big', condition: null });
    const N = 12_000;
    const db = t.ctx.store.db;
    // Memberships written by SQL for speed: the export reads the table, not the engine.
    for (let i = 0; i < N; i += 500) {
      const rows = Array.from({ length: Math.min(500, N - i) }, (_, k) => ({
        project_id: DEFAULT_PROJECT, user_id: `bulk${String(i + k).padStart(5, '0')}`, anonymous_id: null, created_at: T0, updated_at: T0,
      }));
      const ids = (await db.insertInto('profiles').values(rows).returning('id').execute()).map((r) => Number(r.id));
      await db.insertInto('memberships').values(ids.map((profile_id) => ({ project_id: DEFAULT_PROJECT, segment_id: seg.body.id, profile_id, since: T0 }))).execute();
    }
    const csv = await get(`/api/segments/${seg.body.id}/export`);
    const lines = csv.text.trimEnd().split('\n');
    expect(lines[0]).toBe('userId,anonymousId,since');
    const ids = lines.slice(1).map((l) => l.split(',')[0]);
    expect(ids).toHaveLength(N);
    expect(new Set(ids).size).toBe(N);
    expect(ids).toEqual([...ids].sort());
    const nd = await get(`/api/segments/${seg.body.id}/export?format=ndjson`);
    expect(nd.text.trimEnd().split('\n').map((l) => JSON.parse(l).userId)).toEqual(ids);
  });

  it('round trip: a CSV export imported into a second project gives the same members', async () => {
    const id = await seed();
    const csv = (await get(`/api/segments/${id}/export?traits=plan`)).text;
    await t.ctx.store.createProject({ id: 'second', name: 'Second', writeKey: 'stw_second', adminToken: 'sta_second', now: T0 });
    const imp = await t.app.inject({
      method: 'POST', url: '/api/imports?kind=segment&segmentName=Imported', payload: csv,
      headers: { authorization: 'Bearer sta_second', 'content-type': 'text/csv' },
    });
    expect(imp.statusCode, imp.payload).toBe(201);
    const segId = JSON.parse(imp.payload).summary.segmentId as string;
    const members = await t.app.inject({ method: 'GET', url: `/api/segments/${segId}/members?limit=1000`, headers: { authorization: 'Bearer sta_second' } });
    const got = (JSON.parse(members.payload).members as { userId: string }[]).map((m) => m.userId).sort();
    expect(got).toEqual(['u"2"', 'u1', 'u3']);
    const again = await t.app.inject({ method: 'GET', url: `/api/segments/${segId}/export`, headers: { authorization: 'Bearer sta_second' } });
    // Same members, same order (import order is file order), same since (the test clock): the same file.
    expect(again.payload).toBe((await get(`/api/segments/${id}/export`)).text);
  });
});
