import { CompiledQuery, type Kysely } from 'kysely';
import type { JsonObject } from '@strata/core';
import type { Database } from './schema.ts';
import type { SqlStore } from './sql-store.ts';
import type { EngineProfile } from './types.ts';
import { chunks, readJson } from './util.ts';

export type ImportKind = 'users' | 'events' | 'segment';
export type ImportStatus = 'queued' | 'running' | 'done' | 'failed';

/** A row that was not imported: its line in the file (1-based, the header is line 1 of a CSV) and why. */
export interface BadRow {
  readonly line: number;
  readonly reason: string;
}

export interface ImportRow {
  readonly projectId: string;
  readonly id: string;
  readonly kind: ImportKind;
  readonly status: ImportStatus;
  readonly dryRun: boolean;
  /** Data rows read so far (the header not counted). */
  readonly rows: number;
  readonly ok: number;
  readonly bad: number;
  /** The first bad rows (at most MAX_BAD_DETAILS); `bad` counts them all. */
  readonly badRows: readonly BadRow[];
  /** Kind-specific outcome: created/updated/unchanged profiles, stored/duplicate events, the segment. */
  readonly summary: JsonObject;
  readonly error: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly finishedAt: number | null;
}

/** One user of a users import: its id, the traits to set and the labels to add. */
export interface UserUpsert {
  readonly userId: string;
  readonly traits: JsonObject;
  readonly labels: readonly string[];
}

export interface UpsertOutcome {
  readonly created: number;
  readonly updated: number;
  readonly unchanged: number;
  /** The profiles created or changed, as conditions now see them (for the live engine). */
  readonly records: readonly EngineProfile[];
}

type Row = Database['imports'];

const toImport = (r: Row): ImportRow => ({
  projectId: r.project_id, id: r.id, kind: r.kind as ImportKind, status: r.status as ImportStatus, dryRun: Boolean(r.dry_run),
  rows: Number(r.rows), ok: Number(r.ok), bad: Number(r.bad), badRows: readJson<BadRow[]>(r.bad_rows, []), summary: readJson<JsonObject>(r.summary, {}),
  error: r.error, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at), finishedAt: r.finished_at === null ? null : Number(r.finished_at),
});

/** Same JSON value (key order ignored): an import that sets what is already there changes nothing. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((x, i) => same(x, (b as unknown[])[i]));
  const ka = Object.keys(a), kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => k in b && same((a as JsonObject)[k], (b as JsonObject)[k]));
}

/**
 * Import jobs (`imports`) and the bulk write a users import needs. Construct it over a store or
 * a transaction's store (`new ImportStore(tx)`).
 */
export class ImportStore {
  private readonly db: Kysely<Database>;
  constructor(private readonly store: SqlStore) {
    this.db = store.db;
  }

  private static readonly texts = new Map<string, string>();

  /**
   * The bulk inserts of new users, as SQL text built once per row count and dialect (as the
   * events insert does): building a query tree for 200 rows costs more than SQLite's insert.
   */
  private insertText(table: 'profiles' | 'profile_keys', rows: number): string {
    const pg = this.store.sqlDialect.name === 'postgres';
    const key = `${table}:${rows}:${pg}`;
    let text = ImportStore.texts.get(key);
    if (text) return text;
    let n = 0;
    const ph = () => (pg ? `$${++n}` : '?');
    if (table === 'profiles') {
      const json = pg ? '::jsonb' : '';
      const tuple = () => `(${ph()}, ${ph()}, NULL, ${ph()}${json}, ${ph()}${json}, '{}', NULL, ${ph()}${json}, NULL, NULL, ${ph()}, ${ph()})`;
      text = `INSERT INTO profiles (project_id, user_id, anonymous_id, traits, traits_at, context, context_at, labels, first_seen, last_seen, created_at, updated_at) VALUES ${Array.from({ length: rows }, tuple).join(', ')} RETURNING id, user_id`;
    } else {
      text = `INSERT INTO profile_keys (project_id, kind, key, profile_id) VALUES ${Array.from({ length: rows }, () => `(${ph()}, ${ph()}, ${ph()}, ${ph()})`).join(', ')}`;
    }
    ImportStore.texts.set(key, text);
    return text;
  }

  async insert(j: ImportRow): Promise<void> {
    await this.db.insertInto('imports').values({
      project_id: j.projectId, id: j.id, kind: j.kind, status: j.status, dry_run: this.store.sqlDialect.name === 'sqlite' ? (j.dryRun ? 1 : 0) : j.dryRun,
      rows: j.rows, ok: j.ok, bad: j.bad, bad_rows: JSON.stringify(j.badRows), summary: JSON.stringify(j.summary), error: j.error,
      created_at: j.createdAt, updated_at: j.updatedAt, finished_at: j.finishedAt,
    }).execute();
  }

  async update(j: ImportRow): Promise<void> {
    await this.db.updateTable('imports').set({
      status: j.status, rows: j.rows, ok: j.ok, bad: j.bad, bad_rows: JSON.stringify(j.badRows), summary: JSON.stringify(j.summary),
      error: j.error, updated_at: j.updatedAt, finished_at: j.finishedAt,
    }).where('project_id', '=', j.projectId).where('id', '=', j.id).execute();
  }

