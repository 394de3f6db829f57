/**
 * HTTP /v1/batch ingest into the embedded SQLite store with 20 live segments (BENCH_SEGMENTS=n for
 * fewer, BENCH_SEGMENTS=200 for bench:engine's 200), against the
 * floor of the same events written durably by a plain prepared INSERT. The client runs in a
 * worker thread (the 2-core machine's second core).
 * Run: npm run bench:ingest [-- users]   (≈10 events per user)
 * BENCH_ORDER: the order each user's events arrive in (ingest-client.ts): `users` (the default),
 * `time`, `shuffled`, `reversed` (newest first), `spread` (the shuffled batches, each user in time
 * order), `both` — `time` then `shuffled` back to back, each into a fresh store, with the ratio of
 * their rates (late events against live ones) — or `all`: `time`, `reversed`, `spread` and
 * `shuffled`, each late order's rate against the in-order one sent in the same batches (newest
 * first against time order, shuffled against spread) and against time order (or a comma list of
 * orders, run in the order given: `shuffled,time`). BENCH_WINDOW: users interleaved.
 * A run's rate is to the moment every acknowledged event is applied (segments current); the
 * table also gives when the last one was acknowledged (durable in the event log).
 * BENCH_STORE (bench-store.ts): `sqlite` (the default, as above); `postgres` — a fresh PostgreSQL
 * database of its own on 127.0.0.1:5432 (user postgres) with the embedded log in it, dropped at
 * the end; `nats` — the same database with the event log on NATS JetStream at 127.0.0.1:4222
 * (a prefix of its own, 16 partitions, one process applying them all; the stream deleted at the
 * end). A service that does not answer stops the run before anything is measured, naming it.
 * The floor stays the SQLite one of the same run, on the same disk: PostgreSQL and NATS share
 * the machine's 2 cores with the server and the client.
 * BENCH_APIS (BENCH_STORE=nats only): a comma list of counts of processes of the api role
 * (`strata serve` with STRATA_ROLE=api, started for the run) that take the client's requests, lane
 * k to process k mod n, beside the benchmark's own process of the all role, which applies; 0 (the
 * default) sends them to the all process. Each count is a run of its own, back to back, and each
 * is printed against the first.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { generateBatches } from '@strata/datagen';
import { buildApp, type AppContext } from '@strata/server';
import type { SqlStore } from '@strata/store';
import { benchStoreFromEnv, checkBenchServices, describeStore, openBenchStore } from './bench-store.ts';
import { ADMIN, WRITE, createSegmentMix } from './scale-data.ts';
import { benchWorker, table, workerAnswer } from './lib.ts';
import { BENCH_SEGMENTS } from './segments.ts';
import type { IngestClientData, IngestOrder } from './ingest-client.ts';
import { startStrata, type StrataProcess } from '../e2e/strata-process.ts';

const users = Number(process.argv[2] ?? 100_000);
const end = Date.now();
const dir = mkdtempSync(join(tmpdir(), 'strata-bench-'));

// --- Strata over HTTP, 20 segments kept current on every batch: one fresh store per order.
const segmentCount = Number(process.env.BENCH_SEGMENTS ?? BENCH_SEGMENTS.length);
const orderOption = process.env.BENCH_ORDER ?? 'users';
const orders = (orderOption === 'both' ? ['time', 'shuffled'] : orderOption === 'all' ? ['time', 'reversed', 'spread', 'shuffled'] : orderOption.split(',')) as IngestOrder[];
if (!orders.every((o) => ['users', 'time', 'shuffled', 'reversed', 'spread'].includes(o))) throw new Error(`BENCH_ORDER must be users, time, shuffled, reversed, spread (or a comma list of them), both or all, got ${orderOption}`);
const window = Number(process.env.BENCH_WINDOW ?? 2000);
const storeKind = benchStoreFromEnv();
await checkBenchServices(storeKind);
const apiCounts = (process.env.BENCH_APIS?.trim() || '0').split(',').map((t) => Number(t.trim()));
if (!apiCounts.every((n) => Number.isSafeInteger(n) && n >= 0 && n <= 8)) throw new Error(`BENCH_APIS must be a comma list of whole numbers from 0 to 8, got "${process.env.BENCH_APIS}"`);
if (storeKind !== 'nats' && apiCounts.some((n) => n > 0)) throw new Error('BENCH_APIS needs BENCH_STORE=nats: processes of the api role append to the log on NATS');

interface Run { order: IngestOrder; apis: number; events: number; ms: number; ackMs: number; profiles: number; lookupMs: number[]; changesWritten: number; late: number; sizes: { name: string; size: number }[] }

async function runStrata(order: IngestOrder, apis: number): Promise<Run> {
  const { store, ctx, env, close } = await openBenchStore(storeKind, join(dir, `strata-${order}-${apis}`), end);
  // Every service stopped, not just the store: the engine's timer and the membership worker of
  // the first order would otherwise run on through the second order's run (and keep the process up).
  // A run's PostgreSQL database and NATS stream are removed with them, also when the run fails.
  const children = new Set<import('node:child_process').ChildProcess>();
  try {
    // Processes of the api role share the run's database and stream; started before the clock runs.
    const procs: StrataProcess[] = [];
    for (let i = 0; i < apis; i++) procs.push(await startStrata({ ...env!, STRATA_ROLE: 'api', STRATA_LOG_LEVEL: 'warn' }, children));
    return await measure(order, apis, store, ctx, procs.map((p) => `${p.base}/v1/batch`));
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await close();
  }
}

async function measure(order: IngestOrder, apis: number, store: SqlStore, ctx: AppContext, apiUrls: readonly string[]): Promise<Run> {
  await createSegmentMix(ctx, segmentCount);
  const app = await buildApp(ctx);
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const data: IngestClientData = { url: `${base}/v1/batch`, urls: apiUrls, writeKey: WRITE, users, end, concurrency: Number(process.env.BENCH_CONCURRENCY ?? 8), order, window };
  const began = performance.now();
  const result = await workerAnswer<{ events: number; failed: number; ms: number }>(benchWorker('./ingest-client.ts', data));
  // Acknowledged is not yet applied: the run ends when the worker has applied every acknowledged event.
  await ctx.ingest.drain();
  const appliedMs = performance.now() - began;
  // "Which segments is user X in" over HTTP, on the loaded store: one request at a time.
  const lookupIds = (await store.scanProfiles('default', 0, 50_000)).map((p) => p.userId ?? p.anonymousId!).filter((_, i) => i % 25 === 0);
  const lookupMs: number[] = [];
  for (const id of lookupIds) {
    const t = performance.now();
    const r = await fetch(`${base}/api/users/${encodeURIComponent(id)}/segments`, { headers: { authorization: `Bearer ${ADMIN}` } });
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`lookup of ${id}: ${r.status}`);
    lookupMs.push(performance.now() - t);
  }
  lookupMs.sort((a, b) => a - b);
  await app.close();
  const sizes = await ctx.segments.list('default');
  const profiles = await store.countProfiles('default');
  const changesWritten = Number((await store.db.selectFrom('membership_history').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst())?.n ?? 0);
  if (result.failed) throw new Error(`${order}: ${result.failed} batches were not accepted`);
  return { order, apis, events: result.events, ms: appliedMs, ackMs: result.ms, profiles, lookupMs, changesWritten, late: await lateWhenApplied(store), sizes };
}

/**
 * The events sent that were late when applied: behind a later event of their profile applied in an
 * earlier request. Rows are stored in the order applied (ids), a request's items in time order, so
 * an event is late when an earlier id of its profile has a later time. (What the order sent intends
 * can differ by a little: requests in flight together may be appended in another order.)
 */
