import { CompiledQuery, type Kysely } from 'kysely';
import type { JsonObject } from '@strata/core';
import type { Database } from './schema.ts';
import type { SqlStore } from './sql-store.ts';
import type { EngineProfile } from './types.ts';
import { chunks, readJson, sqlBool } from './util.ts';

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
  /** The first bad rows (at most MAX_BAD_DETAILS); `bad` counts them all, `import_bad_rows` holds them all. */
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
 * What a dry run of a users import "has written" so far: the users it would have created or
 * changed, by userId, so that a later batch of the same file is compared with them as the real
 * run compares with what its earlier batches wrote (the store is left as it is). Each holds the
 * JSON of `[traits, sorted labels]`: a string is about a third of the objects' memory, and it is
 * parsed only for a userId the file has again in a later batch.
 */
export type UserPlan = Map<string, string>;
const planned = (traits: JsonObject, labels: readonly string[]) => JSON.stringify([traits, labels]);

/**
 * Sets `want`'s traits on `traits` and adds its labels (in place): the trait keys that changed
 * (null: none) and the label set when a label was added (null: none). The one comparison of the
 * real run and the dry run.
 */
function applyWant(traits: JsonObject, labels: readonly string[], want: { traits: JsonObject; labels: readonly string[] }): { changedKeys: string[] | null; labelSet: Set<string> | null } {
  let changedKeys: string[] | null = null;
  for (const k in want.traits) {
    const v = want.traits[k]!;
    if (k in traits && same(traits[k], v)) continue;
    traits[k] = v;
    (changedKeys ??= []).push(k);
  }
  let labelSet: Set<string> | null = null;
  for (const l of want.labels) {
    if (labelSet ? labelSet.has(l) : labels.includes(l)) continue;
    (labelSet ??= new Set(labels)).add(l);
  }
  return { changedKeys, labelSet };
}

/**
 * Import jobs (`imports`), their bad rows (`import_bad_rows`) and the bulk write a users import needs. Construct it over a store or
 * a transaction's store (`new ImportStore(tx)`).
 */
export class ImportStore {
  private readonly db: Kysely<Database>;
  constructor(private readonly store: SqlStore) {
    this.db = store.db;
  }

  private static readonly texts = new Map<string, string>();

  /**
   * The statements of the users import, as SQL text built once per row count and dialect (as the
   * events insert does): building a query tree for 500 rows costs more than SQLite's insert, and
   * the same text lets the driver reuse its prepared statement.
   */
  private text(kind: 'profiles' | 'profile_keys' | 'lookup' | 'known' | 'bad_rows', rows: number): string {
    const pg = this.store.sqlDialect.name === 'postgres';
    const key = `${kind}:${rows}:${pg}`;
    let text = ImportStore.texts.get(key);
    if (text) return text;
    let n = 0;
    const ph = () => (pg ? `$${++n}` : '?');
    const list = (k: number) => Array.from({ length: k }, ph).join(', ');
    if (kind === 'profiles') {
      const json = pg ? '::jsonb' : '';
      const tuple = () => `(${ph()}, ${ph()}, NULL, ${ph()}${json}, ${ph()}${json}, '{}', NULL, ${ph()}${json}, NULL, NULL, ${ph()}, ${ph()})`;
      // PostgreSQL returns the new ids; SQLite's are known without RETURNING (see insertProfiles).
      text = `INSERT INTO profiles (project_id, user_id, anonymous_id, traits, traits_at, context, context_at, labels, first_seen, last_seen, created_at, updated_at) VALUES ${Array.from({ length: rows }, tuple).join(', ')}${pg ? ' RETURNING id, user_id' : ''}`;
    } else if (kind === 'profile_keys') {
      text = `INSERT INTO profile_keys (project_id, kind, key, profile_id) VALUES ${Array.from({ length: rows }, () => `(${list(4)})`).join(', ')}`;
    } else if (kind === 'bad_rows') {
      text = `INSERT INTO import_bad_rows (project_id, import_id, line, reason) VALUES ${Array.from({ length: rows }, () => `(${list(4)})`).join(', ')} ON CONFLICT (project_id, import_id, line) DO NOTHING`;
    } else if (kind === 'lookup') {
      const project = ph();
      text = `SELECT key, profile_id FROM profile_keys WHERE project_id = ${project} AND kind = 'u' AND key IN (${list(rows)})`;
    } else {
      const project = ph();
      text = `SELECT id, user_id, anonymous_id, traits, traits_at, context, context_at, labels, first_seen, last_seen, created_at FROM profiles WHERE project_id = ${project} AND id IN (${list(rows)})`;
    }
    if (ImportStore.texts.size > 200) ImportStore.texts.clear();
    ImportStore.texts.set(key, text);
    return text;
  }

