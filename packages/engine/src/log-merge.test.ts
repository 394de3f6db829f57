import { describe, expect, it } from 'vitest';
import type { EventLog, LoggedRecord } from '@strata/store';
import { MergedLogReader } from './log-merge.ts';

/** The part of a log the reader uses, over records held in memory (read: after a position, up to `max`). */
function memoryLog(records: readonly LoggedRecord[], partitions: number): EventLog {
  return {
    partitions,
    read: async (partition: number, after: number, max: number) => ({ records: records.filter((r) => r.partition === partition && r.position > after).slice(0, max), upTo: 0 }),
  } as unknown as EventLog;
}

const rec = (position: number, partition: number, more?: number): LoggedRecord => ({
  position, partition, projectId: 'p', receivedAt: 1, items: [], rejections: [], ...(more ? { more } : {}),
});

describe('MergedLogReader: every partition read back, merged in position order', () => {
  it('gives the records in position order, each once', async () => {
    const all = [rec(1, 0), rec(2, 1), rec(3, 1), rec(4, 0), rec(5, 2), rec(6, 0)];
    const reader = new MergedLogReader(memoryLog(all, 3), () => 0, 1);
    const got: number[] = [];
    for (let r = await reader.next(2); r.length; r = await reader.next(2)) got.push(...r.map((x) => x.position));
    expect(got).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('does not end a read inside a request split by partition, even past the asked size or a partition chunk', async () => {
    // A request of five records alternating between partitions 6 and 13, then a request of one record.
    const all = [rec(1, 6, 4), rec(2, 13, 3), rec(3, 6, 2), rec(4, 13, 1), rec(5, 6), rec(6, 13)];
    for (const chunk of [1, 2, 200]) {
      const reader = new MergedLogReader(memoryLog(all, 16), () => 0, chunk);
      const first = await reader.next(2);
      expect(first.map((x) => x.position), `chunk ${chunk}`).toEqual([1, 2, 3, 4, 5]);
      expect((await reader.next(2)).map((x) => x.position)).toEqual([6]);
      expect(await reader.next(2)).toEqual([]);
    }
  });

  it('ends at the end of the log when the last records of a request were never stored', async () => {
    const reader = new MergedLogReader(memoryLog([rec(1, 0, 2), rec(2, 1, 1)], 2), () => 0, 1);
    expect((await reader.next(10)).map((x) => x.position)).toEqual([1, 2]);
    expect(await reader.next(10)).toEqual([]);
  });
});
