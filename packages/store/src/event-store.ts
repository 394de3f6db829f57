import { createHash } from 'node:crypto';
import { CompiledQuery, sql, type Insertable, type RawBuilder, type SqlBool } from 'kysely';
import type { EventRecord, JsonObject, SqlDialect } from '@strata/core';
import { EVENT_OWN_CONTEXT_KEYS, MAX_JSON_DEPTH, visitOf } from '@strata/core';
import type { Database } from './schema.ts';
import type { StoreHandle } from './store-handle.ts';
import type { EngineEvent, IngestItem, StoredEvent } from './types.ts';
import { chunks, multiRowInsert, readJson, sqlBool } from './util.ts';

/** An event row before its context is resolved to a stored context id. */
export type PendingEvent = Omit<Insertable<Database['events']>, 'context_id' | 'context_own'> & {
  context: JsonObject;
  /** The whole context as JSON already (an ingested item's). */
  contextJson?: string;
  /** A context stored already (a re-derived visit shares its first event's row as it is). */
  stored?: StoredContext;
};

/** How a row's context is stored: its shared part's row, and the keys it keeps as its own (JSON). */
export interface StoredContext { readonly contextId: number; readonly own: string }

/**
 * Stored context ids by project and JSON text. The committed map is shared by a store and every
 * transaction on it (bounded); what a transaction stores joins it only when that transaction
 * commits (`commit`), so a rolled-back row is never pointed at.
 */
export class ContextIds {
  /** Contexts stored by this store or transaction, not yet shared. */
  private readonly fresh = new Map<string, number>();
  constructor(private readonly committed = new Map<string, number>()) {}

  get(key: string): number | undefined {
    return this.fresh.get(key) ?? this.committed.get(key);
  }

  add(key: string, id: number): void {
    this.fresh.set(key, id);
  }

  /** The ids a new transaction sees: the committed ones, and its own. */
  forTransaction(): ContextIds {
    return new ContextIds(this.committed);
  }

  /** Shares what this transaction stored, once it has committed. */
  commit(): void {
    if (this.fresh.size === 0) return;
    if (this.committed.size > 50_000) this.committed.clear();
    for (const [k, v] of this.fresh) this.committed.set(k, v);
  }

  /** Drops ids whose rows were deleted (an erasure): a later event with that context stores it again. */
  forget(ids: ReadonlySet<number>): void {
    for (const cache of [this.committed, this.fresh]) {
      for (const [k, v] of cache) if (ids.has(v)) cache.delete(k);
    }
  }
}

/** What the event store needs: the handle and the context ids of its store or transaction. */
export interface EventHandle extends StoreHandle {
  readonly contexts: ContextIds;
  readonly sqlDialect: SqlDialect;
}

const EVENT_COLUMNS = ['project_id', 'profile_id', 'message_id', 'type', 'name', 'derived', 'properties', 'context_id', 'context_own', 'ts', 'received_at'] as const;


/**
 * Events and their contexts: the bulk write of ingest, the `$session` and derived rows Strata
 * writes itself, and the reads that rebuild an event's context (its shared row, stored once
 * per distinct value, with its own keys over it).
 */
export class EventStore {
  constructor(private readonly store: EventHandle) {}

  /**
   * Events are the one bulk write on the hot path: the INSERT text is built once per row count
   * instead of a query-builder tree per batch.
   */
  async insert(pending: readonly PendingEvent[]): Promise<readonly StoredContext[]> {
    if (pending.length === 0) return [];
    const contexts = await this.storedContexts(pending);
    let i = 0;
    for (const c of chunks(pending)) {
      const params: unknown[] = [];
      for (const r of c) {
        const { contextId, own } = contexts[i++]!;
        params.push(r.project_id, r.profile_id, r.message_id ?? null, r.type, r.name, r.derived, r.properties, contextId, own, r.ts, r.received_at);
      }
      await this.store.db.executeQuery(CompiledQuery.raw(multiRowInsert(this.store.dialect, 'events', EVENT_COLUMNS, c.length), params));
    }
    return contexts;
  }

  /** Each row's stored context (its shared part's id, stored when new) and the keys it keeps as its own. */
  private async storedContexts(pending: readonly PendingEvent[]): Promise<StoredContext[]> {
    const split = pending.map((r) => (r.stored ? { shared: '', own: r.stored.own } : splitContext(r.context, r.contextJson)));
    const ids = await this.contextIds(pending[0]!.project_id, split.filter((_, i) => !pending[i]!.stored).map((x) => x.shared));
    return pending.map((r, i) => (r.stored ? r.stored : { contextId: ids.get(split[i]!.shared)!, own: split[i]!.own }));
  }

