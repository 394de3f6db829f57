import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { testBackends, type TestBackend } from '@strata/store/testing';
import { ADMIN, WRITE, startTestApp, type TestApp } from './test-app.ts';

/**
 * Fuzzing every route of /openapi.json through app.inject (docs/reliability.md, "Fuzzing"):
 * valid example bodies, then mutated (wrong types, extreme numbers, long and broken strings,
 * deep nesting, prototype keys, expression-language exploit strings as plain data, catastrophic
 * regular expressions), random query strings and path parameters — real ids of this project,
 * ids of another project, and garbage. Each request must answer below 500, every refusal in
 * Strata's error shape ({"error": {code, message}}); afterwards another
 * project's data and an untouched segment of this one must be exactly as before.
 *
 * Deterministic: a fixed seed (STRATA_FUZZ_SEED overrides it; fast-check prints the seed and
 * the failing request). STRATA_FUZZ_RUNS sets the number of requests of the SQLite run.
 */
const SEED = Number(process.env.STRATA_FUZZ_SEED ?? 20261206);
const RUNS = Number(process.env.STRATA_FUZZ_RUNS ?? 1500);
/** The PostgreSQL run (a real server, else PGlite) is shorter: the same code above another store. */
const PG_RUNS = Number(process.env.STRATA_FUZZ_PG_RUNS ?? Math.ceil(RUNS / 5));
const T0 = Date.UTC(2024, 5, 15, 12);
const OTHER_ADMIN = 'sta_fuzz_other';

/** A piece of JSON text put into a body as is: what JSON.stringify cannot write (-0, 1e999, a `__proto__` key). */
class Raw {
  constructor(readonly text: string) {}
}

function bodyText(v: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(v, (_k, x: unknown) => (x instanceof Raw ? `\u0001${raws.push(x.text) - 1}\u0001` : x)) ?? '';
  return text.replace(/"\\u0001(\d+)\\u0001"/g, (_m, i: string) => raws[Number(i)]!);
}

/** Arrays nested n deep, as text (fast-check prints a counterexample by recursion). */
const deep = (n: number) => new Raw(`${'['.repeat(n)}1${']'.repeat(n)}`);
const CATASTROPHIC = ['((a?){1,10}){1,100}$', '(a+)+$', '(a|aa)+$', '(.*a){20}', '^(a|a?)+$', '(x+x+)+y', '(\\w+\\s?)*$'];
const EXPLOITS = [
  '${@java.lang.Runtime@getRuntime().exec("touch /tmp/strata-pwned")}',
  'script::Runtime.getRuntime().exec("touch /tmp/strata-pwned")',
  '%{(#rt=@java.lang.Runtime@getRuntime()).(#rt.exec("id"))}',
  '#{T(java.lang.Runtime).getRuntime().exec("id")}',
  "' OR 1=1 --", '"; DROP TABLE segments; --', '$where: 1', '{{7*7}}', '<script>alert(1)</script>', '../../../../etc/passwd',
];
const STRINGS = [
  '', ' ', 'NaN', 'Infinity', '-Infinity', '1e999', '-0', '0x10', 'null', 'true', '2024-02-30T25:61:00Z', '9999-12-31T23:59:59.999Z', '0000-01-01T00:00:00Z',
  'x'.repeat(257), 'x'.repeat(2001), 'é'.repeat(20_000), '\u0000', 'a\u0000b', '\ud800', 'a\udc00b', '\ud83d', '😀'.repeat(300), '\u202egnp.exe', '\uFEFF', '*', '$identify', '$session',
  ...EXPLOITS, ...CATASTROPHIC,
];
const VALUES: unknown[] = [
  null, true, false, 0, 1, -1, 1e308, -1e308, 5e-324, 2 ** 53 + 1, -(2 ** 63), 1.5, [], {}, [[[]]], deep(99), deep(150), deep(2000),
  new Raw('-0'), new Raw('1e999'), new Raw('-1e999'), new Raw('1e-999'), new Raw('123456789012345678901234567890'),
  new Raw('{"__proto__":{"polluted":true},"name":"p"}'), new Raw('{"constructor":{"prototype":{"polluted":true}}}'),
  new Raw('{"a":1,"a":2}'), ...STRINGS,
];

