import { AppError } from '@strata/core';
import { appliedPositions, checkLogPartitions, storeUnavailableReason, type EventLog, type IngestItem, type LoggedRecord, type LogRecord, type Rejection } from '@strata/store';
import { RequestAppender, storedItem, storedRejection, type Appending } from './ingest-append.ts';
import { applyRecords, setAside, type ApplyDeps, type IngestIsolation, type IngestListener, type IngestResult } from './ingest-apply.ts';
import { recordsOf, splitResult, type Deferred } from './ingest-records.ts';
import { LogFollower, OwnRecords } from './log-follow.ts';
import { MergedLogReader } from './log-merge.ts';
import type { LiveEngine } from './live-engine.ts';
import { suppressedWarning, type SuppressionList } from './user-data-service.ts';

export { ingestSteps } from './ingest-steps.ts';
export type { IngestIsolation, IngestListener, IngestResult } from './ingest-apply.ts';

export interface IngestServiceOptions {
  readonly sessionTimeoutMs: number;
  /** The durable log acknowledged requests are appended to (`openEventLog`). */
  readonly log: EventLog;
  /** How long a small group waits for company before it is appended (ms; 0 appends at once). */
  readonly lingerMs?: number;
  /** `STRATA_STORE_IP`: keep `context.ip` in what is stored (default: removed from events and warnings alike). */
  readonly storeIp?: boolean;
  /** Ids erased with suppression: messages naming one are dropped (answered as accepted; docs/privacy.md). */
  readonly suppressions?: SuppressionList;
  /** Items acknowledged and not yet applied from which a new request waits for room (default 50,000). */
  readonly maxBacklog?: number;
  /** How long a request waits for room before it is refused with BACKLOGGED (ms; default 10,000). */
  readonly backlogWaitMs?: number;
  /** Items applied in one transaction at most (default 5,000; a record is never split); within it, batches are sized to take about 40 ms. */
  readonly applyBatch?: number;
  /**
   * The log is appended to by other processes too (the log on NATS, with processes of the `api`
   * role): the worker reads what it applies from the log, every partition in position order
   * (`LogFollower`), instead of taking what this process appended. Default false: the embedded
   * log has one appender, this process (the writer lease makes sure).
   */
  readonly follow?: boolean;
  /**
   * False for a process of the `api` role: it appends and acknowledges, and applies nothing (a
   * process of the `all` role applies the log). Default true.
   */
  readonly apply?: boolean;
  /** The position up to which the store has applied the log (the greatest of `log_positions`): how a process that applies nothing learns what is applied. */
  readonly readApplied?: () => Promise<number>;
}

/** What an acknowledgement carries: the log position of the request's last record (read your writes; positions rise across partitions). */
export interface Acknowledged {
  readonly position: number;
}

/** Messages since start, by what became of them (for /metrics). */
export interface IngestTotals {
  /** Acknowledged: appended to the log (to be stored, or dropped as a repeated messageId or for an erased id). */
  accepted: number;
  /** Of the applied, repeats of a messageId already stored. */
  duplicates: number;
  /** Refused one by one in an acknowledged request (each is an ingestion warning). */
  rejected: number;
  /** Not acknowledged: the log could not take them, or Strata was stopping (the client was told to send them again). */
  failed: number;
  /** Acknowledged, then set aside because applying them failed with a fault of Strata's (each is an ingestion warning). */
  setAside: number;
}

interface Queued { readonly record: LoggedRecord; readonly result?: Deferred<IngestResult> }

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** How long one apply transaction should hold the event loop (ms): short enough for acknowledgements and reads to be answered between them. */
const APPLY_TARGET_MS = 40;
/**
 * How long one should take on PostgreSQL, whose statements leave the event loop free meanwhile:
 * longer, so that each transaction's fixed costs (the commit, the positions) serve more records
 * when they wait (a transaction takes only what is queued, so a light load is applied as it comes).
 */
const APPLY_TARGET_ASYNC_MS = 200;
const size = (r: LogRecord) => r.items.length + r.rejections.length;
const sizeOf = (rs: readonly LogRecord[]) => rs.reduce((n, r) => n + size(r), 0);