  /**
   * Moves `$session` rows to a new start (SQLite): each row of a profile's visit at `from` takes
   * the time, properties and context of `row`, the visit that replaces it (a late event came
   * just before the visit's first one). One UPDATE in place instead of a delete and an insert:
   * the row keeps its id, so its entries in the message-id index (none: NULL) and, most often, the
   * context index stay where they are (docs/architecture.md, "Events by name").
   */
  async moveVisits(moves: readonly { profileId: number; from: number; row: PendingEvent }[]): Promise<void> {
    if (moves.length === 0) return;
    // Only the embedded store keeps the event times that decide moves in memory (`LateVisits`).
    if (this.store.dialect !== 'sqlite') throw new Error('moveVisits is written for SQLite: on PostgreSQL late visits are derived from the rows read');
    const projectId = moves[0]!.row.project_id;
    const contexts = await this.storedContexts(moves.map((m) => m.row));
    let i = 0;
    for (const c of chunks(moves, 200)) {
      const params: unknown[] = [];
      for (const m of c) {
        const { contextId, own } = contexts[i++]!;
        params.push(m.profileId, m.from, m.row.ts, m.row.properties, contextId, own, m.row.received_at);
      }
      params.push(projectId);
      // The moved row is found by profile and time through the profile index (as the late-visits delete is).
      await this.store.db.executeQuery(CompiledQuery.raw(`WITH m (pid, old, ts, properties, context_id, context_own, received_at) AS (VALUES ${Array.from({ length: c.length }, () => '(?, ?, ?, ?, ?, ?, ?)').join(', ')})
        UPDATE events SET ts = m.ts, properties = m.properties, context_id = m.context_id, context_own = m.context_own, received_at = m.received_at FROM m
        WHERE events.id = (SELECT e.id FROM events e INDEXED BY events_profile WHERE e.project_id = ? AND e.profile_id = m.pid AND e.ts = m.old AND e.name = '$session')`, params));
    }
  }

  /** A `$session` visit's row: derived, at its first event's time and with its context. */
  sessionRow(projectId: string, profileId: number, visit: JsonObject, context: JsonObject, ts: number, receivedAt: number): PendingEvent {
    return {
      project_id: projectId, profile_id: profileId, message_id: null, type: 'session', name: '$session',
      derived: sqlBool(this.store.dialect, true), properties: JSON.stringify(visit), context, ts, received_at: receivedAt,
    };
  }

  /** The `$session` visit an ingested item starts: its row, and the event as the engine is given it. */
  visitStartedBy(projectId: string, profileId: number, item: IngestItem, stored?: StoredContext): { row: PendingEvent; event: EngineEvent } {
    const visit = visitOf(item.type, item.properties, item.context);
    const row = this.sessionRow(projectId, profileId, visit, item.context, item.timestamp, item.receivedAt);
    return {
      // `stored`: the item's own row's stored context, which the visit shares (no second split and lookup).
      row: stored ? { ...row, stored } : row,
      event: { profileId, name: '$session', timestamp: item.timestamp, properties: visit, context: item.context },
    };
  }

  /**
   * Writes events Strata derives itself (`$segment_entered`, …): no message id, an empty context,
   * received when they were derived (`derivedAt`, never before their own time) — so that those a
   * late event causes go to the end of the events-by-name index, as the late event itself does.
   */
  async insertDerived(projectId: string, rows: readonly { profileId: number; name: string; properties: JsonObject; timestamp: number }[], derivedAt: number): Promise<void> {
    if (rows.length === 0) return;
    // Rows as `insert` writes them, built straight into parameters: with 200 segments there are
    // several per ingested event, and all of them share the empty context's row.
    const contextId = (await this.contextIds(projectId, [EMPTY_SPLIT.shared])).get(EMPTY_SPLIT.shared)!;
    const derived = sqlBool(this.store.dialect, true);
    for (const c of chunks(rows)) {
      const params: unknown[] = [];
      for (const r of c) {
        params.push(projectId, r.profileId, null, 'derived', r.name, derived, JSON.stringify(r.properties), contextId, EMPTY_SPLIT.own, r.timestamp, Math.max(r.timestamp, derivedAt));
      }
      await this.store.db.executeQuery(CompiledQuery.raw(multiRowInsert(this.store.dialect, 'events', EVENT_COLUMNS, c.length), params));
    }
  }

