import { afterEach, describe, expect, it } from 'vitest';
import { SqliteEventLog, type IngestItem, type LogRecord } from '@strata/store';
import { batchEnd, LogFollower } from './log-follow.ts';

const item = (messageId: string): IngestItem => ({
  messageId, type: 'track', name: 'view', userId: `u-${messageId}`, anonymousId: null, previousId: null, properties: {}, context: {}, traits: null, timestamp: 1, receivedAt: 1,
});
const record = (partition: number, id: string, extra: Partial<LogRecord> = {}): LogRecord => ({ projectId: 'p', partition, receivedAt: 1, items: [item(id)], rejections: [], ...extra });
/** A request split in three, as recordsOf makes it. */
const split = (request: string): LogRecord[] => [record(0, `${request}-a`, { more: 2, request }), record(1, `${request}-b`, { more: 1, request }), record(2, `${request}-c`, { request })];

describe('following a log that several processes append to', () => {
  const logs: SqliteEventLog[] = [];
  afterEach(async () => { for (const l of logs.splice(0)) await l.close(); });
  const open = () => { const l = new SqliteEventLog(':memory:', 3); logs.push(l); return l; };

  it('ends a batch after the items wanted, never inside a request begun in it', () => {
    const [a, b, c] = split('r');
    const [x, y, z] = split('s');
    const o = record(1, 'other');
    expect(batchEnd([a!, b!, c!], 1)).toBe(3);
    expect(batchEnd([o, a!, b!, c!, o], 1)).toBe(1);
    expect(batchEnd([o, a!, b!, c!, o], 2)).toBe(4);
    // Interleaved with another split request: the end comes once both are whole.
    expect(batchEnd([a!, x!, b!, y!, c!, z!, o], 1)).toBe(6);
    expect(batchEnd([a!, x!, b!, y!, c!], 1)).toBe(-1);
    expect(batchEnd([a!, o, b!], 2)).toBe(-1);
    // Fewer items than wanted, all whole: all of them; nothing: nothing.
    expect(batchEnd([o, a!, b!, c!], 100)).toBe(4);
    expect(batchEnd([], 100)).toBe(0);
    // A request whose first records went out in an earlier batch: only the records after the first present count.
    expect(batchEnd([c!], 1)).toBe(1);
    expect(batchEnd([b!], 1)).toBe(-1);
  });

  it('reads on until a request it began is whole, another process\'s record in between', async () => {
    const log = open();
    const [a, b, c] = split('r');
    const [p1] = await log.append([a!]);
    const [other] = await log.append([record(1, 'other')]);
    const follower = new LogFollower(log, 0);
    const later = setTimeout(() => void log.append([b!, c!]), 150);
    const began = Date.now();
    const { records, upTo } = await follower.next(1, () => false);
    clearTimeout(later);
    expect(records.map((r) => r.items[0]!.messageId)).toEqual(['r-a', 'other', 'r-b', 'r-c']);
    expect(records[0]!.position).toBe(p1);
    expect(records[1]!.position).toBe(other);
    expect(upTo).toBe(records[3]!.position);
    expect(Date.now() - began).toBeLessThan(1_500);
    // Nothing more: the next read waits its 250 ms and answers with the head.
    expect(await follower.next(100, () => false)).toEqual({ records: [], upTo: records[3]!.position });
  });

  it('gives batches of about the size asked for, holding what it read past a batch\'s end for the next', async () => {
    const log = open();
    const appended: number[] = [];
    for (let i = 0; i < 10; i++) appended.push(...await log.append(split(`q${i}`)));
    const follower = new LogFollower(log, 0);
    const sizes: number[] = [];
    const seen: number[] = [];
    for (;;) {
      const { records, upTo } = await follower.next(4, () => false);
      if (records.length === 0) break;
      sizes.push(records.length);
      seen.push(...records.map((r) => r.position));
      expect(upTo).toBe(records[records.length - 1]!.position);
    }
    // Two requests of three records each: the first whole request past 4 items ends a batch.
    expect(sizes).toEqual([6, 6, 6, 6, 6]);
    expect(seen).toEqual(appended);
  });

  it('gives up waiting for a request whose rest never comes (its appender died), and reads from where it is told', async () => {
    const log = open();
    const [a] = split('dead');
    const [p] = await log.append([a!]);
    const follower = new LogFollower(log, 0);
    const began = Date.now();
    const { records } = await follower.next(100, () => false);
    expect(records.map((r) => r.position)).toEqual([p]);
    expect(Date.now() - began).toBeGreaterThanOrEqual(1_900);
    // A stop cuts the wait short.
    const [q] = await log.append([split('stopped')[0]!]);
    const stopAt = Date.now() + 100;
    expect((await follower.next(100, () => Date.now() > stopAt)).records.map((r) => r.position)).toEqual([q]);
    expect(Date.now() - stopAt).toBeLessThan(500);
    // Stopping before it reads, it reads nothing; told to read again from p, it gives q again.
    expect((await follower.next(100, () => true)).records).toEqual([]);
    follower.rewind(p!);
    let reads = 0;
    const again = await follower.next(100, () => reads++ > 0);
    expect(again.records.map((r) => r.position)).toEqual([q]);
  });
});