/**
 * Ingest as a log and a worker (docs/architecture.md § The path of one event). `submit` appends a
 * request to the durable event log — requests that arrive while an append is being written go
 * together into the next one, so one fsync serves many — and resolves with its position once the
 * append is durable: that is when the client is answered. The membership worker applies the
 * log's records in order, many per transaction of the engine's writer (`applyRecords`), recording
 * the position applied in the same transaction; reads wait for the position they must see
 * (`waitApplied`). At start, what was acknowledged and not applied is applied from the log first.
 */
export class IngestService {
  readonly totals: IngestTotals = { accepted: 0, duplicates: 0, rejected: 0, failed: 0, setAside: 0 };
  private readonly listeners: IngestListener[] = [];
  private isolation: IngestIsolation | null = null;
  /** The durable log requests are appended to. */
  readonly log: EventLog;
  private readonly appender: RequestAppender;
  private readonly applyQueue: Queued[] = [];
  private applying: Promise<void> | null = null;
  /** Items acknowledged and not yet applied. */
  private backlog = 0;
  private roomWaiters: (() => void)[] = [];
  private appliedWaiters: { position: number; done(): void }[] = [];
  private acked = 0;
  private done = 0;
  /** The position of the last record applied (at start, the greatest the store has applied). */
  private appliedRecord = 0;
  /** Applied records may wait in the log to be trimmed (at start too: a crash may have left some). */
  private untrimmed = true;
  private trimming = false;
  private trimmedAt = 0;
  /** No new request is taken (stop() began). */
  private closed = false;
  /** Retries give up and leave what is left in the log for the next start (stop()'s grace is over). */
  private quitting = false;
  private readonly recovered: Promise<void>;
  /** Settles when stop() gives up applying (`quitting`). */
  private quit!: () => void;
  private readonly quitted = new Promise<void>((resolve) => { this.quit = resolve; });
  private isRecovered = false;
  /** Why the last attempt to read the log back at start failed (null: none failed, or it is done). */
  private recoveryFailure: string | null = null;
  /** Why records wait to be applied (the store is unavailable), or null. */
  stalled: string | null = null;
  /** Following the log: this process's records among those the follower applies. */
  private readonly own = new OwnRecords();
  private readonly follower: LogFollower | null = null;

  constructor(
    private readonly engine: LiveEngine,
    private readonly opts: IngestServiceOptions,
  ) {
    this.log = opts.log;
    this.appender = new RequestAppender(opts.log, opts.lingerMs ?? 0, { appended: (group, positions) => this.appended(group, positions), failed: (items) => { this.totals.failed += items; } });
    this.headKnown = new Promise<void>((resolve) => { this.knowHead = () => { this.hasHead = true; resolve(); }; });
    if (opts.apply === false) {
      // Appends only: nothing to read back, no engine to hold.
      this.recovered = Promise.resolve();
      this.isRecovered = true;
      this.knowHead();
      return;
    }
    if (opts.follow) this.follower = new LogFollower(this.log, 0);
    this.recovered = this.recover();
    // The backlog is applied at the instants it was received: the engine's clocks wait for it.
    engine.holdClock(this.recovered);
  }

  /** Whether this process applies the log (false in the `api` role). */
  get applies(): boolean {
    return this.opts.apply !== false;
  }

  /** Settles once the log's head is read at start (what was acknowledged before this process started): reads wait for it. */
  readonly headKnown: Promise<void>;
  private knowHead!: () => void;
  /** Whether `headKnown` has settled. */
  hasHead = false;

  /** Called in the transaction of every applied step, after membership (missions award there). */
  onIngested(l: IngestListener): void {
    this.listeners.push(l);
  }

  /** Items this picks are applied one at a time (`ingestSteps`): missions need the membership around each of their events. */
  applyAlone(pick: IngestIsolation): void {
    this.isolation = pick;
  }

  /** The position of the last request acknowledged (by this process, or before its start). */
  get acknowledged(): number {
    return this.acked;
  }

  /** The position up to which every acknowledged request is applied. */
  get applied(): number {
    return this.done;
  }

