import { sql, type RawBuilder, type SqlBool } from 'kysely';
import type { Json, JsonObject, SqlDialect } from '@strata/core';
import type { Database } from './schema.ts';
import type { StoreHandle } from './store-handle.ts';
import type { SegmentRow } from './types.ts';
import { chunks, readJson } from './util.ts';

/** Include and exclude lists (profile ids) by segment. */
export type ManualLists = Map<string, { include: Set<number>; exclude: Set<number> }>;

/**
 * Segment definitions and their manual lists (profiles added by hand, and those kept out), and
 * the SQL predicate of a segment's members that both make.
 */
export class SegmentStore {
  constructor(private readonly store: StoreHandle & { readonly sqlDialect: SqlDialect }) {}

  async insert(s: SegmentRow): Promise<void> {
    await this.store.db.insertInto('segments').values({
      id: s.id, project_id: s.projectId, name: s.name, description: s.description,
      condition: s.condition === null ? null : JSON.stringify(s.condition), template: s.template,
      params: s.params === null ? null : JSON.stringify(s.params), created_at: s.createdAt, updated_at: s.updatedAt,
    }).execute();
  }

  async update(s: SegmentRow): Promise<void> {
    await this.store.db.updateTable('segments').set({
      name: s.name, description: s.description, condition: s.condition === null ? null : JSON.stringify(s.condition),
      template: s.template, params: s.params === null ? null : JSON.stringify(s.params), updated_at: s.updatedAt,
    }).where('project_id', '=', s.projectId).where('id', '=', s.id).execute();
  }

  async delete(projectId: string, id: string): Promise<void> {
    for (const t of ['memberships', 'segment_includes', 'segment_excludes'] as const) {
      await this.store.db.deleteFrom(t).where('project_id', '=', projectId).where('segment_id', '=', id).execute();
    }
    await this.store.db.deleteFrom('segments').where('project_id', '=', projectId).where('id', '=', id).execute();
  }

  async get(projectId: string, id: string): Promise<SegmentRow | null> {
    const r = await this.store.db.selectFrom('segments').selectAll().where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    return r ? toSegment(r) : null;
  }

