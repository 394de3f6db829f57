import { isDeepStrictEqual } from 'node:util';
import type { Condition, EventPath, EventRecord, JsonObject, ProfileRoot, ProfileView, ViewCondition } from '@strata/core';
import { AppError, compileViewSegment, conditionReads, isDerivedEvent, parseCondition, relativeWindowNext, walk } from '@strata/core';
import type { EngineEvent, EngineProfile, IngestOutcome, MembershipReason, SegmentRow, SqlStore } from '@strata/store';
import type { Clock } from './clock.ts';
import { WakeHeap } from './wake-heap.ts';

/** One entry or exit, as the engine decides it. */
export interface MembershipChange {
  readonly segmentId: string;
  readonly profileId: number;
  readonly kind: 'entered' | 'exited';
  readonly at: number;
  readonly reason: MembershipReason;
}

/** A change once written: with its history id (stable, for webhook de-duplication) and the people's ids. */
export interface RecordedChange extends MembershipChange {
  readonly historyId: number;
  readonly segmentName: string;
  readonly userId: string | null;
  readonly anonymousId: string | null;
}

/** Called inside the transaction that records changes (the webhook outbox writes there). */
export type ChangeListener = (tx: SqlStore, projectId: string, changes: readonly RecordedChange[]) => Promise<void>;

const EMPTY: readonly EventRecord[] = Object.freeze([]);
const NO_KEYS: JsonObject = Object.freeze({}) as JsonObject;
/** Derived events a membership change adds to the profile; a cascade stops after this many rounds. */
const MAX_CASCADE = 8;
const PAGE = 5000;

/**
 * While `start()` loads (the APIs are refused meanwhile, so nothing reads half-loaded state),
 * the load reads smaller pages and lets timers and sockets run between them: health probes
 * answer during a long load. Embedded SQLite reads block the thread; a page of this size is a
 * fraction of a second.
 */
const LOAD_PAGE = 2000;
const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Where the engine is in its start: `loading` from `start()` until every project is loaded and due transitions applied. */
export interface EngineStartState {
  readonly phase: 'idle' | 'loading' | 'ready' | 'failed' | 'stopped';
  /** Projects loaded by `start()` so far, and how many it has to load (null until it has read the list). */
  readonly loaded: number;
  readonly total: number | null;
}

/** Operational figures of the engine (for /metrics). */
export interface EngineStats {
  readonly projects: number;
  readonly profiles: number;
  /** The earliest time transition that is due and not yet applied (ms since epoch), or null when none is due. */
  readonly oldestDueAt: number | null;
  /** Writes waiting for the engine's single writer (ingest groups, admin changes, ticks). */
  readonly writesWaiting: number;
}

/** A profile as the engine keeps it: its record and its events of the names live segments read. */
class ProfileState implements ProfileView {
  readonly lists = new Map<string | null, EventRecord[]>();
  wake = Infinity;
  /** Positions of the segments whose next instant is `wake` (the only ones a wake-up must re-evaluate). */
  due: number[] = [];
  /** Membership: bit i is the project's i-th segment (ProjectState.list). */
  bits: Uint32Array;
  constructor(public profile: EngineProfile, words: number) {
    this.bits = new Uint32Array(words);
  }
  has(idx: number): boolean {
    return ((this.bits[idx >>> 5]! >>> (idx & 31)) & 1) === 1;
  }
  flip(idx: number): void {
    this.bits[idx >>> 5]! ^= 1 << (idx & 31);
  }
  events(name: string | null): readonly EventRecord[] {
    return this.lists.get(name) ?? EMPTY;
  }
  add(name: string | null, e: EventRecord): void {
    let list = this.lists.get(name);
    if (!list) this.lists.set(name, (list = []));
    // Events arrive almost always in time order: insert from the end.
    let i = list.length;
    list.push(e);
    while (i > 0 && list[i - 1]!.timestamp > e.timestamp) { list[i] = list[i - 1]!; i--; }
    list[i] = e;
  }
  /** Removes one kept event of `name` at `timestamp`; false when none is kept. */
  remove(name: string | null, timestamp: number): boolean {
    const list = this.lists.get(name);
    const i = list ? list.findLastIndex((e) => e.timestamp === timestamp) : -1;
    if (i === -1) return false;
    list!.splice(i, 1);
    return true;
  }
}

interface Reads {
  readonly names: Set<string | null>;
  readonly roots: Set<ProfileRoot>;
  readonly timed: boolean;
  /** Keys of the relative windows read (own and referenced): see ProjectState.windows. */
  readonly windows: Set<string>;
  /** Time-relative operators beyond window edges: next instants come from the segment's own next(). */
  readonly complex: boolean;
}

/** The key of a relative window (ProjectState.windowByKey): its event name and edges. */
const windowKey = (w: { readonly name: string | null; readonly fromMs: number; readonly toMs: number }): string => `${w.name}\u0000${w.fromMs}\u0000${w.toMs}`;

/** A segment's reads: its own condition's, and those of the segments it references (already known in `segments`). */
function transitiveReads(own: ReturnType<typeof conditionReads> | null | undefined, segments: ReadonlyMap<string, SegmentState>): Reads {
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
  readonly segs: number[];
}

/** A record with only the trait and context keys the project's segments read. */
function keepOf(ps: { keep: { traits: Set<string>; context: Set<string> } }, r: EngineProfile): EngineProfile {
  return { ...r, traits: pick(r.traits, ps.keep.traits), context: pick(r.context, ps.keep.context) };
}

/** The top-level trait and context keys a condition reads. */
function recordKeys(c: Condition, into: { traits: Set<string>; context: Set<string> }): void {
  walk(c, (n) => { if (n.kind === 'attr' && n.path.kind === 'json') into[n.path.root].add(n.path.keys[0]!); });
}

const ROOTS: readonly ProfileRoot[] = ['userId', 'anonymousId', 'firstSeen', 'lastSeen', 'labels', 'traits', 'context'];

/** The parts of a profile record that differ between two versions of it. */
function changedRoots(a: EngineProfile, b: EngineProfile): ProfileRoot[] {
  return ROOTS.filter((r) => a[r] !== b[r] && !isDeepStrictEqual(a[r], b[r]));
}

