/**
 * The live engine's state of one project (see LiveEngine): each profile's record, kept event
 * lists and membership bits, the compiled segments in evaluation order, and the indexes by
 * what they read. Also the small helpers that shape what is kept (which keys, which events).
 */
import { isDeepStrictEqual } from 'node:util';
import type { Condition, EventPath, EventRecord, EventSlice, JsonObject, ProfileRoot, ProfileView, ViewCondition } from '@strata/core';
import { conditionReads, Dictionary, EventLists, isDerivedEvent, walk } from '@strata/core';
import type { EngineProfile, SegmentRow } from '@strata/store';
import { WakeHeap } from '../wake-heap.ts';
import { MembershipBits } from './membership-bits.ts';

const NO_KEYS: JsonObject = Object.freeze({}) as JsonObject;

/**
 * The columns of a project that profiles' states live in, by slot: kept events, membership
 * bits and next wake-up times (a number in a `Float64Array` rather than one boxed a profile).
 */
export class SlotColumns {
  readonly lists = new EventLists();
  readonly bits = new MembershipBits(1);
  wakes = new Float64Array(0);

  newSlot(): number {
    const slot = this.lists.newSlot();
    this.bits.ensure(slot);
    if (slot >= this.wakes.length) {
      const w = new Float64Array(Math.max(64, Math.ceil(this.wakes.length * 1.5)));
      w.set(this.wakes);
      this.wakes = w;
    }
    this.wakes[slot] = Infinity;
    return slot;
  }
}

/**
 * A profile as the engine keeps it: its record, and at its own slot of the project's columns
 * (SlotColumns) its events of the names live segments read, membership bits and next wake-up.
 */
export class ProfileState implements ProfileView {
  /**
   * Positions of the segments whose next instant is `wake` (the only ones a wake-up must
   * re-evaluate). Often a window's own list, shared (not copied): replaced, never changed in place.
   */
  due: readonly number[] = [];
  readonly slot: number;
  constructor(public profile: EngineProfile, private readonly cols: SlotColumns) {
    this.slot = cols.newSlot();
  }
  /** The earliest instant time alone can change one of its memberships (Infinity: none). */
  get wake(): number {
    return this.cols.wakes[this.slot]!;
  }
  set wake(at: number) {
    this.cols.wakes[this.slot] = at;
  }
  /** Membership: whether it is in the project's idx-th segment (ProjectState.list). */
  has(idx: number): boolean {
    return this.cols.bits.has(this.slot, idx);
  }
  flip(idx: number): void {
    this.cols.bits.flip(this.slot, idx);
  }
  events(name: string | null): EventSlice {
    return this.cols.lists.list(this.slot, name);
  }
  /** Keeps an event in list `name` (its `props` and `ctx` keys only). */
  add(name: string | null, e: EventRecord, props: ReadonlySet<string>, ctx: ReadonlySet<string>): void {
    this.cols.lists.add(this.slot, name, e, props, ctx);
  }
  /** Removes one kept event of `name` at `timestamp`; false when none is kept. */
  remove(name: string | null, timestamp: number): boolean {
    return this.cols.lists.remove(this.slot, name, timestamp);
  }
  /** Forgets the kept events of `name` (of every name when undefined). */
  forget(name?: string | null): void {
    if (name === undefined) this.cols.lists.release(this.slot);
    else this.cols.lists.clear(this.slot, name);
  }
}

export interface Reads {
  readonly names: Set<string | null>;
  readonly roots: Set<ProfileRoot>;
  readonly timed: boolean;
  /** Keys of the relative windows read (own and referenced): see ProjectState.windows. */
  readonly windows: Set<string>;
  /** Time-relative operators beyond window edges: next instants come from the segment's own next(). */
  readonly complex: boolean;
}

/** The key of a relative window (ProjectState.windowByKey): its event name and edges. */
export const windowKey = (w: { readonly name: string | null; readonly fromMs: number; readonly toMs: number }): string => `${w.name}\u0000${w.fromMs}\u0000${w.toMs}`;

