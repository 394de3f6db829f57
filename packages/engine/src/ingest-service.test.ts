import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appliedPositions, createStore, openEventLog, SqliteEventLog, type IngestItem, type SqlStore } from '@strata/store';
import { applyRecords } from './ingest-apply.ts';
import { IngestService, ingestSteps } from './ingest-service.ts';
import { ingestCleanup } from './testing/ingest-cleanup.ts';
import { LiveEngine } from './live-engine.ts';

const item = (name: string, timestamp: number, ids: Partial<Pick<IngestItem, 'userId' | 'anonymousId' | 'previousId'>> = {}): IngestItem => ({
  messageId: `${name}-${timestamp}`, type: 'track', name, userId: 'u1', anonymousId: null, previousId: null,
  properties: {}, context: {}, traits: null, timestamp, receivedAt: 1000, ...ids,
});
const names = (steps: (readonly IngestItem[])[]) => steps.map((s) => s.map((i) => i.name));
const purchases = (i: IngestItem) => i.name === 'purchase';

describe('ingestSteps', () => {
  it('keeps a request whole when nothing must be applied alone', () => {
    const items = [item('view', 3), item('add_to_cart', 1)];
    expect(ingestSteps(items, null)).toEqual([items]);
    expect(ingestSteps(items, purchases)).toEqual([items]);
    expect(ingestSteps([item('purchase', 1)], purchases)).toEqual([[item('purchase', 1)]]);
  });

  it('applies in time order, each picked item alone, the items between them together', () => {
    const items = [item('purchase', 5), item('view', 1), item('add_to_cart', 2), item('purchase', 3), item('view', 6), item('view', 7)];
    expect(names(ingestSteps(items, purchases))).toEqual([['view', 'add_to_cart'], ['purchase'], ['purchase'], ['view', 'view']]);
    expect(ingestSteps(items, purchases).map((s) => s.map((i) => i.timestamp))).toEqual([[1, 2], [3], [5], [6, 7]]);
  });

  it('breaks ties in time by the order sent', () => {
    const items = [item('add_to_cart', 1), item('purchase', 1), item('view', 1)];
    expect(names(ingestSteps(items, purchases))).toEqual([['add_to_cart'], ['purchase'], ['view']]);
  });

  it('lets different people share steps: the k-th step of each is one step', () => {
    const items = [
      item('purchase', 1, { userId: 'a' }), item('view', 2, { userId: 'a' }), item('purchase', 3, { userId: 'a' }),
      item('view', 1, { userId: 'b' }), item('purchase', 2, { userId: 'b' }),
    ];
    expect(ingestSteps(items, purchases).map((s) => s.map((i) => `${i.userId}:${i.name}@${i.timestamp}`))).toEqual([
      ['a:purchase@1', 'b:view@1'], ['a:view@2', 'b:purchase@2'], ['a:purchase@3'],
    ]);
  });

  it('treats items linked by a shared id as one person (an anonymous visitor who identifies)', () => {
    const items = [
      item('purchase', 1, { userId: null, anonymousId: 'anon' }),
      item('identify', 2, { userId: 'u9', anonymousId: 'anon' }),
      item('purchase', 3, { userId: 'u9' }),
      item('purchase', 1, { userId: 'other' }),
    ];
    expect(ingestSteps(items, purchases).map((s) => s.map((i) => `${i.userId ?? i.anonymousId}:${i.name}`))).toEqual([
      ['anon:purchase', 'other:purchase'], ['u9:identify'], ['u9:purchase'],
    ]);
  });
});

const T0 = Date.UTC(2026, 0, 1);
const busy = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });

