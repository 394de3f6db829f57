import { afterEach, describe, expect, it } from 'vitest';
import { SqliteEventLog, type IngestItem, type LogRecord } from '@strata/store';
import { LogFollower, unfinishedRequest } from './log-follow.ts';

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

  it('knows when a request begun in a batch misses records', () => {
    const [a, b, c] = split('r');
    expect(unfinishedRequest([a!, b!, c!])).toBe(false);
    expect(unfinishedRequest([a!, record(1, 'other'), b!])).toBe(true);
    // A request whose first records were applied in an earlier batch: only what follows the first record present counts.
    expect(unfinishedRequest([c!])).toBe(false);
    expect(unfinishedRequest([b!])).toBe(true);
    expect(unfinishedRequest([record(0, 'alone')])).toBe(false);
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
