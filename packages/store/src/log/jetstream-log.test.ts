import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { AppError } from '@strata/core';
import type { IngestItem } from '../types.ts';
import { storeUnavailableReason } from '../store-errors.ts';
import { NATS_URL, natsRelay, natsUnavailable, testPrefixes } from '../testing/nats.ts';
import type { EventLog, LoggedRecord, LogRead, LogRecord } from './event-log.ts';
import { openJetStreamLog } from './jetstream-log.ts';
import { streamName } from './nats-common.ts';

const unavailable = await natsUnavailable();
if (unavailable !== null) console.warn(`skipping the JetStream event log tests: ${unavailable}`);

/** A prefix of its own for each test, whose stream is deleted at the end. */
const prefixes = testPrefixes('t');
const newPrefix = prefixes.next;

function item(messageId: string, extra: Partial<IngestItem> = {}): IngestItem {
  return {
    messageId, type: 'track', name: 'Played', userId: `u-${messageId}`, anonymousId: null, previousId: null,
    properties: { n: 1 }, context: {}, traits: null, timestamp: 1_700_000_000_000, receivedAt: 1_700_000_000_500, ...extra,
  };
}

function record(partition: number, ids: string[], receivedAt = 1_700_000_000_500): LogRecord {
  return { projectId: 'proj', partition, receivedAt, items: ids.map((id) => item(id)), rejections: [] };
}

