import type { EventLog, LoggedRecord } from '@strata/store';

/**
 * Reads what every partition of a log holds after its own applied position, merged into one
 * sequence in position order: what one process that applies every partition reads back at start.
 * Positions rise across partitions, so the merge gives the records in the order they were
 * acknowledged (an anonymous visitor's events in one partition before the identify that merges
 * them in another), as they were applied before the restart. The log must not grow meanwhile
 * (ingest waits for the recovery before it appends).
 */
export class MergedLogReader {
  private readonly parts: { after: number; records: readonly LoggedRecord[]; next: number; done: boolean }[];

  constructor(private readonly log: EventLog, appliedOf: (partition: number) => number, private readonly chunk = 200) {
    this.parts = Array.from({ length: log.partitions }, (_, p) => ({ after: appliedOf(p), records: [], next: 0, done: false }));
  }

  /**
   * Up to `max` records, the next in position order across all partitions; none once all are
   * read. A read does not end inside a request split by partition (its last record says `more`
   * of it follow): it goes on past `max` until the request's last record, so that the worker
   * applies the request as one step, as it did before the restart.
   */
  async next(max: number): Promise<LoggedRecord[]> {
    const out: LoggedRecord[] = [];
    do {
      await this.fill();
      if (!this.take(out, max)) break;
    } while ((out[out.length - 1]?.more ?? 0) > 0);
    return out;
  }

  /**
   * Takes records in position order until `max` (and the end of a request begun), or until a
   * partition's buffer runs out (its next records, not read yet, may come before the others');
   * false when there was nothing left to take.
   */
  private take(out: LoggedRecord[], max: number): boolean {
    let took = false;
    while (out.length < max || (out[out.length - 1]?.more ?? 0) > 0) {
      let best = -1;
      for (let p = 0; p < this.parts.length; p++) {
        const s = this.parts[p]!;
        if (s.next < s.records.length && (best < 0 || s.records[s.next]!.position < this.head(best))) best = p;
      }
      if (best < 0) return took;
      const s = this.parts[best]!;
      out.push(s.records[s.next++]!);
      took = true;
      if (s.next === s.records.length && !s.done) break;
    }
    return true;
  }

  private head(p: number): number {
    const s = this.parts[p]!;
    return s.records[s.next]!.position;
  }

  /** Reads the next chunk of every partition whose records read so far are all taken. */
  private async fill(): Promise<void> {
    for (let p = 0; p < this.parts.length; p++) {
      const s = this.parts[p]!;
      if (s.done || s.next < s.records.length) continue;
      const { records } = await this.log.read(p, s.after, this.chunk, 0);
      s.records = records;
      s.next = 0;
      if (records.length === 0) s.done = true;
      else s.after = records[records.length - 1]!.position;
    }
  }
}