interface SegmentState {
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
interface Projection {
  readonly props: Set<string>;
  readonly ctx: Set<string>;
}

class ProjectState {
  readonly profiles = new Map<number, ProfileState>();
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
  /** The top-level trait and context keys some segment reads: the rest of a record is not kept. */
  keep: { traits: Set<string>; context: Set<string> } = { traits: new Set(), context: new Set() };
  tracked = new Map<string | null, Projection>();
  readonly heap = new WakeHeap();
  /** Profiles merged away in the transaction being written (their ids still name history entries). */
  readonly gone = new Map<number, EngineProfile>();
  constructor(readonly id: string, public clock: number) {}
}

interface Pending {
  change: MembershipChange;
  /** false: the store already holds the membership (it moved with a merge); only history is written. */
  write: boolean;
}

function projectionKey(paths: readonly EventPath[]): Projection {
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

/**
 * The live membership engine. For each project it keeps every profile's record and, per event
 * name that a live segment reads, the profile's events of that name (only the properties the
 * conditions read), sorted by time. An event re-evaluates only the segments that read its name
 * (and those that reference them); a min-heap of instants re-checks a profile exactly when time
 * alone can change one of its memberships. Every change is written with its history row, its
 * derived `$segment_entered` / `$segment_exited` event and its webhook outbox rows in the
 * transaction that caused it.
 *
 * One owner: all writes go through `write` (one at a time), and a profile's events are applied
 * in order, so that profiles can later be split across processes by a hash of their id.
 */
export class LiveEngine {
  private readonly projects = new Map<string, ProjectState>();
  /** Projects deleted while this process ran: never loaded again (their ids are never reused). */
  private readonly deleted = new Set<string>();
  private lock: Promise<unknown> = Promise.resolve();
  private readonly touched = new Map<string, Set<number>>();
  private readonly redefined = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private startState: EngineStartState = { phase: 'idle', loaded: 0, total: null };
  private waiting = 0;

  constructor(
    private readonly store: SqlStore,
    private readonly clock: Clock,
    private readonly listeners: ChangeListener[] = [],
  ) {}

  onChanges(l: ChangeListener): void {
    this.listeners.push(l);
  }

  private readonly commitHooks: ((tx: SqlStore, out: unknown) => Promise<void>)[] = [];

  /**
   * Runs `hook` at the end of every `write`, in its transaction, once `fn` has succeeded: what
   * it writes commits with the change or not at all (the audit log, packages/server/src/audit.ts).
   */
  beforeCommit(hook: (tx: SqlStore, out: unknown) => Promise<void>): void {
    this.commitHooks.push(hook);
  }

  // ------------------------------------------------------------ ownership and transactions

  /**
   * Runs `fn` in one store transaction, one writer at a time. If it fails, the engine's state
   * of whatever it touched is read again from the store (which rolled back), so memory never
   * holds what was not committed. When the store cannot be read either (it is down), that state
   * stays marked stale and is read again before the next write (or tick) runs: a write while
   * the store is still down fails like the store does.
   */
  async write<T>(fn: (tx: SqlStore) => Promise<T>): Promise<T> {
    this.waiting++;
    const run = async () => {
      // One write per turn of the event loop: queued writes (and better-sqlite3's synchronous
      // calls) never hold it for longer than one of them takes, so health checks and reads answer between.
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.waiting--;
      await this.recover();
      this.touched.clear();
      this.redefined.clear();
      try {
        if (this.commitHooks.length === 0) return await this.store.transaction(fn);
        return await this.store.transaction(async (tx) => {
          const out = await fn(tx);
          for (const hook of this.commitHooks) await hook(tx, out);
          return out;
        });
      } catch (e) {
        for (const projectId of this.redefined) this.stale.redefined.add(projectId);
        for (const [projectId, ids] of this.touched) {
          const have = this.stale.touched.get(projectId);
          if (have) for (const id of ids) have.add(id);
          else this.stale.touched.set(projectId, new Set(ids));
        }
        await this.recover().catch(() => undefined);
        throw e;
      }
    };
    const p = this.lock.then(run, run);
    this.lock = p.catch(() => undefined);
    return p;
  }

  /** What failed transactions touched and the store has not been read back for yet (see `write`). */
  private readonly stale = { touched: new Map<string, Set<number>>(), redefined: new Set<string>() };

  /** Reads back from the store what is stale; each part is unmarked once read, so a failure leaves the rest marked. */
  private async recover(): Promise<void> {
    const { touched, redefined } = this.stale;
    if (touched.size === 0 && redefined.size === 0) return;
    for (const projectId of redefined) this.projects.delete(projectId);
    for (const [projectId, ids] of touched) {
      const ps = this.projects.get(projectId);
      if (redefined.has(projectId) || !ps) { touched.delete(projectId); continue; }
      // Back to the last committed instant: wake-ups the failed transaction consumed are scheduled again from there.
      ps.clock = (await this.store.engineClock(projectId)) ?? ps.clock;
      await this.reloadProfiles(this.store, ps, [...ids]);
      touched.delete(projectId);
    }
    for (const projectId of [...redefined]) {
      await this.project(this.store, projectId);
      redefined.delete(projectId);
    }
  }

  private touch(projectId: string, ids: Iterable<number>): void {
    let s = this.touched.get(projectId);
    if (!s) this.touched.set(projectId, (s = new Set()));
    for (const id of ids) s.add(id);
  }

  // ------------------------------------------------------------ loading

  /**
   * Loads every project, emitting the transitions that came due while Strata was down (at their
   * true times). `startState` says how far it is; a `stop()` meanwhile ends it after the project
   * being loaded (what it wrote is committed, project by project).
   */
  async start(intervalMs = 1000): Promise<void> {
    this.startState = { phase: 'loading', loaded: 0, total: null };
    try {
      const ids = await this.store.projectIds();
      this.startState = { phase: 'loading', loaded: 0, total: ids.length };
      for (const id of ids) {
        if (this.startState.phase !== 'loading') return;
        await this.write((tx) => this.project(tx, id).then(() => undefined));
        this.startState = { ...this.startState, loaded: this.startState.loaded + 1 };
      }
      if (this.startState.phase !== 'loading') return;
      await this.tick();
    } catch (e) {
      this.startState = { ...this.startState, phase: 'failed' };
      throw e;
    }
    this.startState = { ...this.startState, phase: 'ready' };
    if (intervalMs > 0) {
      // A failed tick (store unavailable) changes nothing and is tried again at the next one.
      this.timer = setInterval(() => { this.tick().catch((e: unknown) => { console.error(`strata: time transitions not applied yet: ${(e as Error).message}`); }); }, intervalMs);
      this.timer.unref?.();
    }
  }

  /** Loads a project's state if it is not loaded yet (a project created after start). */
  async load(projectId: string): Promise<void> {
    if (!this.projects.has(projectId)) await this.write((tx) => this.project(tx, projectId).then(() => undefined));
  }

  /** How far `start()` is (readiness). */
  get started(): EngineStartState {
    return this.startState;
  }

  /** The figures /metrics reports, read from memory (no store access). */
  stats(now: number = this.clock.now()): EngineStats {
    let profiles = 0, due = Infinity;
    for (const ps of this.projects.values()) {
      profiles += ps.profiles.size;
      due = Math.min(due, ps.heap.peek());
    }
    return { projects: this.projects.size, profiles, oldestDueAt: due <= now ? due : null, writesWaiting: this.waiting };
  }

  async stop(): Promise<void> {
    if (this.startState.phase === 'loading') this.startState = { ...this.startState, phase: 'stopped' };
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.ticking;
    await this.lock;
  }

  /** Applies the time transitions due now (every project). Resolves when written. */
  async tick(): Promise<void> {
    if (this.ticking) return this.ticking;
    // State left stale by a failed write (the store was down) is read back at the next tick at the latest.
    const stale = this.stale.touched.size > 0 || this.stale.redefined.size > 0;
    const due = stale || [...this.projects.values()].some((ps) => ps.heap.peek() <= this.clock.now());
    if (!due) return;
    this.ticking = this.write(async (tx) => {
      const now = this.clock.now();
      for (const ps of this.projects.values()) await this.advance(tx, ps, now);
    }).finally(() => { this.ticking = null; });
    return this.ticking;
  }

  /**
   * Deletes a project (`del` deletes its rows, in the writer's transaction) and forgets its
   * state. A write for it that was already queued (an ingest batch, an import) then fails and
   * rolls back: nothing is written for a project that is gone, and nothing failed is acknowledged.
   */
  async deleteProject<T>(projectId: string, del: (tx: SqlStore) => Promise<T>): Promise<T> {
    try {
      return await this.write(async (tx) => {
        const out = await del(tx);
        this.deleted.add(projectId);
        this.projects.delete(projectId);
        // Should the transaction fail after all (the store at COMMIT), its state is read back as for any failed write.
        this.redefined.add(projectId);
        return out;
      });
    } catch (e) {
      // Rolled back: the project is still there. (This runs before any write queued behind the deletion.)
      this.deleted.delete(projectId);
      throw e;
    }
  }

  /** The project's state, loaded (and reconciled) on first use. */
  private async project(tx: SqlStore, projectId: string): Promise<ProjectState> {
    const have = this.projects.get(projectId);
    if (have) return have;
    if (this.deleted.has(projectId)) throw new AppError({ code: 'NOT_FOUND', message: `project "${projectId}" was deleted` });
    const now = this.clock.now();
    const ps = new ProjectState(projectId, (await tx.engineClock(projectId)) ?? now);
    this.projects.set(projectId, ps);
    this.redefined.add(projectId);
    await this.loadSegments(tx, ps);
    const starting = this.startState.phase === 'loading';
    for (let after = 0; ;) {
      const page = await tx.scanProfiles(projectId, after, starting ? LOAD_PAGE : PAGE);
      if (page.length === 0) break;
      for (const p of page) ps.profiles.set(p.id, new ProfileState(keepOf(ps, p), ps.words));
      after = page[page.length - 1]!.id;
      if (starting) await yieldToIo();
    }
    await this.backfill(tx, ps, [...ps.tracked.keys()], null);
    for (const m of await tx.allMemberships(projectId)) {
      const s = ps.segments.get(m.segmentId), p = ps.profiles.get(m.profileId);
      if (s && p && !p.has(s.idx)) p.flip(s.idx);
    }
    // Reconcile at the instant the engine last wrote: memberships stored then must hold then.
    const changes: Pending[] = [];
    let n = 0;
    for (const p of ps.profiles.values()) {
      this.evaluate(ps, p, ps.list, ps.clock, 'definition', changes);
      this.schedule(ps, p, ps.clock);
      if (starting && ++n % LOAD_PAGE === 0) await yieldToIo();
    }
    await this.persist(tx, ps, changes, ps.clock);
    // Then everything that came due since, in time order, at its own instant.
    await this.advance(tx, ps, Math.max(now, ps.clock));
    return ps;
  }

  private async loadSegments(tx: SqlStore, ps: ProjectState): Promise<void> {
    this.setSegments(ps, await tx.listSegments(ps.id), await tx.allManualLists(ps.id));
  }

  private setSegments(ps: ProjectState, rows: readonly SegmentRow[], manual: ReadonlyMap<string, { include: ReadonlySet<number>; exclude: ReadonlySet<number> }>): void {
    const old = new Map(ps.segments);
    ps.segments.clear();
    ps.sizes = null;
    ps.rows = [...rows];
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const row of rows) {
      let condition: Condition | null = null;
      if (row.condition !== null) {
        const r = parseCondition(row.condition, { segmentCondition: (id) => (byId.has(id) ? byId.get(id)!.condition : null) });
        condition = r.ok ? r.value : null;
        if (!r.ok) warnNoLongerValid(ps.id, row, r.issues);
      }
      const m = manual.get(row.id);
      ps.segments.set(row.id, {
        row, condition, view: null as unknown as ViewCondition,
        include: new Set([...(m?.include ?? [])].map(String)), exclude: new Set([...(m?.exclude ?? [])].map(String)),
        reads: { names: new Set(), roots: new Set(), timed: false, windows: new Set(), complex: false }, refs: new Set(), idx: -1,
      });
    }
    const before = old.size ? [...old.values()].map((s) => ({ idx: s.idx, now: ps.segments.get(s.row.id) })) : [];
    this.index(ps);
    // Membership bits and due lists follow the segments to their new positions.
    const words = ps.words;
    const moved = new Int32Array(Math.max(0, ...before.map((b) => b.idx + 1))).fill(-1);
    for (const b of before) if (b.now) moved[b.idx] = b.now.idx;
    // Nothing to move when every old segment kept its position (a segment added last, the usual case).
    const same = before.every((b) => b.now?.idx === b.idx);
    for (const p of ps.profiles.values()) {
      if (same) {
        if (p.bits.length !== words) { const bits = new Uint32Array(words); bits.set(p.bits.subarray(0, Math.min(words, p.bits.length))); p.bits = bits; }
        continue;
      }
      const bits = new Uint32Array(words);
      for (const b of before) if (b.now && p.has(b.idx)) bits[b.now.idx >>> 5]! |= 1 << (b.now.idx & 31);
      p.bits = bits;
      if (p.due.length) p.due = p.due.map((i) => moved[i] ?? -1).filter((i) => i >= 0);
    }
  }

  /**
   * New segments (`ids`, just inserted in `tx`) added to the state without touching the others:
   * each is parsed and compiled alone and takes the next positions, and the indexes by what
   * segments read are extended (new objects where segmentsChanged compares before and after).
   * The cost is the new segments', not the project's. False (nothing changed) when this does
   * not apply: an id already held or not stored, a row that does not come last in store order,
   * or a new segment referencing another new one; loadSegments then rebuilds everything.
   */
  private async appendSegments(tx: SqlStore, ps: ProjectState, ids: readonly string[]): Promise<boolean> {
    if (ids.length === 0 || ids.some((id) => ps.segments.has(id))) return false;
    const rows: SegmentRow[] = [];
    for (const id of ids) {
      const r = await tx.getSegment(ps.id, id);
      if (!r) return false;
      rows.push(r);
    }
    // Store order is (created, id); ties are compared only between ids whose order no collation changes.
    const plain = /^seg_[0-9a-f]+$/;
    const order = (a: SegmentRow, b: SegmentRow) => (a.createdAt !== b.createdAt ? a.createdAt - b.createdAt : !plain.test(a.id) || !plain.test(b.id) ? NaN : a.id < b.id ? -1 : 1);
    rows.sort((a, b) => order(a, b) || 0);
    for (let i = 0; i < rows.length; i++) {
      const prev = i === 0 ? ps.rows[ps.rows.length - 1] : rows[i - 1];
      if (prev && !(order(prev, rows[i]!) < 0)) return false;
    }
    const fresh = new Set(ids);
    const parsed: (Condition | null)[] = [];
    for (const row of rows) {
      let condition: Condition | null = null;
      if (row.condition !== null) {
        const r = parseCondition(row.condition, { segmentCondition: (id) => ps.segments.get(id)?.row.condition ?? (fresh.has(id) ? rows.find((x) => x.id === id)!.condition : null) });
        condition = r.ok ? r.value : null;
        if (!r.ok) warnNoLongerValid(ps.id, row, r.issues);
      }
      if (condition && [...conditionReads(condition).segments].some((id) => fresh.has(id))) return false;
      parsed.push(condition);
    }
    const manual = new Map<string, { include: number[]; exclude: number[] }>();
    for (const row of rows) manual.set(row.id, await tx.manualProfileIds(ps.id, row.id));
    const resolve = (id: string) => ps.segments.get(id)?.view;
    const push = <K>(m: Map<K, number[]>, k: K, i: number) => { const l = m.get(k); if (l) l.push(i); else m.set(k, [i]); };
    const keep = { traits: new Set(ps.keep.traits), context: new Set(ps.keep.context) };
    const tracked = new Map(ps.tracked);
    const list = [...ps.list];
    for (const [n, row] of rows.entries()) {
      const condition = parsed[n]!;
      const m = manual.get(row.id)!;
      const include = new Set(m.include.map(String)), exclude = new Set(m.exclude.map(String));
      const o = condition ? conditionReads(condition) : null;
      const reads = transitiveReads(o, ps.segments);
      const { names, roots, timed, windows, complex } = reads;
      const s: SegmentState = {
        row, condition, view: compileViewSegment(condition, include, exclude, resolve), include, exclude,
        reads, refs: o?.segments ?? new Set(), idx: list.length,
      };
      ps.segments.set(row.id, s);
      list.push(s);
      ps.named.set(row.name, row);
      for (const r of s.refs) { const l = ps.referrers.get(r); if (l) l.push(s); else ps.referrers.set(r, [s]); }
      for (const x of names) push(ps.byName, x, s.idx);
      for (const x of roots) push(ps.byRoot, x, s.idx);
      if (timed) {
        ps.timedSegments.push(s);
        if (complex) ps.complexTimed.push(s);
        for (const k of windows) {
          let w = ps.windowByKey.get(k);
          if (!w) {
            const d = o!.windows.find((x) => windowKey(x) === k)!;
            ps.windowByKey.set(k, (w = { name: d.name, fromMs: d.fromMs, toMs: d.toMs, segs: [] }));
            ps.windows = [...ps.windows, w];
          }
          w.segs.push(s.idx);
        }
      }
      if (condition) recordKeys(condition, keep);
      for (const [x, paths] of o?.paths ?? []) {
        const add = projectionKey(paths), had = tracked.get(x);
        tracked.set(x, had ? { props: new Set([...had.props, ...add.props]), ctx: new Set([...had.ctx, ...add.ctx]) } : add);
      }
    }
    ps.list = list;
    if (ps.sizes) { const sizes = new Float64Array(list.length); sizes.set(ps.sizes); ps.sizes = sizes; }
    ps.rows = [...ps.rows, ...rows];
    ps.keep = keep;
    ps.tracked = tracked;
    ps.mark = new Uint8Array(list.length);
    const words = Math.max(1, Math.ceil(list.length / 32));
    if (words !== ps.words) {
      ps.words = words;
      for (const p of ps.profiles.values()) { const bits = new Uint32Array(words); bits.set(p.bits.subarray(0, Math.min(words, p.bits.length))); p.bits = bits; }
    }
    return true;
  }

  /** The project's segment rows in store order (created, then id), as the engine holds them; the project is loaded on first use. */
  async segmentRows(tx: SqlStore, projectId: string): Promise<readonly SegmentRow[]> {
    return (await this.project(tx, projectId)).rows;
  }

  /** Compiles the segments and indexes them by what they read. */
  private index(ps: ProjectState): void {
    const resolve = (id: string) => ps.segments.get(id)?.view;
    const own = new Map<string, ReturnType<typeof conditionReads> | null>();
    for (const [id, s] of ps.segments) {
      s.view = compileViewSegment(s.condition, s.include, s.exclude, resolve);
      const reads = s.condition ? conditionReads(s.condition) : null;
      own.set(id, reads);
      s.refs = reads?.segments ?? new Set();
    }
    // Topological order and transitive reads.
    const winDefs = new Map<string, { name: string | null; fromMs: number; toMs: number }>();
    const order: string[] = [];
    const done = new Set<string>();
    const visit = (id: string, stack: Set<string>) => {
      if (done.has(id) || stack.has(id) || !ps.segments.has(id)) return;
      stack.add(id);
      for (const r of own.get(id)?.segments ?? []) visit(r, stack);
      stack.delete(id);
      done.add(id);
      order.push(id);
      const s = ps.segments.get(id)!;
      const o = own.get(id);
      for (const w of o?.windows ?? []) if (!winDefs.has(windowKey(w))) winDefs.set(windowKey(w), w);
      s.reads = transitiveReads(o, ps.segments);
    };
    for (const id of ps.segments.keys()) visit(id, new Set());
    ps.keep = { traits: new Set(), context: new Set() };
    for (const s of ps.segments.values()) if (s.condition) recordKeys(s.condition, ps.keep);
    ps.list = order.map((id) => ps.segments.get(id)!);
    ps.named = new Map(ps.list.map((s) => [s.row.name, s.row]));
    ps.referrers = new Map();
    for (const s of ps.list) for (const r of s.refs) { const l = ps.referrers.get(r); if (l) l.push(s); else ps.referrers.set(r, [s]); }
    ps.list.forEach((s, i) => { s.idx = i; });
    ps.words = Math.max(1, Math.ceil(ps.list.length / 32));
    ps.mark = new Uint8Array(ps.list.length);
    ps.byName = new Map();
    ps.byRoot = new Map();
    const push = <K>(m: Map<K, number[]>, k: K, i: number) => { const l = m.get(k); if (l) l.push(i); else m.set(k, [i]); };
    for (const s of ps.list) {
      for (const n of s.reads.names) push(ps.byName, n, s.idx);
      for (const r of s.reads.roots) push(ps.byRoot, r, s.idx);
    }
    ps.timedSegments = ps.list.filter((s) => s.reads.timed);
    ps.complexTimed = ps.timedSegments.filter((s) => s.reads.complex);
    ps.windowByKey = new Map();
    for (const s of ps.timedSegments) {
      for (const k of s.reads.windows) {
        let w = ps.windowByKey.get(k);
        if (!w) { const d = winDefs.get(k)!; ps.windowByKey.set(k, (w = { name: d.name, fromMs: d.fromMs, toMs: d.toMs, segs: [] })); }
        w.segs.push(s.idx);
      }
    }
    ps.windows = [...ps.windowByKey.values()];
    const paths = new Map<string | null, EventPath[]>();
    for (const c of own.values()) {
      if (!c) continue;
      for (const [n, ps2] of c.paths) paths.set(n, [...(paths.get(n) ?? []), ...ps2]);
    }
    ps.tracked = new Map([...paths].map(([n, p]) => [n, projectionKey(p)]));
  }

  /** Reads the given names' events again from the store (for some profiles, or all when `profileIds` is null). */
  private async backfill(tx: SqlStore, ps: ProjectState, names: readonly (string | null)[], profileIds: readonly number[] | null): Promise<void> {
    if (names.length === 0) return;
    const star = names.includes(null);
    const named = names.filter((n): n is string => n !== null);
    const targets = profileIds ? profileIds.map((id) => ps.profiles.get(id)).filter((p) => p !== undefined) : [...ps.profiles.values()];
    for (const p of targets) for (const n of names) p.lists.delete(n);
    const context = names.some((n) => (ps.tracked.get(n)?.ctx.size ?? 0) > 0);
    const starting = this.startState.phase === 'loading';
    for (let after = 0; ;) {
      const page = await tx.scanEvents(ps.id, { names: named, nonDerived: star, context, ...(profileIds ? { profileIds } : {}) }, after, starting ? LOAD_PAGE : PAGE * 4);
      if (page.length === 0) break;
      for (const e of page) {
        const p = ps.profiles.get(e.profileId);
        if (p) this.addEvent(ps, p, e, names);
      }
      after = page[page.length - 1]!.id;
      if (starting) await yieldToIo();
    }
  }

  /** Adds an event to a profile's kept lists (only `only` names when given). */
  private addEvent(ps: ProjectState, p: ProfileState, e: EventRecord, only?: readonly (string | null)[]): Set<string | null> {
    const hit = new Set<string | null>();
    const named = ps.tracked.get(e.name);
    const star = isDerivedEvent(e.name) ? undefined : ps.tracked.get(null);
    if (!named && !star) return hit;
    const props = new Set([...(named?.props ?? []), ...(star?.props ?? [])]);
    const ctx = new Set([...(named?.ctx ?? []), ...(star?.ctx ?? [])]);
    const slim: EventRecord = { name: e.name, timestamp: e.timestamp, properties: pick(e.properties, props), context: pick(e.context, ctx) };
    if (named && (!only || only.includes(e.name))) { p.add(e.name, slim); hit.add(e.name); }
    if (star && (!only || only.includes(null))) { p.add(null, slim); hit.add(null); }
    return hit;
  }

  private async reloadProfiles(tx: SqlStore, ps: ProjectState, ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    ps.sizes = null;
    const found = new Set<number>();
    for (let i = 0; i < ids.length; i += 500) {
      for (const rec of await tx.scanProfiles(ps.id, 0, 500, ids.slice(i, i + 500))) {
        found.add(rec.id);
        const have = ps.profiles.get(rec.id);
        if (have) { have.profile = keepOf(ps, rec); have.lists.clear(); } else ps.profiles.set(rec.id, new ProfileState(keepOf(ps, rec), ps.words));
      }
    }
    for (const id of ids) if (!found.has(id)) this.dropProfile(ps, id);
    await this.backfill(tx, ps, [...ps.tracked.keys()], ids.filter((id) => found.has(id)));
    const current = await tx.membershipsOf(ps.id, [...found]);
    for (const id of found) {
      const mine = current.get(id);
      const p = ps.profiles.get(id)!;
      p.bits = new Uint32Array(ps.words);
      for (const segId of mine?.keys() ?? []) { const s = ps.segments.get(segId); if (s) p.flip(s.idx); }
      // From the engine's own instant (what is due since then is applied by the next wake-up).
      this.schedule(ps, p, ps.clock);
    }
  }

  private dropProfile(ps: ProjectState, id: number): void {
    ps.profiles.delete(id);
    ps.sizes = null;
  }

  // ------------------------------------------------------------ evaluation

  /** Re-evaluates the given segments (in order) for a profile at `at`, recording differences. */
  private evaluate(ps: ProjectState, p: ProfileState, list: readonly SegmentState[], at: number, reason: MembershipReason, out: Pending[]): number {
    let n = 0;
    const sizes = ps.sizes;
    for (const s of list) {
      const member = s.view.test(p, at);
      if (member === p.has(s.idx)) continue;
      p.flip(s.idx);
      if (sizes) sizes[s.idx]! += member ? 1 : -1;
      out.push({ change: { segmentId: s.row.id, profileId: p.profile.id, kind: member ? 'entered' : 'exited', at, reason }, write: true });
      n++;
    }
    return n;
  }

  /** Segments affected by new events of `names` and by changed parts of the record, referenced ones first. */
  private affected(ps: ProjectState, names: Iterable<string | null>, roots: readonly ProfileRoot[]): SegmentState[] {
    const mark = ps.mark;
    mark.fill(0);
    let hits = 0;
    const hit = (i: number) => { if (mark[i] === 0) { mark[i] = 1; hits++; } };
    for (const r of roots) for (const i of ps.byRoot.get(r) ?? []) hit(i);
    for (const n of names) for (const i of ps.byName.get(n) ?? []) hit(i);
    if (hits === ps.list.length) return ps.list;
    const out: SegmentState[] = [];
    for (let i = 0; i < mark.length; i++) if (mark[i]) out.push(ps.list[i]!);
    return out;
  }

  /** The derived events of this profile's new changes, applied to its state; further changes they cause follow (bounded). */
  private cascade(ps: ProjectState, p: ProfileState, out: Pending[], from: number, reason: MembershipReason): boolean {
    let kept = false;
    for (let round = 0, start = from; round < MAX_CASCADE && start < out.length; round++) {
      const names = new Set<string | null>();
      const end = out.length;
      for (let i = start; i < end; i++) {
        const c = out[i]!.change;
        if (c.profileId !== p.profile.id) continue;
        for (const n of this.addEvent(ps, p, this.derivedEvent(ps, c))) names.add(n);
      }
      if (names.size === 0) return kept;
      kept = true;
      const at = out[end - 1]!.change.at;
      this.evaluate(ps, p, this.affected(ps, names, []), at, reason, out);
      start = end;
    }
    return kept;
  }

  private derivedEvent(ps: ProjectState, c: MembershipChange): EngineEvent {
    return {
      profileId: c.profileId, name: c.kind === 'entered' ? '$segment_entered' : '$segment_exited', timestamp: c.at,
      properties: { segmentId: c.segmentId, segmentName: ps.segments.get(c.segmentId)?.row.name ?? '', reason: c.reason }, context: {},
    };
  }

  /** Sets the profile's next wake-up: the earliest instant time alone can change a membership. */
  private schedule(ps: ProjectState, p: ProfileState, now: number): void {
    let next = Infinity;
    let due: number[] = [];
    // Window edges, once per distinct window and list (shared by every segment reading them) ...
    for (const w of ps.windows) {
      const n = relativeWindowNext(p.events(w.name), w.fromMs, w.toMs, now);
      if (n < next) { next = n; due = w.segs.slice(); } else if (n === next && n !== Infinity) due.push(...w.segs);
    }
    // ... and the segments with other time-relative operators, each on its own.
    for (const s of ps.complexTimed) {
      const n = s.view.next(p, now);
      if (n < next) { next = n; due = [s.idx]; } else if (n === next && n !== Infinity) due.push(s.idx);
    }
    p.wake = next;
    p.due = due;
    if (next !== Infinity) ps.heap.push(next, p.profile.id);
  }

  /** After only `list` changed its inputs: the wake-up can only come earlier (the others' instants still hold). */
  private scheduleSome(ps: ProjectState, p: ProfileState, now: number, list: readonly SegmentState[]): void {
    const was = p.wake;
    const consider = (n: number, idx: number) => {
      if (n < p.wake) { p.wake = n; p.due = [idx]; } else if (n === p.wake && n !== Infinity && !p.due.includes(idx)) p.due.push(idx);
    };
    for (const s of list) {
      if (!s.reads.timed) continue;
      if (s.reads.complex) { consider(s.view.next(p, now), s.idx); continue; }
      for (const k of s.reads.windows) { const w = ps.windowByKey.get(k)!; consider(relativeWindowNext(p.events(w.name), w.fromMs, w.toMs, now), s.idx); }
    }
    if (p.wake < was) ps.heap.push(p.wake, p.profile.id);
  }

  /** Applies every wake-up due at or before `now`, each at its own instant. */
  private async advance(tx: SqlStore, ps: ProjectState, now: number): Promise<void> {
    const out = this.wake(ps, now);
    if (out.length || ps.clock < now) await this.persist(tx, ps, out, now);
  }

  private wake(ps: ProjectState, now: number): Pending[] {
    const out: Pending[] = [];
    while (ps.heap.peek() <= now) {
      const [at, id] = ps.heap.pop()!;
      const p = ps.profiles.get(id);
      if (!p || p.wake !== at) continue;
      this.touch(ps.id, [id]);
      const from = out.length;
      // Only the segments due now can change now (the others' next instants are later); referenced ones first.
      this.evaluate(ps, p, [...new Set(p.due)].sort((a, b) => a - b).map((i) => ps.list[i]!), at, 'time', out);
      this.cascade(ps, p, out, from, 'time');
      this.schedule(ps, p, at);
    }
    return out;
  }

  // ------------------------------------------------------------ what changes state

  /** Applies an ingested batch (already written in `tx`): membership of the touched profiles follows at once. */
  async applyIngest(tx: SqlStore, projectId: string, outcome: IngestOutcome, now: number): Promise<MembershipChange[]> {
    const ps = await this.project(tx, projectId);
    await this.advance(tx, ps, now);
    if (outcome.touched.size === 0) return [];
    this.touch(projectId, outcome.touched);
    for (const [from, into] of outcome.merges) this.touch(projectId, [from, into]);
    const out: Pending[] = [];
    const created = this.applyRecords(ps, outcome, now, out);
    const reload = [...outcome.reload].filter((id) => ps.profiles.has(id));
    if (reload.length) await this.backfill(tx, ps, [...ps.tracked.keys()], reload);
    this.applyEvents(ps, outcome, now, created, out);
    await this.persist(tx, ps, out, now);
    return out.map((x) => x.change);
  }

  /**
   * Stores events Strata derives itself beyond membership (e.g. `$mission_completed`) in the
   * caller's transaction and applies them like any event: segments that read them follow.
   */
  async applyDerived(tx: SqlStore, projectId: string, rows: readonly { profileId: number; name: string; properties: JsonObject; timestamp: number }[], now: number): Promise<MembershipChange[]> {
    if (rows.length === 0) return [];
    await tx.insertDerivedEvents(projectId, rows);
    const ps = await this.project(tx, projectId);
    const touched = new Set(rows.map((r) => r.profileId).filter((id) => ps.profiles.has(id)));
    const events: EngineEvent[] = rows.filter((r) => touched.has(r.profileId)).map((r) => ({ ...r, context: {} })).sort((a, b) => a.timestamp - b.timestamp);
    const records = [...touched].map((id) => ps.profiles.get(id)!.profile);
    return this.applyIngest(tx, projectId, { stored: rows.length, duplicates: 0, touched, merges: [], records, events, reload: new Set() }, now);
  }

  /**
   * The engine's core step, in memory only: a batch's profiles and events applied and its
   * membership changes decided (a partition worker runs this, then writes the changes). For
   * outcomes that need no reading back from the store (no merge, no re-derived visits).
   */
  applyInMemory(projectId: string, outcome: IngestOutcome, now: number): MembershipChange[] {
    const ps = this.projects.get(projectId);
    if (!ps) throw new Error(`project ${projectId} is not loaded`);
    if (outcome.reload.size) throw new Error('this batch needs events read back from the store: use applyIngest');
    // As applyIngest: the time transitions due first, each at its own instant (their derived events already kept).
    const timed = this.wake(ps, now);
    const out: Pending[] = [];
    this.applyEvents(ps, outcome, now, this.applyRecords(ps, outcome, now, out), out);
    return [...timed, ...out].map((x) => x.change);
  }

  /** Merges and profile records of a batch; returns the ids of profiles new to the engine. */
  private applyRecords(ps: ProjectState, outcome: IngestOutcome, now: number, out: Pending[]): { created: Set<number>; roots: Map<number, ProfileRoot[]> } {
    // Merges: the survivor takes the merged profile's memberships (the store moved them, keeping the earlier since).
    if (outcome.merges.length) ps.sizes = null;
    for (const [from, into] of outcome.merges) {
      const gone = ps.profiles.get(from)?.profile;
      if (gone) ps.gone.set(from, gone);
      const f = ps.profiles.get(from), t = ps.profiles.get(into);
      for (const s of ps.list) {
        if (!f?.has(s.idx)) continue;
        // The merged profile's membership ends with it (history and webhooks say so); the survivor's begins.
        out.push({ change: { segmentId: s.row.id, profileId: from, kind: 'exited', at: now, reason: 'merge' }, write: false });
        if (t && !t.has(s.idx)) {
          t.flip(s.idx);
          out.push({ change: { segmentId: s.row.id, profileId: into, kind: 'entered', at: now, reason: 'merge' }, write: false });
        }
      }
      ps.profiles.delete(from);
    }
    const created = new Set<number>();
    const roots = new Map<number, ProfileRoot[]>();
    for (const rec of outcome.records) {
      const have = ps.profiles.get(rec.id);
      const kept = keepOf(ps, rec);
      if (have) { roots.set(rec.id, changedRoots(have.profile, kept)); have.profile = kept; }
      else { ps.profiles.set(rec.id, new ProfileState(kept, ps.words)); created.add(rec.id); }
    }
    return { created, roots };
  }

  /** A batch's events added to the kept lists, then the segments they can change re-evaluated. */
  private applyEvents(ps: ProjectState, outcome: IngestOutcome, now: number, { created, roots }: { created: ReadonlySet<number>; roots: ReadonlyMap<number, ProfileRoot[]> }, out: Pending[]): void {
    const merged = new Set(outcome.merges.map(([, into]) => into));
    // The survivors' entries by merge are derived events too (written with the batch): kept before evaluating.
    for (const x of out) {
      const p = ps.profiles.get(x.change.profileId);
      if (p) this.addEvent(ps, p, this.derivedEvent(ps, x.change));
    }
    const names = new Map<number, Set<string | null>>();
    // Visits a late event ended leave the kept lists; their replacements come with the events.
    for (const v of outcome.removedVisits ?? []) {
      const p = ps.profiles.get(v.profileId);
      if (!p || outcome.reload.has(v.profileId) || !p.remove('$session', v.timestamp)) continue;
      let set = names.get(v.profileId);
      if (!set) names.set(v.profileId, (set = new Set()));
      set.add('$session');
    }
    for (const e of outcome.events) {
      if (outcome.reload.has(e.profileId)) continue;
      const p = ps.profiles.get(e.profileId);
      if (!p) continue;
      let set = names.get(e.profileId);
      if (!set) names.set(e.profileId, (set = new Set()));
      for (const n of this.addEvent(ps, p, e)) set.add(n);
    }
    for (const id of outcome.touched) {
      const p = ps.profiles.get(id);
      if (!p) continue;
      const reason: MembershipReason = merged.has(id) ? 'merge' : 'event';
      // A new profile, or one whose events were read again, is looked at by every segment (even one reading nothing, like {"all": []}).
      const all = outcome.reload.has(id) || created.has(id);
      const list = all ? ps.list : this.affected(ps, names.get(id) ?? [], roots.get(id) ?? ROOTS);
      const from = out.length;
      this.evaluate(ps, p, list, now, reason, out);
      // Derived events kept for other segments, or a profile seen whole: every instant is looked at again.
      if (this.cascade(ps, p, out, from, reason) || all) this.schedule(ps, p, now);
      else this.scheduleSome(ps, p, now, list);
    }
  }

  /**
   * Builds a project's state from data in memory (segments, profiles, events), with membership
   * as of `now` — for benchmarks and for a worker handed its partition's data.
   */
  hydrate(projectId: string, segments: readonly SegmentRow[], people: Iterable<{ profile: EngineProfile; events: readonly EventRecord[] }>, now: number): void {
    const ps = new ProjectState(projectId, now);
    this.projects.set(projectId, ps);
    this.setSegments(ps, segments, new Map());
    for (const { profile, events } of people) {
      const p = new ProfileState(keepOf(ps, profile), ps.words);
      ps.profiles.set(profile.id, p);
      for (const e of events) this.addEvent(ps, p, e);
    }
    const out: Pending[] = [];
    for (const p of ps.profiles.values()) {
      this.evaluate(ps, p, ps.list, now, 'definition', out);
      this.schedule(ps, p, now);
    }
  }

  /** Applies the wake-ups due at or before `now` in memory; returns the changes (for benchmarks: no store). */
  advanceInMemory(projectId: string, now: number): MembershipChange[] {
    const ps = this.projects.get(projectId);
    if (!ps) return [];
    return this.wake(ps, now).map((x) => x.change);
  }

  /**
   * Segment definitions changed (created, updated, deleted; manual lists too): reads newly
   * needed events from the store, then re-evaluates the changed segments and the ones that
   * reference them, for every profile.
   */
  async segmentsChanged(tx: SqlStore, projectId: string, ids: readonly string[], now: number, reason: MembershipReason = 'definition', profileIds?: readonly number[]): Promise<MembershipChange[]> {
    const ps = await this.project(tx, projectId);
    await this.advance(tx, ps, now);
    this.redefined.add(projectId);
    const before = ps.tracked;
    const kept = ps.keep;
    if (!(await this.appendSegments(tx, ps, ids))) await this.loadSegments(tx, ps);
    // A segment reading a trait or context key not kept so far: the records are read again.
    if ([...ps.keep.traits].some((k) => !kept.traits.has(k)) || [...ps.keep.context].some((k) => !kept.context.has(k))) {
      for (let after = 0; ;) {
        const page = await tx.scanProfiles(ps.id, after, PAGE);
        if (page.length === 0) break;
        for (const rec of page) { const p = ps.profiles.get(rec.id); if (p) p.profile = keepOf(ps, rec); }
        after = page[page.length - 1]!.id;
      }
    }
    // Manual lists may name profiles created by hand in this transaction.
    const listed = ids.flatMap((id) => { const s = ps.segments.get(id); return s ? [...s.include, ...s.exclude].map(Number) : []; });
    const created = await this.ensureProfiles(tx, ps, [...(profileIds ?? []), ...listed]);
    await this.backfill(tx, ps, this.staleNames(ps, before), null);
    const out = this.reevaluate(ps, ids, now, reason, profileIds, created);
    await this.persist(tx, ps, out, now);
    return out.map((x) => x.change);
  }

  /** The in-memory form of segmentsChanged, with the events to backfill from given (benchmarks, partition workers). */
  redefineInMemory(projectId: string, rows: readonly SegmentRow[], ids: readonly string[], now: number, events: Iterable<EngineEvent>): MembershipChange[] {
    const ps = this.projects.get(projectId);
    if (!ps) throw new Error(`project ${projectId} is not loaded`);
    const before = ps.tracked;
    this.setSegments(ps, rows, new Map());
    const stale = this.staleNames(ps, before);
    if (stale.length) {
      for (const p of ps.profiles.values()) for (const n of stale) p.lists.delete(n);
      for (const e of events) {
        const p = ps.profiles.get(e.profileId);
        if (p) this.addEvent(ps, p, e, stale);
      }
    }
    return this.reevaluate(ps, ids, now, 'definition', undefined, new Set()).map((x) => x.change);
  }

  /** Event names whose kept lists no longer hold what the segments read (new names, new properties). */
  private staleNames(ps: ProjectState, before: ReadonlyMap<string | null, Projection>): (string | null)[] {
    return [...ps.tracked].filter(([n, proj]) => !sameProjection(before.get(n), proj)).map(([n]) => n);
  }

  /** Re-evaluates segments `ids` and the ones referencing them, for the given profiles (default: all). */
  private reevaluate(ps: ProjectState, ids: readonly string[], now: number, reason: MembershipReason, profileIds: readonly number[] | undefined, created: ReadonlySet<number>): Pending[] {
    // The changed segments and every segment referencing one of them, directly or not.
    const targets = new Set(ids);
    for (const id of targets) for (const s of ps.referrers.get(id) ?? []) targets.add(s.row.id);
    // In list order (referenced segments first).
    const list = [...targets].flatMap((id) => ps.segments.get(id) ?? []).sort((a, b) => a.idx - b.idx);
    const out: Pending[] = [];
    const profiles = profileIds ? profileIds.map((id) => ps.profiles.get(id)).filter((p) => p !== undefined) : ps.profiles.values();
    for (const p of profiles) {
      const from = out.length;
      const whole = created.has(p.profile.id);
      this.evaluate(ps, p, whole ? ps.list : list, now, reason, out);
      // A derived event kept for other segments, or a profile seen whole: every instant is looked at again.
      if (this.cascade(ps, p, out, from, reason) || whole) this.schedule(ps, p, now);
      else this.scheduleSome(ps, p, now, list);
    }
    return out;
  }

  /** Profiles changed outside ingest (labels, created by hand): read them again and re-evaluate. */
  async profilesChanged(tx: SqlStore, projectId: string, profileIds: readonly number[], now: number, reason: MembershipReason): Promise<MembershipChange[]> {
    const ps = await this.project(tx, projectId);
    await this.advance(tx, ps, now);
    this.touch(projectId, profileIds);
    await this.reloadProfiles(tx, ps, profileIds);
    const out: Pending[] = [];
    for (const id of profileIds) {
      const p = ps.profiles.get(id);
      if (!p) continue;
      const from = out.length;
      this.evaluate(ps, p, ps.list, now, reason, out);
      this.cascade(ps, p, out, from, reason);
      this.schedule(ps, p, now);
    }
    await this.persist(tx, ps, out, now);
    return out.map((x) => x.change);
  }

  /**
   * An erased profile (docs/privacy.md): the engine forgets its record, event lists, membership
   * bits and manual-list entries, and emits nothing for it — no history, no derived event, no
   * webhook naming it. Time transitions due by `now` are applied first, as before any write, so
   * that what they write is erased with the rest in the same transaction.
   */
  async forget(tx: SqlStore, projectId: string, profileId: number, now: number): Promise<void> {
    const ps = await this.project(tx, projectId);
    await this.advance(tx, ps, now);
    // Manual lists change too: if the erasure does not commit, the project is read again whole.
    this.redefined.add(projectId);
    this.dropProfile(ps, profileId);
    const key = String(profileId);
    for (const s of ps.segments.values()) { s.include.delete(key); s.exclude.delete(key); }
  }

  /** Loads the profiles not held yet (created outside ingest); returns their ids. */
  private async ensureProfiles(tx: SqlStore, ps: ProjectState, ids: readonly number[]): Promise<Set<number>> {
    const missing = [...new Set(ids.filter((id) => !ps.profiles.has(id)))];
    if (missing.length) await this.reloadProfiles(tx, ps, missing);
    return new Set(missing);
  }

  // ------------------------------------------------------------ writing

  /** Writes memberships, history, derived events, outbox rows and the engine clock in `tx`. */
  private async persist(tx: SqlStore, ps: ProjectState, out: readonly Pending[], now: number): Promise<void> {
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
      await tx.insertDerivedEvents(ps.id, changes.filter((c) => ps.profiles.has(c.profileId)).map((c) => this.derivedEvent(ps, c)));
      if (this.listeners.length) {
        const recorded = changes.map((c, i): RecordedChange => {
          const p = ps.profiles.get(c.profileId)?.profile ?? ps.gone.get(c.profileId);
          return { ...c, historyId: ids[i]!, segmentName: ps.segments.get(c.segmentId)?.row.name ?? '', userId: p?.userId ?? null, anonymousId: p?.anonymousId ?? null };
        });
        for (const l of this.listeners) await l(tx, ps.id, recorded);
      }
    }
    ps.gone.clear();
    if (now > ps.clock || out.length) {
      ps.clock = Math.max(ps.clock, now);
      await tx.setEngineClock(ps.id, ps.clock);
    }
  }

