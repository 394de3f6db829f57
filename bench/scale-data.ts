/**
 * The benchmarks' embedded store and services (benchContext), and a project at scale for the
 * HTTP benchmarks (scaleProject): N known users written by SQL into a fresh
 * embedded store (plan, country, score traits), 20 attribute segments whose memberships are
 * computed by SQL (so the engine's start reconciles without changes), the engine started and
 * the app built. Shared by bench/targeting.ts and bench/admin-pages.ts.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { compileConditionSql, parseCondition } from '@strata/core';
import type { Clock } from '@strata/engine';
import { generateBatches } from '@strata/datagen';
import { buildApp, configFromEnv, createContext, ensureDefaultProject, normalizeMessage, stopContext, type AppContext } from '@strata/server';
import { createStore, type IngestItem } from '@strata/store';
import { openBenchStore, type BenchStore } from './bench-store.ts';
import { BENCH_SEGMENTS, benchSegments200, nestedCondition } from './segments.ts';

export const PROJECT = 'default';
export const ADMIN = 'sta_bench_admin';
export const WRITE = 'stw_bench_write';
const PLANS = ['free', 'basic', 'pro', 'vip'];
const COUNTRIES = ['US', 'GB', 'DE', 'FR', 'CN', 'JP', 'BR', 'IN', 'ES', 'IT'];

/** The 20 segments: plans, countries, score bands, and two combinations. */
const CONDITIONS: [string, unknown][] = [
  ...PLANS.map((p) => [`Plan ${p}`, { attr: 'traits.plan', op: 'eq', value: p }] as [string, unknown]),
  ...COUNTRIES.map((c) => [`Country ${c}`, { attr: 'traits.country', op: 'eq', value: c }] as [string, unknown]),
  ...[0, 25, 50, 75].map((lo) => [`Score ${lo}-${lo + 24}`, { attr: 'traits.score', op: 'between', value: [lo, lo + 24] }] as [string, unknown]),
  ['VIP in Europe', { all: [{ attr: 'traits.plan', op: 'eq', value: 'vip' }, { attr: 'traits.country', op: 'in', value: ['GB', 'DE', 'FR', 'ES', 'IT'] }] }],
  ['Pro or high score', { any: [{ attr: 'traits.plan', op: 'eq', value: 'pro' }, { attr: 'traits.score', op: 'gte', value: 90 }] }],
];

/** A fresh embedded store in `dataDir` with the default project (credentials ADMIN, WRITE) and its services; the engine is not started. */
export async function benchContext(dataDir: string, now = Date.now(), clock?: Clock) {
  const store = await createStore({ kind: 'sqlite', dataDir });
  const config = { ...configFromEnv({}), adminToken: ADMIN, writeKey: WRITE };
  await ensureDefaultProject(store, config, now);
  return { store, config, ctx: createContext(store, config, clock) };
}

/** The 20 bench segments (bench/segments.ts, the nested ones referring to the plain ones by id), then the engine started. */
export async function startWithBenchSegments(ctx: AppContext, project = PROJECT): Promise<void> {
  const idOf = new Map<string, string>();
  for (const s of BENCH_SEGMENTS) idOf.set(s.name, (await ctx.segments.create(project, { name: s.name, condition: nestedCondition(s, idOf) as never })).id);
  await ctx.engine.start(0);
}

/**
 * The first `count` segments of a mix created through the service: up to 20, bench/segments.ts's
 * BENCH_SEGMENTS; more, the 200-segment mix of bench:engine (benchSegments200), its references
 * to bench ids mapped to the ids Strata gives.
 */
export async function createSegmentMix(ctx: AppContext, count: number, project = PROJECT): Promise<void> {
  const idOf = new Map<string, string>();
  if (count > BENCH_SEGMENTS.length) {
    for (const s of benchSegments200().slice(0, count)) {
      const condition = JSON.parse(JSON.stringify(s.condition), (k, v) => (k === 'segment' ? idOf.get(v) : v));
      idOf.set(s.id, (await ctx.segments.create(project, { name: s.name, condition })).id);
    }
  } else {
    for (const s of BENCH_SEGMENTS.slice(0, count)) idOf.set(s.name, (await ctx.segments.create(project, { name: s.name, condition: nestedCondition(s, idOf) as never })).id);
  }
}

