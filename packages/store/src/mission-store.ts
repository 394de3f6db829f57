import { sql, type Kysely, type Selectable } from 'kysely';
import type { EventRecord, Json, JsonObject } from '@strata/core';
import type { Database } from './schema.ts';
import type { StoreHandle } from './store-handle.ts';
import { chunks, readJson, sqlBool } from './util.ts';

/** A mission (quest). Times are epoch milliseconds. */
export interface MissionRow {
  readonly projectId: string;
  readonly id: string;
  readonly name: string;
  readonly description: string;
  /** Members of any of these segments qualify; empty: everyone. */
  readonly segmentIds: readonly string[];
  readonly active: boolean;
  /** Counting starts here (inclusive); null: at creation. */
  readonly startsAt: number | null;
  /** Counting ends here (exclusive); null: no end. */
  readonly endsAt: number | null;
  /** The goal as the admin wrote it (validated by the engine's MissionService). */
  readonly goal: Json;
  readonly points: number;
  readonly repeatable: boolean;
  /** Repeatable missions: the wait after a completion before the next attempt counts events. */
  readonly cooldownMs: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** One user's progress on one mission; a row exists once the user has taken part (a counted event). */
export interface ProgressRow {
  readonly projectId: string;
  readonly missionId: string;
  readonly profileId: number;
  /** The user's start: the time of their first counted event. */
  readonly startedAt: number;
  /** Progress of the current attempt (count, distinct days, streak days or sum). */
  readonly progress: number;
  readonly completions: number;
  /** Event time of the last completion. */
  readonly lastCompletedAt: number | null;
  readonly updatedAt: number;
  /**
   * The start of the current attempt (the user's start for the first): from here the user keeps
   * the mission whatever their segments. Null: a repeatable mission's next attempt has not
   * begun, so the user must qualify again.
   */
  readonly attemptAt: number | null;
}

/** A progress row with the user's ids (the per-mission progress list). */
export interface ProgressMember extends ProgressRow {
  readonly userId: string | null;
  readonly anonymousId: string | null;
}

/** One completion: `ref` is `mission:<missionId>:<profileId>:<n>`, unique per project. */
export interface CompletionRow {
  readonly ref: string;
  readonly missionId: string;
  readonly profileId: number;
  readonly n: number;
  readonly at: number;
  readonly points: number;
}

const bool = (v: unknown) => v === true || v === 1;
const numOrNull = (v: unknown) => (v === null || v === undefined ? null : Number(v));

const toMission = (r: Selectable<Database['missions']>): MissionRow => ({
  projectId: r.project_id, id: r.id, name: r.name, description: r.description, segmentIds: readJson<string[]>(r.segment_ids, []),
  active: bool(r.active), startsAt: numOrNull(r.starts_at), endsAt: numOrNull(r.ends_at), goal: readJson<Json>(r.goal, null),
  points: Number(r.points), repeatable: bool(r.repeatable), cooldownMs: Number(r.cooldown_ms), createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
});

const toProgress = (r: Selectable<Database['mission_progress']>): ProgressRow => ({
  projectId: r.project_id, missionId: r.mission_id, profileId: Number(r.profile_id), startedAt: Number(r.started_at), progress: Number(r.progress),
  completions: Number(r.completions), lastCompletedAt: numOrNull(r.last_completed_at), updatedAt: Number(r.updated_at), attemptAt: numOrNull(r.attempt_at),
});

/**
 * Missions, each user's progress (`mission_progress`, which experiment metrics read too) and
 * the completion log (`mission_completions`, one row per completion, keyed by the same ref as
 * the points it awarded: a second insert of a ref is refused, so a completion is recorded
 * once however often its events are processed). Construct it over a transaction's store
 * (`new MissionStore(tx)`) to write with the rest of that transaction.
 */
export class MissionStore {
  private readonly db: Kysely<Database>;
  private readonly dialect: StoreHandle['dialect'];
  constructor(store: StoreHandle) {
    this.db = store.db;
    this.dialect = store.dialect;
  }

