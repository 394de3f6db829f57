import { allPartitions, appliedPositions, checkOwner, claimPartitions, heldReadable, isWriteConflict, leastOf, keyProfiles, lastMove, lockPartitions, movesSince, PartitionTaken, recordMoves, segmentChangesApplied, segmentChangesBetween, setAppliedPositions, storeUnavailableReason, type EventLog, type IngestItem, type LoggedRecord, type LogRecord, type SqlStore } from '@strata/store';
import { applyRecords, setAside, type ApplyDeps } from './ingest-apply.ts';
import { applySegmentChangesTo } from './definition-follower.ts';
import type { ProfileOwnership } from './live/store-sync.ts';
import { homePartition, idsOf, RouteKeys, routeItems } from './partition-route.ts';

/**
 * A membership worker that owns some of the event log's partitions (docs/scale-out.md § Workers):
 * it applies only their records, and its engine holds only the profiles whose home partition it
 * owns. Several workers over one store share a log's partitions between them; one that owns every
 * partition does what the `all` process's follower does.
 */

/** Records asked for per read of one partition. */
const CHUNK = 200;
/** How long a worker with nothing to apply waits before it looks again (ms). */
const IDLE_MS = 25;
/** How often a worker with nothing to apply records how far its idle partitions are read (ms). */
const IDLE_RECORD_MS = 100;
/** How often a worker waiting for other partitions to be applied reads their positions (ms). */
const WAIT_POLL_MS = 10;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The engine option of a worker owning `owned` of a log's `partitions`: the profiles it holds. */
export function ownedProfiles(owned: ReadonlySet<number>, partitions: number): ProfileOwnership {
  return (profile) => owned.has(homePartition(profile, partitions));
}

/**
 * Reads some partitions of a log, merged into one sequence in position order, continuously. A
 * record is given out only once every other partition read is known to hold nothing before it
 * (its buffer has a later record, or its read said nothing more up to there), so that within a
 * worker records are applied in the order the log stored them.
 */
export class PartitionsReader {
  private readonly parts = new Map<number, { after: number; upTo: number; records: LoggedRecord[]; next: number }>();

  constructor(private readonly log: EventLog, from: ReadonlyMap<number, number>) {
    for (const [p, at] of from) this.parts.set(p, { after: at, upTo: at, records: [], next: 0 });
  }

  /**
   * The next records in position order, at most `max` (none when the partitions hold nothing new),
   * and for each partition the position up to which every record of it is in this or an earlier
   * answer (`through`): what the worker records as applied once these are.
   */
  async next(max: number): Promise<{ records: LoggedRecord[]; through: Map<number, number> }> {
    const out: LoggedRecord[] = [];
    await this.fill([...this.parts.keys()]);
    while (out.length < max) {
      let best: number | null = null;
      for (const [p, s] of this.parts) if (s.next < s.records.length && (best === null || s.records[s.next]!.position < this.head(best))) best = p;
      if (best === null) break;
      const at = this.head(best);
      // A partition with nothing buffered may still hold a record before `at`: it is read again first.
      const unsure = () => [...this.parts].filter(([, s]) => s.next === s.records.length && s.upTo < at).map(([p]) => p);
      if (unsure().length) {
        await this.fill(unsure());
        if (unsure().length) break;
        continue;
      }
      const s = this.parts.get(best)!;
      out.push(s.records[s.next++]!);
      if (s.next === s.records.length) await this.fill([best]);
    }
    const through = new Map<number, number>();
    for (const [p, s] of this.parts) through.set(p, s.next < s.records.length ? s.records[s.next]!.position - 1 : s.upTo);
    return { records: out, through };
  }

  private head(p: number): number {
    const s = this.parts.get(p)!;
    return s.records[s.next]!.position;
  }

  /** Reads the next chunk of each of `partitions` whose buffer is used up. */
  private async fill(partitions: readonly number[]): Promise<void> {
    for (const p of partitions) {
      const s = this.parts.get(p)!;
      if (s.next < s.records.length) continue;
      const read = await this.log.read(p, s.after, CHUNK, 0);
      s.records = [...read.records];
      s.next = 0;
      if (read.records.length) s.after = read.records[read.records.length - 1]!.position;
      s.upTo = Math.max(s.upTo, read.upTo, s.after);
    }
  }
}

