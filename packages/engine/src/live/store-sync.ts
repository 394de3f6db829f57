/**
 * The live engine's state read from the store, and its changes written there, in the caller's
 * transaction: a project loaded and reconciled, kept event lists read again (backfill),
 * profiles read back, and the decided changes written with their history, derived events,
 * listeners' rows (the outbox) and the engine clock.
 */
import type { SqlStore } from '@strata/store';
import { derivedEvent, evaluate, schedule } from './apply-core.ts';
import type { ChangeListener, Pending, RecordedChange } from './changes.ts';
import { addEvent, addProfile, dropProfile, keepOf, type ProjectState } from './project-state.ts';
import { loadSegments } from './segment-index.ts';

const PAGE = 5000;

/**
 * While `start()` loads (the APIs are refused meanwhile, so nothing reads half-loaded state),
 * the load reads smaller pages and lets timers and sockets run between them: health probes
 * answer during a long load. Embedded SQLite reads block the thread; a page of this size is a
 * fraction of a second.
 */
const LOAD_PAGE = 2000;
const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Reads a project's state (`ps`, new and empty) from the store: segments, profiles, the event
 * lists the segments read, the stored memberships; then reconciles them at the instant the
 * engine last wrote (`ps.clock`) and writes the differences. What came due since is the
 * caller's to apply (LiveEngine.project).
 */
export async function loadProject(tx: SqlStore, ps: ProjectState, isStarting: () => boolean, listeners: readonly ChangeListener[]): Promise<void> {
  const projectId = ps.id;
  await loadSegments(tx, ps);
  const starting = isStarting();
  for (let after = 0; ;) {
    const page = await tx.scanProfiles(projectId, after, starting ? LOAD_PAGE : PAGE);
    if (page.length === 0) break;
    for (const p of page) addProfile(ps, p);
    after = page[page.length - 1]!.id;
    if (starting) await yieldToIo();
  }
  await backfill(tx, ps, [...ps.tracked.keys()], null, isStarting);
  ps.cols.pack();
  for (const m of await tx.allMemberships(projectId)) {
    const s = ps.segments.get(m.segmentId), p = ps.profiles.get(m.profileId);
    if (s && p && !p.has(s.idx)) p.flip(s.idx);
  }
  // Reconcile at the instant the engine last wrote: memberships stored then must hold then.
  const changes: Pending[] = [];
  let n = 0;
  for (const p of ps.profiles.values()) {
    evaluate(ps, p, ps.list, ps.clock, 'definition', changes);
    schedule(ps, p, ps.clock);
    if (starting && ++n % LOAD_PAGE === 0) await yieldToIo();
  }
  await persist(tx, ps, changes, ps.clock, listeners);
}

/** A segment reading a trait or context key not kept so far (not in `kept`): the records are read again. */
export async function rereadRecords(tx: SqlStore, ps: ProjectState, kept: { traits: Set<string>; context: Set<string> }): Promise<void> {
  if ([...ps.keep.traits].some((k) => !kept.traits.has(k)) || [...ps.keep.context].some((k) => !kept.context.has(k))) {
    for (let after = 0; ;) {
      const page = await tx.scanProfiles(ps.id, after, PAGE);
      if (page.length === 0) break;
      for (const rec of page) { const p = ps.profiles.get(rec.id); if (p) p.profile = keepOf(ps, rec); }
      after = page[page.length - 1]!.id;
    }
  }
}

/** Reads the given names' events again from the store (for some profiles, or all when `profileIds` is null). */
export async function backfill(tx: SqlStore, ps: ProjectState, names: readonly (string | null)[], profileIds: readonly number[] | null, isStarting: () => boolean): Promise<void> {
  if (names.length === 0) return;
  const star = names.includes(null);
  const named = names.filter((n): n is string => n !== null);
  // Some profiles: their runs are forgotten; all of them: the lists' columns are dropped whole.
  if (profileIds) for (const id of profileIds) for (const n of names) ps.profiles.get(id)?.forget(n);
  else for (const n of names) ps.lists.drop(n);
  const context = names.some((n) => (ps.tracked.get(n)?.ctx.size ?? 0) > 0);
  const starting = isStarting();
  for (let after = 0; ;) {
    const page = await tx.scanEvents(ps.id, { names: named, nonDerived: star, context, ...(profileIds ? { profileIds } : {}) }, after, starting ? LOAD_PAGE : PAGE * 4);
    if (page.length === 0) break;
    for (const e of page) {
      const p = ps.profiles.get(e.profileId);
      if (p) addEvent(ps, p, e, names);
    }
    after = page[page.length - 1]!.id;
    if (starting) await yieldToIo();
  }
}