  // ---------------------------------------------------------------- missions

  private values(m: MissionRow) {
    return {
      project_id: m.projectId, id: m.id, name: m.name, description: m.description, segment_ids: JSON.stringify(m.segmentIds),
      active: sqlBool(this.dialect, m.active), starts_at: m.startsAt, ends_at: m.endsAt, goal: JSON.stringify(m.goal), points: m.points,
      repeatable: sqlBool(this.dialect, m.repeatable), cooldown_ms: m.cooldownMs, created_at: m.createdAt, updated_at: m.updatedAt,
    };
  }

  async insert(m: MissionRow): Promise<void> {
    await this.db.insertInto('missions').values(this.values(m)).execute();
  }

  async update(m: MissionRow): Promise<void> {
    const { project_id: _p, id: _i, created_at: _c, ...set } = this.values(m);
    await this.db.updateTable('missions').set(set).where('project_id', '=', m.projectId).where('id', '=', m.id).execute();
  }

  /** Deletes a mission with its progress and completion log (points awarded stay in the ledger). */
  async delete(projectId: string, id: string): Promise<void> {
    for (const table of ['mission_progress', 'mission_completions'] as const) {
      await this.db.deleteFrom(table).where('project_id', '=', projectId).where('mission_id', '=', id).execute();
    }
    await this.db.deleteFrom('missions').where('project_id', '=', projectId).where('id', '=', id).execute();
  }

  async get(projectId: string, id: string): Promise<MissionRow | null> {
    const r = await this.db.selectFrom('missions').selectAll().where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    return r ? toMission(r) : null;
  }

  async list(projectId: string): Promise<MissionRow[]> {
    const rows = await this.db.selectFrom('missions').selectAll().where('project_id', '=', projectId).orderBy('created_at').orderBy('id').execute();
    return rows.map(toMission);
  }

  // ---------------------------------------------------------------- progress

  /** Progress rows of some profiles on some missions. */
  async progressOf(projectId: string, missionIds: readonly string[], profileIds: readonly number[]): Promise<ProgressRow[]> {
    if (missionIds.length === 0 || profileIds.length === 0) return [];
    const out: ProgressRow[] = [];
    for (const c of chunks([...profileIds])) {
      const rows = await this.db.selectFrom('mission_progress').selectAll().where('project_id', '=', projectId)
        .where('mission_id', 'in', [...missionIds]).where('profile_id', 'in', c).execute();
      for (const r of rows) out.push(toProgress(r));
    }
    return out;
  }

  /** Every progress row of one profile. */
  async progressOfProfile(projectId: string, profileId: number): Promise<ProgressRow[]> {
    const rows = await this.db.selectFrom('mission_progress').selectAll().where('project_id', '=', projectId).where('profile_id', '=', profileId).execute();
    return rows.map(toProgress);
  }

  /** Inserts or replaces progress rows (`startedAt` is kept from the first insert). */
  async saveProgress(rows: readonly ProgressRow[]): Promise<void> {
    for (const c of chunks([...rows], 200)) {
      await this.db.insertInto('mission_progress').values(c.map((r) => ({
        project_id: r.projectId, mission_id: r.missionId, profile_id: r.profileId, started_at: r.startedAt, progress: r.progress,
        completions: r.completions, last_completed_at: r.lastCompletedAt, updated_at: r.updatedAt, attempt_at: r.attemptAt,
      }))).onConflict((oc) => oc.columns(['project_id', 'mission_id', 'profile_id']).doUpdateSet((eb) => ({
        progress: eb.ref('excluded.progress'), completions: eb.ref('excluded.completions'), attempt_at: eb.ref('excluded.attempt_at'),
        last_completed_at: eb.ref('excluded.last_completed_at'), updated_at: eb.ref('excluded.updated_at'),
      }))).execute();
    }
  }

