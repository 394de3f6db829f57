/**
 * Applying the event log on NATS JetStream to PostgreSQL: one process of the all role (the
 * baseline, run in the same invocation), then 1 and 2 processes of the worker role
 * (docs/scale-out.md § Workers). For each, a fresh PostgreSQL schema and stream: 20 live segments
 * (bench/segments.ts) made through a process of the all role, the generated events appended
 * through a process of the api role with nothing applying, then the appliers started and timed
 * until every partition is applied up to the last acknowledged position (read from log_positions).
 * The time includes the appliers' start (a process start and its engine's load of an empty
 * project). NATS and PostgreSQL share the machine with the appliers: report, do not promise.
 * Run: npm run bench:workers [-- users]   (≈10 events per user; default 5,000)
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { generateBatches, type SegmentMessage } from '@strata/datagen';
import { postgresReachable } from '@strata/store';
import { deleteEventStreams, NATS_URL, natsUnavailable, TEST_PG_URL } from '@strata/store/testing';
import { startStrata, type StrataProcess } from '../e2e/strata-process.ts';
import { table } from './lib.ts';
import { BENCH_SEGMENTS, nestedCondition } from './segments.ts';

const users = Number(process.argv[2] ?? 5_000);
const ADMIN = 'sta_bench_workers_admin';
const WRITE = 'stw_bench_workers_write';
const PARTITIONS = 16;

const down = (await natsUnavailable()) ?? ((await postgresReachable(TEST_PG_URL)) ? null : `no PostgreSQL server at ${TEST_PG_URL}`);
if (down !== null) throw new Error(`bench:workers needs NATS with JetStream and PostgreSQL: ${down}`);

const end = Date.now();
const batches: SegmentMessage[][] = [...generateBatches({ seed: 11, users, end }, 400)];
const events = batches.reduce((n, b) => n + b.length, 0);
const children = new Set<ChildProcess>();
const stop = (p: StrataProcess) => new Promise<void>((r) => { if (p.child.exitCode !== null) return r(); p.child.once('exit', () => r()); p.child.kill('SIGTERM'); });

async function http(base: string, method: string, path: string, body: unknown, auth: Record<string, string>): Promise<any> {
  const r = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(body) });
  const out = await r.json();
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(out)}`);
  return out;
}

/** One run: a fresh schema and stream, the events appended, then `appliers` started and timed. */
async function run(appliers: 'all' | number): Promise<{ seconds: number }> {
  const tag = randomBytes(4).toString('hex');
  const schema = `bench_workers_${tag}`, prefix = `benchw${tag}`;
  const admin = new pg.Client({ connectionString: TEST_PG_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const url = new URL(TEST_PG_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const env = { STRATA_ADMIN_TOKEN: ADMIN, STRATA_WRITE_KEY: WRITE, DATABASE_URL: url.toString(), STRATA_NATS_URL: NATS_URL, STRATA_NATS_PREFIX: prefix, STRATA_PARTITIONS: String(PARTITIONS) };
  try {
    const all = await startStrata(env, children, 60);
    const ids = new Map<string, string>();
    for (const s of BENCH_SEGMENTS) ids.set(s.name, (await http(all.base, 'POST', '/api/segments', { name: s.name, condition: nestedCondition(s, ids) }, { authorization: `Bearer ${ADMIN}` })).id);
    await stop(all);
    const api = await startStrata({ ...env, STRATA_ROLE: 'api' }, children, 60);
    let last = 0, next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (let b = next++; b < batches.length; b = next++) {
        const out = await http(api.base, 'POST', '/v1/batch', { batch: batches[b] }, { 'x-write-key': WRITE });
        last = Math.max(last, out.position as number);
      }
    }));
    const began = performance.now();
    const procs = appliers === 'all' ? [await startStrata(env, children, 60)] : await Promise.all(Array.from({ length: appliers }, () => startStrata({ ...env, STRATA_ROLE: 'worker' }, children, 60)));
    for (;;) {
      const { rows } = await admin.query<{ partition: number; position: string }>(`SELECT partition, position FROM ${schema}.log_positions`);
      const at = new Map(rows.map((r) => [Number(r.partition), Number(r.position)]));
      if (Array.from({ length: PARTITIONS }, (_, p) => at.get(p) ?? 0).every((x) => x >= last)) break;
      if (performance.now() - began > 1_800_000) throw new Error('not applied within 30 minutes');
      await new Promise((r) => setTimeout(r, 50));
    }
    const seconds = (performance.now() - began) / 1000;
    for (const p of [api, ...procs]) await stop(p);
    return { seconds };
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await admin.end();
    await deleteEventStreams([prefix]);
  }
}

console.log(`${events} events from ${users} generated users, ${BENCH_SEGMENTS.length} live segments, ${PARTITIONS} partitions; the stream filled through an api process first, then applied`);
const rows: (string | number)[][] = [['applier', 'events', 'seconds', 'events/s', 'vs all process']];
const base = await run('all');
rows.push(['one process of the all role (follows every partition)', events, base.seconds.toFixed(2), Math.round(events / base.seconds), '1.00×']);
for (const n of [1, 2]) {
  const r = await run(n);
  rows.push([`${n} process${n > 1 ? 'es' : ''} of the worker role`, events, r.seconds.toFixed(2), Math.round(events / r.seconds), `${(base.seconds / r.seconds).toFixed(2)}×`]);
}
table(rows);