export interface PartitionWorkerOptions {
  /** The partitions this worker owns. */
  readonly owned: readonly number[];
  /** Sizes the batches: a tenth of it in records read and applied per transaction (default 5,000: 500 records). */
  readonly batchItems?: number;
  /**
   * This worker's token (PostgreSQL): claimed for the owned partitions when it starts
   * (`claimPartitions`) and checked in each of its transactions, so that once another worker has
   * claimed them this one writes nothing more: it stops, and `onTaken` is told.
   */
  readonly owner?: string;
  onTaken?(partitions: readonly number[]): void;
}

/** Items of the record at `record` (of partition `from`) forwarded to partition `to`, appended there at `position`. */
interface Forward {
  readonly from: number;
  readonly record: number;
  readonly to: number;
  readonly position: number;
}

/** A start stopped while it waited for its partitions' locks: its claim transaction rolls back. */
class StoppedBeforeStart extends Error {}

/** A record that writes in partitions it was not waited for (found inside its transaction): applied alone after the wait. */
class NeedsWait extends Error {
  constructor(readonly position: number, readonly claims: readonly number[]) {
    super(`the record at log position ${position} writes in partitions ${claims.join(', ')}, which must be applied up to it first`);
  }
}

/**
 * Applies the records of the partitions it owns, in position order, many per transaction, each
 * transaction recording how far each owned partition is applied (an idle one: up to where the log
 * holds nothing more of it). A store that is unavailable is retried, and so is a transaction that
 * ran into another worker's; a record that fails alone for any other reason is set aside as
 * ingestion warnings, as on the `all` process.
 *
 * Owning only some partitions (docs/scale-out.md § Merges across partitions): every transaction
 * holds the owned partitions' locks shared and first drops the profiles other workers took over
 * from them (`profile_moves`); each record's items are routed (`routeItems`): those ending in a
 * profile homed elsewhere are forwarded to its partition, and a record that takes a profile over,
 * or gives an id of another partition its first key, is applied alone, once the partitions it
 * writes in are applied up to it, holding their locks exclusively.
 */
export class PartitionWorker {
  private reader: PartitionsReader | null = null;
  private readonly positions = new Map<number, number>();
  private readonly owned: ReadonlySet<number>;
  private readonly deps: ApplyDeps;
  private running: Promise<void> | null = null;
  private quitting = false;
  /** The last profile move read (`profile_moves`). */
  private movesRead = 0;
  /** Other workers' partitions the records being applied were waited for (applied up to them), locked exclusively by their transaction. */
  private waited: ReadonlySet<number> = new Set();
  /** Why applying stalls (the store unavailable), or null. */
  stalled: string | null = null;
  /** The owned partitions another worker claimed (`PartitionWorkerOptions.owner`): this one has stopped. */
  taken: readonly number[] | null = null;
  /** The owned partitions are claimed under `owner` (start() did). */
  private claimed = false;
  /** Since the start: profiles taken over from other partitions' workers, items forwarded to them, and records that waited for other partitions. */
  readonly counts = { adopted: 0, forwarded: 0, waits: 0 };
  /** What the transaction under way took over and forwarded: counted once it commits. */
  private inTx: { adopted: number; forwarded: number; forwards: Forward[] } = { adopted: 0, forwarded: 0, forwards: [] };
  /** Ids of owned partitions linked from other workers' partitions (markers), by project and id: the partitions, and how far they must be applied. */
  private readonly links = new Map<string, { partitions: number[]; upTo: number }>();
  /** Forwards committed and not yet known applied by their partition: each holds its source partition's readable position below its record. */
  private forwards: Forward[] = [];

