/**
 * GET /v1/targeting over HTTP at scale: an embedded store with N known users (default 1M),
 * 20 attribute segments (memberships computed by SQL before start, so the engine's start
 * reconciles without changes), 10 missions, 10 rewards and 5 experiences targeted at them,
 * and some mission progress and points. The server listens on a real socket; requests are
 * sent one at a time with keep-alive from a worker thread. Baseline in the same process: GET /api/health, the
 * cost of the HTTP round trip itself.
 * Run: npm run bench:targeting [-- users]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { sql } from 'kysely';
import { compileConditionSql, parseCondition } from '@strata/core';
import { buildApp, configFromEnv, createContext, ensureDefaultProject } from '@strata/server';
import { createStore, PointsStore } from '@strata/store';
import { fmt, table } from './lib.ts';

const users = Number(process.argv[2] ?? 1_000_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 5000);
const NOW = Date.UTC(2024, 5, 15, 12);
const PROJECT = 'default';
const ADMIN = 'sta_bench_admin';
const WRITE = 'stw_bench_write';
const PLANS = ['free', 'basic', 'pro', 'vip'];
const COUNTRIES = ['US', 'GB', 'DE', 'FR', 'CN', 'JP', 'BR', 'IN', 'ES', 'IT'];
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!; };

const dir = mkdtempSync(join(tmpdir(), 'strata-bench-targeting-'));
const store = await createStore({ kind: 'sqlite', dataDir: dir });
const config = { ...configFromEnv({}), adminToken: ADMIN, writeKey: WRITE };
await ensureDefaultProject(store, config, NOW);

console.log(`writing ${users} users...`);
let t = performance.now();
const CHUNK = 500;
for (let start = 1; start <= users; start += CHUNK * 20) {
  await store.transaction(async (tx) => {
    for (let s = start; s < Math.min(users + 1, start + CHUNK * 20); s += CHUNK) {
      const ids = Array.from({ length: Math.min(CHUNK, users + 1 - s) }, (_, k) => s + k);
      const traits = (i: number) => JSON.stringify({ plan: PLANS[i % 4], country: COUNTRIES[i % 10], score: i % 100 });
      await sql`INSERT INTO profiles (id, project_id, user_id, anonymous_id, traits, traits_at, context, labels, first_seen, last_seen, created_at, updated_at) VALUES ${sql.join(
        ids.map((i) => sql`(${i}, ${PROJECT}, ${`u${i}`}, ${null}, ${traits(i)}, '{}', '{}', '[]', ${NOW - 86_400_000}, ${NOW - 3_600_000}, ${NOW}, ${NOW})`))}`.execute(tx.db);
      await sql`INSERT INTO profile_keys (project_id, kind, key, profile_id) VALUES ${sql.join(ids.map((i) => sql`(${PROJECT}, 'u', ${`u${i}`}, ${i})`))}`.execute(tx.db);
    }
  });
}
console.log(`  ${((performance.now() - t) / 1000).toFixed(1)} s`);

// 20 segments: plans, countries, score bands, and two combinations.
const conditions: [string, unknown][] = [
  ...PLANS.map((p) => [`Plan ${p}`, { attr: 'traits.plan', op: 'eq', value: p }] as [string, unknown]),
  ...COUNTRIES.map((c) => [`Country ${c}`, { attr: 'traits.country', op: 'eq', value: c }] as [string, unknown]),
  ...[0, 25, 50, 75].map((lo) => [`Score ${lo}-${lo + 24}`, { attr: 'traits.score', op: 'between', value: [lo, lo + 24] }] as [string, unknown]),
  ['VIP in Europe', { all: [{ attr: 'traits.plan', op: 'eq', value: 'vip' }, { attr: 'traits.country', op: 'in', value: ['GB', 'DE', 'FR', 'ES', 'IT'] }] }],
  ['Pro or high score', { any: [{ attr: 'traits.plan', op: 'eq', value: 'pro' }, { attr: 'traits.score', op: 'gte', value: 90 }] }],
];
t = performance.now();
const segmentIds: string[] = [];
await store.transaction(async (tx) => {
  for (const [i, [name, condition]] of conditions.entries()) {
    const id = `seg_bench_${i}`;
    segmentIds.push(id);
    await tx.insertSegment({ id, projectId: PROJECT, name, description: '', condition: condition as never, template: null, params: null, createdAt: NOW, updatedAt: NOW });
    const parsed = parseCondition(condition);
    if (!parsed.ok) throw new Error(name);
    const where = compileConditionSql(parsed.value, { dialect: tx.sqlDialect, projectId: PROJECT, now: NOW, resolveSegment: () => undefined });
    await sql`INSERT INTO memberships (project_id, segment_id, profile_id, since) SELECT project_id, ${id}, id, ${NOW} FROM profiles p WHERE project_id = ${PROJECT} AND ${where}`.execute(tx.db);
  }
  await tx.setEngineClock(PROJECT, NOW);
});
console.log(`  segments and memberships by SQL: ${((performance.now() - t) / 1000).toFixed(1)} s`);

const clock = { now: () => NOW };
const ctx = createContext(store, config, clock);
t = performance.now();
await ctx.engine.start(0);
console.log(`  engine loaded ${users} profiles in ${((performance.now() - t) / 1000).toFixed(1)} s`);
const app = await buildApp(ctx);
const admin = async (url: string, body: unknown) => {
  const r = await app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${ADMIN}` }, payload: body as object });
  if (r.statusCode >= 300) throw new Error(`${url}: ${r.payload}`);
  return JSON.parse(r.payload) as { id: string };
};
const missionIds: string[] = [];
for (let i = 0; i < 10; i++) {
  missionIds.push((await admin('/api/missions', { name: `Mission ${i}`, segmentIds: i < 8 ? [segmentIds[i]!, segmentIds[(i + 5) % 20]!] : [], goal: { kind: 'count', event: `task_${i}`, target: 3 }, points: 10 * (i + 1) })).id);
  await admin('/api/rewards', { name: `Reward ${i}`, type: 'digital', cost: 50 * (i + 1), stock: i % 2 ? 1000 : null, perUserLimit: 2, segmentIds: i < 8 ? [segmentIds[(i + 3) % 20]!] : [] });
}
for (let i = 0; i < 5; i++) {
  await admin('/api/experiences', { key: `exp-${i}`, name: `Experience ${i}`, defaultPayload: { v: 'default' }, variants: [
    { key: 'a', payload: { v: 'a' }, segmentIds: [segmentIds[i]!] }, { key: 'b', payload: { v: 'b' }, segmentIds: [segmentIds[i + 4]!] }] });
}
// Points for every 10th user.
await store.transaction(async (tx) => {
  const points = new PointsStore(tx);
  for (let i = 1; i <= users; i += 10) await points.apply(PROJECT, i, { kind: 'earn', amount: 100 + (i % 400), reason: 'bench', at: NOW });
});

const address = await app.listen({ port: 0, host: '127.0.0.1' });
/**
 * The client runs in a worker thread: its own V8 heap, so its allocations do not add to the
 * server's garbage collection (as a real client would not).
 */
