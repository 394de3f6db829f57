/**
 * The live engine's state read from the store, and its changes written there, in the caller's
 * transaction: a project loaded and reconciled, kept event lists read again (backfill),
 * profiles read back, and the decided changes written with their history, derived events,
 * listeners' rows (the outbox) and the engine clock.
 */
import type { Condition } from '@strata/core';
import { conditionReads, EventLists, walk } from '@strata/core';
import type { SqlStore } from '@strata/store';
import { derivedEvent, evaluate, schedule } from './apply-core.ts';
import type { ChangeListener, Pending, RecordedChange } from './changes.ts';
import { addEvent, addProfile, dropProfile, keepOf, projectionKey, recordKeys, type Projection, type ProjectState } from './project-state.ts';
import { loadSegments } from './segment-index.ts';
import { evaluateBulk, listLoaders, positionsOf, type ListSet } from './bulk-eval.ts';
import { tallyBits, type Evaluation, type Tally } from './membership-scan.ts';

const PAGE = 5000;

/** Whether an engine holds a profile (a partition worker's: its home partition is one the worker owns). */
export type ProfileOwnership = (profile: { readonly userId: string | null; readonly anonymousId: string | null }) => boolean;

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
export async function loadProject(tx: SqlStore, ps: ProjectState, isStarting: () => boolean, listeners: readonly ChangeListener[], owns: ProfileOwnership | null = null): Promise<void> {
  const projectId = ps.id;
  await loadSegments(tx, ps);
  const starting = isStarting();
  for (let after = 0; ;) {
    const page = await tx.scanProfiles(projectId, after, starting ? LOAD_PAGE : PAGE);
    if (page.length === 0) break;
    for (const p of page) if (owns === null || owns(p)) addProfile(ps, p);
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

/**
 * Reads the given names' events again from the store (for some profiles, or all when
 * `profileIds` is null). For all profiles each list is loaded whole (bulk-eval.ts,
 * listLoaders); when no list keeps a context key, the store gives the events as columns with
 * each kept property's JSON text (SqlStore.scanEventColumns): no event object is built.
 */
export async function backfill(tx: SqlStore, ps: ProjectState, names: readonly (string | null)[], profileIds: readonly number[] | null, isStarting: () => boolean, how: Evaluation = 'bulk'): Promise<void> {
  if (names.length === 0) return;
  const star = names.includes(null);
  const named = names.filter((n): n is string => n !== null);
  if (!profileIds && how === 'bulk') return readLists(tx, ps, listLoaders(ps, names), { names: named, nonDerived: star }, isStarting());
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

/**
 * The events of `filter` of every profile read from the store in one scan into the loaders of
 * `load` (see backfill), then loaded. Events of profiles the project does not hold, or whose
 * slot the loaders' lists have no room for (profiles created meanwhile), are left out.
 */
export async function readLists(tx: SqlStore, ps: ProjectState, load: ListSet, filter: { names: readonly string[]; nonDerived: boolean; since?: number }, starting: boolean, slots = Infinity): Promise<void> {
  const context = load.loaders.some((l) => l.keys.some((k) => k.root === 'context'));
  const limit = starting ? LOAD_PAGE : PAGE * 4;
  if (context) {
    for (let after = 0; ;) {
      const page = await tx.scanEvents(ps.id, { names: filter.names, nonDerived: filter.nonDerived, context }, after, limit);
      if (page.length === 0) break;
      for (const e of page) {
        const p = ps.profiles.get(e.profileId);
        if (p && p.slot < slots) for (const l of load.of(e.name)) l.add(p.slot, e);
      }
      after = page[page.length - 1]!.id;
      if (starting) await yieldToIo();
    }
    return load.finish();
  }
  // Every property key kept by some list, read once per row; each loader takes its own.
  const keys = [...new Set(load.loaders.flatMap((l) => l.keys.map((k) => k.key)))];
  const at = new Map(keys.map((k, i) => [k, i]));
  const mine = new Map(load.loaders.map((l) => [l, l.keys.map((k) => at.get(k.key)!)]));
  for (let after = 0; ;) {
    const page = await tx.scanEventColumns(ps.id, filter, keys, after, limit);
    if (page.count === 0) break;
    for (let i = 0; i < page.count; i++) {
      const p = ps.profiles.get(page.profileIds[i]!);
      if (!p || p.slot >= slots) continue;
      const whole = page.whole.get(i);
      for (const l of load.of(page.names[i]!)) {
        l.row(p.slot, page.times[i]!, page.names[i]!);
        if (whole) { l.keys.forEach(({ key }, k) => { if (key in whole) l.value(k, whole[key]); }); continue; }
        const ks = mine.get(l)!;
        for (let k = 0; k < ks.length; k++) l.json(k, page.props[ks[k]!]![i] ?? null);
      }
    }
    // Names from a time on come in one page (scanEventColumns).
    if (filter.since !== undefined && !filter.nonDerived) break;
    after = page.ids[page.count - 1]!;
    if (starting) await yieldToIo();
  }
  load.finish();
}

/**
 * A preview from engine state whose condition also reads event names (or properties of them)
 * the project does not keep: those lists are read from the store in one scan into lists of
 * their own (by the project's slots, `readLists`), and the condition is evaluated in bulk over
 * them and the project's state (bulk-eval.ts); the project keeps nothing of them. Null when
 * the engine cannot answer: a record key or a referenced segment it does not hold, or a
 * sequence (evaluated per profile over the project's own lists) while some list is missing,
 * or the `*` list missing unless `every` (reading every event of a window costs more than
 * the store's SQL on SQLite: docs/benchmarks.md, "Behavioural segments at 2M events").
 * Only the events a window can reach at `now` are read. Events stored while it reads may be
 * left out, as from any snapshot.
 */
export async function previewFromStore(store: SqlStore, ps: ProjectState, condition: Condition, now: number, sampleSize: number, every: boolean): Promise<Tally | null> {
  const reads = conditionReads(condition);
  for (const id of reads.segments) if (!ps.segments.has(id)) return null;
  const keys = { traits: new Set<string>(), context: new Set<string>() };
  recordKeys(condition, keys);
  if ([...keys.traits].some((k) => !ps.keep.traits.has(k)) || [...keys.context].some((k) => !ps.keep.context.has(k))) return null;
  const missing = new Map<string | null, Projection>();
  for (const [n, paths] of reads.paths) {
    const have = ps.tracked.get(n), need = projectionKey(paths);
    if (!have || [...need.props].some((k) => !have.props.has(k)) || [...need.ctx].some((k) => !have.ctx.has(k))) missing.set(n, need);
  }
  // The events to read: from the earliest instant a leaf reading a missing list can look at.
  let sequence = false, since = Infinity;
  walk(condition, (n) => {
    if (n.kind === 'sequence') sequence = true;
    if (n.kind !== 'event' || !missing.has(n.name)) return;
    const w = n.window;
    since = Math.min(since, w.kind === 'relative' ? now - w.fromMs : w.kind === 'absolute' && w.after !== null ? w.after : -Infinity);
  });
  if ((missing.size && sequence) || (missing.has(null) && !every)) return null;
  const lists = new EventLists();
  lists.reserveSlots(ps.lists.slotCount);
  const names = [...missing.keys()];
  const filter = { names: names.filter((n): n is string => n !== null), nonDerived: missing.has(null), ...(Number.isFinite(since) ? { since } : {}) };
  await readLists(store, ps, listLoaders(ps, names, { lists, keys: missing }), filter, false, lists.slotCount);
  const pos = positionsOf(ps);
  return tallyBits(ps, pos.slots, evaluateBulk(ps, pos, condition, now, { lists, names: new Set(names) }), sampleSize);
}

/** Reads profiles again from the store (record, kept events, memberships); those no longer stored are dropped. */
export async function reloadProfiles(tx: SqlStore, ps: ProjectState, ids: readonly number[], isStarting: () => boolean, owns: ProfileOwnership | null = null): Promise<void> {
  if (ids.length === 0) return;
  ps.sizes = null;
  const found = new Set<number>();
  for (let i = 0; i < ids.length; i += 500) {
    for (const rec of await tx.scanProfiles(ps.id, 0, 500, ids.slice(i, i + 500))) {
      // Given `owns` (a partition worker's engine loading profiles it does not hold yet): only those it holds.
      if (owns !== null && !ps.profiles.has(rec.id) && !owns(rec)) continue;
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
export async function ensureProfiles(tx: SqlStore, ps: ProjectState, ids: readonly number[], isStarting: () => boolean, owns: ProfileOwnership | null = null): Promise<Set<number>> {
  const missing = [...new Set(ids.filter((id) => !ps.profiles.has(id)))];
  if (missing.length) await reloadProfiles(tx, ps, missing, isStarting, owns);
  return new Set(missing.filter((id) => ps.profiles.has(id)));
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
    await tx.insertDerivedEvents(ps.id, changes.filter((c) => ps.profiles.has(c.profileId)).map((c) => derivedEvent(ps, c)), now);
    if (listeners.length) {
      // A profile's ids are read (decoded from the record columns) once, however many of its memberships changed.
      const people = new Map<number, { userId: string | null; anonymousId: string | null }>();
      const recorded = changes.map((c, i): RecordedChange => {
        let who = people.get(c.profileId);
        if (!who) {
          const p = ps.profiles.get(c.profileId)?.profile ?? ps.gone.get(c.profileId);
          people.set(c.profileId, (who = { userId: p?.userId ?? null, anonymousId: p?.anonymousId ?? null }));
        }
        return {
          segmentId: c.segmentId, profileId: c.profileId, kind: c.kind, at: c.at, reason: c.reason,
          historyId: ids[i]!, segmentName: ps.segments.get(c.segmentId)?.row.name ?? '', userId: who.userId, anonymousId: who.anonymousId,
        };
      });
      for (const l of listeners) await l(tx, ps.id, recorded);
    }
  }
  ps.gone.clear();
  if (now > ps.clock || out.length) {
    ps.clock = Math.max(ps.clock, now);
    if (ps.deferClockWrite) ps.clockWriteDue = true;
    else await tx.setEngineClock(ps.id, ps.clock);
  }
}
