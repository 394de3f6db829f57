/**
 * The cold start of `strata serve` on the embedded store (docs/operations.md):
 * 1. the engine's scan of every event its segments read, page by page, as the start does it now
 *    (the rowid range: `+project_id`) against the query before (`project_id = ?`, which the planner
 *    answered from a project index, sorting every later event for each page) — same file, same process;
 * 2. `LiveEngine.start()` on that store: how long it takes, and the longest the event loop went
 *    without a turn meanwhile (what a health probe waits at worst), from a 5 ms ticker.
 * Run: npm run bench:cold-start [-- users]   (≈10 events per user, the 20 segments of bench/segments.ts)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContext } from '@strata/server';
import { createStore, openSqlite } from '@strata/store';
import { benchContext, ingestGenerated, startWithBenchSegments } from './scale-data.ts';
import { table } from './lib.ts';

const users = Number(process.argv[2] ?? 20_000);
const end = Date.UTC(2024, 5, 15);
const dir = mkdtempSync(join(tmpdir(), 'strata-bench-cold-'));
const P = 'default';

try {
  // The store: segments first, then the events through the ingest path.
  const t0 = performance.now();
  const { store, ctx, config } = await benchContext(dir, end, { now: () => end });
  await startWithBenchSegments(ctx, P);
  const events = await ingestGenerated(ctx, { seed: 7, users, end }, P);
  await ctx.ingest.drain();
  await ctx.engine.stop();
  await store.close();
  console.log(`store: ${users} users, ${events} events, 20 segments, built in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

  // 1. The paged scan, both queries, over the same file.
  const { raw } = openSqlite({ filename: join(dir, 'strata.db') });
  const cols = 'id, profile_id, name, ts, properties, context_id, context_own';
  const scan = (project: string, page: number) => {
    const stmt = raw.prepare(`SELECT ${cols} FROM events WHERE ${project} = ? AND id > ? AND derived = 0 ORDER BY id LIMIT ?`);
    const t = performance.now();
    let rows = 0, pages = 0;
    for (let after = 0; ;) {
      const got = stmt.all(P, after, page) as { id: number }[];
      if (got.length === 0) break;
      rows += got.length;
      pages++;
      after = got[got.length - 1]!.id;
    }
    return { ms: performance.now() - t, rows, pages };
  };
  scan('+project_id', 2000); // warm the page cache
  const rowsOut: (string | number)[][] = [['event scan (every non-derived event)', 'page', 'pages', 'ms', 'ratio to before']];
  for (const page of [20_000, 2000]) {
    const before = scan('project_id', page);
    const now = scan('+project_id', page);
    rowsOut.push([`before: project_id = ? (a project index, sorted)`, page, before.pages, before.ms, 1]);
    rowsOut.push([`now: +project_id = ? (rowid range)`, page, now.pages, now.ms, now.ms / before.ms]);
  }
  raw.close();
  table(rowsOut);
  console.log('');

  // 2. The engine's start over the store, with a ticker measuring the event loop's longest gap.
  const reopened = await createStore({ kind: 'sqlite', dataDir: dir });
  const fresh = createContext(reopened, config, { now: () => end });
  let last = performance.now(), longest = 0, ticks = 0;
  const ticker = setInterval(() => { const n = performance.now(); longest = Math.max(longest, n - last); last = n; ticks++; }, 5);
  const t1 = performance.now();
  last = t1;
  await fresh.engine.start(0);
  const loadMs = performance.now() - t1;
  longest = Math.max(longest, performance.now() - last);
  clearInterval(ticker);
  const stats = fresh.engine.stats();
  table([
    ['engine start (LiveEngine.start)', 'profiles', 'load ms', 'ticker turns', 'longest gap ms'],
    ['now (pages of 2,000, a turn between pages)', stats.profiles, loadMs, ticks, longest],
  ]);
  await fresh.engine.stop();
  await reopened.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
