import type { Checkpointer } from './sqlite.ts';
import { createHash } from 'node:crypto';
import { CompiledQuery, sql, type Insertable, type Kysely, type RawBuilder, type SqlBool, type Transaction } from 'kysely';
import type { EventRecord, Json, JsonObject, SqlDialect } from '@strata/core';
import { DAY_MS, EVENT_OWN_CONTEXT_KEYS, foldCaseTable, isDerivedEvent, postgresDialect, sqliteDialect, visitOf } from '@strata/core';
import type { StoreDialect } from './migrations.ts';
import { migrate } from './migrations.ts';
import type { Database } from './schema.ts';
import type {
  EngineEvent, EngineProfile, HistoryEntry, IngestItem, IngestOutcome, Member, MembershipReason, Project, ProjectSettings, ProfileWithEvents, Rejection,
  SegmentRow, StoredEvent, StoredProfile,
} from './types.ts';
import { mergePoints } from './points-store.ts';
import { mergeMissions } from './mission-store.ts';
import { mergeRewards } from './reward-store.ts';
import { chunks, readJson } from './util.ts';
import { KeyStore, newKeyValue } from './key-store.ts';
import { STARTUP_LABEL } from './migrations.ts';
import { addLateTimes, insertTime, VisitTimes, visitWindows } from './visit-store.ts';


export { hashToken, tokenPrefix } from './key-store.ts';

type ProfileRow = Database['profiles'] & { id: number };
type EventInsert = Insertable<Database['events']>;
/** An event row before its context is resolved to a stored context id. */
type PendingEvent = Omit<EventInsert, 'context_id' | 'context_own'> & { context: JsonObject; contextJson?: string; stored?: { contextId: number; own: string } };

interface WorkingProfile {
  id: number;
  userId: string | null;
  anonymousId: string | null;
  traits: JsonObject;
  traitsAt: Record<string, number>;
  context: JsonObject;
  contextAt: number | null;
  labels: string[];
  firstSeen: number | null;
  lastSeen: number | null;
  createdAt: number;
  /** lastSeen before this batch: a visit starts when an event comes more than the timeout after it. */
  lastSeenBefore: number | null;
  /** A merge moved another profile's events in: every visit is derived again. */
  rebuildVisits: boolean;
  /**
   * The times of this batch's own events from its earliest late one (before lastSeenBefore) on:
   * visits are derived again around each of them.
   */
  lateAt: number[] | null;
  isNew: boolean;
  dirty: boolean;
}

/**
 * The one store implementation, over Kysely, for SQLite and PostgreSQL alike; what differs
 * between them is the SQL dialect hooks of core and the DDL in migrations.ts.
 */
/** Every table that holds a project's data (keyed by project_id): what deleting a project empties. */
export const PROJECT_TABLES = [
  'events', 'contexts', 'profile_keys', 'memberships', 'membership_history', 'segment_daily', 'segment_includes', 'segment_excludes', 'segments',
  'ingest_rejections', 'engine_state', 'webhook_deliveries', 'webhooks', 'destinations', 'points_ledger', 'points_balances',
  'mission_completions', 'mission_progress', 'missions', 'reward_codes', 'reward_redemptions', 'rewards', 'experiences', 'experiments',
  'imports', 'import_bad_rows', 'suppressions', 'audit_log', 'profiles',
] as const satisfies readonly Exclude<keyof Database, 'projects' | 'api_keys'>[];

export class SqlStore {
  readonly sqlDialect: SqlDialect;
  /** Context JSON → stored id, per project (committed rows only; bounded). */
  private readonly contextCache: Map<string, number>;
  /** Contexts stored by this transaction: shared with the cache only once it commits. */
  private readonly newContexts = new Map<string, number>();
  /** The embedded store's WAL checkpointer thread (a SQLite file store opened by createStore), for /metrics. */
  walCheckpointer?: Checkpointer;
  /** The embedded event log's file, beside the database file (a SQLite file store opened by createStore); an in-memory store's log is in memory. */
  eventLogFile?: string;

  /**
   * Own event times of recently seen profiles, from which late events' visits are decided in
   * memory (visit-store.ts). Only on SQLite: the embedded store has one writer, this process,
   * and one transaction at a time; PostgreSQL may have other writers, so it reads windows.
   */
  readonly visitTimes: VisitTimes | null;
  constructor(
    readonly db: Kysely<Database>,
    readonly dialect: StoreDialect,
    private readonly onClose: () => Promise<void> = async () => db.destroy(),
    contextCache?: Map<string, number>,
    visitTimes?: VisitTimes | null,
  ) {
    this.sqlDialect = dialect === 'sqlite' ? sqliteDialect : postgresDialect;
    this.contextCache = contextCache ?? new Map();
    this.visitTimes = visitTimes !== undefined ? visitTimes : dialect === 'sqlite' ? new VisitTimes() : null;
  }

  async migrate(): Promise<void> {
    await migrate(this.db, this.dialect);
    if (this.dialect === 'postgres') {
      // Case folding must be exactly core's (foldCase): a per-character table made from the
      // running JavaScript, replaced at every start so it follows the Unicode version in use.
      const { from, to } = foldCaseTable();
      const lit = (x: string) => `'${x.replace(/'/g, "''")}'`;
      // translate() scans its table for each character: ASCII text (one byte a character) gets the short one.
      await sql.raw(`CREATE OR REPLACE FUNCTION strata_lower(s text) RETURNS text LANGUAGE sql IMMUTABLE AS $fold$
        SELECT CASE WHEN octet_length(s) = length(s) THEN translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
          ELSE translate(s, ${lit(from)}, ${lit(to)}) END $fold$`).execute(this.db);
    }
  }

  async close(): Promise<void> {
    await this.onClose();
  }

  /** Runs `fn` in one transaction; nothing it wrote is visible, or acknowledged, before it commits. */
  async transaction<T>(fn: (tx: SqlStore) => Promise<T>): Promise<T> {
    if ((this.db as Transaction<Database>).isTransaction) return fn(this);
    let tx: SqlStore | undefined;
    let out: T;
    try {
      out = await this.db.transaction().execute((trx) => fn((tx = new SqlStore(trx, this.dialect, async () => undefined, this.contextCache, this.visitTimes))));
    } catch (e) {
      // The kept event times may hold what was rolled back: they are read again as needed.
      this.visitTimes?.clear();
      throw e;
    }
    if (tx && tx.newContexts.size) {
      if (this.contextCache.size > 50_000) this.contextCache.clear();
      for (const [k, v] of tx.newContexts) this.contextCache.set(k, v);
    }
    return out;
  }

  /**
   * Drops deleted context ids from the context caches (an erasure deleted their rows): a later
   * event with the same context must store it again, not point at a row that is gone.
   */
  forgetContexts(ids: ReadonlySet<number>): void {
    for (const cache of [this.contextCache, this.newContexts]) {
      for (const [k, v] of cache) if (ids.has(v)) cache.delete(k);
    }
  }

  private json(v: unknown): string {
    return JSON.stringify(v);
  }

  private bool(b: boolean): boolean | number {
    return this.dialect === 'sqlite' ? (b ? 1 : 0) : b;
  }

  // ---------------------------------------------------------------- projects

  /**
   * A project with its first admin token and write key (labelled as the start-up keys: the
   * default project's follow STRATA_ADMIN_TOKEN / STRATA_WRITE_KEY), in one transaction.
   */
  async createProject(p: { id: string; name: string; writeKey?: string; adminToken?: string; now: number }): Promise<{ project: Project; adminToken: string; writeKey: string }> {
    const adminToken = p.adminToken ?? newKeyValue('admin');
    const writeKey = p.writeKey ?? newKeyValue('write');
    await this.transaction(async (tx) => {
      await tx.db.insertInto('projects').values({ id: p.id, name: p.name, settings: this.json({}), created_at: p.now }).execute();
      const keys = new KeyStore(tx.db);
      await keys.insert({ projectId: p.id, kind: 'admin', label: STARTUP_LABEL.admin, value: adminToken, now: p.now });
      await keys.insert({ projectId: p.id, kind: 'write', label: STARTUP_LABEL.write, value: writeKey, now: p.now });
    });
    return { project: { id: p.id, name: p.name, createdAt: p.now, settings: {} }, adminToken, writeKey };
  }

  private toProject(r: Database['projects']): Project {
    return { id: r.id, name: r.name, createdAt: Number(r.created_at), settings: readJson<ProjectSettings>(r.settings, {}) };
  }

  async setProjectSettings(id: string, settings: ProjectSettings): Promise<void> {
    await this.db.updateTable('projects').set({ settings: this.json(settings) }).where('id', '=', id).execute();
  }

  async getProject(id: string): Promise<Project | null> {
    const r = await this.db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? this.toProject(r) : null;
  }

  async listProjects(): Promise<Project[]> {
    return (await this.db.selectFrom('projects').selectAll().orderBy('created_at').orderBy('id').execute()).map((r) => this.toProject(r));
  }

  /** In a transaction on PostgreSQL, takes the project's row until it ends (changes of keys take turns); SQLite writers always do. */
  async lockProject(id: string): Promise<void> {
    if (this.dialect === 'postgres') await sql`SELECT id FROM projects WHERE id = ${id} FOR UPDATE`.execute(this.db);
  }

  /** The credentials (docs/security.md). */
  get keys(): KeyStore {
    return new KeyStore(this.db);
  }

