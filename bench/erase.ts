/**
 * What erasure costs on the embedded SQLite store (docs/privacy.md):
 * 1. ingest with `secure_delete = ON` (deleted rows are zeroed) and the `events_context` index, as
 *    Strata runs now, against the same batches on a store without either (the baseline: as before
 *    erasure existed; same process, same data, 20 live segments each);
 * 2. erasing single users from the loaded store (one transaction each, then the WAL checkpoint),
 *    against reading the same users' exports (the baseline: the same rows, read instead of deleted).
 * Run: npm run bench:erase [-- users]   (≈10 events per user)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { generateUsers } from '@strata/datagen';
import { benchContext, ingestGenerated, startWithBenchSegments } from './scale-data.ts';
import { table } from './lib.ts';

const users = Number(process.argv[2] ?? 20_000);
const erasures = 50;
const end = Date.UTC(2024, 5, 15);
const dir = mkdtempSync(join(tmpdir(), 'strata-bench-erase-'));
const P = 'default';

type Setup = 'before' | 'secure_delete only' | 'now';

/** `before`: the store as it was before erasure existed (no secure_delete, no events_context index). */
async function load(setup: Setup, n = users, name: string = setup) {
  const { store, ctx } = await benchContext(join(dir, name.replace(/\W/g, '-')), end, { now: () => end });
  if (setup === 'before') await sql`PRAGMA secure_delete = OFF`.execute(store.db);
  if (setup !== 'now') await sql`DROP INDEX events_context`.execute(store.db);
  await startWithBenchSegments(ctx, P);
  const t = performance.now();
  const events = await ingestGenerated(ctx, { seed: 5, users: n, end }, P);
  return { store, ctx, events, ms: performance.now() - t };
}

// A warm-up load first, thrown away: otherwise the run measured first also pays for compiling the code.
const warm = await load('now', Math.max(1, Math.floor(users / 5)), 'warm-up');
await warm.ctx.engine.stop();
await warm.store.close();
const off = await load('before');
const mid = await load('secure_delete only');
const on = await load('now');
table([
  ['ingest (SQLite file, 20 segments)', 'events', 'ms', 'events/s', 'ratio'],
  ['before (no secure_delete, no events_context index)', off.events, off.ms, (off.events / off.ms) * 1000, 1],
  ['secure_delete on, no events_context index', mid.events, mid.ms, (mid.events / mid.ms) * 1000, mid.ms / off.ms],
  ['now (secure_delete on, events_context index)', on.events, on.ms, (on.events / on.ms) * 1000, on.ms / off.ms],
]);
await mid.ctx.engine.stop();
await mid.store.close();
await off.ctx.engine.stop();
await off.store.close();

// Users spread over the generated population, erased one at a time.
const picked: string[] = [];
let i = 0;
for (const u of generateUsers({ seed: 5, users, end })) {
  if (i++ % Math.floor(users / erasures) === 0 && u.userId && picked.length < erasures) picked.push(u.userId);
}
let exportMs = 0, eraseMs = 0, rows = 0;
for (const id of picked) {
  let t = performance.now();
  await on.ctx.userData.export(P, id);
  exportMs += performance.now() - t;
  t = performance.now();
  const c = await on.ctx.userData.erase(P, id, { suppress: false });
  eraseMs += performance.now() - t;
  // Visits are among the events already; suppression adds rows instead of removing them.
  const { visits: _visits, suppressedIds: _suppressed, ...removed } = c;
  rows += Object.values(removed).reduce((s, n) => s + n, 0);
}
table([
  [`one user, mean of ${picked.length}`, 'rows', 'ms', 'ratio'],
  ['export (baseline: read the same rows)', rows / picked.length, exportMs / picked.length, 1],
  ['erase (delete, zero, checkpoint)', rows / picked.length, eraseMs / picked.length, eraseMs / exportMs],
]);
await on.ctx.engine.stop();
await on.store.close();
rmSync(dir, { recursive: true, force: true });