  private async query<R>(text: string, params: readonly unknown[]): Promise<R[]> {
    return (await this.db.executeQuery<R>(CompiledQuery.raw(text, params as unknown[]))).rows as R[];
  }

  /**
   * Inserts new profiles (params: 7 per user, the user id second) and gives their ids in the
   * order given. On SQLite the ids are the last insert rowid and the ones before it: one
   * multi-row INSERT into an AUTOINCREMENT table gives its rows consecutive rowids in VALUES
   * order, and the transaction is the only writer. Reading them back with RETURNING costs a
   * fifth of the insert; the first and last ids are checked against their user ids instead.
   */
  private async insertProfiles(userIds: readonly string[], params: readonly unknown[], projectId: string): Promise<{ id: number; user_id: string }[]> {
    const text = this.text('profiles', userIds.length);
    if (this.store.sqlDialect.name === 'postgres') return this.query<{ id: number; user_id: string }>(text, params);
    const r = await this.db.executeQuery(CompiledQuery.raw(text, params as unknown[]));
    const last = Number(r.insertId);
    if (Number(r.numAffectedRows) !== userIds.length || !Number.isSafeInteger(last)) throw new Error('profiles insert: unexpected result');
    const first = last - userIds.length + 1;
    const check = await this.query<{ id: number; user_id: string }>('SELECT id, user_id FROM profiles WHERE project_id = ? AND id IN (?, ?)', [projectId, first, last]);
    const at = new Map(check.map((c) => [Number(c.id), c.user_id]));
    if (at.get(first) !== userIds[0] || at.get(last) !== userIds[userIds.length - 1]) throw new Error('profiles insert: the new ids are not consecutive');
    return userIds.map((user_id, i) => ({ id: first + i, user_id }));
  }

