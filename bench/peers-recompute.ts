/**
 * Worker of bench:peers' table 3: the recompute-on-schedule baseline. Every `everyMs` it
 * recomputes every segment in bulk — each condition compiled to SQL by Strata's compiler and
 * run on its own read connection to the store the server ingests into — and keeps the member
 * ids in memory (they are not written back). Told `{ until }`, it stops after the first
 * recompute that started at or after that instant, and answers each recompute's start and end
 * (ms since the epoch, comparable across threads).
 */
import { parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { compileConditionSql, parseCondition, sqliteDialect, type Condition } from '@strata/core';
import { registerFunctions } from '@strata/store';

export interface RecomputeData { file: string; project: string; everyMs: number; segments: { id: string; condition: unknown }[] }
export interface Recompute { start: number; end: number; members: number }

const { file, project, everyMs, segments } = workerData as RecomputeData;
const clock = () => performance.timeOrigin + performance.now();
const raw = new BetterSqlite3(file, { readonly: true });
raw.pragma('busy_timeout = 5000');
registerFunctions(raw);
const db = new Kysely<never>({ dialect: new SqliteDialect({ database: raw }) });

const byId = new Map(segments.map((s) => [s.id, s.condition]));
const parsed = new Map<string, Condition>();
for (const s of segments) {
  const r = parseCondition(s.condition, { segmentCondition: (id) => byId.get(id) ?? null });
  if (!r.ok) throw new Error(`${s.id}: ${JSON.stringify(r.issues)}`);
  parsed.set(s.id, r.value);
}
const members = new Map<string, number[]>();

function recompute(): Recompute {
  const start = clock();
  let total = 0;
  for (const [id, condition] of parsed) {
    const where = compileConditionSql(condition, { dialect: sqliteDialect, projectId: project, now: Date.now(), resolveSegment: (ref) => (parsed.has(ref) ? { condition: parsed.get(ref)! } : undefined) });
    const q = sql<{ id: number }>`SELECT p.id FROM profiles p WHERE p.project_id = ${project} AND ${where}`.compile(db);
    const ids = raw.prepare(q.sql).pluck().all(...q.parameters.map((v) => (typeof v === 'boolean' ? Number(v) : v))) as number[];
    members.set(id, ids);
    total += ids.length;
  }
  return { start, end: clock(), members: total };
}

const done: Recompute[] = [];
let until = Infinity;
parentPort!.on('message', (m: { until: number }) => { until = m.until; });
const origin = clock();
for (;;) {
  // The next instant of the schedule (one that a long recompute overran is skipped); messages are read while waiting.
  const due = origin + (Math.floor((clock() - origin) / everyMs) + 1) * everyMs;
  await new Promise((r) => setTimeout(r, Math.max(0, due - clock())));
  const r = recompute();
  done.push(r);
  if (r.start >= until) break;
}
raw.close();
parentPort!.postMessage(done);
