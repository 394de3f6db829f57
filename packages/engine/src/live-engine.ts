import type { EventRecord, JsonObject } from '@strata/core';
import { AppError, compileViewSegment } from '@strata/core';
import { recordSegmentChange, retryWriteConflicts, type EngineEvent, type EngineProfile, type IngestOutcome, type MembershipReason, type SegmentRow, type SqlStore } from '@strata/store';
import type { Clock } from './clock.ts';
import { applyEvents, applyRecords, cascade, evaluate, hydrateProject, redefine, reevaluate, schedule, wake } from './live/apply-core.ts';
import type { ChangeListener, MembershipChange, Pending } from './live/changes.ts';
import { addBytes, columnBytes, NO_BYTES, totalBytes, type ColumnBytes } from './live/memory.ts';
import * as scan from './live/membership-scan.ts';
import { dropProfile, ProjectState, staleNames } from './live/project-state.ts';
import { appendSegments, loadSegments } from './live/segment-index.ts';
import { backfill, ensureProfiles, loadProject, persist, reloadProfiles, rereadRecords, type ProfileOwnership } from './live/store-sync.ts';
import { EngineReads } from './live/engine-reads.ts';

export type { ChangeListener, MembershipChange, RecordedChange } from './live/changes.ts';
export type { Tally } from './live/membership-scan.ts';
export type { ColumnBytes } from './live/memory.ts';

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

/** What the engine holds, counted exactly from its columns (for /metrics and the memory watch). */
export interface EngineMemory {
  readonly profiles: number;
  /** Rows of the kept event lists: events of the names segments read (one kept in its name's list and in `*` is two rows). */
  readonly events: number;
  /** Bytes of the typed arrays held (outside the V8 heap), by part. */
  readonly bytes: ColumnBytes;
  /** All of `bytes`. */
  readonly columnBytes: number;
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
export class LiveEngine extends EngineReads {
  /** Projects deleted while this process ran: never loaded again (their ids are never reused). */
  private readonly deleted = new Set<string>();
  private lock: Promise<unknown> = Promise.resolve();
  private readonly touched = new Map<string, Set<number>>();
  private readonly redefined = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  /**
   * While set, time stands at each project's stored clock: a project is loaded without advancing
   * it to now, and ticks wait. The ingest pipeline holds it while it applies the event log's
   * backlog at start, so that each record is applied at the instant it was received.
   */
  private held: Promise<void> | null = null;
  private startState: EngineStartState = { phase: 'idle', loaded: 0, total: null };
  private waiting = 0;
  /** Whether `start()` is loading (store reads then go in smaller pages, yielding between them). */
  private readonly isStarting = () => this.startState.phase === 'loading';

  /** How new and changed segments' members are decided, and their lists read (scan.Evaluation: per profile is the benchmarks' baseline). */
  private readonly evaluation: scan.Evaluation;

  constructor(
    store: SqlStore,
    private readonly clock: Clock,
    private readonly listeners: ChangeListener[] = [],
    options: {
      readonly evaluation?: scan.Evaluation; readonly holdsNoState?: boolean; readonly owns?: ProfileOwnership;
      /** Where no engine runs: resolves once the processes that apply the log have applied the segment changes made so far (definition-follower.ts). */
      readonly changesApplied?: () => Promise<void>;
    } = {},
  ) {
    super(store);
    this.evaluation = options.evaluation ?? 'bulk';
    this.holdsNoState = options.holdsNoState ?? false;
    this.settle = options.changesApplied ?? null;
    this.owns = options.owns ?? null;
  }

  /**
   * A partition worker's engine (docs/scale-out.md § Workers): which profiles it holds — those
   * whose home partition it owns; null (every other engine) holds every profile of a project.
   */
  readonly owns: ProfileOwnership | null;

  /** On a process of the api role: no project is ever loaded (every profile, in a process that applies nothing); WRONG_ROLE instead. */
  readonly holdsNoState: boolean;
  private readonly settle: (() => Promise<void>) | null;

  /** Resolves once the segment changes this process made are applied: at once where this engine applies them itself. */
  async changesApplied(): Promise<void> {
    if (this.settle) await this.settle();
  }

