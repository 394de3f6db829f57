import type { Kysely } from 'kysely';
import type { Json } from '@strata/core';
import type { Database } from './schema.ts';
import type { SqlStore } from './sql-store.ts';
import { readJson, readJsonValue, sqlBool } from './util.ts';

/** One variant of an experience: shown to members of any of its segments (none: everyone), by priority. */
export interface ExperienceVariant {
  readonly key: string;
  readonly name: string;
  readonly payload: Json;
  readonly segmentIds: readonly string[];
  /** Lower comes first; the first variant the user qualifies for wins. */
  readonly priority: number;
}

export interface ExperienceRow {
  readonly id: string;
  readonly projectId: string;
  readonly key: string;
  readonly name: string;
  readonly description: string;
  readonly variants: readonly ExperienceVariant[];
  /** What users who match no variant get; null: the experience is not shown to them. */
  readonly defaultPayload: Json | null;
  readonly active: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
}

const toRow = (r: Database['experiences'], dialect: SqlStore['dialect']): ExperienceRow => ({
  id: r.id, projectId: r.project_id, key: r.key, name: r.name, description: r.description,
  variants: readJson<ExperienceVariant[]>(r.variants, []), defaultPayload: readJsonValue<Json | null>(dialect, r.default_payload, null),
  active: r.active === true || r.active === 1, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
});

/** Experiences of a project (see ExperienceRow); over a store or a transaction's store. */
export class ExperienceStore {
  private readonly db: Kysely<Database>;
  constructor(private readonly store: SqlStore) {
    this.db = store.db;
  }

  private values(e: ExperienceRow) {
    return {
      id: e.id, project_id: e.projectId, key: e.key, name: e.name, description: e.description,
      variants: JSON.stringify(e.variants), default_payload: e.defaultPayload === null ? null : JSON.stringify(e.defaultPayload),
      active: sqlBool(this.store.dialect, e.active), created_at: e.createdAt, updated_at: e.updatedAt,
    };
  }

  async insert(e: ExperienceRow): Promise<void> {
    await this.db.insertInto('experiences').values(this.values(e)).execute();
  }

  async update(e: ExperienceRow): Promise<void> {
    const { id: _id, project_id: _p, created_at: _c, ...rest } = this.values(e);
    await this.db.updateTable('experiences').set(rest).where('project_id', '=', e.projectId).where('id', '=', e.id).execute();
  }

  async delete(projectId: string, id: string): Promise<void> {
    await this.db.deleteFrom('experiences').where('project_id', '=', projectId).where('id', '=', id).execute();
  }

  async get(projectId: string, id: string): Promise<ExperienceRow | null> {
    const r = await this.db.selectFrom('experiences').selectAll().where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    return r ? toRow(r, this.store.dialect) : null;
  }

  async list(projectId: string): Promise<ExperienceRow[]> {
    return (await this.db.selectFrom('experiences').selectAll().where('project_id', '=', projectId).orderBy('key').execute()).map((r) => toRow(r, this.store.dialect));
  }
}