async function lateWhenApplied(store: SqlStore): Promise<number> {
  const { rows } = await sql<{ n: number | string }>`SELECT count(*) AS n FROM (
      SELECT ts, max(ts) OVER (PARTITION BY profile_id ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
      FROM events WHERE project_id = 'default' AND NOT derived) e
    WHERE e.ts < e.before`.execute(store.db);
  return Number(rows[0]!.n);
}

// Back to back in one process, so that the machine's load is as alike as it can be for each.
const runs: Run[] = [];
for (const order of orders) for (const apis of apiCounts) runs.push(await runStrata(order, apis));

// --- Floor: the same events, one durable transaction per batch, plain INSERT, no logic.
const raw = new BetterSqlite3(join(dir, 'floor.db'));
raw.pragma('journal_mode = WAL');
raw.pragma('synchronous = FULL');
raw.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, user TEXT, name TEXT, properties TEXT, context TEXT, ts INTEGER)');
const insert = raw.prepare('INSERT INTO events (user, name, properties, context, ts) VALUES (?, ?, ?, ?, ?)');
const write = raw.transaction((batch: ReturnType<typeof generateBatches> extends Generator<infer B> ? B : never) => {
  for (const m of batch) insert.run(m.userId ?? m.anonymousId, m.event ?? m.type, JSON.stringify(m.properties ?? {}), JSON.stringify(m.context), Date.parse(m.timestamp));
});
let floorEvents = 0;
const t0 = performance.now();
for (const batch of generateBatches({ seed: 11, users, end }, 400)) {
  write(batch);
  floorEvents += batch.length;
}
const floorMs = performance.now() - t0;
raw.close();
rmSync(dir, { recursive: true, force: true });

