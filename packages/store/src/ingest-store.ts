import { CompiledQuery, sql } from 'kysely';
import type { JsonObject } from '@strata/core';
import { isDerivedEvent } from '@strata/core';
import type { EventStore, PendingEvent } from './event-store.ts';
import { LateVisits, type LateItem } from './late-visits.ts';
import { mergeMissions } from './mission-store.ts';
import { mergePoints } from './points-store.ts';
import type { KeptRecord, ProfileRecords } from './profile-records.ts';
import type { ProfileRow, ProfileStore } from './profile-store.ts';
import { mergeRewards } from './reward-store.ts';
import type { StoreHandle } from './store-handle.ts';
import type { EngineEvent, EngineProfile, IngestItem, IngestOutcome } from './types.ts';
import { chunks, multiRowInsert, readJson, sqlBool } from './util.ts';
import type { VisitTimes } from './visit-store.ts';

/** The profiles one batch creates on PostgreSQL before their ids are drawn (`IngestStore.numberNew`). */
interface NewProfiles {
  /** The next stand-in id (negative: never a profile's). */
  next: number;
  /** Stand-ins waiting for their ids, in the order their profiles were created. */
  waiting: number[];
  /** Each stand-in numbered so far → its profile's id. */
  ids: Map<number, number>;
}

/** A profile as one batch changes it, written back once at the end (`saveWorking`). */
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
 * Ingest: a batch of validated items stored in the caller's transaction, with identity
 * resolution (keys to profiles, created, upgraded or merged), traits, context and
 * first/last-seen merged into the profile, and `$session` visits derived (late events and
 * merges through `late-visits.ts`).
 */
export class IngestStore {
  private readonly lateVisits: LateVisits;
  /**
   * Per project, the messageIds read ahead for this transaction (`expectMessageIds`) and those of
   * them stored, kept up to date by every `ingest` of it: a batch whose ids are all among them is
   * de-duplicated without a statement of its own. (A store object lives for one transaction.)
   */
  private readonly readAhead = new Map<string, { asked: Set<string>; stored: Set<string> }>();

  constructor(private readonly store: StoreHandle & { readonly visitTimes: VisitTimes | null; readonly profileRecords: ProfileRecords | null }, private readonly events: EventStore, private readonly profiles: ProfileStore) {
    this.lateVisits = new LateVisits(store, events);
  }

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
    const news: NewProfiles = { next: -1, waiting: [], ids: new Map() };