/** Reads profiles again from the store (record, kept events, memberships); those no longer stored are dropped. */
export async function reloadProfiles(tx: SqlStore, ps: ProjectState, ids: readonly number[], isStarting: () => boolean): Promise<void> {
  if (ids.length === 0) return;
  ps.sizes = null;
  const found = new Set<number>();
  for (let i = 0; i < ids.length; i += 500) {
    for (const rec of await tx.scanProfiles(ps.id, 0, 500, ids.slice(i, i + 500))) {
      found.add(rec.id);
      const have = ps.profiles.get(rec.id);
      if (have) { have.profile = keepOf(ps, rec); have.forget(); } else addProfile(ps, rec);
    }
  }
  for (const id of ids) if (!found.has(id)) dropProfile(ps, id);
  await backfill(tx, ps, [...ps.tracked.keys()], ids.filter((id) => found.has(id)), isStarting);
  const current = await tx.membershipsOf(ps.id, [...found]);
  for (const id of found) {
    const mine = current.get(id);
    const p = ps.profiles.get(id)!;
    ps.bits.clear(p.slot);
    for (const segId of mine?.keys() ?? []) { const s = ps.segments.get(segId); if (s) p.flip(s.idx); }
    // From the engine's own instant (what is due since then is applied by the next wake-up).
    schedule(ps, p, ps.clock);
  }
}

/** Loads the profiles not held yet (created outside ingest); returns their ids. */
export async function ensureProfiles(tx: SqlStore, ps: ProjectState, ids: readonly number[], isStarting: () => boolean): Promise<Set<number>> {
  const missing = [...new Set(ids.filter((id) => !ps.profiles.has(id)))];
  if (missing.length) await reloadProfiles(tx, ps, missing, isStarting);
  return new Set(missing);
}

/** Writes memberships, history, derived events, outbox rows and the engine clock in `tx`. */
export async function persist(tx: SqlStore, ps: ProjectState, out: readonly Pending[], now: number, listeners: readonly ChangeListener[]): Promise<void> {
  if (out.length) {
    // Net effect per (segment, profile): delete what existed before, insert what exists after.
    const first = new Map<string, Pending>(), last = new Map<string, Pending>();
    for (const x of out) {
      if (!x.write) continue;
      const k = `${x.change.segmentId}\u0000${x.change.profileId}`;
      if (!first.has(k)) first.set(k, x);
      last.set(k, x);
    }
    const removes = [...first.values()].filter((x) => x.change.kind === 'exited').map((x) => x.change);
    const adds = [...last.values()].filter((x) => x.change.kind === 'entered').map((x) => ({ segmentId: x.change.segmentId, profileId: x.change.profileId, since: x.change.at }));
    await tx.applyMembershipChanges(ps.id, [], removes);
    await tx.applyMembershipChanges(ps.id, adds, []);
    const changes = out.map((x) => x.change);
    const ids = await tx.recordHistory(ps.id, changes);
    await tx.insertDerivedEvents(ps.id, changes.filter((c) => ps.profiles.has(c.profileId)).map((c) => derivedEvent(ps, c)));
    if (listeners.length) {
      const recorded = changes.map((c, i): RecordedChange => {
        const p = ps.profiles.get(c.profileId)?.profile ?? ps.gone.get(c.profileId);
        return { ...c, historyId: ids[i]!, segmentName: ps.segments.get(c.segmentId)?.row.name ?? '', userId: p?.userId ?? null, anonymousId: p?.anonymousId ?? null };
      });
      for (const l of listeners) await l(tx, ps.id, recorded);
    }
  }
  ps.gone.clear();
  if (now > ps.clock || out.length) {
    ps.clock = Math.max(ps.clock, now);
    await tx.setEngineClock(ps.id, ps.clock);
  }
}