  // ------------------------------------------------------------ reading

  /** Whether a segment's condition (manual lists aside) holds for a profile now. */
  async conditionHolds(tx: SqlStore, projectId: string, segmentId: string, profileId: number, now: number): Promise<boolean> {
    const ps = await this.project(tx, projectId);
    const s = ps.segments.get(segmentId);
    const p = ps.profiles.get(profileId);
    if (!s?.condition || !p) return false;
    return compileViewSegment(s.condition, new Set(), new Set(), (id) => ps.segments.get(id)?.view).test(p, now);
  }

  /** Ids of the segments a profile is in now (from memory). */
  segmentsOf(projectId: string, profileId: number): string[] {
    const ps = this.projects.get(projectId);
    if (!ps) return [];
    const p = ps.profiles.get(profileId);
    if (!p) return [];
    const out: string[] = [];
    const bits = p.bits;
    for (let w = 0; w < bits.length; w++) {
      let x = bits[w]!;
      while (x !== 0) {
        const b = 31 - Math.clz32(x & -x);
        out.push(ps.list[w * 32 + b]!.row.id);
        x &= x - 1;
      }
    }
    return out;
  }

  /** Names of the project's segments by id (from memory). */
  segmentNames(projectId: string): Map<string, string> {
    const ps = this.projects.get(projectId);
    return new Map(ps ? ps.list.map((s) => [s.row.id, s.row.name]) : []);
  }

