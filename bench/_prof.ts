import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateBatches } from '@strata/datagen';
import { configFromEnv, createContext, ensureDefaultProject, normalizeMessage } from '@strata/server';
import { createStore } from '@strata/store';
import { BENCH_SEGMENTS, nestedCondition } from '/work/main/bench/segments.ts';
const end = Date.now();
const dir = mkdtempSync(join(tmpdir(), 'strata-prof-'));
const store = await createStore({ kind: 'sqlite', dataDir: dir });
const config = { ...configFromEnv({}), adminToken: 'a', writeKey: 'w' };
await ensureDefaultProject(store, config, end);
const ctx = createContext(store, config);
const idOf = new Map<string, string>();
const nseg = Number(process.argv[3] ?? 20);
for (const s of BENCH_SEGMENTS.slice(0, nseg)) { const c = await ctx.segments.create('default', { name: s.name, condition: nestedCondition(s, idOf) as never }); idOf.set(s.name, c.id); }
const t0 = performance.now(); let n = 0;
const pending: Promise<unknown>[] = [];
for (const batch of generateBatches({ seed: 11, users: Number(process.argv[2] ?? 5000), end }, 400)) {
  const items = batch.map((m) => normalizeMessage(m, null, end, undefined)).map((x) => (x as any).item);
  pending.push(ctx.ingest.submit('default', items, [], end)); n += items.length;
  if (pending.length >= 8) await pending.shift();
}
await Promise.all(pending);
const ms = performance.now() - t0;
console.log(`${n} events in ${ms.toFixed(0)} ms = ${(n / ms * 1000).toFixed(0)}/s`);
const g = (globalThis as any).__sqlprof as Map<string, [number, number]> | undefined;
if (g) for (const [k, [ms, n]] of [...g].sort((a, b) => b[1][0] - a[1][0]).slice(0, 20)) console.log(ms.toFixed(0).padStart(6), String(n).padStart(6), k);
console.log("ingest ms", (globalThis as any).__ti, "evaluate ms", (globalThis as any).__te);