const CLIENT = `
const { parentPort, workerData: { address, url, headers, requests, users } } = require('node:worker_threads');
(async () => {
  const out = [];
  for (let i = 0; i < requests; i++) {
    const s = performance.now();
    const r = await fetch(address + url.replace('{u}', String(1 + ((i * 7919) % users))), { headers });
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(url + ': HTTP ' + r.status);
    out.push(performance.now() - s);
  }
  parentPort.postMessage(out);
})();`;
const time = (url: string, headers: Record<string, string>): Promise<number[]> => new Promise((resolve, reject) => {
  const w = new Worker(CLIENT, { eval: true, workerData: { address, url, headers, requests: REQUESTS, users } });
  w.once('message', (m: number[]) => { resolve(m); void w.terminate(); });
  w.once('error', reject);
});
await time('/api/health', {});
const health = await time('/api/health', {});
const targeting = await time('/v1/targeting?userId=u{u}', { 'x-write-key': WRITE });
const sample = await (await fetch(`${address}/v1/targeting?userId=u42`, { headers: { 'x-write-key': WRITE } })).json() as { segments: unknown[]; missions: unknown[]; rewards: unknown[]; experiences: unknown[] };

const os = await import('node:os');
console.log(`\nmachine: ${os.cpus()[0]?.model ?? '?'} (${os.cpus().length} cores), Node ${process.version}`);
console.log(`${users} users, ${segmentIds.length} segments, 10 missions, 10 rewards, 5 experiences; ${REQUESTS} sequential requests over HTTP (keep-alive)\n`);
table([
  ['measure', 'p50 (ms)', 'p99 (ms)', 'target p99', 'vs target'],
  ['GET /v1/targeting', pct(targeting, 50), pct(targeting, 99), 5, pct(targeting, 99) <= 5 ? 'met' : `missed ${(pct(targeting, 99) / 5).toFixed(1)}×`],
  ['GET /api/health (baseline: the HTTP round trip)', pct(health, 50), pct(health, 99), '-', ''],
]);
console.log(`\n(ratio p99 targeting / health: ${(pct(targeting, 99) / pct(health, 99)).toFixed(1)}×; u42 gets ${sample.segments.length} segments, ${sample.missions.length} missions, ${sample.rewards.length} rewards, ${sample.experiences.length} experiences; ${fmt(users)} users)`);
await app.close();
await ctx.engine.stop();
await store.close();
rmSync(dir, { recursive: true, force: true });