  /** The segment of a project with this name, as the engine holds it (undefined: none, or the project is not loaded). */
  segmentNamed(projectId: string, name: string): SegmentRow | undefined {
    return this.projects.get(projectId)?.named.get(name);
  }

  /** A segment's row as the engine holds it (undefined: not held, or the project is not loaded). */
  segmentRow(projectId: string, segmentId: string): SegmentRow | undefined {
    return this.projects.get(projectId)?.segments.get(segmentId)?.row;
  }

  /** Whether a segment has manual include or exclude entries (its members are then more than its condition). */
  hasManualLists(projectId: string, segmentId: string): boolean {
    const s = this.projects.get(projectId)?.segments.get(segmentId);
    return s !== undefined && (s.include.size > 0 || s.exclude.size > 0);
  }

  /** A profile's record as the engine keeps it (only the trait and context keys segments read). */
  record(projectId: string, profileId: number): EngineProfile | undefined {
    return this.projects.get(projectId)?.profiles.get(profileId)?.profile;
  }

  /** Members of a segment in memory (profile ids; a scan of every profile). */
  members(projectId: string, segmentId: string): Set<number> {
    const ps = this.projects.get(projectId);
    const s = ps?.segments.get(segmentId);
    const out = new Set<number>();
    if (!ps || !s) return out;
    for (const p of ps.profiles.values()) if (p.has(s.idx)) out.add(p.profile.id);
    return out;
  }

