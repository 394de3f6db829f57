/**
 * bench:peers, table 2 — behavioural segments over the same events: Strata's preview (engine
 * state; engine state with the events read from its embedded store for the preview; compiled
 * SQL on that store) and the backfill of a new segment in the engine (in bulk, and per profile
 * as before bulk evaluation), against DuckDB and SQLite with hand-written SQL. Every system gets the events of
 * bench/preview-data.ts's store (read back once), and all must find the same members before
 * any time is taken.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { DuckDBInstance } from '@duckdb/node-api';
import { parseCondition, type Condition } from '@strata/core';
import { LiveEngine } from '@strata/engine';
import { configFromEnv, createContext } from '@strata/server';
import { openSqlite, SqlStore, type EngineEvent, type EngineProfile, type SegmentRow } from '@strata/store';
import { bestOfAsync, fmt, table } from './lib.ts';
import { END, previewDatabase } from './preview-data.ts';

const DAY = 86_400_000;
const PROJECT = 'default';

interface Behaviour {
  name: string;
  strata: unknown;
  /** The event name the condition reads (null: every event, Strata's "*"). */
  reads: string | null;
  /** Hand-written SQL over `events(profile_id, name, ts, revenue)`: the member count, `?1`/`$1` = window start (exclusive), `?2`/`$2` = now; `DAYS` stands for the dialect's whole-day expression. */
  sql: string;
  from: number;
}

/** Revenue is whole cents: a half-cent threshold cannot be moved by the order floating-point sums are added in. */
export const BEHAVIOURS: Behaviour[] = [
  {
    name: 'purchase ≥2× in 30d',
    strata: { event: 'purchase', window: { within: '30d' }, cmp: { op: 'gte', value: 2 } },
    reads: 'purchase', from: 30 * DAY,
    sql: `SELECT count(*) AS n FROM (SELECT profile_id FROM events WHERE name = 'purchase' AND ts > $1 AND ts <= $2 GROUP BY profile_id HAVING count(*) >= 2)`,
  },
  {
    name: 'active ≥3 days in 14d',
    strata: { event: '*', window: { within: '14d' }, agg: { fn: 'distinctDays' }, cmp: { op: 'gte', value: 3 } },
    reads: null, from: 14 * DAY,
    sql: `SELECT count(*) AS n FROM (SELECT profile_id FROM events WHERE ts > $1 AND ts <= $2 GROUP BY profile_id HAVING count(DISTINCT DAYS) >= 3)`,
  },
  {
    name: 'revenue ≥200.00 in 60d',
    strata: { event: 'purchase', window: { within: '60d' }, agg: { fn: 'sum', prop: 'properties.revenue' }, cmp: { op: 'gte', value: 199.995 } },
    reads: 'purchase', from: 60 * DAY,
    sql: `SELECT count(*) AS n FROM (SELECT profile_id FROM events WHERE name = 'purchase' AND ts > $1 AND ts <= $2 GROUP BY profile_id HAVING sum(revenue) >= 199.995)`,
  },
];

/** The events of the store, column by column (names dictionary-encoded). */
interface Events { n: number; profile: Int32Array; ts: Float64Array; name: Uint16Array; names: string[]; revenue: Float64Array; profileIds: number[] }

function readEvents(raw: BetterSqlite3.Database): Events {
  const n = (raw.prepare(`SELECT count(*) AS n FROM events WHERE project_id = 'default' AND derived = 0`).get() as { n: number }).n;
  const ev: Events = { n, profile: new Int32Array(n), ts: new Float64Array(n), name: new Uint16Array(n), names: [], revenue: new Float64Array(n), profileIds: [] };
  const codes = new Map<string, number>();
  let i = 0;
  const rows = raw.prepare(`SELECT profile_id AS p, name, ts, json_extract(properties, '$.revenue') AS revenue FROM events WHERE project_id = 'default' AND derived = 0`).raw(true);
  for (const [p, name, ts, revenue] of rows.iterate() as Iterable<[number, string, number, number | null]>) {
    let c = codes.get(name);
    if (c === undefined) codes.set(name, (c = ev.names.push(name) - 1));
    ev.profile[i] = p;
    ev.ts[i] = ts;
    ev.name[i] = c;
    ev.revenue[i] = typeof revenue === 'number' ? revenue : NaN;
    i++;
  }
  if (i !== n) throw new Error(`read ${i} events, expected ${n}`);
  ev.profileIds = (raw.prepare(`SELECT id FROM profiles WHERE project_id = 'default' ORDER BY id`).raw(true).all() as [number][]).map((r) => r[0]);
  return ev;
}