  async get(projectId: string, id: string): Promise<ImportRow | null> {
    const r = await this.db.selectFrom('imports').selectAll().where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    return r ? toImport(r) : null;
  }

  async list(projectId: string, limit: number): Promise<ImportRow[]> {
    const rows = await this.db.selectFrom('imports').selectAll().where('project_id', '=', projectId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return rows.map(toImport);
  }

  /**
   * Upserts users by userId in the caller's transaction: creates the profiles not known yet
   * (no events), sets the given traits and adds the given labels. A profile whose traits and
   * labels already hold those values is not written at all, so re-importing a file changes nothing.
   * Later rows of the batch for the same userId win.
   */
  async upsertUsers(projectId: string, users: readonly UserUpsert[], now: number): Promise<UpsertOutcome> {
    const byUser = new Map<string, { traits: JsonObject; labels: Set<string> }>();
    for (const u of users) {
      const have = byUser.get(u.userId);
      if (have) { Object.assign(have.traits, u.traits); for (const l of u.labels) have.labels.add(l); } else byUser.set(u.userId, { traits: { ...u.traits }, labels: new Set(u.labels) });
    }
    const ids = [...byUser.keys()];
    const keys = new Map<string, number>();
    for (const c of chunks(ids)) {
      const rows = await this.db.selectFrom('profile_keys').select(['key', 'profile_id']).where('project_id', '=', projectId).where('kind', '=', 'u').where('key', 'in', c).execute();
      for (const r of rows) keys.set(r.key, Number(r.profile_id));
    }
    const records: EngineProfile[] = [];
    let updated = 0, unchanged = 0, created = 0;
    // Known users: compare, write only what differs.
    const known = [...keys.values()];
    const changedRows: (Omit<Database['profiles'], 'id'> & { id: number })[] = [];
    for (const c of chunks(known)) {
      const rows = await this.db.selectFrom('profiles').selectAll().where('project_id', '=', projectId).where('id', 'in', c).execute();
      for (const r of rows) {
        const want = byUser.get(r.user_id!);
        if (!want) continue;
        const traits = readJson<JsonObject>(r.traits, {});
        const traitsAt = readJson<Record<string, number>>(r.traits_at, {});
        const labels = readJson<string[]>(r.labels, []);
        let dirty = false;
        for (const [k, v] of Object.entries(want.traits)) {
          if (k in traits && same(traits[k], v)) continue;
          traits[k] = v;
          traitsAt[k] = now;
          dirty = true;
        }
        const labelSet = new Set(labels);
        for (const l of want.labels) if (!labelSet.has(l)) { labelSet.add(l); dirty = true; }
        if (!dirty) { unchanged++; continue; }
        updated++;
        const nextLabels = [...labelSet].sort();
        changedRows.push({ id: Number(r.id), project_id: projectId, user_id: r.user_id, anonymous_id: r.anonymous_id, traits: JSON.stringify(traits), traits_at: JSON.stringify(traitsAt),
          context: JSON.stringify(readJson<JsonObject>(r.context, {})), context_at: r.context_at === null ? null : Number(r.context_at), labels: JSON.stringify(nextLabels),
          first_seen: r.first_seen === null ? null : Number(r.first_seen), last_seen: r.last_seen === null ? null : Number(r.last_seen), created_at: Number(r.created_at), updated_at: now });
        records.push({ id: Number(r.id), key: String(r.id), userId: r.user_id, anonymousId: r.anonymous_id, traits, context: readJson<JsonObject>(r.context, {}),
          labels: nextLabels, firstSeen: r.first_seen === null ? null : Number(r.first_seen), lastSeen: r.last_seen === null ? null : Number(r.last_seen) });
      }
    }
    for (const c of chunks(changedRows, 200)) {
      await this.db.insertInto('profiles').values(c).onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({
        traits: eb.ref('excluded.traits'), traits_at: eb.ref('excluded.traits_at'), labels: eb.ref('excluded.labels'), updated_at: eb.ref('excluded.updated_at'),
      }))).execute();
    }
    // New users: one multi-row insert per chunk; ids come back with their user ids.
    const fresh = ids.filter((u) => !keys.has(u));
    for (const c of chunks(fresh, 200)) {
      const params: unknown[] = [];
      for (const userId of c) {
        const w = byUser.get(userId)!;
        const traitsAt = Object.fromEntries(Object.keys(w.traits).map((k) => [k, now]));
        params.push(projectId, userId, JSON.stringify(w.traits), JSON.stringify(traitsAt), JSON.stringify([...w.labels].sort()), now, now);
      }
      const ins = (await this.db.executeQuery<{ id: number; user_id: string }>(CompiledQuery.raw(this.insertText('profiles', c.length), params))).rows;
      const keyParams: unknown[] = [];
      for (const r of ins) keyParams.push(projectId, 'u', r.user_id, Number(r.id));
      await this.db.executeQuery(CompiledQuery.raw(this.insertText('profile_keys', ins.length), keyParams));
      for (const r of ins) {
        const w = byUser.get(r.user_id)!;
        created++;
        records.push({ id: Number(r.id), key: String(r.id), userId: r.user_id, anonymousId: null, traits: w.traits, context: {}, labels: [...w.labels].sort(), firstSeen: null, lastSeen: null });
      }
    }
    return { created, updated, unchanged, records };
  }
}