  /**
   * A preview from engine state, when every event name and property the condition reads is
   * already kept (a condition over live leaves); null when the store must answer.
   */
  preview(projectId: string, condition: Condition, now: number, sampleSize: number): Tally | null {
    const ps = this.projects.get(projectId);
    if (!ps) return null;
    const reads = conditionReads(condition);
    for (const [n, paths] of reads.paths) {
      const have = ps.tracked.get(n);
      const need = projectionKey(paths);
      if (!have || [...need.props].some((k) => !have.props.has(k)) || [...need.ctx].some((k) => !have.ctx.has(k))) return null;
    }
    for (const id of reads.segments) if (!ps.segments.has(id)) return null;
    const keys = { traits: new Set<string>(), context: new Set<string>() };
    recordKeys(condition, keys);
    if ([...keys.traits].some((k) => !ps.keep.traits.has(k)) || [...keys.context].some((k) => !ps.keep.context.has(k))) return null;
    const view = compileViewSegment(condition, new Set(), new Set(), (id) => ps.segments.get(id)?.view);
    return this.tally(ps, (p) => view.test(p, now), sampleSize);
  }

  /**
   * What a saved segment shares with every other: its size, and for each segment that shares
   * members with it, its size and how many (a scan of the members' bits; sizes are kept);
   * null when the project or segment is not loaded. With `minJaccard`, only the close segments
   * are given (as closePairs): one holds all of the other, or their Jaccard is at least
   * `minJaccard` (0.0001 below included, as callers round to 4 places).
   */
  overlapWith(projectId: string, segmentId: string, minJaccard = 0): Tally | null {
    const ps = this.projects.get(projectId);
    const s = ps?.segments.get(segmentId);
    if (!ps || !s) return null;
    const sizes = this.segmentSizes(ps);
    const w0 = s.idx >>> 5, b0 = 1 << (s.idx & 31);
    const common = new Float64Array(ps.list.length);
    let count = 0;
    for (const p of ps.profiles.values()) {
      const bits = p.bits;
      if ((bits[w0]! & b0) === 0) continue;
      count++;
      for (let w = 0; w < bits.length; w++) {
        let x = bits[w]!;
        while (x !== 0) {
          common[w * 32 + 31 - Math.clz32(x & -x)]!++;
          x &= x - 1;
        }
      }
    }
    const floor = minJaccard - 1e-4;
    const sized = new Map<string, number>(), shared = new Map<string, number>();
    for (let i = 0; i < common.length; i++) {
      const inter = common[i]!, size = sizes[i]!;
      if (inter === 0) continue;
      if (minJaccard > 0 && inter !== count && inter !== size && inter / (count + size - inter) < floor) continue;
      const id = ps.list[i]!.row.id;
      sized.set(id, size);
      shared.set(id, inter);
    }
    return { count, total: ps.profiles.size, sample: [], sizes: sized, shared };
  }

