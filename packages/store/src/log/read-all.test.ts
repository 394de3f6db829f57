import { afterAll, describe, expect, it } from 'vitest';
import type { IngestItem } from '../types.ts';
import { testBackends } from '../testing/backends.ts';
import type { EventLog, LogRecord } from './event-log.ts';
import { SqliteEventLog } from './sqlite-log.ts';
import { openEventLog } from './open-log.ts';

/**
 * `readAll` on the embedded logs: every partition's records in position order, what the worker
 * that follows a log reads (the log on NATS has its own test in jetstream-log.test.ts), and a
 * split request's id carried through the stored text.
 */

const item = (messageId: string): IngestItem => ({
  messageId, type: 'track', name: 'Played', userId: `u-${messageId}`, anonymousId: null, previousId: null,
  properties: { n: 1 }, context: {}, traits: null, timestamp: 1_700_000_000_000, receivedAt: 1_700_000_000_500,
});
const record = (partition: number, ids: string[], extra: Partial<LogRecord> = {}): LogRecord => ({
  projectId: 'proj', partition, receivedAt: 1_700_000_000_500, items: ids.map(item), rejections: [], ...extra,
});

const logs: { name: string; open(): Promise<{ log: EventLog; close(): Promise<void> }> }[] = [
  { name: 'the SQLite file log, 3 partitions', open: async () => { const log = new SqliteEventLog(':memory:', 3); return { log, close: () => log.close() }; } },
  ...(await testBackends()).filter((b) => b.name.startsWith('postgres')).map((b) => ({
    name: `the ${b.name} table log`,
    open: async () => {
      const store = await b.open();
      const log = openEventLog(store);
      return { log, close: async () => { await log.close(); await store.close(); } };
    },
  })),
];

describe.each(logs)('readAll on $name', ({ open }) => {
  const opened: (() => Promise<void>)[] = [];
  afterAll(async () => { for (const c of opened) await c(); });

  it('reads every partition in position order, from any position, a few at a time, with upTo at the head once nothing more is there', async () => {
    const { log, close } = await open();
    opened.push(close);
    const last = log.partitions - 1;
    const first = await log.append([record(0, ['a']), record(last, ['b'], { more: 1, request: 'r-1' }), record(0, ['c'], { request: 'r-1' })]);
    const second = await log.append([record(last, ['d'])]);
    const all = [...first, ...second];
    const whole = await log.readAll(0, 100, 0);
    expect(whole.records.map((r) => [r.position, r.partition, r.items[0]!.messageId])).toEqual([
      [all[0], 0, 'a'], [all[1], last, 'b'], [all[2], 0, 'c'], [all[3], last, 'd'],
    ]);
    expect(whole.upTo).toBe(all[3]);
    // A split request's id and count come back as they were appended.
    expect(whole.records[1]).toMatchObject({ more: 1, request: 'r-1' });
    expect(whole.records[2]!.request).toBe('r-1');
    expect(whole.records[0]!.request).toBeUndefined();
    const two = await log.readAll(all[0]!, 2, 0);
    expect(two.records.map((r) => r.position)).toEqual([all[1], all[2]]);
    expect(two.upTo).toBe(all[2]);
    expect(await log.readAll(all[3]!, 10, 0)).toEqual({ records: [], upTo: all[3] });
  });

  it('waits for the next record when asked to, and is woken by the append', async () => {
    const { log, close } = await open();
    opened.push(close);
    const [a] = await log.append([record(0, ['a'])]);
    const reading = log.readAll(a!, 10, 5_000);
    const began = Date.now();
    const [b] = await log.append([record(log.partitions - 1, ['b'])]);
    const read = await reading;
    expect(read.records.map((r) => r.position)).toEqual([b]);
    expect(Date.now() - began).toBeLessThan(2_000);
  });
});