/** A segment's reads: its own condition's, and those of the segments it references (already known in `segments`). */
export function transitiveReads(own: ReturnType<typeof conditionReads> | null | undefined, segments: ReadonlyMap<string, SegmentState>): Reads {
  const names = new Set<string | null>(own?.names ?? []);
  const roots = new Set<ProfileRoot>(own?.roots ?? []);
  const windows = new Set<string>((own?.windows ?? []).map(windowKey));
  let timed = own?.timed ?? false, complex = own?.otherTime ?? false;
  for (const r of own?.segments ?? []) {
    const rr = segments.get(r)?.reads;
    if (!rr) continue;
    for (const x of rr.names) names.add(x);
    for (const x of rr.roots) roots.add(x);
    for (const x of rr.windows) windows.add(x);
    timed ||= rr.timed;
    complex ||= rr.complex;
  }
  return { names, roots, timed, windows, complex };
}

/** A distinct relative window over one event list, and the segments whose value can change at its edges. */
interface WindowEntry {
  readonly name: string | null;
  readonly fromMs: number;
  readonly toMs: number;
  /** Never changed in place (replaced whole): profiles' due lists share it. */
  segs: readonly number[];
}

/**
 * A record with only the trait and context keys the project's segments read. Equal kept
 * parts are one shared object (profiles of one plan, country and device hold the same
 * context); records are never changed in place, only replaced.
 */
export function keepOf(ps: ProjectState, r: EngineProfile): EngineProfile {
  return { ...r, traits: intern(ps, pick(r.traits, ps.keep.traits)), context: intern(ps, pick(r.context, ps.keep.context)), labels: intern(ps, r.labels) };
}

/**
 * The shared object equal to `o` (by JSON: see Dictionary for values JSON cannot tell apart,
 * which are never shared). When the table outgrows the profiles it is started again, so
 * that parts no profile holds any more do not pile up.
 */
function intern<T extends JsonObject | readonly string[]>(ps: ProjectState, o: T): T {
  if (o === NO_KEYS) return o;
  if (ps.parts.values.length > 2 * ps.profiles.size + 1024) ps.parts = new Dictionary();
  return ps.parts.values[ps.parts.code(o)] as T;
}

/** The top-level trait and context keys a condition reads. */
export function recordKeys(c: Condition, into: { traits: Set<string>; context: Set<string> }): void {
  walk(c, (n) => { if (n.kind === 'attr' && n.path.kind === 'json') into[n.path.root].add(n.path.keys[0]!); });
}

export const ROOTS: readonly ProfileRoot[] = ['userId', 'anonymousId', 'firstSeen', 'lastSeen', 'labels', 'traits', 'context'];

/** The parts of a profile record that differ between two versions of it. */
export function changedRoots(a: EngineProfile, b: EngineProfile): ProfileRoot[] {
  return ROOTS.filter((r) => a[r] !== b[r] && !isDeepStrictEqual(a[r], b[r]));
}

export interface SegmentState {
  readonly row: SegmentRow;
  readonly condition: Condition | null;
  view: ViewCondition;
  include: Set<string>;
  exclude: Set<string>;
  /** Own and referenced segments' reads. */
  reads: Reads;
  /** Segments this one references directly (set by index()). */
  refs: ReadonlySet<string>;
  /** Position in ProjectState.list (referenced segments first) and the profiles' membership bit. */
  idx: number;
}

/** Which parts of events of one name are kept (top-level keys of properties and context). */
export interface Projection {
  readonly props: Set<string>;
  readonly ctx: Set<string>;
}

/**
 * The profiles map of a project, counting its writes (`version`): bulk evaluation keeps the
 * profiles' order (bulk-eval.ts, positionsOf) for as long as no profile is added or removed.
 */
export class ProfileMap extends Map<number, ProfileState> {
  version = 0;
  override set(id: number, p: ProfileState): this {
    this.version++;
    return super.set(id, p);
  }
  override delete(id: number): boolean {
    this.version++;
    return super.delete(id);
  }
  override clear(): void {
    this.version++;
    super.clear();
  }
}