  /**
   * Deletes a project and everything it holds, in the caller's transaction: every table keyed
   * by project (PROJECT_TABLES; a test checks that no table with a project_id column is missing),
   * its keys, then the project. Returns the rows deleted, table by table (only those with any).
   */
  async deleteProjectData(projectId: string): Promise<Record<string, number>> {
    this.visitTimes?.clear();
    const out: Record<string, number> = {};
    for (const table of [...PROJECT_TABLES, 'api_keys', 'projects'] as const) {
      const r = await this.db.deleteFrom(table).where(table === 'projects' ? 'id' : 'project_id', '=', projectId).executeTakeFirst();
      const n = Number(r.numDeletedRows);
      if (n > 0) out[table] = n;
    }
    return out;
  }

  // ---------------------------------------------------------------- ingest

  /**
   * Stores a batch of validated items in the caller's transaction: de-duplicates by
   * messageId, resolves and merges identities, merges traits and context, keeps
   * firstSeen/lastSeen and derives `$session` visits.
   */
  async ingest(projectId: string, items: readonly IngestItem[], sessionTimeoutMs: number): Promise<IngestOutcome> {
    const fresh = await this.dropDuplicates(projectId, items);
    const duplicates = items.length - fresh.length;
    if (fresh.length === 0) return { stored: 0, duplicates, touched: new Set(), merges: [], records: [], events: [], reload: new Set() };

    const keys = await this.loadKeys(projectId, fresh);
    const working = new Map<number, WorkingProfile>();
    await this.loadWorking(projectId, [...new Set(keys.values())], working);
    const merges: [number, number][] = [];
    const pendingKeys = new Map<string, number>();
    const rows: { item: IngestItem; profileId: number }[] = [];

    for (const item of fresh) {
      const pid = await this.resolve(projectId, item, keys, pendingKeys, working, merges);
      rows.push({ item, profileId: pid });
    }

    // An item resolved before a later item of the batch merged its profile away belongs to the survivor.
    if (merges.length) {
      const into = new Map(merges);
      const survivor = (id: number) => { while (into.has(id)) id = into.get(id)!; return id; };
      for (const r of rows) r.profileId = survivor(r.profileId);
    }
    // Apply in time order per profile so that context and visits follow event time.
    const ordered = [...rows].sort((a, b) => a.item.timestamp - b.item.timestamp);
    const eventRows: PendingEvent[] = [];
    const engineEvents: EngineEvent[] = [];
    const now = fresh[0]!.receivedAt;
    // The late items by profile and time (the first of each time, in storage order, and how many share it):
    // a visit they start is built from the item in memory, not read back.
    const lateItems = new Map<number, Map<number, { item: IngestItem; n: number }>>();
    const keepLate = (profileId: number, item: IngestItem) => {
      let at = lateItems.get(profileId);
      if (!at) lateItems.set(profileId, (at = new Map()));
      const had = at.get(item.timestamp);
      if (had) had.n++;
      else at.set(item.timestamp, { item, n: 1 });
    };
    // Own event times of each profile up to its first late one (their visits are written here), for the kept times.
    const inOrder = new Map<number, number[]>();
    for (const { item, profileId } of ordered) {
      const w = working.get(profileId)!;
      this.applyToProfile(w, item);
      const derived = isDerivedEvent(item.name);
      if (!derived && w.lateAt !== null) { w.lateAt.push(item.timestamp); keepLate(profileId, item); }
      else if (!derived && !w.rebuildVisits) {
        // The batch is in time order: this and the profile's later items are all re-derived around their times.
        if (w.lastSeenBefore !== null && item.timestamp < w.lastSeenBefore) {
          w.lateAt = [item.timestamp];
          keepLate(profileId, item);
        } else {
          if (w.lastSeenBefore === null || item.timestamp - w.lastSeenBefore > sessionTimeoutMs) {
            const visit = visitOf(item.type, item.properties, item.context);
            eventRows.push(this.sessionRow(projectId, profileId, visit, item.context, item.timestamp, item.receivedAt));
            engineEvents.push({ profileId, name: '$session', timestamp: item.timestamp, properties: visit, context: item.context });
          }
          const times = inOrder.get(profileId);
          if (times) times.push(item.timestamp);
          else inOrder.set(profileId, [item.timestamp]);
        }
        if (w.lastSeenBefore === null || item.timestamp > w.lastSeenBefore) w.lastSeenBefore = item.timestamp;
      }
      eventRows.push({
        project_id: projectId, profile_id: profileId, message_id: item.messageId, type: item.type, name: item.name,
        derived: this.bool(derived), properties: item.propertiesJson ?? this.json(item.properties), context: item.context,
        contextJson: item.contextJson, ts: item.timestamp, received_at: item.receivedAt,
      });
      engineEvents.push({ profileId, name: item.name, timestamp: item.timestamp, properties: item.properties, context: item.context });
    }
    await this.insertEvents(eventRows);
    await this.writeKeys(projectId, pendingKeys, keys);
    await this.saveWorking(projectId, working, now);
    const { removed: removedVisits, added } = await this.lateVisits(projectId, working, inOrder, sessionTimeoutMs, lateItems);
    if (added.length) {
      for (const e of added) engineEvents.push(e);
      // Keep the events in time order (stable: each re-derived visit follows its first event).
      engineEvents.sort((a, b) => a.timestamp - b.timestamp);
    }
    const touched = new Set(rows.map((r) => r.profileId));
    for (const [, into] of merges) touched.add(into);
    const reload = new Set([...working.values()].filter((w) => w.rebuildVisits).map((w) => w.id));
    const records = [...working.values()].filter((w) => touched.has(w.id)).map((w): EngineProfile => ({
      id: w.id, key: String(w.id), userId: w.userId, anonymousId: w.anonymousId, traits: w.traits, context: w.context,
      labels: w.labels, firstSeen: w.firstSeen, lastSeen: w.lastSeen,
    }));
    return { stored: fresh.length, duplicates, touched, merges, records, events: engineEvents, reload, removedVisits };
  }

  private static readonly EVENT_COLUMNS = ['project_id', 'profile_id', 'message_id', 'type', 'name', 'derived', 'properties', 'context_id', 'context_own', 'ts', 'received_at'] as const;
  private readonly insertText = new Map<number, string>();

  /**
   * Events are the one bulk write on the hot path: build the multi-row INSERT text once per
   * row count (so SQLite reuses its prepared statement) instead of a query-builder tree per batch.
   */
  private async insertEvents(pending: readonly PendingEvent[]): Promise<void> {
    if (pending.length === 0) return;
    const projectId = pending[0]!.project_id;
    const split = pending.map((r) => (r.stored ? { shared: '', own: r.stored.own } : splitContext(r.context, r.contextJson)));
    const ids = await this.contextIds(projectId, split.filter((_, i) => !pending[i]!.stored).map((x) => x.shared));
    const cols = SqlStore.EVENT_COLUMNS;
    let i = 0;
    for (const c of chunks(pending)) {
      let text = this.insertText.get(c.length);
      if (!text) {
        let n = 0;
        const ph = () => (this.dialect === 'postgres' ? `$${++n}` : '?');
        const tuples = c.map(() => `(${cols.map(ph).join(', ')})`).join(', ');
        text = `INSERT INTO events (${cols.join(', ')}) VALUES ${tuples}`;
        this.insertText.set(c.length, text);
      }
      const params: unknown[] = [];
      for (const r of c) {
        const { shared, own } = split[i++]!;
        const contextId = r.stored ? r.stored.contextId : ids.get(shared)!;
        params.push(r.project_id, r.profile_id, r.message_id ?? null, r.type, r.name, r.derived, r.properties, contextId, own, r.ts, r.received_at);
      }
      await this.db.executeQuery(CompiledQuery.raw(text, params));
    }
  }

  /** Stored ids of context JSON texts of one project, storing the ones not seen before. */
  private async contextIds(projectId: string, jsons: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const missing = new Map<string, string>();
    for (const j of jsons) {
      if (out.has(j) || missing.has(j)) continue;
      const key = `${projectId}\u0000${j}`;
      const id = this.newContexts.get(key) ?? this.contextCache.get(key);
      if (id !== undefined) out.set(j, id);
      else missing.set(j, createHash('sha1').update(j).digest('base64'));
    }
    if (missing.size === 0) return out;
    const byHash = new Map([...missing].map(([j, h]) => [h, j]));
    const remember = (hash: string, id: number) => {
      const j = byHash.get(hash)!;
      out.set(j, id);
      this.newContexts.set(`${projectId}\u0000${j}`, id);
      byHash.delete(hash);
    };
    for (const c of chunks([...byHash.keys()])) {
      for (const r of await this.db.selectFrom('contexts').select(['id', 'hash']).where('project_id', '=', projectId).where('hash', 'in', c).execute()) remember(r.hash, Number(r.id));
    }
    if (byHash.size) {
      const rows = [...byHash].map(([hash, json]) => ({ project_id: projectId, hash, json }));
      for (const c of chunks(rows)) {
        const ins = await this.db.insertInto('contexts').values(c).onConflict((oc) => oc.columns(['project_id', 'hash']).doNothing()).returning(['id', 'hash']).execute();
        for (const r of ins) remember(r.hash, Number(r.id));
      }
      // Another writer may have stored some of them first.
      for (const c of chunks([...byHash.keys()])) {
        for (const r of await this.db.selectFrom('contexts').select(['id', 'hash']).where('project_id', '=', projectId).where('hash', 'in', c).execute()) remember(r.hash, Number(r.id));
      }
    }
    return out;
  }

  private sessionRow(projectId: string, profileId: number, visit: JsonObject, context: JsonObject, ts: number, receivedAt: number): PendingEvent {
    return {
      project_id: projectId, profile_id: profileId, message_id: null, type: 'session', name: '$session',
      derived: this.bool(true), properties: this.json(visit), context, ts, received_at: receivedAt,
    };
  }

