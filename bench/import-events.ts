/**
 * Import of an NDJSON file of Segment-shaped track events (N events of N/10 users, in time
 * order over the last 30 days) into a fresh embedded SQLite store, with one live segment on an
 * event count, against the plain parse of the same file (read line by line + JSON.parse, nothing
 * else) in the same run. Then the same file again: every messageId is known, nothing is stored.
 * Run: npm run bench:import-events [-- events]   (default 1,000,000; node flags as `npm start`)
 */
import { createReadStream, createWriteStream, mkdirSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { uploadSource } from '@strata/server';
import { benchContext } from './scale-data.ts';
import { runRow, table, timedRun } from './lib.ts';

const events = Number(process.argv[2] ?? 1_000_000);
const users = Math.max(1, Math.round(events / 10));
const dir = join(import.meta.dirname, '..', '.bench-data', `import-events-${process.pid}`);
mkdirSync(dir, { recursive: true });
const file = join(dir, `events-${events}.ndjson`);
const mb = (b: number) => (b / 1024 / 1024).toFixed(0);

/** A seeded generator (mulberry32): the same file on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function generate(): Promise<void> {
  const rnd = random(7);
  const out = createWriteStream(file);
  const names = ['product_viewed', 'product_viewed', 'product_viewed', 'add_to_cart', 'purchase', 'search'];
  const locales = ['en-US', 'de-DE', 'fr-FR', 'ja-JP'];
  const oses = ['iOS', 'Android', 'Mac OS', 'Windows'];
  const start = Date.now() - 30 * 86_400_000;
  const step = (30 * 86_400_000) / events;
  for (let i = 0; i < events; i++) {
    const u = Math.floor(rnd() * users);
    const event = names[Math.floor(rnd() * names.length)]!;
    const properties = event === 'purchase' ? { orderId: `o${i}`, revenue: Math.round(rnd() * 20000) / 100, currency: 'EUR' } : event === 'search' ? { query: `q${i % 500}` } : { sku: `sku-${i % 5000}`, price: (i % 200) + 0.99 };
    const line = JSON.stringify({
      type: 'track', event, userId: `user-${u}`, messageId: `m-${i}`, timestamp: new Date(start + i * step).toISOString(), properties,
      context: { locale: locales[u % 4], os: { name: oses[u % 4] }, library: { name: 'analytics-node', version: '3.1.0' } },
    });
    if (!out.write(`${line}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}


/** The plain parse: each line read and JSON.parse'd, nothing else. */
async function baseline(): Promise<void> {
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) if (JSON.parse(line)) n++;
  if (n !== events) throw new Error(`parsed ${n} lines`);
}

const load = loadavg();
await generate();
const bytes = statSync(file).size;
const base = await timedRun(baseline);

const { store, ctx } = await benchContext(join(dir, 'db'));
await ctx.engine.start(0);
const seg = await ctx.segments.create('default', { name: 'Repeat buyers', condition: { event: 'purchase', cmp: { op: 'gte', value: 3 } } });
const summaries: unknown[] = [];
const run = (dryRun: boolean) => async () => {
  const job = await ctx.imports.run('default', uploadSource(createReadStream(file), 'ndjson'), { kind: 'events', format: 'ndjson', dryRun });
  if (job.status !== 'done' || job.ok !== events) throw new Error(`import ${job.status}: ${job.ok} ok, ${job.bad} bad, ${job.error}`);
  summaries.push(job.summary);
};
const dry = await timedRun(run(true));
const real = await timedRun(run(false));
const again = await timedRun(run(false));
const size = await store.segmentSize('default', seg.id);
await ctx.engine.stop();
await store.close();

console.log(`\nimport of ${events.toLocaleString('en')} track events of ${users.toLocaleString('en')} users (${mb(bytes)} MB NDJSON), node ${process.version}, ${cpus().length}× ${cpus()[0]?.model ?? '?'}, ${mb(totalmem())} MB RAM, load average at start ${load.map((l) => l.toFixed(2)).join(' ')}, now ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
table([
  ['run', 'seconds', 'events/s', 'ratio', 'CPU s', 'RSS before', 'peak RSS'],
  runRow('baseline: read lines + JSON.parse only', base, base, events),
  runRow('strata import, dry run (parse + normalize)', dry, base, events),
  runRow('strata import (events → SQLite, 1 live segment)', real, base, events),
  runRow('same file again (every messageId known)', again, base, events),
]);
console.log(`\nsummaries: ${summaries.slice(1).map((s) => JSON.stringify(s)).join('; ')}; segment "Repeat buyers" (purchase count >= 3): ${size} members`);
rmSync(dir, { recursive: true, force: true });
