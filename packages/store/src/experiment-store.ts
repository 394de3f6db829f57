import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { SqlDialect } from '@strata/core';
import type { Database } from './schema.ts';
import type { SqlStore } from './sql-store.ts';
import { readJson } from './util.ts';

export type ExperimentStatus = 'draft' | 'running' | 'stopped';

/** One arm: an ordinary segment holding the audience members whose bucket is in [from, to). */
export interface ExperimentArmRow {
  readonly key: string;
  readonly name: string;
  readonly weight: number;
  readonly segmentId: string;
  readonly from: number;
  readonly to: number;
}

export interface ExperimentRow {
  readonly id: string;
  readonly projectId: string;
  readonly name: string;
  readonly description: string;
  readonly audienceSegmentId: string | null;
  readonly salt: string;
  readonly arms: readonly ExperimentArmRow[];
  /** The key of the control arm. */
  readonly control: string;
  readonly status: ExperimentStatus;
  readonly startedAt: number | null;
  readonly stoppedAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** What a conversion is, as rows (profile, instant) that count when at or after the profile's first exposure. */
export type ConversionSource =
  /** An event by name; null: any event the user caused (non-derived). */
  | { readonly kind: 'event'; readonly name: string | null }
  /** `$mission_completed` events of one mission. */
  | { readonly kind: 'mission_completion'; readonly missionId: string }
  /** A row in `mission_progress`, at its `started_at`. */
  | { readonly kind: 'mission_participation'; readonly missionId: string }
  /** A row in `reward_redemptions`, at its `at`. */
  | { readonly kind: 'reward_redemption'; readonly rewardId: string };

/** A profile's first exposure to an arm segment. */
export interface Exposure {
  readonly segmentId: string;
  readonly profileId: number;
  readonly at: number;
}

type Row = Database['experiments'];

const toExperiment = (r: Row): ExperimentRow => ({
  id: r.id, projectId: r.project_id, name: r.name, description: r.description, audienceSegmentId: r.audience_segment_id, salt: r.salt,
  arms: readJson<ExperimentArmRow[]>(r.arms, []), control: r.control, status: r.status,
  startedAt: r.started_at === null ? null : Number(r.started_at), stoppedAt: r.stopped_at === null ? null : Number(r.stopped_at),
  createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
});

/**
 * Experiment definitions, and the two reads their results need: first exposures (from the arm
 * segments' membership history and current memberships) and conversions after exposure.
 * Construct it over a store or a transaction's store (`new ExperimentStore(tx)`).
 * `mission_progress` is read by its column names with raw SQL: that table belongs to missions.
 */
export class ExperimentStore {
  private readonly db: Kysely<Database>;
  private readonly dialect: SqlDialect;
  constructor(store: SqlStore) {
    this.db = store.db;
    this.dialect = store.sqlDialect;
  }

  private values(e: ExperimentRow): Row {
    return {
      project_id: e.projectId, id: e.id, name: e.name, description: e.description, audience_segment_id: e.audienceSegmentId, salt: e.salt,
      arms: JSON.stringify(e.arms), control: e.control, status: e.status, started_at: e.startedAt, stopped_at: e.stoppedAt,
      created_at: e.createdAt, updated_at: e.updatedAt,
    };
  }

  async insert(e: ExperimentRow): Promise<void> {
    await this.db.insertInto('experiments').values(this.values(e)).execute();
  }

  async update(e: ExperimentRow): Promise<void> {
    const { project_id: _p, id: _i, created_at: _c, ...set } = this.values(e);
    await this.db.updateTable('experiments').set(set).where('project_id', '=', e.projectId).where('id', '=', e.id).execute();
  }

  async get(projectId: string, id: string): Promise<ExperimentRow | null> {
    const r = await this.db.selectFrom('experiments').selectAll().where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    return r ? toExperiment(r) : null;
  }

  async byName(projectId: string, name: string): Promise<ExperimentRow | null> {
    const r = await this.db.selectFrom('experiments').selectAll().where('project_id', '=', projectId).where('name', '=', name).executeTakeFirst();
    return r ? toExperiment(r) : null;
  }

