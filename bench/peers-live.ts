/**
 * bench:peers, table 3 — live ingest: the same generated events over HTTP /v1/batch into a
 * fresh embedded store, once with Strata's 200 live segments (bench/segments.ts; membership
 * decided in the ingest transaction) and once with no live segment while a worker recomputes
 * all 200 in bulk every N seconds (the scheduled baseline, bench/peers-recompute.ts). For each:
 * events/s, and how stale membership is — for Strata, from sending an event's request to its
 * answer (membership is committed before it); for the schedule, from sending it to the end of
 * the first recompute that started after it was acknowledged.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '@strata/server';
import type { IngestClientData } from './ingest-client.ts';
import { benchWorker, table, workerAnswer } from './lib.ts';
import type { Recompute, RecomputeData } from './peers-recompute.ts';
import { PROJECT, WRITE, benchContext, createSegmentMix } from './scale-data.ts';
import { benchSegments200 } from './segments.ts';

interface ClientResult { events: number; failed: number; ms: number; timings: number[] }
interface Run { label: string; events: number; ms: number; staleness: number[]; weights: number[]; recomputes?: Recompute[]; members: number }

/** The p-th percentile of values weighted by how many events each stands for. */
function weightedPct(values: number[], weights: number[], p: number): number {
  const order = values.map((_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const total = weights.reduce((a, b) => a + b, 0);
  let seen = 0;
  for (const i of order) { seen += weights[i]!; if (seen >= (p / 100) * total) return values[i]!; }
  return values[order[order.length - 1]!]!;
}

async function ingest(dir: string, users: number, end: number, live: boolean, everyMs: number): Promise<Run> {
  const { store, ctx } = await benchContext(dir, end);
  const segments = benchSegments200();
  if (live) await createSegmentMix(ctx, segments.length);
  const app = await buildApp(ctx);
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const recomputer = live ? null : benchWorker('./peers-recompute.ts', { file: join(dir, 'strata.db'), project: PROJECT, everyMs, segments } satisfies RecomputeData);
  const recomputed = recomputer ? workerAnswer<Recompute[]>(recomputer) : null;
  const data: IngestClientData = { url: `${base}/v1/batch`, writeKey: WRITE, users, end, concurrency: 8, order: 'users', window: 0 };
  const client = await workerAnswer<ClientResult>(benchWorker('./ingest-client.ts', data));
  if (client.failed) throw new Error(`${client.failed} batches were not accepted`);
  const sent: number[] = [], acked: number[] = [], weights: number[] = [];
  for (let i = 0; i < client.timings.length; i += 3) { sent.push(client.timings[i]!); acked.push(client.timings[i + 1]!); weights.push(client.timings[i + 2]!); }
  let staleness: number[];
  let recomputes: Recompute[] | undefined;
  if (recomputer) {
    recomputer.postMessage({ until: Math.max(...acked) });
    recomputes = await recomputed!;
    staleness = sent.map((s, i) => {
      const r = recomputes!.find((x) => x.start >= acked[i]!);
      if (!r) throw new Error('no recompute after an acknowledged event');
      return r.end - s;
    });
  } else {
    staleness = sent.map((s, i) => acked[i]! - s);
  }
  await app.close();
  const members = live ? (await ctx.segments.list(PROJECT)).reduce((n, x) => n + x.size, 0) : recomputes![recomputes!.length - 1]!.members;
  await store.close();
  return {
    label: live ? `strata: ${segments.length} live segments, decided in the ingest transaction` : `scheduled: no live segment; all ${segments.length} recomputed by compiled SQL every ${everyMs / 1000} s`,
    events: client.events, ms: client.ms, staleness, weights, recomputes, members,
  };
}

export async function liveTable(users: number, everySeconds: number): Promise<void> {
  console.log(`\n=== 3. Live ingest: ${users} generated users (≈10 events each) over HTTP, twice...`);
  const dir = mkdtempSync(join(tmpdir(), 'strata-peers-live-'));
  const end = Date.now();
  try {
    const runs = [await ingest(join(dir, 'live'), users, end, true, 0), await ingest(join(dir, 'scheduled'), users, end, false, everySeconds * 1000)];
    const base = runs[1]!;
    const rate = (r: Run) => r.events / (r.ms / 1000);
    const s = (ms: number) => (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);
    console.log(`\n${runs[0]!.events} events from ${users} generated users, 400 per request, 8 requests in flight, one fresh embedded store each; the client and the recompute run in worker threads (2 cores in all)`);
    console.log('staleness: seconds from sending an event until its membership is decided (weighted by events); × = events/s against the scheduled baseline\n');
    table([
      ['approach', 'events', 'seconds', 'events/s', '×', 'staleness p50 (s)', 'staleness p99 (s)', 'max (s)', 'recomputes (mean s each)'],
      ...runs.map((r) => [
        r.label, r.events, s(r.ms), rate(r), `${(rate(r) / rate(base)).toFixed(2)}×`,
        s(weightedPct(r.staleness, r.weights, 50)), s(weightedPct(r.staleness, r.weights, 99)), s(Math.max(...r.staleness)),
        r.recomputes ? `${r.recomputes.length} (${s(r.recomputes.reduce((a, x) => a + x.end - x.start, 0) / r.recomputes.length)})` : '-',
      ]),
    ]);
    console.log(`\nmemberships at the end, all segments summed (windows move with the clock between the two): strata ${runs[0]!.members}, last recompute ${base.members}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