  /** The given message ids that events of the project already have (what ingest drops as duplicates; an import's dry run counts them). */
  async storedMessageIds(projectId: string, messageIds: Iterable<string>, into = new Set<string>()): Promise<Set<string>> {
    for (const c of chunks([...new Set(messageIds)])) {
      const found = await this.db.selectFrom('events').select('message_id')
        .where('project_id', '=', projectId).where('message_id', 'in', c).execute();
      for (const f of found) into.add(f.message_id!);
    }
    return into;
  }

  private async dropDuplicates(projectId: string, items: readonly IngestItem[]): Promise<IngestItem[]> {
    const seen = await this.storedMessageIds(projectId, items.map((i) => i.messageId));
    const out: IngestItem[] = [];
    for (const i of items) {
      if (seen.has(i.messageId)) continue;
      seen.add(i.messageId);
      out.push(i);
    }
    return out;
  }

  private async loadKeys(projectId: string, items: readonly IngestItem[]): Promise<Map<string, number>> {
    const users = new Set<string>(), anons = new Set<string>();
    for (const i of items) {
      if (i.userId !== null) users.add(i.userId);
      if (i.anonymousId !== null) anons.add(i.anonymousId);
      if (i.previousId !== null) { users.add(i.previousId); anons.add(i.previousId); }
    }
    const keys = new Map<string, number>();
    for (const [kind, set] of [['u', users], ['a', anons]] as const) {
      for (const c of chunks([...set])) {
        const rows = await this.db.selectFrom('profile_keys').select(['key', 'profile_id'])
          .where('project_id', '=', projectId).where('kind', '=', kind).where('key', 'in', c).execute();
        for (const r of rows) keys.set(`${kind}:${r.key}`, r.profile_id);
      }
    }
    return keys;
  }

  private async loadWorking(projectId: string, ids: number[], into: Map<number, WorkingProfile>): Promise<void> {
    const missing = ids.filter((id) => !into.has(id));
    for (const c of chunks(missing)) {
      const rows = await this.db.selectFrom('profiles').selectAll().where('project_id', '=', projectId).where('id', 'in', c).execute();
      for (const r of rows as ProfileRow[]) {
        into.set(r.id, {
          id: r.id, userId: r.user_id, anonymousId: r.anonymous_id, traits: readJson(r.traits, {}), traitsAt: readJson(r.traits_at, {}), context: readJson(r.context, {}),
          contextAt: r.context_at, labels: readJson(r.labels, []), firstSeen: r.first_seen, lastSeen: r.last_seen,
          createdAt: r.created_at, lastSeenBefore: r.last_seen, rebuildVisits: false, lateAt: null, isNew: false, dirty: false,
        });
      }
    }
  }

  private async createProfile(projectId: string, userId: string | null, anonymousId: string | null, now: number, working: Map<number, WorkingProfile>): Promise<number> {
    const r = await this.db.insertInto('profiles').values({
      project_id: projectId, user_id: userId, anonymous_id: anonymousId, traits: this.json({}), traits_at: this.json({}), context: this.json({}),
      context_at: null, labels: this.json([]), first_seen: null, last_seen: null, created_at: now, updated_at: now,
    }).returning('id').executeTakeFirstOrThrow();
    const id = Number(r.id);
    // A new profile has no events yet: its kept times start empty (replacing any of a deleted profile whose id this reuses).
    this.visitTimes?.put(projectId, id, []);
    working.set(id, {
      id, userId, anonymousId, traits: {}, traitsAt: {}, context: {}, contextAt: null, labels: [], firstSeen: null, lastSeen: null,
      createdAt: now, lastSeenBefore: null, rebuildVisits: false, lateAt: null, isNew: true, dirty: true,
    });
    return id;
  }

  /** Records a key → profile mapping; written with the batch (writeKeys), visible to the batch at once. */
  private addKey(_projectId: string, kind: 'u' | 'a', key: string, profileId: number, keys: Map<string, number>, pending: Map<string, number>): void {
    keys.set(`${kind}:${key}`, profileId);
    pending.set(`${kind}:${key}`, profileId);
  }

  private async writeKeys(projectId: string, pending: Map<string, number>, keys: Map<string, number>): Promise<void> {
    // A merge may have moved a key after it was recorded: write where it points now.
    const rows = [...pending.keys()].map((k) => ({ project_id: projectId, kind: k[0] as 'u' | 'a', key: k.slice(2), profile_id: keys.get(k)! }));
    for (const c of chunks(rows)) {
      await this.db.insertInto('profile_keys').values(c)
        .onConflict((oc) => oc.columns(['project_id', 'kind', 'key']).doUpdateSet((eb) => ({ profile_id: eb.ref('excluded.profile_id') }))).execute();
    }
  }

  /** The profile an item belongs to, creating, upgrading or merging profiles as identity requires. */
  private async resolve(projectId: string, item: IngestItem, keys: Map<string, number>, pending: Map<string, number>, working: Map<number, WorkingProfile>, merges: [number, number][]): Promise<number> {
    const now = item.receivedAt;
    const u = item.userId, a = item.anonymousId;
    if (item.type === 'alias' && item.previousId !== null && u !== null) {
      const source = keys.get(`u:${item.previousId}`) ?? keys.get(`a:${item.previousId}`);
      const target = keys.get(`u:${u}`);
      if (source === undefined) {
        const into = target ?? (await this.createProfile(projectId, u, null, now, working));
        if (target === undefined) this.addKey(projectId, 'u', u, into, keys, pending);
        this.addKey(projectId, 'a', item.previousId, into, keys, pending);
        return into;
      }
      await this.loadWorking(projectId, [source], working);
      if (target === undefined) {
        const w = working.get(source)!;
        w.userId = u;
        w.dirty = true;
        this.addKey(projectId, 'u', u, source, keys, pending);
        return source;
      }
      if (target !== source) await this.merge(projectId, source, target, keys, working, merges);
      return target;
    }
    const pu = u === null ? undefined : keys.get(`u:${u}`);
    const pa = a === null ? undefined : keys.get(`a:${a}`);
    if (pa !== undefined) await this.loadWorking(projectId, [pa], working);
    if (u !== null) {
      if (pu === undefined) {
        if (pa !== undefined && working.get(pa)!.userId === null) {
          const w = working.get(pa)!;
          w.userId = u;
          w.dirty = true;
          this.addKey(projectId, 'u', u, pa, keys, pending);
          return pa;
        }
        const id = await this.createProfile(projectId, u, pa === undefined ? a : null, now, working);
        this.addKey(projectId, 'u', u, id, keys, pending);
        if (a !== null && pa === undefined) this.addKey(projectId, 'a', a, id, keys, pending);
        return id;
      }
      await this.loadWorking(projectId, [pu], working);
      if (a !== null && pa === undefined) {
        this.addKey(projectId, 'a', a, pu, keys, pending);
        const w = working.get(pu)!;
        if (w.anonymousId === null) { w.anonymousId = a; w.dirty = true; }
      } else if (pa !== undefined && pa !== pu && working.get(pa)!.userId === null) {
        await this.merge(projectId, pa, pu, keys, working, merges);
      }
      return pu;
    }
    if (pa !== undefined) return pa;
    const id = await this.createProfile(projectId, null, a, now, working);
    this.addKey(projectId, 'a', a!, id, keys, pending);
    return id;
  }

  /** Moves everything of profile `from` into `into` and deletes `from`. */
  private async merge(projectId: string, from: number, into: number, keys: Map<string, number>, working: Map<number, WorkingProfile>, merges: [number, number][]): Promise<void> {
    await this.loadWorking(projectId, [from, into], working);
    const f = working.get(from)!, t = working.get(into)!;
    // Per trait key, the later write wins (by event time); on a tie, the surviving profile's.
    for (const [k, v] of Object.entries(f.traits)) {
      const ft = f.traitsAt[k] ?? -Infinity, tt = t.traitsAt[k] ?? -Infinity;
      if (!(k in t.traits) || ft > tt) {
        t.traits[k] = v;
        if (ft > -Infinity) t.traitsAt[k] = ft;
      }
    }
    if (f.contextAt !== null && (t.contextAt === null || f.contextAt > t.contextAt)) { t.context = f.context; t.contextAt = f.contextAt; }
    t.labels = [...new Set([...t.labels, ...f.labels])];
    t.firstSeen = minOrNull(t.firstSeen, f.firstSeen);
    t.lastSeen = maxOrNull(t.lastSeen, f.lastSeen);
    t.lastSeenBefore = maxOrNull(t.lastSeenBefore, f.lastSeenBefore);
    t.anonymousId ??= f.anonymousId;
    t.rebuildVisits = true;
    t.dirty = true;
    this.visitTimes?.forget(projectId, from);
    this.visitTimes?.forget(projectId, into);
    const db = this.db;
    await db.updateTable('events').set({ profile_id: into }).where('project_id', '=', projectId).where('profile_id', '=', from).execute();
    await db.updateTable('profile_keys').set({ profile_id: into }).where('project_id', '=', projectId).where('profile_id', '=', from).execute();
    for (const [k, v] of keys) if (v === from) keys.set(k, into);
    for (const table of ['segment_includes', 'segment_excludes'] as const) {
      await sql`INSERT INTO ${sql.table(table)} (project_id, segment_id, profile_id)
        SELECT project_id, segment_id, ${into} FROM ${sql.table(table)} WHERE project_id = ${projectId} AND profile_id = ${from}
        ON CONFLICT DO NOTHING`.execute(db);
      await db.deleteFrom(table).where('project_id', '=', projectId).where('profile_id', '=', from).execute();
    }
    // Memberships follow the merge, keeping the earlier `since`; re-evaluation then drops any that no longer hold.
    await sql`INSERT INTO memberships (project_id, segment_id, profile_id, since)
      SELECT project_id, segment_id, ${into}, since FROM memberships WHERE project_id = ${projectId} AND profile_id = ${from}
      ON CONFLICT (project_id, segment_id, profile_id) DO UPDATE
      SET since = CASE WHEN excluded.since < memberships.since THEN excluded.since ELSE memberships.since END`.execute(db);
    await db.deleteFrom('memberships').where('project_id', '=', projectId).where('profile_id', '=', from).execute();
    await mergePoints(db, projectId, from, into);
    await mergeMissions(db, projectId, from, into);
    await mergeRewards(db, projectId, from, into);
    await db.deleteFrom('profiles').where('project_id', '=', projectId).where('id', '=', from).execute();
    working.delete(from);
    merges.push([from, into]);
  }