  /** Every segment's size by position: counted from the bits once, then kept as evaluate() flips them. */
  private segmentSizes(ps: ProjectState): Float64Array {
    if (ps.sizes && ps.sizes.length === ps.list.length) return ps.sizes;
    const sizes = new Float64Array(ps.list.length);
    for (const p of ps.profiles.values()) {
      const bits = p.bits;
      for (let w = 0; w < bits.length; w++) {
        let x = bits[w]!;
        while (x !== 0) {
          sizes[w * 32 + 31 - Math.clz32(x & -x)]!++;
          x &= x - 1;
        }
      }
    }
    return (ps.sizes = sizes);
  }

  /** Every segment's size, from the membership bits (one scan of the profiles); null when the project is not loaded. */
  sizes(projectId: string): ReadonlyMap<string, number> | null {
    const ps = this.projects.get(projectId);
    return ps ? this.tally(ps, () => false, 0).sizes : null;
  }

  /** One scan: who matches, and per segment its size and how many of the matches it holds. */
  private tally(ps: ProjectState, match: (p: ProfileState) => boolean, sampleSize: number): Tally {
    const n = ps.list.length;
    const size = new Float64Array(n), common = new Float64Array(n);
    let count = 0;
    const sample: EngineProfile[] = [];
    for (const p of ps.profiles.values()) {
      const hit = match(p);
      if (hit) {
        count++;
        if (sample.length < sampleSize) sample.push(p.profile);
      }
      const bits = p.bits;
      for (let w = 0; w < bits.length; w++) {
        let x = bits[w]!;
        while (x !== 0) {
          const i = w * 32 + 31 - Math.clz32(x & -x);
          size[i]!++;
          if (hit) common[i]!++;
          x &= x - 1;
        }
      }
    }
    const sizes = new Map<string, number>(), shared = new Map<string, number>();
    for (let i = 0; i < n; i++) { sizes.set(ps.list[i]!.row.id, size[i]!); shared.set(ps.list[i]!.row.id, common[i]!); }
    return { count, total: ps.profiles.size, sample, sizes, shared };
  }