  /** `applied`, read from the store's positions in a process that applies nothing (the `api` role). */
  async appliedNow(): Promise<number> {
    if (!this.applies && this.opts.readApplied) this.done = Math.max(this.done, await this.opts.readApplied());
    return this.done;
  }

  /** Items acknowledged and not yet applied (following the log on NATS: those this process appended). */
  get backlogItems(): number {
    return this.backlog;
  }

  private get deps(): ApplyDeps {
    return { engine: this.engine, sessionTimeoutMs: this.opts.sessionTimeoutMs, suppressions: this.opts.suppressions, listeners: this.listeners, isolation: this.isolation };
  }

  /**
   * Appends a request's items and rejections to the log; resolves with its position once durable.
   * This is the one way events and ingestion warnings reach the store (HTTP ingest, imports, the
   * demo), so the client's address is removed here for all of them (unless `storeIp`), before
   * anything is written.
   */
  async submit(projectId: string, items: readonly IngestItem[], rejections: readonly Rejection[], receivedAt: number): Promise<Acknowledged> {
    return { position: await this.enqueue(projectId, items, rejections, receivedAt) };
  }

  /** `submit`, then waits until the request is applied: what its items became (imports, the demo). */
  async submitApplied(projectId: string, items: readonly IngestItem[], rejections: readonly Rejection[], receivedAt: number): Promise<IngestResult & Acknowledged> {
    let result!: Deferred<IngestResult>;
    const applied = new Promise<IngestResult>((resolve, reject) => { result = { resolve, reject }; });
    applied.catch(() => undefined);
    const position = await this.enqueue(projectId, items, rejections, receivedAt, result);
    return { ...(await applied), position };
  }

  /**
   * A request becomes one record per run of consecutive items of one partition (`recordsOf`), appended in one
   * call, all or none; it is acknowledged with the last of their positions.
   */
  private async enqueue(projectId: string, items: readonly IngestItem[], rejections: readonly Rejection[], receivedAt: number, result?: Deferred<IngestResult>): Promise<number> {
    const keep = this.opts.storeIp === true;
    // Messages naming an id erased with suppression are dropped before the log, as when applied (docs/privacy.md).
    const screened = this.opts.suppressions ? await this.opts.suppressions.screen(projectId, items) : { kept: items, dropped: 0 };
    const refused = rejections.map((r) => storedRejection(r, keep));
    const records = recordsOf(projectId, this.log.partitions, receivedAt, screened.kept.map((i) => storedItem(i, keep)),
      screened.dropped ? [...refused, suppressedWarning(screened.dropped)] : refused);
    const n = sizeOf(records);
    await this.untilRecovered(n);
    await this.room(n);
    return new Promise<number>((resolve, reject) => {
      this.appender.push({ records, ack: { resolve, reject }, ...(result ? { results: splitResult(records.length, result) } : {}) });
    });
  }

  /**
   * Waits until what the log held at start is applied; refuses the request at once while the
   * log or the store cannot be read (rather than holding it until they can).
   */
  private async untilRecovered(items: number): Promise<void> {
    while (!this.isRecovered) {
      if (this.recoveryFailure !== null) {
        this.totals.failed += items;
        throw new AppError({ code: 'STORE_UNAVAILABLE', message: `the event log cannot be read back (${this.recoveryFailure}): nothing was acknowledged; send the events again` });
      }
      await Promise.race([this.recovered, sleep(20)]);
    }
  }

