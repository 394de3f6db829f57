import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appliedPositions, createStore, partitionOf, SqliteEventLog, type IngestItem, type LoggedRecord, type SqlStore } from '@strata/store';
import { IngestService } from './ingest-service.ts';
import { ingestCleanup } from './testing/ingest-cleanup.ts';
import { routingKey, routingKeys } from './ingest-records.ts';
import { LiveEngine } from './live-engine.ts';

/**
 * Ingest over a log of several partitions, applied by one process (docs/architecture.md § The
 * path of one event): records split by routing key, each partition's position recorded, a restart
 * that applies every partition's backlog merged in position order, and merges across partitions.
 */

const T0 = Date.UTC(2026, 0, 1);
const P = 4;
let seq = 0;
const item = (name: string, ids: Partial<Pick<IngestItem, 'userId' | 'anonymousId' | 'previousId' | 'type'>>, timestamp = T0 + ++seq): IngestItem => ({
  messageId: `${name}-${++seq}`, type: 'track', name, userId: null, anonymousId: null, previousId: null,
  properties: {}, context: {}, traits: null, timestamp, receivedAt: timestamp, ...ids,
});
const busy = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });

/** Ids whose partitions (of `P`) differ from `other`'s, or equal it. */
function idIn(prefix: string, other: string, same: boolean): string {
  for (let i = 0; ; i++) {
    const id = `${prefix}${i}`;
    if ((partitionOf(id, P) === partitionOf(other, P)) === same) return id;
  }
}

