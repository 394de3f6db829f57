/**
 * Export memory: RSS while streaming a segment of N members (default 1,000,000) as CSV
 * over real HTTP, against the RSS of the idle server. Members are written by SQL (the
 * export reads the memberships table), on SQLite in a temporary directory.
 *
 *   node --expose-gc --import tsx bench/export-memory.ts [members]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '@strata/server';
import { ADMIN, benchContext } from './scale-data.ts';

const N = Number(process.argv[2] ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'strata-export-'));
const now = Date.now();
const { store, ctx } = await benchContext(dir, now);
await ctx.engine.start(0);
const seg = await ctx.segments.create('default', { name: 'Everyone', condition: null });

const t0 = performance.now();
for (let i = 0; i < N; i += 5000) {
  await store.transaction(async (tx) => {
    for (let j = i; j < Math.min(i + 5000, N); j += 500) {
      const rows = Array.from({ length: Math.min(500, N - j) }, (_, k) => ({
        project_id: 'default', user_id: `user-${j + k}`, anonymous_id: `anon-${j + k}`, traits: JSON.stringify({ plan: (j + k) % 3 ? 'free' : 'pro', country: 'FR', name: `Person, "${j + k}"` }),
        created_at: now, updated_at: now,
      }));
      const ids = (await tx.db.insertInto('profiles').values(rows).returning('id').execute()).map((r) => Number(r.id));
      await tx.db.insertInto('memberships').values(ids.map((profile_id) => ({ project_id: 'default', segment_id: seg.id, profile_id, since: now }))).execute();
    }
  });
}
console.log(`wrote ${N} members in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const app = await buildApp(ctx);
const address = await app.listen({ port: 0, host: '127.0.0.1' });
(globalThis as { gc?: () => void }).gc?.();
const mb = (b: number) => (b / 1048576).toFixed(0);
const before = process.memoryUsage().rss;
let peak = before;
const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);

for (const format of ['csv', 'ndjson']) {
  const t1 = performance.now();
  const res = await fetch(`${address}/api/segments/${seg.id}/export?format=${format}&traits=plan,country,name`, { headers: { authorization: `Bearer ${ADMIN}` } });
  let bytes = 0, lines = 0, mark = 0;
  const series: string[] = [];
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.length;
    for (const c of chunk) if (c === 10) lines++;
    // RSS at every tenth of the rows: flat means memory does not grow with the export.
    if (lines >= mark) { series.push(mb(process.memoryUsage().rss)); mark += N / 10; }
  }
  console.log(`${format}: ${lines} lines, ${(bytes / 1048576).toFixed(0)} MB in ${((performance.now() - t1) / 1000).toFixed(1)} s; RSS MB at each 10%: ${series.join(' ')}`);
}
clearInterval(sampler);
console.log(`RSS idle server ${mb(before)} MB, peak while exporting ${mb(peak)} MB (+${mb(peak - before)} MB); the file itself is not held`);
await app.close();
await ctx.engine.stop();
await store.close();
rmSync(dir, { recursive: true, force: true });
