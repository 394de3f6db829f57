import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AuditStore, erasedUserRef, tokenPrefix } from '@strata/store';
import { testBackends } from '@strata/store/testing';
import { AUDITED, NOT_CHANGES, SERVER_CHANGES } from './audit.ts';
import { ADMIN, DEFAULT_PROJECT, ROOT, startTestApp, type TestApp } from './test-app.ts';

const backends = await testBackends();
const T0 = Date.UTC(2024, 5, 15, 12);

interface Entry { id: number; at: string; credential: string; action: string; resourceType: string; resourceId: string; before: any; after: any }

describe.each(backends.map((b) => [b.name, b] as const))('audit log on %s', (_n, backend) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp(await backend.open(), T0);
  });
  afterEach(async () => {
    await t.close();
  });

  const ok = async (method: 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown) => {
    const r = await t.admin(method, url, body);
    expect(r.status, `${method} ${url}: ${JSON.stringify(r.body)}`).toBeLessThan(300);
    return r.body;
  };
  const entries = async (query = ''): Promise<Entry[]> => {
    const r = await t.admin('GET', `/api/audit${query}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.entries;
  };
  /** The rows written since `seen` (newest first). */
  const since = async (seen: number): Promise<Entry[]> => (await entries('?limit=1000')).filter((e) => e.id > seen);
  const lastId = async () => (await entries('?limit=1'))[0]?.id ?? 0;
  /** Runs a change and answers the one row it wrote. */
  const one = async (change: () => Promise<unknown>): Promise<Entry> => {
    const seen = await lastId();
    await change();
    const rows = await since(seen);
    expect(rows).toHaveLength(1);
    return rows[0]!;
  };

  it("a project's log starts with its creation by the root token", async () => {
    const made = await t.app.inject({ method: 'POST', url: '/api/projects', headers: { authorization: `Bearer ${ROOT}` }, payload: { name: 'Second' } });
    expect(made.statusCode, made.body).toBe(201);
    const { project, adminToken } = made.json();
    const log = await t.app.inject({ method: 'GET', url: '/api/audit', headers: { authorization: `Bearer ${adminToken.value}` } });
    expect(log.json().entries).toMatchObject([{ action: 'create', resourceType: 'project', resourceId: project.id, credential: 'root', before: null, after: { name: 'Second' } }]);
    expect(log.body).not.toContain(adminToken.value);
    expect(log.body).not.toContain(tokenPrefix(ROOT).replace('…', ''));
    expect((await entries()).map((e) => e.resourceId)).not.toContain(project.id);
  });

  it('key changes leave rows that name the key by prefix and never hold its value', async () => {
    let key: { id: string; value: string; prefix: string } = { id: '', value: '', prefix: '' };
    let e = await one(async () => { key = await ok('POST', '/api/keys', { kind: 'server', label: 'billing' }); });
    expect(e).toMatchObject({ action: 'create', resourceType: 'key', resourceId: key.id, before: null, after: { kind: 'server', label: 'billing', prefix: key.prefix } });
    let rotated: { value: string; prefix: string } = { value: '', prefix: '' };
    e = await one(async () => { rotated = await ok('POST', `/api/keys/${key.id}/rotate`); });
    expect(e).toMatchObject({ action: 'rotate', resourceType: 'key', before: { prefix: key.prefix, rotatedAt: null }, after: { prefix: rotated.prefix } });
    e = await one(() => ok('DELETE', `/api/keys/${key.id}`));
    expect(e).toMatchObject({ action: 'delete', resourceType: 'key', before: { label: 'billing' }, after: null });
    const all = JSON.stringify(await entries('?resourceType=key'));
    expect(all).not.toContain(key.value);
    expect(all).not.toContain(rotated.value);
  });

  it('every kind of admin change leaves one row: who, what, and the resource before and after', async () => {
    expect((await t.send('/v1/identify', { userId: 'u1', traits: { plan: 'pro' } })).status).toBe(200);
    const who = { credential: tokenPrefix(ADMIN) };

    // Segments, and manual members.
    let seg: { id: string } = { id: '' };
    let e = await one(async () => { seg = await ok('POST', '/api/segments', { name: 'Pro', condition: { attr: 'traits.plan', op: 'eq', value: 'pro' } }); });
    expect(e).toMatchObject({ ...who, action: 'create', resourceType: 'segment', resourceId: seg.id, before: null, after: { id: seg.id, name: 'Pro', include: [] } });
    expect(e.after).not.toHaveProperty('size');
    expect(e.at).toBe(new Date(T0).toISOString());
    e = await one(() => ok('PATCH', `/api/segments/${seg.id}`, { name: 'Pro users' }));
    expect(e).toMatchObject({ action: 'update', resourceId: seg.id, before: { name: 'Pro' }, after: { name: 'Pro users' } });
    e = await one(() => ok('POST', `/api/segments/${seg.id}/members`, { userIds: ['u1', 'u_new'], createMissing: true }));
    expect(e).toMatchObject({ action: 'add-members', resourceType: 'segment', before: { include: [] }, after: { include: ['u1', 'u_new'] } });
    e = await one(() => ok('DELETE', `/api/segments/${seg.id}/members/u_new`));
    expect(e).toMatchObject({ action: 'remove-member', before: { include: ['u1', 'u_new'] }, after: { include: ['u1'] } });
    e = await one(() => ok('POST', '/api/segments/lifecycle', {}));
    expect(e).toMatchObject({ action: 'create', resourceType: 'segment-set', resourceId: 'lifecycle', before: null });
    expect(e.after).toHaveLength(4);

    // Missions, rewards, experiences, experiments.
    const mission = await ok('POST', '/api/missions', { name: 'Hello', goal: { kind: 'count', event: 'hello', target: 1 }, points: 10 });
    e = await one(() => ok('PATCH', `/api/missions/${mission.id}`, { points: 20 }));
    expect(e).toMatchObject({ action: 'update', resourceType: 'mission', resourceId: mission.id, before: { points: 10 }, after: { points: 20 } });
    e = await one(() => ok('DELETE', `/api/missions/${mission.id}`));
    expect(e).toMatchObject({ action: 'delete', resourceType: 'mission', before: { name: 'Hello' }, after: null });

    let reward: { id: string } = { id: '' };
    e = await one(async () => { reward = await ok('POST', '/api/rewards', { name: 'Mug', type: 'coupon', cost: 100, stock: 5 }); });
    expect(e).toMatchObject({ action: 'create', resourceType: 'reward', resourceId: reward.id, before: null, after: { name: 'Mug', cost: 100 } });
    e = await one(() => ok('POST', `/api/rewards/${reward.id}/codes`, { codes: ['MUG-1', 'MUG-2'] }));
    expect(e).toMatchObject({ action: 'add-codes', before: { codes: { total: 0 } }, after: { codes: { total: 2, available: 2 } } });
    expect(JSON.stringify(e)).not.toContain('MUG-1');
    e = await one(() => ok('PATCH', `/api/rewards/${reward.id}`, { cost: 0 }));
    expect(e).toMatchObject({ action: 'update', before: { cost: 100 }, after: { cost: 0 } });
    e = await one(() => ok('POST', `/api/rewards/${reward.id}/redeem`, { userId: 'u1' }));
    expect(e).toMatchObject({ action: 'redeem', resourceType: 'reward', before: { redemptions: 0 }, after: { redemptions: 1, codes: { available: 1 } } });

    const exp = await ok('POST', '/api/experiences', { key: 'banner', name: 'Banner', defaultPayload: { text: 'Hi' }, variants: [{ key: 'all', payload: { text: 'Hello' }, segmentIds: [] }] });
    e = await one(() => ok('PATCH', `/api/experiences/${exp.id}`, { name: 'Home banner' }));
    expect(e).toMatchObject({ action: 'update', resourceType: 'experience', before: { name: 'Banner' }, after: { name: 'Home banner' } });

    let x: { id: string } = { id: '' };
    e = await one(async () => { x = await ok('POST', '/api/experiments', { name: 'Test', arms: [{ key: 'a', weight: 1 }, { key: 'b', weight: 1 }] }); });
    expect(e).toMatchObject({ action: 'create', resourceType: 'experiment', resourceId: x.id, before: null, after: { name: 'Test' } });
    e = await one(() => ok('DELETE', `/api/experiments/${x.id}`));
    expect(e).toMatchObject({ action: 'delete', before: { name: 'Test' }, after: null });

    // Webhooks and destinations: secrets show as fingerprints only, so a rotation is visible but not readable.
    let hook: { id: string; secret: string } = { id: '', secret: '' };
    e = await one(async () => { hook = await ok('POST', '/api/webhooks', { url: 'https://crm.example.com/in' }); });
    expect(e).toMatchObject({ action: 'create', resourceType: 'webhook', resourceId: hook.id, after: { url: 'https://crm.example.com/in' } });
    let rotated: { secret: string } = { secret: '' };
    e = await one(async () => { rotated = await ok('POST', `/api/webhooks/${hook.id}/rotate-secret`); });
    expect(e.action).toBe('rotate-secret');
    expect(e.before.secretFingerprint).toMatch(/^sha256:[0-9a-f]{12}$/);
    expect(e.after.secretFingerprint).not.toBe(e.before.secretFingerprint);
    const hookRows = JSON.stringify(await entries('?resourceType=webhook'));
    expect(hookRows).not.toContain(hook.secret);
    expect(hookRows).not.toContain(rotated.secret);

    let dest: { id: string } = { id: '' };
    e = await one(async () => { dest = await ok('POST', '/api/destinations', { name: 'Seg', kind: 'segment', url: 'https://api.segment.io', writeKey: 'wk_secret_123' }); });
    expect(e).toMatchObject({ action: 'create', resourceType: 'destination', after: { name: 'Seg', kind: 'segment' } });
    e = await one(() => ok('PATCH', `/api/destinations/${dest.id}`, { name: 'Segment' }));
    expect(e).toMatchObject({ action: 'update', before: { name: 'Seg' }, after: { name: 'Segment' } });
    e = await one(() => ok('DELETE', `/api/destinations/${dest.id}`));
    expect(e).toMatchObject({ action: 'delete', after: null });
    expect(JSON.stringify(await entries('?resourceType=destination'))).not.toContain('wk_secret_123');

    // Settings: the identity verification secret never, its fingerprint only.
    let settings: { identityVerification: { secret: string } } = { identityVerification: { secret: '' } };
    e = await one(async () => { settings = await ok('PATCH', '/api/settings', { identityVerification: { enabled: true }, publicSegments: 'always' }); });
    expect(e).toMatchObject({
      action: 'update', resourceType: 'settings', resourceId: DEFAULT_PROJECT,
      before: { identityVerification: { enabled: false, secretFingerprint: null }, publicSegments: 'verified' },
      after: { identityVerification: { enabled: true, secretFingerprint: expect.stringMatching(/^sha256:/) }, publicSegments: 'always' },
    });
    expect(JSON.stringify(e)).not.toContain(settings.identityVerification.secret);

    // A user's labels and points.
    e = await one(() => ok('POST', '/api/users/u1/labels', { add: ['vip'] }));
    expect(e).toMatchObject({ action: 'update-labels', resourceType: 'user', resourceId: 'u1', before: { labels: [] }, after: { labels: ['vip'] } });
    e = await one(() => ok('POST', '/api/users/u1/points', { amount: 50, reason: 'goodwill' }));
    expect(e).toMatchObject({ action: 'adjust', resourceType: 'points', resourceId: 'u1', before: { balance: 0 }, after: { balance: 50 } });

    // Imports that write; a dry run writes nothing and leaves nothing.
    let job: { id: string } = { id: '' };
    e = await one(async () => { job = (await t.upload('/api/imports?kind=users', 'userId,plan\nu2,free\n', 'text/csv')).body; });
    expect(e).toMatchObject({ action: 'import', resourceType: 'import', resourceId: job.id, before: null, after: { id: job.id, kind: 'users', rows: 1 } });
    const seen = await lastId();
    expect((await t.upload('/api/imports?kind=users&dryRun=true', 'userId,plan\nu3,free\n', 'text/csv')).status).toBe(201);
    expect(await since(seen)).toEqual([]);

    // Reads and non-changes leave nothing.
    const quiet = await lastId();
    await t.admin('GET', '/api/segments');
    await t.admin('POST', '/api/segments/preview', { condition: { attr: 'traits.plan', op: 'eq', value: 'pro' } });
    expect(await since(quiet)).toEqual([]);
  });

  it('an erasure is recorded by a hash of the id and the fact; older rows naming the person lose the id', async () => {
    expect((await t.send('/v1/identify', { userId: 'u_gone', anonymousId: 'anon_gone', traits: { plan: 'pro' } })).status).toBe(200);
    expect((await t.send('/v1/identify', { userId: 'u_keep' })).status).toBe(200);
    const seg = await ok('POST', '/api/segments', { name: 'Picked', condition: null, include: ['u_gone', 'u_keep'] });
    await ok('POST', '/api/users/u_gone/labels', { add: ['vip'] });
    await ok('POST', '/api/users/u_gone/points', { amount: 5, reason: 'hello' });

    const erased = await ok('DELETE', '/api/users/u_gone?suppress=true');
    expect(erased.erased.auditEntriesRedacted).toBe(3);
    const all = await entries();
    const row = all[0]!;
    expect(row).toMatchObject({ action: 'erase', resourceType: 'user', resourceId: erasedUserRef(DEFAULT_PROJECT, 'u_gone'), before: null, after: { erased: true, suppressLater: true } });
    // Nothing in the log names her any more; the other user is untouched.
    expect(JSON.stringify(all)).not.toContain('u_gone');
    expect(JSON.stringify(all)).toContain('u_keep');
    const created = all.find((e) => e.resourceId === seg.id)!;
    expect(created.after.include).toEqual(['[erased user]', 'u_keep']);
    // Asked by her id, the log finds her erasure and the rows that were hers (by hash).
    const hers = await entries('?resourceId=u_gone');
    expect(hers.map((e) => e.action)).toEqual(['erase', 'adjust', 'update-labels']);
  });

  it('keeps a long manual list as its length and a fingerprint, not every id', async () => {
    const ids = Array.from({ length: 1001 }, (_, i) => `m${i}`);
    const seg = await ok('POST', '/api/segments', { name: 'Short', condition: null, include: ids.slice(0, 1000) });
    const e = await one(() => ok('POST', `/api/segments/${seg.id}/members`, { userIds: ['m1000'], createMissing: true }));
    expect(e.before.include).toHaveLength(1000);
    expect(e.after.include).toEqual({ count: 1001, fingerprint: expect.stringMatching(/^sha256:[0-9a-f]{12}$/) });
    expect(JSON.stringify(e.after)).not.toContain('m999');
  });

  it('a change that fails (4xx) leaves no row', async () => {
    const seg = await ok('POST', '/api/segments', { name: 'Pro', condition: { attr: 'traits.plan', op: 'eq', value: 'pro' } });
    const seen = await lastId();
    const fails: [number, 'POST' | 'PATCH' | 'DELETE', string, unknown?][] = [
      [400, 'POST', '/api/segments', { name: 'Bad', condition: { attr: 'traits.plan', op: 'nope', value: 1 } }],
      [409, 'POST', '/api/segments', { name: 'Pro', condition: null }],
      [404, 'PATCH', '/api/segments/seg_missing', { name: 'X' }],
      [400, 'PATCH', `/api/segments/${seg.id}`, { name: 7 }],
      [404, 'DELETE', '/api/webhooks/wh_missing'],
      [409, 'POST', `/api/segments/${seg.id}/members`, { userIds: ['never_seen'] }],
      [404, 'POST', '/api/users/nobody/points', { amount: 5, reason: 'x' }],
      [404, 'DELETE', '/api/users/nobody'],
      [400, 'PATCH', '/api/settings', { publicSegments: 'sometimes' }],
    ];
    for (const [status, method, url, body] of fails) expect((await t.admin(method, url, body)).status, `${method} ${url}`).toBe(status);
    expect((await t.app.inject({ method: 'POST', url: '/api/segments', headers: { authorization: 'Bearer wrong' }, payload: { name: 'X', condition: null } })).statusCode).toBe(401);
    expect(await since(seen)).toEqual([]);
  });

  it('a change whose row cannot be written answers 500; one made through the engine is rolled back with it', async () => {
    expect((await t.send('/v1/identify', { userId: 'u1' })).status).toBe(200);
    const seg = await ok('POST', '/api/segments', { name: 'Kept', condition: null });
    const spy = vi.spyOn(AuditStore.prototype, 'record').mockRejectedValue(new Error('disk full'));
    try {
      // Written in the change's transaction: the change is undone with the row.
      for (const [method, url, body] of [
        ['POST', '/api/segments', { name: 'Unrecorded', condition: null }],
        ['PATCH', `/api/segments/${seg.id}`, { name: 'Renamed' }],
        ['POST', `/api/segments/${seg.id}/members`, { userIds: ['u1'] }],
        ['POST', '/api/users/u1/labels', { add: ['vip'] }],
        ['POST', '/api/users/u1/points', { amount: 5, reason: 'x' }],
        ['DELETE', '/api/users/u1'],
      ] as const) {
        const r = await t.admin(method, url, body);
        expect(r.status, `${method} ${url}`).toBe(500);
        expect(r.body.error.code).toBe('INTERNAL');
      }
      // Written right after the change (no engine transaction): the change stays, the answer is still a 500.
      expect((await t.admin('POST', '/api/webhooks', { url: 'https://crm.example.com/in' })).status).toBe(500);
    } finally {
      spy.mockRestore();
    }
    expect((await t.admin('GET', '/api/segments')).body.segments.map((s: { name: string; include: string[] }) => [s.name, s.include])).toEqual([['Kept', []]]);
    const u1 = await t.admin('GET', '/api/users/u1');
    expect(u1.status).toBe(200);
    expect(u1.body.labels).toEqual([]);
    expect((await t.admin('GET', '/api/users/u1/points')).body.balance).toBe(0);
    expect((await t.admin('GET', '/api/webhooks')).body.webhooks).toHaveLength(1);
    expect(await entries()).toHaveLength(1);
  });

  it('pages newest first by cursor, filters by resource type and id, and refuses a bad cursor', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await ok('POST', '/api/segments', { name: `S${i}`, condition: null })).id);
    await ok('PATCH', `/api/segments/${ids[0]}`, { name: 'First' });
    await ok('POST', '/api/webhooks', { url: 'https://crm.example.com/in' });

    const seen: Entry[] = [];
    let cursor: string | null = null;
    do {
      const r = await t.admin('GET', `/api/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      expect(r.body.entries.length).toBeLessThanOrEqual(3);
      seen.push(...r.body.entries);
      cursor = r.body.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(7);
    expect(seen.map((e) => e.id)).toEqual([...seen.map((e) => e.id)].sort((a, b) => b - a));
    expect(seen[0]!.resourceType).toBe('webhook');

    const segs = await entries('?resourceType=segment');
    expect(segs.map((e) => e.resourceId)).toEqual([ids[0], ...[...ids].reverse()]);
    const first = await entries(`?resourceType=segment&resourceId=${ids[0]}`);
    expect(first.map((e) => e.action)).toEqual(['update', 'create']);
    expect(await entries('?resourceType=mission')).toEqual([]);

    const bad = await t.admin('GET', '/api/audit?cursor=not-a-cursor!');
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues).toEqual([{ path: '/cursor', message: 'invalid cursor' }]);
    expect((await t.admin('GET', '/api/audit?limit=0')).status).toBe(400);
    expect((await t.admin('GET', '/api/audit?colour=red')).status).toBe(400);
  });

  it("another project's log is invisible, and its changes are its own", async () => {
    await t.ctx.store.createProject({ id: 'second', name: 'Second', writeKey: 'stw_second', adminToken: 'sta_second_token_abcdef', now: T0 });
    const mine = await ok('POST', '/api/segments', { name: 'Mine', condition: null });
    const as2 = (method: 'GET' | 'POST', url: string, payload?: object) =>
      t.app.inject({ method, url, headers: { authorization: 'Bearer sta_second_token_abcdef' }, ...(payload ? { payload } : {}) }).then((r) => ({ status: r.statusCode, body: JSON.parse(r.payload) }));
    expect((await as2('GET', '/api/audit')).body).toEqual({ entries: [], nextCursor: null });
    expect((await as2('GET', `/api/audit?resourceId=${mine.id}`)).body.entries).toEqual([]);
    const theirs = (await as2('POST', '/api/segments', { name: 'Theirs', condition: null })).body;
    const log2 = (await as2('GET', '/api/audit')).body.entries as Entry[];
    expect(log2.map((e) => [e.resourceId, e.credential])).toEqual([[theirs.id, tokenPrefix('sta_second_token_abcdef')]]);
    expect((await entries()).map((e) => e.resourceId)).toEqual([mine.id]);
  });

  it('every admin route that is not a GET is audited or declared not a change, and every declaration names a route', async () => {
    await t.app.ready();
    const doc = t.app.swagger() as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(doc.paths).filter(([p]) => p.startsWith('/api/'))
      .flatMap(([p, ops]) => Object.keys(ops).filter((m) => m !== 'get' && m !== 'head').map((m) => `${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`));
    expect(routes.length).toBeGreaterThan(30);
    expect(routes.filter((r) => !(r in AUDITED) && !NOT_CHANGES.has(r) && !SERVER_CHANGES.has(r))).toEqual([]);
    expect([...Object.keys(AUDITED), ...NOT_CHANGES, ...SERVER_CHANGES].filter((k) => !routes.includes(k))).toEqual([]);
  });
});
