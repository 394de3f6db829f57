/**
 * Import of a CSV of N users (traits and labels) into a fresh embedded SQLite store, with one
 * segment on a trait kept live, against the plain parse of the same file (read + csv-parse, no
 * validation, no store) in the same run. Then the same file again into the same store (every
 * user known and unchanged: the idempotent path), which shows the import's own memory once the
 * engine already holds the profiles. Prints rows/s, the ratio, CPU seconds and the peak RSS.
 * Run: npm run bench:import [-- rows]   (default 1,000,000; node flags as `npm start`, where imports run)
 */
import { createReadStream, createWriteStream, mkdirSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parse } from 'csv-parse';
import { uploadSource } from '@strata/server';
import { benchContext } from './scale-data.ts';
import { runRow, table, timedRun } from './lib.ts';

// A full GC on demand (for the engine's retained heap) without changing the node flags of `npm start`.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const rows = Number(process.argv[2] ?? 1_000_000);
const dir = join(import.meta.dirname, '..', '.bench-data', `import-${process.pid}`);
mkdirSync(dir, { recursive: true });
const file = join(dir, `users-${rows}.csv`);
const mb = (b: number) => (b / 1024 / 1024).toFixed(0);

async function generate(): Promise<void> {
  const out = createWriteStream(file);
  const plans = ['free', 'pro', 'gold'];
  const countries = ['DE', 'FR', 'US', 'GB', 'JP', 'BR'];
  out.write('userId,name,email,plan,country,age,spend,vip,signup,labels\n');
  for (let i = 0; i < rows; i++) {
    const line = `user-${i},"Customer ${i}",c${i}@example.com,${plans[i % 3]},${countries[i % 6]},${18 + (i % 60)},${(i % 1000) * 1.5},${i % 11 === 0},2024-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')},${i % 4 === 0 ? 'newsletter;beta' : 'newsletter'}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}


async function baseline(): Promise<void> {
  let n = 0;
  for await (const _ of createReadStream(file).pipe(parse({ from_line: 2 }))) n++;
  if (n !== rows) throw new Error(`parsed ${n} rows`);
}

const heapAfterGc = () => { gc(); gc(); return process.memoryUsage().heapUsed; };

const load = loadavg();
await generate();
const bytes = statSync(file).size;
const base = await timedRun(baseline);

const { store, ctx } = await benchContext(join(dir, 'db'));
await ctx.engine.start(0);
const seg = await ctx.segments.create('default', { name: 'Gold', condition: { attr: 'traits.plan', op: 'eq', value: 'gold' } });
const run = (dryRun: boolean) => async () => {
  const job = await ctx.imports.run('default', uploadSource(createReadStream(file), 'csv'), { kind: 'users', format: 'csv', dryRun });
  if (job.status !== 'done' || job.ok !== rows) throw new Error(`import ${job.status}: ${job.ok} ok, ${job.bad} bad, ${job.error}`);
  summaries.push(job.summary);
};
const summaries: unknown[] = [];
// A dry run first: the same reading and validation, nothing stored (its memory is the streaming part alone).
const dry = await timedRun(run(true));
const heapEmpty = heapAfterGc();
const real = await timedRun(run(false));
const heapFull = heapAfterGc();
const rssFull = process.memoryUsage().rss;
// The same file again: every user found unchanged, nothing written; the engine already holds every profile.
const again = await timedRun(run(false));
const size = await store.segmentSize('default', seg.id);
await ctx.engine.stop();
await store.close();

console.log(`\nimport of ${rows.toLocaleString('en')} users (${mb(bytes)} MB CSV), node ${process.version}, ${cpus().length}× ${cpus()[0]?.model ?? '?'}, ${mb(totalmem())} MB RAM, load average at start ${load.map((l) => l.toFixed(2)).join(' ')}, now ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
table([
  ['run', 'seconds', 'rows/s', 'ratio', 'CPU s', 'RSS before', 'peak RSS'],
  runRow('baseline: read + csv-parse only', base, base, rows),
  runRow('strata import, dry run (parse + validate)', dry, base, rows),
  runRow('strata import (users → SQLite, 1 live segment)', real, base, rows),
  runRow('same file again (all known, unchanged)', again, base, rows),
]);
console.log(`\nsummaries: ${summaries.slice(1).map((s) => JSON.stringify(s)).join('; ')}; segment "Gold": ${size} members`);
console.log(`engine heap after a full GC: ${mb(heapEmpty)} MB before the import, ${mb(heapFull)} MB after it (+${((heapFull - heapEmpty) / rows).toFixed(0)} bytes a profile); RSS then ${mb(rssFull)} MB`);
console.log(`the import's own memory: the re-import peaks ${mb(again.peak - again.rssBefore)} MB above the RSS it started from; the dry run ${mb(dry.peak - dry.rssBefore)} MB`);
rmSync(dir, { recursive: true, force: true });