const nasty: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...VALUES) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.double().map((d) => (Number.isFinite(d) ? d : new Raw(d > 0 ? '1e999' : '-1e999'))) },
);
const KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', 'x'.repeat(300), '\u0000', '\ud800', '$where', 'a.b', 'a/b', '~1', 'writeKey', 'id', 'projectId'];

type Mutation =
  | { kind: 'replace'; at: number; value: unknown }
  | { kind: 'add'; at: number; key: string; value: unknown }
  | { kind: 'remove'; at: number }
  | { kind: 'whole'; value: unknown };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: nasty }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('add' as const), at: fc.nat(), key: fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 8 })), value: nasty }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('whole' as const), value: nasty }) },
);

/** Every [container, key] of a JSON value, depth first (the root itself is [holder, 'v']). */
function slots(root: { v: unknown }): [Record<string, unknown> | unknown[], string | number][] {
  const out: [Record<string, unknown> | unknown[], string | number][] = [[root, 'v']];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach((x, i) => { out.push([v, i]); walk(x); });
    else if (v !== null && typeof v === 'object' && !(v instanceof Raw)) for (const [k, x] of Object.entries(v)) { out.push([v as Record<string, unknown>, k]); walk(x); }
  };
  walk(root.v);
  return out;
}

/** A fresh copy of a generated value: the constants are shared between runs, and one body may hold a value twice. */
const fresh = (v: unknown): unknown => (v instanceof Raw ? v : structuredClone(v));

