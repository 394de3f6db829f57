import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import { openTestSqlite, testBackends } from '@strata/store/testing';
import { buildApp } from './app.ts';
import { createContext, DEFAULT_PROJECT, stopContext } from './bootstrap.ts';
import type { AppContext } from './context.ts';
import { ADMIN, ROOT, startTestApp, WRITE, type TestApp } from './test-app.ts';

const backends = await testBackends();

/** The admin reads a process of the api role refuses (421): they need the engine's memory (docs/scale-out.md § Roles). */
const ENGINE_READS = ['/api/segments/warnings'];

/**
 * What a process of the api role serves (docs/scale-out.md § Roles): ingest appended to the log
 * and applied by nobody here; targeting and the user reads from the store; health, metrics and
 * docs; 421 WRONG_ROLE, naming the role, for the rest. (The role needs NATS and PostgreSQL at start — config.test.ts — and runs with them in
 * e2e/scale-out.test.ts; this test checks the routing over the embedded log.)
 */
describe('a process of the api role', () => {
  let t: TestApp;
  afterEach(async () => t?.close());

  it('appends ingest to the log and applies none of it', async () => {
    t = await startTestApp(await openTestSqlite(), undefined, { config: { role: 'api' }, startEngine: false });
    // Injected, not through t.send, which waits for what it sent to be applied: nothing is, here.
    const send = async (url: string, payload: object) => {
      const r = await t.app.inject({ method: 'POST', url, headers: { 'x-write-key': WRITE }, payload });
      return { status: r.statusCode, body: JSON.parse(r.payload) };
    };
    const r = await send('/v1/batch', { batch: [{ type: 'track', userId: 'u1', event: 'clicked', messageId: 'm1' }, { type: 'identify', userId: 'u2', traits: { plan: 'vip' }, messageId: 'm2' }] });
    expect(r.status).toBe(200);
    expect(r.body.position).toBeGreaterThan(0);
    const logged = await t.ctx.ingest.log.readAll(0, 10, 0);
    expect(logged.records.flatMap((x) => x.items.map((i) => i.messageId))).toEqual(['m1', 'm2']);
    // Nothing applied: no event stored, no position recorded.
    await new Promise((res) => setTimeout(res, 100));
    const events = await sql<{ n: number }>`SELECT count(*) AS n FROM events`.execute(t.ctx.store.db);
    expect(Number(events.rows[0]!.n)).toBe(0);
    expect(t.ctx.ingest.applies).toBe(false);
    expect(t.ctx.ingest.backlogItems).toBe(0);
    // A bad message is still refused as on any process.
    const bad = await send('/v1/track', { userId: 'u1' });
    expect(bad.status).toBe(400);
  });

  it('answers 421 WRONG_ROLE, naming the role, to admin changes that need the engine, reads that need it and the admin UI; serves health and docs', async () => {
    t = await startTestApp(await openTestSqlite(), undefined, { config: { role: 'api' }, startEngine: false });
    for (const [method, url, headers] of [
      ['GET', '/api/segments/warnings', { authorization: `Bearer ${ADMIN}` }],
      // Changes that need an engine holding the profiles (those to definitions are served: api-changes.test.ts).
      ['POST', '/api/destinations', { authorization: `Bearer ${ADMIN}` }],
      // An erasure is the all role's, whatever the token (refused before it is checked).
      ['DELETE', '/api/users/u1', { authorization: 'Bearer nonsense' }],
      // So is a project's deletion (it must reach every engine that holds the project).
      ['DELETE', '/api/projects/prj_any', { authorization: `Bearer ${ROOT}` }],
      ['GET', '/', {}],
      ['GET', '/segments', {}],
    ] as const) {
      const r = await t.app.inject({ method, url, headers });
      expect(r.statusCode, `${method} ${url}`).toBe(421);
      const body = JSON.parse(r.payload);
      expect(body.error.code).toBe('WRONG_ROLE');
      expect(body.error.message).toContain('STRATA_ROLE=api');
      expect(body.error.message).toContain(`send ${method} ${url.split('?')[0]} to a process of the all role`);
    }
    expect((await t.app.inject({ method: 'GET', url: '/api/health' })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/api/health/ready' })).statusCode).toBe(200);
    // A project is made and listed there with the root token (and its write key takes ingest there); not with a project's token.
    const root = { authorization: `Bearer ${ROOT}` };
    const made = await t.app.inject({ method: 'POST', url: '/api/projects', headers: root, payload: { name: 'Second shop' } });
    expect(made.statusCode, made.payload).toBe(201);
    const second = JSON.parse(made.payload);
    expect(JSON.parse((await t.app.inject({ method: 'GET', url: '/api/projects', headers: root })).payload).projects.map((p: { id: string }) => p.id)).toContain(second.project.id);
    expect((await t.app.inject({ method: 'POST', url: '/api/projects', headers: { authorization: `Bearer ${ADMIN}` }, payload: { name: 'x' } })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'POST', url: '/v1/track', headers: { 'x-write-key': second.writeKey.value }, payload: { userId: 'u1', event: 'seen' } })).statusCode).toBe(200);
    const spec = JSON.parse((await t.app.inject({ method: 'GET', url: '/openapi.json' })).payload);
    expect(Object.keys(spec.paths)).toContain('/v1/batch');
    expect(Object.keys(spec.paths)).toContain('/v1/targeting');
    expect(Object.keys(spec.paths)).toContain('/api/users/{id}/segments');
    expect(Object.keys(spec.paths)).toContain('/api/segments');
    // The user reads check the admin token as anywhere.
    expect((await t.app.inject({ method: 'GET', url: '/api/users/u1/segments', headers: { authorization: 'Bearer nonsense' } })).statusCode).toBe(401);
    // Browsers may still send events here: the preflight of ingest is answered.
    const pre = await t.app.inject({ method: 'OPTIONS', url: '/v1/batch', headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' } });
    expect(pre.statusCode).toBe(204);
  });
});

/**
 * A process of the api role beside a process of the all role on one store: targeting and the user
 * reads come from the store's rows there and from the engine's memory here, and must agree; the
 * definitions (missions, rewards, experiences) are read afresh, since they change on the other process.
 */
describe.each(backends.map((b) => [b.name, b] as const))('targeting on a process of the api role, on %s', (_n, backend) => {
  let all: TestApp;
  let api: { app: FastifyInstance; ctx: AppContext } | null = null;
  afterEach(async () => {
    if (api) {
      await api.app.close();
      await stopContext(api.ctx, { closeStore: false });
      api = null;
    }
    await all?.close();
  });

  it('answers what the all process answers, from the store, and loads no profile', async () => {
    all = await startTestApp(await backend.open());
    const apiCtx = createContext(all.ctx.store, { ...all.ctx.config, role: 'api' }, all.clock);
    api = { ctx: apiCtx, app: await buildApp(apiCtx) };
    const vip = (await all.admin('POST', '/api/segments', { name: 'VIP', condition: { attr: 'traits.plan', op: 'eq', value: 'vip' } })).body.id;
    expect((await all.admin('POST', '/api/segments', { name: 'Buyers', condition: { event: 'buy' } })).status).toBe(201);
    const mission = (await all.admin('POST', '/api/missions', { name: 'Buy twice', points: 50, segmentIds: [vip], goal: { kind: 'count', event: 'buy', target: 2 } })).body;
    expect((await all.admin('POST', '/api/rewards', { name: 'Coffee', type: 'digital', cost: 10, segmentIds: [vip] })).status).toBe(201);
    const last = (await all.admin('POST', '/api/rewards', { name: 'Last mug', type: 'physical', cost: 5, stock: 1 })).body;
    const exp = await all.admin('POST', '/api/experiences', { key: 'banner', name: 'Banner', defaultPayload: 'hello', variants: [{ key: 'vip', payload: 'hello VIP', segmentIds: [vip] }] });
    expect(exp.status, JSON.stringify(exp.body)).toBe(201);
    expect((await all.admin('PATCH', '/api/settings', { publicSegments: 'always' })).status).toBe(200);
    await all.send('/v1/batch', { batch: [
      { type: 'identify', userId: 'v1', traits: { plan: 'vip' } },
      { type: 'track', userId: 'v1', event: 'buy' },
      { type: 'identify', userId: 'f1', traits: { plan: 'free' } },
      { type: 'track', anonymousId: 'a1', event: 'buy' },
    ] });
    const read = async (app: FastifyInstance, url: string, auth: Record<string, string>) => {
      const r = await app.inject({ method: 'GET', url, headers: auth });
      return { status: r.statusCode, body: JSON.parse(r.payload) };
    };
    const both = async (url: string, auth: Record<string, string>) => {
      const [fromEngine, fromStore] = [await read(all.app, url, auth), await read(api!.app, url, auth)];
      expect(fromStore, url).toEqual(fromEngine);
      return fromStore;
    };
    const sdk = { 'x-write-key': WRITE }, admin = { authorization: `Bearer ${ADMIN}` };
    const v1 = await both('/v1/targeting?userId=v1', sdk);
    // Both made at the same instant of the test's clock: in id order, the engine's as the store's.
    expect(v1.body.segments.map((x: { name: string }) => x.name).sort()).toEqual(['Buyers', 'VIP']);
    expect(v1.body).toMatchObject({ known: true, missions: [{ id: mission.id, progress: { current: 1 } }], rewards: [{ name: 'Last mug' }, { name: 'Coffee' }], experiences: [{ variant: 'vip' }] });
    expect((await both('/v1/targeting?userId=f1', sdk)).body).toMatchObject({ known: true, segments: [], missions: [], rewards: [{ name: 'Last mug' }], experiences: [{ variant: 'default' }] });
    expect((await both('/v1/targeting?anonymousId=a1', sdk)).body.segments).toMatchObject([{ name: 'Buyers' }]);
    expect((await both('/v1/targeting?userId=nobody', sdk)).body.known).toBe(false);
    for (const url of ['/api/users/v1', '/api/users/v1/segments', '/api/users/v1/targeting', '/api/users/v1/history', '/api/users/v1/events', '/api/users/nobody']) await both(url, admin);

    // A definition changed on the all process is what the api process answers next: its copies are
    // checked against the project's definitions counter before each answer. A redemption (the stock) counts too.
    expect((await all.admin('POST', '/api/users/f1/points', { amount: 20, reason: 'welcome', kind: 'earn' })).status).toBe(200);
    const redeemed = await all.app.inject({ method: 'POST', url: `/v1/rewards/${last.id}/redeem`, headers: sdk, payload: { userId: 'f1' } });
    expect(redeemed.statusCode, redeemed.payload).toBe(200);
    expect((await both('/v1/targeting?userId=f1', sdk)).body).toMatchObject({ points: 15, rewards: [{ name: 'Last mug', inStock: false, redeemedByUser: 1 }] });
    await all.admin('PATCH', `/api/missions/${mission.id}`, { active: false });
    await all.admin('PATCH', '/api/experiences/' + (await all.admin('GET', '/api/experiences')).body.experiences[0].id, { active: false });
    const after = await both('/v1/targeting?userId=v1', sdk);
    expect(after.body).toMatchObject({ missions: [], experiences: [] });
    // Membership changed by events applied on the all process: read from the store's rows at once.
    await all.send('/v1/identify', { userId: 'f1', traits: { plan: 'vip' } });
    expect((await both('/v1/targeting?userId=f1', sdk)).body.segments).toEqual([{ id: vip, name: 'VIP' }]);

    // A segment that refers to one made after it: the engine evaluates the later one first, and the
    // answers still list a user's segments in the store's order (created, then id) on both roles.
    all.clock.advance(1_000);
    const first = (await all.admin('POST', '/api/segments', { name: 'First', condition: { attr: 'traits.plan', op: 'eq', value: 'vip' } })).body.id;
    all.clock.advance(1_000);
    const second = (await all.admin('POST', '/api/segments', { name: 'Second', condition: { event: 'buy' } })).body.id;
    expect((await all.admin('PATCH', `/api/segments/${first}`, { condition: { all: [{ attr: 'traits.plan', op: 'eq', value: 'vip' }, { segment: second }] } })).status).toBe(200);
    const ordered = (await both('/v1/targeting?userId=v1', sdk)).body.segments.map((x: { name: string }) => x.name);
    expect(ordered.slice(-2)).toEqual(['First', 'Second']);
    await both('/api/users/v1/targeting', admin);

    // An admin token revoked on the all process reads nothing more here: the api role keeps no admin credential.
    const made = (await all.admin('POST', '/api/keys', { kind: 'admin', label: 'temporary' })).body;
    const asTemporary = { authorization: `Bearer ${made.value}` };
    expect((await read(api!.app, '/api/users/v1', asTemporary)).status).toBe(200);
    expect((await all.admin('DELETE', `/api/keys/${made.id}`)).status).toBeLessThan(300);
    expect((await read(api!.app, '/api/users/v1', asTemporary)).status).toBe(401);

    // None of it loaded a project into the api process, which refuses to.
    expect(apiCtx.engine.stats().profiles).toBe(0);
    await expect(apiCtx.engine.load(DEFAULT_PROJECT)).rejects.toMatchObject({ code: 'WRONG_ROLE' });
  });
  it('answers every admin read as the all process does, or 421 WRONG_ROLE where it would need the engine', async () => {
    all = await startTestApp(await backend.open());
    const apiCtx = createContext(all.ctx.store, { ...all.ctx.config, role: 'api' }, all.clock);
    api = { ctx: apiCtx, app: await buildApp(apiCtx) };
    const ok = async (method: 'POST' | 'PATCH', url: string, body: unknown) => {
      const r = await all.admin(method, url, body);
      expect(r.status, `${url}: ${JSON.stringify(r.body)}`).toBeLessThan(300);
      return r.body;
    };
    const vip = (await ok('POST', '/api/segments', { name: 'VIP', condition: { attr: 'traits.plan', op: 'eq', value: 'vip' } })).id;
    const buyers = (await ok('POST', '/api/segments', { name: 'Buyers', condition: { event: 'buy' } })).id;
    const ids: Record<string, string> = {
      segments: vip,
      users: 'v1',
      missions: (await ok('POST', '/api/missions', { name: 'Buy twice', points: 50, segmentIds: [vip], goal: { kind: 'count', event: 'buy', target: 2 } })).id,
      rewards: (await ok('POST', '/api/rewards', { name: 'Coffee', type: 'digital', cost: 10, segmentIds: [vip] })).id,
      experiences: (await ok('POST', '/api/experiences', { key: 'banner', name: 'Banner', defaultPayload: 'hello', variants: [{ key: 'vip', payload: 'hi', segmentIds: [vip] }] })).id,
      webhooks: (await ok('POST', '/api/webhooks', { url: 'https://hooks.example/strata', segmentIds: [vip] })).id,
      experiments: (await ok('POST', '/api/experiments', { name: 'Banner test', arms: [{ key: 'control', name: 'control', weight: 50 }, { key: 'treatment', name: 'treatment', weight: 50 }] })).id,
    };
    await all.send('/v1/batch', { batch: [
      { type: 'identify', userId: 'v1', traits: { plan: 'vip' } },
      { type: 'track', userId: 'v1', event: 'buy' },
      { type: 'track', userId: 'v1', event: 'buy' },
      { type: 'track', anonymousId: 'a1', event: 'buy' },
      { type: 'track', userId: 'bad' },
    ] });
    const spec = JSON.parse((await all.app.inject({ method: 'GET', url: '/openapi.json' })).payload) as { paths: Record<string, Record<string, unknown>> };
    const reads = Object.keys(spec.paths).filter((p) => spec.paths[p]!.get && p.startsWith('/api/') && !p.startsWith('/api/projects') && !p.startsWith('/api/health'));
    expect(reads.length).toBeGreaterThan(30);
    const refused: string[] = [];
    for (const path of reads) {
      const resource = path.split('/')[2]!;
      const url = path.replace(/\{(\w+)\}/g, (_m, name: string) => (name === 'id' && ids[resource]) || (name === 'segmentId' ? vip : 'nope'));
      const [fromAll, fromApi] = await Promise.all([all.app, api!.app].map((a) => a.inject({ method: 'GET', url, headers: { authorization: `Bearer ${ADMIN}` } })));
      if (fromApi!.statusCode === 421) {
        expect(JSON.parse(fromApi!.payload).error.code, url).toBe('WRONG_ROLE');
        refused.push(path);
        continue;
      }
      expect({ status: fromApi!.statusCode, payload: fromApi!.payload }, url).toEqual({ status: fromAll!.statusCode, payload: fromAll!.payload });
    }
    // What the api role serves of the admin API: every read but those the engine's memory answers.
    expect(refused.sort()).toEqual(ENGINE_READS);
    // A preview (a read sent as a POST) is answered from the store's SQL there: what the engine answers here.
    for (const condition of [{ attr: 'traits.plan', op: 'eq', value: 'vip' }, { event: 'buy', cmp: { op: 'gte', value: 1 } }, { not: { segment: vip } }, { attr: 'traits.plan', op: 'eq', value: 'nobody' }]) {
      const [fromAll, fromApi] = await Promise.all([all.app, api!.app].map(async (a) => {
        const r = await a.inject({ method: 'POST', url: '/api/segments/preview', headers: { authorization: `Bearer ${ADMIN}` }, payload: { condition } });
        const body = JSON.parse(r.payload);
        return { status: r.statusCode, count: body.count, total: body.total, warnings: body.warnings.map((w: { code: string }) => w.code),
          sample: body.sample.map((x: { userId: string | null; anonymousId: string | null; why: string[] }) => `${x.userId ?? x.anonymousId}: ${x.why.join('; ')}`).sort() };
      }));
      expect(fromApi, JSON.stringify(condition)).toEqual(fromAll);
    }
    // So is an overlap, from the stored memberships.
    const [overlapAll, overlapApi] = await Promise.all([all.app, api!.app].map((a) => a.inject({ method: 'POST', url: '/api/segments/overlap', headers: { authorization: `Bearer ${ADMIN}` }, payload: { ids: [vip, buyers] } })));
    expect(overlapApi!.statusCode).toBe(200);
    expect(JSON.parse(overlapApi!.payload)).toEqual(JSON.parse(overlapAll!.payload));
    expect(JSON.parse(overlapApi!.payload).pairs[0].intersection).toBe(1);
    // Definitions changed on the all process are in the api process's next read: every admin read checks the counter, as targeting does.
    await ok('PATCH', `/api/missions/${ids.missions}`, { name: 'Buy two times' });
    await ok('PATCH', `/api/experiences/${ids.experiences}`, { name: 'Home banner' });
    await ok('PATCH', `/api/rewards/${ids.rewards}`, { cost: 12 });
    for (const url of ['/api/users/v1/missions', '/api/missions', `/api/missions/${ids.missions}`, '/api/experiences', '/api/rewards', '/api/users/v1/targeting']) {
      const [fromAll, fromApi] = await Promise.all([all.app, api!.app].map((a) => a.inject({ method: 'GET', url, headers: { authorization: `Bearer ${ADMIN}` } })));
      expect(fromApi!.statusCode, url).toBe(200);
      expect(fromApi!.payload, url).toBe(fromAll!.payload);
    }
    expect(apiCtx.engine.stats().profiles).toBe(0);
  });
});