  /** Stored ids of context JSON texts of one project, storing the ones not seen before. */
  private async contextIds(projectId: string, jsons: readonly string[]): Promise<Map<string, number>> {
    const { db, contexts } = this.store;
    const out = new Map<string, number>();
    const missing = new Map<string, string>();
    for (const j of jsons) {
      if (out.has(j) || missing.has(j)) continue;
      const id = contexts.get(`${projectId}\u0000${j}`);
      if (id !== undefined) out.set(j, id);
      else missing.set(j, createHash('sha1').update(j).digest('base64'));
    }
    if (missing.size === 0) return out;
    const byHash = new Map([...missing].map(([j, h]) => [h, j]));
    const remember = (hash: string, id: number) => {
      const j = byHash.get(hash)!;
      out.set(j, id);
      contexts.add(`${projectId}\u0000${j}`, id);
      byHash.delete(hash);
    };
    const readStored = async () => {
      for (const c of chunks([...byHash.keys()])) {
        for (const r of await db.selectFrom('contexts').select(['id', 'hash']).where('project_id', '=', projectId).where('hash', 'in', c).execute()) remember(r.hash, Number(r.id));
      }
    };
    await readStored();
    if (byHash.size) {
      const rows = [...byHash].map(([hash, json]) => ({ project_id: projectId, hash, json }));
      for (const c of chunks(rows)) {
        const ins = await db.insertInto('contexts').values(c).onConflict((oc) => oc.columns(['project_id', 'hash']).doNothing()).returning(['id', 'hash']).execute();
        for (const r of ins) remember(r.hash, Number(r.id));
      }
      // Another writer may have stored some of them first.
      await readStored();
    }
    return out;
  }

  /** Context rows by id, each parsed at most once (lazily). */
  async contextsById(projectId: string, ids: readonly number[]): Promise<Map<number, { readonly value: JsonObject }>> {
    const out = new Map<number, { readonly value: JsonObject }>();
    for (const c of chunks([...new Set(ids)])) {
      for (const r of await this.store.db.selectFrom('contexts').select(['id', 'json']).where('project_id', '=', projectId).where('id', 'in', c).execute()) {
        let parsed: JsonObject | undefined;
        out.set(Number(r.id), { get value() { return (parsed ??= readJson<JsonObject>(r.json, {})); } });
      }
    }
    return out;
  }

  /** The given message ids that events of the project already have (what ingest drops as duplicates; an import's dry run counts them). */
  async storedMessageIds(projectId: string, messageIds: Iterable<string>, into = new Set<string>()): Promise<Set<string>> {
    for (const c of chunks([...new Set(messageIds)])) {
      const found = await this.store.db.selectFrom('events').select('message_id')
        .where('project_id', '=', projectId).where('message_id', 'in', c).execute();
      for (const f of found) into.add(f.message_id!);
    }
    return into;
  }

  /** All events of the given profiles, by profile, for in-memory evaluation (JSON parsed on first access). */
  async recordsOf(projectId: string, profileIds: readonly number[]): Promise<Map<number, EventRecord[]>> {
    const events = new Map<number, EventRecord[]>();
    for (const c of chunks([...profileIds])) {
      const rows = await this.store.db.selectFrom('events').select(['profile_id', 'name', 'ts', 'properties', 'context_id', 'context_own'])
        .where('project_id', '=', projectId).where('profile_id', 'in', c).execute();
      const contexts = await this.contextsById(projectId, rows.map((r) => r.context_id));
      for (const r of rows) {
        let list = events.get(r.profile_id);
        if (!list) events.set(r.profile_id, (list = []));
        list.push(lazyEvent(r.name, r.ts, r.properties, contexts.get(r.context_id)!, r.context_own));
      }
    }
    return events;
  }

  /** A profile's events, newest first, before the event `beforeId`. */
  async profileEvents(projectId: string, profileId: number, limit: number, beforeId?: number): Promise<StoredEvent[]> {
    let q = this.store.db.selectFrom('events').selectAll().where('project_id', '=', projectId).where('profile_id', '=', profileId);
    if (beforeId !== undefined) q = q.where('id', '<', beforeId);
    const rows = await q.orderBy('ts', 'desc').orderBy('id', 'desc').limit(limit).execute();
    const contexts = await this.contextsById(projectId, rows.map((r) => r.context_id));
    return rows.map((r) => ({
      id: Number(r.id), type: r.type, messageId: r.message_id, name: r.name, timestamp: r.ts, receivedAt: r.received_at,
      properties: readJson(r.properties, {}), context: withOwn(contexts.get(r.context_id)!.value, r.context_own),
    }));
  }

