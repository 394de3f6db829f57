import { sql, type RawBuilder, type SqlBool } from 'kysely';
import type { EventRecord, JsonObject, SqlDialect } from '@strata/core';
import { isDerivedEvent } from '@strata/core';
import type { EventStore, PendingEvent } from './event-store.ts';
import type { Database } from './schema.ts';
import type { StoreHandle } from './store-handle.ts';
import type { EngineProfile, ProfileIds, ProfileWithEvents, StoredProfile } from './types.ts';
import { chunks, readJson, sqlBool } from './util.ts';
import type { ProfileRecords } from './profile-records.ts';
import type { VisitTimes } from './visit-store.ts';

export type ProfileRow = Database['profiles'] & { id: number };

/** What the profile store needs: the handle, the SQL dialect hooks, and the kept event times a new profile starts. */
export interface ProfileHandle extends StoreHandle {
  readonly sqlDialect: SqlDialect;
  readonly visitTimes: VisitTimes | null;
  readonly profileRecords: ProfileRecords | null;
}

/** A profile's fields as written when it is created outside ingest. */
export interface NewProfile {
  userId: string | null;
  anonymousId: string | null;
  traits: JsonObject;
  context: JsonObject;
  labels: readonly string[];
  firstSeen: number | null;
  lastSeen: number | null;
}

const EMPTY: NewProfile = { userId: null, anonymousId: null, traits: {}, context: {}, labels: [], firstSeen: null, lastSeen: null };

/**
 * Profiles and their identity keys (a userId 'u', an anonymousId 'a'): reads by id or key, the
 * predicate queries of previews and recomputation, and the writes outside ingest's identity
 * resolution (known profiles, labels, prepared data).
 */
export class ProfileStore {
  constructor(private readonly store: ProfileHandle, private readonly events: EventStore) {}

  private async insertRow(projectId: string, p: NewProfile, now: number): Promise<number> {
    const r = await this.store.db.insertInto('profiles').values({
      project_id: projectId, user_id: p.userId, anonymous_id: p.anonymousId, traits: JSON.stringify(p.traits), traits_at: '{}', context: JSON.stringify(p.context),
      context_at: null, labels: JSON.stringify(p.labels), first_seen: p.firstSeen, last_seen: p.lastSeen, created_at: now, updated_at: now,
    }).returning('id').executeTakeFirstOrThrow();
    return Number(r.id);
  }

  /** A new profile with no traits and no events (its keys are the caller's to write). */
  async create(projectId: string, userId: string | null, anonymousId: string | null, now: number): Promise<number> {
    const id = await this.insertRow(projectId, { ...EMPTY, userId, anonymousId }, now);
    // A new profile has no events yet: its kept times start empty (replacing any of a deleted profile whose id this reuses).
    this.store.visitTimes?.put(projectId, id, []);
    return id;
  }

  /**
   * Writes a profile and its events as given (no identity resolution, no visit derivation):
   * for imports of prepared data and for tests that load fixture data.
   */
  async insert(projectId: string, p: NewProfile, events: readonly EventRecord[], now: number): Promise<number> {
    const id = await this.insertRow(projectId, p, now);
    for (const [kind, key] of [['u', p.userId], ['a', p.anonymousId]] as const) {
      if (key === null) continue;
      // The first profile to claim an id keeps it (prepared data may repeat ids).
      await this.store.db.insertInto('profile_keys').values({ project_id: projectId, kind, key, profile_id: id }).onConflict((oc) => oc.doNothing()).execute();
    }
    const rows: PendingEvent[] = events.map((e) => ({
      project_id: projectId, profile_id: id, message_id: null, type: 'track', name: e.name, derived: sqlBool(this.store.dialect, isDerivedEvent(e.name)),
      properties: JSON.stringify(e.properties), context: e.context, ts: e.timestamp, received_at: now,
    }));
    await this.events.insert(rows);
    return id;
  }

