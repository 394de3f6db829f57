/**
 * HTTP /v1/batch ingest into the embedded SQLite store with 20 live segments (BENCH_SEGMENTS=n for
 * fewer, BENCH_SEGMENTS=200 for bench:engine's 200), against the
 * floor of the same events written durably by a plain prepared INSERT. The client runs in a
 * worker thread (the 2-core machine's second core).
 * Run: npm run bench:ingest [-- users]   (≈10 events per user)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import { generateBatches } from '@strata/datagen';
import { buildApp } from '@strata/server';
import { ADMIN, WRITE, benchContext } from './scale-data.ts';
import { table } from './lib.ts';
import { BENCH_SEGMENTS, benchSegments200, nestedCondition } from './segments.ts';

const users = Number(process.argv[2] ?? 100_000);
const end = Date.now();
const dir = mkdtempSync(join(tmpdir(), 'strata-bench-'));

// --- Strata over HTTP, 20 segments kept current on every batch.
const { store, ctx } = await benchContext(join(dir, 'strata'), end);
const idOf = new Map<string, string>();
const segmentCount = Number(process.env.BENCH_SEGMENTS ?? BENCH_SEGMENTS.length);
if (segmentCount > BENCH_SEGMENTS.length) {
  // The 200-segment mix of bench:engine; its references name bench ids, mapped to the ids Strata gives.
  for (const s of benchSegments200().slice(0, segmentCount)) {
    const condition = JSON.parse(JSON.stringify(s.condition), (k, v) => (k === 'segment' ? idOf.get(v) : v));
    idOf.set(s.id, (await ctx.segments.create('default', { name: s.name, condition })).id);
  }
} else {
  for (const s of BENCH_SEGMENTS.slice(0, segmentCount)) {
    const created = await ctx.segments.create('default', { name: s.name, condition: nestedCondition(s, idOf) as never });
    idOf.set(s.name, created.id);
  }
}
const app = await buildApp(ctx);
const base = await app.listen({ port: 0, host: '127.0.0.1' });
const result = await new Promise<{ events: number; failed: number; ms: number }>((resolve, reject) => {
  const client = new URL('./ingest-client.ts', import.meta.url).href;
  const w = new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(client)}); })`, {
    eval: true,
    workerData: { url: `${base}/v1/batch`, writeKey: WRITE, users, end, concurrency: Number(process.env.BENCH_CONCURRENCY ?? 8) },
  });
  w.once('message', resolve);
  w.once('error', reject);
});
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
const lookupP99 = lookupMs[Math.floor(lookupMs.length * 0.99)]!;
await app.close();
const sizes = await ctx.segments.list('default');
const profiles = await store.countProfiles('default');
const changesWritten = Number((await store.db.selectFrom('membership_history').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst())?.n ?? 0);
await store.close();
if (result.failed) throw new Error(`${result.failed} batches were not accepted`);

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
console.log(`\n${result.events} events from ${users} generated users (${profiles} profiles), 400 per batch, 8 requests in flight\n`);
table([
  ['path', 'events', 'seconds', 'events/s', 'vs floor'],
  [`strata HTTP /v1/batch, ${segmentCount} live segments`, result.events, result.ms / 1000, rate(result.events, result.ms), `${(rate(result.events, result.ms) / rate(floorEvents, floorMs)).toFixed(2)}×`],
  ['floor: prepared INSERT, fsync per batch', floorEvents, floorMs / 1000, rate(floorEvents, floorMs), '1.00×'],
]);
const got = rate(result.events, result.ms);
console.log(`\ntarget 20,000 events/s over HTTP: ${got >= 20_000 ? 'met' : `missed ${(20_000 / got).toFixed(1)}×`}`);
console.log(`which segments is user X in, over HTTP (GET /api/users/:id/segments, ${lookupMs.length} users, one at a time): p50 ${lookupMs[Math.floor(lookupMs.length / 2)]!.toFixed(2)} ms, p99 ${lookupP99.toFixed(2)} ms (target 5 ms: ${lookupP99 <= 5 ? 'met' : `missed ${(lookupP99 / 5).toFixed(1)}×`})`);
console.log(`membership changes written (each with a history row, a derived event and its membership row): ${changesWritten}`);
console.log('\nsegment sizes after ingest:');
for (const s of sizes) console.log(`  ${String(s.size).padStart(8)}  ${s.name}`);
