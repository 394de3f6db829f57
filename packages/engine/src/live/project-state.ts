/**
 * The live engine's state of one project (see LiveEngine): each profile's record, kept event
 * lists and membership bits, the compiled segments in evaluation order, and the indexes by
 * what they read. Also the small helpers that shape what is kept (which keys, which events).
 */
import { isDeepStrictEqual } from 'node:util';
import type { Condition, EventPath, EventRecord, EventSlice, JsonObject, LeafTable, ProfileRoot, ProfileView, ViewCondition } from '@strata/core';
import { conditionReads, EventLists, isDerivedEvent, walk } from '@strata/core';
import type { EngineProfile, SegmentRow } from '@strata/store';
import { WakeHeap } from '../wake-heap.ts';
import { MembershipBits } from './membership-bits.ts';
import { SlotIndex } from './slot-index.ts';
import { NO_KEYS, NONE, plainRecord, RecordColumns, SlotRecord } from './profile-table.ts';

/**
 * The columns of a project that profiles live in, by slot: records (RecordColumns), kept
 * events, membership bits and next wake-up times. Slots are not reused.
 */
export class SlotColumns {
  readonly lists = new EventLists();
  readonly bits = new MembershipBits(1);
  readonly records = new RecordColumns();
  wakes = new Float64Array(0);
  /**
   * Per slot, the positions of the segments whose next instant is the wake-up (the only ones
   * it must re-evaluate). Often a window's own list, shared (not copied): replaced, never
   * changed in place.
   */
  readonly dues: (readonly number[])[] = [];
  /** Slots handed out so far. */
  slots = 0;

  newSlot(): number {
    const slot = this.lists.newSlot();
    this.slots = slot + 1;
    this.bits.ensure(slot);
    if (slot >= this.wakes.length) this.resize(Math.max(64, Math.ceil(this.wakes.length * 1.5)));
    this.wakes[slot] = Infinity;
    this.dues[slot] = NONE;
    return slot;
  }

  /**
   * After a bulk load: every column packed to the slots in use (the events' rows tight, the
   * arrays by slot without the half to spare they grew by); the next new slot grows them again.
   */
  pack(): void {
    this.lists.compact();
    this.bits.fit(this.slots);
    this.resize(this.slots);
    this.records.pack();
  }

  private resize(capacity: number): void {
    const w = new Float64Array(capacity);
    w.set(this.wakes.subarray(0, capacity));
    this.wakes = w;
    this.records.resize(capacity);
  }
}

/**
 * A profile as the engine keeps it, made on demand (ProjectProfiles.get) as a view of its slot
 * of the project's columns (SlotColumns): its record (the fields read the record columns), its
 * events of the names live segments read, membership bits and next wake-up. Nothing is held
 * in it that is not also in the columns, so views of one profile may come and go freely.
 */
