import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { testBackends } from '@strata/store/testing';
import { DestinationService } from '@strata/engine';
import { DEFAULT_PROJECT, startTestApp, type TestApp } from './test-app.ts';

const backends = await testBackends();
const T0 = Date.UTC(2024, 5, 15, 12);

interface Got { readonly headers: IncomingHttpHeaders; readonly raw: string; readonly body: any; readonly url: string }

describe.each(backends.map((b) => [b.name, b] as const))('destinations on %s', (_n, backend) => {
  let t: TestApp;
  let server: Server | undefined;
  let got: Got[];
  let status: number;
  beforeEach(async () => {
    t = await startTestApp(await backend.open(), T0);
    got = [];
    status = 200;
  });
  afterEach(async () => {
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((r) => server!.close(() => r()));
      server = undefined;
    }
    await t.close();
  });

  /** A loopback receiver that records each request and answers `status`. */
  const receiver = async () => {
    server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(parts).toString('utf8');
        got.push({ headers: req.headers, raw, body: JSON.parse(raw), url: req.url ?? '' });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  const pro = async () => (await t.admin('POST', '/api/segments', { name: 'Pro', condition: { attr: 'traits.plan', op: 'eq', value: 'pro' } })).body.id as string;
  const plan = async (userId: string, p: string) => expect((await t.send('/v1/identify', { userId, traits: { plan: p } })).status).toBe(200);
  /** Waits (over the API) for a destination's background sync to finish; its number of entries. */
  const synced = async (id: string) => {
    for (let i = 0; i < 500; i++) {
      const d = await t.admin('GET', `/api/destinations/${id}`);
      if (d.body.sync?.status === 'done') {
        expect(d.body.sync.finishedAt).toEqual(expect.any(String));
        return d.body.sync.enqueued as number;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`destination ${id} did not finish syncing`);
  };
  const summary = (g: Got) => g.body.changes.map((c: { userId: string; kind: string; reason: string }) => `${c.userId} ${c.kind} ${c.reason}`);

  it('creates, lists, gets, patches and deletes; answers 400 naming the field and 404 for unknown ids', async () => {
    const seg = await pro();
    const c = await t.admin('POST', '/api/destinations', { name: 'CRM', kind: 'http', url: 'https://crm.example.com/in', segmentIds: [seg] });
    expect(c.status).toBe(201);
    expect(c.body).toEqual({
      id: expect.stringMatching(/^dst_/), name: 'CRM', kind: 'http', url: 'https://crm.example.com/in', segmentIds: [seg], batchSize: 100,
      secret: expect.stringMatching(/^whsec_/), writeKey: null, sync: { status: 'running', enqueued: 0, startedAt: new Date(T0).toISOString(), finishedAt: null }, createdAt: new Date(T0).toISOString(), updatedAt: new Date(T0).toISOString(),
    });
    const list = await t.admin('GET', '/api/destinations');
    expect(list.body.destinations).toHaveLength(1);
    expect(list.body.destinations[0]).not.toHaveProperty('secret');
    const p = await t.admin('PATCH', `/api/destinations/${c.body.id}`, { name: 'CRM 2', batchSize: 10, segmentIds: null });
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({ name: 'CRM 2', batchSize: 10, segmentIds: null, kind: 'http' });
    expect((await t.admin('GET', `/api/destinations/${c.body.id}`)).body).toMatchObject({ name: 'CRM 2', secret: c.body.secret });

    const bad = async (body: unknown, path: string) => {
      const r = await t.admin('POST', '/api/destinations', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(r.body.error), JSON.stringify(body)).toContain(path);
    };
    await bad({ name: 'S', kind: 'segment', url: 'https://api.segment.io' }, '/writeKey');
    await bad({ name: 'S', kind: 'http', url: 'ftp://x' }, '/url');
    await bad({ name: 'S', kind: 'http', url: 'https://x', segmentIds: ['seg_nope'] }, '/segmentIds/0');
    await bad({ name: 'S', kind: 'smtp', url: 'https://x' }, 'kind');
    await bad({ name: 'S', kind: 'http', url: 'https://x', batchSize: 0 }, 'batchSize');
    expect((await t.admin('PATCH', `/api/destinations/${c.body.id}`, { kind: 'segment' })).status).toBe(400);

    expect((await t.admin('DELETE', `/api/destinations/${c.body.id}`)).status).toBe(204);
    for (const [m, u] of [['GET', ''], ['DELETE', ''], ['GET', '/deliveries'], ['POST', '/resync']] as const) {
      expect((await t.admin(m, `/api/destinations/${c.body.id}${u}`)).status, `${m} ${u}`).toBe(404);
    }
    const anon = await t.app.inject({ method: 'GET', url: '/api/destinations' });
    expect(anon.statusCode).toBe(401);
  });

  it('http: a first sync sends the current members, then live entries and exits, in signed batches, in order', async () => {
    const seg = await pro();
    for (const u of ['a', 'b', 'c']) await plan(u, 'pro');
    await plan('z', 'free');
    const url = await receiver();
    const d = await t.admin('POST', '/api/destinations', { name: 'CRM', kind: 'http', url: `${url}/hook`, batchSize: 2 });
    expect(await synced(d.body.id)).toBe(3);
    expect(await t.ctx.destinationDispatcher.runOnce()).toBe(2);
    expect(got.map(summary)).toEqual([['a entered sync', 'b entered sync'], ['c entered sync']]);
    expect(got[0]!.body).toEqual({
      destination: d.body.id,
      changes: [
        { id: expect.stringMatching(/^sync_/), segmentId: seg, segmentName: 'Pro', userId: 'a', anonymousId: null, kind: 'entered', at: new Date(T0).toISOString(), reason: 'sync' },
        expect.objectContaining({ userId: 'b' }),
      ],
    });
    // Signed like webhooks: the receiver verifies with the destination's secret.
    const wh = new Webhook(d.body.secret);
    for (const g of got) expect(g.headers['webhook-signature']).toBe(wh.sign(String(g.headers['webhook-id']), new Date(Number(g.headers['webhook-timestamp']) * 1000), g.raw));
    expect(new Set(got.map((g) => g.headers['webhook-id'])).size).toBe(2);

    got = [];
    t.clock.advance(1000);
    await plan('d', 'pro');
    await plan('a', 'free');
    await plan('b', 'free');
    expect(await t.ctx.destinationDispatcher.runOnce()).toBe(2);
    expect(got.map(summary)).toEqual([['d entered event', 'a exited event'], ['b exited event']]);
    expect(await t.ctx.destinationDispatcher.runOnce()).toBe(0);

    // A resync sends the current members again.
    got = [];
    const again = await t.admin('POST', `/api/destinations/${d.body.id}/resync`);
    expect(again.status).toBe(202);
    expect(again.body).toEqual({ sync: { status: 'running', enqueued: 0, startedAt: new Date(T0 + 1000).toISOString(), finishedAt: null } });
    expect(await synced(d.body.id)).toBe(2);
    await t.ctx.destinationDispatcher.runOnce();
    expect(got.map(summary)).toEqual([['c entered sync', 'd entered sync']]);
  });

  it('retries a batch the receiver refuses with 500, keeps later batches behind it, and logs the attempts', async () => {
    await pro();
    for (const u of ['a', 'b', 'c']) await plan(u, 'pro');
    const url = await receiver();
    status = 500;
    const d = await t.admin('POST', '/api/destinations', { name: 'CRM', kind: 'http', url, batchSize: 2 });
    expect(await synced(d.body.id)).toBe(3);
    expect(await t.ctx.destinationDispatcher.runOnce()).toBe(1);
    let log = await t.admin('GET', `/api/destinations/${d.body.id}/deliveries`);
    expect(log.status, JSON.stringify(log.body)).toBe(200);
    expect(log.body.deliveries.map((x: { status: string; attempts: number; lastStatus: number | null }) => [x.status, x.attempts, x.lastStatus])).toEqual([
      ['pending', 0, null], ['pending', 1, 500], ['pending', 1, 500],
    ]);
    expect(log.body.deliveries[2]).toMatchObject({ kind: 'segment.entered', lastError: 'HTTP 500', payload: { userId: 'a', reason: 'sync' } });
    expect(await t.ctx.destinationDispatcher.runOnce()).toBe(0);

    status = 200;
    t.clock.advance(6000);
    expect(await t.ctx.destinationDispatcher.runOnce()).toBe(2);
    expect(got.map(summary)).toEqual([['a entered sync', 'b entered sync'], ['a entered sync', 'b entered sync'], ['c entered sync']]);
    log = await t.admin('GET', `/api/destinations/${d.body.id}/deliveries`);
    expect(log.body.deliveries.map((x: { status: string; attempts: number }) => [x.status, x.attempts])).toEqual([['delivered', 1], ['delivered', 2], ['delivered', 2]]);
  });

  it('keeps order when the receiver refuses a batch with a 4xx: later changes wait behind it', async () => {
    await pro();
    const url = await receiver();
    const d = await t.admin('POST', '/api/destinations', { name: 'CRM', kind: 'http', url, batchSize: 1 });
    expect(d.status).toBe(201);
    expect(await synced(d.body.id)).toBe(0);
    await plan('u1', 'pro');
    await plan('u1', 'free');
    status = 400;
    expect(await t.ctx.destinationDispatcher.runOnce()).toBe(1);
    expect(got.map(summary)).toEqual([['u1 entered event']]);
    status = 200;
    t.clock.advance(6000);
    await t.ctx.destinationDispatcher.runOnce();
    // The refused entry is sent again first, then the exit: the receiver never sees them swapped.
    expect(got.map(summary)).toEqual([['u1 entered event'], ['u1 entered event'], ['u1 exited event']]);
  });

  it('a first sync of 12,000 members goes page by page, each member once, in profile order', async () => {
    const seg = await t.admin('POST', '/api/segments', { name: 'Big', condition: null });
    const N = 12_000;
    for (let i = 0; i < N; i += 500) {
      const rows = Array.from({ length: 500 }, (_, k) => ({ project_id: DEFAULT_PROJECT, user_id: `m${String(i + k).padStart(5, '0')}`, anonymous_id: null, created_at: T0, updated_at: T0 }));
      const ids = (await t.ctx.store.db.insertInto('profiles').values(rows).returning('id').execute()).map((r) => Number(r.id));
      await t.ctx.store.db.insertInto('memberships').values(ids.map((profile_id) => ({ project_id: DEFAULT_PROJECT, segment_id: seg.body.id, profile_id, since: T0 }))).execute();
    }
    const url = await receiver();
    const d = await t.admin('POST', '/api/destinations', { name: 'Bulk', kind: 'http', url, batchSize: 1000, segmentIds: [seg.body.id] });
    expect(await synced(d.body.id)).toBe(N);
    let requests = 0;
    for (let n = await t.ctx.destinationDispatcher.runOnce(); n > 0; n = await t.ctx.destinationDispatcher.runOnce()) requests += n;
    expect(requests).toBe(12);
    const users = got.flatMap((g) => g.body.changes.map((c: { userId: string }) => c.userId));
    expect(users).toHaveLength(N);
    expect(users).toEqual(Array.from({ length: N }, (_, i) => `m${String(i).padStart(5, '0')}`));
  });

  it('a first sync runs in the background page by page and, stopped, resumes where it was: every member of every segment once', async () => {
    const segs = [await pro(), (await t.admin('POST', '/api/segments', { name: 'Known', condition: { attr: 'userId', op: 'exists' } })).body.id as string];
    for (const u of ['a', 'b', 'c', 'd', 'e']) await plan(u, 'pro');
    await plan('f', 'free');
    // A process whose syncs go 2 members a page, stopped after its first page.
    const first = new DestinationService(t.ctx.store, t.clock, { syncPage: 2 });
    const d = await first.create(DEFAULT_PROJECT, { name: 'CRM', kind: 'http', url: 'https://crm.example.com/in' });
    expect(d.sync).toMatchObject({ status: 'running', enqueued: 0 });
    await first.stop();
    const stopped = (await t.admin('GET', `/api/destinations/${d.id}`)).body;
    expect(stopped.sync).toMatchObject({ status: 'running', enqueued: 2, finishedAt: null });
    // While it has not finished, a resync is refused.
    const busy = await t.admin('POST', `/api/destinations/${d.id}/resync`);
    expect(busy.status).toBe(409);
    expect(busy.body.error.message).toContain('still syncing');
    // The next process resumes it.
    const next = new DestinationService(t.ctx.store, t.clock, { syncPage: 2 });
    expect(await next.resumeSyncs()).toBe(1);
    await next.settled(DEFAULT_PROJECT, d.id);
    expect(await synced(d.id)).toBe(11);
    const log = await t.admin('GET', `/api/destinations/${d.id}/deliveries?limit=100`);
    const sent = (log.body.deliveries as { payload: { userId: string; segmentId: string; reason: string } }[]).map((x) => `${x.payload.segmentId} ${x.payload.userId} ${x.payload.reason}`).sort();
    expect(sent).toEqual([...['a', 'b', 'c', 'd', 'e'].map((u) => `${segs[0]} ${u} sync`), ...['a', 'b', 'c', 'd', 'e', 'f'].map((u) => `${segs[1]} ${u} sync`)].sort());
    expect(await next.resumeSyncs()).toBe(0);
    // Deleted while stopped: nothing to resume.
    const third = new DestinationService(t.ctx.store, t.clock, { syncPage: 2 });
    const gone = await third.create(DEFAULT_PROJECT, { name: 'Gone', kind: 'http', url: 'https://crm.example.com/in' });
    await third.stop();
    expect((await t.admin('DELETE', `/api/destinations/${gone.id}`)).status).toBe(204);
    expect(await new DestinationService(t.ctx.store, t.clock).resumeSyncs()).toBe(0);
  });

  it('two processes resuming the same sync at once send every member once', async () => {
    await pro();
    for (const u of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) await plan(u, 'pro');
    const first = new DestinationService(t.ctx.store, t.clock, { syncPage: 2 });
    const d = await first.create(DEFAULT_PROJECT, { name: 'CRM', kind: 'http', url: 'https://crm.example.com/in' });
    await first.stop();
    const [x, y] = [new DestinationService(t.ctx.store, t.clock, { syncPage: 2 }), new DestinationService(t.ctx.store, t.clock, { syncPage: 2 })];
    await Promise.all([x.resumeSyncs(), y.resumeSyncs()]);
    await Promise.all([x.settled(DEFAULT_PROJECT, d.id), y.settled(DEFAULT_PROJECT, d.id)]);
    expect(await synced(d.id)).toBe(7);
    const log = await t.admin('GET', `/api/destinations/${d.id}/deliveries?limit=100`);
    const users = (log.body.deliveries as { payload: { userId: string } }[]).map((x) => x.payload.userId).sort();
    expect(users).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
  });

  it('a sync stops sending a segment the destination no longer has, and of two resyncs at once one is refused', async () => {
    const segs = [await pro(), (await t.admin('POST', '/api/segments', { name: 'Known', condition: { attr: 'userId', op: 'exists' } })).body.id as string];
    for (const u of ['a', 'b', 'c', 'd', 'e']) await plan(u, 'pro');
    await plan('f', 'free');
    const first = new DestinationService(t.ctx.store, t.clock, { syncPage: 2 });
    const d = await first.create(DEFAULT_PROJECT, { name: 'CRM', kind: 'http', url: 'https://crm.example.com/in', segmentIds: [segs[1]!, segs[0]!] });
    await first.stop();
    // After its first page (2 of Known), the destination keeps only Pro.
    expect((await t.admin('PATCH', `/api/destinations/${d.id}`, { segmentIds: [segs[0]] })).status).toBe(200);
    const next = new DestinationService(t.ctx.store, t.clock, { syncPage: 2 });
    await next.resumeSyncs();
    await next.settled(DEFAULT_PROJECT, d.id);
    expect(await synced(d.id)).toBe(7);
    const log = await t.admin('GET', `/api/destinations/${d.id}/deliveries?limit=100`);
    const known = (log.body.deliveries as { payload: { segmentId: string } }[]).filter((x) => x.payload.segmentId === segs[1]);
    expect(known).toHaveLength(2);

    // Two resyncs at once (the sync held back until both have answered): one starts, the other is refused.
    let open!: () => void;
    const gate = new Promise<void>((r) => { open = r; });
    const held = new DestinationService(t.ctx.store, t.clock, { write: async (fn) => { await gate; return t.ctx.store.transaction(fn); } });
    const both = await Promise.allSettled([held.resync(DEFAULT_PROJECT, d.id), held.resync(DEFAULT_PROJECT, d.id)]);
    expect(both.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(both.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'CONFLICT' } });
    open();
    await held.settled(DEFAULT_PROJECT, d.id);
    expect(await synced(d.id)).toBe(5);
  });

  it('documents the routes in the OpenAPI document', async () => {
    const doc = JSON.parse((await t.app.inject({ method: 'GET', url: '/openapi.json' })).payload);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining([
      '/api/destinations', '/api/destinations/{id}', '/api/destinations/{id}/resync', '/api/destinations/{id}/deliveries', '/api/segments/{id}/export',
    ]));
  });

  it('segment: sends valid Segment batch payloads with Basic auth, which Strata itself ingests end to end', async () => {
    const seg = await pro();
    await t.admin('POST', '/api/segments', { name: 'Everyone', condition: { attr: 'userId', op: 'exists' } });
    await plan('a', 'pro');
    const url = await receiver();
    const d = await t.admin('POST', '/api/destinations', { name: 'Segment', kind: 'segment', url, writeKey: 'wk_123', segmentIds: [seg] });
    expect(await synced(d.body.id)).toBe(1);
    await t.ctx.destinationDispatcher.runOnce();
    expect(got).toHaveLength(1);
    expect(got[0]!.url).toBe('/v1/batch');
    expect(got[0]!.headers.authorization).toBe(`Basic ${Buffer.from('wk_123:').toString('base64')}`);
    expect(got[0]!.headers['content-type']).toBe('application/json');
    expect(got[0]!.body).toEqual({
      batch: [
        { type: 'identify', messageId: expect.any(String), userId: 'a', traits: { strata_segments: ['Pro'] }, timestamp: new Date(T0).toISOString() },
        { type: 'track', messageId: expect.any(String), userId: 'a', event: 'Segment Entered', properties: { segment_id: seg, segment_name: 'Pro', reason: 'sync' }, timestamp: new Date(T0).toISOString() },
      ],
      sentAt: new Date(T0).toISOString(),
      context: { library: { name: 'strata', version: expect.any(String) } },
    });

    // Point a second one at Strata's own ingest, as the second project's source.
    await t.ctx.store.createProject({ id: 'second', name: 'Second', writeKey: 'stw_second', adminToken: 'sta_second', now: T0 });
    const self = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const asSecond = async (method: 'GET' | 'POST', u: string, payload?: object) => {
      const r = await t.app.inject({ method, url: u, headers: { authorization: 'Bearer sta_second' }, ...(payload ? { payload } : {}) });
      return { status: r.statusCode, body: JSON.parse(r.payload) };
    };
    const entered = await asSecond('POST', '/api/segments', { name: 'Strata Pro', condition: { attr: 'traits.strata_segments', op: 'contains', value: 'Pro' } });
    const exitedOnce = await asSecond('POST', '/api/segments', { name: 'Left Pro', condition: { event: 'Segment Exited', where: [{ attr: 'properties.segment_name', op: 'eq', value: 'Pro' }] } });
    const s = await t.admin('POST', '/api/destinations', { name: 'Self', kind: 'segment', url: self, writeKey: 'stw_second', segmentIds: [seg] });
    expect(s.status).toBe(201);
    expect(await synced(s.body.id)).toBe(1);
    await plan('b', 'pro');
    t.clock.advance(1000);
    await plan('a', 'free');
    for (let i = 0; i < 3 && (await t.ctx.destinationDispatcher.runOnce()) > 0;) i++;
    const log = await t.admin('GET', `/api/destinations/${s.body.id}/deliveries`);
    expect(log.body.deliveries.map((x: { status: string }) => x.status)).toEqual(['delivered', 'delivered', 'delivered']);
    const members = async (id: string) => ((await asSecond('GET', `/api/segments/${id}/members`)).body.members as { userId: string }[]).map((m) => m.userId).sort();
    expect(await members(entered.body.id)).toEqual(['b']);
    expect(await members(exitedOnce.body.id)).toEqual(['a']);
    const a = await asSecond('GET', '/api/users/a');
    expect(a.body.traits.strata_segments).toEqual([]);
  });
});