  /** A mission's progress rows in profile id order after `afterProfileId`, with the users' ids. */
  async listProgress(projectId: string, missionId: string, limit: number, afterProfileId: number | null): Promise<ProgressMember[]> {
    let q = this.db.selectFrom('mission_progress as m').innerJoin('profiles as p', (j) => j.onRef('p.id', '=', 'm.profile_id').onRef('p.project_id', '=', 'm.project_id'))
      .selectAll('m').select(['p.user_id', 'p.anonymous_id']).where('m.project_id', '=', projectId).where('m.mission_id', '=', missionId);
    if (afterProfileId !== null) q = q.where('m.profile_id', '>', afterProfileId);
    const rows = await q.orderBy('m.profile_id').limit(limit).execute();
    return rows.map((r) => ({ ...toProgress(r), userId: r.user_id, anonymousId: r.anonymous_id }));
  }

  // ---------------------------------------------------------------- completions

  /** Records a completion; false when its ref is recorded already (nothing was written). */
  async recordCompletion(projectId: string, c: CompletionRow): Promise<boolean> {
    const r = await this.db.insertInto('mission_completions').values({
      project_id: projectId, ref: c.ref, mission_id: c.missionId, profile_id: c.profileId, n: c.n, at: c.at, points: c.points,
    }).onConflict((oc) => oc.columns(['project_id', 'ref']).doNothing()).returning('ref').execute();
    return r.length > 0;
  }

  async completionsOf(projectId: string, missionId: string, profileId: number): Promise<CompletionRow[]> {
    const rows = await this.db.selectFrom('mission_completions').selectAll().where('project_id', '=', projectId).where('mission_id', '=', missionId)
      .where('profile_id', '=', profileId).orderBy('at').orderBy('n').execute();
    return rows.map((r) => ({ ref: r.ref, missionId: r.mission_id, profileId: Number(r.profile_id), n: Number(r.n), at: Number(r.at), points: Number(r.points) }));
  }

  // ---------------------------------------------------------------- visits

  /** The start of the visit holding `at`: the time of the profile's latest `$session` at or before it; null without one. */
  async visitStart(projectId: string, profileId: number, at: number): Promise<number | null> {
    const r = await this.db.selectFrom('events').select((eb) => eb.fn.max('ts').as('start')).where('project_id', '=', projectId)
      .where('profile_id', '=', profileId).where('name', '=', '$session').where('ts', '<=', at).executeTakeFirst();
    return r?.start === null || r?.start === undefined ? null : Number(r.start);
  }

  /** Which of `segmentIds` the profile was in just before `at`, by the membership history (its last change of each before then was an entry). */
  async segmentsBefore(projectId: string, profileId: number, segmentIds: readonly string[], at: number): Promise<Set<string>> {
    const out = new Set<string>();
    if (segmentIds.length === 0) return out;
    const rows = await this.db.selectFrom('membership_history').select(['segment_id', 'kind']).where('project_id', '=', projectId)
      .where('profile_id', '=', profileId).where('segment_id', 'in', [...new Set(segmentIds)]).where('at', '<', at).orderBy('at', 'desc').orderBy('id', 'desc').execute();
    const seen = new Set<string>();
    for (const r of rows) {
      if (seen.has(r.segment_id)) continue;
      seen.add(r.segment_id);
      if (r.kind === 'entered') out.add(r.segment_id);
    }
    return out;
  }

  // ---------------------------------------------------------------- events

