import { CompiledQuery, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileConditionSql, parseCondition } from '@strata/core';
import type { SqlStore } from './sql-store.ts';
import { openTestSqlite } from './testing/index.ts';

/**
 * The events-by-name index (migration 0021, docs/architecture.md § Data, "Events by name"): keyed
 * by the later of an event's time and its arrival, so that late events and what they cause are
 * written at its end, and windowed reads seek on it.
 */
describe('events by name', () => {
  let store: SqlStore;
  const DAY = 86_400_000, NOW = Date.UTC(2026, 0, 31);
  beforeAll(async () => { store = await openTestSqlite(); });
  afterAll(async () => { await store.close(); });

  const plan = async (text: string, params: readonly unknown[]) =>
    (await store.db.executeQuery<{ detail: string }>(CompiledQuery.raw(`EXPLAIN QUERY PLAN ${text}`, [...params]))).rows.map((r) => r.detail).join(' | ');
  const profile = (userId: string) => ({ userId, anonymousId: null, traits: {}, context: {}, labels: [], firstSeen: null, lastSeen: null });

  it('a windowed count of a name seeks the index on the window\'s start, reading the index alone', async () => {
    const parsed = parseCondition({ event: 'purchase', window: { within: '7d' }, cmp: { op: 'gte', value: 2 } });
    if (!parsed.ok) throw new Error('invalid condition');
    const where = compileConditionSql(parsed.value, { dialect: store.sqlDialect, projectId: 'p', now: NOW, resolveSegment: () => undefined });
    const q = sql`SELECT p.id FROM profiles p WHERE p.project_id = ${'p'} AND ${where}`.compile(store.db);
    const detail = await plan(q.sql, q.parameters);
    expect(detail).toMatch(/COVERING INDEX events_name \(project_id=\? AND name=\? AND <expr>>\?\)/);
  });

  it('the members of a window are the same whatever the events\' arrival', async () => {
    // Events received long after their time (a backfill) and at it (live): the index key differs, the window's members do not.
    const project = 'arrival';
    const ids: number[] = [];
    for (const [key, ts] of [['late', NOW - DAY], ['live', NOW - 2 * DAY], ['old', NOW - 10 * DAY]] as const) {
      ids.push(await store.insertProfile(project, profile(key), [{ name: 'purchase', timestamp: ts, properties: {}, context: {} }], NOW));
    }
    await store.db.updateTable('events').set({ received_at: NOW }).where('project_id', '=', project).where('profile_id', '=', ids[0]!).execute();
    const parsed = parseCondition({ event: 'purchase', window: { within: '7d' } });
    if (!parsed.ok) throw new Error('invalid condition');
    const where = compileConditionSql(parsed.value, { dialect: store.sqlDialect, projectId: project, now: NOW, resolveSegment: () => undefined });
    expect(await store.matchingIds(project, where)).toEqual([ids[0], ids[1]]);
  });

  it('an event Strata derives is received when it is derived, never before its own time', async () => {
    const project = 'derived';
    const id = await store.insertProfile(project, profile('u'), [], NOW);
    await store.insertDerivedEvents(project, [
      { profileId: id, name: '$segment_entered', properties: { segmentId: 's' }, timestamp: NOW - 5 * DAY },
      { profileId: id, name: '$segment_exited', properties: { segmentId: 's' }, timestamp: NOW + DAY },
    ], NOW);
    const rows = await store.db.selectFrom('events').select(['name', 'ts', 'received_at']).where('project_id', '=', project).orderBy('ts').execute();
    expect(rows.map((r) => [r.name, Number(r.ts), Number(r.received_at)])).toEqual([
      ['$segment_entered', NOW - 5 * DAY, NOW],
      ['$segment_exited', NOW + DAY, NOW + DAY],
    ]);
  });
});
