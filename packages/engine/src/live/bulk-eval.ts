/**
 * Work over every profile of a project at once, on its columns (previews, and the backfill
 * and re-evaluation of a new or changed segment). Conditions: attribute leaves by the bulk
 * column evaluator (core's columns.ts), behavioural leaves in one pass over the engine's own
 * event lists per leaf (core's list-leaves.ts), and what neither covers (sequences, references
 * to other segments) by the view evaluator per profile — the members are exactly the view
 * evaluator's. Event lists: loaded whole, one list at a time (core's ListLoader), rather than
 * event by event.
 */
import type { Bitset, Condition, EventLists, EventRecord } from '@strata/core';
import { compileView, evaluateColumns, evaluateListLeaf, isDerivedEvent, ListLoader, ProfileColumns } from '@strata/core';
import { ProfileState, type Projection, type ProjectState, type SegmentState } from './project-state.ts';

/** A project's profiles in one order (positions: bit i of a result is the profile at slot `slots[i]`). */
export interface Positions {
  readonly slots: Int32Array;
  readonly records: ProfileColumns;
  /** A view of the i-th profile (a new one each call: holding it is safe). */
  state(i: number): ProfileState;
}

/** The order of a project's profiles as last taken, and the profiles' version then. */
const orders = new WeakMap<ProjectState, { version: number; slots: Int32Array }>();

/** Bytes of the order of `ps`'s profiles kept (0 when none was taken). */
export function orderBytes(ps: ProjectState): number {
  return orders.get(ps)?.slots.byteLength ?? 0;
}

/**
 * The profiles of `ps` in slot order. The order is kept while no profile is added or removed
 * (ProjectProfiles.version); records are read from the columns when used, as they are
 * replaced when profiles change.
 */
export function positionsOf(ps: ProjectState): Positions {
  let o = orders.get(ps);
  if (!o || o.version !== ps.profiles.version) orders.set(ps, (o = { version: ps.profiles.version, slots: Int32Array.from(ps.profiles.slots()) }));
  const { slots } = o;
  const state = (i: number) => new ProfileState(slots[i]!, ps.cols);
  return { slots, state, records: new ProfileColumns({ size: slots.length, profile: state }) };
}

/**
 * Whether `condition` holds at `now` for each profile of `pos` (as the view evaluator decides
 * it). `loaded`: lists of names the project does not keep, loaded for this evaluation (by
 * slot, as the project's): the behavioural leaves of those names read them.
 */
export function evaluateBulk(ps: ProjectState, pos: Positions, condition: Condition, now: number, loaded?: { lists: EventLists; names: ReadonlySet<string | null> }): Bitset {
  const resolve = (id: string) => ps.segments.get(id)?.view;
  return evaluateColumns(condition, pos.records, now, {
    leaf: (node) => {
      if (node.kind === 'event') return evaluateListLeaf(node, loaded?.names.has(node.name) ? loaded.lists : ps.lists, pos.slots, now);
      const view = compileView(node, resolve);
      const out = new Uint32Array((pos.slots.length + 31) >>> 5);
      const p = new ProfileState(0, ps.cols);
      // One view moved from slot to slot: a view condition's test keeps nothing of it.
      for (let i = 0; i < pos.slots.length; i++) {
        p.moveTo(pos.slots[i]!);
        if (view.test(p, now)) out[i >>> 5]! |= 1 << (i & 31);
      }
      return out;
    },
  });
}

/** A segment's members at `now`: its condition's, with its manual lists (included, then excluded, by profile key). */
export function segmentBits(ps: ProjectState, pos: Positions, s: SegmentState, now: number): Bitset {
  const out = s.condition ? evaluateBulk(ps, pos, s.condition, now) : new Uint32Array((pos.slots.length + 31) >>> 5);
  if (s.include.size === 0 && s.exclude.size === 0) return out;
  for (let i = 0; i < pos.slots.length; i++) {
    const key = pos.state(i).key;
    if (s.exclude.has(key)) out[i >>> 5]! &= ~(1 << (i & 31));
    else if (s.include.has(key)) out[i >>> 5]! |= 1 << (i & 31);
  }
  return out;
}

/** Loaders of some lists of every profile, and the loaders an event of a name goes to. */
export interface ListSet {
  readonly loaders: readonly ListLoader[];
  of(name: string): readonly ListLoader[];
  finish(): void;
}

/**
 * Loaders of the lists `names` of every profile (their columns are replaced when `finish`ed),
 * each keeping the keys the segments read from it, and the lists an event of a name goes to —
 * as `addEvent` puts it: its name's list, and `*` unless derived. By default into the
 * project's own lists with the keys its segments read; `into` names other lists and keys.
 */
export function listLoaders(ps: ProjectState, names: readonly (string | null)[], into: { lists: EventLists; keys: ReadonlyMap<string | null, Projection> } = { lists: ps.lists, keys: ps.tracked }): ListSet {
  const byName = new Map<string | null, ListLoader>();
  for (const n of names) {
    const proj = into.keys.get(n);
    if (proj) byName.set(n, new ListLoader(into.lists, n, proj.props, proj.ctx));
    else into.lists.drop(n);
  }
  const star = byName.get(null);
  const routes = new Map<string, readonly ListLoader[]>();
  const of = (name: string) => {
    let r = routes.get(name);
    if (!r) {
      const named = byName.get(name);
      routes.set(name, (r = [...(named ? [named] : []), ...(star && !isDerivedEvent(name) ? [star] : [])]));
    }
    return r;
  };
  return { loaders: [...byName.values()], of, finish: () => { for (const l of byName.values()) l.finish(); } };
}

/** Sets the lists `names` of every profile from `events` (the events of other profiles are left out). */
export function loadEvents(ps: ProjectState, names: readonly (string | null)[], events: Iterable<EventRecord & { readonly profileId: number }>): void {
  const load = listLoaders(ps, names);
  for (const e of events) {
    const slot = ps.profiles.slotOf(e.profileId);
    if (slot === undefined) continue;
    for (const l of load.of(e.name)) l.add(slot, e);
  }
  load.finish();
}