  /**
   * An item's traits, context and time applied to its profile. The record is written again only
   * if one of them changed it: a late event (older than the context and the last-seen time, no
   * newer traits) leaves it as it was, `updatedAt` included.
   */
  private applyToProfile(w: WorkingProfile, item: IngestItem): void {
    if (item.traits) {
      for (const [k, v] of Object.entries(item.traits)) {
        if ((w.traitsAt[k] ?? -Infinity) <= item.timestamp) {
          w.traits[k] = v;
          w.traitsAt[k] = item.timestamp;
          w.dirty = true;
        }
      }
    }
    if (w.contextAt === null || item.timestamp >= w.contextAt) {
      w.context = item.context;
      w.contextAt = item.timestamp;
      w.dirty = true;
    }
    if (!isDerivedEvent(item.name)) {
      const first = minOrNull(w.firstSeen, item.timestamp), last = maxOrNull(w.lastSeen, item.timestamp);
      if (first !== w.firstSeen || last !== w.lastSeen) w.dirty = true;
      w.firstSeen = first;
      w.lastSeen = last;
    }
  }

  private async saveWorking(projectId: string, working: Map<number, WorkingProfile>, now: number): Promise<void> {
    const rows = [...working.values()].filter((w) => w.dirty).map((w) => ({
      id: w.id, project_id: projectId, user_id: w.userId, anonymous_id: w.anonymousId, traits: this.json(w.traits), traits_at: this.json(w.traitsAt), context: this.json(w.context),
      context_at: w.contextAt, labels: this.json(w.labels), first_seen: w.firstSeen, last_seen: w.lastSeen, created_at: w.createdAt, updated_at: now,
    }));
    // One statement for the whole batch: every row exists already, so this only updates.
    for (const c of chunks(rows, 200)) {
      await this.db.insertInto('profiles').values(c).onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({
        user_id: eb.ref('excluded.user_id'), anonymous_id: eb.ref('excluded.anonymous_id'), traits: eb.ref('excluded.traits'), traits_at: eb.ref('excluded.traits_at'),
        context: eb.ref('excluded.context'), context_at: eb.ref('excluded.context_at'), labels: eb.ref('excluded.labels'),
        first_seen: eb.ref('excluded.first_seen'), last_seen: eb.ref('excluded.last_seen'), updated_at: eb.ref('excluded.updated_at'),
      }))).execute();
    }
  }

  /**
   * The visits a batch's late events change, after its rows are written, and the kept own event
   * times brought up to date. A profile whose times are kept (`visitTimes`) is decided in memory
   * (`addLateTimes`): its removed visits are deleted by instant and the added ones built from the
   * batch's items, with no read. Any other profile with late events reads its rows
   * (`rederiveVisits`): its whole history once, so that its times are kept from then on, or —
   * too large to keep, or on PostgreSQL — the windows around its late events. A merge derives
   * the survivor's visits from all its rows.
   */
  private async lateVisits(projectId: string, working: ReadonlyMap<number, WorkingProfile>, inOrder: ReadonlyMap<number, readonly number[]>, sessionTimeoutMs: number,
    batch: ReadonlyMap<number, ReadonlyMap<number, { item: IngestItem; n: number }>>): Promise<{ removed: { profileId: number; timestamp: number }[]; added: EngineEvent[] }> {
    const cache = this.visitTimes;
    const rederive: { profileId: number; at: readonly number[] | null; whole?: boolean }[] = [];
    const removed: { profileId: number; timestamp: number }[] = [], added: EngineEvent[] = [];
    const gone: { profileId: number; ts: number }[] = [];
    const rows: PendingEvent[] = [];
    for (const w of working.values()) {
      if (w.rebuildVisits) { rederive.push({ profileId: w.id, at: null }); continue; }
      const times = cache?.get(projectId, w.id);
      if (!times) {
        if (w.lateAt !== null) rederive.push({ profileId: w.id, at: w.lateAt, whole: cache !== null && !cache.isLarge(projectId, w.id) });
        continue;
      }
      const before = inOrder.get(w.id) ?? [];
      for (const t of before) insertTime(times, t);
      if (w.lateAt === null) { cache!.grew(projectId, w.id, before.length); continue; }
      const change = addLateTimes(times, w.lateAt, sessionTimeoutMs);
      const mine = batch.get(w.id);
      // An added visit starts at a late item's instant that had no event before (never otherwise: see addLateTimes).
      if (change.added.some((ts) => !mine?.has(ts))) {
        // Counted first, so that forgetting takes off exactly what the count holds.
        cache!.grew(projectId, w.id, before.length + w.lateAt.length);
        cache!.forget(projectId, w.id);
        rederive.push({ profileId: w.id, at: w.lateAt, whole: true });
        continue;
      }
      cache!.grew(projectId, w.id, before.length + w.lateAt.length);
      for (const ts of change.removed) { gone.push({ profileId: w.id, ts }); removed.push({ profileId: w.id, timestamp: ts }); }
      for (const ts of change.added) {
        const { item } = mine!.get(ts)!;
        const visit = visitOf(item.type, item.properties, item.context);
        rows.push(this.sessionRow(projectId, w.id, visit, item.context, item.timestamp, item.receivedAt));
        added.push({ profileId: w.id, name: '$session', timestamp: item.timestamp, properties: visit, context: item.context });
      }
    }
    for (const c of chunks(gone, 250)) {
      const at = sql.join(c.map((g) => sql`(CAST(${g.profileId} AS BIGINT), CAST(${g.ts} AS BIGINT))`));
      // A visit's row is the one `$session` row of its profile at its instant (visits start at distinct instants).
      await sql`WITH gone (pid, ts) AS (VALUES ${at})
        DELETE FROM events WHERE id IN (SELECT e.id FROM gone CROSS JOIN events e
          WHERE e.project_id = ${projectId} AND e.profile_id = gone.pid AND e.ts = gone.ts AND e.name = '$session')`.execute(this.db);
    }
    const out = await this.rederiveVisits(projectId, rederive, sessionTimeoutMs, batch, rows);
    cache?.trim();
    return { removed: [...removed, ...out.removed], added: [...added, ...out.added] };
  }

  /**
   * Derives `$session` visits again for each profile around the times of its late events (`at`;
   * null: all of them, after a merge). A visit starts at a non-derived event that comes more than
   * the timeout after the one before it (in time, then storage order). A new event at t can
   * change only whether it starts a visit and whether the next event after it does, and that one
   * only if it lies within the timeout after t (one further on already had a gap larger than the
   * timeout before it). So each late time t is given the window [t − timeout, t + timeout],
   * overlapping windows of a profile are merged, and only their rows are read, through the
   * (project_id, profile_id, ts) index, for all the batch's windows in a few statements. Within a
   * window [lo, hi] the events from lo + timeout on have their predecessor inside it (or none
   * within the timeout), so their visits are derived there; the earlier ones only serve as
   * predecessors. Only the visits that changed are deleted and inserted: a visit's row is its
   * first event's, and a new event never precedes a stored one of the same time, so a visit found
   * at the same instant is the same visit. A merge brings older rows that can, so it replaces
   * every visit. Returns the visits removed and added by late events (not by merge).
   *
   * Adding events never widens a gap, so a late event can start a visit but no stored event can
   * begin to: a new visit starts at an event of the batch. `batch` holds those items (by profile,
   * then time: the first item of that time and how many the batch has); when every event of a new
   * visit's instant is one of them, the visit is built from the first in memory, as in-order events'
   * visits are, instead of its row being read back. Otherwise (a stored event of the same instant,
   * a merge) the row is read.
   *
   * `whole`: the profile's times are to be kept (`visitTimes`), so its window is its whole history,
   * derived and compared as a window is, and its own event times are kept from the rows read.
   * `pending`: visit rows decided in memory, inserted with these.
   */
  private async rederiveVisits(projectId: string, profiles: readonly { profileId: number; at: readonly number[] | null; whole?: boolean }[], sessionTimeoutMs: number,
    batch: ReadonlyMap<number, ReadonlyMap<number, { item: IngestItem; n: number }>>, pending: PendingEvent[]):
    Promise<{ removed: { profileId: number; timestamp: number }[]; added: EngineEvent[] }> {
    const removed: { profileId: number; timestamp: number }[] = [], added: EngineEvent[] = [];
    const gone: number[] = [], fresh: number[] = [];
    const whole = new Set(profiles.filter((p) => p.at === null).map((p) => p.profileId));
    // Profiles whose whole history is read (diffed as windows are) so that their own event times are kept from now on.
    const keep = new Map(profiles.filter((p) => p.at !== null && p.whole).map((p) => [p.profileId, [] as number[]]));
    const windows = profiles.flatMap((p) => (keep.has(p.profileId) ? [{ profileId: p.profileId, lo: Number.MIN_SAFE_INTEGER, hi: Number.MAX_SAFE_INTEGER }] : visitWindows(p.profileId, p.at, sessionTimeoutMs)));
    for (const c of chunks(windows, 250)) {
      const late = sql.join(c.map((w) => sql`(CAST(${w.profileId} AS BIGINT), CAST(${w.lo} AS BIGINT), CAST(${w.hi} AS BIGINT))`));
      // CROSS JOIN: SQLite then keeps `late` as the outer loop (with a plain join and a few hundred rows
      // it chose to walk every event of the project). No condition on the name: with one, SQLite may
      // walk the (project_id, name) index over every visit of the project.
      const rows = await sql<{ pid: number; lo: number; id: number; ts: number; name: string; derived: number | boolean }>`
        WITH late (pid, lo, hi) AS (VALUES ${late})
        SELECT e.profile_id AS pid, late.lo AS lo, e.id, e.ts, e.name, e.derived FROM late CROSS JOIN events e
          WHERE e.project_id = ${projectId} AND e.profile_id = late.pid AND e.ts >= late.lo AND e.ts <= late.hi
        ORDER BY e.profile_id, late.lo, e.ts, e.id`.execute(this.db);
      for (let i = 0; i < rows.rows.length;) {
        const first = i;
        const pid = Number(rows.rows[i]!.pid), lo = Number(rows.rows[i]!.lo);
        const all = whole.has(pid);
        // Visits from here on are derived inside the window; before it, events only serve as predecessors.
        const from = all ? Number.MIN_SAFE_INTEGER : lo + sessionTimeoutMs;
        let prev: number | null = null;
        const stored: [ts: number, id: number][] = [];
        const starts = new Map<number, number>();
        // How many events share each start's instant (all of them the batch's: the visit comes from memory).
        const sharing = new Map<number, number>();
        for (; i < rows.rows.length && Number(rows.rows[i]!.pid) === pid && Number(rows.rows[i]!.lo) === lo; i++) {
          const r = rows.rows[i]!;
          const ts = Number(r.ts);
          if (r.name === '$session') { if (ts >= from) stored.push([ts, Number(r.id)]); }
          else if (!r.derived) {
            if (ts >= from && (prev === null || ts - prev > sessionTimeoutMs)) starts.set(ts, Number(r.id));
            if (starts.has(ts)) sharing.set(ts, (sharing.get(ts) ?? 0) + 1);
            prev = ts;
          }
        }
        const kept = new Set<number>();
        for (const [ts, id] of stored) {
          if (!all && starts.has(ts) && !kept.has(ts)) kept.add(ts);
          else {
            gone.push(id);
            if (!all) removed.push({ profileId: pid, timestamp: ts });
          }
        }
        const times = keep.get(pid);
        if (times) for (let k = first; k < i; k++) { const r = rows.rows[k]!; if (!r.derived) times.push(Number(r.ts)); }
        const mine = all ? undefined : batch.get(pid);
        for (const [ts, id] of starts) {
          if (kept.has(ts)) continue;
          const own = mine?.get(ts);
          if (!own || own.n !== sharing.get(ts)) { fresh.push(id); continue; }
          const { item } = own;
          const visit = visitOf(item.type, item.properties, item.context);
          pending.push(this.sessionRow(projectId, pid, visit, item.context, item.timestamp, item.receivedAt));
          added.push({ profileId: pid, name: '$session', timestamp: item.timestamp, properties: visit, context: item.context });
        }
      }
    }
    // By id alone (ids of rows just read for this project): with `project_id = ?` as well, SQLite walks the project's (project_id, name) index.
    for (const c of chunks(gone)) await this.db.deleteFrom('events').where('id', 'in', c).execute();
    for (const c of chunks(fresh)) {
      const evs = await this.db.selectFrom('events as e').innerJoin('contexts as c', 'c.id', 'e.context_id')
        .select(['e.profile_id', 'e.ts', 'c.json as shared', 'e.context_id', 'e.context_own', 'e.properties', 'e.received_at', 'e.type'])
        .where('e.id', 'in', c).execute();
      for (const e of evs) {
        const profileId = Number(e.profile_id);
        const context = { ...readJson<JsonObject>(e.shared, {}), ...readJson<JsonObject>(e.context_own, {}) };
        const visit = visitOf(e.type, readJson(e.properties, {}), context);
        const row = this.sessionRow(projectId, profileId, visit, context, Number(e.ts), Number(e.received_at));
        // The visit shares its first event's stored context as it is (re-serialising could change key order).
        pending.push({ ...row, stored: { contextId: Number(e.context_id), own: typeof e.context_own === 'string' ? e.context_own : JSON.stringify(e.context_own) } });
        if (!whole.has(profileId)) added.push({ profileId, name: '$session', timestamp: Number(e.ts), properties: visit, context });
      }
    }
    await this.insertEvents(pending.sort((a, b) => a.profile_id - b.profile_id || a.ts - b.ts));
    for (const [pid, times] of keep) if (times.length) this.visitTimes?.put(projectId, pid, times);
    return { removed, added };
  }

  async recordRejections(projectId: string, receivedAt: number, rejections: readonly Rejection[]): Promise<void> {
    for (const c of chunks(rejections)) {
      await this.db.insertInto('ingest_rejections').values(c.map((r) => ({
        project_id: projectId, received_at: receivedAt, item_index: r.index, message: r.message, payload: r.payload.slice(0, 2000),
      }))).execute();
    }
  }

  async listRejections(projectId: string, limit: number): Promise<{ id: number; receivedAt: number; index: number; message: string; payload: string }[]> {
    const rows = await this.db.selectFrom('ingest_rejections').selectAll().where('project_id', '=', projectId).orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => ({ id: Number(r.id), receivedAt: r.received_at, index: r.item_index, message: r.message, payload: r.payload }));
  }

  async countRejections(projectId: string): Promise<number> {
    const r = await this.db.selectFrom('ingest_rejections').select((eb) => eb.fn.countAll<number>().as('n')).where('project_id', '=', projectId).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  // ---------------------------------------------------------------- profiles

  private toProfile(r: ProfileRow, anonymousIds: string[] = []): StoredProfile {
    return {
      id: r.id, key: String(r.id), projectId: r.project_id, userId: r.user_id, anonymousId: r.anonymous_id,
      traits: readJson(r.traits, {}), context: readJson(r.context, {}), labels: readJson(r.labels, []),
      firstSeen: r.first_seen, lastSeen: r.last_seen, anonymousIds, createdAt: r.created_at, updatedAt: r.updated_at,
    };
  }

  /** A profile by userId, else by anonymousId. */
  async findProfile(projectId: string, id: string): Promise<StoredProfile | null> {
    const key = await this.profileKey(projectId, id);
    if (!key) return null;
    const [p] = await this.getProfiles(projectId, [key.profileId]);
    return p ?? null;
  }

  /** The profile an id names — as a userId ('u'), else as an anonymousId ('a') — without reading the profile. */
  async profileKey(projectId: string, id: string): Promise<{ profileId: number; kind: 'u' | 'a' } | null> {
    // `kind IN (…)` lets both stores look the key up by the primary key (project_id, kind, key)
    // instead of scanning the project's keys; a userId ('u') wins over an anonymousId ('a').
    const r = await this.db.selectFrom('profile_keys').select(['profile_id', 'kind']).where('project_id', '=', projectId)
      .where('kind', 'in', ['u', 'a']).where('key', '=', id).orderBy('kind', 'desc').executeTakeFirst();
    return r ? { profileId: Number(r.profile_id), kind: r.kind as 'u' | 'a' } : null;
  }

  async getProfiles(projectId: string, ids: readonly number[]): Promise<StoredProfile[]> {
    const out: StoredProfile[] = [];
    for (const c of chunks([...ids])) {
      const rows = await this.db.selectFrom('profiles').selectAll().where('project_id', '=', projectId).where('id', 'in', c).execute();
      const anon = await this.db.selectFrom('profile_keys').select(['profile_id', 'key']).where('project_id', '=', projectId)
        .where('kind', '=', 'a').where('profile_id', 'in', c).execute();
      const byProfile = new Map<number, string[]>();
      for (const a of anon) byProfile.set(a.profile_id, [...(byProfile.get(a.profile_id) ?? []), a.key]);
      for (const r of rows as ProfileRow[]) out.push(this.toProfile(r, byProfile.get(r.id) ?? []));
    }
    return out;
  }

  /** Profiles with all their events, for in-memory evaluation. */
  async profilesWithEvents(projectId: string, ids: readonly number[]): Promise<ProfileWithEvents[]> {
    const profiles = await this.getProfiles(projectId, ids);
    const events = new Map<number, EventRecord[]>();
    for (const c of chunks([...ids])) {
      const rows = await this.db.selectFrom('events').select(['profile_id', 'name', 'ts', 'properties', 'context_id', 'context_own'])
        .where('project_id', '=', projectId).where('profile_id', 'in', c).execute();
      const contexts = await this.contextsById(projectId, rows.map((r) => r.context_id));
      for (const r of rows) {
        let list = events.get(r.profile_id);
        if (!list) events.set(r.profile_id, (list = []));
        list.push(lazyEvent(r.name, r.ts, r.properties, contexts.get(r.context_id)!, r.context_own));
      }
    }
    return profiles.map((profile) => ({ profile, events: events.get(profile.id) ?? [] }));
  }

  async profileEvents(projectId: string, profileId: number, limit: number, beforeId?: number): Promise<StoredEvent[]> {
    let q = this.db.selectFrom('events').selectAll().where('project_id', '=', projectId).where('profile_id', '=', profileId);
    if (beforeId !== undefined) q = q.where('id', '<', beforeId);
    const rows = await q.orderBy('ts', 'desc').orderBy('id', 'desc').limit(limit).execute();
    const contexts = await this.contextsById(projectId, rows.map((r) => r.context_id));
    return rows.map((r) => ({
      id: Number(r.id), type: r.type, messageId: r.message_id, name: r.name, timestamp: r.ts, receivedAt: r.received_at,
      properties: readJson(r.properties, {}), context: { ...contexts.get(r.context_id)!.value, ...readJson<JsonObject>(r.context_own, {}) },
    }));
  }

  /** Context rows by id, each parsed at most once (lazily). */
  private async contextsById(projectId: string, ids: readonly number[]): Promise<Map<number, { readonly value: JsonObject }>> {
    const out = new Map<number, { readonly value: JsonObject }>();
    for (const c of chunks([...new Set(ids)])) {
      for (const r of await this.db.selectFrom('contexts').select(['id', 'json']).where('project_id', '=', projectId).where('id', 'in', c).execute()) {
        let parsed: JsonObject | undefined;
        out.set(Number(r.id), { get value() { return (parsed ??= readJson<JsonObject>(r.json, {})); } });
      }
    }
    return out;
  }

  /**
   * Profile ids for ids given by a person (a userId, else an anonymousId, as `findProfile`),
   * creating known profiles (no events) for the ids not seen at all.
   */
  async ensureKnownProfiles(projectId: string, userIds: readonly string[], now: number): Promise<Map<string, number>> {
    const keys = await this.profileIdsByKey(projectId, userIds);
    const working = new Map<number, WorkingProfile>();
    for (const u of userIds) {
      if (keys.has(u)) continue;
      const id = await this.createProfile(projectId, u, null, now, working);
      await this.db.insertInto('profile_keys').values({ project_id: projectId, kind: 'u', key: u, profile_id: id })
        .onConflict((oc) => oc.doNothing()).execute();
      keys.set(u, id);
    }
    return keys;
  }

  /** Profile ids of the given ids that name a profile (a userId, else an anonymousId, as `findProfile`); unseen ids are absent. */
  async profileIdsByKey(projectId: string, ids: readonly string[]): Promise<Map<string, number>> {
    const keys = new Map<string, number>();
    for (const kind of ['u', 'a'] as const) {
      for (const c of chunks([...new Set(ids)].filter((u) => !keys.has(u)))) {
        const rows = await this.db.selectFrom('profile_keys').select(['key', 'profile_id']).where('project_id', '=', projectId)
          .where('kind', '=', kind).where('key', 'in', c).execute();
        for (const r of rows) keys.set(r.key, Number(r.profile_id));
      }
    }
    return keys;
  }

  /** The ids, of those given, that name no profile at all (neither a userId nor an anonymousId), in first-seen order, once each. */
  async unseenIds(projectId: string, ids: readonly string[]): Promise<string[]> {
    const known = await this.profileIdsByKey(projectId, ids);
    return [...new Set(ids)].filter((id) => !known.has(id));
  }

  async updateLabels(projectId: string, profileId: number, add: readonly string[], remove: readonly string[], now: number): Promise<string[]> {
    const r = await this.db.selectFrom('profiles').select('labels').where('project_id', '=', projectId).where('id', '=', profileId).executeTakeFirst();
    if (!r) return [];
    const labels = new Set(readJson<string[]>(r.labels, []));
    for (const l of add) labels.add(l);
    for (const l of remove) labels.delete(l);
    const out = [...labels].sort();
    await this.db.updateTable('profiles').set({ labels: this.json(out), updated_at: now }).where('project_id', '=', projectId).where('id', '=', profileId).execute();
    return out;
  }

  /**
   * Writes a profile and its events as given (no identity resolution, no visit derivation):
   * for imports of prepared data and for tests that load fixture data.
   */
  async insertProfile(projectId: string, p: { userId: string | null; anonymousId: string | null; traits: JsonObject; context: JsonObject; labels: readonly string[]; firstSeen: number | null; lastSeen: number | null }, events: readonly EventRecord[], now: number): Promise<number> {
    const r = await this.db.insertInto('profiles').values({
      project_id: projectId, user_id: p.userId, anonymous_id: p.anonymousId, traits: this.json(p.traits), traits_at: this.json({}), context: this.json(p.context),
      context_at: null, labels: this.json(p.labels), first_seen: p.firstSeen, last_seen: p.lastSeen, created_at: now, updated_at: now,
    }).returning('id').executeTakeFirstOrThrow();
    const id = Number(r.id);
    for (const [kind, key] of [['u', p.userId], ['a', p.anonymousId]] as const) {
      if (key === null) continue;
      // The first profile to claim an id keeps it (prepared data may repeat ids).
      await this.db.insertInto('profile_keys').values({ project_id: projectId, kind, key, profile_id: id }).onConflict((oc) => oc.doNothing()).execute();
    }
    const rows: PendingEvent[] = events.map((e) => ({
      project_id: projectId, profile_id: id, message_id: null, type: 'track', name: e.name, derived: this.bool(isDerivedEvent(e.name)),
      properties: this.json(e.properties), context: e.context, ts: e.timestamp, received_at: now,
    }));
    await this.insertEvents(rows);
    return id;
  }

  // ---------------------------------------------------------------- segments

  private toSegment(r: Database['segments']): SegmentRow {
    return {
      id: r.id, projectId: r.project_id, name: r.name, description: r.description, condition: readJson<Json | null>(r.condition, null),
      template: r.template, params: readJson<JsonObject | null>(r.params, null), createdAt: r.created_at, updatedAt: r.updated_at,
    };
  }

  async insertSegment(s: SegmentRow): Promise<void> {
    await this.db.insertInto('segments').values({
      id: s.id, project_id: s.projectId, name: s.name, description: s.description,
      condition: s.condition === null ? null : this.json(s.condition), template: s.template,
      params: s.params === null ? null : this.json(s.params), created_at: s.createdAt, updated_at: s.updatedAt,
    }).execute();
  }

  async updateSegment(s: SegmentRow): Promise<void> {
    await this.db.updateTable('segments').set({
      name: s.name, description: s.description, condition: s.condition === null ? null : this.json(s.condition),
      template: s.template, params: s.params === null ? null : this.json(s.params), updated_at: s.updatedAt,
    }).where('project_id', '=', s.projectId).where('id', '=', s.id).execute();
  }

  async deleteSegment(projectId: string, id: string): Promise<void> {
    for (const t of ['memberships', 'segment_includes', 'segment_excludes'] as const) {
      await this.db.deleteFrom(t).where('project_id', '=', projectId).where('segment_id', '=', id).execute();
    }
    await this.db.deleteFrom('segments').where('project_id', '=', projectId).where('id', '=', id).execute();
  }

  async getSegment(projectId: string, id: string): Promise<SegmentRow | null> {
    const r = await this.db.selectFrom('segments').selectAll().where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    return r ? this.toSegment(r) : null;
  }

  async listSegments(projectId: string): Promise<SegmentRow[]> {
    const rows = await this.db.selectFrom('segments').selectAll().where('project_id', '=', projectId).orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => this.toSegment(r));
  }

  /** Manual include and exclude entries that concern the given profiles, by segment. */
  async manualListsFor(projectId: string, profileIds: readonly number[]): Promise<Map<string, { include: Set<number>; exclude: Set<number> }>> {
    const out = new Map<string, { include: Set<number>; exclude: Set<number> }>();
    const get = (id: string) => {
      let v = out.get(id);
      if (!v) out.set(id, (v = { include: new Set(), exclude: new Set() }));
      return v;
    };
    for (const c of chunks([...profileIds])) {
      for (const r of await this.db.selectFrom('segment_includes').select(['segment_id', 'profile_id']).where('project_id', '=', projectId).where('profile_id', 'in', c).execute()) get(r.segment_id).include.add(r.profile_id);
      for (const r of await this.db.selectFrom('segment_excludes').select(['segment_id', 'profile_id']).where('project_id', '=', projectId).where('profile_id', 'in', c).execute()) get(r.segment_id).exclude.add(r.profile_id);
    }
    return out;
  }

  /** Replaces a segment's include and exclude lists. */
  async replaceManual(projectId: string, segmentId: string, include: readonly number[], exclude: readonly number[]): Promise<void> {
    for (const t of ['segment_includes', 'segment_excludes'] as const) {
      await this.db.deleteFrom(t).where('project_id', '=', projectId).where('segment_id', '=', segmentId).execute();
    }
    const ex = new Set(exclude);
    for (const c of chunks(include.filter((id) => !ex.has(id)))) {
      await this.db.insertInto('segment_includes').values(c.map((profile_id) => ({ project_id: projectId, segment_id: segmentId, profile_id }))).onConflict((oc) => oc.doNothing()).execute();
    }
    for (const c of chunks([...ex])) {
      await this.db.insertInto('segment_excludes').values(c.map((profile_id) => ({ project_id: projectId, segment_id: segmentId, profile_id }))).onConflict((oc) => oc.doNothing()).execute();
    }
  }

  /** userIds (or anonymousIds where there is none) of a segment's include and exclude lists. */
  async manualIds(projectId: string, segmentId: string): Promise<{ include: string[]; exclude: string[] }> {
    const list = async (table: 'segment_includes' | 'segment_excludes') => {
      const rows = await sql<{ user_id: string | null; anonymous_id: string | null }>`SELECT p.user_id, p.anonymous_id
        FROM ${sql.table(table)} m JOIN profiles p ON p.id = m.profile_id
        WHERE m.project_id = ${projectId} AND m.segment_id = ${segmentId} ORDER BY m.profile_id`.execute(this.db);
      return rows.rows.map((r) => r.user_id ?? r.anonymous_id).filter((x): x is string => x !== null);
    };
    return { include: await list('segment_includes'), exclude: await list('segment_excludes') };
  }

  /** A segment's include and exclude lists as profile ids. */
  async manualProfileIds(projectId: string, segmentId: string): Promise<{ include: number[]; exclude: number[] }> {
    const ids = async (table: 'segment_includes' | 'segment_excludes') =>
      (await this.db.selectFrom(table).select('profile_id').where('project_id', '=', projectId).where('segment_id', '=', segmentId).execute()).map((r) => Number(r.profile_id));
    return { include: await ids('segment_includes'), exclude: await ids('segment_excludes') };
  }

  /** Adds profiles to a segment's include list (and takes them off its exclude list). */
  async include(projectId: string, segmentId: string, profileIds: readonly number[]): Promise<void> {
    for (const c of chunks([...profileIds])) {
      await this.db.insertInto('segment_includes').values(c.map((profile_id) => ({ project_id: projectId, segment_id: segmentId, profile_id })))
        .onConflict((oc) => oc.doNothing()).execute();
      await this.db.deleteFrom('segment_excludes').where('project_id', '=', projectId).where('segment_id', '=', segmentId).where('profile_id', 'in', c).execute();
    }
  }

  /** Takes a profile off a segment's include list; when `exclude`, also excludes it. */
  async removeManual(projectId: string, segmentId: string, profileId: number, exclude: boolean): Promise<void> {
    await this.db.deleteFrom('segment_includes').where('project_id', '=', projectId).where('segment_id', '=', segmentId).where('profile_id', '=', profileId).execute();
    if (exclude) {
      await this.db.insertInto('segment_excludes').values({ project_id: projectId, segment_id: segmentId, profile_id: profileId })
        .onConflict((oc) => oc.doNothing()).execute();
    }
  }

  // ---------------------------------------------------------------- membership

  async membershipsOf(projectId: string, profileIds: readonly number[]): Promise<Map<number, Map<string, number>>> {
    const out = new Map<number, Map<string, number>>();
    for (const c of chunks([...profileIds])) {
      const rows = await this.db.selectFrom('memberships').select(['profile_id', 'segment_id', 'since'])
        .where('project_id', '=', projectId).where('profile_id', 'in', c).execute();
      for (const r of rows) {
        let m = out.get(r.profile_id);
        if (!m) out.set(r.profile_id, (m = new Map()));
        m.set(r.segment_id, r.since);
      }
    }
    return out;
  }

  async applyMembershipChanges(projectId: string, adds: readonly { segmentId: string; profileId: number; since: number }[], removes: readonly { segmentId: string; profileId: number }[]): Promise<void> {
    for (const c of chunks([...adds])) {
      await this.db.insertInto('memberships').values(c.map((a) => ({ project_id: projectId, segment_id: a.segmentId, profile_id: a.profileId, since: a.since })))
        .onConflict((oc) => oc.doNothing()).execute();
    }
    const bySegment = new Map<string, number[]>();
    for (const r of removes) bySegment.set(r.segmentId, [...(bySegment.get(r.segmentId) ?? []), r.profileId]);
    for (const [segmentId, ids] of bySegment) {
      for (const c of chunks(ids)) {
        await this.db.deleteFrom('memberships').where('project_id', '=', projectId).where('segment_id', '=', segmentId).where('profile_id', 'in', c).execute();
      }
    }
  }

  /** The members predicate of a segment over `profiles p`: (condition ∪ include) − exclude. */
  memberPredicate(projectId: string, segmentId: string, condition: RawBuilder<SqlBool> | null): RawBuilder<SqlBool> {
    const cond = condition ?? sql<SqlBool>`${this.sqlDialect.false}`;
    return sql<SqlBool>`((${cond} OR p.id IN (SELECT i.profile_id FROM segment_includes i WHERE i.project_id = ${projectId} AND i.segment_id = ${segmentId}))
      AND p.id NOT IN (SELECT x.profile_id FROM segment_excludes x WHERE x.project_id = ${projectId} AND x.segment_id = ${segmentId}))`;
  }

  /**
   * Recomputes a segment's membership in full from a members predicate: new members get
   * `since = now`, members that stay keep their `since`. Returns the entered and exited ids.
   */
  async recomputeSegment(projectId: string, segmentId: string, members: RawBuilder<SqlBool>, now: number): Promise<{ entered: number[]; exited: number[] }> {
    const current = new Set((await this.db.selectFrom('memberships').select('profile_id').where('project_id', '=', projectId).where('segment_id', '=', segmentId).execute()).map((r) => r.profile_id));
    const next = (await sql<{ id: number }>`SELECT p.id FROM profiles p WHERE p.project_id = ${projectId} AND ${members}`.execute(this.db)).rows.map((r) => Number(r.id));
    const nextSet = new Set(next);
    const entered = next.filter((id) => !current.has(id));
    const exited = [...current].filter((id) => !nextSet.has(id));
    await this.applyMembershipChanges(projectId, entered.map((profileId) => ({ segmentId, profileId, since: now })), exited.map((profileId) => ({ segmentId, profileId })));
    return { entered, exited };
  }

  async countProfiles(projectId: string, where?: RawBuilder<SqlBool>): Promise<number> {
    const r = await sql<{ n: number }>`SELECT count(*) AS n FROM profiles p WHERE p.project_id = ${projectId} AND ${where ?? sql`${this.sqlDialect.true}`}`.execute(this.db);
    return Number(r.rows[0]?.n ?? 0);
  }

  /**
   * Count and first members (by id) of a predicate, evaluating it once: the matching set is
   * materialised, then counted and sampled (a window count or two queries cost twice or more).
   */
  async previewProfiles(projectId: string, where: RawBuilder<SqlBool>, limit: number): Promise<{ count: number; sample: { profileId: number; userId: string | null; anonymousId: string | null }[] }> {
    const r = await sql<{ n: number; id: number | null; user_id: string | null; anonymous_id: string | null }>`
      WITH m AS MATERIALIZED (SELECT p.id, p.user_id, p.anonymous_id FROM profiles p WHERE p.project_id = ${projectId} AND ${where})
      SELECT (SELECT count(*) FROM m) AS n, s.id, s.user_id, s.anonymous_id
      FROM (SELECT 1 AS one) AS one LEFT JOIN (SELECT * FROM m ORDER BY id LIMIT ${limit}) AS s ON TRUE`.execute(this.db);
    return {
      count: Number(r.rows[0]?.n ?? 0),
      sample: r.rows.filter((x) => x.id !== null).map((x) => ({ profileId: Number(x.id), userId: x.user_id, anonymousId: x.anonymous_id })),
    };
  }

  /** Every profile id of a project, in id order. */
  async profileIds(projectId: string): Promise<number[]> {
    return (await this.db.selectFrom('profiles').select('id').where('project_id', '=', projectId).orderBy('id').execute()).map((r) => Number(r.id));
  }

  /** Ids of the profiles matching a predicate (for tests and small recomputations). */
  async matchingIds(projectId: string, where: RawBuilder<SqlBool>): Promise<number[]> {
    const r = await sql<{ id: number }>`SELECT p.id FROM profiles p WHERE p.project_id = ${projectId} AND ${where} ORDER BY p.id`.execute(this.db);
    return r.rows.map((x) => Number(x.id));
  }

  async listMembers(projectId: string, segmentId: string, limit: number, afterProfileId: number | null): Promise<Member[]> {
    let q = this.db.selectFrom('memberships as m').innerJoin('profiles as p', 'p.id', 'm.profile_id')
      // A primary-key probe per member: whether the member was added by hand (on the include list).
      .leftJoin('segment_includes as i', (j) => j.onRef('i.project_id', '=', 'm.project_id').onRef('i.segment_id', '=', 'm.segment_id').onRef('i.profile_id', '=', 'm.profile_id'))
      .select(['m.profile_id', 'm.since', 'p.user_id', 'p.anonymous_id', 'i.profile_id as included'])
      .where('m.project_id', '=', projectId).where('m.segment_id', '=', segmentId);
    if (afterProfileId !== null) q = q.where('m.profile_id', '>', afterProfileId);
    const rows = await q.orderBy('m.profile_id').limit(limit).execute();
    return rows.map((r) => ({ profileId: Number(r.profile_id), since: r.since, userId: r.user_id, anonymousId: r.anonymous_id, manual: r.included !== null }));
  }

  async segmentSizes(projectId: string): Promise<Map<string, number>> {
    const rows = await this.db.selectFrom('memberships').select(['segment_id', (eb) => eb.fn.countAll<number>().as('n')])
      .where('project_id', '=', projectId).groupBy('segment_id').execute();
    return new Map(rows.map((r) => [r.segment_id, Number(r.n)]));
  }

  async segmentSize(projectId: string, segmentId: string): Promise<number> {
    const r = await this.db.selectFrom('memberships').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('project_id', '=', projectId).where('segment_id', '=', segmentId).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  async profileSegments(projectId: string, profileId: number): Promise<{ segmentId: string; name: string; since: number }[]> {
    const rows = await this.db.selectFrom('memberships as m').innerJoin('segments as s', (j) => j.onRef('s.id', '=', 'm.segment_id').onRef('s.project_id', '=', 'm.project_id'))
      .select(['m.segment_id', 's.name', 'm.since']).where('m.project_id', '=', projectId).where('m.profile_id', '=', profileId)
      .orderBy('m.since').orderBy('m.segment_id').execute();
    return rows.map((r) => ({ segmentId: r.segment_id, name: r.name, since: r.since }));
  }

  // ---------------------------------------------------------------- live engine

  /** Profiles in id order after `afterId`, as the engine keeps them. */
  async scanProfiles(projectId: string, afterId: number, limit: number, ids?: readonly number[]): Promise<EngineProfile[]> {
    let q = this.db.selectFrom('profiles').select(['id', 'user_id', 'anonymous_id', 'traits', 'context', 'labels', 'first_seen', 'last_seen'])
      .where('project_id', '=', projectId).where('id', '>', afterId);
    if (ids) q = q.where('id', 'in', ids.length ? [...ids] : [-1]);
    const rows = await q.orderBy('id').limit(limit).execute();
    return rows.map((r) => ({
      id: Number(r.id), key: String(r.id), userId: r.user_id, anonymousId: r.anonymous_id, traits: readJson(r.traits, {}),
      context: readJson(r.context, {}), labels: readJson(r.labels, []), firstSeen: r.first_seen, lastSeen: r.last_seen,
    }));
  }

  /**
   * Events in id order after `afterId` whose name is in `names` (or, with `nonDerived`, any
   * non-derived event), optionally of some profiles only. Contexts are rebuilt only when `context`.
   */
  async scanEvents(projectId: string, filter: { names: readonly string[]; nonDerived: boolean; context: boolean; profileIds?: readonly number[] }, afterId: number, limit: number): Promise<(EngineEvent & { id: number })[]> {
    // SQLite: a scan of every profile's events walks the rowid range from `afterId` (`+project_id`
    // keeps the planner off the project_id indexes, with which each page sorted every later event:
    // a full load read quadratically in its pages).
    const project = this.dialect === 'sqlite' && !filter.profileIds ? sql<string>`+project_id` : 'project_id' as const;
    let q = this.db.selectFrom('events').select(['id', 'profile_id', 'name', 'ts', 'properties', 'context_id', 'context_own'])
      .where(project, '=', projectId).where('id', '>', afterId);
    const names = [...filter.names];
    if (filter.nonDerived) q = q.where((eb) => (names.length ? eb.or([eb('derived', '=', this.bool(false)), eb('name', 'in', names)]) : eb('derived', '=', this.bool(false))));
    else q = q.where('name', 'in', names.length ? names : ['']);
    if (filter.profileIds) q = q.where('profile_id', 'in', filter.profileIds.length ? [...filter.profileIds] : [-1]);
    const rows = await q.orderBy('id').limit(limit).execute();
    const contexts = filter.context ? await this.contextsById(projectId, rows.map((r) => r.context_id)) : null;
    const empty: JsonObject = {};
    return rows.map((r) => ({
      id: Number(r.id), profileId: Number(r.profile_id), name: r.name, timestamp: Number(r.ts), properties: readJson(r.properties, {}),
      context: contexts ? { ...contexts.get(r.context_id)!.value, ...readJson<JsonObject>(r.context_own, {}) } : empty,
    }));
  }

  /** Every membership of a project (segment, profile, since). */
  async allMemberships(projectId: string): Promise<{ segmentId: string; profileId: number; since: number }[]> {
    const rows = await this.db.selectFrom('memberships').select(['segment_id', 'profile_id', 'since']).where('project_id', '=', projectId).execute();
    return rows.map((r) => ({ segmentId: r.segment_id, profileId: Number(r.profile_id), since: Number(r.since) }));
  }

  /** Every manual include and exclude of a project, by segment. */
  async allManualLists(projectId: string): Promise<Map<string, { include: Set<number>; exclude: Set<number> }>> {
    const out = new Map<string, { include: Set<number>; exclude: Set<number> }>();
    const get = (id: string) => {
      let v = out.get(id);
      if (!v) out.set(id, (v = { include: new Set(), exclude: new Set() }));
      return v;
    };
    for (const r of await this.db.selectFrom('segment_includes').select(['segment_id', 'profile_id']).where('project_id', '=', projectId).execute()) get(r.segment_id).include.add(Number(r.profile_id));
    for (const r of await this.db.selectFrom('segment_excludes').select(['segment_id', 'profile_id']).where('project_id', '=', projectId).execute()) get(r.segment_id).exclude.add(Number(r.profile_id));
    return out;
  }

  async projectIds(): Promise<string[]> {
    return (await this.db.selectFrom('projects').select('id').orderBy('id').execute()).map((r) => r.id);
  }

  /** The instant up to which the engine applied everything for a project (null: never ran). */
  async engineClock(projectId: string): Promise<number | null> {
    const r = await this.db.selectFrom('engine_state').select('clock').where('project_id', '=', projectId).executeTakeFirst();
    return r ? Number(r.clock) : null;
  }

  async setEngineClock(projectId: string, clock: number): Promise<void> {
    await this.db.insertInto('engine_state').values({ project_id: projectId, clock })
      .onConflict((oc) => oc.column('project_id').doUpdateSet({ clock })).execute();
  }

  /** Appends membership history; returns the new entries' ids in the order given. */
  async recordHistory(projectId: string, rows: readonly { segmentId: string; profileId: number; kind: 'entered' | 'exited'; at: number; reason: MembershipReason }[]): Promise<number[]> {
    const ids: number[] = [];
    for (const c of chunks([...rows])) {
      const out = await this.db.insertInto('membership_history')
        .values(c.map((r) => ({ project_id: projectId, segment_id: r.segmentId, profile_id: r.profileId, kind: r.kind, at: r.at, reason: r.reason })))
        .returning(['id', 'segment_id', 'profile_id', 'kind']).execute();
      // Rows come back in the order of VALUES on both stores; checked, since ids become webhook message ids.
      out.forEach((o, i) => {
        const want = c[i]!;
        if (o.segment_id !== want.segmentId || Number(o.profile_id) !== want.profileId || o.kind !== want.kind) throw new Error('history ids came back out of order');
        ids.push(Number(o.id));
      });
    }
    await this.addDailyChanges(projectId, rows);
    return ids;
  }

  /** Adds history rows to the per-day counts of segment_daily (one upsert per segment and day). */
  private async addDailyChanges(projectId: string, rows: readonly { segmentId: string; kind: 'entered' | 'exited'; at: number }[]): Promise<void> {
    const byKey = new Map<string, { segment_id: string; day: number; entered: number; exited: number }>();
    for (const r of rows) {
      const day = Math.floor(r.at / DAY_MS);
      const key = `${day}\u0000${r.segmentId}`;
      let d = byKey.get(key);
      if (!d) byKey.set(key, (d = { segment_id: r.segmentId, day, entered: 0, exited: 0 }));
      if (r.kind === 'entered') d.entered++; else d.exited++;
    }
    for (const c of chunks([...byKey.values()])) {
      await this.db.insertInto('segment_daily').values(c.map((d) => ({ project_id: projectId, ...d })))
        .onConflict((oc) => oc.columns(['project_id', 'segment_id', 'day']).doUpdateSet((eb) => ({
          entered: eb('segment_daily.entered', '+', eb.ref('excluded.entered')),
          exited: eb('segment_daily.exited', '+', eb.ref('excluded.exited')),
        }))).execute();
    }
  }

  /** History of a segment or a profile, newest first, before `beforeId`. */
  async history(projectId: string, by: { segmentId: string } | { profileId: number }, limit: number, beforeId: number | null): Promise<HistoryEntry[]> {
    let q = this.db.selectFrom('membership_history').select(['id', 'segment_id', 'profile_id', 'kind', 'at', 'reason']).where('project_id', '=', projectId);
    q = 'segmentId' in by ? q.where('segment_id', '=', by.segmentId) : q.where('profile_id', '=', by.profileId);
    if (beforeId !== null) q = q.where('id', '<', beforeId);
    const rows = await q.orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => ({ id: Number(r.id), segmentId: r.segment_id, profileId: Number(r.profile_id), kind: r.kind, at: Number(r.at), reason: r.reason as MembershipReason }));
  }

  /** Writes events Strata derives itself (`$segment_entered`, …): no message id, an empty context. */
  async insertDerivedEvents(projectId: string, rows: readonly { profileId: number; name: string; properties: JsonObject; timestamp: number }[]): Promise<void> {
    await this.insertEvents(rows.map((r) => ({
      project_id: projectId, profile_id: r.profileId, message_id: null, type: 'derived', name: r.name, derived: this.bool(true),
      properties: this.json(r.properties), context: {}, ts: r.timestamp, received_at: r.timestamp,
    })));
  }
}

