/**
 * Ingest latency with 200 live segments (issue 14): how long a `/v1/batch` request takes to be
 * acknowledged (its events durable in the event log), and how long until its events are applied
 * by the membership worker and readable — a read naming the acknowledged position in
 * `Strata-Position` — under an open-loop load at a fixed rate.
 * Targets: acknowledgement p99 ≤ 50 ms and event → membership p99 ≤ 100 ms at 10,000 events/s.
 *
 * The store (BENCH_STORE, bench-store.ts, as bench:ingest takes it): `sqlite` (the default) — the
 * embedded SQLite store and its embedded log; `postgres` — a fresh PostgreSQL database of its own
 * on 127.0.0.1:5432 (user postgres) with the embedded log in it; `nats` — the same database with
 * the event log on NATS JetStream at 127.0.0.1:4222 (a prefix of its own, 16 partitions, one
 * process applying them all). The run's database and stream are removed at the end, also when
 * the run fails; a service that does not answer stops the run before anything is measured,
 * naming it. On this machine PostgreSQL and NATS share the cores with the server and the client.
 *
 * Same set-up as bench/ingest-http.ts: a fresh store, the segment mix (BENCH_SEGMENTS, here 200
 * by default), a listening server, the client in a worker thread (ingest-latency-client.ts) so
 * it has the second core. Phases: a warm-up at the full rate, a baseline at a tenth of it (what
 * latency is with little queueing), then the load. The baseline reads as many times a second
 * as the load does (one request in sampleEvery/10), so its read load is the same.
 *
 * Run: [BENCH_STORE=sqlite|postgres|nats] npm run bench:ingest-latency [-- rate seconds]
 * (default 10000 events/s for 30 s)
 * BENCH_BATCH (events per request, 100), BENCH_SAMPLE (one request in n read back, 20),
 * BENCH_WARMUP (seconds, 5), BENCH_SEGMENTS (200).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type AppContext } from '@strata/server';
import type { SqlStore } from '@strata/store';
import { benchStoreFromEnv, checkBenchServices, describeStore, openBenchStore } from './bench-store.ts';
import { benchWorker, pct, table, workerAnswer } from './lib.ts';
import type { LatencyClientData, LatencyPhase, PhaseResult } from './ingest-latency-client.ts';
import { ADMIN, WRITE, createSegmentMix } from './scale-data.ts';

/** A whole number from the command line or the environment, refused by name when it is not one. */
function whole(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a whole number of at least 1, got "${text}"`);
  return n;
}

const rate = whole('rate (first argument)', process.argv[2], 10_000);
const seconds = whole('seconds (second argument)', process.argv[3], 30);
const batch = whole('BENCH_BATCH', process.env.BENCH_BATCH, 100);
const sampleEvery = whole('BENCH_SAMPLE', process.env.BENCH_SAMPLE, 20);
const warmup = whole('BENCH_WARMUP', process.env.BENCH_WARMUP, 5);
const segmentCount = whole('BENCH_SEGMENTS', process.env.BENCH_SEGMENTS, 200);
const ACK_TARGET = 50, APPLIED_TARGET = 100;

const storeKind = benchStoreFromEnv();
await checkBenchServices(storeKind);

// Sampled on the server's own thread every 50 ms: the worker's backlog, and how late the timer
// fired (the event loop was held, by an apply transaction or anything else, that long).
const SAMPLE_MS = 50;
interface Sample { at: number; backlog: number; stall: number }

const phases: LatencyPhase[] = [
  { name: 'warm-up', rate, seconds: warmup, sampleEvery },
  { name: 'baseline', rate: rate / 10, seconds, sampleEvery: Math.max(1, Math.round(sampleEvery / 10)) },
  { name: 'load', rate, seconds, sampleEvery },
];

async function measure(store: SqlStore, ctx: AppContext, end: number): Promise<{ results: PhaseResult[]; samples: Sample[]; profiles: number }> {
  await createSegmentMix(ctx, segmentCount);
  const app = await buildApp(ctx);
  const samples: Sample[] = [];
  let sampler: NodeJS.Timeout | undefined;
  try {
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    let previous = performance.now();
    sampler = setInterval(() => {
      const now = performance.now();
      samples.push({ at: performance.timeOrigin + now, backlog: ctx.ingest.backlogItems, stall: Math.max(0, now - previous - SAMPLE_MS) });
      previous = now;
    }, SAMPLE_MS);
    console.log(`${segmentCount} live segments, ${batch} events per request; ${phases.map((p) => `${p.name} ${p.rate} events/s for ${p.seconds} s`).join(', ')}...`);
    const data: LatencyClientData = { base, writeKey: WRITE, admin: ADMIN, end, batch, phases };
    const results = await workerAnswer<PhaseResult[]>(benchWorker('./ingest-latency-client.ts', data));
    clearInterval(sampler);
    await ctx.ingest.drain();
    return { results, samples, profiles: await store.countProfiles('default') };
  } finally {
    clearInterval(sampler);
    await app.close();
  }
}

// The machine's load before the run (other work on it) and at its end (this run's own included).
const loadBefore = loadavg();
const end = Date.now();
const dir = mkdtempSync(join(tmpdir(), 'strata-bench-latency-'));
let measured: Awaited<ReturnType<typeof measure>>;
try {
  const { store, ctx, close } = await openBenchStore(storeKind, dir, end);
  // Every service stopped as `npm start` stops them (a timer left running would keep the process
  // alive); the run's PostgreSQL database and NATS stream removed with them, also when the run fails.
  try {
    measured = await measure(store, ctx, end);
  } finally {
    await close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const { results, samples, profiles } = measured;

const [, baseline, load] = results as [PhaseResult, PhaseResult, PhaseResult];
/** The most of a server sample over a phase's span. */
const most = (r: PhaseResult, of: 'backlog' | 'stall') => samples.reduce((m, x) => (x.at >= r.from && x.at <= r.to ? Math.max(m, x[of]) : m), 0);
/** Events acknowledged over the span from the first scheduled send to the last acknowledgement. */
const achieved = (r: PhaseResult) => r.eventsAcknowledged / ((r.lastAck - r.from) / 1000);
const counts = (c: Record<number, number>) => Object.entries(c).map(([s, n]) => `${n}×${s === '0' ? 'no answer' : s}`).join(', ') || '0';
const loadText = (l: number[]) => l.map((x) => x.toFixed(2)).join(', ');
const q = (xs: number[], p: number) => (xs.length ? pct(xs, p) : NaN);
const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(1)}×` : '-');
const rows: (string | number)[][] = [[`BENCH_STORE=${storeKind}`, `baseline (${baseline.rate} events/s)`, `load (${load.rate} events/s)`, 'load / baseline']];
rows.push(['achieved rate (events/s, acknowledged)', achieved(baseline), achieved(load), ratio(achieved(load), achieved(baseline))]);
rows.push([`requests (${batch} events each)`, String(baseline.requests), String(load.requests), '']);
for (const p of [50, 90, 99]) rows.push([`acknowledgement p${p} (ms)`, q(baseline.ack, p), q(load.ack, p), ratio(q(load.ack, p), q(baseline.ack, p))]);
rows.push(['acknowledgement max (ms)', Math.max(...baseline.ack), Math.max(...load.ack), ratio(Math.max(...load.ack), Math.max(...baseline.ack))]);
rows.push(['event → membership: requests read back', String(baseline.applied.length + baseline.reads503), String(load.applied.length + load.reads503), '']);
for (const p of [50, 90, 99]) rows.push([`event → membership p${p} (ms)`, q(baseline.applied, p), q(load.applied, p), ratio(q(load.applied, p), q(baseline.applied, p))]);
rows.push(['event → membership max (ms)', Math.max(...baseline.applied), Math.max(...load.applied), ratio(Math.max(...load.applied), Math.max(...baseline.applied))]);
rows.push(['reads answered 503 NOT_YET_APPLIED', String(baseline.reads503), String(load.reads503), '']);
rows.push(['reads answered otherwise', counts(baseline.readsOther), counts(load.readsOther), '']);
rows.push(['ingest requests not acknowledged', counts(baseline.ingestRefused), counts(load.ingestRefused), '']);
rows.push(['most events waiting to be applied', String(most(baseline, 'backlog')), String(most(load, 'backlog')), '']);
rows.push(['longest server event-loop stall (ms)', most(baseline, 'stall'), most(load, 'stall'), ratio(most(load, 'stall'), most(baseline, 'stall'))]);
console.log(`\n${profiles} profiles at the end; latencies from each request's scheduled send; ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}`);
console.log(`store: ${describeStore(storeKind)} (BENCH_STORE=${storeKind}); load average (1, 5, 15 min) ${loadText(loadBefore)} before the run, ${loadText(loadavg())} at its end\n`);
table(rows);