  /**
   * Pairwise intersections of up to 52 segments (by id, in the order given) from engine state.
   * Profiles are grouped by which of the segments they are in (a bit signature), so the cost is
   * one pass over the profiles plus, per distinct signature, its pairs.
   */
  overlap(projectId: string, ids: readonly string[]): { sizes: number[]; intersections: number[][] } | null {
    const ps = this.projects.get(projectId);
    if (!ps || ids.length > 52) return null;
    const idxs = ids.map((id) => ps.segments.get(id)?.idx);
    if (idxs.some((i) => i === undefined)) return null;
    const word = (idxs as number[]).map((i) => i >>> 5), bit = (idxs as number[]).map((i) => 1 << (i & 31));
    const k = ids.length;
    const signatures = new Map<number, number>();
    for (const p of ps.profiles.values()) {
      const bits = p.bits;
      let sig = 0;
      for (let j = 0, weight = 1; j < k; j++, weight *= 2) if ((bits[word[j]!]! & bit[j]!) !== 0) sig += weight;
      if (sig !== 0) signatures.set(sig, (signatures.get(sig) ?? 0) + 1);
    }
    const groups: [number[], number][] = [];
    for (const [sig, n] of signatures) {
      const members: number[] = [];
      for (let j = 0, rest = sig; rest > 0; j++, rest = Math.floor(rest / 2)) if (rest % 2 === 1) members.push(j);
      groups.push([members, n]);
    }
    const m = pairMatrix(groups, k);
    return { sizes: m.map((row, i) => row[i]!), intersections: m };
  }