  onChanges(l: ChangeListener): void {
    this.listeners.push(l);
  }

  private readonly commitHooks: ((tx: SqlStore, out: unknown) => Promise<void>)[] = [];
  private readonly startHooks: ((tx: SqlStore) => Promise<void>)[] = [];
  /** Profiles taken over (`adopt`) in the transaction under way. */
  private readonly adopted = new Map<string, number[]>();

  /** Runs `hook` first in every transaction of the engine's writer (a partition worker takes its locks and hears of moved profiles there). */
  beforeEachWrite(hook: (tx: SqlStore) => Promise<void>): void {
    this.startHooks.push(hook);
  }

  /**
   * Takes profiles over from another partition's worker, in the transaction that merges them into
   * (or gives a userId to) a profile this engine holds: their state is read from the store. Should
   * the transaction roll back, they are dropped again.
   */
  async adopt(tx: SqlStore, projectId: string, ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    const ps = await this.project(tx, projectId);
    let list = this.adopted.get(projectId);
    if (!list) this.adopted.set(projectId, (list = []));
    list.push(...ids);
    this.touch(projectId, ids);
    await reloadProfiles(tx, ps, ids, this.isStarting);
  }

  /** Drops profiles another partition's worker took over: this engine no longer decides their membership. */
  release(projectId: string, ids: Iterable<number>): void {
    const ps = this.projects.get(projectId);
    if (!ps) return;
    for (const id of ids) if (ps.profiles.has(id)) { dropProfile(ps, id); ps.sizes = null; }
  }

  /**
   * Runs `hook` at the end of every `write`, in its transaction, once `fn` has succeeded: what
   * it writes commits with the change or not at all (the audit log, packages/server/src/audit.ts).
   */
  beforeCommit(hook: (tx: SqlStore, out: unknown) => Promise<void>): void {
    this.commitHooks.push(hook);
  }

  // ------------------------------------------------------------ ownership and transactions

  /** Whether the store's statements run on the event loop (the embedded SQLite driver is synchronous): while one runs, no request is answered. */
  get storeBlocksEventLoop(): boolean {
    return this.store.dialect === 'sqlite';
  }

  /** Makes every commit so far durable, those of `deferSync` writes too (SqlStore.syncCommitted). */
  async syncCommitted(): Promise<void> {
    await this.store.syncCommitted();
  }