describe('IngestService: the log, then the worker', () => {
  const { dirs, open } = ingestCleanup();

  /** A file store with its log, a project, an engine and the service over them; `failing` makes the store's next transactions fail. */
  async function setup(dir = mkdtempSync(join(tmpdir(), 'strata-ingest-'))) {
    if (!dirs.includes(dir)) dirs.push(dir);
    const store = await createStore({ kind: 'sqlite', dataDir: dir });
    if (!(await store.getProject('p'))) await store.createProject({ id: 'p', name: 'p', writeKey: 'wk_p', adminToken: 'at_p', now: T0 });
    const engine = new LiveEngine(store, { now: () => T0 + 60_000 });
    const fail = { next: 0, err: busy() as Error };
    const transaction = store.transaction.bind(store);
    store.transaction = (async (fn: never, opts?: never) => {
      if (fail.next > 0) { fail.next--; throw fail.err; }
      return transaction(fn, opts);
    }) as typeof store.transaction;
    const log = openEventLog(store);
    const service = new IngestService(engine, { sessionTimeoutMs: 1_800_000, log, backlogWaitMs: 200 });
    const o = { service, store };
    open.push(o);
    return { ...o, engine, fail, dir, log };
  }
  const stored = async (store: SqlStore) => (await store.db.selectFrom('events').select('message_id').where('project_id', '=', 'p').where('message_id', 'is not', null).execute()).map((e) => e.message_id).sort();

  it('acknowledges with increasing positions, applies in order, and says how far it applied', async () => {
    const { service, store } = await setup();
    const a = await service.submit('p', [item('e1', T0)], [], T0);
    const b = await service.submit('p', [item('e2', T0 + 1)], [], T0);
    expect(b.position).toBeGreaterThan(a.position);
    expect(service.acknowledged).toBe(b.position);
    expect(await service.waitApplied(b.position, 5_000)).toBe(true);
    expect(service.applied).toBe(b.position);
    expect(await stored(store)).toEqual(['e1-' + T0, 'e2-' + (T0 + 1)]);
    // A second submit of the same messageId is acknowledged and dropped when applied.
    expect(await service.submitApplied('p', [item('e1', T0)], [], T0)).toMatchObject({ stored: 0, duplicates: 1 });
  });

  it('acknowledges while the store cannot write, and applies once it can, exactly once', async () => {
    const { service, store, fail } = await setup();
    await service.drain();
    fail.next = 3;
    const acks = await Promise.all([1, 2, 3].map((n) => service.submit('p', [item(`e${n}`, T0 + n)], [], T0)));
    const last = Math.max(...acks.map((a) => a.position));
    expect(await service.waitApplied(last, 5_000)).toBe(true);
    expect(fail.next).toBe(0);
    expect(service.stalled).toBeNull();
    expect(await stored(store)).toEqual([1, 2, 3].map((n) => `e${n}-${T0 + n}`));
  });

  it('answers STORE_UNAVAILABLE and acknowledges nothing when the log cannot take the events', async () => {
    const { store } = await setup();
    const engine = new LiveEngine(store, { now: () => T0 });
    const log = new SqliteEventLog(join(mkdtempSync(join(tmpdir(), 'strata-nolog-')), 'no', 'such', 'dir', 'log.db'));
    const service = new IngestService(engine, { sessionTimeoutMs: 1_800_000, log });
    const out = await Promise.allSettled([1, 2].map((n) => service.submit('p', [item(`e${n}`, T0)], [], T0)));
    for (const r of out) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'STORE_UNAVAILABLE', message: expect.stringMatching(/event log cannot be read back \(event log: .*\).*send the events again/) });
    expect(service.acknowledged).toBe(0);
    expect(service.totals).toMatchObject({ accepted: 0, failed: 2 });
    await service.stop(0);
  });

  it('sets aside a record that fails alone with a fault of Strata\'s, as ingestion warnings, and applies the others', async () => {
    const { service, store, fail } = await setup();
    const ingest = store.transaction.bind(store);
    // The record holding "poison" fails whenever it is applied; the others go through.
    store.transaction = (async (fn: (tx: SqlStore) => Promise<unknown>) => ingest(async (tx) => {
      const inner = tx.ingest.bind(tx);
      tx.ingest = async (projectId, items, timeout) => {
        if (items.some((i) => i.name === 'poison')) throw new TypeError('a bug');
        return inner(projectId, items, timeout);
      };
      return fn(tx);
    })) as typeof store.transaction;
    void fail;
    const acks = await Promise.all([item('ok1', T0), item('poison', T0 + 1), item('ok2', T0 + 2)].map((i) => service.submit('p', [i], [], T0)));
    expect(await service.waitApplied(Math.max(...acks.map((a) => a.position)), 5_000)).toBe(true);
    expect(await stored(store)).toEqual([`ok1-${T0}`, `ok2-${T0 + 2}`]);
    const warnings = await store.listRejections('p', 10);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toMatch(/acknowledged but could not be applied: a bug/);
    expect(JSON.parse(warnings[0]!.payload)).toMatchObject({ name: 'poison', messageId: `poison-${T0 + 1}` });
    expect(service.totals.setAside).toBe(1);
  });

  it('writes the clock once per apply transaction, at the last record\'s instant, and every partition\'s position', async () => {
    const { service, store, engine } = await setup();
    await service.drain();
    const transaction = store.transaction.bind(store);
    let clockWrites = 0;
    store.transaction = (async (fn: (tx: SqlStore) => Promise<unknown>, opts?: never) => transaction(async (tx) => {
      const write = tx.setEngineClock.bind(tx);
      tx.setEngineClock = async (projectId, clock) => { clockWrites++; return write(projectId, clock); };
      return fn(tx);
    }, opts)) as typeof store.transaction;
    // Three records of two partitions, received after the engine's clock (T0 + 1 min), the last not the latest.
    const record = (position: number, partition: number, receivedAt: number, name: string) =>
      ({ position, partition, projectId: 'p', receivedAt, items: [{ ...item(name, receivedAt), receivedAt, userId: `u-${name}` }], rejections: [] });
    await applyRecords({ engine, sessionTimeoutMs: 1_800_000, listeners: [], isolation: null }, [
      record(101, 0, T0 + 70_000, 'a'), record(102, 3, T0 + 90_000, 'b'), record(103, 0, T0 + 80_000, 'c'),
    ]);
    expect(clockWrites).toBe(1);
    expect(await store.engineClock('p')).toBe(T0 + 90_000);
    expect(await appliedPositions(store)).toEqual(new Map([[0, 103], [3, 102]]));
    expect((await stored(store)).length).toBe(3);
  });

  it('drops a messageId stored before the transaction or by an earlier record of it, its ids read once', async () => {
    const { service, store, engine } = await setup();
    await service.drain();
    await service.submitApplied('p', [item('before', T0)], [], T0);
    const transaction = store.transaction.bind(store);
    const asked: number[] = [];
    store.transaction = (async (fn: (tx: SqlStore) => Promise<unknown>, opts?: never) => transaction(async (tx) => {
      const expect = tx.expectMessageIds.bind(tx);
      tx.expectMessageIds = async (projectId, ids) => { asked.push([...ids].length); return expect(projectId, ids); };
      return fn(tx);
    }, opts)) as typeof store.transaction;
    const at = T0 + 70_000;
    const record = (position: number, partition: number, items: IngestItem[]) => ({ position, partition, projectId: 'p', receivedAt: at, items, rejections: [] });
    const results = await applyRecords({ engine, sessionTimeoutMs: 1_800_000, listeners: [], isolation: null }, [
      record(201, 0, [item('a', at), item('b', at, { userId: 'u2' })]),
      record(202, 1, [item('a', at), item('c', at + 1, { userId: 'u3' }), item('c', at + 1, { userId: 'u3' })]),
      record(203, 2, [item('before', T0, { userId: 'u4' }), item('d', at + 2, { userId: 'u4' })]),
    ]);
    expect(results).toEqual([{ stored: 2, duplicates: 0 }, { stored: 1, duplicates: 2 }, { stored: 1, duplicates: 1 }]);
    expect(asked).toEqual([7]);
    expect(await stored(store)).toEqual([`a-${at}`, `b-${at}`, `before-${T0}`, `c-${at + 1}`, `d-${at + 2}`]);
  });

  it('applies at the next start what was acknowledged and not applied (kept in the log file)', async () => {
    const first = await setup();
    await first.service.drain();
    first.fail.next = 1_000;
    const ack = await first.service.submit('p', [item('late', T0)], [], T0);
    await first.service.stop(0);
    await first.store.close();
    open.splice(open.findIndex((o) => o.store === first.store), 1);
    expect(await new SqliteEventLog(join(first.dir, 'strata-log.db')).read(0, 0, 10, 0).then((r) => r.records.map((x) => x.position))).toEqual([ack.position]);

    const second = await setup(first.dir);
    await second.service.drain();
    expect(await second.service.waitApplied(ack.position, 5_000)).toBe(true);
    expect(second.service.acknowledged).toBe(ack.position);
    expect(await stored(second.store)).toEqual([`late-${T0}`]);
    // Applied once: a third start applies nothing again.
    await second.service.stop();
    await second.store.close();
    open.splice(open.findIndex((o) => o.store === second.store), 1);
    const third = await setup(first.dir);
    await third.service.drain();
    expect(third.service.applied).toBe(ack.position);
    expect(await stored(third.store)).toEqual([`late-${T0}`]);
  });

  it('keeps applied records in the log until the store has synced their commits to disk', async () => {
    const { service, store, log } = await setup();
    // The worker's commits are not fsynced (deferSync); the log is their durable copy until syncCommitted.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const sync = store.syncCommitted.bind(store);
    let syncs = 0;
    store.syncCommitted = async () => { syncs++; await gate; await sync(); };
    const ack = await service.submit('p', [item('e1', T0)], [], T0);
    expect(await service.waitApplied(ack.position, 5_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(syncs).toBe(1);
    expect((await log.read(0, 0, 10, 0)).records.map((r) => r.position)).toEqual([ack.position]);
    release();
    for (let i = 0; i < 100 && (await log.read(0, 0, 10, 0)).records.length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await log.read(0, 0, 10, 0)).records).toEqual([]);
  });

  it('refuses new requests with BACKLOGGED once the backlog stays full, naming why', async () => {
    const { store } = await setup();
    const engine = new LiveEngine(store, { now: () => T0 });
    const transaction = store.transaction.bind(store);
    let down = true;
    store.transaction = (async (fn: never) => { if (down) throw busy(); return transaction(fn); }) as typeof store.transaction;
    const service = new IngestService(engine, { sessionTimeoutMs: 1_800_000, log: openEventLog(store), maxBacklog: 2, backlogWaitMs: 100 });
    down = false;
    await service.drain();
    down = true;
    await service.submit('p', [item('a', T0), item('b', T0)], [], T0);
    await expect(service.submit('p', [item('c', T0)], [], T0)).rejects.toMatchObject({ code: 'BACKLOGGED', message: expect.stringMatching(/2 acknowledged messages wait to be applied \(the store is unavailable \(SQLITE_BUSY\)\)/) });
    down = false;
    expect((await service.submit('p', [item('c', T0)], [], T0)).position).toBeGreaterThan(0);
    await service.drain();
    expect(service.backlogItems).toBe(0);
    await service.stop(0);
  });
});
