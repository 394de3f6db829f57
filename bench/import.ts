/**
 * Import of a CSV of N users (traits and labels) into a fresh embedded SQLite store, with one
 * segment on a trait kept live, against the plain parse of the same file (read + csv-parse, no
 * validation, no store) in the same run. Prints rows/s, the ratio and the peak RSS.
 * Run: npm run bench:import [-- rows]   (default 1,000,000; node flags as `npm start`, where imports run)
 */
import { createReadStream, createWriteStream, mkdirSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse';
import { configFromEnv, createContext, ensureDefaultProject, ImportService } from '@strata/server';
import { createStore } from '@strata/store';
import { table } from './lib.ts';

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

async function baseline(): Promise<number> {
  const t = performance.now();
  let n = 0;
  for await (const _ of createReadStream(file).pipe(parse({ from_line: 2 }))) n++;
  if (n !== rows) throw new Error(`parsed ${n} rows`);
  return performance.now() - t;
}

async function importRun(): Promise<{ ms: number; dryMs: number; dryPeak: number; ok: number; size: number; rssBefore: number }> {
  const store = await createStore({ kind: 'sqlite', dataDir: join(dir, 'db') });
  const config = { ...configFromEnv({}), adminToken: 'sta_bench', writeKey: 'stw_bench' };
  await ensureDefaultProject(store, config, Date.now());
  const ctx = createContext(store, config);
  await ctx.engine.start(0);
  const seg = await ctx.segments.create('default', { name: 'Gold', condition: { attr: 'traits.plan', op: 'eq', value: 'gold' } });
  // A dry run first: the same reading and validation, nothing stored (its memory is the streaming part alone).
  peak = 0;
  const t0 = performance.now();
  const dry = await new ImportService(ctx).run('default', createReadStream(file), { kind: 'users', format: 'csv', dryRun: true });
  const dryMs = performance.now() - t0;
  const dryPeak = peak;
  if (dry.ok !== rows) throw new Error(`dry run: ${dry.ok} ok`);
  peak = 0;
  const rssBefore = process.memoryUsage().rss;
  const t = performance.now();
  const job = await new ImportService(ctx).run('default', createReadStream(file), { kind: 'users', format: 'csv', dryRun: false });
  const ms = performance.now() - t;
  if (job.status !== 'done' || job.ok !== rows) throw new Error(`import ${job.status}: ${job.ok} ok, ${job.bad} bad, ${job.error}`);
  const size = await store.segmentSize('default', seg.id);
  await ctx.engine.stop();
  await store.close();
  return { ms, dryMs, dryPeak, ok: job.ok, size, rssBefore };
}

let peak = 0;
const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 50);
await generate();
const bytes = statSync(file).size;
const parseMs = await baseline();
const afterBaseline = process.memoryUsage().rss;
const r = await importRun();
clearInterval(sampler);
const rate = (ms: number) => (rows / ms) * 1000;
console.log(`\nimport of ${rows.toLocaleString('en')} users (${mb(bytes)} MB CSV), node ${process.version}, ${cpus().length}× ${cpus()[0]?.model ?? '?'}, ${mb(totalmem())} MB RAM\n`);
table([
  ['run', 'seconds', 'rows/s', 'ratio'],
  ['baseline: read + csv-parse only', (parseMs / 1000).toFixed(2), rate(parseMs), '1.00'],
  ['strata import, dry run (parse + validate)', (r.dryMs / 1000).toFixed(2), rate(r.dryMs), (r.dryMs / parseMs).toFixed(2)],
  ['strata import (users → SQLite, 1 live segment)', (r.ms / 1000).toFixed(2), rate(r.ms), (r.ms / parseMs).toFixed(2)],
]);
console.log(`\npeak RSS during the dry run: ${mb(r.dryPeak)} MB`);
console.log(`\npeak RSS during the import: ${mb(peak)} MB (before it: ${mb(r.rssBefore)} MB; after the baseline: ${mb(afterBaseline)} MB); segment "Gold": ${r.size} members`);
rmSync(dir, { recursive: true, force: true });