describe('IngestService over a log of several partitions', () => {
  const { dirs, open } = ingestCleanup();

  /** A file store and a log file of `partitions`, with a project, segments, and the service; `fail.next` makes the store's next transactions fail. */
  async function setup(partitions: number, dir = mkdtempSync(join(tmpdir(), 'strata-parts-'))) {
    if (!dirs.includes(dir)) dirs.push(dir);
    const store = await createStore({ kind: 'sqlite', dataDir: dir });
    const engine = new LiveEngine(store, { now: () => T0 + 3_600_000 });
    if (!(await store.getProject('p'))) {
      await store.createProject({ id: 'p', name: 'p', writeKey: 'wk_p', adminToken: 'at_p', now: T0 });
      await engine.write(async (tx) => {
        for (const [id, condition] of [['viewers', { event: 'view', cmp: { op: 'gte', value: 2 } }], ['keen', { event: 'view', cmp: { op: 'gte', value: 3 } }], ['buyers', { event: 'purchase', cmp: { op: 'gte', value: 1 } }]] as const) {
          await tx.insertSegment({ id, projectId: 'p', name: id, description: '', condition, template: null, params: null, createdAt: T0, updatedAt: T0 });
        }
        await engine.segmentsChanged(tx, 'p', ['viewers', 'keen', 'buyers'], T0);
      });
    }
    const fail = { next: 0 };
    const transaction = store.transaction.bind(store);
    store.transaction = (async (fn: never, opts?: never) => {
      if (fail.next > 0) { fail.next--; throw busy(); }
      return transaction(fn, opts);
    }) as typeof store.transaction;
    const log = new SqliteEventLog(join(dir, 'strata-log.db'), partitions);
    const service = new IngestService(engine, { sessionTimeoutMs: 1_800_000, log, backlogWaitMs: 200 });
    const o = { service, store };
    open.push(o);
    return { ...o, fail, dir, log };
  }

  async function close(o: { service: IngestService; store: SqlStore }) {
    await o.service.stop(0);
    await o.store.close();
    open.splice(open.indexOf(open.find((x) => x.store === o.store)!), 1);
  }

  /** Every record of every partition, in position order. */
  async function everything(log: SqliteEventLog): Promise<LoggedRecord[]> {
    const all: LoggedRecord[] = [];
    for (let p = 0; p < log.partitions; p++) all.push(...(await log.read(p, 0, 1000, 0)).records);
    return all.sort((a, b) => a.position - b.position);
  }

  /** Stored message ids in the order they were applied (events are numbered as they are written). */
  const applied = async (store: SqlStore) => (await store.db.selectFrom('events').select('message_id').where('project_id', '=', 'p')
    .where('message_id', 'is not', null).orderBy('id').execute()).map((e) => e.message_id!);

  it('splits a request into a record per run of consecutive items of one partition, rejections with the first; answers with the last position', async () => {
    const { service, log, fail } = await setup(P);
    await service.drain();
    fail.next = 1_000_000;
    const a = 'a0', b = idIn('b', a, false), c = idIn('c', a, true), d = idIn('d', a, false);
    const items = [
      item('view', { userId: a }), item('view', { anonymousId: b }), item('view', { userId: c }),
      // An identify goes by its userId; an alias that names only previousId goes by that.
      item('identify', { type: 'identify', userId: b, anonymousId: a }), item('alias', { type: 'alias', previousId: b }),
      item('view', { anonymousId: d }),
    ];
    // Items linked by their ids within the request (a and b, by the identify) go by the first userId among them.
    expect(routingKeys(items)).toEqual([a, a, c, a, a, d]);
    const rejection = { index: 5, message: 'bad', payload: '{}' };
    const ack = await service.submit('p', items, [rejection], T0);
    const logged = await everything(log);
    expect(logged.map((r) => r.position).at(-1)).toBe(ack.position);
    expect(service.acknowledged).toBe(ack.position);
    // After the items' records, a marker in the partition of each id that an item links from a record of another
    // partition: here the alias's previousId b, sent with a's items (an anonymousId linked with its userId is in a's partition).
    const records = logged.filter((r) => r.awaits === undefined);
    expect(logged.slice(records.length).map((r) => ({ partition: r.partition, items: r.items, awaits: r.awaits, links: r.links })))
      .toEqual([{ partition: partitionOf(b, P), items: [], awaits: [partitionOf(a, P)], links: [b] }]);
    expect(logged.every((r, i) => r.request === logged[0]!.request && (r.more ?? 0) === logged.length - 1 - i)).toBe(true);
    // A record per run of consecutive items of one partition, in the order sent.
    const want: [number, string[]][] = [];
    const keys = routingKeys(items);
    for (const [n, i] of items.entries()) {
      const p = partitionOf(keys[n]!, P);
      if (want.at(-1)?.[0] === p) want.at(-1)![1].push(i.messageId);
      else want.push([p, [i.messageId]]);
    }
    expect(records.map((r) => [r.partition, r.items.map((i) => i.messageId)])).toEqual(want);
    expect(records.flatMap((r) => r.items.map((i) => i.messageId))).toEqual(items.map((i) => i.messageId));
    expect(records.length).toBeGreaterThan(1);
    expect(records.map((r) => r.rejections)).toEqual(records.map((_, i) => (i === 0 ? [rejection] : [])));
    expect(routingKey(items[4]!)).toBe(b);
    // Nothing kept: one record of partition 0 with the refusals.
    const none = await service.submit('p', [], [rejection], T0);
    expect((await everything(log)).filter((r) => r.position === none.position)).toMatchObject([{ partition: 0, items: [], rejections: [rejection] }]);
  });

  it('records in the apply transaction each partition\'s last applied position', async () => {
    const { service, store, log, fail } = await setup(P);
    await service.drain();
    fail.next = 1_000_000;
    const ids = ['u0', idIn('u', 'u0', false), idIn('w', 'u0', false), idIn('x', 'u0', true)];
    for (const id of ids) await service.submit('p', [item('view', { userId: id }), item('view', { userId: ids[0] })], [], T0);
    const last = new Map<number, number>();
    for (const r of await everything(log)) last.set(r.partition, r.position);
    expect(last.size).toBe(3);
    expect(await appliedPositions(store)).toEqual(new Map());
    fail.next = 0;
    expect(await service.waitApplied(service.acknowledged, 5_000)).toBe(true);
    expect(await appliedPositions(store)).toEqual(last);
  });

  it('resolves submitApplied with the combined result of all the request\'s records', async () => {
    const { service } = await setup(P);
    const ids = ['u0', idIn('u', 'u0', false), idIn('w', 'u0', false)];
    const first = ids.map((id) => item('view', { userId: id }));
    expect(await service.submitApplied('p', first, [], T0)).toMatchObject({ stored: 3, duplicates: 0 });
    // Two of them again, in two partitions, with a new one.
    expect(await service.submitApplied('p', [first[0]!, item('view', { userId: ids[1] }), first[2]!], [], T0)).toMatchObject({ stored: 1, duplicates: 2 });
  });

  it('applies at a restart the unapplied records of all partitions, merged in position order, exactly once', async () => {
    const first = await setup(P);
    await first.service.drain();
    first.fail.next = 1_000_000;
    // Each record holds one item, so the order records are applied in is the order their events are stored in.
    const ids = ['r0', idIn('r', 'r0', false), idIn('s', 'r0', false), idIn('t', 'r0', true)];
    for (let n = 0; n < 6; n++) await first.service.submit('p', [item('view', { userId: ids[n % 4]! }), item('view', { userId: ids[(n + 1) % 4]! })].filter((x, i, all) => i === 0 || partitionOf(x.userId!, P) !== partitionOf(all[0]!.userId!, P)), [], T0);
    const acked = first.service.acknowledged;
    await close(first);
    const pending = await everything(new SqliteEventLog(join(first.dir, 'strata-log.db'), P));
    expect(new Set(pending.map((r) => r.partition)).size).toBe(3);
    const inOrder = pending.flatMap((r) => r.items.map((i) => i.messageId));

    const second = await setup(P, first.dir);
    await second.service.drain();
    expect(second.service.acknowledged).toBe(acked);
    expect(second.service.applied).toBe(acked);
    expect(await applied(second.store)).toEqual(inOrder);
    const positions = await appliedPositions(second.store);
    await close(second);

    // Applied once: a third start applies nothing again.
    const third = await setup(P, first.dir);
    await third.service.drain();
    expect(third.service.applied).toBe(acked);
    expect(await applied(third.store)).toEqual(inOrder);
    expect(await appliedPositions(third.store)).toEqual(positions);
  });

  it('refuses to read back a log of fewer partitions than the store recorded positions for, naming both counts', async () => {
    const first = await setup(P);
    const ids = ['q0', idIn('q', 'q0', false), idIn('z', 'q0', false)];
    await first.service.submitApplied('p', ids.map((id) => item('view', { userId: id })), [], T0);
    const most = Math.max(...(await appliedPositions(first.store)).keys());
    await close(first);
    const second = await setup(1, first.dir);
    const err = await second.service.submit('p', [item('view', { userId: 'q0' })], [], T0).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE', message: expect.stringContaining(`the event log has 1 partition, but the store has applied records of partition ${most}, so the log it was written from had at least ${most + 1} partitions`) });
    expect(second.service.acknowledged).toBe(0);
  });

  /**
   * Memberships, profiles and each profile's events, named by the profile's ids rather than its
   * number (the numbers follow the order profiles were made in).
   */
  async function snapshot(store: SqlStore) {
    const profiles = await store.scanProfiles('p', 0, 1000);
    const name = new Map(profiles.map((x) => [x.id, `${x.userId ?? ''}/${x.anonymousId ?? ''}`]));
    const events = await store.db.selectFrom('events').select(['profile_id', 'message_id', 'name', 'ts']).where('project_id', '=', 'p').execute();
    const history = await store.db.selectFrom('membership_history').select(['segment_id', 'profile_id', 'kind', 'at']).where('project_id', '=', 'p').execute();
    return {
      history: history.map((h) => `${h.segment_id}:${name.get(Number(h.profile_id))} ${h.kind} ${h.at}`).sort(),
      memberships: (await store.allMemberships('p')).map((m) => `${m.segmentId}:${name.get(m.profileId)}`).sort(),
      profiles: profiles.map((x) => ({ ids: name.get(x.id), traits: x.traits, firstSeen: x.firstSeen, lastSeen: x.lastSeen })).sort((a, b) => a.ids!.localeCompare(b.ids!)),
      events: events.map((e) => `${name.get(Number(e.profile_id))} ${e.name} ${e.message_id ?? ''} ${e.ts}`).sort(),
    };
  }

  it('gives an anonymous visitor who identifies, the two ids in different partitions, the memberships and profile of one partition', async () => {
    const A = 'anon0', U = idIn('user', A, false), B = idIn('anonb', A, true), U2 = idIn('v', B, false), C = idIn('anonc', A, false);
    expect(partitionOf(U, P)).not.toBe(partitionOf(A, P));
    const requests: IngestItem[][] = [
      [item('view', { anonymousId: A }), item('view', { anonymousId: A })],
      [item('identify', { type: 'identify', userId: U, anonymousId: A })],
      [item('purchase', { userId: U }), item('view', { userId: U })],
      // All in one request, the two ids' items interleaved.
      [item('view', { anonymousId: B }), item('identify', { type: 'identify', userId: U2, anonymousId: B }), item('view', { anonymousId: B }), item('view', { userId: U2 })],
      [item('view', { anonymousId: C }), item('view', { anonymousId: C })],
    ];
    const run = async (partitions: number, restart: boolean) => {
      let o = await setup(partitions);
      if (restart) {
        await o.service.drain();
        o.fail.next = 1_000_000;
      }
      for (const r of requests) await o.service.submit('p', r, [], T0);
      if (restart) {
        await close(o);
        o = await setup(partitions, o.dir);
      }
      await o.service.drain();
      return snapshot(o.store);
    };
    const one = await run(1, false);
    expect(one.memberships).toEqual([`buyers:${U}/${A}`, `keen:${U2}/${B}`, `keen:${U}/${A}`, `viewers:/${C}`, `viewers:${U2}/${B}`, `viewers:${U}/${A}`].sort());
    expect(await run(P, false)).toEqual(one);
    // Read back at a restart, records are applied at the instants they were received (entries are dated so): compared with one partition read back the same way.
    const oneBack = await run(1, true);
    expect(oneBack.memberships).toEqual(one.memberships);
    expect(await run(P, true)).toEqual(oneBack);
  });

  it('applies a request split by partition as one step: two profiles merged by its identify enter a segment once, as on one partition', async () => {
    const A = 'anon0', U = idIn('user', A, false);
    // A userId and an anonymous id seen apart (each enough for "viewers"), then linked, in one request: five records, one step.
    const request = [item('view', { userId: U }), item('view', { anonymousId: A }), item('view', { userId: U }), item('view', { anonymousId: A }),
      item('identify', { type: 'identify', userId: U, anonymousId: A })];
    const run = async (partitions: number) => {
      const o = await setup(partitions);
      const ack = await o.service.submitApplied('p', request, [], T0);
      const result = await snapshot(o.store);
      await close(o);
      return { ack: { stored: ack.stored, duplicates: ack.duplicates }, ...result };
    };
    const one = await run(1);
    expect(one.ack).toEqual({ stored: 5, duplicates: 0 });
    expect(one.history.filter((h) => h.startsWith('viewers:'))).toEqual([expect.stringMatching(new RegExp(`^viewers:${U}/${A} entered \\d+$`))]);
    expect(await run(P)).toEqual(one);
    // Acknowledged while the store fails, then read back from the log at the next start: one step too.
    const back = async (partitions: number) => {
      let o = await setup(partitions);
      await o.service.drain();
      o.fail.next = 1_000_000;
      await o.service.submit('p', request, [], T0);
      await close(o);
      o = await setup(partitions, o.dir);
      await o.service.drain();
      return snapshot(o.store);
    };
    const oneBack = await back(1);
    expect(oneBack.history.filter((h) => h.startsWith('viewers:'))).toHaveLength(1);
    expect(await back(P)).toEqual(oneBack);
  });

  it('applies the retry of a request written to the log but not acknowledged (a lost PubAck), once, also after a restart', async () => {
    let o = await setup(P);
    const append = o.log.append.bind(o.log);
    let lose = true;
    o.log.append = async (records) => {
      const positions = await append(records);
      if (lose) { lose = false; throw Object.assign(new Error('timeout'), { code: 'TIMEOUT' }); }
      return positions;
    };
    const ids = ['d0', idIn('d', 'd0', false)];
    const request = ids.map((id) => item('view', { userId: id }));
    await expect(o.service.submit('p', request, [], T0)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    const retry = await o.service.submitApplied('p', request, [], T0);
    expect(retry).toMatchObject({ stored: 2, duplicates: 0 });
    await close(o);
    o = await setup(P, o.dir);
    await o.service.drain();
    expect((await applied(o.store)).sort()).toEqual(request.map((i) => i.messageId).sort());
  });

  it('keeps a request\'s order across partitions: an anonymous id\'s identify after the one linking it to a userId wins, as on one partition', async () => {
    const A = 'anon0', U = idIn('user', A, false);
    // Sent without timestamps: all three are dated when the request was received.
    const request = [
      item('identify', { type: 'identify', anonymousId: A }, T0),
      item('identify', { type: 'identify', userId: U, anonymousId: A }, T0),
      item('identify', { type: 'identify', anonymousId: A }, T0),
    ];
    const traits = [{ plan: 'pro' }, { plan: 'free' }, { plan: 'pro' }];
    request.forEach((r, i) => Object.assign(r, { traits: traits[i] }));
    const run = async (partitions: number) => {
      const o = await setup(partitions);
      await o.service.submitApplied('p', request, [], T0);
      const result = await snapshot(o.store);
      await close(o);
      return result;
    };
    const one = await run(1);
    expect(one.profiles).toMatchObject([{ ids: `${U}/${A}`, traits: { plan: 'pro' } }]);
    expect(await run(P)).toEqual(one);
  });

  it('gives the result of one partition for random interleavings of visitors, identifies and events over 16 partitions', async () => {
    // A seeded generator: a failure is reproduced by its seed.
    let state = 0x5eed;
    const rand = (n: number) => { state = (Math.imul(state, 1103515245) + 12345) >>> 0; return (state >>> 8) % n; };
    for (let round = 0; round < 8; round++) {
      const requests: IngestItem[][] = [];
      for (let r = 0; r < 4; r++) {
        const request: IngestItem[] = [];
        for (let k = 1 + rand(6); k > 0; k--) {
          const a = `anon${rand(4)}`, u = `user${rand(3)}`;
          const shape = rand(5);
          // Sent without timestamps: a request's items share its time, and are ordered as they were sent.
          const at = T0 + 1000 * r;
          const it = shape === 0 ? item('identify', { type: 'identify', userId: u, anonymousId: a }, at)
            : shape <= 2 ? item('identify', { type: 'identify', anonymousId: a }, at)
              : item(rand(3) ? 'view' : 'purchase', rand(2) ? { anonymousId: a } : { userId: u }, at);
          if (it.type === 'identify') Object.assign(it, { traits: { plan: `p${rand(3)}`, round } });
          request.push(it);
        }
        requests.push(request);
      }
      const run = async (partitions: number) => {
        const o = await setup(partitions);
        for (const r of requests) await o.service.submit('p', r, [], T0);
        await o.service.drain();
        const result = await snapshot(o.store);
        await close(o);
        return result;
      };
      // A request split into runs is applied as one step, as on one partition: the steps in
      // between are the same too — every membership entry and exit, and its `$segment_…` event.
      const one = await run(1);
      expect({ round, ...(await run(16)) }).toEqual({ round, ...one });
    }
  }, 60_000);
});