  /**
   * Events in id order after `afterId` whose name is in `names` (or, with `nonDerived`, any
   * non-derived event), optionally of some profiles only. Contexts are rebuilt only when `context`.
   */
  async scan(projectId: string, filter: { names: readonly string[]; nonDerived: boolean; context: boolean; profileIds?: readonly number[] }, afterId: number, limit: number): Promise<(EngineEvent & { id: number })[]> {
    const { db, dialect } = this.store;
    // SQLite: a scan of every profile's events walks the rowid range from `afterId` (`+project_id`
    // keeps the planner off the project_id indexes, with which each page sorted every later event:
    // a full load read quadratically in its pages).
    const project = dialect === 'sqlite' && !filter.profileIds ? sql<string>`+project_id` : 'project_id' as const;
    let q = db.selectFrom('events').select(['id', 'profile_id', 'name', 'ts', 'properties', 'context_id', 'context_own'])
      .where(project, '=', projectId).where('id', '>', afterId);
    const names = [...filter.names];
    const own = sqlBool(dialect, false);
    if (filter.nonDerived) q = q.where((eb) => (names.length ? eb.or([eb('derived', '=', own), eb('name', 'in', names)]) : eb('derived', '=', own)));
    else q = q.where('name', 'in', names.length ? names : ['']);
    if (filter.profileIds) q = q.where('profile_id', 'in', filter.profileIds.length ? [...filter.profileIds] : [-1]);
    const rows = await q.orderBy('id').limit(limit).execute();
    const contexts = filter.context ? await this.contextsById(projectId, rows.map((r) => r.context_id)) : null;
    const empty: JsonObject = {};
    return rows.map((r) => ({
      id: Number(r.id), profileId: Number(r.profile_id), name: r.name, timestamp: Number(r.ts), properties: readJson(r.properties, {}),
      context: contexts ? withOwn(contexts.get(r.context_id)!.value, r.context_own) : empty,
    }));
  }

  /**
   * The events `scan` gives (of every profile), as columns: no event object is built and no
   * properties are parsed — the database extracts each top-level property of `keys` as JSON
   * text (`properties -> key`), which the engine parses once per distinct text. With `since`
   * and names only, the events of those names at that time or later, all in one page, by name,
   * time, profile and id (`afterId` and `limit` unused); otherwise a page in id order.
   */
  async scanColumns(projectId: string, filter: { names: readonly string[]; nonDerived: boolean; since?: number }, keys: readonly string[], afterId: number, limit: number): Promise<EventColumnsPage> {
    const { db, dialect } = this.store;
    // Some names from a time on: all of them at once, from the events-by-name
    // index, which gives just those rows (a page in id order would walk the whole table);
    // otherwise pages in id order (SQLite walking the rowid range, see `scan`).
    const windowed = filter.since !== undefined && !filter.nonDerived;
    const project = dialect === 'sqlite' && !windowed ? sql<string>`+project_id` : 'project_id' as const;
    // SQLite's `->` gives a property's JSON text; PostgreSQL's gives jsonb, read back as text.
    // Only on properties too short to nest past the depth limit: a longer one is read whole
    // and parsed (`readJson`: read as missing, with a warning, when it nests too deep — as
    // `scan` reads it; SQLite's `->` would fail on one nesting past its own limit).
    const size = dialect === 'sqlite' ? sql`octet_length(properties)` : sql`octet_length(properties::text)`;
    const short = sql<boolean>`${size} < ${SHORT_JSON}`;
    const extract = (key: string) => (dialect === 'sqlite' ? sql<string | null>`CASE WHEN ${short} THEN properties -> ${key} END` : sql<string | null>`CASE WHEN ${short} THEN (properties -> ${key}::text)::text END`);
    let q = db.selectFrom('events').select(['id', 'profile_id', 'name', 'ts']).select(keys.map((k, i) => extract(k).as(`k${i}`)))
      .where(project, '=', projectId).where('id', '>', afterId);
    if (keys.length) q = q.select(sql<unknown>`CASE WHEN ${short} THEN NULL ELSE properties END`.as('whole'));
    if (filter.since !== undefined) q = q.where(this.store.sqlDialect.seenFrom(null, filter.since) as RawBuilder<SqlBool>).where('ts', '>=', filter.since);
    const names = [...filter.names];
    const own = sqlBool(dialect, false);
    if (filter.nonDerived) q = q.where((eb) => (names.length ? eb.or([eb('derived', '=', own), eb('name', 'in', names)]) : eb('derived', '=', own)));
    else q = q.where('name', 'in', names.length ? names : ['']);
    const rows = (await (windowed ? q.orderBy('name').orderBy('ts').orderBy('profile_id').orderBy('id') : q.orderBy('id').limit(limit)).execute()) as unknown as Record<string, unknown>[];
    const n = rows.length;
    const page: EventColumnsPage = {
      count: n, ids: new Float64Array(n), profileIds: new Float64Array(n), times: new Float64Array(n), names: new Array<string>(n),
      props: keys.map(() => new Array<string | null>(n)), whole: new Map(),
    };
    const cols = keys.map((_k, i) => `k${i}`);
    for (let i = 0; i < n; i++) {
      const r = rows[i]!;
      page.ids[i] = Number(r.id);
      page.profileIds[i] = Number(r.profile_id);
      page.times[i] = Number(r.ts);
      page.names[i] = r.name as string;
      if (r.whole !== null && r.whole !== undefined) page.whole.set(i, readJson<JsonObject>(r.whole, {}));
      for (let k = 0; k < cols.length; k++) page.props[k]![i] = (r[cols[k]!] as string | null | undefined) ?? null;
    }
    return page;
  }
}