function mutate(example: unknown, mutations: readonly Mutation[]): unknown {
  const root = { v: structuredClone(example) };
  for (const m0 of mutations) {
    const m = 'value' in m0 ? { ...m0, value: fresh(m0.value) } : m0;
    if (m.kind === 'whole') { root.v = m.value; continue; }
    const all = slots(root);
    const [holder, key] = all[m.at % all.length]!;
    const target = (holder as Record<string | number, unknown>)[key];
    if (m.kind === 'replace') (holder as Record<string | number, unknown>)[key] = m.value;
    else if (m.kind === 'remove' && holder !== root) {
      if (Array.isArray(holder)) holder.splice(key as number, 1);
      else delete (holder as Record<string, unknown>)[key as string];
    } else if (m.kind === 'add' && target !== null && typeof target === 'object' && !(target instanceof Raw)) {
      if (Array.isArray(target)) target.push(m.value);
      // An own property, so that a "__proto__" key is sent as a key (not taken as the prototype).
      else Object.defineProperty(target, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
    }
  }
  return root.v;
}

const cond = { all: [
  { attr: 'traits.plan', op: 'eq', value: 'pro' },
  { event: 'purchase', where: [{ attr: 'properties.sku', op: 'matches', value: '^(a|b)+c?$' }], window: { within: '30d' }, agg: { fn: 'sum', prop: 'properties.revenue' }, cmp: { op: 'gte', value: 10 } },
  { any: [{ attr: 'traits.email', op: 'ends_with', value: '@example.com' }, { not: { attr: 'labels', op: 'contains', value: 'vip' } }] },
] };
const message = { userId: 'u1', anonymousId: 'a1', event: 'purchase', properties: { sku: 'aaaa', revenue: 12.5 }, traits: { plan: 'pro' }, context: { ip: '203.0.113.9', page: { path: '/x' } }, timestamp: '2024-06-15T11:00:00.000Z', sentAt: '2024-06-15T11:00:01.000Z', previousId: 'a1', groupId: 'g1' };

/** A valid body per operation (`METHOD /path`); the ingest routes have no body schema in the document. */
const EXAMPLES: Record<string, unknown> = {
  'POST /v1/identify': message, 'POST /v1/track': message, 'POST /v1/page': message, 'POST /v1/screen': message,
  'POST /v1/group': message, 'POST /v1/alias': { ...message, userId: 'u2' }, 'POST /v1/batch': { batch: [{ ...message, type: 'track' }, { ...message, type: 'identify' }], sentAt: '2024-06-15T11:00:01.000Z' },
  'POST /v1/rewards/{id}/redeem': { userId: 'u1', requestId: 'r1' },
  'POST /api/segments': { name: 'Fuzz', description: 'd', condition: cond, include: ['u1'], exclude: ['u2'] },
  'PATCH /api/segments/{id}': { name: 'Fuzz 2', condition: cond },
  'POST /api/segments/preview': { condition: { all: [cond, { attr: 'traits.name', op: 'matches', value: '(a+)+$' }] } },
  'POST /api/segments/{id}/members': { userIds: ['u1', 'u3'], createMissing: true },
  'POST /api/segments/lifecycle': { params: { activeWindow: '7d' } },
  'POST /api/segments/overlap': { ids: ['a', 'b'] },
  'POST /api/users/{id}/labels': { add: ['vip'], remove: ['old'] },
  'POST /api/users/{id}/points': { amount: 50, reason: 'bonus', kind: 'earn', ref: 'p1' },
  'POST /api/webhooks': { url: 'http://127.0.0.1:9/in', kinds: ['segment.entered'] },
  'POST /api/destinations': { name: 'CRM', kind: 'http', url: 'http://127.0.0.1:9/d', batchSize: 10 },
  'PATCH /api/destinations/{id}': { name: 'CRM 2', batchSize: 5 },
  'POST /api/missions': { name: 'M', goal: { kind: 'count', event: 'purchase', target: 3 }, points: 10, repeatable: true, cooldown: '1d' },
  'PATCH /api/missions/{id}': { active: false, goal: { kind: 'sum', event: 'purchase', prop: 'properties.revenue', target: 100 } },
  'POST /api/rewards': { name: 'Mug', type: 'coupon', cost: 10, stock: 5, perUserLimit: 1, startsAt: '2024-01-01T00:00:00.000Z' },
  'PATCH /api/rewards/{id}': { cost: 20, active: true },
  'POST /api/rewards/{id}/codes': { codes: ['A1', 'B2'] },
  'POST /api/rewards/{id}/redeem': { userId: 'u1', requestId: 'r2' },
  'POST /api/experiences': { key: 'hero', name: 'Hero', variants: [{ key: 'a', payload: { title: 'A' }, priority: 1 }], defaultPayload: { title: 'x' } },
  'PATCH /api/experiences/{id}': { active: false },
  'PATCH /api/settings': { publicSegments: 'always' },
  'POST /api/experiments': { name: 'E', arms: [{ key: 'a', weight: 1 }, { key: 'b', weight: 1 }], status: 'running' },
  'PATCH /api/experiments/{id}': { name: 'E2', status: 'stopped' },
};

interface Operation { readonly method: string; readonly path: string; readonly query: string[]; readonly example: unknown; readonly admin: boolean }

/** Where an id of a path parameter comes from: the resource named before it. */
const POOL_OF: Record<string, string> = { segments: 'segments', users: 'users', webhooks: 'webhooks', destinations: 'destinations', missions: 'missions', rewards: 'rewards', experiences: 'experiences', experiments: 'experiments', imports: 'imports' };
const PATH_JUNK = ['x', '..', '%2e%2e', '%00', '%ED%A0%80', '%FF', 'a%2Fb', encodeURIComponent('x'.repeat(300)), encodeURIComponent(EXPLOITS[0]!), encodeURIComponent('((a?){1,10}){1,100}$'), '0', '-1', 'null', 'undefined', '__proto__', 'constructor'];
const QUERY_VALUES = ['', '0', '-1', '1', '1001', '1e308', '99999999999999999999', 'NaN', 'true', 'csv', 'json', 'ndjson', 'users', 'x'.repeat(300), '%00', '%ED%A0%80', encodeURIComponent(EXPLOITS[0]!), 'a,b,c'];

const request = fc.record({
  op: fc.nat(),
  params: fc.array(fc.oneof({ weight: 3, arbitrary: fc.nat().map((n) => ({ pool: n })) }, { weight: 1, arbitrary: fc.constantFrom(...PATH_JUNK).map((junk) => ({ junk })) }), { minLength: 2, maxLength: 2 }),
  mutations: fc.oneof({ weight: 1, arbitrary: fc.constant([] as Mutation[]) }, { weight: 4, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) }),
  query: fc.array(fc.tuple(fc.nat(), fc.constantFrom(...QUERY_VALUES)), { maxLength: 3 }),
  auth: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'none', 'wrong'),
  contentType: fc.constantFrom('application/json', 'application/json', 'application/json', 'text/plain', 'application/json; charset=utf-8', undefined),
});

