import { sql } from 'kysely';
import type { JsonObject } from '@strata/core';
import { visitOf } from '@strata/core';
import type { EventStore, PendingEvent, StoredContext } from './event-store.ts';
import { withOwn } from './event-store.ts';
import type { StoreHandle } from './store-handle.ts';
import type { EngineEvent, IngestItem } from './types.ts';
import { chunks, readJson } from './util.ts';
import { addLateTimes, insertTime, visitWindows, type VisitTimes } from './visit-store.ts';

/** What ingest knows of a profile's visits after its batch is applied. */
export interface LateState {
  readonly id: number;
  /** A merge moved another profile's events in: every visit is derived again. */
  readonly rebuildVisits: boolean;
  /** The times of the batch's own events from its earliest late one on (null: none was late). */
  readonly lateAt: readonly number[] | null;
}

/**
 * A batch's first late item of one profile and instant (in storage order), how many items share
 * that instant, and the item's own row: its index in the batch's rows and, once they are
 * written, its stored context (which a visit the item starts shares).
 */
export interface LateItem { readonly item: IngestItem; n: number; readonly row?: number; stored?: StoredContext }

/** A batch's late items by profile, then time. */
export type LateItems = ReadonlyMap<number, ReadonlyMap<number, LateItem>>;

/** Visits removed (by profile and instant) and added by late events. */
export interface VisitChanges {
  removed: { profileId: number; timestamp: number }[];
  added: EngineEvent[];
}

/**
 * `$session` visits derived again after a batch with late events or merges, in the batch's
 * transaction: decided in memory from the kept event times (`visit-store.ts`) where it can,
 * else from the rows around the late events.
 */
export class LateVisits {
  constructor(private readonly store: StoreHandle & { readonly visitTimes: VisitTimes | null }, private readonly events: EventStore) {}

  /**
   * The visits a batch's late events change, after its rows are written, and the kept own event
   * times brought up to date. A profile whose times are kept (`visitTimes`) is decided in memory
   * (`addLateTimes`): its removed visits are deleted by instant and the added ones built from the
   * batch's items, with no read. Any other profile with late events reads its rows
   * (`rederive`): its whole history once, so that its times are kept from then on, or —
   * too large to keep, or on PostgreSQL — the windows around its late events. A merge derives
   * the survivor's visits from all its rows.
   */
  async apply(projectId: string, working: Iterable<LateState>, inOrder: ReadonlyMap<number, readonly number[]>, sessionTimeoutMs: number, batch: LateItems): Promise<VisitChanges> {
    const cache = this.store.visitTimes;
    const rederive: { profileId: number; at: readonly number[] | null; whole?: boolean }[] = [];
    const removed: { profileId: number; timestamp: number }[] = [], added: EngineEvent[] = [];
    const gone: { profileId: number; ts: number }[] = [];
    const rows: PendingEvent[] = [];
    const moves: { profileId: number; from: number; row: PendingEvent }[] = [];
    for (const w of working) {
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
      for (const ts of change.removed) removed.push({ profileId: w.id, timestamp: ts });
      change.added.forEach((ts, i) => {
        const late = mine!.get(ts)!;
        const { row, event } = this.events.visitStartedBy(projectId, w.id, late.item, late.stored);
        // A removed visit's row becomes an added one (most often the same visit, begun earlier by a late event).
        if (i < change.removed.length) moves.push({ profileId: w.id, from: change.removed[i]!, row });
        else rows.push(row);
        added.push(event);
      });
      for (const ts of change.removed.slice(change.added.length)) gone.push({ profileId: w.id, ts });
    }
    for (const c of chunks(gone, 250)) {
      const at = sql.join(c.map((g) => sql`(CAST(${g.profileId} AS BIGINT), CAST(${g.ts} AS BIGINT))`));
      // A visit's row is the one `$session` row of its profile at its instant (visits start at distinct instants).
      // Found by profile and time: SQLite would otherwise walk the events-by-name index (which
      // holds every column read here) over every event of the project for each.
      const byProfile = this.store.dialect === 'sqlite' ? sql`INDEXED BY events_profile` : sql``;
      await sql`WITH gone (pid, ts) AS (VALUES ${at})
        DELETE FROM events WHERE id IN (SELECT e.id FROM gone CROSS JOIN events e ${byProfile}
          WHERE e.project_id = ${projectId} AND e.profile_id = gone.pid AND e.ts = gone.ts AND e.name = '$session')`.execute(this.store.db);
    }
    // After the deletes: no row is moved to an instant a deleted visit held (an added instant is never a removed one).
    await this.events.moveVisits(moves);
    const out = await this.rederive(projectId, rederive, sessionTimeoutMs, batch, rows);
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
  private async rederive(projectId: string, profiles: readonly { profileId: number; at: readonly number[] | null; whole?: boolean }[], sessionTimeoutMs: number,
    batch: LateItems, pending: PendingEvent[]): Promise<VisitChanges> {
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
        ORDER BY e.profile_id, late.lo, e.ts, e.id`.execute(this.store.db);
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
          const { row, event } = this.events.visitStartedBy(projectId, pid, own.item, own.stored);
          pending.push(row);
          added.push(event);
        }
      }
    }
    // By id alone (ids of rows just read for this project): with `project_id = ?` as well, SQLite walks the project's (project_id, name) index.
    for (const c of chunks(gone)) await this.store.db.deleteFrom('events').where('id', 'in', c).execute();
    for (const c of chunks(fresh)) {
      const evs = await this.store.db.selectFrom('events as e').innerJoin('contexts as c', 'c.id', 'e.context_id')
        .select(['e.profile_id', 'e.ts', 'c.json as shared', 'e.context_id', 'e.context_own', 'e.properties', 'e.received_at', 'e.type'])
        .where('e.id', 'in', c).execute();
      for (const e of evs) {
        const profileId = Number(e.profile_id);
        const context = withOwn(readJson<JsonObject>(e.shared, {}), e.context_own);
        const visit = visitOf(e.type, readJson(e.properties, {}), context);
        const row = this.events.sessionRow(projectId, profileId, visit, context, Number(e.ts), Number(e.received_at));
        // The visit shares its first event's stored context as it is (re-serialising could change key order).
        pending.push({ ...row, stored: { contextId: Number(e.context_id), own: typeof e.context_own === 'string' ? e.context_own : JSON.stringify(e.context_own) } });
        if (!whole.has(profileId)) added.push({ profileId, name: '$session', timestamp: Number(e.ts), properties: visit, context });
      }
    }
    await this.events.insert(pending.sort((a, b) => a.profile_id - b.profile_id || a.ts - b.ts));
    for (const [pid, times] of keep) if (times.length) this.store.visitTimes?.put(projectId, pid, times);
    return { removed, added };
  }
}
