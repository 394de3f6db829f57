import { sql, type Kysely } from 'kysely';
import { DAY_MS, isDerivedEvent, type SqlDialect } from '@strata/core';
import type { Database } from './schema.ts';
import type { SqlStore } from './sql-store.ts';

/** Per UTC day (epoch day number): entries and exits. */
export interface DayChanges { readonly day: number; readonly entered: number; readonly exited: number }

/** What the current members of a segment did in a time range. */
export interface SegmentActivity {
  readonly missionParticipants: number;
  readonly missionCompleters: number;
  readonly missionCompletions: number;
  readonly redemptions: number;
  readonly redeemers: number;
  readonly pointsEarned: number;
  readonly pointsSpent: number;
  readonly topEvents: { name: string; count: number; users: number }[];
}

/** An event name a project has received, with how often and when last. */
export interface EventNameCount { readonly name: string; readonly derived: boolean; readonly count: number; readonly lastAt: number }

/**
 * Segment insights, read from the tables every change is already recorded in: membership
 * history (entries and exits with their times), mission progress, `$mission_completed`
 * events, reward redemptions and the points ledger — each joined with the segment's current
 * members, by project.
 */
export class InsightsStore {
  private readonly db: Kysely<Database>;
  private readonly dialect: SqlDialect;
  constructor(store: SqlStore) {
    this.db = store.db;
    this.dialect = store.sqlDialect;
  }

  /** Entries and exits of a segment per UTC day, from the day of `from` on (segment_daily, kept with the history). */
  async changesPerDay(projectId: string, segmentId: string, from: number): Promise<DayChanges[]> {
    return (await this.changesPerDayAll(projectId, from, segmentId)).get(segmentId) ?? [];
  }

  /** The same for every segment of a project (or just `segmentId`) in one read, by segment id. */
  async changesPerDayAll(projectId: string, from: number, segmentId?: string): Promise<Map<string, DayChanges[]>> {
    // Summed over the rows of every writer (StoreHandle.dailyShard).
    let q = this.db.selectFrom('segment_daily').select((eb) => ['segment_id', 'day', eb.fn.sum<number>('entered').as('entered'), eb.fn.sum<number>('exited').as('exited')])
      .where('project_id', '=', projectId).where('day', '>=', Math.floor(from / DAY_MS));
    if (segmentId !== undefined) q = q.where('segment_id', '=', segmentId);
    const out = new Map<string, DayChanges[]>();
    for (const r of await q.groupBy(['segment_id', 'day']).orderBy('segment_id').orderBy('day').execute()) {
      const list = out.get(r.segment_id) ?? [];
      if (!list.length) out.set(r.segment_id, list);
      list.push({ day: Number(r.day), entered: Number(r.entered), exited: Number(r.exited) });
    }
    return out;
  }

  /**
   * The event names of a project, most frequent first (at most `limit`): what pickers offer
   * (an experiment's conversion event). One grouped read over the events-by-name
   * index.
   */
  async eventNames(projectId: string, limit: number): Promise<EventNameCount[]> {
    const rows = await sql<{ name: string; n: number; last: number }>`SELECT name, count(*) AS n, max(ts) AS last
      FROM events WHERE project_id = ${projectId}
      GROUP BY name ORDER BY count(*) DESC, name LIMIT ${limit}`.execute(this.db);
    return rows.rows.map((r) => ({ name: r.name, derived: isDerivedEvent(r.name), count: Number(r.n), lastAt: Number(r.last) }));
  }

  private async count(q: ReturnType<typeof sql<{ n: number }>>): Promise<number> {
    return Number((await q.execute(this.db)).rows[0]?.n ?? 0);
  }

  /** What the segment's current members did in [from, to). */
  async activity(projectId: string, segmentId: string, from: number, to: number): Promise<SegmentActivity> {
    const members = sql`SELECT profile_id FROM memberships WHERE project_id = ${projectId} AND segment_id = ${segmentId}`;
    const missionParticipants = await this.count(sql<{ n: number }>`SELECT count(DISTINCT profile_id) AS n FROM mission_progress
      WHERE project_id = ${projectId} AND updated_at >= ${from} AND updated_at < ${to} AND profile_id IN (${members})`);
    const completions = (await sql<{ users: number; n: number }>`SELECT count(DISTINCT profile_id) AS users, count(*) AS n FROM events
      WHERE project_id = ${projectId} AND name = '$mission_completed' AND ${this.dialect.seenFrom(null, from)} AND ts >= ${from} AND ts < ${to} AND profile_id IN (${members})`.execute(this.db)).rows[0];
    const redemptions = (await sql<{ users: number; n: number }>`SELECT count(DISTINCT profile_id) AS users, count(*) AS n FROM reward_redemptions
      WHERE project_id = ${projectId} AND at >= ${from} AND at < ${to} AND profile_id IN (${members})`.execute(this.db)).rows[0];
    const points = (await sql<{ earned: number; spent: number }>`SELECT coalesce(sum(CASE WHEN amount > 0 THEN amount ELSE 0 END), 0) AS earned,
      coalesce(sum(CASE WHEN amount < 0 THEN -amount ELSE 0 END), 0) AS spent FROM points_ledger
      WHERE project_id = ${projectId} AND at >= ${from} AND at < ${to} AND profile_id IN (${members})`.execute(this.db)).rows[0];
    const top = await sql<{ name: string; n: number; users: number }>`SELECT name, count(*) AS n, count(DISTINCT profile_id) AS users FROM events
      WHERE project_id = ${projectId} AND derived = ${sql.lit(false)} AND ts >= ${from} AND ts < ${to} AND profile_id IN (${members})
      GROUP BY name ORDER BY count(*) DESC, name LIMIT 10`.execute(this.db);
    return {
      missionParticipants, missionCompleters: Number(completions?.users ?? 0), missionCompletions: Number(completions?.n ?? 0),
      redemptions: Number(redemptions?.n ?? 0), redeemers: Number(redemptions?.users ?? 0),
      pointsEarned: Number(points?.earned ?? 0), pointsSpent: Number(points?.spent ?? 0),
      topEvents: top.rows.map((r) => ({ name: r.name, count: Number(r.n), users: Number(r.users) })),
    };
  }
}
