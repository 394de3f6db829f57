import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBackends } from '@strata/store/testing';
import { ADMIN, ROOT, WRITE, startTestApp, type TestApp } from './test-app.ts';

/**
 * The authorisation matrix of docs/security.md ("Who may call what"), route by route from
 * /openapi.json, with every kind of caller; and two projects with the same user ids and segment
 * names, where no read route of one ever shows the other's data.
 */
const backends = await testBackends();

type Caller = 'none' | 'write' | 'server' | 'otherAdmin' | 'admin' | 'root';
type Answer = 'allowed' | 401 | 403;
interface Operation { readonly method: string; readonly path: string; readonly security: readonly string[] }

/** docs/security.md, "Who may call what": what each caller hears from a route, by the route's security schemes. */
function expected(op: Operation, caller: Caller): Answer {
  const s = new Set(op.security);
  if (s.size === 0) return 'allowed';
  if (caller === 'none') return 401;
  if (s.has('rootToken')) return caller === 'root' ? 'allowed' : 403;
  if (s.has('adminToken')) {
    // Another project's admin token is an admin token: it acts on its own project (the isolation test shows it never sees this one's data).
    if (caller === 'admin' || caller === 'otherAdmin') return 'allowed';
    if (caller === 'server' && s.has('serverKey')) return 'allowed';
    return 403;
  }
  // The write-key routes (/v1): only a write key.
  return caller === 'write' ? 'allowed' : 403;
}

function operations(doc: { paths: Record<string, Record<string, { security?: Record<string, string[]>[] }>> }): Operation[] {
  const out: Operation[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) out.push({ method: method.toUpperCase(), path, security: (op.security ?? []).flatMap((x) => Object.keys(x)) });
  }
  return out;
}

