import { afterAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { Json } from '@strata/core';
import { createStore, openJetStreamLog, PartitionTaken, partitionOf, postgresReachable, readableEverywhere, recordSegmentChange, segmentChangesApplied, type EventLog, type IngestItem, type SqlStore } from '@strata/store';
import { deleteEventStreams, NATS_URL, natsUnavailable, openTestSqlite, TEST_PG_URL, testPrefixes, withTestPgSchema } from '@strata/store/testing';
import { followDefinitions, type DefinitionFollower } from './definition-follower.ts';
import { applyRecords } from './ingest-apply.ts';
import { recordsOf } from './ingest-records.ts';
import { LiveEngine } from './live-engine.ts';
import { homePartition } from './partition-route.ts';
import { ownedProfiles, PartitionWorker, type PartitionWorkerOptions } from './partition-worker.ts';

/**
 * Partition workers (docs/scale-out.md § Workers) on a real NATS JetStream and a real PostgreSQL:
 * two workers, each owning half of a log's partitions over one database, end with what one worker
 * owning every partition ends with, and each holds only the profiles of its partitions. Skipped,
 * saying why, without either server (two engines writing one database need a server).
 */

const natsDown = await natsUnavailable();
const pgDown = (await postgresReachable(TEST_PG_URL)) ? null : `no PostgreSQL server at ${TEST_PG_URL}`;
const why = natsDown ?? pgDown;
if (why !== null) console.warn(`skipping the partition worker tests: ${why}`);

const P = 4;
const T0 = Date.UTC(2026, 0, 1);
const NOW = T0 + 3_600_000;
const prefixes = testPrefixes('pw');
const SEGMENTS: [string, Json][] = [
  ['viewers', { event: 'view', cmp: { op: 'gte', value: 2 } }],
  ['keen', { event: 'view', cmp: { op: 'gte', value: 4 } }],
  ['buyers', { event: 'purchase', cmp: { op: 'gte', value: 1 } }],
  ['known', { attr: 'traits.plan', op: 'exists' }],
  // Not monotone: entered by an anonymous visitor's view, left when they identify — so the order of a visitor's views and identify shows.
  ['anonymous viewers', { all: [{ event: 'view', cmp: { op: 'gte', value: 1 } }, { not: { attr: 'userId', op: 'exists' } }] }],
];

let seq = 0;
const item = (name: string, ids: Partial<Pick<IngestItem, 'userId' | 'anonymousId' | 'previousId' | 'type' | 'traits'>>): IngestItem => {
  const at = T0 + ++seq;
  return { messageId: `m-${seq}`, type: 'track', name, userId: null, anonymousId: null, previousId: null, properties: {}, context: {}, traits: null, timestamp: at, receivedAt: at, ...ids };
};

/**
 * Requests of: anonymous visitors who then identify (anonymous and known ids mostly in different
 * partitions, so the known id's worker takes the anonymous profile over); known users; anonymous
 * visitors who never identify; users who identify first, then send an event with only their old
 * anonymous id (forwarded to their profile's partition) and one from a second device (its
 * anonymous id gets its first key in the known id's partition); and users renamed by an alias.
 */
function requests(users: number, from: number): IngestItem[][] {
  const out: IngestItem[][] = [];
  const late: IngestItem[][] = [];
  for (let u = from; u < from + users; u++) {
    const userId = `u${u}`, anon = `anon-${u}`;
    const views = u % 6;
    const req: IngestItem[] = [];
    switch (u % 5) {
      case 0:
        for (let i = 0; i < views; i++) req.push(item('view', { anonymousId: anon }));
        // Half identify in the same request, half in a later one.
        const identify = item('identify', { type: 'identify', userId, anonymousId: anon, traits: { plan: 'pro' } });
        if (u % 10 === 0) req.push(identify);
        else late.push([identify]);
        break;
      case 1:
        for (let i = 0; i < views; i++) req.push(item('view', { userId }));
        if (u % 4 === 1) req.push(item('purchase', { userId }));
        break;
      case 2:
        for (let i = 0; i < views; i++) req.push(item('view', { anonymousId: `visitor-${u}` }));
        break;
      case 3:
        req.push(item('identify', { type: 'identify', userId, anonymousId: anon }));
        late.push([item('view', { anonymousId: anon }), item('view', { anonymousId: anon })]);
        late.push([item('purchase', { userId, anonymousId: `second-device-${u}` }), item('view', { anonymousId: `second-device-${u}` })]);
        break;
      default:
        for (let i = 0; i < views; i++) req.push(item('view', { userId: `old-${u}` }));
        late.push([item('alias', { type: 'alias', userId, previousId: `old-${u}` }), item('view', { userId })]);
    }
    if (req.length) out.push(req);
  }
  return [...out, ...late];
}

async function project(store: SqlStore, engine: LiveEngine): Promise<void> {
  await store.createProject({ id: 'p', name: 'p', writeKey: `wk_${Math.random()}`, adminToken: `at_${Math.random()}`, now: T0 });
  await engine.write(async (tx) => {
    for (const [id, condition] of SEGMENTS) await tx.insertSegment({ id, projectId: 'p', name: id, description: '', condition, template: null, params: null, createdAt: T0, updatedAt: T0 });
    await engine.segmentsChanged(tx, 'p', SEGMENTS.map(([id]) => id), T0);
  });
}

async function append(log: EventLog, reqs: readonly IngestItem[][]): Promise<void> {
  for (const items of reqs) await log.append(recordsOf('p', log.partitions, items[0]!.receivedAt, items, []));
}

/** What a deployment ended with, by user (not by profile id: the two databases number profiles apart). */
async function outcome(store: SqlStore) {
  const who = (r: { user_id: string | null; anonymous_id: string | null }) => r.user_id ?? r.anonymous_id ?? '';
  const members = await store.db.selectFrom('memberships').innerJoin('profiles', 'profiles.id', 'memberships.profile_id')
    .select(['memberships.segment_id', 'profiles.user_id', 'profiles.anonymous_id']).where('memberships.project_id', '=', 'p').execute();
  const history = await store.db.selectFrom('membership_history').select(['segment_id', 'kind']).select((eb) => eb.fn.countAll<number>().as('n'))
    .where('project_id', '=', 'p').groupBy(['segment_id', 'kind']).execute();
  const events = await store.db.selectFrom('events').select('message_id').where('project_id', '=', 'p').where('derived', '=', false as never).execute();
  const profiles = await store.db.selectFrom('profiles').select(['user_id', 'anonymous_id']).where('project_id', '=', 'p').execute();
  return {
    members: members.map((m) => `${m.segment_id} ${who(m)}`).sort(),
    history: history.map((h) => `${h.segment_id} ${h.kind} ${Number(h.n)}`).sort(),
    events: events.map((e) => e.message_id).sort(),
    profiles: profiles.map(who).sort(),
  };
}

const logs: EventLog[] = [];
afterAll(async () => {
  for (const l of logs) await l.close().catch(() => undefined);
  await deleteEventStreams(prefixes.used);
});

/** A log of its own on NATS and a store over the PostgreSQL schema at `url`. */
async function deployment(url: string) {
  const log = await openJetStreamLog({ url: NATS_URL, prefix: prefixes.next(), partitions: P });
  logs.push(log);
  const store = await createStore({ kind: 'postgres', url });
  return { log, store };
}

/** A deployment where one worker owning every partition has applied `reqs`: what the others are compared with. */
async function oneWorker(url: string, reqs: readonly IngestItem[][]) {
  const d = await deployment(url);
  const all = worker(d.store, d.log, [0, 1, 2, 3]);
  await project(d.store, all.engine);
  await append(d.log, reqs);
  await all.worker.start();
  await all.worker.drain(90_000);
  await all.worker.stop();
  return d;
}

function worker(store: SqlStore, log: EventLog, owned: number[], claim: Pick<PartitionWorkerOptions, 'owner' | 'onTaken'> = {}) {
  const engine = new LiveEngine(store, { now: () => NOW }, [], { owns: ownedProfiles(new Set(owned), P) });
  return { engine, worker: new PartitionWorker({ engine, sessionTimeoutMs: 1_800_000, listeners: [], isolation: null }, log, store, { owned, batchItems: 300, ...claim }) };
}

/** Runs workers until neither forwards anything more to the other, then stops them. */
async function finish(log: EventLog, workers: readonly PartitionWorker[]): Promise<void> {
  for (let head = -1; head !== (await log.head());) {
    head = await log.head();
    await Promise.all(workers.map((w) => w.drain(90_000)));
  }
  await Promise.all(workers.map((w) => w.stop()));
}

describe.skipIf(why !== null)('partition workers over one PostgreSQL database', () => {

  it('two workers owning half the partitions each end as one worker owning all, each holding only its profiles, across a restart', async () => {
    await withTestPgSchema('pw_one', async (one) => withTestPgSchema('pw_two', async (two) => {
      const first = requests(240, 0), second = requests(120, 240);

      const single = await oneWorker(one.url, [...first, ...second]);

      // Two workers over one database, the second replaced by a new one half way.
      const pair = await deployment(two.url);
      const secondStore = await createStore({ kind: 'postgres', url: two.url });
      const a = worker(pair.store, pair.log, [0, 1]);
      let b = worker(secondStore, pair.log, [2, 3]);
      await project(pair.store, a.engine);
      await append(pair.log, first);
      // The first worker starts alone, and runs until it stops getting further: the records of its
      // partitions that write in the other's (a visitor's identify, sent after their views) wait for them.
      await a.worker.start();
      for (let last = '', until = Date.now() + 15_000; Date.now() < until;) {
        await new Promise((r) => setTimeout(r, 300));
        const now = JSON.stringify([...a.worker.applied]);
        if (now === last) break;
        last = now;
      }
      expect(a.worker.counts.waits).toBeGreaterThan(0);
      expect(Math.max(...a.worker.applied.values())).toBeLessThan(await pair.log.head());
      await b.worker.start();
      await Promise.all([a.worker.drain(90_000), b.worker.drain(90_000)]);
      await b.worker.stop();
      await append(pair.log, second);
      b = worker(secondStore, pair.log, [2, 3]);
      await b.worker.start();
      await finish(pair.log, [a.worker, b.worker]);

      try {
        const expected = await outcome(single.store);
        expect(expected.events.length).toBe([...first, ...second].flat().length);
        expect(expected.members.length).toBeGreaterThan(100);
        expect(await outcome(pair.store)).toEqual(expected);
        // Profiles were taken over across partitions, and items forwarded, both ways.
        for (const w of [a.worker, b.worker]) expect(w.counts.adopted * w.counts.forwarded).toBeGreaterThan(0);
        // Nothing set aside: transactions of the two workers that ran into each other were run again.
        expect(await pair.store.listRejections('p', 10)).toEqual([]);

        // Each engine holds exactly the profiles whose home partition its worker owns, once its next transaction has begun (where it hears of profiles taken over from it).
        for (const e of [a.engine, b.engine]) await e.write(async () => undefined);
        const profiles = await pair.store.db.selectFrom('profiles').select(['id', 'user_id', 'anonymous_id']).where('project_id', '=', 'p').execute();
        for (const [engine, owned] of [[a.engine, [0, 1]], [b.engine, [2, 3]]] as const) {
          const held = profiles.filter((r) => engine.record('p', Number(r.id)) !== undefined).length;
          const home = profiles.filter((r) => (owned as readonly number[]).includes(homePartition({ userId: r.user_id, anonymousId: r.anonymous_id }, P))).length;
          expect(held).toBe(home);
          // What the engine holds of each is what the store has.
          for (const r of profiles.filter((x) => engine.record('p', Number(x.id)) !== undefined)) {
            const stored = await pair.store.db.selectFrom('memberships').select('segment_id').where('project_id', '=', 'p').where('profile_id', '=', r.id).execute();
            expect(engine.segmentsOf('p', Number(r.id)).sort()).toEqual(stored.map((m) => m.segment_id).sort());
          }
          expect(held).toBeGreaterThan(0);
          expect(held).toBeLessThan(profiles.length);
        }
      } finally {
        await single.store.close();
        await pair.store.close();
        await secondStore.close();
      }
    }));
  }, 300_000);
});

/** An id whose partition is one of `among`. */
function idIn(among: readonly number[], prefix: string): string {
  for (let i = 0; ; i++) if (among.includes(partitionOf(`${prefix}-${i}`, P))) return `${prefix}-${i}`;
}

describe.skipIf(why !== null)('the order of a link and what is sent after it, across workers', () => {
  it.each([
    ['applies an anonymous event sent after its identify after the identify, though the identify\'s worker applies it later (the marker in the anonymous id\'s partition)', false],
    ['does so too when the anonymous id\'s partition changed hands after its worker passed the marker, before the link was applied (the next holder reads the marker again)', true],
  ] as const)('%s', async (_title, handOver) => {
    await withTestPgSchema(`pw_order_${handOver ? 'h' : 'n'}_one`, async (one) => withTestPgSchema(`pw_order_${handOver ? 'h' : 'n'}_two`, async (two) => {
      // The visitor's anonymous id falls in the first worker's partitions, their userId in the second's.
      const userId = idIn([2, 3], 'user'), anonymousId = idIn([0, 1], 'visitor');
      const identify = [item('identify', { type: 'identify', userId, anonymousId, traits: { plan: 'pro' } })];
      const views = [[item('view', { anonymousId })], [item('view', { anonymousId })]];
      const single = await oneWorker(one.url, [identify, ...views]);

      const pair = await deployment(two.url);
      try {
        let a = worker(pair.store, pair.log, [0, 1]);
        await project(pair.store, a.engine);
        await append(pair.log, handOver ? [identify] : [identify, ...views]);
        if (handOver) {
          // The anonymous id's worker passes the marker, then hands its partitions over; the views come after.
          await a.worker.start();
          await a.worker.drain(90_000);
          await a.worker.stop();
          await append(pair.log, views);
          a = worker(pair.store, pair.log, [0, 1]);
        }
        // The anonymous id's worker runs alone first: it must not apply the views before the identify.
        await a.worker.start();
        await new Promise((r) => setTimeout(r, 1_000));
        expect(a.worker.counts.waits).toBeGreaterThan(0);
        const b = worker(pair.store, pair.log, [2, 3]);
        await b.worker.start();
        await finish(pair.log, [a.worker, b.worker]);
        const expected = await outcome(single.store);
        // The views went to the identified user: never an anonymous viewer.
        expect(expected.history).not.toContainEqual(expect.stringMatching(/^anonymous viewers/));
        expect(expected.members).toContain(`viewers ${userId}`);
        expect(await outcome(pair.store)).toEqual(expected);
        expect(a.worker.counts.forwarded).toBe(2);
      } finally {
        await single.store.close();
        await pair.store.close();
      }
    }));
  }, 180_000);
});

describe.skipIf(why !== null)('reads and events forwarded to another worker\'s partition', () => {
  it('holds the forwarding partition\'s readable position below the record until the other partition has applied what was forwarded', async () => {
    await withTestPgSchema('pw_readable', async (db) => {
      const userId = idIn([2, 3], 'user'), anonymousId = idIn([0, 1], 'visitor');
      const { log, store } = await deployment(db.url);
      try {
        let a = worker(store, log, [0, 1]), b = worker(store, log, [2, 3]);
        await project(store, a.engine);
        await append(log, [[item('identify', { type: 'identify', userId, anonymousId })]]);
        await a.worker.start();
        await b.worker.start();
        await finish(log, [a.worker, b.worker]);
        // The anonymous id's view, sent after the identify, goes to its partition, whose worker forwards it to the user's.
        await append(log, [[item('view', { anonymousId })]]);
        const view = await log.head();
        const row = async (p: number) => store.db.selectFrom('log_positions').select(['position', 'readable']).where('partition', '=', p).executeTakeFirstOrThrow();
        a = worker(store, log, [0, 1]);
        await a.worker.start();
        await a.worker.drain(90_000);
        expect(a.worker.counts.forwarded).toBe(1);
        const from = partitionOf(anonymousId, P);
        // Applied past the view, readable only up to before it: the user's partition has not applied the view yet.
        expect(Number((await row(from)).position)).toBeGreaterThanOrEqual(view);
        expect(Number((await row(from)).readable)).toBe(view - 1);
        expect(await readableEverywhere(store, P)).toBeLessThan(view);
        // Handed over before the view is applied where it went: the next holder keeps the hold, though it applies more.
        await a.worker.stop();
        a = worker(store, log, [0, 1]);
        await a.worker.start();
        await append(log, [[item('view', { anonymousId: idIn([from], 'another-visitor') })]]);
        await a.worker.drain(90_000);
        expect(Number((await row(from)).position)).toBeGreaterThan(view);
        expect(Number((await row(from)).readable)).toBe(view - 1);
        b = worker(store, log, [2, 3]);
        await b.worker.start();
        await b.worker.drain(Number.MAX_SAFE_INTEGER).catch(() => undefined);
        for (const until = Date.now() + 10_000; (await row(from)).readable !== null && Date.now() < until;) await new Promise((r) => setTimeout(r, 50));
        expect((await row(from)).readable).toBeNull();
        expect(await readableEverywhere(store, P)).toBeGreaterThanOrEqual(view);
        await finish(log, [a.worker, b.worker]);
      } finally {
        await store.close();
      }
    });
  }, 180_000);
});

describe.skipIf(why !== null)('segment changes and a profile taken over', () => {
  it('applies a labels change to a profile taken over, which its old partition had not applied and its new one had passed over', async () => {
    await withTestPgSchema('pw_catch_up', async (db) => {
      const { log, store } = await deployment(db.url);
      const followers: DefinitionFollower[] = [];
      try {
        const userId = idIn([2, 3], 'buyer'), anonymousId = idIn([0, 1], 'browser');
        let a = worker(store, log, [0, 1]);
        let b = worker(store, log, [2, 3]);
        await project(store, a.engine);
        // The visitor's profile is in the first worker's partitions, the user's in the second's.
        await append(log, [[item('view', { anonymousId })], [item('view', { userId })]]);
        await a.worker.start();
        await b.worker.start();
        await finish(log, [a.worker, b.worker]);
        // The identify: the first worker passes its marker and stops, the second not running.
        await append(log, [[item('identify', { type: 'identify', userId, anonymousId })]]);
        a = worker(store, log, [0, 1]);
        await a.worker.start();
        await a.worker.drain(90_000);
        await a.worker.stop();
        // The visitor labelled on a process of the api role, before the first worker applied it.
        await store.transaction((tx) => recordSegmentChange(tx, { projectId: 'p', segmentIds: [], reason: 'labels', profileIds: null, labels: { userId: anonymousId, add: ['gold'], remove: [] } }));
        // The second worker applies the change (passing the visitor over: another partition's), then takes the visitor over.
        b = worker(store, log, [2, 3]);
        followers.push(followDefinitions(b.engine, store, [2, 3], []));
        await b.worker.start();
        await b.worker.drain(90_000);
        expect(b.worker.counts.adopted).toBe(1);
        // The first worker, back, finds the visitor is the user now, held by the second: it passes the change over too.
        a = worker(store, log, [0, 1]);
        followers.push(followDefinitions(a.engine, store, [0, 1], []));
        await a.worker.start();
        for (const until = Date.now() + 20_000; (await segmentChangesApplied(store, [0, 1, 2, 3])) === 0 && Date.now() < until;) await new Promise((r) => setTimeout(r, 50));
        expect(await segmentChangesApplied(store, [0, 1, 2, 3])).toBeGreaterThan(0);
        await finish(log, [a.worker, b.worker]);
        expect((await store.findProfile('p', userId))!.labels).toEqual(['gold']);
      } finally {
        for (const f of followers) await f.stop();
        await store.close();
      }
    });
  }, 180_000);
});

describe.skipIf(why !== null)('a worker whose partitions another worker has claimed', () => {
  it('writes nothing more once another worker has claimed its partitions (its lease lapsed without its knowing), and the next owner ends as one worker would', async () => {
    await withTestPgSchema('pw_fence_one', async (one) => withTestPgSchema('pw_fence_two', async (two) => {
      const first = requests(60, 0), second = requests(60, 60);
      const single = await oneWorker(one.url, [...first, ...second]);

      const { log, store } = await deployment(two.url);
      try {
        const told: (readonly number[])[] = [];
        const a = worker(store, log, [0, 1, 2, 3], { owner: 'a', onTaken: (p) => told.push(p) });
        // A worker writes nothing before it has claimed its partitions.
        await expect(a.engine.write(async () => undefined)).rejects.toThrow(/not claimed by this worker yet/);
        await project(store, new LiveEngine(store, { now: () => NOW }));
        await append(log, first);
        await a.worker.start();
        await a.worker.drain(90_000);
        // Another worker claims the partitions and stops at once; the first still believes they are its own.
        const b = worker(store, log, [0, 1, 2, 3], { owner: 'b' });
        await b.worker.start();
        await b.worker.stop();
        const before = new Map(a.worker.applied);
        await append(log, second);
        for (const until = Date.now() + 20_000; a.worker.taken === null && Date.now() < until;) await new Promise((r) => setTimeout(r, 50));
        expect(a.worker.taken).toEqual([0, 1, 2, 3]);
        await new Promise((r) => setTimeout(r, 50));
        expect(told).toEqual([[0, 1, 2, 3]]);
        // It applied nothing of what followed, and any write of its engine is refused.
        expect(new Map(a.worker.applied)).toEqual(before);
        await expect(a.engine.write(async () => undefined)).rejects.toBeInstanceOf(PartitionTaken);
        await a.worker.stop();
        const c = worker(store, log, [0, 1, 2, 3], { owner: 'c' });
        await c.worker.start();
        await c.worker.drain(90_000);
        await c.worker.stop();
        expect(c.worker.taken).toBeNull();
        expect(await outcome(store)).toEqual(await outcome(single.store));

        // A worker stopped while it waits for its partitions' locks (held here, as by a transaction of the holder's) claims nothing.
        const holder = await store.db.connection().execute(async (conn) => {
          await sql`SELECT pg_advisory_lock(hashtext(current_schema()), 0)`.execute(conn);
          const late = worker(store, log, [0, 1, 2, 3], { owner: 'late' });
          const starting = late.worker.start();
          await new Promise((r) => setTimeout(r, 300));
          await late.worker.stop();
          await sql`SELECT pg_advisory_unlock(hashtext(current_schema()), 0)`.execute(conn);
          await starting;
          return late;
        });
        expect(holder.worker.applied.size).toBe(0);
        const owners = await store.db.selectFrom('log_positions').select('owner').execute();
        expect(new Set(owners.map((o) => o.owner))).toEqual(new Set(['c']));
      } finally {
        await single.store.close();
        await store.close();
      }
    }));
  }, 180_000);
});

describe('applying a record of a project the engine has not loaded yet', () => {
  it('counts the record\'s events once (the project is loaded before they are written, not read back after)', async () => {
    const store = await openTestSqlite();
    try {
      await project(store, new LiveEngine(store, { now: () => NOW }));
      // A new engine (a worker that just took the partition): the project is loaded by the record's own transaction.
      const engine = new LiveEngine(store, { now: () => NOW });
      const view = item('view', { userId: 'only-one-view' });
      await applyRecords({ engine, sessionTimeoutMs: 1_800_000, listeners: [], isolation: null }, [{ ...recordsOf('p', 1, view.receivedAt, [view], [])[0]!, position: 1 }]);
      expect(engine.segmentsOf('p', (await store.findProfile('p', 'only-one-view'))!.id)).toEqual([]);
      expect(await store.db.selectFrom('memberships').select('segment_id').where('project_id', '=', 'p').execute()).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
