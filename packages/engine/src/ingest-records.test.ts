import { describe, expect, it } from 'vitest';
import { partitionOf, type IngestItem, type LoggedRecord } from '@strata/store';
import type { IngestResult } from './ingest-apply.ts';
import { recordsOf, requestSteps, splitResult } from './ingest-records.ts';

const item = (messageId: string, userId: string): IngestItem => ({
  messageId, type: 'track', name: 'view', userId, anonymousId: null, previousId: null, properties: {}, context: {}, traits: null, timestamp: 1, receivedAt: 1,
});

/** A request's records as the log gives them back: with positions from `from` on. */
const logged = (records: ReturnType<typeof recordsOf>, from: number): LoggedRecord[] => records.map((r, i) => ({ ...r, position: from + i }));

describe('a request as records, and records as the steps they are applied in', () => {
  // Three users of three different partitions of 16.
  const users = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].reduce<string[]>((out, u) => (out.length < 3 && !out.some((o) => partitionOf(o, 16) === partitionOf(u, 16)) ? [...out, u] : out), []);
  const rejection = { index: 3, message: 'bad', payload: '{}' };

  it('numbers how many records of the request follow each, and joins them back into one step, items in the order sent', () => {
    const items = [item('m1', users[0]!), item('m2', users[1]!), item('m3', users[1]!), item('m4', users[2]!)];
    const records = recordsOf('p', 16, 100, items, [rejection]);
    expect(records.map((r) => [r.items.length, r.more])).toEqual([[1, 2], [2, 1], [1, undefined]]);
    const other = recordsOf('p', 16, 101, [item('m5', users[0]!)], []);
    const read = [...logged(records, 10), ...logged(other, 13)];
    const steps = requestSteps(read);
    expect(steps.map((s) => s.of.map((i) => read[i]!.position))).toEqual([[10, 11, 12], [13]]);
    expect(steps[0]!.record).toMatchObject({ projectId: 'p', receivedAt: 100, rejections: [rejection] });
    expect(steps[0]!.record.items.map((i) => i.messageId)).toEqual(['m1', 'm2', 'm3', 'm4']);
    expect(steps[1]!.record).toBe(read[steps[1]!.of[0]!]);
    // The records of one request share an id; a request that is not split has none.
    expect(new Set(records.map((r) => r.request)).size).toBe(1);
    expect(records[0]!.request).toMatch(/^[0-9a-f-]{36}$/);
    expect(other[0]!.request).toBeUndefined();
    expect(recordsOf('p', 16, 100, items, [])[0]!.request).not.toBe(records[0]!.request);
  });

  it('joins a request by its id when another process\'s records fall between its records (a log several processes append to)', () => {
    const mine = recordsOf('p', 16, 100, [item('m1', users[0]!), item('m2', users[1]!), item('m3', users[2]!)], []);
    // Another process's request of the same instant and project, also split: its records interleave with these.
    const theirs = recordsOf('p', 16, 100, [item('t1', users[1]!), item('t2', users[0]!)], []);
    const read: LoggedRecord[] = [
      { ...mine[0]!, position: 1 }, { ...theirs[0]!, position: 2 }, { ...mine[1]!, position: 3 },
      { ...theirs[1]!, position: 4 }, { ...mine[2]!, position: 5 },
    ];
    const steps = requestSteps(read);
    expect(steps.map((s) => s.of.map((i) => read[i]!.position))).toEqual([[1, 3, 5], [2, 4]]);
    expect(steps.map((s) => s.record.items.map((i) => i.messageId))).toEqual([['m1', 'm2', 'm3'], ['t1', 't2']]);
    // A part missing (its append failed after it was written in part): what is there is applied, each part once.
    const gap = [read[0]!, read[1]!, read[4]!];
    expect(requestSteps(gap).map((s) => s.of.map((i) => gap[i]!.position))).toEqual([[1], [2], [5]]);
  });

  it('applies the part of a request a read ends in as a step of its own, and never joins records of another request or project', () => {
    const records = logged(recordsOf('p', 16, 100, [item('m1', users[0]!), item('m2', users[1]!), item('m3', users[2]!)], []), 1);
    expect(requestSteps(records.slice(0, 2)).map((s) => s.of.length)).toEqual([2]);
    expect(requestSteps(records.slice(1)).map((s) => s.of.length)).toEqual([2]);
    // A record saying more follow, followed by one of another instant or project: each alone.
    expect(requestSteps([records[0]!, { ...records[1]!, receivedAt: 101 }, records[2]!]).map((s) => s.of.length)).toEqual([1, 1, 1]);
    expect(requestSteps([records[0]!, { ...records[1]!, projectId: 'q' }]).map((s) => s.of.length)).toEqual([1, 1]);
    // Records written before requests had ids are joined only at the next positions: one that is not next is alone.
    const { request: _first, ...old0 } = records[0]!;
    const { request: _second, ...old1 } = records[1]!;
    expect(requestSteps([old0, old1]).map((s) => s.of.length)).toEqual([2]);
    expect(requestSteps([old0, { ...old1, position: 5 }]).map((s) => s.of.length)).toEqual([1, 1]);
    // Nor is a record of another request joined, whatever its place.
    expect(requestSteps([records[0]!, { ...records[1]!, request: 'another' }]).map((s) => s.of.length)).toEqual([1, 1]);
  });

  it('answers a request once every one of its records is settled: the sum, or the first failure', async () => {
    const settled: string[] = [];
    const whole = (): [Promise<IngestResult>, ReturnType<typeof splitResult>] => {
      let parts!: ReturnType<typeof splitResult>;
      const p = new Promise<IngestResult>((resolve, reject) => { parts = splitResult(3, { resolve, reject }); });
      p.then((r) => settled.push(`stored ${r.stored}, ${r.duplicates} duplicates`), (e: Error) => settled.push(`failed: ${e.message}`));
      return [p, parts];
    };
    const [sum, ok] = whole();
    ok[0]!.resolve({ stored: 2, duplicates: 0 });
    ok[2]!.resolve({ stored: 1, duplicates: 1 });
    ok[2]!.resolve({ stored: 9, duplicates: 9 });
    ok[1]!.resolve({ stored: 0, duplicates: 0 });
    await sum;
    const [failed, parts] = whole();
    parts[1]!.reject(new Error('set aside'));
    parts[2]!.reject(new Error('stopping'));
    await new Promise((r) => setTimeout(r, 0));
    // One record of the request is still being applied: nothing is answered yet.
    expect(settled).toEqual(['stored 3, 1 duplicates']);
    parts[0]!.resolve({ stored: 1, duplicates: 0 });
    await failed.catch(() => undefined);
    expect(settled).toEqual(['stored 3, 1 duplicates', 'failed: set aside']);
  });
});
