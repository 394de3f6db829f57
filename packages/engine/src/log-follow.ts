import type { EventLog, LoggedRecord, LogRecord } from '@strata/store';

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

const size = (r: LoggedRecord) => r.items.length + r.rejections.length;

/**
 * Whether a request whose first record is in `records` misses some of its records: they are
 * joined by the request's id (`requestSteps`), so a batch should hold them all.
 */
export function unfinishedRequest(records: readonly LogRecord[]): boolean {
  const parts = new Map<string, { expected: number; seen: number }>();
  for (const r of records) {
    if (r.request === undefined) continue;
    const p = parts.get(r.request);
    if (p === undefined) parts.set(r.request, { expected: (r.more ?? 0) + 1, seen: 1 });
    else p.seen++;
  }
  for (const p of parts.values()) if (p.seen < p.expected) return true;
  return false;
}

/**
 * Reads a log that other processes append to as well (the log on NATS), in position order across
 * every partition (`EventLog.readAll`), for the one worker that applies all of it: what this
 * process appended comes back through the log like anyone's, so the records are applied in the
 * order the log stored them whoever appended them. A batch does not end inside a request split
 * by partition while its missing records may still come (`COMPLETE_MS`).
 */
export class LogFollower {
  constructor(private readonly log: EventLog, private after: number) {}

  /**
   * The next records, about `wantItems` items' worth (at least one record when there is any),
   * waiting up to `WAIT_MS` for the first. `upTo`: every record at or before it is in `records` or
   * was read before (past the last record when the log holds nothing more), so a reader waiting
   * for a position that belonged to no record (an append that failed, its record deleted) is not
   * held up for ever.
   */
  async next(wantItems: number, stopping: () => boolean): Promise<{ records: LoggedRecord[]; upTo: number }> {
    const records: LoggedRecord[] = [];
    let items = 0, upTo = this.after;
    for (let first = true; items < wantItems && !stopping(); first = false) {
      const read = await this.log.readAll(this.after, CHUNK, first ? WAIT_MS : 0);
      for (const r of read.records) {
        records.push(r);
        items += size(r);
      }
      if (read.records.length) this.after = read.records[read.records.length - 1]!.position;
      upTo = Math.max(upTo, read.upTo);
      if (read.records.length < CHUNK) break;
    }
    for (const deadline = Date.now() + COMPLETE_MS; records.length && unfinishedRequest(records) && Date.now() < deadline && !stopping();) {
      const read = await this.log.readAll(this.after, CHUNK, 20);
      for (const r of read.records) records.push(r);
      if (read.records.length) this.after = read.records[read.records.length - 1]!.position;
      upTo = Math.max(upTo, read.upTo);
    }
    return { records, upTo: Math.max(upTo, this.after) };
  }

  /** Reads again from `position` (the records after it were not applied: a transaction rolled back while stopping). */
  rewind(position: number): void {
    this.after = position;
  }
}