  constructor(deps: ApplyDeps, private readonly log: EventLog, private readonly store: SqlStore, private readonly opts: PartitionWorkerOptions) {
    for (const p of opts.owned) if (!Number.isInteger(p) || p < 0 || p >= log.partitions) throw new Error(`partition ${p} is not one of the log's ${log.partitions}`);
    this.owned = new Set(opts.owned);
    if (this.shares && store.dialect !== 'postgres') throw new Error('workers that share a log\'s partitions need PostgreSQL as the store');
    // Readable positions are recorded by a sole worker too: it may have taken over a hold its partitions' last holder left.
    this.deps = this.shares ? { ...deps, route: (tx, r, position) => this.route(tx, r, position), readable: (at) => this.readable(at) } : { ...deps, readable: (at) => this.readable(at) };
    if (this.shares || this.fenced) deps.engine.beforeEachWrite((tx) => this.beforeWrite(tx));
  }

  /** Whether the worker claims its partitions and checks the claim in each transaction. */
  private get fenced(): boolean {
    return this.opts.owner !== undefined && this.store.dialect === 'postgres';
  }

  /** Whether other workers own some of the log's partitions. */
  private get shares(): boolean {
    return this.owned.size < this.log.partitions;
  }

  /** Each owned partition's recorded position: every record of it at or before is applied. */
  get applied(): ReadonlyMap<number, number> {
    return this.positions;
  }

  /** Reads the owned partitions' recorded positions and applies from there until stopped. */
  async start(): Promise<void> {
    // A worker that had these partitions may still be committing its last transaction (it holds
    // their locks shared meanwhile): taking them exclusively waits for it, so that the positions
    // and profiles read next include what it wrote.
    // The claim in the same transaction: from then on the worker that had them writes nothing more in them.
    if (this.store.dialect === 'postgres') {
      await this.store.transaction(async (tx) => {
        await lockPartitions(tx, [], [...this.owned]);
        // Stopped while it waited for the locks (its leases changed meanwhile): no claim, which could fence their new holder.
        if (this.quitting) throw new StoppedBeforeStart();
        if (this.fenced) await claimPartitions(tx, [...this.owned], this.opts.owner!);
      }).catch((e: unknown) => { if (!(e instanceof StoppedBeforeStart)) throw e; });
      if (this.quitting) return;
      this.claimed = this.fenced;
    }
    const stored = await appliedPositions(this.store);
    if (this.shares) this.movesRead = await lastMove(this.store);
    for (const p of this.opts.owned) this.positions.set(p, stored.get(p) ?? 0);
    await this.resume(stored);
    this.reader = new PartitionsReader(this.log, this.positions);
    this.running = this.loop().finally(() => { this.running = null; });
  }

  /**
   * What the worker that held the owned partitions before kept in memory, found again from the
   * store and the log (docs/scale-out.md § Merges across partitions):
   * - a readable position it held below its position (forwards not yet applied where they went)
   *   stays held until every other partition has applied what the log holds now, which includes
   *   whatever it forwarded;
   * - markers it passed that may still hold later records back — those after the least position
   *   the other partitions have applied — are read again, and their ids kept as it kept them.
   */
  private async resume(stored: ReadonlyMap<number, number>): Promise<void> {
    const held = [...(await heldReadable(this.store))].filter(([p, readable]) => this.owned.has(p) && readable < (this.positions.get(p) ?? 0));
    const head = held.length ? await this.log.head() : 0;
    for (const [p, readable] of held) {
      for (const to of allPartitions(this.log.partitions)) if (to !== p) this.forwards.push({ from: p, record: readable + 1, to, position: head });
    }
    // Markers hold records back only from partitions other workers own.
    if (!this.shares) return;
    const least = leastOf(stored, allPartitions(this.log.partitions).filter((p) => !this.owned.has(p)));
    const markers: LoggedRecord[] = [];
    for (const p of this.owned) {
      const upTo = this.positions.get(p) ?? 0;
      for (let after = Math.min(least, upTo); after < upTo;) {
        const read = await this.log.read(p, after, CHUNK, 0);
        if (read.records.length === 0) break;
        for (const r of read.records) if (r.position <= upTo && r.awaits?.length) markers.push(r);
        after = read.records[read.records.length - 1]!.position;
      }
    }
    if (markers.length) await this.claimsOf(markers.sort((a, b) => a.position - b.position));
  }