/**
 * A page of events as columns (EventStore.scanColumns): row i is event `ids[i]` of profile
 * `profileIds[i]`, named `names[i]`, at `times[i]`; `props[k][i]` is the JSON text of its
 * top-level property `keys[k]` (null: absent) — unless `whole` has row i: then its properties
 * are given whole, parsed (those long enough to nest past the depth limit).
 */
export interface EventColumnsPage {
  readonly count: number;
  readonly ids: Float64Array;
  readonly profileIds: Float64Array;
  readonly times: Float64Array;
  readonly names: string[];
  readonly props: (string | null)[][];
  readonly whole: Map<number, JsonObject>;
}

/** Properties shorter than this (in bytes) cannot nest past MAX_JSON_DEPTH (two characters a level): `readJson`'s own bound. */
const SHORT_JSON = 2 * (MAX_JSON_DEPTH + 1);

/** An event's whole context: its shared part with its own keys over it. */
export const withOwn = (shared: JsonObject, own: unknown): JsonObject => ({ ...shared, ...readJson<JsonObject>(own, {}) });

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
    get context() { return (c ??= withOwn(shared.value, own)); },
  };
}

/** An empty context's split (every derived event's): no object is looked at. */
const EMPTY_SPLIT: { shared: string; own: string } = { shared: '{}', own: '{}' };

/**
 * The last context split, and its result: a `$session` row shares its first event's context
 * object and is written just before it, so that object is split once. (A WeakMap of every
 * context split held an entry per event written, over a million of them on a bulk ingest, and
 * cost more than the splitting it saved.) The split is a function of the object alone.
 */
let lastSplit: { context: JsonObject; out: { shared: string; own: string } } | null = null;

/**
 * The shared part of a context (stored once per distinct value) and the event's own part, as JSON.
 * `json`: the whole context as JSON already (an ingested item's), used as it is when all of it is shared.
 */
function splitContext(context: JsonObject, json?: string): { shared: string; own: string } {
  if (lastSplit !== null && lastSplit.context === context) return lastSplit.out;
  let hasOwn = false, empty = true;
  for (const k in context) {
    empty = false;
    if (EVENT_OWN_CONTEXT_KEYS.has(k)) { hasOwn = true; break; }
  }
  if (empty) return EMPTY_SPLIT;
  let out: { shared: string; own: string };
  if (!hasOwn) out = { shared: json ?? JSON.stringify(context), own: '{}' };
  else {
    const shared: JsonObject = {}, own: JsonObject = {};
    for (const [k, v] of Object.entries(context)) (EVENT_OWN_CONTEXT_KEYS.has(k) ? own : shared)[k] = v;
    out = { shared: JSON.stringify(shared), own: JSON.stringify(own) };
  }
  lastSplit = { context, out };
  return out;
}