/** Generated users' events through the ingest path, normalised as /v1 would, 400 to a request; answers how many went in. */
export async function ingestGenerated(ctx: AppContext, opts: { seed: number; users: number; end: number }, project = PROJECT): Promise<number> {
  let events = 0;
  for (const batch of generateBatches({ seed: opts.seed, users: opts.users, end: opts.end }, 400)) {
    const items: IngestItem[] = [];
    for (const m of batch) {
      const n = normalizeMessage(m, null, opts.end, undefined);
      if (n.ok) items.push(n.item);
    }
    events += items.length;
    await ctx.ingest.submit(project, items, [], opts.end);
  }
  return events;
}

const seconds = (t: number) => `${((performance.now() - t) / 1000).toFixed(1)} s`;

/**
 * `history`: also record every membership's entry in the history (and the daily counts), at
 * an instant spread over the 30 days before `now`, as if the users had joined over a month.
 */
export async function scaleProject(users: number, now: number, opts: { history?: boolean; store?: BenchStore } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'strata-bench-scale-'));
  const run = await openBenchStore(opts.store ?? 'sqlite', dir, now, { now: () => now });
  const { store, ctx } = run;
  const config = ctx.config;

  console.log(`writing ${users} users...`);
  let t = performance.now();
  const CHUNK = 500;
  for (let start = 1; start <= users; start += CHUNK * 20) {
    await store.transaction(async (tx) => {
      for (let s = start; s < Math.min(users + 1, start + CHUNK * 20); s += CHUNK) {
        const ids = Array.from({ length: Math.min(CHUNK, users + 1 - s) }, (_, k) => s + k);
        const traits = (i: number) => JSON.stringify({ plan: PLANS[i % 4], country: COUNTRIES[i % 10], score: i % 100 });
        await sql`INSERT INTO profiles (id, project_id, user_id, anonymous_id, traits, traits_at, context, labels, first_seen, last_seen, created_at, updated_at) VALUES ${sql.join(
          ids.map((i) => sql`(${i}, ${PROJECT}, ${`u${i}`}, ${null}, ${traits(i)}, '{}', '{}', '[]', ${now - 86_400_000}, ${now - 3_600_000}, ${now}, ${now})`))}`.execute(tx.db);
        await sql`INSERT INTO profile_keys (project_id, kind, key, profile_id) VALUES ${sql.join(ids.map((i) => sql`(${PROJECT}, 'u', ${`u${i}`}, ${i})`))}`.execute(tx.db);
      }
    });
  }
  console.log(`  ${seconds(t)}`);

  t = performance.now();
  const segmentIds: string[] = [];
  await store.transaction(async (tx) => {
    for (const [i, [name, condition]] of CONDITIONS.entries()) {
      const id = `seg_bench_${i}`;
      segmentIds.push(id);
      await tx.insertSegment({ id, projectId: PROJECT, name, description: '', condition: condition as never, template: null, params: null, createdAt: now, updatedAt: now });
      const parsed = parseCondition(condition);
      if (!parsed.ok) throw new Error(name);
      const where = compileConditionSql(parsed.value, { dialect: tx.sqlDialect, projectId: PROJECT, now, resolveSegment: () => undefined });
      await sql`INSERT INTO memberships (project_id, segment_id, profile_id, since) SELECT project_id, ${id}, id, ${now} FROM profiles p WHERE project_id = ${PROJECT} AND ${where}`.execute(tx.db);
    }
    if (opts.history) {
      // Entries spread over the month before now (the profile id picks the minute), then the daily counts as migration 0010 builds them.
      await sql`INSERT INTO membership_history (project_id, segment_id, profile_id, kind, at, reason)
        SELECT project_id, segment_id, profile_id, 'entered', ${now} - (profile_id * 7919 % 43200) * 60000, 'event' FROM memberships WHERE project_id = ${PROJECT}`.execute(tx.db);
      await sql`INSERT INTO segment_daily (project_id, segment_id, day, entered, exited)
        SELECT project_id, segment_id, at / 86400000, count(*), 0 FROM membership_history WHERE project_id = ${PROJECT} GROUP BY project_id, segment_id, at / 86400000`.execute(tx.db);
    }
    await tx.setEngineClock(PROJECT, now);
  });
  console.log(`  segments and memberships${opts.history ? ' and history' : ''} by SQL: ${seconds(t)}`);

  t = performance.now();
  await ctx.engine.start(0);
  console.log(`  engine loaded ${users} profiles in ${seconds(t)}`);
  const app = await buildApp(ctx);
  // Every service of the context stopped (the membership worker and its log thread, the outbox), not only the engine and store.
  const close = async () => {
    await app.close();
    await run.close();
  };
  return { dir, store, config, ctx, app, segmentIds, close };
}