  /** Resolves once every record the log held when called, in the owned partitions, is applied. */
  async drain(timeoutMs = 30_000): Promise<void> {
    const head = await this.log.head();
    for (const deadline = Date.now() + timeoutMs; [...this.positions.values()].some((at) => at < head);) {
      if (Date.now() > deadline) throw new Error(`partitions not applied up to ${head} within ${timeoutMs} ms: ${[...this.positions].map(([p, at]) => `${p}:${at}`).join(', ')}`);
      if (this.running === null) throw new Error('the worker is not running');
      await sleep(10);
    }
  }

  /** Stops after the transaction under way; what is left is applied by whoever owns the partitions next. */
  async stop(): Promise<void> {
    this.quitting = true;
    await this.running;
  }

  private async loop(): Promise<void> {
    const max = this.opts.batchItems ?? 5_000;
    let idleSince = 0;
    /** Forwards were found applied since the positions were last recorded. */
    let released = false;
    while (!this.quitting) {
      let read: { records: LoggedRecord[]; through: Map<number, number> };
      try {
        read = await this.reader!.next(Math.max(1, Math.floor(max / 10)));
      } catch (cause) {
        this.stall(cause);
        await sleep(250);
        continue;
      }
      // Forwards their partitions have applied by now no longer hold reads back: the readable positions are recorded again.
      if (await this.pruneForwards().catch(() => false)) released = true;
      const moved = released || [...read.through].some(([p, at]) => at > (this.positions.get(p) ?? 0));
      if (read.records.length === 0) {
        // Idle: how far the log holds nothing more is recorded now and then, so that reads (and workers) waiting on it go on.
        if (moved && Date.now() - idleSince >= IDLE_RECORD_MS) {
          idleSince = Date.now();
          released = false;
          await this.record(read.through).catch((e: unknown) => { released = true; if (!(e instanceof PartitionTaken)) this.stall(e); });
        }
        await sleep(IDLE_MS);
        continue;
      }
      released = false;
      if (!(await this.applyAll(read.records, read.through))) return;
    }
  }

  /**
   * Applies records read together: in one transaction, unless some of them write in other
   * workers' partitions (judged beforehand from the stored keys, or found inside a transaction,
   * which then rolls back). Then the records before the first such record go first; once the
   * partitions it writes in are applied up to it, it goes with the records after it whose own such
   * partitions are applied up to them by then, holding those partitions' locks; and so on. A store
   * error outside the transactions (reading keys or positions) is tried again, never let out.
   */
  private async applyAll(records: readonly LoggedRecord[], through: ReadonlyMap<number, number>): Promise<boolean> {
    let rest = records;
    // Claims found inside a transaction, by record position: judged beforehand from then on.
    const found = new Map<number, readonly number[]>();
    for (let wait = 50; rest.length && !this.quitting;) {
      try {
        const claims = this.shares ? await this.claimsOf(rest) : rest.map((): number[] => []);
        rest.forEach((r, i) => { const f = found.get(r.position); if (f) claims[i] = [...new Set([...claims[i]!, ...f])]; });
        const first = claims.findIndex((c) => c.length > 0);
        const upTo = first < 0 ? rest.length : first;
        if (upTo > 0) {
          if (!(await this.apply(rest.slice(0, upTo), throughBefore(rest, upTo, through), new Set()))) return false;
          rest = rest.slice(upTo);
          continue;
        }
        // How far this worker is recorded first: a worker it waits for may be waiting for it.
        await this.record(throughBefore(rest, 0, through));
        this.counts.waits++;
        if (!(await this.waitFor(claims[0]!, rest[0]!.position - 1))) return false;
        const at = await appliedPositions(this.store);
        const locks = new Set(claims[0]);
        let end = 1;
        for (; end < rest.length && claims[end]!.every((c) => (at.get(c) ?? 0) >= rest[end]!.position - 1); end++) for (const c of claims[end]!) locks.add(c);
        if (!(await this.apply(rest.slice(0, end), throughBefore(rest, end, through), locks))) return false;
        rest = rest.slice(end);
      } catch (e) {
        if (e instanceof PartitionTaken) return false;
        if (e instanceof NeedsWait) {
          found.set(e.position, [...new Set([...(found.get(e.position) ?? []), ...e.claims])]);
          continue;
        }
        this.stall(e);
        await sleep(wait);
        wait = Math.min(wait * 2, 1_000);
      }
    }
    return !this.quitting;
  }