  /**
   * Profile ids for ids given by a person (a userId, else an anonymousId, as `find`),
   * creating known profiles (no events) for the ids not seen at all.
   */
  async ensureKnown(projectId: string, userIds: readonly string[], now: number): Promise<Map<string, number>> {
    const keys = await this.idsByKey(projectId, userIds);
    for (const u of userIds) {
      if (keys.has(u)) continue;
      const id = await this.create(projectId, u, null, now);
      await this.store.db.insertInto('profile_keys').values({ project_id: projectId, kind: 'u', key: u, profile_id: id })
        .onConflict((oc) => oc.doNothing()).execute();
      keys.set(u, id);
    }
    return keys;
  }

  async updateLabels(projectId: string, profileId: number, add: readonly string[], remove: readonly string[], now: number): Promise<string[]> {
    const { db } = this.store;
    const r = await db.selectFrom('profiles').select('labels').where('project_id', '=', projectId).where('id', '=', profileId).executeTakeFirst();
    if (!r) return [];
    const labels = new Set(readJson<string[]>(r.labels, []));
    for (const l of add) labels.add(l);
    for (const l of remove) labels.delete(l);
    const out = [...labels].sort();
    await db.updateTable('profiles').set({ labels: JSON.stringify(out), updated_at: now }).where('project_id', '=', projectId).where('id', '=', profileId).execute();
    this.store.profileRecords?.forget(projectId, profileId);
    return out;
  }

  /** A profile by userId, else by anonymousId. */
  async find(projectId: string, id: string): Promise<StoredProfile | null> {
    const key = await this.key(projectId, id);
    if (!key) return null;
    const [p] = await this.get(projectId, [key.profileId]);
    return p ?? null;
  }

  /**
   * Who an id names (as `find`: a userId, else an anonymousId) and when they were last seen, in one
   * query: what targeting needs of a profile where the engine's copy is not at hand (the api role).
   */
  async idsOf(projectId: string, id: string): Promise<ProfileIds | null> {
    const r = await this.store.db.selectFrom('profile_keys as k').innerJoin('profiles as p', (j) => j.onRef('p.id', '=', 'k.profile_id').onRef('p.project_id', '=', 'k.project_id'))
      .select(['p.id', 'p.user_id', 'p.anonymous_id', 'p.last_seen']).where('k.project_id', '=', projectId)
      .where('k.kind', 'in', ['u', 'a']).where('k.key', '=', id).orderBy('k.kind', 'desc').executeTakeFirst();
    return r ? { id: Number(r.id), userId: r.user_id, anonymousId: r.anonymous_id, lastSeen: r.last_seen == null ? null : Number(r.last_seen) } : null;
  }

  /** The profile an id names — as a userId ('u'), else as an anonymousId ('a') — without reading the profile. */
  async key(projectId: string, id: string, lock = false): Promise<{ profileId: number; kind: 'u' | 'a' } | null> {
    // `kind IN (…)` lets both stores look the key up by the primary key (project_id, kind, key)
    // instead of scanning the project's keys; a userId ('u') wins over an anonymousId ('a').
    let q = this.store.db.selectFrom('profile_keys').select(['profile_id', 'kind']).where('project_id', '=', projectId)
      .where('kind', 'in', ['u', 'a']).where('key', '=', id).orderBy('kind', 'desc');
    // `lock` (in a transaction): on PostgreSQL the key rows are held until it ends, so that a merge
    // that moves them to another profile (a worker's, beside this process) waits for it, or went
    // first and is read here. SQLite has one writer: nothing can move them meanwhile.
    if (lock && this.store.dialect === 'postgres') q = q.forShare();
    const r = await q.executeTakeFirst();
    return r ? { profileId: Number(r.profile_id), kind: r.kind as 'u' | 'a' } : null;
  }

  /** Profile ids of the given ids that name a profile (a userId, else an anonymousId, as `find`); unseen ids are absent. */
  async idsByKey(projectId: string, ids: readonly string[]): Promise<Map<string, number>> {
    const keys = await this.keysOfKind(projectId, 'u', ids);
    for (const [key, id] of await this.keysOfKind(projectId, 'a', [...new Set(ids)].filter((u) => !keys.has(u)))) keys.set(key, id);
    return keys;
  }

