import { appliedPositions, isWriteConflict, partitionOf, setAppliedPositions, storeUnavailableReason, type EventLog, type LoggedRecord } from '@strata/store';
import { applyRecords, setAside, type ApplyDeps } from './ingest-apply.ts';
import type { ProfileOwnership } from './live/store-sync.ts';

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
const IDLE_RECORD_MS = 500;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A profile's home partition: that of its userId, else its anonymousId — the id ingest routes its
 * events by (`routingKey`), so that a profile's events are in the partition of the worker holding it.
 */
export function homePartition(profile: { readonly userId: string | null; readonly anonymousId: string | null }, partitions: number): number {
  return partitionOf(profile.userId || profile.anonymousId || '', partitions);
}

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
  /** Items per apply transaction, at most (default 5,000). */
  readonly batchItems?: number;
}

/**
 * Applies the records of the partitions it owns, in position order, many per transaction, each
 * transaction recording how far each owned partition is applied (an idle one: up to where the log
 * holds nothing more of it). A store that is unavailable is retried; a record that fails alone for
 * any other reason is set aside as ingestion warnings, as on the `all` process.
 */
export class PartitionWorker {
  private reader: PartitionsReader | null = null;
  private readonly positions = new Map<number, number>();
  private running: Promise<void> | null = null;
  private quitting = false;
  /** Why applying stalls (the store unavailable), or null. */
  stalled: string | null = null;

  constructor(private readonly deps: ApplyDeps, private readonly log: EventLog, private readonly opts: PartitionWorkerOptions) {
    for (const p of opts.owned) if (!Number.isInteger(p) || p < 0 || p >= log.partitions) throw new Error(`partition ${p} is not one of the log's ${log.partitions}`);
  }

  /** Each owned partition's recorded position: every record of it at or before is applied. */
  get applied(): ReadonlyMap<number, number> {
    return this.positions;
  }

  /** Reads the owned partitions' recorded positions and applies from there until stopped. */
  async start(): Promise<void> {
    const stored = await this.deps.engine.write((tx) => appliedPositions(tx));
    for (const p of this.opts.owned) this.positions.set(p, stored.get(p) ?? 0);
    this.reader = new PartitionsReader(this.log, this.positions);
    this.running = this.loop().finally(() => { this.running = null; });
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
    while (!this.quitting) {
      let read: { records: LoggedRecord[]; through: Map<number, number> };
      try {
        read = await this.reader!.next(Math.max(1, Math.floor(max / 10)));
      } catch (cause) {
        this.stall(cause);
        await sleep(250);
        continue;
      }
      const moved = [...read.through].some(([p, at]) => at > (this.positions.get(p) ?? 0));
      if (read.records.length === 0) {
        // Idle: how far the log holds nothing more is recorded now and then, so that reads waiting on it go on.
        if (moved && Date.now() - idleSince >= IDLE_RECORD_MS) {
          idleSince = Date.now();
          await this.record(read.through).catch((e: unknown) => this.stall(e));
        }
        await sleep(IDLE_MS);
        continue;
      }
      if (!(await this.apply(read.records, read.through))) return;
    }
  }

  /** Applies a batch, trying again while the store is unavailable; false when stopping first. */
  private async apply(records: readonly LoggedRecord[], through: ReadonlyMap<number, number>): Promise<boolean> {
    for (let wait = 50; !this.quitting; wait = Math.min(wait * 2, 1_000)) {
      try {
        await applyRecords(this.deps, records, through);
        this.moved(through);
        this.stalled = null;
        return true;
      } catch (cause) {
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
            } catch (alone) {
              if (storeUnavailableReason(alone) !== null || isWriteConflict(alone)) throw alone;
              console.error(`strata: ${r.items.length} acknowledged events of project ${r.projectId} (log position ${r.position}) could not be applied and are kept as ingestion warnings: ${(alone as Error)?.stack ?? String(alone)}`);
              await setAside(this.deps, r, alone);
            }
            i++;
          } catch (down) {
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
    await this.deps.engine.write((tx) => setAppliedPositions(tx, through), { deferSync: true });
    this.moved(through);
  }

  private moved(through: ReadonlyMap<number, number>): void {
    for (const [p, at] of through) if (at > (this.positions.get(p) ?? 0)) this.positions.set(p, at);
  }

  private stall(cause: unknown): void {
    const why = storeUnavailableReason(cause) ?? (cause instanceof Error ? cause.message : String(cause));
    if (this.stalled === null) console.error(`strata: partitions ${this.opts.owned.join(', ')} wait to be applied: ${why}; trying again`);
    this.stalled = why;
  }
}