  /**
   * For each record, the other workers' partitions it writes in, judged from the stored keys and
   * the records before it. A marker (`LogRecord.awaits`) whose ids' profiles are held here (or not
   * made yet) claims nothing itself: its ids are kept (`links`) until the partitions whose records
   * linked them are applied up to the marker, and a later record that names one of them waits for
   * those partitions (then, the link applied, what it sends for the id is forwarded to the linked
   * profile's partition, after the link). A marker whose ids' profiles are homed in other workers'
   * partitions already needs nothing: what is sent for them later is forwarded there anyway.
   */
  private async claimsOf(records: readonly LoggedRecord[]): Promise<number[][]> {
    const byProject = new Map<string, RouteKeys>();
    for (const projectId of new Set(records.map((r) => r.projectId))) {
      const of = records.filter((r) => r.projectId === projectId);
      const { users, anons } = idsOf(of.flatMap((r) => r.items));
      for (const id of of.flatMap((r) => r.links ?? [])) { users.add(id); anons.add(id); }
      byProject.set(projectId, new RouteKeys(await keyProfiles(this.store, projectId, users, anons)));
    }
    if (this.links.size) {
      const at = await appliedPositions(this.store);
      for (const [k, l] of this.links) if (l.partitions.every((p) => (at.get(p) ?? 0) >= l.upTo)) this.links.delete(k);
    }
    const owns = (p: number) => this.owned.has(p);
    return records.map((r) => {
      const keys = byProject.get(r.projectId)!;
      if (r.awaits?.length) {
        // A partition the log does not have (a record not written by Strata) is never waited for.
        const foreign = r.awaits.filter((p) => p < this.log.partitions && !owns(p));
        for (const id of foreign.length ? r.links ?? [] : []) {
          const p = keys.get(`a:${id}`) ?? keys.get(`u:${id}`);
          if (p !== undefined && !owns(homePartition(p, this.log.partitions))) continue;
          const k = `${r.projectId}\u0000${id}`;
          const had = this.links.get(k);
          this.links.set(k, { partitions: [...new Set([...(had?.partitions ?? []), ...foreign])], upTo: Math.max(had?.upTo ?? 0, r.position - 1) });
        }
        return [];
      }
      const claims = routeItems(r.items, keys, owns, this.log.partitions).claims;
      for (const item of r.items) {
        for (const id of [item.userId, item.anonymousId, item.previousId]) {
          const l = id ? this.links.get(`${r.projectId}\u0000${id}`) : undefined;
          if (l && l.upTo < r.position) for (const p of l.partitions) claims.add(p);
        }
      }
      return [...claims];
    });
  }

  /** Waits until each of `partitions` is applied up to `position` (their workers record it); false when stopping first. */
  private async waitFor(partitions: readonly number[], position: number): Promise<boolean> {
    let warned = Date.now();
    while (!this.quitting) {
      const at = await appliedPositions(this.store).catch(() => new Map<number, number>());
      const behind = partitions.filter((p) => (at.get(p) ?? 0) < position);
      if (behind.length === 0) return true;
      if (Date.now() - warned > 10_000) {
        warned = Date.now();
        console.error(`strata: the record at log position ${position + 1} waits for partitions ${behind.join(', ')} to be applied up to it (is a worker holding them?)`);
      }
      await sleep(WAIT_POLL_MS);
    }
    return false;
  }

  /**
   * First in every transaction: the partitions' locks, in ascending order in one statement (so two
   * workers never wait for each other) — the owned ones shared, those the records write in
   * (`waited`) exclusively; then the profiles other workers took over from the owned partitions are dropped.
   */
  private async beforeWrite(tx: SqlStore): Promise<void> {
    this.inTx = { adopted: 0, forwarded: 0, forwards: [] };
    await lockPartitions(tx, [...this.owned], [...this.waited]);
    if (this.fenced) {
      if (!this.claimed) throw new Error(`partitions ${this.opts.owned.join(', ')} are not claimed by this worker yet: it writes nothing in them before it starts`);
      try {
        await checkOwner(tx, [...this.owned], this.opts.owner!);
      } catch (e) {
        if (e instanceof PartitionTaken) this.lose(e);
        throw e;
      }
    }
    if (!this.shares) return;
    const moves = await movesSince(tx, [...this.owned], this.movesRead);
    for (const m of moves) {
      this.deps.engine.release(m.projectId, [m.profileId]);
      this.movesRead = Math.max(this.movesRead, m.id);
    }
  }