  /**
   * The pairs of segments of a project that are close: one holds all of the other, or their
   * Jaccard is at least `minJaccard` (the segment list's SUBSET and HIGH_OVERLAP warnings), with
   * their intersections; and every segment's size. Null when the project is not loaded.
   *
   * One pass turns the profiles' membership bits into a bitset per segment (bit i: the i-th
   * profile), keeping the indexes of its non-zero words. A pair is then tested over the smaller
   * segment's words only: the subset test stops at the first member outside the other, and
   * the intersection is counted only when the sizes allow the Jaccard (|A| ≥ j·|B|). Pairs
   * within 0.0001 below `minJaccard` are included too, as callers round the Jaccard to 4 places.
   */
  closePairs(projectId: string, minJaccard: number): { ids: string[]; sizes: number[]; pairs: [number, number, number][]; total: number } | null {
    const ps = this.projects.get(projectId);
    if (!ps) return null;
    const n = ps.list.length;
    const words = (ps.profiles.size + 31) >>> 5;
    const sizes = new Array<number>(n).fill(0);
    const cols: (Uint32Array | undefined)[] = new Array(n);
    let pos = 0;
    for (const p of ps.profiles.values()) {
      const bits = p.bits, w = pos >>> 5, bit = 1 << (pos & 31);
      for (let k = 0; k < bits.length; k++) {
        let x = bits[k]!;
        while (x !== 0) {
          const i = k * 32 + 31 - Math.clz32(x & -x);
          (cols[i] ??= new Uint32Array(words))[w]! |= bit;
          sizes[i]!++;
          x &= x - 1;
        }
      }
      pos++;
    }
    const nonZero = cols.map((c) => {
      if (!c) return new Uint32Array(0);
      const out: number[] = [];
      for (let w = 0; w < c.length; w++) if (c[w] !== 0) out.push(w);
      return Uint32Array.from(out);
    });
    const floor = minJaccard - 1e-4;
    const pairs: [number, number, number][] = [];
    for (let a = 0; a < n; a++) {
      if (sizes[a] === 0) continue;
      for (let b = a + 1; b < n; b++) {
        if (sizes[b] === 0) continue;
        const [small, large] = sizes[a]! <= sizes[b]! ? [a, b] : [b, a];
        const sc = cols[small]!, lc = cols[large]!, idx = nonZero[small]!;
        let subset = true;
        for (let k = 0; k < idx.length; k++) if ((sc[idx[k]!]! & ~lc[idx[k]!]!) !== 0) { subset = false; break; }
        if (subset) { pairs.push([a, b, sizes[small]!]); continue; }
        if (sizes[small]! < floor * sizes[large]!) continue;
        let inter = 0;
        for (let k = 0; k < idx.length; k++) inter += popcount(sc[idx[k]!]! & lc[idx[k]!]!);
        if (inter / (sizes[a]! + sizes[b]! - inter) >= floor) pairs.push([a, b, inter]);
      }
    }
    return { ids: ps.list.map((s) => s.row.id), sizes, pairs, total: ps.profiles.size };
  }
}

/** Set bits of a 32-bit word. */
function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** A symmetric k×k matrix of intersection sizes (the diagonal: sizes) from groups of profiles that share the same members list. */
function pairMatrix(groups: readonly (readonly [readonly number[], number])[], k: number): number[][] {
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (const [members, n] of groups) {
    for (let a = 0; a < members.length; a++) {
      const row = m[members[a]!]!;
      for (let b = a; b < members.length; b++) row[members[b]!]! += n;
    }
  }
  for (let a = 0; a < k; a++) for (let b = 0; b < a; b++) m[a]![b] = m[b]![a]!;
  return m;
}

/** Result of one scan of a project's profiles (see LiveEngine.tally). */
export interface Tally {
  readonly count: number;
  readonly total: number;
  readonly sample: EngineProfile[];
  /** Size of every segment of the project (overlapWith: of every segment sharing a member with the matches; the others share none). */
  readonly sizes: ReadonlyMap<string, number>;
  /** Per segment, how many of the matching profiles it holds (overlapWith: only the non-zero counts). */
  readonly shared: ReadonlyMap<string, number>;
}

const warnedNoLongerValid = new Set<string>();

/**
 * A stored condition that a rule tightened since it was saved now refuses (a `matches`
 * pattern over the program bound, say) matches nobody until it is edited; the operator
 * hears of it once per version of the segment, not on every reload.
 */
function warnNoLongerValid(projectId: string, row: SegmentRow, issues: readonly { path: string; message: string }[]): void {
  const key = `${projectId}\u0000${row.id}\u0000${row.updatedAt}`;
  if (warnedNoLongerValid.has(key)) return;
  warnedNoLongerValid.add(key);
  console.warn(`strata: segment ${row.id} ("${row.name}") of project ${projectId} no longer validates and matches nobody until it is edited: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`);
}