describe.skipIf(unavailable !== null)('the event log on NATS JetStream', () => {
  let admin: NatsConnection;
  let jsm: JetStreamManager;
  beforeAll(async () => {
    admin = await connect({ servers: NATS_URL });
    jsm = await jetstreamManager(admin);
  });
  afterAll(async () => {
    for (const p of prefixes.used) await jsm.streams.delete(streamName(p)).catch(() => false);
    await admin.close();
  });

  async function open(prefix: string, partitions = 4): Promise<EventLog> {
    return openJetStreamLog({ url: NATS_URL, prefix, partitions });
  }

  it('appends in order: positions rise across partitions, and each partition reads back its own records in order', async () => {
    const log = await open(newPrefix());
    try {
      const first = await log.append([record(0, ['a']), record(1, ['b']), record(0, ['c', 'd'])]);
      const second = await log.append([record(2, ['e']), record(0, ['f'])]);
      const all = [...first, ...second];
      for (let i = 1; i < all.length; i++) expect(all[i]).toBeGreaterThan(all[i - 1]);
      expect(await log.head()).toBe(all[all.length - 1]);

      const p0 = await log.read(0, 0, 100, 0);
      expect(p0.records.map((r) => r.items.map((it) => it.messageId))).toEqual([['a'], ['c', 'd'], ['f']]);
      expect(p0.records.map((r) => r.position)).toEqual([first[0], first[2], second[1]]);
      expect(p0.records[1]).toMatchObject({ projectId: 'proj', partition: 0, receivedAt: 1_700_000_000_500, rejections: [] });
      expect(p0.records[1].items[0]).toEqual(item('c'));
      expect((await log.read(1, 0, 100, 0)).records.map((r) => r.position)).toEqual([first[1]]);
    } finally {
      await log.close();
    }
  });

  it('gives upTo: the last record while more wait, the stream\'s head when the partition has nothing more', async () => {
    const log = await open(newPrefix());
    try {
      const [a, b, c] = await log.append([record(0, ['a']), record(1, ['b']), record(0, ['c'])]);
      expect(await log.read(0, 0, 1, 0)).toMatchObject({ records: [{ position: a }], upTo: a });
      expect(await log.read(0, a, 10, 0)).toMatchObject({ records: [{ position: c }], upTo: c });
      expect(await log.read(1, 0, 10, 0)).toMatchObject({ records: [{ position: b }], upTo: c });
      expect(await log.read(2, 0, 10, 0)).toEqual({ records: [], upTo: c });
      // Reading on from upTo (past the partition's own last record) still sees what comes next.
      const [d] = await log.append([record(1, ['d'])]);
      expect(await log.read(1, c, 10, 0)).toMatchObject({ records: [{ position: d }], upTo: d });
    } finally {
      await log.close();
    }
  });

  it('waits up to waitMs for the first record, and answers as soon as one comes', async () => {
    const log = await open(newPrefix());
    try {
      let t = Date.now();
      expect(await log.read(3, 0, 10, 300)).toEqual({ records: [], upTo: 0 });
      expect(Date.now() - t).toBeGreaterThanOrEqual(250);

      t = Date.now();
      const reading = log.read(3, 0, 10, 5000);
      setTimeout(() => void log.append([record(3, ['late-1']), record(3, ['late-2'])]), 200);
      const got = await reading;
      expect(Date.now() - t).toBeLessThan(2000);
      expect(got.records[0].items[0].messageId).toBe('late-1');
    } finally {
      await log.close();
    }
  });

  /**
   * Reads with `read` (from `after`, at most `max`) while two other connections append from four
   * loops at once, as other ingest processes do (`rounds` appends each, two records an append: an
   * item `m<loop>-<i>` on partition i % 4, then `n<loop>-<i>` on the next, with `request` if given),
   * then reads what is left. Checks that no read starts at or before where the last ended, nor ends
   * before it; returns every record read and the positions of those `keep` picks.
   */
  async function readAlongside(rounds: number, request: boolean, keep: (partition: number) => boolean, read: (log: EventLog, after: number, max: number) => Promise<LogRead>) {
    const prefix = newPrefix();
    const log = await open(prefix);
    const writers = await Promise.all([open(prefix), open(prefix)]);
    try {
      const written: number[] = [];
      let done = false;
      const appending = Promise.all(Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; i < rounds; i++) {
          const records = [record(i % 4, [`m${w}-${i}`]), { ...record((i + 1) % 4, [`n${w}-${i}`]), ...(request ? { request: `w${w}-${i}` } : {}) }];
          const positions = await writers[w % 2].append(records);
          records.forEach((r, k) => { if (keep(r.partition)) written.push(positions[k]); });
        }
      })).finally(() => { done = true; });
      const seen: LoggedRecord[] = [];
      let after = 0;
      const take = async (max: number) => {
        const { records, upTo } = await read(log, after, max);
        if (records.length) expect(records[0].position).toBeGreaterThan(after);
        seen.push(...records);
        expect(upTo).toBeGreaterThanOrEqual(after);
        after = upTo;
        return records.length;
      };
      while (!done) await take(7);
      await appending;
      while (await take(50) > 0);
      return { seen, written: [...written].sort((x, y) => x - y) };
    } finally {
      await Promise.all([log, ...writers].map((l) => l.close()));
    }
  }

  it('never gives an upTo past a record it has not delivered, while appends run alongside', async () => {
    const { seen, written } = await readAlongside(100, false, (p) => p === 0, (log, after, max) => log.read(0, after, max, 0));
    expect(seen.map((r) => r.position)).toEqual(written);
  });

  it('reads every partition in position order with readAll while other processes append, skipping none and carrying a request\'s id', async () => {
    const { seen, written } = await readAlongside(60, true, () => true, (log, after, max) => log.readAll(after, max, 0));
    expect(seen.map((r) => r.position)).toEqual(written);
    // Each record on its own partition's subject, a request's id where it was given.
    for (const r of seen) {
      const first = r.items[0].messageId;
      const [, w, i] = /^[mn](\d)-(\d+)$/.exec(first)!;
      expect(r.partition).toBe((Number(i) + (first.startsWith('n') ? 1 : 0)) % 4);
      expect(r.request).toBe(first.startsWith('n') ? `w${w}-${i}` : undefined);
    }
  });

  it('keeps one consumer across sequential reads, and starts a new one to read from elsewhere', async () => {
    const prefix = newPrefix();
    const log = await open(prefix);
    const consumers = async () => (await jsm.consumers.list(streamName(prefix)).next()).map((c) => c.name);
    try {
      await log.append([record(0, ['a']), record(1, ['b']), record(0, ['c'])]);
      const r1 = await log.read(0, 0, 1, 0);
      const name = await consumers();
      expect(name).toHaveLength(1);
      const r2 = await log.read(0, r1.upTo, 10, 0);
      const r3 = await log.read(0, r2.upTo, 10, 0);
      expect(r3.records).toEqual([]);
      expect(await consumers()).toEqual(name);
      const again = await log.read(0, 0, 10, 0);
      expect(again.records.map((r) => r.items[0].messageId)).toEqual(['a', 'c']);
      await expect.poll(consumers).not.toEqual(name);
    } finally {
      await log.close();
    }
  });

  it('reads on when the server has lost the consumer', async () => {
    const prefix = newPrefix();
    const log = await openJetStreamLog({ url: NATS_URL, prefix, partitions: 4, timeoutMs: 500 });
    try {
      const [a, b] = await log.append([record(0, ['a']), record(0, ['b'])]);
      expect((await log.read(0, 0, 1, 0)).records.map((r) => r.position)).toEqual([a]);
      for (const c of await jsm.consumers.list(streamName(prefix)).next()) await jsm.consumers.delete(streamName(prefix), c.name);
      expect((await log.read(0, a, 10, 0)).records.map((r) => r.position)).toEqual([b]);
    } finally {
      await log.close();
    }
  });

  it('gives a record appended again a position of its own, never an earlier copy\'s (which may not be applied)', async () => {
    const log = await open(newPrefix());
    try {
      const [first] = await log.append([record(2, ['x', 'y'])]);
      // A retry after a lost PubAck, and two records of the same content in one call (requests whose items were all dropped).
      const [retry, same1, same2] = await log.append([record(2, ['x', 'y']), record(2, []), record(2, [])]);
      expect(retry).toBeGreaterThan(first);
      expect(same1).toBeGreaterThan(retry);
      expect(same2).toBeGreaterThan(same1);
      expect((await log.read(2, 0, 10, 0)).records.map((r) => r.position)).toEqual([first, retry, same1, same2]);
    } finally {
      await log.close();
    }
  });

  it('refuses an append whole when one record of it cannot be stored, deleting the ones it did store', async () => {
    const log = await open(newPrefix());
    try {
      const js = (log as unknown as { js: { publish: (...a: unknown[]) => Promise<unknown> } }).js;
      const publish = js.publish.bind(js);
      let n = 0;
      // The second record's publish fails, as a dropped connection or an unanswered PubAck would make it.
      js.publish = async (...a: unknown[]) => { if (++n === 2) throw Object.assign(new Error('timeout'), { code: 'TIMEOUT' }); return publish(...a); };
      await expect(log.append([record(0, ['a']), record(1, ['b']), record(2, ['c'])])).rejects.toThrow(/timeout/);
      js.publish = publish;
      for (const p of [0, 1, 2]) expect((await log.read(p, 0, 10, 0)).records, `partition ${p}`).toEqual([]);
      const [next] = await log.append([record(0, ['d'])]);
      expect((await log.read(0, 0, 10, 0)).records.map((r) => [r.position, r.items[0].messageId])).toEqual([[next, 'd']]);
    } finally {
      await log.close();
    }
  });

  it('does not count the records of a failed append at the end of the stream in its head, however many: readers waiting for it are not held up', async () => {
    const prefix = newPrefix();
    const log = await open(prefix);
    try {
      const [kept] = await log.append([record(0, ['kept'])]);
      // 40 records of an append that failed, deleted again as `append` does (more than a reader could look at one by one).
      const failed = await log.append(Array.from({ length: 40 }, (_, i) => record(i % 4, [`f${i}`])));
      for (const seq of failed) await jsm.streams.deleteMessage(streamName(prefix), seq, false);
      expect(await log.head()).toBe(kept);
      expect(await log.readAll(kept, 10, 0)).toEqual({ records: [], upTo: failed[failed.length - 1] });
      for (const p of [0, 1, 2, 3]) expect((await log.read(p, kept, 10, 0)).records).toEqual([]);
      // A record after the gap: the head is it again.
      const [after] = await log.append([record(1, ['after'])]);
      expect(await log.head()).toBe(after);
      expect((await log.readAll(kept, 10, 0)).records.map((r) => r.position)).toEqual([after]);
    } finally {
      await log.close();
    }
  });

  it('trims a partition up to a position and leaves the rest', async () => {
    const log = await open(newPrefix());
    try {
      const [a, , c] = await log.append([record(0, ['a']), record(1, ['b']), record(0, ['c']), record(0, ['d'])]);
      await log.trim(0, c);
      expect((await log.read(0, 0, 10, 0)).records.map((r) => r.items[0].messageId)).toEqual(['d']);
      expect((await log.read(1, 0, 10, 0)).records.map((r) => r.items[0].messageId)).toEqual(['b']);
      await log.trim(1, a);
      expect((await log.read(1, 0, 10, 0)).records).toHaveLength(1);
    } finally {
      await log.close();
    }
  });

  it('gzips a large record and reads it back whole; refuses one too large for NATS, appending nothing', async () => {
    const log = await open(newPrefix());
    try {
      const big = { ...record(1, []), items: Array.from({ length: 2000 }, (_, i) => item(`big-${i}`, { properties: { text: 'lorem ipsum '.repeat(20), i } })) };
      expect(JSON.stringify(big).length).toBeGreaterThan(600_000);
      const [pos] = await log.append([big]);
      const back = await log.read(1, 0, 10, 0);
      expect(back.records).toEqual([{ ...big, position: pos }]);

      const noise = { ...record(2, ['noise']), rejections: [{ index: 0, message: 'x', payload: randomBytes(1_200_000).toString('base64') }] };
      const err = await log.append([record(3, ['small']), noise]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('PAYLOAD_TOO_LARGE');
      expect(await log.head()).toBe(pos);
    } finally {
      await log.close();
    }
  });

  it('keeps its records across a close and a reopen', async () => {
    const prefix = newPrefix();
    const log = await open(prefix);
    const positions = await log.append([record(0, ['a']), record(3, ['b'])]);
    await log.close();
    const again = await open(prefix);
    try {
      expect(await again.head()).toBe(positions[1]);
      expect((await again.read(3, 0, 10, 0)).records.map((r) => r.position)).toEqual([positions[1]]);
    } finally {
      await again.close();
    }
  });

  it('refuses a bad prefix, and a stream made with another partition count', async () => {
    for (const prefix of ['', 'a.b', 'with space', 'star*', 'x'.repeat(65)]) {
      await expect(openJetStreamLog({ url: NATS_URL, prefix })).rejects.toThrow(/prefix must be 1-64 letters, digits/);
    }
    const prefix = newPrefix();
    await (await open(prefix, 4)).close();
    // Another count: the stream's count is named (not its subjects), and the count to start with.
    const count = await open(prefix, 8).catch((e: unknown) => e as Error);
    expect((count as Error).message).toBe(`the NATS stream ${streamName(prefix)} was made with 4 partitions, and this log has 8: profiles would go to other partitions than the records already written. `
      + 'Start with STRATA_PARTITIONS=4, or, to change the count, use another STRATA_NATS_PREFIX (a new stream) once every record of this one is applied');
    await expect(open(prefix, 2)).rejects.toThrow(/was made with 4 partitions, and this log has 2: .*STRATA_PARTITIONS=4/);
    // The same prefix in other letter case names the same stream, with other subjects: said so.
    await expect(open(prefix.toUpperCase(), 4)).rejects.toThrow(`was made for the prefix "${prefix}", which differs from this log's prefix "${prefix.toUpperCase()}" only in letter case`);
    // Subjects Strata does not make.
    const foreign = newPrefix();
    await jsm.streams.add({ name: streamName(foreign), subjects: [`${foreign}.other`] });
    await expect(open(foreign, 4)).rejects.toThrow(`the NATS stream ${streamName(foreign)} exists with subjects that are not a Strata event log's (${foreign}.other)`);
  });

  it('ties a stream to the database it was made for: another database is refused, a stream of an earlier version adopted only by a database that has applied nothing', async () => {
    const a = { id: 'storeA', applied: true }, b = { id: 'storeB', applied: false };
    const prefix = newPrefix();
    await (await openJetStreamLog({ url: NATS_URL, prefix, partitions: 4, owner: a })).close();
    expect((await jsm.streams.info(streamName(prefix))).config.description).toBe('Strata event log: 4 partitions; store storeA');
    await (await openJetStreamLog({ url: NATS_URL, prefix, partitions: 4, owner: a })).close();
    await expect(openJetStreamLog({ url: NATS_URL, prefix, partitions: 4, owner: b }))
      .rejects.toThrow(`the NATS stream ${streamName(prefix)} (STRATA_NATS_PREFIX "${prefix}") holds the event log of another database (store storeA; this one is storeB): two deployments on one NATS server need prefixes of their own; choose another STRATA_NATS_PREFIX`);
    // A stream that names no database (made by an earlier version).
    const old = newPrefix();
    await (await open(old)).close();
    expect((await jsm.streams.info(streamName(old))).config.description).toBe('Strata event log: 4 partitions');
    await expect(openJetStreamLog({ url: NATS_URL, prefix: old, partitions: 4, owner: a })).rejects.toThrow(/was made by an earlier version of Strata and names no database, and this database has already applied records/);
    await (await openJetStreamLog({ url: NATS_URL, prefix: old, partitions: 4, owner: b })).close();
    expect((await jsm.streams.info(streamName(old))).config.description).toBe('Strata event log: 4 partitions; store storeB');
    await expect(openJetStreamLog({ url: NATS_URL, prefix: old, partitions: 4, owner: { id: 'storeC', applied: false } })).rejects.toThrow(/holds the event log of another database \(store storeB; this one is storeC\)/);
  });

  it('refuses a record for a partition it does not have, and a read past its head (a stream made anew)', async () => {
    const log = await open(newPrefix(), 2);
    try {
      await expect(log.append([record(2, ['a'])])).rejects.toThrow(/partition must be a whole number from 0 to 1/);
      await expect(log.read(-1, 0, 10, 0)).rejects.toThrow(/partition/);
      const [a] = await log.append([record(1, ['a'])]);
      await expect(log.read(1, a + 5, 10, 0)).rejects.toThrow(/has not reached \(its last is 1\)/);
    } finally {
      await log.close();
    }
  });

  it('rejects an append as unavailable when NATS is down or not answering', async () => {
    expect(storeUnavailableReason(await openJetStreamLog({ url: 'nats://127.0.0.1:1' }).catch((e: unknown) => e))).toBe('NATS_CONNECTION');

    const prefix = newPrefix();
    const down = await natsRelay();
    const log = await openJetStreamLog({ url: down.url, prefix, partitions: 4, timeoutMs: 500 });
    await log.append([record(0, ['before'])]);
    await down.cut();
    const err = await log.append([record(0, ['after'])]).catch((e: unknown) => e);
    expect(['NATS_CONNECTION', 'NATS_TIMEOUT']).toContain(storeUnavailableReason(err));
    await log.close();

    const silent = await natsRelay();
    const log2 = await openJetStreamLog({ url: silent.url, prefix, partitions: 4, timeoutMs: 500 });
    silent.stall();
    const t = Date.now();
    expect(storeUnavailableReason(await log2.append([record(1, ['stalled'])]).catch((e: unknown) => e))).toBe('NATS_TIMEOUT');
    expect(Date.now() - t).toBeLessThan(3000);
    expect(storeUnavailableReason(await log2.read(1, 0, 10, 0).catch((e: unknown) => e))).toBe('NATS_TIMEOUT');
    // Closing while NATS still does not answer (a stop then): it does not wait for a drain that never ends.
    const closing = Date.now();
    await log2.close();
    expect(Date.now() - closing).toBeLessThan(8_000);
    await silent.cut();
  });
});