  /**
   * Events of some profiles, each at or after its own instant (`from`: profile id → instant),
   * whose name is in `names` (or, with `nonDerived`, any event a user caused), by profile, in
   * time order. Contexts are rebuilt only when `context`.
   */
  async events(projectId: string, from: ReadonlyMap<number, number>, filter: { names: readonly string[]; nonDerived: boolean; context: boolean }): Promise<Map<number, EventRecord[]>> {
    const out = new Map<number, EventRecord[]>();
    const names = [...filter.names];
    if (from.size === 0 || (names.length === 0 && !filter.nonDerived)) return out;
    // Profiles in time order of their instants, so that each chunk's lower bound reads little beyond what its profiles need.
    const ids = [...from.keys()].sort((a, b) => from.get(a)! - from.get(b)!);
    for (const c of chunks(ids, 200)) {
      const lo = from.get(c[0]!)!;
      let q = this.db.selectFrom('events as e').where('e.project_id', '=', projectId).where('e.profile_id', 'in', c).where('e.ts', '>=', lo);
      if (filter.nonDerived) q = q.where((eb) => (names.length ? eb.or([eb('e.derived', '=', sqlBool(this.dialect, false)), eb('e.name', 'in', names)]) : eb('e.derived', '=', sqlBool(this.dialect, false))));
      else q = q.where('e.name', 'in', names);
      const rows = filter.context
        ? await q.innerJoin('contexts as c', 'c.id', 'e.context_id').select(['e.profile_id', 'e.name', 'e.ts', 'e.properties', 'e.context_own', 'c.json']).orderBy('e.ts').orderBy('e.id').execute()
        : await q.select(['e.profile_id', 'e.name', 'e.ts', 'e.properties']).orderBy('e.ts').orderBy('e.id').execute();
      for (const r of rows as { profile_id: number; name: string; ts: number; properties: unknown; context_own?: unknown; json?: unknown }[]) {
        const pid = Number(r.profile_id);
        if (Number(r.ts) < from.get(pid)!) continue;
        let list = out.get(pid);
        if (!list) out.set(pid, (list = []));
        const context: JsonObject = filter.context ? { ...readJson<JsonObject>(r.json, {}), ...readJson<JsonObject>(r.context_own, {}) } : {};
        list.push({ name: r.name, timestamp: Number(r.ts), properties: readJson<JsonObject>(r.properties, {}), context });
      }
    }
    return out;
  }
}

/**
 * Moves mission progress and completions of a merged-away profile to the surviving one
 * (ingest's merge, `IngestStore.merge`, calls it). Where both took part in a mission, the row keeps the larger
 * progress and completions, the earlier start and the later completion.
 */
export async function mergeMissions(db: Kysely<Database>, projectId: string, from: number, into: number): Promise<void> {
  await sql`INSERT INTO mission_progress (project_id, mission_id, profile_id, started_at, progress, completions, last_completed_at, updated_at, attempt_at)
    SELECT project_id, mission_id, ${into}, started_at, progress, completions, last_completed_at, updated_at, attempt_at
    FROM mission_progress WHERE project_id = ${projectId} AND profile_id = ${from}
    ON CONFLICT (project_id, mission_id, profile_id) DO UPDATE SET
      started_at = CASE WHEN excluded.started_at < mission_progress.started_at THEN excluded.started_at ELSE mission_progress.started_at END,
      progress = CASE WHEN excluded.progress > mission_progress.progress THEN excluded.progress ELSE mission_progress.progress END,
      completions = CASE WHEN excluded.completions > mission_progress.completions THEN excluded.completions ELSE mission_progress.completions END,
      last_completed_at = CASE WHEN mission_progress.last_completed_at IS NULL OR excluded.last_completed_at > mission_progress.last_completed_at
        THEN excluded.last_completed_at ELSE mission_progress.last_completed_at END,
      attempt_at = CASE WHEN mission_progress.attempt_at IS NULL OR excluded.attempt_at < mission_progress.attempt_at
        THEN excluded.attempt_at ELSE mission_progress.attempt_at END,
      updated_at = CASE WHEN excluded.updated_at > mission_progress.updated_at THEN excluded.updated_at ELSE mission_progress.updated_at END`.execute(db);
  await db.deleteFrom('mission_progress').where('project_id', '=', projectId).where('profile_id', '=', from).execute();
  // Completion refs name the profile that completed, so they stay unique after the move.
  await db.updateTable('mission_completions').set({ profile_id: into }).where('project_id', '=', projectId).where('profile_id', '=', from).execute();
}