  /**
   * The profile each given userId ('u') and anonymousId ('a') names, keyed `u:<key>` and `a:<key>`;
   * unseen keys are absent. Both kinds in one statement per chunk of keys (`kind IN (…)` keeps it
   * on the primary key); a row of the other kind than asked for is left out.
   */
  async keysOfKinds(projectId: string, users: ReadonlySet<string>, anons: ReadonlySet<string>): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const kinds = [...(users.size ? ['u' as const] : []), ...(anons.size ? ['a' as const] : [])];
    if (kinds.length === 0) return out;
    for (const c of chunks([...new Set([...users, ...anons])])) {
      const rows = await this.store.db.selectFrom('profile_keys').select(['kind', 'key', 'profile_id']).where('project_id', '=', projectId)
        .where('kind', 'in', kinds).where('key', 'in', c).execute();
      for (const r of rows) if ((r.kind === 'u' ? users : anons).has(r.key)) out.set(`${r.kind}:${r.key}`, Number(r.profile_id));
    }
    return out;
  }

  /** The profile each of the given keys of one kind (a userId 'u', an anonymousId 'a') names; unseen keys are absent. */
  async keysOfKind(projectId: string, kind: 'u' | 'a', keys: Iterable<string>): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const c of chunks([...new Set(keys)])) {
      const rows = await this.store.db.selectFrom('profile_keys').select(['key', 'profile_id']).where('project_id', '=', projectId)
        .where('kind', '=', kind).where('key', 'in', c).execute();
      for (const r of rows) out.set(r.key, Number(r.profile_id));
    }
    return out;
  }

  /** The ids, of those given, that name no profile at all (neither a userId nor an anonymousId), in first-seen order, once each. */
  async unseenIds(projectId: string, ids: readonly string[]): Promise<string[]> {
    const known = await this.idsByKey(projectId, ids);
    return [...new Set(ids)].filter((id) => !known.has(id));
  }

  async get(projectId: string, ids: readonly number[]): Promise<StoredProfile[]> {
    const { db } = this.store;
    const out: StoredProfile[] = [];
    for (const c of chunks([...ids])) {
      const rows = await db.selectFrom('profiles').selectAll().where('project_id', '=', projectId).where('id', 'in', c).execute();
      const anon = await db.selectFrom('profile_keys').select(['profile_id', 'key']).where('project_id', '=', projectId)
        .where('kind', '=', 'a').where('profile_id', 'in', c).execute();
      const byProfile = new Map<number, string[]>();
      for (const a of anon) byProfile.set(a.profile_id, [...(byProfile.get(a.profile_id) ?? []), a.key]);
      for (const r of rows as ProfileRow[]) out.push(toProfile(r, byProfile.get(r.id) ?? []));
    }
    return out;
  }

  /** Profiles with all their events, for in-memory evaluation. */
  async withEvents(projectId: string, ids: readonly number[]): Promise<ProfileWithEvents[]> {
    const profiles = await this.get(projectId, ids);
    const events = await this.events.recordsOf(projectId, ids);
    return profiles.map((profile) => ({ profile, events: events.get(profile.id) ?? [] }));
  }

  /** Profiles in id order after `afterId`, as the engine keeps them. */
  async scan(projectId: string, afterId: number, limit: number, ids?: readonly number[]): Promise<EngineProfile[]> {
    let q = this.store.db.selectFrom('profiles').select(['id', 'user_id', 'anonymous_id', 'traits', 'context', 'labels', 'first_seen', 'last_seen'])
      .where('project_id', '=', projectId).where('id', '>', afterId);
    if (ids) q = q.where('id', 'in', ids.length ? [...ids] : [-1]);
    const rows = await q.orderBy('id').limit(limit).execute();
    return rows.map((r) => ({
      id: Number(r.id), key: String(r.id), userId: r.user_id, anonymousId: r.anonymous_id, traits: readJson(r.traits, {}),
      context: readJson(r.context, {}), labels: readJson(r.labels, []), firstSeen: r.first_seen, lastSeen: r.last_seen,
    }));
  }

  /** When a profile was last seen (null: never, or no such profile). */
  async lastSeen(projectId: string, profileId: number): Promise<number | null> {
    const r = await this.store.db.selectFrom('profiles').select('last_seen').where('project_id', '=', projectId).where('id', '=', profileId).executeTakeFirst();
    return r?.last_seen == null ? null : Number(r.last_seen);
  }

  /** Every profile id of a project, in id order. */
  async ids(projectId: string): Promise<number[]> {
    return (await this.store.db.selectFrom('profiles').select('id').where('project_id', '=', projectId).orderBy('id').execute()).map((r) => Number(r.id));
  }

  async count(projectId: string, where?: RawBuilder<SqlBool>): Promise<number> {
    const r = await sql<{ n: number }>`SELECT count(*) AS n FROM profiles p WHERE p.project_id = ${projectId} AND ${where ?? sql`${this.store.sqlDialect.true}`}`.execute(this.store.db);
    return Number(r.rows[0]?.n ?? 0);
  }

  /** Ids of the profiles matching a predicate over `profiles p`, in id order. */
  async matchingIds(projectId: string, where: RawBuilder<SqlBool>): Promise<number[]> {
    const r = await sql<{ id: number }>`SELECT p.id FROM profiles p WHERE p.project_id = ${projectId} AND ${where} ORDER BY p.id`.execute(this.store.db);
    return r.rows.map((x) => Number(x.id));
  }

  /**
   * Count and first members (by id) of a predicate, evaluating it once: the matching set is
   * materialised, then counted and sampled (a window count or two queries cost twice or more).
   */
  async preview(projectId: string, where: RawBuilder<SqlBool>, limit: number): Promise<{ count: number; sample: { profileId: number; userId: string | null; anonymousId: string | null }[] }> {
    const r = await sql<{ n: number; id: number | null; user_id: string | null; anonymous_id: string | null }>`
      WITH m AS MATERIALIZED (SELECT p.id, p.user_id, p.anonymous_id FROM profiles p WHERE p.project_id = ${projectId} AND ${where})
      SELECT (SELECT count(*) FROM m) AS n, s.id, s.user_id, s.anonymous_id
      FROM (SELECT 1 AS one) AS one LEFT JOIN (SELECT * FROM m ORDER BY id LIMIT ${limit}) AS s ON TRUE`.execute(this.store.db);
    return {
      count: Number(r.rows[0]?.n ?? 0),
      sample: r.rows.filter((x) => x.id !== null).map((x) => ({ profileId: Number(x.id), userId: x.user_id, anonymousId: x.anonymous_id })),
    };
  }

  /** Per saved segment, how many of the profiles matching `where` it holds (segments holding none are absent): a preview's overlap with them. */
  async previewShared(projectId: string, where: RawBuilder<SqlBool>): Promise<Map<string, number>> {
    const r = await sql<{ segment_id: string; n: number }>`
      WITH m AS MATERIALIZED (SELECT p.id FROM profiles p WHERE p.project_id = ${projectId} AND ${where})
      SELECT ms.segment_id, count(*) AS n FROM memberships ms JOIN m ON ms.profile_id = m.id WHERE ms.project_id = ${projectId} GROUP BY ms.segment_id`.execute(this.store.db);
    return new Map(r.rows.map((x) => [x.segment_id, Number(x.n)]));
  }
}

function toProfile(r: ProfileRow, anonymousIds: string[]): StoredProfile {
  return {
    id: r.id, key: String(r.id), projectId: r.project_id, userId: r.user_id, anonymousId: r.anonymous_id,
    traits: readJson(r.traits, {}), context: readJson(r.context, {}), labels: readJson(r.labels, []),
    firstSeen: r.first_seen, lastSeen: r.last_seen, anonymousIds, createdAt: r.created_at, updatedAt: r.updated_at,
  };
}