export class ProjectState {
  readonly profiles = new ProfileMap();
  /** Every profile's state but its record, by slot (see ProfileState). */
  readonly cols = new SlotColumns();
  /** Every profile's kept events, in columns per event name. */
  readonly lists = this.cols.lists;
  readonly segments = new Map<string, SegmentState>();
  /** Every segment's size by position, kept by evaluate() while set; null when it must be counted again (see segmentSizes). */
  sizes: Float64Array | null = null;
  /** The segments by name (names are unique in a project). */
  named = new Map<string, SegmentRow>();
  /** Per segment, the segments whose condition references it directly. */
  referrers = new Map<string, SegmentState[]>();
  /** The segments' rows in store order (created, then id): replaced whole on every change, never changed in place. */
  rows: readonly SegmentRow[] = [];
  /** Segments, referenced ones first. */
  list: SegmentState[] = [];
  /** 32-bit words of a profile's membership bits. */
  words = 1;
  /** Every profile's membership bits, by slot (`words` words each). */
  readonly bits = this.cols.bits;
  /** Per event name, the positions of the segments reading it. */
  byName = new Map<string | null, number[]>();
  /** Per part of the profile record, the positions of the segments reading it. */
  byRoot = new Map<ProfileRoot, number[]>();
  timedSegments: SegmentState[] = [];
  /** Every distinct relative window of the live segments: a profile's next instant is the earliest edge among them. */
  windows: WindowEntry[] = [];
  windowByKey = new Map<string, WindowEntry>();
  /** Timed segments whose next instants need their own next() (within_last, more_than_ago). */
  complexTimed: SegmentState[] = [];
  /** Scratch marks, one per segment. */
  mark = new Uint8Array(0);
  /** The kept traits, contexts and labels of records, each distinct one once (see keepOf). */
  parts = new Dictionary();
  /** The top-level trait and context keys some segment reads: the rest of a record is not kept. */
  keep: { traits: Set<string>; context: Set<string> } = { traits: new Set(), context: new Set() };
  /** The lists kept (event names; null: `*`) and the keys each keeps of its events: those read from it. */
  tracked = new Map<string | null, Projection>();
  readonly heap = new WakeHeap();
  /** Profiles merged away in the transaction being written (their ids still name history entries). */
  readonly gone = new Map<number, EngineProfile>();
  constructor(readonly id: string, public clock: number) {}
}

export function projectionKey(paths: readonly EventPath[]): Projection {
  const props = new Set<string>(), ctx = new Set<string>();
  for (const p of paths) if (p.kind === 'json') (p.root === 'properties' ? props : ctx).add(p.keys[0]!);
  return { props, ctx };
}

const sameProjection = (a: Projection | undefined, b: Projection) =>
  a !== undefined && a.props.size === b.props.size && a.ctx.size === b.ctx.size && [...b.props].every((k) => a.props.has(k)) && [...b.ctx].every((k) => a.ctx.has(k));

function pick(o: JsonObject, keys: Set<string>): JsonObject {
  if (keys.size === 0) return NO_KEYS;
  const out: JsonObject = {};
  for (const k of keys) if (k in o) out[k] = o[k]!;
  return out;
}

/** A new profile's state in the project (an empty slot in its event columns). */
export function newProfile(ps: ProjectState, record: EngineProfile): ProfileState {
  return new ProfileState(keepOf(ps, record), ps.cols);
}

/** Adds an event to a profile's kept lists (only `only` names when given), each list keeping the keys read from it. */
export function addEvent(ps: ProjectState, p: ProfileState, e: EventRecord, only?: readonly (string | null)[]): Set<string | null> {
  const hit = new Set<string | null>();
  const named = ps.tracked.get(e.name);
  const star = isDerivedEvent(e.name) ? undefined : ps.tracked.get(null);
  if (named && (!only || only.includes(e.name))) { p.add(e.name, e, named.props, named.ctx); hit.add(e.name); }
  if (star && (!only || only.includes(null))) { p.add(null, e, star.props, star.ctx); hit.add(null); }
  return hit;
}

export function dropProfile(ps: ProjectState, id: number): void {
  const p = ps.profiles.get(id);
  if (p) { p.forget(); ps.bits.clear(p.slot); }
  ps.profiles.delete(id);
  ps.sizes = null;
}

/** Event names whose kept lists no longer hold what the segments read (new names, new properties). */
export function staleNames(ps: ProjectState, before: ReadonlyMap<string | null, Projection>): (string | null)[] {
  return [...ps.tracked].filter(([n, proj]) => !sameProjection(before.get(n), proj)).map(([n]) => n);
}