describe.each(backends.map((b) => [b.name, b] as const))('authorisation on %s', (_n, backend) => {
  let t: TestApp;
  let ops: Operation[];
  const creds = {} as Record<Exclude<Caller, 'none'>, string>;
  /** Project B: same user ids and segment names as the default project (A), its own data marked "zebra". */
  let b: { id: string; admin: string; write: string; ids: string[] };
  const aIds: string[] = [];

  const inject = (method: string, url: string, headers: Record<string, string>, body?: unknown) =>
    t.app.inject({ method: method as 'GET', url, headers: { 'content-type': 'application/json', ...headers }, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) });
  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  const ok = async (method: string, url: string, token: string, body?: unknown) => {
    const r = await inject(method, url, as(token), body);
    expect(r.statusCode, `${method} ${url}: ${r.payload}`).toBeLessThan(300);
    return r.payload ? r.json() : null;
  };
  const ingest = async (key: string, batch: unknown[]) => {
    const r = await inject('POST', '/v1/batch', { 'x-write-key': key }, { batch });
    expect(r.statusCode, r.payload).toBe(200);
  };

  /** The same shape of data in a project, with `mark` in every name, trait and property it holds. */
  async function populate(admin: string, write: string, mark: string): Promise<string[]> {
    await ingest(write, [
      { type: 'identify', userId: 'u1', anonymousId: 'anon-1', traits: { plan: 'pro', note: `${mark} note`, email: `${mark}@example.com` } },
      { type: 'identify', userId: 'u2', traits: { plan: 'free', note: mark } },
      { type: 'track', userId: 'u1', event: 'purchase', properties: { item: `${mark} item`, total: 5 } },
      { type: 'track', userId: 'u2', event: 'purchase', properties: { item: mark, total: 2 } },
      { type: 'page', userId: 'u1', name: `${mark} page` },
      { type: 'track', userId: 'u1', event: '', properties: { note: mark } },
    ]);
    const pro = await ok('POST', '/api/segments', admin, { name: 'Pro', description: `${mark} pro users`, condition: { attr: 'traits.plan', op: 'eq', value: 'pro' } });
    const buyers = await ok('POST', '/api/segments', admin, { name: 'Buyers', condition: { event: 'purchase' } });
    await ok('POST', `/api/segments/${buyers.id}/members`, admin, { userIds: ['u2'] });
    const mission = await ok('POST', '/api/missions', admin, { name: `Buy twice ${mark}`, points: 10, goal: { kind: 'count', event: 'purchase', target: 2 } });
    const reward = await ok('POST', '/api/rewards', admin, { name: `Coupon ${mark}`, type: 'coupon', cost: 5 });
    await ok('POST', `/api/users/u1/points`, admin, { amount: 20, reason: `${mark} welcome` });
    const exp = await ok('POST', '/api/experiences', admin, { key: 'banner', name: `Banner ${mark}`, variants: [{ key: 'pro', payload: { text: mark }, segmentIds: [pro.id] }], defaultPayload: { text: mark } });
    const hook = await ok('POST', '/api/webhooks', admin, { url: `https://${mark}.example.com/hook` });
    const key = await ok('POST', '/api/keys', admin, { kind: 'server', label: `${mark} back end` });
    return [pro.id, buyers.id, mission.id, reward.id, exp.id, hook.id, key.id];
  }

  beforeAll(async () => {
    t = await startTestApp(await backend.open());
    ops = operations((await inject('GET', '/openapi.json', {})).json());
    const made = await ok('POST', '/api/projects', ROOT, { name: 'B' });
    b = { id: made.project.id, admin: made.adminToken.value, write: made.writeKey.value, ids: [] };
    creds.write = WRITE;
    creds.admin = ADMIN;
    creds.root = ROOT;
    creds.otherAdmin = b.admin;
    creds.server = (await ok('POST', '/api/keys', ADMIN, { kind: 'server' })).value;
    aIds.push(...await populate(ADMIN, WRITE, 'apple'));
    b.ids = await populate(b.admin, b.write, 'zebra');
  });
  afterAll(async () => t.close());

  it('reads the routes of every kind of caller from /openapi.json, as docs/security.md lists them', () => {
    const route = (o: Operation) => `${o.method} ${o.path}`;
    expect(ops.length).toBeGreaterThan(80);
    expect(ops.filter((o) => o.security.includes('serverKey')).map(route).sort()).toEqual(['POST /api/users/{id}/missions/{missionId}/complete', 'POST /api/users/{id}/points']);
    expect(ops.filter((o) => o.security.includes('rootToken')).map(route).sort()).toEqual(['DELETE /api/projects/{id}', 'GET /api/projects', 'POST /api/projects']);
    expect(ops.filter((o) => o.security.some((s) => s.startsWith('writeKey'))).every((o) => o.path.startsWith('/v1/'))).toBe(true);
    const open = ['GET /api/health', 'GET /api/health/ready'];
    expect(ops.filter((o) => o.security.length === 0).map(route).sort()).toEqual(open);
    // Every /api route but the health checks and the projects takes an admin token.
    expect(ops.filter((o) => o.path.startsWith('/api/') && !open.includes(route(o)) && !o.path.startsWith('/api/projects')).every((o) => o.security.includes('adminToken'))).toBe(true);
  });

  it('answers every route as the matrix says, for no key, a write key, a server key, another project\'s admin token, the admin token and the root token', async () => {
    const wrong: string[] = [];
    for (const op of ops) {
      // A body no route accepts as it is (so nothing is changed), and an id no row has.
      const url = op.path.replace(/\{[^}]+\}/g, 'nothing-here');
      const writeRoute = op.security.some((s) => s.startsWith('writeKey'));
      for (const caller of ['none', 'write', 'server', 'otherAdmin', 'admin', 'root'] as const) {
        const headers: Record<string, string> = caller === 'none' ? {} : writeRoute ? { 'x-write-key': creds[caller] } : as(creds[caller]);
        const r = await inject(op.method, url, headers, op.method === 'GET' || op.method === 'DELETE' ? undefined : { bogus: true });
        const want = expected(op, caller);
        const got = r.statusCode;
        const fine = want === 'allowed' ? got !== 401 && got !== 403 : got === want;
        if (!fine) wrong.push(`${op.method} ${op.path} as ${caller}: ${got}, expected ${want} (${r.payload.slice(0, 100)})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('never shows project B\'s data on a read route of project A, whatever id is asked for', async () => {
    const leaks: string[] = [];
    const reads = ops.filter((o) => o.method === 'GET' && o.security.includes('adminToken'));
    expect(reads.length).toBeGreaterThan(40);
    const candidates = ['u1', 'u2', 'anon-1', ...aIds, ...b.ids];
    for (const op of reads) {
      const urls = op.path.includes('{') ? candidates.map((id) => op.path.replace(/\{[^}]+\}/g, id)) : [op.path];
      for (const url of urls) {
        const r = await inject('GET', url, as(ADMIN));
        if (r.statusCode >= 500) leaks.push(`${url}: ${r.statusCode} ${r.payload.slice(0, 100)}`);
        if (/zebra/i.test(r.payload)) leaks.push(`${url}: ${r.payload.slice(0, 200)}`);
        // An id of B's is unknown here (the 404 may repeat the id asked for, nothing else of B's).
        if (b.ids.some((id) => url.includes(id)) && r.statusCode === 200 && !/^\/api\/users\//.test(url)) leaks.push(`${url}: 200 for an id of project B`);
      }
    }
    // The preview and the public API of A read A's people only.
    const preview = await inject('POST', '/api/segments/preview', as(ADMIN), { condition: { attr: 'traits.note', op: 'contains', value: 'zebra' } });
    expect(preview.statusCode, preview.payload).toBe(200);
    expect(preview.json().size ?? preview.json().count ?? 0).toBe(0);
    const targeting = await inject('GET', '/v1/targeting?userId=u1', { 'x-write-key': WRITE });
    expect(targeting.statusCode).toBe(200);
    expect(targeting.payload).not.toMatch(/zebra/i);
    expect(leaks).toEqual([]);
    // And the other way round: B sees its own data under the same ids and names.
    const bUser = await inject('GET', '/api/users/u1', as(b.admin));
    expect(bUser.payload).toContain('zebra');
    expect(bUser.payload).not.toContain('apple');
    const bSegments = (await inject('GET', '/api/segments', as(b.admin))).json().segments;
    expect(bSegments.map((s: { name: string; size: number }) => [s.name, s.size]).sort()).toEqual([['Buyers', 2], ['Pro', 1]]);
  });
});
