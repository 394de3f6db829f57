/**
 * Segment creation at scale: N segments (default 10,000) created in one project over HTTP,
 * 8 requests in flight, a mix like real ones (templates, traits, events, sequences, nested;
 * bench/segment-create-client.ts), while GET /api/health is polled one request at a time. The
 * project holds U users with their events (default 2,000, ingested over /v1/batch first), so
 * that each new segment's membership is computed over real data. The client runs in a worker
 * thread. Prints total time, per-create p50/p99 of the first and last 1,000 creates, health
 * p50/p99/max, and the ratio of the last 1,000 creates to the first 1,000 (the baseline, same run).
 * Run: npm run bench:segments [-- segments [users]]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateBatches } from '@strata/datagen';
import { buildApp } from '@strata/server';
import { ADMIN, WRITE, benchContext } from './scale-data.ts';
import { benchWorker, pct, table, workerAnswer } from './lib.ts';
import type { CreateClientData, CreateClientResult } from './segment-create-client.ts';

const count = Number(process.argv[2] ?? 10_000);
const users = Number(process.argv[3] ?? 2_000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8);
const end = Date.now();
const dir = mkdtempSync(join(tmpdir(), 'strata-bench-segments-'));
process.env.STRATA_MAX_SEGMENTS ??= String(Math.max(count, 10_000));

const { ctx } = await benchContext(dir, end);
await ctx.engine.start(0);
const app = await buildApp(ctx);
const base = await app.listen({ port: 0, host: '127.0.0.1' });

let t = performance.now();
const auth = `Basic ${Buffer.from(`${WRITE}:`).toString('base64')}`;
let events = 0;
for (const batch of generateBatches({ seed: 11, users, end }, 400)) {
  const r = await fetch(`${base}/v1/batch`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ batch }) });
  if (r.status !== 200) throw new Error(`ingest: HTTP ${r.status} ${await r.text()}`);
  events += batch.length;
}
console.log(`${users} users, ${events} events ingested in ${((performance.now() - t) / 1000).toFixed(1)} s; creating ${count} segments, ${concurrency} at a time...`);

const data: CreateClientData = { base, admin: ADMIN, count, concurrency, healthEveryMs: 20 };
const result = await workerAnswer<CreateClientResult>(benchWorker('./segment-create-client.ts', data));
const listed = (await (await fetch(`${base}/api/segments`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { segments: unknown[] };
await app.close();
await ctx.engine.stop();
await ctx.store.close();
rmSync(dir, { recursive: true, force: true });
if (result.failed.length) throw new Error(`${result.failed.length} creates failed, first: ${result.failed.slice(0, 3).join(' | ')}`);
if (listed.segments.length !== count) throw new Error(`${listed.segments.length} segments listed, ${count} created`);

const k = Math.min(1000, Math.floor(count / 2));
const first = result.createMs.slice(0, k), last = result.createMs.slice(-k);
const ms = (x: number) => x.toFixed(1);
table([
  ['segment creation', 'value', 'target'],
  [`total for ${count} segments (s)`, (result.ms / 1000).toFixed(1), '< 120'],
  ['creates per second', (count / (result.ms / 1000)).toFixed(0), ''],
  [`create p50, first ${k} (ms, baseline)`, ms(pct(first, 50)), ''],
  [`create p99, first ${k} (ms)`, ms(pct(first, 99)), ''],
  [`create p50, last ${k} (ms)`, ms(pct(last, 50)), ''],
  [`create p99, last ${k} (ms)`, ms(pct(last, 99)), ''],
  [`ratio p50 last/first ${k}`, (pct(last, 50) / pct(first, 50)).toFixed(2), '≈ 1'],
  [`health p50 (ms, ${result.healthMs.length} checks)`, ms(pct(result.healthMs, 50)), ''],
  ['health p99 (ms)', ms(pct(result.healthMs, 99)), ''],
  ['health max (ms)', ms(Math.max(...result.healthMs)), '< 50'],
]);
const worst = result.healthMs.map((ms, i) => [ms, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 5);
console.log(`slowest health checks (ms @ check #): ${worst.map(([ms, i]) => `${ms.toFixed(0)} @ ${i}`).join(', ')}`);
console.log(`warnings returned: ${Object.entries(result.warnings).map(([c, n]) => `${c} ${n}`).join(', ') || 'none'}`);
