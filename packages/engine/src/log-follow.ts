import type { EventLog, LoggedRecord, LogRecord } from '@strata/store';
import type { IngestResult } from './ingest-apply.ts';
import type { Deferred } from './ingest-records.ts';

/** Records asked for per read of the log. */
const CHUNK = 200;
/** How long the first read of a batch waits for a record when the log holds none yet (ms). */
const WAIT_MS = 250;
/**
 * How long a batch waits for the missing records of a request begun in it (ms). An appender
 * publishes a request's records together, so they are normally stored within milliseconds of each
 * other; one that died part-way through an append never sends the rest, and the part that is there
 * is applied on its own after this wait (its client was not answered, and sends the request again).
 */
const COMPLETE_MS = 2_000;

const size = (r: LogRecord) => r.items.length + r.rejections.length;

/**
 * Where a batch of `records` (in position order) may end: the first place after about
 * `wantItems` items' worth (or after all of them) where every request split by partition that
 * began before it has all its records before it too (they are joined by the request's id:
 * `requestSteps`). -1 when there is none yet: a request begun in `records` misses records that
 * may still come.
 */
export function batchEnd(records: readonly LogRecord[], wantItems: number): number {
  const open = new Map<string, number>();
  let items = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    items += size(r);
    if (r.request !== undefined) {
      // Records of the request still to come after this one: its first record here says how many.
      const left = open.has(r.request) ? open.get(r.request)! - 1 : (r.more ?? 0);
      if (left > 0) open.set(r.request, left);
      else open.delete(r.request);
    }
    if (items >= wantItems && open.size === 0) return i + 1;
  }
  return open.size === 0 ? records.length : -1;
}

/**
 * Reads a log that other processes append to as well (the log on NATS), in position order across
 * every partition (`EventLog.readAll`), for the one worker that applies all of it: what this
 * process appended comes back through the log like anyone's, so the records are applied in the
 * order the log stored them whoever appended them. A batch is about the size asked for, and does
 * not end inside a request split by partition while its missing records may still come
 * (`COMPLETE_MS`); records read past a batch's end wait for the next.
 */
export class LogFollower {
  /** Read from the log and not given out yet (past the last batch's end). */
  private held: LoggedRecord[] = [];

  constructor(private readonly log: EventLog, private after: number) {}

  /**
   * The next records, about `wantItems` items' worth (at least one record when there is any),
   * waiting up to `WAIT_MS` for the first. `upTo`: every record at or before it is in `records` or
   * was given out before (past the last record when the log holds nothing more), so a reader
   * waiting for a position that belonged to no record (an append that failed, its record deleted)
   * is not held up for ever.
   */
  async next(wantItems: number, stopping: () => boolean): Promise<{ records: LoggedRecord[]; upTo: number }> {
    const records = this.held;
    this.held = [];
    let upTo = records.length ? records[records.length - 1]!.position : this.after;
    const read = async (waitMs: number): Promise<number> => {
      const got = await this.log.readAll(this.after, CHUNK, waitMs);
      for (const r of got.records) records.push(r);
      if (got.records.length) this.after = got.records[got.records.length - 1]!.position;
      upTo = Math.max(upTo, got.upTo);
      return got.records.length;
    };
    let items = records.reduce((n, r) => n + size(r), 0);
    for (let first = true; items < wantItems && !stopping(); first = false) {
      const before = records.length;
      const got = await read(first && records.length === 0 ? WAIT_MS : 0);
      for (let i = before; i < records.length; i++) items += size(records[i]!);
      if (got < CHUNK) break;
    }
    let end = batchEnd(records, wantItems);
    for (const deadline = Date.now() + COMPLETE_MS; end < 0 && Date.now() < deadline && !stopping();) {
      await read(20);
      end = batchEnd(records, wantItems);
    }
    // Given up waiting (or stopping): what is there is applied, the rest of the request later on its own.
    if (end < 0) end = records.length;
    this.held = records.slice(end);
    const out = records.slice(0, end);
    return { records: out, upTo: this.held.length ? out[out.length - 1]!.position : Math.max(upTo, this.after) };
  }

  /** Reads again from `position` (the records after it were not applied: a transaction rolled back while stopping). */
  rewind(position: number): void {
    this.after = position;
    this.held = [];
  }
}

/**
 * Following the log, the records this process appended among those the follower applies: their
 * sizes (the backlog this process counts, and what a stop gives its grace to), and who waits for
 * their outcome (an import). The follower may read a record back and apply it before the append's
 * PubAck is handled here: its outcome is then kept (`unclaimed`) while an append is in flight, for
 * `appended` to hand over.
 */
export class OwnRecords {
  private readonly sizes = new Map<number, number>();
  private readonly awaiting = new Map<number, Deferred<IngestResult>>();
  private readonly unclaimed = new Map<number, (waiting: Deferred<IngestResult>) => void>();

  /** This process's records appended and not applied yet. */
  get waiting(): number {
    return this.sizes.size;
  }

  /**
   * A record this process appended at `position`, `applied` being the position applied so far:
   * the items it adds to the backlog (none when it is applied already).
   */
  appended(position: number, items: number, result: Deferred<IngestResult> | undefined, applied: number): number {
    if (position > applied) {
      this.sizes.set(position, items);
      if (result) this.awaiting.set(position, result);
      return items;
    }
    if (result) (this.unclaimed.get(position) ?? ((d) => d.reject(new Error(`the record at log position ${position} was applied before its outcome was asked for`))))(result);
    return 0;
  }

  /** An append's records are all handed over: outcomes kept for it are no longer needed. */
  appendDone(): void {
    this.unclaimed.clear();
  }

  /** The record at `position` is applied: the items it leaves the backlog with (0 if it was not this process's). */
  applied(position: number): number {
    const items = this.sizes.get(position) ?? 0;
    this.sizes.delete(position);
    return items;
  }

  /** Tells whoever waits for the record's outcome, or keeps it while an append is in flight (`appending`). */
  settle(position: number, how: (waiting: Deferred<IngestResult>) => void, appending: boolean): void {
    const waiting = this.awaiting.get(position);
    if (waiting) {
      this.awaiting.delete(position);
      how(waiting);
    } else if (appending) {
      this.unclaimed.set(position, how);
    }
  }

  /** Stopping: whoever still waits hears `why`. */
  rejectAll(why: () => Error): void {
    for (const waiting of this.awaiting.values()) waiting.reject(why());
    this.awaiting.clear();
  }
}
