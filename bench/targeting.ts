/**
 * GET /v1/targeting over HTTP at scale: an embedded store with N known users (default 1M),
 * 20 attribute segments (memberships computed by SQL before start, so the engine's start
 * reconciles without changes), 10 missions, 10 rewards and 5 experiences targeted at them,
 * and some mission progress and points. The server listens on a real socket; requests are
 * sent one at a time with keep-alive from a worker thread. Baseline in the same process: GET /api/health, the
 * cost of the HTTP round trip itself.
 * The same requests then go to a process of the api role over the same store (its own app and
 * context in this process, on a port of its own), which reads memberships and definitions from the
 * store rather than from the engine's memory (docs/scale-out.md § Roles); its ratio to the all role
 * is printed. BENCH_STORE=postgres runs both on a fresh PostgreSQL database (bench-store.ts), as an
 * api process is deployed.
 * Run: [BENCH_STORE=postgres] npm run bench:targeting [-- users]
 */
import { rmSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { PointsStore } from '@strata/store';
import { buildApp, createContext, stopContext } from '@strata/server';
import { benchStoreFromEnv, checkBenchServices, describeStore } from './bench-store.ts';
import { fmt, pct, table } from './lib.ts';
import { ADMIN, PROJECT, WRITE, scaleProject } from './scale-data.ts';

const users = Number(process.argv[2] ?? 1_000_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 5000);
const NOW = Date.UTC(2024, 5, 15, 12);

const storeKind = benchStoreFromEnv();
await checkBenchServices(storeKind);
const { dir, store, app, ctx, segmentIds, close } = await scaleProject(users, NOW, { store: storeKind });
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
// The full answer is measured: the segments' names too, which /v1/targeting gives a write key only where the project allows it (docs/targeting.md).
{
  const r = await app.inject({ method: 'PATCH', url: '/api/settings', headers: { authorization: `Bearer ${ADMIN}` }, payload: { publicSegments: 'always' } });
  if (r.statusCode !== 200) throw new Error(`/api/settings: ${r.payload}`);
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
const time = (url: string, headers: Record<string, string>, to = address): Promise<number[]> => new Promise((resolve, reject) => {
  const w = new Worker(CLIENT, { eval: true, workerData: { address: to, url, headers, requests: REQUESTS, users } });
  w.once('message', (m: number[]) => { resolve(m); void w.terminate(); });
  w.once('error', reject);
});
await time('/api/health', {});
const health = await time('/api/health', {});
const targeting = await time('/v1/targeting?userId=u{u}', { 'x-write-key': WRITE });
const sample = await (await fetch(`${address}/v1/targeting?userId=u42`, { headers: { 'x-write-key': WRITE } })).json() as { segments: unknown[]; missions: unknown[]; rewards: unknown[]; experiences: unknown[] };

// A process of the api role over the same store: no engine state; memberships and definitions from the store.
const apiCtx = createContext(store, { ...ctx.config, role: 'api' }, { now: () => NOW });
const apiApp = await buildApp(apiCtx);
const apiAddress = await apiApp.listen({ port: 0, host: '127.0.0.1' });
const fromApi = await (await fetch(`${apiAddress}/v1/targeting?userId=u42`, { headers: { 'x-write-key': WRITE } })).json();
if (JSON.stringify(fromApi) !== JSON.stringify(sample)) throw new Error(`the api role answers u42 otherwise than the all role: ${JSON.stringify(fromApi)} against ${JSON.stringify(sample)}`);
await time('/v1/targeting?userId=u{u}', { 'x-write-key': WRITE }, apiAddress);
const apiTargeting = await time('/v1/targeting?userId=u{u}', { 'x-write-key': WRITE }, apiAddress);
await apiApp.close();
await stopContext(apiCtx, { closeStore: false });

const os = await import('node:os');
console.log(`\nmachine: ${os.cpus()[0]?.model ?? '?'} (${os.cpus().length} cores), Node ${process.version}`);
console.log(`${users} users, ${segmentIds.length} segments, 10 missions, 10 rewards, 5 experiences; ${describeStore(storeKind)}; ${REQUESTS} sequential requests over HTTP (keep-alive)\n`);
const vsTarget = (xs: number[]) => (pct(xs, 99) <= 5 ? 'met' : `missed ${(pct(xs, 99) / 5).toFixed(1)}×`);
table([
  ['measure', 'p50 (ms)', 'p99 (ms)', 'target p99', 'vs target'],
  ['GET /v1/targeting, all role (engine memory)', pct(targeting, 50), pct(targeting, 99), 5, vsTarget(targeting)],
  ['GET /v1/targeting, api role (store rows; definitions checked by one read)', pct(apiTargeting, 50), pct(apiTargeting, 99), 5, vsTarget(apiTargeting)],
  ['GET /api/health (baseline: the HTTP round trip)', pct(health, 50), pct(health, 99), '-', ''],
]);
console.log(`\n(api role / all role: p50 ${(pct(apiTargeting, 50) / pct(targeting, 50)).toFixed(2)}×, p99 ${(pct(apiTargeting, 99) / pct(targeting, 99)).toFixed(2)}×)`);
console.log(`\n(ratio p99 targeting / health: ${(pct(targeting, 99) / pct(health, 99)).toFixed(1)}×; u42 gets ${sample.segments.length} segments, ${sample.missions.length} missions, ${sample.rewards.length} rewards, ${sample.experiences.length} experiences; ${fmt(users)} users)`);
await close();
rmSync(dir, { recursive: true, force: true });