const rate = (n: number, ms: number) => n / (ms / 1000);
const floorRate = rate(floorEvents, floorMs);
const ORDER_LABEL: Record<IngestOrder, string> = {
  users: 'users one after another',
  time: `${window} users interleaved, in time order`,
  shuffled: `${window} users interleaved, shuffled`,
  reversed: `${window} users interleaved, newest first`,
  spread: `${window} users interleaved, shuffled batches, each user in time order`,
};
/** A run's order, and the processes of the api role that took its requests. */
const label = (r: Run) => `${ORDER_LABEL[r.order]}${r.apis ? `, sent to ${r.apis} process${r.apis === 1 ? '' : 'es'} of the api role` : ''}`;
console.log(`\n${runs[0]!.events} events from ${users} generated users (${runs[0]!.profiles} profiles), 400 per batch, 8 requests in flight`);
console.log(`store: ${describeStore(storeKind)} (BENCH_STORE=${storeKind})\n`);
table([
  ['path', 'events', 'seconds', 'events/s', 'vs floor'],
  ...runs.flatMap((r) => [
    [`strata HTTP /v1/batch, ${segmentCount} live segments, ${label(r)}: applied`, r.events, r.ms / 1000, rate(r.events, r.ms), `${(rate(r.events, r.ms) / floorRate).toFixed(2)}×`],
    ['  of which acknowledged (in the event log)', r.events, r.ackMs / 1000, rate(r.events, r.ackMs), `${(rate(r.events, r.ackMs) / floorRate).toFixed(2)}×`],
  ]),
  ['floor: prepared INSERT, fsync per batch', floorEvents, floorMs / 1000, floorRate, '1.00×'],
]);
// Each late order against its in-order twin (the same batches, each user in time order), then against
// time order; and, with no target (nothing late), what reaching more users a batch costs.
const RATIOS: { of: IngestOrder; to: IngestOrder; label: string; target: boolean }[] = [
  { of: 'reversed', to: 'time', label: 'newest first / in time order (the same batches)', target: true },
  { of: 'shuffled', to: 'spread', label: 'shuffled / spread in time order (the same batches)', target: true },
  { of: 'shuffled', to: 'time', label: 'shuffled / in time order', target: true },
  { of: 'spread', to: 'time', label: 'spread in time order / in time order (no late events: the cost of reaching more users a batch)', target: false },
];
for (const { of, to, label, target: hasTarget } of RATIOS) {
  const a = runs.find((r) => r.order === of), b = runs.find((r) => r.order === to);
  if (!a || !b) continue;
  const ratio = rate(a.events, a.ms) / rate(b.events, b.ms);
  const target = hasTarget ? ` (target 80%: ${ratio >= 0.8 ? 'met' : `missed by ${((0.8 - ratio) * 100).toFixed(0)} points`})` : '';
  console.log(`\n${label}: ${(ratio * 100).toFixed(0)}%${target}`);
}
// Each count of api processes against the first count given, for the same order.
for (const r of runs) {
  const first = runs.find((b) => b.order === r.order && b.apis === apiCounts[0]);
  if (!first || first === r) continue;
  console.log(`\n${label(r)} / ${label(first)}: applied ${((100 * rate(r.events, r.ms)) / rate(first.events, first.ms)).toFixed(0)}%, acknowledged ${((100 * rate(r.events, r.ackMs)) / rate(first.events, first.ackMs)).toFixed(0)}%`);
}
for (const r of runs) {
  const got = rate(r.events, r.ms);
  const p99 = r.lookupMs[Math.floor(r.lookupMs.length * 0.99)]!;
  console.log(`\n[${label(r)}]`);
  console.log(`target 20,000 events/s over HTTP: ${got >= 20_000 ? 'met' : `missed ${(20_000 / got).toFixed(1)}×`}`);
  console.log(`which segments is user X in, over HTTP (GET /api/users/:id/segments, ${r.lookupMs.length} users, one at a time): p50 ${r.lookupMs[Math.floor(r.lookupMs.length / 2)]!.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms (target 5 ms: ${p99 <= 5 ? 'met' : `missed ${(p99 / 5).toFixed(1)}×`})`);
  console.log(`membership changes written (each with a history row, a derived event and its membership row): ${r.changesWritten}`);
  console.log(`events late when applied (behind a later event of their user applied before them): ${r.late} (${((100 * r.late) / r.events).toFixed(1)}%)`);
  console.log('segment sizes after ingest:');
  for (const s of r.sizes) console.log(`  ${String(s.size).padStart(8)}  ${s.name}`);
}