  /**
   * Runs `fn` in one store transaction, one writer at a time. If it fails, the engine's state
   * of whatever it touched is read again from the store (which rolled back), so memory never
   * holds what was not committed. When the store cannot be read either (it is down), that state
   * stays marked stale and is read again before the next write (or tick) runs: a write while
   * the store is still down fails like the store does. `deferSync`: see SqlStore.transaction.
   */
  async write<T>(fn: (tx: SqlStore) => Promise<T>, opts: { readonly deferSync?: boolean } = {}): Promise<T> {
    this.waiting++;
    const run = async () => {
      // One write per turn of the event loop: queued writes (and better-sqlite3's synchronous
      // calls) never hold it for longer than one of them takes, so health checks and reads answer between.
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.waiting--;
      await this.recover();
      this.touched.clear();
      this.redefined.clear();
      this.adopted.clear();
      try {
        const once = () => (this.commitHooks.length === 0 && this.startHooks.length === 0 ? this.store.transaction(fn, opts) : this.store.transaction(async (tx) => {
          for (const hook of this.startHooks) await hook(tx);
          const out = await fn(tx);
          for (const hook of this.commitHooks) await hook(tx, out);
          return out;
        }, opts));
        // Where no engine state is kept (the api role), a transaction that ran into a worker's (a deadlock) is run again: nothing in memory to undo.
        return await (this.holdsNoState ? retryWriteConflicts(once) : once());
      } catch (e) {
        // Profiles taken over in a transaction that rolled back are still the other worker's: dropped, not read back.
        for (const [projectId, ids] of this.adopted) {
          this.release(projectId, ids);
          const touched = this.touched.get(projectId);
          if (touched) for (const id of ids) touched.delete(id);
        }
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
      await reloadProfiles(this.store, ps, [...ids], this.isStarting);
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
      // The event log's backlog first, at the instants it was received; then time moves on to now.
      if (this.held) await this.held;
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

  /**
   * Holds the engine's clocks at their stored instants until `until` settles (see `held`):
   * what came due meanwhile is applied at its own instant once it does.
   */
  holdClock(until: Promise<void>): void {
    const held = until.catch(() => undefined);
    this.held = held;
    void held.then(() => { if (this.held === held) this.held = null; });
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

  /** What the engine holds in its columns: a sum per project and list, not per profile (cheap enough for every scrape). */
  memory(): EngineMemory {
    let profiles = 0, events = 0, bytes = NO_BYTES;
    for (const ps of this.projects.values()) {
      profiles += ps.profiles.size;
      events += ps.lists.rows;
      bytes = addBytes(bytes, columnBytes(ps));
    }
    return { profiles, events, bytes, columnBytes: totalBytes(bytes) };
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
    if (this.held) return;
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
  private async project(tx: SqlStore, projectId: string, since?: number): Promise<ProjectState> {
    const have = this.projects.get(projectId);
    if (have) return have;
    if (this.holdsNoState) throw new AppError({ code: 'WRONG_ROLE', message: 'this Strata process has the api role (STRATA_ROLE=api) and holds no engine state: send the request to a process of the all role' });
    if (this.deleted.has(projectId)) throw new AppError({ code: 'NOT_FOUND', message: `project "${projectId}" was deleted` });
    const now = this.clock.now();
    // A project the engine never wrote a clock for starts now; while the clock is held (the log's
    // backlog is being applied) it starts at the record's receipt, or the project's creation.
    const stored = await tx.engineClock(projectId);
    const start = stored ?? (this.held ? Math.min(now, since ?? (await tx.getProject(projectId))?.createdAt ?? now) : now);
    const ps = new ProjectState(projectId, start);
    ps.deferClockWrite = this.clockDeferred;
    this.projects.set(projectId, ps);
    this.redefined.add(projectId);
    await loadProject(tx, ps, this.isStarting, this.listeners, this.owns);
    // Then everything that came due since, in time order, at its own instant (unless the clock is
    // held: the event log's backlog is applied first, each record at its own receipt).
    if (!this.held) await this.advance(tx, ps, Math.max(now, ps.clock));
    return ps;
  }

  /** Inside `clockWrittenOnce`: projects loaded meanwhile defer their clock writes too. */
  private clockDeferred = false;

  /**
   * Runs `fn` (steps written in `tx`) with each project's clock written once, at its end, rather
   * than by every step that moves it: the apply transaction of many log records (on PostgreSQL each
   * write is a round trip, and a log on NATS gives many small records). The row holds at commit
   * what the last step would have written; nothing in the transaction reads it back (a loaded
   * project's clock is the one in memory).
   */
  async clockWrittenOnce<T>(tx: SqlStore, fn: () => Promise<T>): Promise<T> {
    this.clockDeferred = true;
    for (const ps of this.projects.values()) ps.deferClockWrite = true;
    try {
      const out = await fn();
      for (const ps of this.projects.values()) {
        if (!ps.clockWriteDue) continue;
        ps.clockWriteDue = false;
        await tx.setEngineClock(ps.id, ps.clock);
      }
      return out;
    } finally {
      this.clockDeferred = false;
      for (const ps of this.projects.values()) {
        ps.deferClockWrite = false;
        ps.clockWriteDue = false;
      }
    }
  }

  /** The project's segment rows in store order (created, then id), as the engine holds them; the project is loaded on first use. */
  async segmentRows(tx: SqlStore, projectId: string): Promise<readonly SegmentRow[]> {
    if (this.holdsNoState) return tx.listSegments(projectId);
    return (await this.project(tx, projectId)).rows;
  }

  // ------------------------------------------------------------ time

  /** Applies every wake-up due at or before `now`, each at its own instant. */
  private async advance(tx: SqlStore, ps: ProjectState, now: number): Promise<void> {
    const out = wake(ps, now, (id) => this.touch(ps.id, [id]));
    if (out.length || ps.clock < now) await persist(tx, ps, out, now, this.listeners);
  }

  // ------------------------------------------------------------ what changes state

  /**
   * The instant a log record received at `at` is applied at: its receipt, unless the project's
   * clock has passed it already (a tick ran meanwhile) — the engine's clock never goes back. So
   * applying a record gives the same changes, at the same instants, however late it is applied.
   */
  async applyInstant(tx: SqlStore, projectId: string, at: number): Promise<number> {
    return Math.max(at, (await this.project(tx, projectId, at)).clock);
  }

  /** Applies an ingested batch (already written in `tx`): membership of the touched profiles follows at once. */
  async applyIngest(tx: SqlStore, projectId: string, outcome: IngestOutcome, now: number): Promise<MembershipChange[]> {
    const ps = await this.project(tx, projectId);
    await this.advance(tx, ps, now);
    if (outcome.touched.size === 0) return [];
    this.touch(projectId, outcome.touched);
    for (const [from, into] of outcome.merges) this.touch(projectId, [from, into]);
    const out: Pending[] = [];
    const created = applyRecords(ps, outcome, now, out);
    const reload = [...outcome.reload].filter((id) => ps.profiles.has(id));
    if (reload.length) await backfill(tx, ps, [...ps.tracked.keys()], reload, this.isStarting);
    applyEvents(ps, outcome, now, created, out);
    await persist(tx, ps, out, now, this.listeners);
    return out.map((x) => x.change);
  }

  /**
   * Stores events Strata derives itself beyond membership (e.g. `$mission_completed`) in the
   * caller's transaction and applies them like any event: segments that read them follow.
   */
  async applyDerived(tx: SqlStore, projectId: string, rows: readonly { profileId: number; name: string; properties: JsonObject; timestamp: number }[], now: number): Promise<MembershipChange[]> {
    if (rows.length === 0) return [];
    await tx.insertDerivedEvents(projectId, rows, now);
    const ps = await this.project(tx, projectId);
    const touched = new Set(rows.map((r) => r.profileId).filter((id) => ps.profiles.has(id)));
    const events: EngineEvent[] = rows.filter((r) => touched.has(r.profileId)).map((r) => ({ ...r, context: {} })).sort((a, b) => a.timestamp - b.timestamp);
    const records = [...touched].map((id) => ps.profiles.record(id)!);
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
    const timed = wake(ps, now, (id) => this.touch(ps.id, [id]));
    const out: Pending[] = [];
    applyEvents(ps, outcome, now, applyRecords(ps, outcome, now, out), out);
    return [...timed, ...out].map((x) => x.change);
  }

  /**
   * Builds a project's state from data in memory (segments, profiles, events), with membership
   * as of `now` — for benchmarks and for a worker handed its partition's data.
   */
  hydrate(projectId: string, segments: readonly SegmentRow[], people: Iterable<{ profile: EngineProfile; events: readonly EventRecord[] }>, now: number): void {
    const ps = new ProjectState(projectId, now);
    this.projects.set(projectId, ps);
    hydrateProject(ps, segments, people, now);
  }

  /** Applies the wake-ups due at or before `now` in memory; returns the changes (for benchmarks: no store). */
  advanceInMemory(projectId: string, now: number): MembershipChange[] {
    const ps = this.projects.get(projectId);
    if (!ps) return [];
    return wake(ps, now, (id) => this.touch(ps.id, [id])).map((x) => x.change);
  }

  /**
   * Segment definitions changed (created, updated, deleted; manual lists too): reads newly
   * needed events from the store, then re-evaluates the changed segments and the ones that
   * reference them, for every profile.
   */
  async segmentsChanged(tx: SqlStore, projectId: string, ids: readonly string[], now: number, reason: MembershipReason = 'definition', profileIds?: readonly number[]): Promise<MembershipChange[]> {
    if (this.holdsNoState) {
      // A process of the api role: the change is recorded for the processes that apply the log (definition-follower.ts).
      if (reason !== 'definition' && reason !== 'manual') throw new Error(`a segment change for ${reason} is made where the log is applied`);
      await recordSegmentChange(tx, { projectId, segmentIds: ids, reason, profileIds: profileIds ?? null });
      return [];
    }
    const ps = await this.project(tx, projectId);
    await this.advance(tx, ps, now);
    this.redefined.add(projectId);
    const before = ps.tracked;
    const kept = ps.keep;
    if (!(await appendSegments(tx, ps, ids))) await loadSegments(tx, ps);
    await rereadRecords(tx, ps, kept);
    // Manual lists may name profiles created by hand in this transaction.
    const listed = ids.flatMap((id) => { const s = ps.segments.get(id); return s ? [...s.include, ...s.exclude].map(Number) : []; });
    const created = await ensureProfiles(tx, ps, [...(profileIds ?? []), ...listed], this.isStarting, this.owns);
    await backfill(tx, ps, staleNames(ps, before), null, this.isStarting, this.evaluation);
    const out = reevaluate(ps, ids, now, reason, profileIds, created, this.evaluation);
    await persist(tx, ps, out, now, this.listeners);
    return out.map((x) => x.change);
  }

  /**
   * The in-memory form of segmentsChanged, with the events to backfill from given (benchmarks,
   * partition workers); `how` the members are decided (scan.Evaluation: the per-profile path is
   * the benchmarks' baseline).
   */
  redefineInMemory(projectId: string, rows: readonly SegmentRow[], ids: readonly string[], now: number, events: Iterable<EngineEvent>, how: scan.Evaluation = 'bulk'): MembershipChange[] {
    const ps = this.projects.get(projectId);
    if (!ps) throw new Error(`project ${projectId} is not loaded`);
    return redefine(ps, rows, ids, now, events, how).map((x) => x.change);
  }

  /**
   * Takes a profile out of a segment by hand: off its include list, and onto its exclude list when
   * the condition still holds. Where no engine runs (the api role) the include goes at once and the
   * rest is recorded as a segment change, done by whichever engine holds the profile (`recorded`:
   * not when the profile is on the include list again by then); an engine that does not hold it (a
   * worker of other partitions) leaves it alone.
   */
  async unlist(tx: SqlStore, projectId: string, segmentId: string, profileId: number, now: number, recorded = false): Promise<void> {
    if (this.holdsNoState) {
      // Off the include list at once, as an add goes on it at once; the exclude list is decided where the profile is held.
      await tx.removeManual(projectId, segmentId, profileId, false);
      await recordSegmentChange(tx, { projectId, segmentIds: [segmentId], reason: 'unlist', profileIds: [profileId] });
      return;
    }
    const ps = await this.project(tx, projectId);
    if (!ps.segments.has(segmentId)) return;
    await ensureProfiles(tx, ps, [profileId], this.isStarting, this.owns);
    if (!ps.profiles.has(profileId)) return;
    // A recorded change applied late (or again): a user added back since stays added.
    if (recorded && (await tx.included(projectId, segmentId, profileId))) return;
    await tx.removeManual(projectId, segmentId, profileId, await this.conditionHolds(tx, projectId, segmentId, profileId, now));
    await this.segmentsChanged(tx, projectId, [segmentId], now, 'manual', [profileId]);
  }

  /** Profiles changed outside ingest (labels, created by hand): read them again and re-evaluate. */
  async profilesChanged(tx: SqlStore, projectId: string, profileIds: readonly number[], now: number, reason: MembershipReason): Promise<MembershipChange[]> {
    const ps = await this.project(tx, projectId);
    await this.advance(tx, ps, now);
    this.touch(projectId, profileIds);
    await reloadProfiles(tx, ps, profileIds, this.isStarting);
    const out: Pending[] = [];
    for (const id of profileIds) {
      const p = ps.profiles.get(id);
      if (!p) continue;
      const from = out.length;
      evaluate(ps, p, ps.list, now, reason, out);
      cascade(ps, p, out, from, reason);
      schedule(ps, p, now);
    }
    await persist(tx, ps, out, now, this.listeners);
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
    dropProfile(ps, profileId);
    const key = String(profileId);
    for (const s of ps.segments.values()) { s.include.delete(key); s.exclude.delete(key); }
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
}

