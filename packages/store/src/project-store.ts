import { sql } from 'kysely';
import { KeyStore, newKeyValue } from './key-store.ts';
import { STARTUP_LABEL } from './migrations.ts';
import type { Database } from './schema.ts';
import type { StoreHandle } from './store-handle.ts';
import type { Project, ProjectSettings } from './types.ts';
import { readJson } from './util.ts';
import type { ProfileRecords } from './profile-records.ts';
import type { VisitTimes } from './visit-store.ts';

/** Every table that holds a project's data (keyed by project_id): what deleting a project empties. */
export const PROJECT_TABLES = [
  'events', 'contexts', 'profile_keys', 'memberships', 'membership_history', 'segment_daily', 'segment_includes', 'segment_excludes', 'segments',
  'ingest_rejections', 'engine_state', 'webhook_deliveries', 'webhooks', 'destinations', 'points_ledger', 'points_balances',
  'mission_completions', 'mission_progress', 'missions', 'reward_codes', 'reward_redemptions', 'rewards', 'experiences', 'experiments',
  'imports', 'import_bad_rows', 'suppressions', 'audit_log', 'event_log', 'definition_versions', 'profile_moves', 'segment_changes', 'profiles',
] as const satisfies readonly Exclude<keyof Database, 'projects' | 'api_keys'>[];

/** Projects: their rows and settings, the engine's clock per project, and a project's deletion. */
export class ProjectStore {
  constructor(private readonly store: StoreHandle & { readonly visitTimes: VisitTimes | null; readonly profileRecords: ProfileRecords | null }) {}

  /**
   * A project with its first admin token and write key (labelled as the start-up keys: the
   * default project's follow STRATA_ADMIN_TOKEN / STRATA_WRITE_KEY), in the caller's transaction.
   */
  async create(p: { id: string; name: string; writeKey?: string; adminToken?: string; now: number }): Promise<{ project: Project; adminToken: string; writeKey: string }> {
    const adminToken = p.adminToken ?? newKeyValue('admin');
    const writeKey = p.writeKey ?? newKeyValue('write');
    await this.store.db.insertInto('projects').values({ id: p.id, name: p.name, settings: JSON.stringify({}), created_at: p.now }).execute();
    const keys = new KeyStore(this.store.db);
    await keys.insert({ projectId: p.id, kind: 'admin', label: STARTUP_LABEL.admin, value: adminToken, now: p.now });
    await keys.insert({ projectId: p.id, kind: 'write', label: STARTUP_LABEL.write, value: writeKey, now: p.now });
    return { project: { id: p.id, name: p.name, createdAt: p.now, settings: {} }, adminToken, writeKey };
  }

  async setSettings(id: string, settings: ProjectSettings): Promise<void> {
    await this.store.db.updateTable('projects').set({ settings: JSON.stringify(settings) }).where('id', '=', id).execute();
  }

  async get(id: string): Promise<Project | null> {
    const r = await this.store.db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toProject(r) : null;
  }

  async list(): Promise<Project[]> {
    return (await this.store.db.selectFrom('projects').selectAll().orderBy('created_at').orderBy('id').execute()).map(toProject);
  }

  async ids(): Promise<string[]> {
    return (await this.store.db.selectFrom('projects').select('id').orderBy('id').execute()).map((r) => r.id);
  }

  /** In a transaction on PostgreSQL, takes the project's row until it ends (changes of keys take turns); SQLite writers always do. */
  async lock(id: string): Promise<void> {
    if (this.store.dialect === 'postgres') await sql`SELECT id FROM projects WHERE id = ${id} FOR UPDATE`.execute(this.store.db);
  }

  /**
   * Deletes a project and everything it holds, in the caller's transaction: every table keyed
   * by project (PROJECT_TABLES; a test checks that no table with a project_id column is missing),
   * its keys, then the project. Returns the rows deleted, table by table (only those with any).
   */
  async deleteData(projectId: string): Promise<Record<string, number>> {
    this.store.visitTimes?.clear();
    this.store.profileRecords?.forgetProject(projectId);
    const out: Record<string, number> = {};
    for (const table of [...PROJECT_TABLES, 'api_keys', 'projects'] as const) {
      const r = await this.store.db.deleteFrom(table).where(table === 'projects' ? 'id' : 'project_id', '=', projectId).executeTakeFirst();
      const n = Number(r.numDeletedRows);
      if (n > 0) out[table] = n;
    }
    return out;
  }

  /**
   * Where the project's definitions stand: its creation instant and its definitions counter
   * (definition_versions; 0 until the first change), in one read. The instant tells a project
   * deleted and made again under the same id (its counter starts again) from the one before.
   * null: no such project.
   */
  async definitionsStamp(projectId: string): Promise<string | null> {
    const r = await this.store.db.selectFrom('projects as p').leftJoin('definition_versions as v', 'v.project_id', 'p.id')
      .select(['p.created_at', 'v.version']).where('p.id', '=', projectId).executeTakeFirst();
    return r ? `${Number(r.created_at)}:${Number(r.version ?? 0)}` : null;
  }

  /** Every project's definitions counter (a project whose definitions never changed is absent). */
  async definitionVersions(): Promise<Map<string, number>> {
    const rows = await this.store.db.selectFrom('definition_versions').select(['project_id', 'version']).execute();
    return new Map(rows.map((r) => [r.project_id, Number(r.version)]));
  }

  /** Moves the project's definitions counter on; called inside the transaction of the change. */
  async bumpDefinitions(projectId: string): Promise<void> {
    await this.store.db.insertInto('definition_versions').values({ project_id: projectId, version: 1 })
      .onConflict((oc) => oc.column('project_id').doUpdateSet((eb) => ({ version: eb('definition_versions.version', '+', 1) }))).execute();
  }

  /** The instant up to which the engine applied everything for a project (null: never ran). */
  async engineClock(projectId: string): Promise<number | null> {
    const r = await this.store.db.selectFrom('engine_state').select('clock').where('project_id', '=', projectId).executeTakeFirst();
    return r ? Number(r.clock) : null;
  }

  async setEngineClock(projectId: string, clock: number): Promise<void> {
    await this.store.db.insertInto('engine_state').values({ project_id: projectId, clock })
      // Never back: partition workers each write the clock of the profiles they hold, and a restart reconciles from the latest.
      .onConflict((oc) => oc.column('project_id').doUpdateSet({ clock: sql<number>`CASE WHEN excluded.clock > engine_state.clock THEN excluded.clock ELSE engine_state.clock END` })).execute();
  }
}

function toProject(r: Database['projects']): Project {
  return { id: r.id, name: r.name, createdAt: Number(r.created_at), settings: readJson<ProjectSettings>(r.settings, {}) };
}