/** The events of `name` (null: all) as the engine receives them, with the revenue property where the event has one. */
function* engineEvents(ev: Events, name: string | null): Generator<EngineEvent> {
  const code = name === null ? -1 : ev.names.indexOf(name);
  for (let i = 0; i < ev.n; i++) {
    if (code >= 0 && ev.name[i] !== code) continue;
    const r = ev.revenue[i]!;
    yield { profileId: ev.profile[i]!, name: ev.names[ev.name[i]!]!, timestamp: ev.ts[i]!, properties: Number.isNaN(r) ? {} : { revenue: r }, context: {} };
  }
}

const segmentRow = (id: string, condition: unknown): SegmentRow => ({ id, projectId: PROJECT, name: id, description: '', condition: condition as SegmentRow['condition'], template: null, params: null, createdAt: END, updatedAt: END });

type Timings = { ms: number[]; counts: number[] };

export async function behaviourTable(events: number): Promise<void> {
  const users = Math.max(1, Math.round(events / 10));
  console.log(`\n=== 2. Behavioural segments: the store of ${users} generated users (≈10 events each)...`);
  const file = await previewDatabase(users);
  const { db, raw } = openSqlite({ filename: file });
  const store = new SqlStore(db, 'sqlite');
  let t = performance.now();
  const ev = readEvents(raw);
  console.log(`  read ${ev.n} events of ${ev.profileIds.length} profiles back in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const parsed: Condition[] = BEHAVIOURS.map((b) => { const r = parseCondition(b.strata); if (!r.ok) throw new Error(`${b.name}: ${JSON.stringify(r.issues)}`); return r.value; });
  const results = new Map<string, Timings>();
  const runs = 2;

  // Strata: a new segment's backfill in the engine (profiles loaded, no segment yet: each condition's events are handed in as the store would read them), once each, cold.
  const engine = new LiveEngine(null as never, { now: () => END });
  t = performance.now();
  engine.hydrate(PROJECT, [], ev.profileIds.map((id): { profile: EngineProfile; events: [] } => ({ profile: { id, key: String(id), userId: null, anonymousId: `a${id}`, traits: {}, context: {}, labels: [], firstSeen: null, lastSeen: null }, events: [] })), END);
  console.log(`  engine: ${ev.profileIds.length} profiles loaded in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  // The same backfills with the members decided and the lists filled per profile (the path
  // before bulk evaluation: the baseline), on an engine of its own, first.
  const backfillIn = (how: 'bulk' | 'per-profile'): Timings => {
    const engine = new LiveEngine(null as never, { now: () => END });
    engine.hydrate(PROJECT, [], ev.profileIds.map((id): { profile: EngineProfile; events: [] } => ({ profile: { id, key: String(id), userId: null, anonymousId: `a${id}`, traits: {}, context: {}, labels: [], firstSeen: null, lastSeen: null }, events: [] })), END);
    const rows: SegmentRow[] = [];
    const out: Timings = { ms: [], counts: [] };
    for (const [i, b] of BEHAVIOURS.entries()) {
      rows.push(segmentRow(`b${i}`, b.strata));
      const s = performance.now();
      const entered = engine.redefineInMemory(PROJECT, rows, [`b${i}`], END, engineEvents(ev, b.reads), how).length;
      out.ms.push(performance.now() - s);
      if (entered !== engine.members(PROJECT, `b${i}`).size) throw new Error(`${b.name}: ${entered} entries, ${engine.members(PROJECT, `b${i}`).size} members`);
      out.counts.push(entered);
    }
    return out;
  };
  const backfillBase = backfillIn('per-profile');
  const rows: SegmentRow[] = [];
  const backfill: Timings = { ms: [], counts: [] };
  for (const [i, b] of BEHAVIOURS.entries()) {
    rows.push(segmentRow(`b${i}`, b.strata));
    const s = performance.now();
    const entered = engine.redefineInMemory(PROJECT, rows, [`b${i}`], END, engineEvents(ev, b.reads)).length;
    backfill.ms.push(performance.now() - s);
    if (entered !== engine.members(PROJECT, `b${i}`).size) throw new Error(`${b.name}: ${entered} entries, ${engine.members(PROJECT, `b${i}`).size} members`);
    backfill.counts.push(entered);
  }
  // Strata: preview from the engine's state, now that every leaf is live.
  const live: Timings = { ms: [], counts: [] };
  for (const c of parsed) {
    const r = await bestOfAsync(runs, async () => engine.preview(PROJECT, c, END, 10)!.count);
    live.ms.push(r.ms);
    live.counts.push(r.result);
  }
  results.set('strata preview from engine state (in memory)', live);
  results.set('strata backfill of a new segment in the engine (once, cold)', backfill);
  results.set('  the same, per profile (before bulk evaluation; baseline)', backfillBase);

  // Strata: the engine loaded from its SQLite store with no segment (nothing kept), each
  // condition previewed by reading its events from the store as columns into lists of the
  // preview's own, then evaluating in bulk (LiveEngine.previewFromStore).
  {
    const onStore = new LiveEngine(store, { now: () => END });
    t = performance.now();
    await onStore.write((tx) => onStore.segmentRows(tx, PROJECT));
    console.log(`  engine on the store: ${ev.profileIds.length} profiles loaded in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const fromStore: Timings = { ms: [], counts: [] };
    for (const c of parsed) {
      const r = await bestOfAsync(runs, async () => (await onStore.previewFromStore(PROJECT, c, END, 10, { every: true }))!.count);
      fromStore.ms.push(r.ms);
      fromStore.counts.push(r.result);
    }
    results.set('strata preview reading its events from its SQLite store as columns (nothing kept)', fromStore);
  }

  // Strata: preview compiled to SQL on its embedded SQLite store (no engine state for the project: the path bench:preview measures).
  const ctx = createContext(store, configFromEnv({}), { now: () => END });
  const sqlPreview: Timings = { ms: [], counts: [] };
  for (const b of BEHAVIOURS) {
    const r = await bestOfAsync(runs, async () => (await ctx.segments.preview(PROJECT, b.strata as never)).count);
    sqlPreview.ms.push(r.ms);
    sqlPreview.counts.push(r.result);
  }
  results.set('strata preview as SQL on its embedded SQLite store', sqlPreview);
  await store.close();

  // DuckDB, in memory, hand-written SQL; the table sorted by time (its zone maps then skip what a window leaves out).
  const duck = await DuckDBInstance.create(':memory:');
  const conn = await duck.connect();
  const threads = (await conn.runAndReadAll(`SELECT current_setting('threads') AS t`)).getRowsJS()[0]![0];
  t = performance.now();
  await conn.run(`CREATE TABLE load (profile_id INTEGER, name VARCHAR, ts BIGINT, revenue DOUBLE)`);
  const app = await conn.createAppender('load');
  for (let i = 0; i < ev.n; i++) {
    app.appendInteger(ev.profile[i]!);
    app.appendVarchar(ev.names[ev.name[i]!]!);
    app.appendBigInt(BigInt(ev.ts[i]!));
    const r = ev.revenue[i]!;
    if (Number.isNaN(r)) app.appendNull(); else app.appendDouble(r);
    app.endRow();
  }
  app.closeSync();
  await conn.run(`CREATE TABLE events AS SELECT * FROM load ORDER BY ts; DROP TABLE load`);
  console.log(`  DuckDB: loaded in ${((performance.now() - t) / 1000).toFixed(1)} s (${threads} threads)`);
  const duckTimes: Timings = { ms: [], counts: [] };
  for (const b of BEHAVIOURS) {
    const q = b.sql.replace('DAYS', 'ts // 86400000');
    const r = await bestOfAsync(runs, async () => Number((await conn.runAndReadAll(q, [BigInt(END - b.from), BigInt(END)])).getRowsJS()[0]![0]));
    duckTimes.ms.push(r.ms);
    duckTimes.counts.push(r.result);
  }
  results.set(`DuckDB, in memory, ${threads} threads, hand-written SQL`, duckTimes);
  conn.closeSync();
  duck.closeSync();

  // SQLite, hand-written SQL over a table of its own, with the covering indexes these queries read best.
  const dir = mkdtempSync(join(tmpdir(), 'strata-peers-'));
  const lite = new BetterSqlite3(join(dir, 'events.db'));
  lite.pragma('journal_mode = OFF');
  lite.pragma('synchronous = OFF');
  lite.pragma('cache_size = -262144');
  t = performance.now();
  lite.exec(`CREATE TABLE events (profile_id INTEGER NOT NULL, name TEXT NOT NULL, ts INTEGER NOT NULL, revenue REAL)`);
  const ins = lite.prepare(`INSERT INTO events VALUES (?, ?, ?, ?)`);
  lite.transaction(() => {
    for (let i = 0; i < ev.n; i++) { const r = ev.revenue[i]!; ins.run(ev.profile[i]!, ev.names[ev.name[i]!]!, ev.ts[i]!, Number.isNaN(r) ? null : r); }
  })();
  lite.exec(`CREATE INDEX events_name_ts ON events (name, ts, profile_id, revenue); CREATE INDEX events_ts ON events (ts, profile_id); ANALYZE`);
  console.log(`  SQLite: loaded and indexed in ${((performance.now() - t) / 1000).toFixed(1)} s; indexes (name, ts, profile_id, revenue) and (ts, profile_id)`);
  const liteTimes: Timings = { ms: [], counts: [] };
  for (const b of BEHAVIOURS) {
    const stmt = lite.prepare(b.sql.replace('DAYS', 'ts / 86400000').replace('$1', '?').replace('$2', '?'));
    const plan = (lite.prepare(`EXPLAIN QUERY PLAN ${stmt.source}`).all(END - b.from, END) as { detail: string }[]).map((r) => r.detail).filter((d) => /INDEX|SCAN/.test(d));
    console.log(`    ${b.name}: ${plan.join('; ')}`);
    const r = await bestOfAsync(runs, async () => (stmt.get(END - b.from, END) as { n: number }).n);
    liteTimes.ms.push(r.ms);
    liteTimes.counts.push(r.result);
  }
  results.set('SQLite (better-sqlite3), hand-written SQL, covering indexes', liteTimes);
  lite.close();
  rmSync(dir, { recursive: true, force: true });

  // Same members everywhere (checked before the table; the timed runs above returned these counts).
  for (const [i, b] of BEHAVIOURS.entries()) {
    const counts = [...results].map(([k, r]) => [k, r.counts[i]] as const);
    if (new Set(counts.map(([, c]) => c)).size !== 1) throw new Error(`${b.name}: member counts differ (${counts.map(([k, c]) => `${k} ${c}`).join(', ')})`);
  }
  console.log(`\n${ev.n} events of ${ev.profileIds.length} profiles (90 days up to ${new Date(END).toISOString().slice(0, 10)}); ms = best of ${runs} after a warm-up, except the backfill (once); × = against the fastest for that condition`);
  console.log(`members: ${BEHAVIOURS.map((b, i) => `${b.name}: ${backfill.counts[i]}`).join('; ')}\n`);
  const fastest = BEHAVIOURS.map((_, i) => Math.min(...[...results.values()].map((r) => r.ms[i]!)));
  table([
    ['system', ...BEHAVIOURS.flatMap((b) => [`${b.name} (ms)`, '×'])],
    ...[...results].map(([k, r]) => [k, ...r.ms.flatMap((ms, i) => [fmt(ms), `${(ms / fastest[i]!).toFixed(1)}×`])]),
  ]);
}