  /**
   * A record's items to apply here (ApplyDeps.route), routed by the keys as stored now (under the
   * locks): the others forwarded to their partitions, the profiles it takes over read into the
   * engine and their move recorded.
   */
  private async route(tx: SqlStore, r: LogRecord, position: number): Promise<readonly IngestItem[]> {
    const { users, anons } = idsOf(r.items);
    const routed = routeItems(r.items, new RouteKeys(await keyProfiles(tx, r.projectId, users, anons)), (p) => this.owned.has(p), this.log.partitions);
    const claims = [...routed.claims];
    // Writing in a partition it did not wait for (and does not hold locked): applied again once it has.
    if (claims.some((c) => !this.waited.has(c))) throw new NeedsWait(position, claims);
    const adopt = routed.adopt.map((p) => p.id);
    await this.deps.engine.adopt(tx, r.projectId, adopt);
    const moves = routed.adopt.map((p) => ({ fromPartition: homePartition(p, this.log.partitions), profileId: p.id }));
    await recordMoves(tx, r.projectId, moves);
    await this.catchUp(tx, r.projectId, moves);
    if (routed.forward.size) {
      // Durable before this transaction records the record as applied: a crash in between forwards them again, and their messageIds keep them once.
      const to = [...routed.forward.keys()];
      const at = await this.log.append([...routed.forward].map(([partition, items]) => ({ projectId: r.projectId, partition, receivedAt: r.receivedAt, items, rejections: [] })));
      to.forEach((partition, i) => this.inTx.forwards.push({ from: r.partition, record: position, to: partition, position: at[i]! }));
    }
    this.inTx.adopted += adopt.length;
    for (const items of routed.forward.values()) this.inTx.forwarded += items.length;
    return routed.own;
  }

  /**
   * Profiles taken over in this transaction: the segment changes (made on processes of the api
   * role) that their partition has not applied and this worker has — passing them over while they
   * were another's — are applied to them now (definition-follower.ts `applySegmentChangesTo`), so
   * that a change is never passed over by both workers. Their partition's record is stable here:
   * this transaction holds its lock exclusively.
   */
  private async catchUp(tx: SqlStore, projectId: string, moves: readonly { fromPartition: number; profileId: number }[]): Promise<void> {
    if (moves.length === 0) return;
    const own = await segmentChangesApplied(tx, [...this.owned]);
    for (const from of new Set(moves.map((m) => m.fromPartition))) {
      const changes = await segmentChangesBetween(tx, await segmentChangesApplied(tx, [from]), own);
      await applySegmentChangesTo(this.deps.engine, tx, projectId, changes, moves.filter((m) => m.fromPartition === from).map((m) => m.profileId));
    }
  }

  /** Applies a batch, trying again while the store is unavailable; false when stopping first. A NeedsWait goes to the caller. */
  private async apply(records: readonly LoggedRecord[], through: ReadonlyMap<number, number>, waited: ReadonlySet<number>): Promise<boolean> {
    this.waited = waited;
    try {
      return await this.applyTrying(records, through);
    } finally {
      this.waited = new Set();
    }
  }