  async list(projectId: string): Promise<ExperimentRow[]> {
    const rows = await this.db.selectFrom('experiments').selectAll().where('project_id', '=', projectId).orderBy('created_at').orderBy('id').execute();
    return rows.map(toExperiment);
  }

  /** False when there was none. */
  async delete(projectId: string, id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('experiments').where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Whether a mission or reward exists (metrics name them; those tables belong to missions and rewards). */
  async exists(table: 'missions' | 'rewards', projectId: string, id: string): Promise<boolean> {
    const r = await sql`SELECT 1 AS one FROM ${sql.table(table)} WHERE project_id = ${projectId} AND id = ${id}`.execute(this.db);
    return r.rows.length > 0;
  }

  /**
   * First exposure of each profile to each of the segments: the earliest `entered` of its
   * membership history, or its current membership's `since` when earlier (a merge moves the
   * membership with the earlier `since` but not the merged profile's history). Profiles that
   * no longer exist (merged away) are left out: their memberships went with the survivor.
   */
  private exposureCte(projectId: string, segmentIds: readonly string[]): RawBuilder<unknown> {
    const ids = sql.join(segmentIds.map((s) => sql`${s}`));
    return sql`exposure AS (
      SELECT x.segment_id, x.profile_id, MIN(x.at) AS t FROM (
        SELECT segment_id, profile_id, at FROM membership_history WHERE project_id = ${projectId} AND kind = 'entered' AND segment_id IN (${ids})
        UNION ALL
        SELECT segment_id, profile_id, since AS at FROM memberships WHERE project_id = ${projectId} AND segment_id IN (${ids})
      ) x JOIN profiles p ON p.id = x.profile_id AND p.project_id = ${projectId}
      GROUP BY x.segment_id, x.profile_id)`;
  }

  async exposures(projectId: string, segmentIds: readonly string[]): Promise<Exposure[]> {
    if (segmentIds.length === 0) return [];
    const r = await sql<{ segment_id: string; profile_id: number | string; t: number | string }>`WITH ${this.exposureCte(projectId, segmentIds)}
      SELECT segment_id, profile_id, t FROM exposure`.execute(this.db);
    return r.rows.map((x) => ({ segmentId: x.segment_id, profileId: Number(x.profile_id), at: Number(x.t) }));
  }

  private source(projectId: string, s: ConversionSource): RawBuilder<unknown> {
    switch (s.kind) {
      case 'event':
        return s.name === null
          ? sql`SELECT profile_id, ts AS at FROM events WHERE project_id = ${projectId} AND derived = ${this.dialect.bool(false)}`
          : sql`SELECT profile_id, ts AS at FROM events WHERE project_id = ${projectId} AND name = ${s.name}`;
      case 'mission_completion': {
        const missionId = this.dialect.json(sql.ref('properties'), ['missionId']).str;
        return sql`SELECT profile_id, ts AS at FROM events WHERE project_id = ${projectId} AND name = ${'$mission_completed'} AND ${missionId} = ${s.missionId}`;
      }
      case 'mission_participation':
        return sql`SELECT profile_id, started_at AS at FROM mission_progress WHERE project_id = ${projectId} AND mission_id = ${s.missionId}`;
      case 'reward_redemption':
        return sql`SELECT profile_id, at FROM reward_redemptions WHERE project_id = ${projectId} AND reward_id = ${s.rewardId}`;
    }
  }

  /**
   * The (segment, profile) pairs that converted: a source row of the profile at or after its
   * first exposure to that segment and, when `withinMs` is given, before exposure + withinMs.
   */
  async conversions(projectId: string, segmentIds: readonly string[], source: ConversionSource, withinMs: number | null): Promise<{ segmentId: string; profileId: number }[]> {
    if (segmentIds.length === 0) return [];
    const until = withinMs === null ? sql`` : sql` AND s.at < e.t + ${withinMs}`;
    const r = await sql<{ segment_id: string; profile_id: number | string }>`WITH ${this.exposureCte(projectId, segmentIds)}
      SELECT DISTINCT e.segment_id, e.profile_id FROM exposure e
      JOIN (${this.source(projectId, source)}) s ON s.profile_id = e.profile_id AND s.at >= e.t${until}`.execute(this.db);
    return r.rows.map((x) => ({ segmentId: x.segment_id, profileId: Number(x.profile_id) }));
  }
}