const minOrNull = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
const maxOrNull = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

/**
 * An event whose JSON columns are parsed on first access: evaluation reads properties only of
 * events whose name a condition asks for, and context rarely.
 */
function lazyEvent(name: string, timestamp: number, properties: unknown, shared: { readonly value: JsonObject }, own: unknown): EventRecord {
  let p: JsonObject | undefined, c: JsonObject | undefined;
  return {
    name,
    timestamp,
    get properties() { return (p ??= readJson(properties, {})); },
    get context() { return (c ??= { ...shared.value, ...readJson<JsonObject>(own, {}) }); },
  };
}

/** Contexts split already: a visit row shares its first event's context object, which is split once. */
const splitDone = new WeakMap<JsonObject, { shared: string; own: string }>();

/**
 * The shared part of a context (stored once per distinct value) and the event's own part, as JSON.
 * `json`: the whole context as JSON already (an ingested item's), used as it is when all of it is shared.
 */
function splitContext(context: JsonObject, json?: string): { shared: string; own: string } {
  const done = splitDone.get(context);
  if (done) return done;
  let hasOwn = false;
  for (const k in context) if (EVENT_OWN_CONTEXT_KEYS.has(k)) { hasOwn = true; break; }
  let out: { shared: string; own: string };
  if (!hasOwn) out = { shared: json ?? JSON.stringify(context), own: '{}' };
  else {
    const shared: JsonObject = {}, own: JsonObject = {};
    for (const [k, v] of Object.entries(context)) (EVENT_OWN_CONTEXT_KEYS.has(k) ? own : shared)[k] = v;
    out = { shared: JSON.stringify(shared), own: JSON.stringify(own) };
  }
  splitDone.set(context, out);
  return out;
}