  private async applyTrying(records: readonly LoggedRecord[], through: ReadonlyMap<number, number>): Promise<boolean> {
    for (let wait = 50; !this.quitting; wait = Math.min(wait * 2, 1_000)) {
      try {
        this.inTx = { adopted: 0, forwarded: 0, forwards: [] };
        await applyRecords(this.deps, records, through);
        this.counts.adopted += this.inTx.adopted;
        this.counts.forwarded += this.inTx.forwarded;
        this.forwards.push(...this.inTx.forwards);
        this.moved(through);
        this.stalled = null;
        return true;
      } catch (cause) {
        if (cause instanceof NeedsWait || cause instanceof PartitionTaken) throw cause;
        if (storeUnavailableReason(cause) !== null) {
          this.stall(cause);
          await sleep(wait);
          continue;
        }
        // Another worker's transaction ran into this one (a deadlock on a row both write): the same batch again, after a pause of random length.
        if (isWriteConflict(cause)) {
          await sleep(Math.random() * wait);
          continue;
        }
        // A fault of Strata's, not the store's: each record alone, and one that fails alone is set aside.
        for (let i = 0; i < records.length && !this.quitting;) {
          const r = records[i]!;
          try {
            try {
              await applyRecords(this.deps, [r]);
              this.forwards.push(...this.inTx.forwards);
            } catch (alone) {
              if (alone instanceof NeedsWait || alone instanceof PartitionTaken || storeUnavailableReason(alone) !== null || isWriteConflict(alone)) throw alone;
              console.error(`strata: ${r.items.length} acknowledged events of project ${r.projectId} (log position ${r.position}) could not be applied and are kept as ingestion warnings: ${(alone as Error)?.stack ?? String(alone)}`);
              await setAside(this.deps, r, alone);
            }
            i++;
          } catch (down) {
            if (down instanceof NeedsWait || down instanceof PartitionTaken) throw down;
            if (!isWriteConflict(down)) this.stall(down);
            await sleep(Math.random() * wait);
          }
        }
        if (this.quitting) return false;
        await this.record(through);
        return true;
      }
    }
    return false;
  }

  private async record(through: ReadonlyMap<number, number>): Promise<void> {
    await this.deps.engine.write((tx) => setAppliedPositions(tx, through, this.readable(through)), { deferSync: true });
    this.moved(through);
  }

  /**
   * The readable positions to record with `positions` (log/positions.ts `readableEverywhere`): a
   * partition whose record forwarded items to another worker's partition stays readable only up to
   * before that record until they are applied there, so that a read waiting for the record's
   * position sees them. (Forwards of the transaction under way count too: they commit with it.)
   */
  private readable(positions: ReadonlyMap<number, number>): Map<number, number> {
    const out = new Map(positions);
    for (const f of [...this.forwards, ...this.inTx.forwards]) {
      const at = out.get(f.from) ?? this.positions.get(f.from) ?? 0;
      if (at >= f.record) out.set(f.from, f.record - 1);
    }
    return out;
  }

  /** Drops the forwards their partitions have applied; true when some were (the readable positions then move on). */
  private async pruneForwards(): Promise<boolean> {
    if (this.forwards.length === 0) return false;
    const at = await appliedPositions(this.store);
    const before = this.forwards.length;
    this.forwards = this.forwards.filter((f) => (at.get(f.to) ?? 0) < f.position);
    return this.forwards.length < before;
  }

  private moved(through: ReadonlyMap<number, number>): void {
    for (const [p, at] of through) if (at > (this.positions.get(p) ?? 0)) this.positions.set(p, at);
  }

  /** Another worker claimed owned partitions: stop, and say so once. */
  private lose(e: PartitionTaken): void {
    if (this.taken !== null) return;
    this.taken = e.partitions;
    this.quitting = true;
    console.error(`strata: ${e.message}; it stops`);
    // Not awaited here: the caller is a transaction of this worker, which its stop() waits for.
    if (this.opts.onTaken) setImmediate(() => this.opts.onTaken!(e.partitions));
  }

  private stall(cause: unknown): void {
    const why = storeUnavailableReason(cause) ?? (cause instanceof Error ? cause.message : String(cause));
    if (this.stalled === null) console.error(`strata: partitions ${this.opts.owned.join(', ')} wait to be applied: ${why}; trying again`);
    this.stalled = why;
  }
}

/**
 * How far each partition of a batch is applied once its records before `index` are: up to the
 * first record of the partition still to apply (exclusive), else as far as the batch was read.
 */
function throughBefore(records: readonly LoggedRecord[], index: number, through: ReadonlyMap<number, number>): Map<number, number> {
  const out = new Map(through);
  for (let i = records.length - 1; i >= index; i--) out.set(records[i]!.partition, records[i]!.position - 1);
  return out;
}