export class ProfileState extends SlotRecord implements ProfileView {
  /** The slices read (see events), at lists version `seen`; made on the first read. */
  private slices: Map<string | null, EventSlice> | null = null;
  private seen = -1;
  constructor(slot: number, private readonly cols: SlotColumns) {
    super(slot, cols.records);
  }
  /** Positions of the segments whose next instant is `wake` (see SlotColumns.dues). */
  get due(): readonly number[] {
    return this.cols.dues[this.slot]!;
  }
  set due(segs: readonly number[]) {
    this.cols.dues[this.slot] = segs;
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
  /**
   * A list's slice, kept by the view while the lists are unchanged (EventLists.version): one
   * batch evaluates tens of segments over the same few lists, so each is looked up once.
   */
  events(name: string | null): EventSlice {
    const lists = this.cols.lists;
    let c = this.slices;
    if (c === null) c = this.slices = new Map();
    if (this.seen !== lists.version) { this.seen = lists.version; c.clear(); }
    let s = c.get(name);
    if (s === undefined) c.set(name, (s = lists.list(this.slot, name)));
    return s;
  }
  override moveTo(slot: number): void {
    super.moveTo(slot);
    this.slices?.clear();
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
export interface WindowEntry {
  readonly name: string | null;
  readonly fromMs: number;
  readonly toMs: number;
  /** Never changed in place (replaced whole): profiles' due lists share it. */
  segs: readonly number[];
  /** Scratch of scheduleSome: this window's next instant for the profile being scheduled, computed at pass `pass`. */
  pass: number;
  next: number;
}

/**
 * A record with only the trait and context keys the project's segments read. Equal kept
 * parts are one shared object (profiles of one plan, country and device hold the same
 * context); records are never changed in place, only replaced.
 */
export function keepOf(ps: ProjectState, r: EngineProfile, was?: EngineProfile): EngineProfile {
  const rec = ps.cols.records;
  rec.trimParts(() => ps.profiles.slots(), ps.profiles.size);
  // A part the same as the one the profile holds (`was`, most records of a batch) is that one:
  // what interning would find, without coding it again.
  const intern = <T extends JsonObject | readonly string[]>(o: T, held: T | undefined): T => (held !== undefined && sameJson(o, held) ? held : (rec.parts.value(rec.parts.code(o)) as T));
  return {
    id: r.id, key: r.key, userId: r.userId, anonymousId: r.anonymousId,
    traits: intern(pick(r.traits, ps.keep.traits), was?.traits), context: intern(pick(r.context, ps.keep.context), was?.context), labels: intern(r.labels, was?.labels),
    firstSeen: r.firstSeen, lastSeen: r.lastSeen,
  };
}

/**
 * Whether two JSON values are the same, keys in the same order and numbers by Object.is (so
 * never less strict than the parts' own equality: what is the same here interns alike).
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return a !== 0 || Object.is(a, b);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return Object.is(a, b);
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i]!;
    if (k !== kb[i] || !sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
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
 * A project's profiles: an id → slot index over the project's columns, with views of a slot
 * made on demand (ProfileState). Scans go by slot: the order profiles were added in (a slot is
 * never reused; a profile added again gets a new one).
 */
export class ProjectProfiles {
  private readonly slot = new SlotIndex();
  /** Counts additions and removals: an order of the profiles taken once holds while it is unchanged (bulk-eval.ts, positionsOf). */
  version = 0;
  constructor(private readonly cols: SlotColumns) {}
  get size(): number {
    return this.slot.size;
  }
  /** Bytes of the id → slot index's arrays. */
  get indexBytes(): number {
    return this.slot.bytes;
  }
  has(id: number): boolean {
    return this.slot.has(id);
  }
  /** The slot a profile's state is at. */
  slotOf(id: number): number | undefined {
    return this.slot.get(id);
  }
  get(id: number): ProfileState | undefined {
    const s = this.slot.get(id);
    return s === undefined ? undefined : new ProfileState(s, this.cols);
  }
  /** A profile's record as a plain object (not a view of the columns). */
  record(id: number): EngineProfile | undefined {
    const s = this.slot.get(id);
    return s === undefined ? undefined : plainRecord(new SlotRecord(s, this.cols.records));
  }
  /** A new profile (a new slot) with a kept record (see keepOf); one held under the same id is forgotten. */
  add(kept: EngineProfile): ProfileState {
    this.delete(kept.id);
    const p = new ProfileState(this.cols.newSlot(), this.cols);
    p.profile = kept;
    this.slot.set(kept.id, p.slot);
    this.version++;
    return p;
  }
  /** Forgets a profile: its events, membership bits and record. */
  delete(id: number): void {
    const s = this.slot.get(id);
    if (s === undefined) return;
    this.cols.lists.release(s);
    this.cols.bits.clear(s);
    this.cols.records.clear(s);
    this.cols.wakes[s] = Infinity;
    this.cols.dues[s] = NONE;
    this.slot.delete(id);
    this.version++;
  }
  /** Every profile's slot, in the order they were added. */
  *slots(): Generator<number> {
    const ids = this.cols.records.ids, n = this.cols.slots;
    for (let s = 0; s < n; s++) if (ids[s] === ids[s]) yield s;
  }
  /** A view to move from slot to slot (SlotRecord.moveTo). */
  cursor(): ProfileState {
    return new ProfileState(0, this.cols);
  }
  /** A view of every profile, in the order they were added. */
  *values(): Generator<ProfileState> {
    for (const s of this.slots()) yield new ProfileState(s, this.cols);
  }
}

export class ProjectState {
  /** Every profile's state by slot (see ProfileState). */
  readonly cols = new SlotColumns();
  readonly profiles = new ProjectProfiles(this.cols);
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
  /** The segments' event leaves, equal ones shared (see LeafTable); made again when every segment is compiled again. */
  leaves: LeafTable = new Map();
  /** Counts scheduleSome's passes (see WindowEntry.pass). */
  pass = 0;
  /** Scratch marks, one per segment. */
  mark = new Uint8Array(0);
  /** The top-level trait and context keys some segment reads: the rest of a record is not kept. */
  keep: { traits: Set<string>; context: Set<string> } = { traits: new Set(), context: new Set() };
  /** The lists kept (event names; null: `*`) and the keys each keeps of its events: those read from it. */
  tracked = new Map<string | null, Projection>();
  readonly heap = new WakeHeap();
  /** Profiles merged away in the transaction being written (their ids still name history entries). */
  readonly gone = new Map<number, EngineProfile>();
  /** The clock is written once at the end of the transaction (`LiveEngine.clockWrittenOnce`), not by each `persist`. */
  deferClockWrite = false;
  /** A deferred clock write is owed (the clock moved since the transaction began). */
  clockWriteDue = false;
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

/** A new profile's state in the project (an empty slot in its columns), its record kept (keepOf). */
export function addProfile(ps: ProjectState, record: EngineProfile): ProfileState {
  return ps.profiles.add(keepOf(ps, record));
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
  ps.profiles.delete(id);
  ps.sizes = null;
}

/** Event names whose kept lists no longer hold what the segments read (new names, new properties). */
export function staleNames(ps: ProjectState, before: ReadonlyMap<string | null, Projection>): (string | null)[] {
  return [...ps.tracked].filter(([n, proj]) => !sameProjection(before.get(n), proj)).map(([n]) => n);
}