async function fuzzBackend(backend: TestBackend, runs: number): Promise<void> {
  const t = await startTestApp(await backend.open(), T0);
  try {
    const json = async (method: string, url: string, body?: unknown, token = ADMIN) => {
      const r = await t.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });
      if (r.statusCode >= 300) throw new Error(`${method} ${url}: ${r.statusCode} ${r.payload}`);
      return r.payload ? r.json() : null;
    };
    // Another project, with data of every kind: it must come out exactly as it went in.
    await t.ctx.store.createProject({ id: 'other', name: 'Other', writeKey: 'stw_fuzz_other', adminToken: OTHER_ADMIN, now: T0 });
    const pools: Record<string, string[]> = { users: ['u1', 'u2', 'a1', 'o1', 'nobody'], segments: [], webhooks: [], destinations: [], missions: [], rewards: [], experiences: [], experiments: [], imports: [] };
    const seed = async (token: string, mine: boolean) => {
      const add = (pool: string, id: string) => pools[pool]!.push(id);
      const s = await json('POST', '/api/segments', EXAMPLES['POST /api/segments'], token);
      add('segments', s.id);
      add('missions', (await json('POST', '/api/missions', EXAMPLES['POST /api/missions'], token)).id);
      add('rewards', (await json('POST', '/api/rewards', EXAMPLES['POST /api/rewards'], token)).id);
      add('experiences', (await json('POST', '/api/experiences', EXAMPLES['POST /api/experiences'], token)).id);
      add('experiments', (await json('POST', '/api/experiments', EXAMPLES['POST /api/experiments'], token)).id);
      add('webhooks', (await json('POST', '/api/webhooks', EXAMPLES['POST /api/webhooks'], token)).id);
      add('destinations', (await json('POST', '/api/destinations', EXAMPLES['POST /api/destinations'], token)).id);
      await json('POST', `/api/users/${mine ? 'u1' : 'o1'}/points`, { amount: 100, reason: 'seed', kind: 'earn' }, token).catch(() => undefined);
      return s.id as string;
    };
    const otherSegment = await seed(OTHER_ADMIN, false);
    await t.app.inject({ method: 'POST', url: '/v1/batch', headers: { 'x-write-key': 'stw_fuzz_other' }, payload: { batch: [{ ...message, userId: 'o1', type: 'identify' }, { ...message, userId: 'o1', type: 'track' }] } });
    await seed(ADMIN, true);
    expect((await t.send('/v1/batch', EXAMPLES['POST /v1/batch'])).status).toBe(200);
    // A segment of this project the fuzzer is never given: a static list.
    const kept = await json('POST', '/api/segments', { name: 'Kept', condition: null, include: ['keep1'] });
    await t.ctx.engine.tick();

    const snapshot = async () => {
      const out: Record<string, unknown> = {};
      for (const url of ['/api/segments', '/api/missions', '/api/rewards', '/api/experiences', '/api/experiments', '/api/webhooks', '/api/destinations', '/api/settings',
        '/api/users/o1', '/api/users/o1/events', '/api/users/o1/points', `/api/segments/${otherSegment}/members`, `/api/segments/${otherSegment}/history`, '/api/ingest/warnings']) {
        out[url] = await json('GET', url, undefined, OTHER_ADMIN);
      }
      out.kept = await json('GET', `/api/segments/${kept.id}`);
      out.keptMembers = await json('GET', `/api/segments/${kept.id}/members`);
      return out;
    };
    const before = await snapshot();

    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, { parameters?: { in: string; name: string }[] }>> };
    const ops: Operation[] = [];
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [m, op] of Object.entries(methods)) {
        const method = m.toUpperCase();
        ops.push({ method, path, admin: path.startsWith('/api/'), query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name), example: EXAMPLES[`${method} ${path}`] ?? (method === 'GET' || method === 'DELETE' ? undefined : {}) });
      }
    }
    // Every route of the document, ingest and admin alike.
    expect(ops.length).toBeGreaterThan(80);

    const statuses = new Map<number, number>();
    let sent = 0;
    await fc.assert(fc.asyncProperty(request, async (r) => {
      const op = ops[r.op % ops.length]!;
      let i = 0;
      const url = op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
        const p = r.params[i++ % r.params.length]!;
        if ('junk' in p) return p.junk;
        const before = op.path.slice(0, op.path.indexOf(`{${name}}`)).split('/').filter(Boolean).pop() ?? '';
        const pool = pools[name === 'userId' ? 'users' : name === 'segmentId' ? 'segments' : POOL_OF[before] ?? 'users']!;
        return pool.length ? encodeURIComponent(pool[p.pool % pool.length]!) : 'none';
      });
      const query = r.query.map(([k, v]) => `${k % 4 === 3 || op.query.length === 0 ? 'bogus' : op.query[k % op.query.length]}=${v}`).join('&');
      const body = op.example === undefined && r.mutations.length === 0 ? undefined : mutate(op.example ?? {}, r.mutations);
      const headers: Record<string, string> = {};
      if (r.contentType && body !== undefined) headers['content-type'] = r.contentType;
      if (r.auth !== 'none') {
        const good = r.auth === 'ok';
        if (op.admin) headers.authorization = `Bearer ${good ? ADMIN : 'sta_wrong'}`;
        else headers['x-write-key'] = good ? WRITE : 'stw_wrong';
      }
      const res = await t.app.inject({ method: op.method as 'GET', url: query ? `${url}?${query}` : url, headers, ...(body === undefined ? {} : { payload: bodyText(body) }) });
      sent++;
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      const fault = res.statusCode >= 500 ? 'a 5xx' : res.statusCode >= 400 && typeof (res.json() as { error?: { code?: unknown } }).error?.code !== 'string' ? 'an error outside the {"error": {code, message}} shape' : null;
      if (fault) throw new Error(`${fault}: ${op.method} ${url}${query ? `?${query}` : ''} answered ${res.statusCode}: ${res.payload.slice(0, 500)}\nbody: ${body === undefined ? '-' : bodyText(body).slice(0, 500)}`);
      // Keep the pools fed with what the fuzzer creates (then updates and deletes).
      if (res.statusCode === 201 && op.method === 'POST') {
        const id = (res.json() as { id?: unknown }).id;
        const pool = POOL_OF[op.path.split('/')[2] ?? ''];
        if (typeof id === 'string' && pool && !op.path.includes('{')) pools[pool]!.push(id);
      }
    }), { seed: SEED, numRuns: runs, endOnFailure: true });
    await t.ctx.engine.tick();

    const summary = [...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`).join(', ');
    console.log(`[fuzz ${backend.name}] seed ${SEED}: ${sent} requests over ${ops.length} operations; statuses ${summary}`);
    expect([...statuses.keys()].filter((s) => s >= 500)).toEqual([]);
    // Nothing leaked into another project or an untouched segment.
    expect(await snapshot()).toEqual(before);
    expect((await t.app.inject({ method: 'GET', url: '/api/health' })).statusCode).toBe(200);
    // Not one prototype was polluted by a "__proto__" or "constructor" key.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  } finally {
    await t.close();
  }
}

const backends = await testBackends();

describe('fuzzing every route of the OpenAPI document', () => {
  let sqlite: TestBackend;
  let postgres: TestBackend;
  beforeAll(() => { [sqlite, postgres] = backends as [TestBackend, TestBackend]; });
  afterAll(() => undefined);

  it(`SQLite: ${RUNS} requests, no 5xx, no change to other data`, async () => {
    await fuzzBackend(sqlite, RUNS);
  }, 120_000);

  it(`PostgreSQL: ${PG_RUNS} requests, no 5xx, no change to other data`, async () => {
    await fuzzBackend(postgres, PG_RUNS);
  }, 120_000);
});