  async insert(j: ImportRow): Promise<void> {
    await this.db.insertInto('imports').values({
      project_id: j.projectId, id: j.id, kind: j.kind, status: j.status, dry_run: sqlBool(this.store.dialect, j.dryRun),
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

  /**
   * Saves the job's progress and the bad rows found since the last save in one transaction, so
   * that `bad` never counts a row `import_bad_rows` does not hold. Without new bad rows it is the
   * plain update (good rows cost nothing here).
   */
  async save(j: ImportRow, newBadRows: readonly BadRow[]): Promise<void> {
    if (newBadRows.length === 0) return this.update(j);
    await this.store.transaction(async (tx) => {
      const s = new ImportStore(tx);
      await s.addBadRows(j.projectId, j.id, newBadRows);
      await s.update(j);
    });
  }

  /** Stores bad rows of a job (a line already stored is kept as it is); SQL text built once per row count, as the users upsert's. */
  async addBadRows(projectId: string, importId: string, rows: readonly BadRow[]): Promise<void> {
    for (const c of chunks(rows)) {
      const params: unknown[] = [];
      for (const r of c) params.push(projectId, importId, r.line, r.reason);
      await this.query(this.text('bad_rows', c.length), params);
    }
  }

  /** A job's bad rows in line order, after line `after` (null: from the first). */
  async badRows(projectId: string, importId: string, limit: number, after: number | null): Promise<BadRow[]> {
    let q = this.db.selectFrom('import_bad_rows').select(['line', 'reason']).where('project_id', '=', projectId).where('import_id', '=', importId);
    if (after !== null) q = q.where('line', '>', after);
    const rows = await q.orderBy('line').limit(limit).execute();
    return rows.map((r) => ({ line: Number(r.line), reason: r.reason }));
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
   *
   * With `plan` (a dry run) nothing is written: the counts are those the real run would give,
   * by the same comparison, with `plan` standing for what earlier batches of the run wrote (it is
   * updated with this batch's created and changed users), and no records are returned.
   */
  async upsertUsers(projectId: string, users: readonly UserUpsert[], now: number, plan?: UserPlan): Promise<UpsertOutcome> {
    // The caller's objects are taken as they are; only a userId met twice gets a merged copy.
    const byUser = new Map<string, { traits: JsonObject; labels: readonly string[] }>();
    for (const u of users) {
      const have = byUser.get(u.userId);
      if (have) byUser.set(u.userId, { traits: { ...have.traits, ...u.traits }, labels: [...new Set([...have.labels, ...u.labels])] });
      else byUser.set(u.userId, u);
    }
    let ids = [...byUser.keys()];
    let updated = 0, unchanged = 0, created = 0;
    if (plan) {
      // Users an earlier batch of this dry run created or changed: compared with that, not the store.
      const again = new Set<string>();
      for (const id of ids) {
        const before = plan.get(id);
        if (before === undefined) continue;
        again.add(id);
        const [traits, labels] = JSON.parse(before) as [JsonObject, string[]];
        const { changedKeys, labelSet } = applyWant(traits, labels, byUser.get(id)!);
        if (!changedKeys && !labelSet) unchanged++;
        else { updated++; plan.set(id, planned(traits, labelSet ? [...labelSet].sort() : labels)); }
      }
      if (again.size > 0) ids = ids.filter((id) => !again.has(id));
    }
    const keys = new Map<string, number>();
    for (const c of chunks(ids)) {
      for (const r of await this.query<{ key: string; profile_id: number }>(this.text('lookup', c.length), [projectId, ...c])) keys.set(r.key, Number(r.profile_id));
    }
    const records: EngineProfile[] = [];
    // Known users: compare, write only what differs (traits_at and context are read only then).
    const changedRows: (Omit<Database['profiles'], 'id'> & { id: number })[] = [];
    for (const c of chunks([...keys.values()])) {
      const rows = await this.query<Pick<Database['profiles'], 'id' | 'user_id' | 'anonymous_id' | 'traits' | 'traits_at' | 'context' | 'context_at' | 'labels' | 'first_seen' | 'last_seen' | 'created_at'>>(this.text('known', c.length), [projectId, ...c]);
      for (const r of rows) {
        const want = byUser.get(r.user_id!);
        if (!want) continue;
        const traits = readJson<JsonObject>(r.traits, {});
        const labels = readJson<string[]>(r.labels, []);
        const { changedKeys, labelSet } = applyWant(traits, labels, want);
        if (!changedKeys && !labelSet) { unchanged++; continue; }
        updated++;
        if (plan) { plan.set(r.user_id!, planned(traits, labelSet ? [...labelSet].sort() : labels)); continue; }
        const traitsAt = readJson<Record<string, number>>(r.traits_at, {});
        for (const k of changedKeys ?? []) traitsAt[k] = now;
        const nextLabels = labelSet ? [...labelSet].sort() : labels;
        const context = readJson<JsonObject>(r.context, {});
        const firstSeen = r.first_seen === null ? null : Number(r.first_seen), lastSeen = r.last_seen === null ? null : Number(r.last_seen);
        changedRows.push({ id: Number(r.id), project_id: projectId, user_id: r.user_id, anonymous_id: r.anonymous_id, traits: JSON.stringify(traits), traits_at: JSON.stringify(traitsAt),
          context: JSON.stringify(context), context_at: r.context_at === null ? null : Number(r.context_at), labels: JSON.stringify(nextLabels), first_seen: firstSeen, last_seen: lastSeen, created_at: Number(r.created_at), updated_at: now });
        records.push({ id: Number(r.id), key: String(r.id), userId: r.user_id, anonymousId: r.anonymous_id, traits, context, labels: nextLabels, firstSeen, lastSeen });
      }
    }
    // Only traits, traits_at, labels and updated_at are set on conflict: the other columns merely fill the row.
    for (const r of changedRows) this.store.profileRecords?.forget(projectId, r.id);
    for (const c of chunks(changedRows, 200)) {
      await this.db.insertInto('profiles').values(c).onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({
        traits: eb.ref('excluded.traits'), traits_at: eb.ref('excluded.traits_at'), labels: eb.ref('excluded.labels'), updated_at: eb.ref('excluded.updated_at'),
      }))).execute();
    }
    // New users: one multi-row insert per chunk; ids come back with their user ids. Rows of a CSV
    // mostly share their set of trait keys and of labels: their traits_at and labels JSON (and the
    // sorted labels array the engine keeps) are made once per distinct set, not once per row.
    const traitsAtBy = new Map<string, string>();
    let lastKeys: string[] = [], lastAt = '';
    /** traits_at of a new profile: every key at `now`; the previous row's when the keys are the same (compared without allocating). */
    const traitsAtOf = (traits: JsonObject): string => {
      let i = 0, match = true;
      for (const k in traits) { if (lastKeys[i] !== k) { match = false; break; } i++; }
      if (match && i === lastKeys.length) return lastAt;
      lastKeys = Object.keys(traits);
      const sig = JSON.stringify(lastKeys);
      let at = traitsAtBy.get(sig);
      if (at === undefined) traitsAtBy.set(sig, (at = JSON.stringify(Object.fromEntries(lastKeys.map((k) => [k, now])))));
      return (lastAt = at);
    };
    // Keyed by the one label, or by the JSON of several (exact: no separator a label could hold).
    const oneLabel = new Map<string, { json: string; sorted: readonly string[] }>(), labelSets = new Map<string, { json: string; sorted: readonly string[] }>();
    const labelsOf = (labels: readonly string[]) => {
      const by = labels.length === 1 ? oneLabel : labelSets;
      const k = labels.length === 1 ? labels[0]! : JSON.stringify(labels);
      let l = by.get(k);
      if (!l) { const sorted = [...new Set(labels)].sort(); by.set(k, (l = { json: JSON.stringify(sorted), sorted })); }
      return l;
    };
    const fresh = keys.size === 0 ? ids : ids.filter((u) => !keys.has(u));
    if (plan) {
      for (const userId of fresh) { const w = byUser.get(userId)!; plan.set(userId, planned(w.traits, labelsOf(w.labels).sorted)); }
      return { created: fresh.length, updated, unchanged, records };
    }
    for (const c of chunks(fresh)) {
      const params: unknown[] = [];
      for (const userId of c) {
        const w = byUser.get(userId)!;
        params.push(projectId, userId, JSON.stringify(w.traits), traitsAtOf(w.traits), labelsOf(w.labels).json, now, now);
      }
      const ins = await this.insertProfiles(c, params, projectId);
      const keyParams: unknown[] = [];
      for (const r of ins) keyParams.push(projectId, 'u', r.user_id, Number(r.id));
      await this.query(this.text('profile_keys', ins.length), keyParams);
      for (const r of ins) {
        const w = byUser.get(r.user_id)!;
        created++;
        records.push({ id: Number(r.id), key: String(r.id), userId: r.user_id, anonymousId: null, traits: w.traits, context: {}, labels: labelsOf(w.labels).sorted, firstSeen: null, lastSeen: null });
      }
    }
    return { created, updated, unchanged, records };
  }
}