/** The verdict on one target; a read answered 503 is a miss of the applied target whatever the percentiles say. */
function verdict(what: string, p99: number, target: number, misses = 0): string {
  if (misses > 0) return `${what}: missed (${misses} reads not applied within the read's wait; p99 of the others ${p99.toFixed(1)} ms)`;
  return `${what}: p99 ${p99.toFixed(1)} ms, ${p99 <= target ? `met (${(target - p99).toFixed(1)} ms to spare)` : `missed by ${(p99 - target).toFixed(1)} ms (${(p99 / target).toFixed(1)}× the target)`}`;
}
const refused = Object.values(load.ingestRefused).reduce((a, b) => a + b, 0);
console.log();
if (achieved(load) < 0.95 * rate) console.log(`the load phase acknowledged ${achieved(load).toFixed(0)} events/s, short of the ${rate} scheduled: the server did not keep up`);
if (refused) console.log(`${refused} ingest requests of the load were not acknowledged (${counts(load.ingestRefused)}): latencies above leave them out`);
console.log(verdict(`acknowledgement p99 ≤ ${ACK_TARGET} ms at ${rate} events/s`, q(load.ack, 99), ACK_TARGET));
console.log(verdict(`event → membership applied p99 ≤ ${APPLIED_TARGET} ms at ${rate} events/s`, q(load.applied, 99), APPLIED_TARGET, load.reads503));