    for (const item of fresh) {
      const pid = await this.resolve(projectId, item, keys, pendingKeys, working, merges, news);
      rows.push({ item, profileId: pid });
    }
    // The profiles this batch created get their ids now, all in one statement (PostgreSQL).
    await this.numberNew(projectId, news, keys, working);
    if (news.ids.size) for (const r of rows) r.profileId = news.ids.get(r.profileId) ?? r.profileId;

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
    const lateItems = new Map<number, Map<number, LateItem>>();
    // Each late item's own row (its index in eventRows, pushed right after): a visit it starts shares that row's stored context.
    const lateRows: LateItem[] = [];
    const keepLate = (profileId: number, item: IngestItem) => {
      let at = lateItems.get(profileId);
      if (!at) lateItems.set(profileId, (at = new Map()));
      const had = at.get(item.timestamp);
      if (had) had.n++;
      else {
        const late: LateItem = { item, n: 1, row: eventRows.length };
        at.set(item.timestamp, late);
        lateRows.push(late);
      }
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
            const { row, event } = this.events.visitStartedBy(projectId, profileId, item);
            eventRows.push(row);
            engineEvents.push(event);
          }
          const times = inOrder.get(profileId);
          if (times) times.push(item.timestamp);
          else inOrder.set(profileId, [item.timestamp]);
        }
        if (w.lastSeenBefore === null || item.timestamp > w.lastSeenBefore) w.lastSeenBefore = item.timestamp;
      }
      eventRows.push({
        project_id: projectId, profile_id: profileId, message_id: item.messageId, type: item.type, name: item.name,
        derived: sqlBool(this.store.dialect, derived), properties: item.propertiesJson ?? JSON.stringify(item.properties), context: item.context,
        contextJson: item.contextJson, ts: item.timestamp, received_at: item.receivedAt,
      });
      engineEvents.push({ profileId, name: item.name, timestamp: item.timestamp, properties: item.properties, context: item.context });
    }
    const contexts = await this.events.insert(eventRows);
    for (const late of lateRows) late.stored = contexts[late.row!];
    const ahead = this.readAhead.get(projectId);
    if (ahead) for (const i of fresh) { ahead.asked.add(i.messageId); ahead.stored.add(i.messageId); }
    await this.writeKeys(projectId, pendingKeys, keys);
    await this.saveWorking(projectId, working, now);
    // Every id the batch named, as the store now has it (merges applied), kept with its profile's record.
    const kept = this.store.profileRecords;
    if (kept) for (const [k, id] of keys) kept.keepId(projectId, k, id);
    const { removed: removedVisits, added } = await this.lateVisits.apply(projectId, working.values(), inOrder, sessionTimeoutMs, lateItems);
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
    const unchanged = new Set([...working.values()].filter((w) => !w.dirty && touched.has(w.id)).map((w) => w.id));
    return { stored: fresh.length, duplicates, touched, merges, records, unchanged, events: engineEvents, reload, removedVisits };
  }

  /**
   * Reads which of `messageIds` are stored, once, for the batches this transaction is about to
   * ingest (the membership worker's records: on PostgreSQL each statement is a round trip, and a
   * log on NATS gives many small records). Only `ingest` writes events with a messageId in such a
   * transaction, and it adds what it stores, so the set stays what a read would answer.
   */
  async expectMessageIds(projectId: string, messageIds: Iterable<string>): Promise<void> {
    const asked = new Set(messageIds);
    this.readAhead.set(projectId, { asked, stored: await this.events.storedMessageIds(projectId, asked) });
  }

  private async dropDuplicates(projectId: string, items: readonly IngestItem[]): Promise<IngestItem[]> {
    const ahead = this.readAhead.get(projectId);
    const seen = ahead && items.every((i) => ahead.asked.has(i.messageId))
      ? new Set(items.filter((i) => ahead.stored.has(i.messageId)).map((i) => i.messageId))
      : await this.events.storedMessageIds(projectId, items.map((i) => i.messageId));
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
    // Ids of profiles kept in memory (the embedded store) are not looked up again.
    const kept = this.store.profileRecords;
    const known = new Map<string, number>();
    if (kept) {
      for (const [kind, ids] of [['u', users], ['a', anons]] as const) {
        for (const id of ids) {
          const profileId = kept.profileOf(projectId, `${kind}:${id}`);
          if (profileId === undefined) continue;
          known.set(`${kind}:${id}`, profileId);
          ids.delete(id);
        }
      }
    }
    // Both kinds in one round trip: on PostgreSQL each statement is one, and a log on NATS gives many small records.
    const found = await this.profiles.keysOfKinds(projectId, users, anons);
    for (const [k, id] of known) found.set(k, id);
    return found;
  }

  /**
   * The working copies of profiles not yet in `into`: from the kept records where they are
   * (`ProfileRecords`, the embedded store), else read from their rows (and kept from then on).
   */
  private async loadWorking(projectId: string, ids: number[], into: Map<number, WorkingProfile>): Promise<void> {
    const kept = this.store.profileRecords;
    const missing: number[] = [];
    for (const id of ids) {
      if (into.has(id)) continue;
      const r = kept?.get(projectId, id);
      if (r) into.set(id, working(id, r));
      else missing.push(id);
    }
    for (const c of chunks(missing)) {
      const rows = await this.store.db.selectFrom('profiles').selectAll().where('project_id', '=', projectId).where('id', 'in', c).execute();
      for (const r of rows as ProfileRow[]) {
        const record: KeptRecord = {
          userId: r.user_id, anonymousId: r.anonymous_id, traits: readJson(r.traits, {}), traitsAt: readJson(r.traits_at, {}), context: readJson(r.context, {}),
          contextAt: r.context_at, labels: readJson(r.labels, []), firstSeen: r.first_seen, lastSeen: r.last_seen, createdAt: r.created_at,
        };
        kept?.put(projectId, r.id, record);
        into.set(r.id, working(r.id, record));
      }
    }
  }

  /**
   * A new profile. On SQLite its row is inserted at once (a call in the process); on PostgreSQL,
   * where each statement is a round trip, it gets a stand-in id (negative) until `numberNew` draws
   * the real ids of all the batch's new profiles at once, in the order they were created (so the
   * same ids as one INSERT each), and its row is written with the batch's other profile records
   * (`saveWorking`, which inserts the rows that do not exist yet).
   */
  private async createProfile(projectId: string, userId: string | null, anonymousId: string | null, now: number, working: Map<number, WorkingProfile>, news: NewProfiles): Promise<number> {
    let id: number;
    if (this.store.dialect === 'postgres') {
      id = news.next--;
      news.waiting.push(id);
    } else {
      id = await this.profiles.create(projectId, userId, anonymousId, now);
    }
    working.set(id, {
      id, userId, anonymousId, traits: {}, traitsAt: {}, context: {}, contextAt: null, labels: [], firstSeen: null, lastSeen: null,
      createdAt: now, lastSeenBefore: null, rebuildVisits: false, lateAt: null, isNew: true, dirty: true,
    });
    return id;
  }

  /**
   * Draws the ids of the profiles created with stand-in ids since the last call, from the
   * profiles' sequence in one statement, and puts them where the stand-ins were (the keys and the
   * working copies; `news.ids` maps each stand-in to its id for what holds it elsewhere). The rows
   * themselves are written by `saveWorking`.
   */
  private async numberNew(projectId: string, news: NewProfiles, keys: Map<string, number>, working: Map<number, WorkingProfile>): Promise<void> {
    if (news.waiting.length === 0) return;
    const drawn = await sql<{ id: string | number }>`SELECT nextval(pg_get_serial_sequence('profiles', 'id')) AS id FROM generate_series(1, ${news.waiting.length}::int)`.execute(this.store.db);
    const ids = drawn.rows.map((r) => Number(r.id)).sort((a, b) => a - b);
    const now = new Map<number, number>();
    news.waiting.forEach((stand, i) => now.set(stand, ids[i]!));
    news.waiting = [];
    for (const [stand, id] of now) {
      news.ids.set(stand, id);
      // A new profile has no events yet: its kept times start empty.
      this.store.visitTimes?.put(projectId, id, []);
    }
    // The working copies keep their order (profiles are handed on in it), under their ids.
    const entries = [...working];
    working.clear();
    for (const [id, w] of entries) {
      const real = now.get(id);
      if (real !== undefined) w.id = real;
      working.set(real ?? id, w);
    }
    for (const [k, v] of keys) {
      const id = now.get(v);
      if (id !== undefined) keys.set(k, id);
    }
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
      await this.store.db.insertInto('profile_keys').values(c)
        .onConflict((oc) => oc.columns(['project_id', 'kind', 'key']).doUpdateSet((eb) => ({ profile_id: eb.ref('excluded.profile_id') }))).execute();
    }
  }

  /** The profile an item belongs to, creating, upgrading or merging profiles as identity requires. */
  private async resolve(projectId: string, item: IngestItem, keys: Map<string, number>, pending: Map<string, number>, working: Map<number, WorkingProfile>, merges: [number, number][], news: NewProfiles): Promise<number> {
    const now = item.receivedAt;
    const u = item.userId, a = item.anonymousId;
    if (item.type === 'alias' && item.previousId !== null && u !== null) {
      const source = keys.get(`u:${item.previousId}`) ?? keys.get(`a:${item.previousId}`);
      const target = keys.get(`u:${u}`);
      if (source === undefined) {
        const into = target ?? (await this.createProfile(projectId, u, null, now, working, news));
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
      if (target !== source) await this.merge(projectId, source, target, keys, working, merges, news);
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
        const id = await this.createProfile(projectId, u, pa === undefined ? a : null, now, working, news);
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
        await this.merge(projectId, pa, pu, keys, working, merges, news);
      }
      return pu;
    }
    if (pa !== undefined) return pa;
    const id = await this.createProfile(projectId, null, a, now, working, news);
    this.addKey(projectId, 'a', a!, id, keys, pending);
    return id;
  }

  /** Moves everything of profile `from` into `into` and deletes `from`. */
  private async merge(projectId: string, from: number, into: number, keys: Map<string, number>, working: Map<number, WorkingProfile>, merges: [number, number][], news: NewProfiles): Promise<void> {
    // The statements below name both profiles by their ids: stand-ins get theirs first.
    await this.numberNew(projectId, news, keys, working);
    from = news.ids.get(from) ?? from;
    into = news.ids.get(into) ?? into;
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
    this.store.visitTimes?.forget(projectId, from);
    this.store.visitTimes?.forget(projectId, into);
    this.store.profileRecords?.forget(projectId, from);
    const { db } = this.store;
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

  /** Writes the changed profiles back, one multi-row upsert per 200 (every row exists already, so it only updates), and keeps their records. */
  private async saveWorking(projectId: string, working: Map<number, WorkingProfile>, now: number): Promise<void> {
    const dirty = [...working.values()].filter((w) => w.dirty);
    for (const c of chunks(dirty, 200)) {
      const params: unknown[] = [];
      for (const w of c) {
        params.push(w.id, projectId, w.userId, w.anonymousId, JSON.stringify(w.traits), JSON.stringify(w.traitsAt), JSON.stringify(w.context),
          w.contextAt, JSON.stringify(w.labels), w.firstSeen, w.lastSeen, w.createdAt, now);
      }
      await this.store.db.executeQuery(CompiledQuery.raw(multiRowInsert(this.store.dialect, 'profiles', PROFILE_COLUMNS, c.length, UPSERT_SET), params));
    }
    const kept = this.store.profileRecords;
    if (kept) {
      for (const w of dirty) {
        kept.put(projectId, w.id, { userId: w.userId, anonymousId: w.anonymousId, traits: w.traits, traitsAt: w.traitsAt, context: w.context, contextAt: w.contextAt,
          labels: w.labels, firstSeen: w.firstSeen, lastSeen: w.lastSeen, createdAt: w.createdAt });
      }
    }
  }
}

const PROFILE_COLUMNS = ['id', 'project_id', 'user_id', 'anonymous_id', 'traits', 'traits_at', 'context', 'context_at', 'labels', 'first_seen', 'last_seen', 'created_at', 'updated_at'] as const;
/** The upsert's ON CONFLICT clause: every column but the key and the creation is taken from the row. */
const UPSERT_SET = `ON CONFLICT (id) DO UPDATE SET ${PROFILE_COLUMNS.filter((c) => c !== 'id' && c !== 'project_id' && c !== 'created_at').map((c) => `${c} = excluded.${c}`).join(', ')}`;

/** A working copy of a kept record: the objects ingest changes in place are copied, so the kept record stays what was committed. */
function working(id: number, r: KeptRecord): WorkingProfile {
  return {
    id, userId: r.userId, anonymousId: r.anonymousId, traits: { ...r.traits }, traitsAt: { ...r.traitsAt }, context: r.context, contextAt: r.contextAt,
    labels: r.labels as string[], firstSeen: r.firstSeen, lastSeen: r.lastSeen, createdAt: r.createdAt,
    lastSeenBefore: r.lastSeen, rebuildVisits: false, lateAt: null, isNew: false, dirty: false,
  };
}

const minOrNull = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
const maxOrNull = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));