  async list(projectId: string): Promise<SegmentRow[]> {
    const rows = await this.store.db.selectFrom('segments').selectAll().where('project_id', '=', projectId).orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => toSegment(r));
  }

  /** Manual include and exclude entries that concern the given profiles, by segment. */
  async manualListsFor(projectId: string, profileIds: readonly number[]): Promise<ManualLists> {
    return this.manualLists(projectId, chunks([...profileIds]));
  }

  /** Every manual include and exclude of a project, by segment. */
  async allManualLists(projectId: string): Promise<ManualLists> {
    return this.manualLists(projectId, [null]);
  }

  /** Include and exclude lists by segment, of the profiles in `groups` (null: every profile), read a group at a time. */
  private async manualLists(projectId: string, groups: readonly (readonly number[] | null)[]): Promise<ManualLists> {
    const out: ManualLists = new Map();
    for (const ids of groups) {
      for (const [table, list] of [['segment_includes', 'include'], ['segment_excludes', 'exclude']] as const) {
        let q = this.store.db.selectFrom(table).select(['segment_id', 'profile_id']).where('project_id', '=', projectId);
        if (ids) q = q.where('profile_id', 'in', ids);
        for (const r of await q.execute()) {
          let v = out.get(r.segment_id);
          if (!v) out.set(r.segment_id, (v = { include: new Set(), exclude: new Set() }));
          v[list].add(Number(r.profile_id));
        }
      }
    }
    return out;
  }

  /** Replaces a segment's include and exclude lists. */
  async replaceManual(projectId: string, segmentId: string, include: readonly number[], exclude: readonly number[]): Promise<void> {
    for (const t of ['segment_includes', 'segment_excludes'] as const) {
      await this.store.db.deleteFrom(t).where('project_id', '=', projectId).where('segment_id', '=', segmentId).execute();
    }
    const ex = new Set(exclude);
    for (const c of chunks(include.filter((id) => !ex.has(id)))) {
      await this.store.db.insertInto('segment_includes').values(c.map((profile_id) => ({ project_id: projectId, segment_id: segmentId, profile_id }))).onConflict((oc) => oc.doNothing()).execute();
    }
    for (const c of chunks([...ex])) {
      await this.store.db.insertInto('segment_excludes').values(c.map((profile_id) => ({ project_id: projectId, segment_id: segmentId, profile_id }))).onConflict((oc) => oc.doNothing()).execute();
    }
  }

  /** userIds (or anonymousIds where there is none) of a segment's include and exclude lists. */
  async manualIds(projectId: string, segmentId: string): Promise<{ include: string[]; exclude: string[] }> {
    const list = async (table: 'segment_includes' | 'segment_excludes') => {
      const rows = await sql<{ user_id: string | null; anonymous_id: string | null }>`SELECT p.user_id, p.anonymous_id
        FROM ${sql.table(table)} m JOIN profiles p ON p.id = m.profile_id
        WHERE m.project_id = ${projectId} AND m.segment_id = ${segmentId} ORDER BY m.profile_id`.execute(this.store.db);
      return rows.rows.map((r) => r.user_id ?? r.anonymous_id).filter((x): x is string => x !== null);
    };
    return { include: await list('segment_includes'), exclude: await list('segment_excludes') };
  }

  /** A segment's include and exclude lists as profile ids. */
  async manualProfileIds(projectId: string, segmentId: string): Promise<{ include: number[]; exclude: number[] }> {
    const ids = async (table: 'segment_includes' | 'segment_excludes') =>
      (await this.store.db.selectFrom(table).select('profile_id').where('project_id', '=', projectId).where('segment_id', '=', segmentId).execute()).map((r) => Number(r.profile_id));
    return { include: await ids('segment_includes'), exclude: await ids('segment_excludes') };
  }

  /** Whether a profile is on a segment's include list. */
  async included(projectId: string, segmentId: string, profileId: number): Promise<boolean> {
    return (await this.store.db.selectFrom('segment_includes').select('profile_id').where('project_id', '=', projectId)
      .where('segment_id', '=', segmentId).where('profile_id', '=', profileId).executeTakeFirst()) !== undefined;
  }

  /** Adds profiles to a segment's include list (and takes them off its exclude list). */
  async include(projectId: string, segmentId: string, profileIds: readonly number[]): Promise<void> {
    for (const c of chunks([...profileIds])) {
      await this.store.db.insertInto('segment_includes').values(c.map((profile_id) => ({ project_id: projectId, segment_id: segmentId, profile_id })))
        .onConflict((oc) => oc.doNothing()).execute();
      await this.store.db.deleteFrom('segment_excludes').where('project_id', '=', projectId).where('segment_id', '=', segmentId).where('profile_id', 'in', c).execute();
    }
  }

  /** Takes a profile off a segment's include list; when `exclude`, also excludes it. */
  async removeManual(projectId: string, segmentId: string, profileId: number, exclude: boolean): Promise<void> {
    await this.store.db.deleteFrom('segment_includes').where('project_id', '=', projectId).where('segment_id', '=', segmentId).where('profile_id', '=', profileId).execute();
    if (exclude) {
      await this.store.db.insertInto('segment_excludes').values({ project_id: projectId, segment_id: segmentId, profile_id: profileId })
        .onConflict((oc) => oc.doNothing()).execute();
    }
  }

  /** The members predicate of a segment over `profiles p`: (condition ∪ include) − exclude. */
  memberPredicate(projectId: string, segmentId: string, condition: RawBuilder<SqlBool> | null): RawBuilder<SqlBool> {
    const cond = condition ?? sql<SqlBool>`${this.store.sqlDialect.false}`;
    return sql<SqlBool>`((${cond} OR p.id IN (SELECT i.profile_id FROM segment_includes i WHERE i.project_id = ${projectId} AND i.segment_id = ${segmentId}))
      AND p.id NOT IN (SELECT x.profile_id FROM segment_excludes x WHERE x.project_id = ${projectId} AND x.segment_id = ${segmentId}))`;
  }
}

function toSegment(r: Database['segments']): SegmentRow {
  return {
    id: r.id, projectId: r.project_id, name: r.name, description: r.description, condition: readJson<Json | null>(r.condition, null),
    template: r.template, params: readJson<JsonObject | null>(r.params, null), createdAt: r.created_at, updatedAt: r.updated_at,
  };
}