  /** Waits while the backlog is full; refuses the request when it stays full for `backlogWaitMs`. */
  private async room(items: number): Promise<void> {
    const refuse = (message: string, code: 'BACKLOGGED' | 'STORE_UNAVAILABLE' = 'BACKLOGGED') => {
      this.totals.failed += items;
      return new AppError({ code, message });
    };
    if (this.closed) throw refuse('Strata is stopping: the events were not stored and nothing was acknowledged; send them again', 'STORE_UNAVAILABLE');
    const max = this.opts.maxBacklog ?? 50_000;
    const deadline = Date.now() + (this.opts.backlogWaitMs ?? 10_000);
    while (this.backlog >= max) {
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) {
        const why = this.stalled ? `the store is unavailable (${this.stalled})` : 'events arrive faster than they are applied';
        throw refuse(`${this.backlog} acknowledged messages wait to be applied (${why}): these events were not stored and nothing was acknowledged; send them again`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(wake, left);
        function wake() { clearTimeout(timer); resolve(); }
        this.roomWaiters.push(wake);
      });
    }
  }

  /** A group of requests appended (RequestAppender): their records queued for the worker, or awaited from the log, and each request acknowledged. */
  private appended(group: readonly Appending[], positions: readonly number[]): void {
    const queued: Queued[] = [];
    let k = 0;
    for (const g of group) {
      let last = 0;
      g.records.forEach((record, i) => {
        const position = positions[k++]!;
        last = Math.max(last, position);
        this.totals.accepted += record.items.length;
        this.totals.rejected += record.rejections.length;
        const result = g.results?.[i];
        if (this.follower !== null) this.backlog += this.own.appended(position, size(record), result, this.done);
        else if (this.applies) {
          this.backlog += size(record);
          queued.push({ record: { ...record, position }, ...(result ? { result } : {}) });
        }
      });
      this.acked = Math.max(this.acked, last);
      g.ack.resolve(last);
    }
    if (this.follower !== null) {
      this.own.appendDone();
      return;
    }
    // The worker applies in position order (the log gives a call's records rising positions; this keeps it so whatever the log).
    queued.sort((a, b) => a.record.position - b.record.position);
    this.applyQueue.push(...queued);
    this.kickApply();
  }

  private kickApply(): void {
    if (this.applying || this.applyQueue.length === 0 || this.follower !== null) return;
    this.applying = this.pumpApply().finally(() => {
      this.applying = null;
      // Records appended while the last batch was finishing.
      if (!this.quitting) this.kickApply();
    });
  }

  /**
   * Items the next transaction takes: sized from the last ones so that a transaction holds the
   * event loop about `APPLY_TARGET_MS` (the embedded store's statements are synchronous: while one
   * runs, no request is read or answered; on PostgreSQL `APPLY_TARGET_ASYNC_MS`), between 50 and `applyBatch`.
   */
  private batchItems = 500;

  private async pumpApply(): Promise<void> {
    const max = this.opts.applyBatch ?? 5_000;
    while (this.applyQueue.length && !this.quitting) {
      const want = Math.min(max, this.batchItems);
      let n = 0, items = 0;
      while (n < this.applyQueue.length && (n === 0 || items + size(this.applyQueue[n]!.record) <= want)) items += size(this.applyQueue[n++]!.record);
      // Never cut inside a request split by partition: its records are applied as one step.
      for (let k = Math.min(this.applyQueue[n - 1]?.record.more ?? 0, this.applyQueue.length - n); k > 0; k--) items += size(this.applyQueue[n++]!.record);
      const batch = this.applyQueue.splice(0, n);
      const began = performance.now();
      const left = await this.applyBatch(batch);
      if (left.length === 0) this.resize(max, want, items, performance.now() - began);
      // Stopping with records not applied: they stay in the log for the next start.
      if (left.length) {
        this.applyQueue.unshift(...left);
        return;
      }
    }
  }

  /** The next batch aims at the target time, at most doubling or halving at once. */
  private resize(max: number, want: number, items: number, took: number): void {
    const target = this.engine.storeBlocksEventLoop ? APPLY_TARGET_MS : APPLY_TARGET_ASYNC_MS;
    if (items > 0) this.batchItems = Math.round(Math.min(max, Math.max(50, Math.min(2 * want, Math.max(want / 2, (items * target) / Math.max(took, 1))))));
  }

  /**
   * The worker of a log other processes append to (`follow`): applies what the log holds after
   * the applied position, every partition in position order, whoever appended it, until stopped.
   * A read that fails (NATS unreachable) is tried again; nothing is skipped.
   */
  private async followLog(follower: LogFollower): Promise<void> {
    const max = this.opts.applyBatch ?? 5_000;
    let unreadable = false;
    while (!this.quitting) {
      const want = Math.min(max, this.batchItems);
      let read: { records: LoggedRecord[]; upTo: number };
      try {
        read = await follower.next(want, () => this.quitting);
      } catch (cause) {
        const why = storeUnavailableReason(cause) ?? (cause instanceof Error ? cause.message : String(cause));
        if (!unreadable) console.error(`strata: the event log cannot be read (${why}); trying again`);
        unreadable = true;
        this.stalled = why;
        follower.rewind(this.appliedRecord);
        await sleep(250);
        continue;
      }
      if (unreadable) {
        console.error('strata: the event log can be read again');
        unreadable = false;
        this.stalled = null;
      }
      if (read.records.length) {
        const began = performance.now();
        const items = sizeOf(read.records);
        const left = await this.applyBatch(read.records.map((record) => ({ record })));
        if (left.length) {
          // Stopping: what is left stays in the log for the next start.
          follower.rewind(this.appliedRecord);
          return;
        }
        this.resize(max, want, items, performance.now() - began);
      }
      // Past the last record, up to upTo, nothing is left to apply (a position that belonged to no record: an append that failed).
      if (!this.quitting) this.advanceTo(read.upTo);
    }
  }

  /**
   * Applies a batch, trying again while the store is unavailable (the records are durable in the
   * log meanwhile). After any other failure each record is tried alone, and one that fails alone is
   * set aside as ingestion warnings. Returns the records left unapplied (only when stopping).
   */
  private async applyBatch(batch: readonly Queued[]): Promise<readonly Queued[]> {
    // Retried at most a second apart: once the store is back, what waits is applied within a second.
    for (let wait = 50; ; wait = Math.min(wait * 2, 1_000)) {
      try {
        // Following the log, records are applied in position order across every partition: each partition is applied up to the last of them.
        const last = batch[batch.length - 1]!.record.position;
        const results = await applyRecords(this.deps, batch.map((q) => q.record), this.follower !== null ? new Map(Array.from({ length: this.log.partitions }, (_, p) => [p, last])) : undefined);
        if (this.stalled !== null) console.error('strata: the store is available again: acknowledged events are being applied');
        this.stalled = null;
        batch.forEach((q, i) => {
          this.totals.duplicates += results[i]!.duplicates;
          this.settle(q, (d) => d.resolve(results[i]!));
        });
        this.advance(batch);
        return [];
      } catch (cause) {
        const down = storeUnavailableReason(cause);
        if (down !== null) {
          if (this.stalled === null) console.error(`strata: acknowledged events wait to be applied: the store is unavailable (${down}); trying again`);
          this.stalled = down;
          if (this.quitting) return batch;
          await sleep(wait);
          continue;
        }
        if (batch.length > 1) {
          for (let i = 0; i < batch.length; i++) {
            const left = await this.applyBatch([batch[i]!]);
            if (left.length) return batch.slice(i);
          }
          return [];
        }
        const q = batch[0]!;
        try {
          await setAside(this.deps, q.record, cause);
        } catch (again) {
          // Not even its warnings can be written: the record waits, and is tried again, like any other while the store fails.
          const why = storeUnavailableReason(again) ?? (again instanceof Error ? again.message : String(again));
          if (this.stalled === null) console.error(`strata: acknowledged events wait to be applied: ${why}; trying again`);
          this.stalled = why;
          if (this.quitting) return batch;
          await sleep(wait);
          continue;
        }
        console.error(`strata: ${q.record.items.length} acknowledged events of project ${q.record.projectId} (log position ${q.record.position}) could not be applied and are kept as ingestion warnings: ${(cause as Error)?.stack ?? String(cause)}`);
        this.totals.setAside += q.record.items.length;
        this.settle(q, (d) => d.reject(cause));
        this.advance(batch);
        return [];
      }
    }
  }

  /** Tells whoever waits for a record's result (an import); following the log, it may be this process's record whose PubAck is not handled yet. */
  private settle(q: Queued, how: (waiting: Deferred<IngestResult>) => void): void {
    if (q.result) return how(q.result);
    if (this.follower !== null) this.own.settle(q.record.position, how, this.appender.busy);
  }

  /** Moves the applied position past a batch: waiting reads and requests go on; the log is trimmed now and then. */
  private advance(batch: readonly Queued[]): void {
    this.appliedRecord = Math.max(this.appliedRecord, batch[batch.length - 1]!.record.position);
    this.untrimmed = true;
    for (const q of batch) {
      if (this.follower === null) this.backlog -= size(q.record);
      else this.backlog -= this.own.applied(q.record.position);
    }
    this.advanceTo(batch[batch.length - 1]!.record.position);
  }

  /** Moves the applied position to `position`: waiting reads and requests go on; the log is trimmed now and then. */
  private advanceTo(position: number): void {
    if (position <= this.done) return;
    this.done = position;
    const room = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of room) w();
    if (this.appliedWaiters.length) {
      const still: typeof this.appliedWaiters = [];
      for (const w of this.appliedWaiters) (w.position <= this.done ? w.done() : still.push(w));
      this.appliedWaiters = still;
    }
    this.trim();
  }

  /**
   * Drops applied records from the log, at most once a second. Their effects were committed
   * without an fsync (`deferSync`): the store's files are synced first, so a record leaves the log
   * only once what it did would survive a power cut.
   */
  private trim(force = false): void {
    // The last record applied, not `done`, which a follower may move past records it has not read yet when the log says none are left.
    const to = this.appliedRecord;
    if (this.trimming || to === 0 || !this.untrimmed || (!force && Date.now() - this.trimmedAt < 1_000)) return;
    this.trimming = true;
    this.trimmedAt = Date.now();
    this.untrimmed = false;
    // Every record at or before `to` is applied, whatever its partition (one process applies them all in position order).
    this.engine.syncCommitted().then(() => this.log.trimAll(to)).then(
      () => undefined,
      (e: unknown) => {
        this.untrimmed = true;
        console.error(`strata: the event log could not be trimmed (it will be at the next chance): ${(e as Error).message}`);
      },
    ).finally(() => { this.trimming = false; });
  }

  /**
   * Drops every applied record from the log now and makes it unreadable in the log's files: an
   * erasure calls it once the user's erasure has committed, so that the raw events it erased do
   * not outlive it in the log. (Records acknowledged and not applied yet stay: they are still to be applied.)
   */
  async forgetApplied(): Promise<void> {
    while (this.trimming) await sleep(1);
    const to = this.appliedRecord;
    if (to > 0) {
      await this.engine.syncCommitted();
      await this.log.trimAll(to);
    }
    await this.log.forgetTrimmed();
  }

  /**
   * Resolves true once every request up to `position` is applied, false if that takes longer than
   * `timeoutMs`. Reads call it so that what a client was acknowledged is what it then reads.
   */
  async waitApplied(position: number, timeoutMs: number): Promise<boolean> {
    if (position <= this.done) return true;
    if (!this.applies) return this.pollApplied(position, timeoutMs);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.appliedWaiters = this.appliedWaiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      const waiter = { position, done: () => { clearTimeout(timer); resolve(true); } };
      this.appliedWaiters.push(waiter);
    });
  }

  /** `waitApplied` in a process that applies nothing (the `api` role): the store's applied position, read every 20 ms. */
  private async pollApplied(position: number, timeoutMs: number): Promise<boolean> {
    if (!this.opts.readApplied) return false;
    for (const deadline = Date.now() + timeoutMs; ;) {
      if (position <= (await this.appliedNow())) return true;
      if (Date.now() >= deadline) return false;
      await sleep(Math.min(20, Math.max(1, deadline - Date.now())));
    }
  }

  /**
   * The position a read must see: every request acknowledged before it. When other processes
   * append to the log too, that is the log's head (one request to NATS), not only what this
   * process acknowledged.
   */
  async latest(): Promise<number> {
    if (this.follower !== null || !this.applies) this.acked = Math.max(this.acked, await this.log.head());
    return this.acked;
  }

  /** Resolves when everything submitted so far is appended and applied (following the log on NATS: everything the log holds, whoever appended it). */
  async drain(): Promise<void> {
    await this.recovered;
    // An `api` process: until its requests are appended.
    if (!this.applies) {
      while (this.appender.busy) await sleep(1);
      return;
    }
    // Following the log: until it is applied up to its head, whoever appended it.
    if (this.follower !== null) {
      while (this.appender.busy) await sleep(1);
      const head = await this.latest();
      while (this.done < head && !this.quitting) await sleep(2);
      return;
    }
    while (this.appender.busy || this.applying || this.applyQueue.length) {
      if (this.applying) await this.applying;
      else await sleep(1);
    }
  }

  /**
   * Stops taking requests; those being appended are answered, what is acknowledged is applied
   * for up to `graceMs`, and what is left stays in the log, applied at the next start. Closes the log.
   */
  async stop(graceMs = 5_000): Promise<void> {
    this.closed = true;
    for (const w of this.roomWaiters) w();
    this.roomWaiters = [];
    const deadline = Date.now() + graceMs;
    await Promise.race([this.recovered, sleep(graceMs)]);
    while (this.appender.busy) await sleep(1);
    if (this.follower !== null) {
      // The follower never ends by itself: it is given the grace to apply what this process acknowledged.
      while (this.own.waiting > 0 && Date.now() < deadline) await sleep(20);
    } else {
      while (this.applying && Date.now() < deadline) await Promise.race([this.applying, sleep(50)]);
    }
    this.quitting = true;
    this.quit();
    await this.recovered;
    await this.applying;
    // Those who wait for a result (an import) hear that it comes at the next start.
    const later = () => new AppError({ code: 'STORE_UNAVAILABLE', message: 'Strata stopped before these events were applied: they are in the event log and are applied at the next start' });
    for (const q of this.applyQueue) q.result?.reject(later());
    this.own.rejectAll(later);
    this.trim(true);
    while (this.trimming) await sleep(1);
    await this.log.close();
  }

  /**
   * At start: each partition's applied position is read from the store, and what the log holds
   * after them is applied first, all partitions merged in position order (`MergedLogReader`).
   * Positions are global: everything at or before the greatest applied position is applied.
   */
  private async recover(): Promise<void> {
    for (let wait = 250; !this.quitting; wait = Math.min(wait * 2, 5_000)) {
      try {
        const applied = await this.engine.write((tx) => appliedPositions(tx));
        // A log of fewer partitions than the store was written from would leave records unread: refused, never read past.
        checkLogPartitions(applied, this.log.partitions);
        const at = Math.max(0, ...applied.values());
        let head = await this.log.head();
        if (head < at) {
          // A log newer than the store (in memory, or its file made anew): its positions go on from the store's.
          if (head > 0) console.error(`strata: the event log ends at position ${head}, before the ${at} the store has applied: the log is not the one the store was written from; its positions now go on from ${at}`);
          await this.log.continueAfter(at);
          head = at;
        }
        this.done = this.appliedRecord = at;
        this.acked = Math.max(head, at);
        // A crash may have left applied records untrimmed.
        this.untrimmed = true;
        this.knowHead();
        if (this.follower !== null) {
          // Following the log: the follower applies from the applied position on (everything at or
          // before it is applied, positions being global), this start's backlog first. New requests
          // need not wait for it: their records come after it in the log.
          this.isRecovered = true;
          this.recoveryFailure = null;
          this.follower.rewind(at);
          this.applying = this.followLog(this.follower).finally(() => { this.applying = null; });
          // The engine's clocks are held until what was acknowledged before this start is applied.
          await Promise.race([this.quitted, new Promise<void>((done) => { if (this.done >= head) done(); else this.appliedWaiters.push({ position: head, done }); })]);
          return;
        }
        const reader = new MergedLogReader(this.log, (p) => applied.get(p) ?? 0);
        while (!this.quitting) {
          const records = await reader.next(200);
          if (records.length === 0) break;
          for (const r of records) this.backlog += size(r);
          const left = await this.applyBatch(records.map((record) => ({ record })));
          if (left.length) break;
        }
        this.isRecovered = true;
        this.recoveryFailure = null;
        return;
      } catch (e) {
        const reason = storeUnavailableReason(e) ?? (e as Error).message;
        if (this.recoveryFailure === null) console.error(`strata: the event log could not be read back at start (${reason}); trying again`);
        this.recoveryFailure = reason;
        await sleep(wait);
      }
    }
  }
}
