import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Json, JsonObject, SegmentDefinition } from '@strata/core';
import { isDerivedEvent } from '@strata/core';
import { arbCase, oracleMembers, parseWithSegments } from '@strata/core/testing';
import { openEventLog, type IngestItem, type SqlStore } from '@strata/store';
import { testBackends } from '@strata/store/testing';
import { IngestService } from './ingest-service.ts';
import { LiveEngine, type RecordedChange } from './live-engine.ts';
import { MembershipService } from './membership-service.ts';

const backends = await testBackends();
const MINUTE = 60_000, HOUR = 60 * MINUTE, DAY = 24 * HOUR;
const SESSION = 30 * MINUTE;

class TestClock {
  constructor(public t: number) {}
  now(): number { return this.t; }
}

let seq = 0;
const item = (over: Partial<IngestItem> & Pick<IngestItem, 'name' | 'timestamp'>): IngestItem => ({
  messageId: `m${++seq}`, type: 'track', userId: null, anonymousId: null, previousId: null, properties: {}, context: {}, traits: null,
  receivedAt: over.timestamp, ...over,
});

/** Time jumps between steps: none, small, across window edges, long. */
const arbJump = fc.constantFrom(0, 0, MINUTE, 31 * MINUTE, 2 * HOUR, DAY, 3 * DAY, 7 * DAY, 8 * DAY, 31 * DAY);

/**
 * A condition that reads `$segment_entered` within a minute can make a segment feed on its own
 * entries: it then changes every minute (docs/api.md), a derived event and a history row each
 * time, and a jump of weeks gives every check hundreds of thousands of rows to compare. Such a
 * case jumps at most this far at once (its transitions are still exercised, 120 of them a jump).
 */
const FLOOD_JUMP = 2 * HOUR;
const floods = (c: { condition: Json; segments: Record<string, { condition: Json | null }> }) =>
  [c.condition, ...Object.values(c.segments).map((s) => s.condition)].some((x) => {
    const text = JSON.stringify(x);
    return text.includes('"$segment_entered"') && text.includes('"1m"');
  });

const arbScenario = arbCase.chain((c) => {
  const events = c.profiles.flatMap((p, i) => p.events.filter((e) => !isDerivedEvent(e.name)).map((e) => ({ i, e })));
  return fc.record({
    c: fc.constant(c),
    order: fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }),
    jumps: fc.array(floods(c) ? arbJump.map((j) => Math.min(j, FLOOD_JUMP)) : arbJump, { minLength: events.length + 2, maxLength: events.length + 2 }),
    /** The last jump, past every window. */
    last: fc.constant(floods(c) ? FLOOD_JUMP : 40 * DAY),
    /** After which event the condition under test becomes a segment (its leaves backfilled from stored events). */
    createAt: fc.integer({ min: 0, max: events.length }),
    /** Until this step, people with both ids send some events anonymously (a second profile); then an identify merges them. */
    mergeAt: fc.integer({ min: 0, max: events.length }),
    anonymously: fc.array(fc.boolean(), { minLength: events.length, maxLength: events.length }),
    start: fc.constantFrom(10 * DAY, 40 * DAY),
  });
});

describe.each(backends.map((b) => [b.name, b] as const))('live engine on %s', (name, backend) => {
  let store: SqlStore;
  beforeAll(async () => { store = await backend.open(); });
  afterAll(async () => { await store?.close(); });

  it('property: after every event and every clock jump, engine = stored memberships = full SQL recomputation = naive oracle', async () => {
    const sqlSide = new MembershipService();
    /** Previews answered by reading events the engine does not keep from the store. */
    let readFromStore = 0;
    await fc.assert(fc.asyncProperty(arbScenario, async ({ c, order, jumps, last, createAt, mergeAt, anonymously, start }) => {
      const projectId = `prop${++seq}`;
      const clock = new TestClock(c.now - start);
      await store.createProject({ id: projectId, name: projectId, writeKey: `wk_${projectId}`, adminToken: `at_${projectId}`, now: clock.now() });
      const changes: RecordedChange[] = [];
      const engine = new LiveEngine(store, clock, [async (_tx, _p, cs) => { for (const x of cs) changes.push(x); }]);
      // Events go the one way they go in Strata: appended to the event log, applied from it by the membership worker.
      const pipeline = new IngestService(engine, { sessionTimeoutMs: SESSION, log: openEventLog(store) });
      const ingest = async (items: IngestItem[]) => { await pipeline.submitApplied(projectId, items, [], clock.now()); };
      try {
      // People first: an identify each, with traits and context; labels by the admin path.
      const ids = new Map<number, number>();
      for (const [i, { profile }] of c.profiles.entries()) {
        // Known people with an anonymous id too are linked to it only at the merge step.
        await ingest([item({ type: 'identify', name: '$identify', userId: profile.userId, anonymousId: profile.userId ? null : profile.anonymousId, traits: profile.traits, context: profile.context, timestamp: clock.now() })]);
        const stored = await store.findProfile(projectId, (profile.userId ?? profile.anonymousId)!);
        ids.set(i, stored!.id);
        if (profile.labels.length) {
          await engine.write(async (tx) => {
            await tx.updateLabels(projectId, stored!.id, profile.labels, [], clock.now());
            await engine.profilesChanged(tx, projectId, [stored!.id], clock.now(), 'manual');
          });
        }
      }
      const keyOf = (k: string) => ids.get(Number(k.slice(1)));
      const defs: Record<string, SegmentDefinition> = {};
      const createSegment = async (id: string, condition: Json | null, include: readonly string[], exclude: readonly string[]) => {
        await engine.write(async (tx) => {
          await tx.insertSegment({ id, projectId, name: id, description: '', condition, template: null, params: null, createdAt: clock.now(), updatedAt: clock.now() });
          const inc = include.map(keyOf).filter((x) => x !== undefined), exc = exclude.map(keyOf).filter((x) => x !== undefined);
          await tx.replaceManual(projectId, id, inc, exc);
          await engine.segmentsChanged(tx, projectId, [id], clock.now());
          defs[id] = { condition, include: inc.filter((x) => !exc.includes(x)).map(String), exclude: exc.map(String) };
        });
      };
      // Referenced segments exist from the start (in reference order: a segment's references before it).
      const pending = Object.entries(c.segments);
      while (pending.length) {
        const idx = pending.findIndex(([, d]) => !JSON.stringify(d.condition).match(/"segment":"([^"]+)"/g)?.some((m) => !(m.slice(11, -1) in defs)));
        const [id, d] = pending.splice(idx === -1 ? 0 : idx, 1)[0]!;
        await createSegment(id, d.condition, d.include, d.exclude);
      }

      const check = async (when: string) => {
        const now = clock.now();
        const rows = await store.listSegments(projectId);
        const parsed = sqlSide.parseSegments(projectId, rows);
        const stored = await store.allMemberships(projectId);
        const all = await store.scanProfiles(projectId, 0, 1000);
        const data = await store.profilesWithEvents(projectId, all.map((p) => p.id));
        for (const row of rows) {
          const db = stored.filter((m) => m.segmentId === row.id).map((m) => String(m.profileId)).sort();
          const mem = [...engine.members(projectId, row.id).keys()].map(String).sort();
          const sql = (await store.matchingIds(projectId, sqlSide.membersSql(store, projectId, parsed.get(row.id)!, parsed, now))).map(String).sort();
          // Manual lists follow merges: read them back as the store holds them.
        const manual = await store.manualProfileIds(projectId, row.id);
        const def = defs[row.id] = { ...defs[row.id]!, include: manual.include.map(String), exclude: manual.exclude.map(String) };
          const oracle = oracleMembers(def.condition ?? { any: [] }, data, defs, now);
          const want = [...new Set([...oracle, ...def.include])].filter((k) => !def.exclude.includes(k)).sort();
          const msg = `${when}: segment ${row.id} ${JSON.stringify(row.condition)} at ${new Date(now).toISOString()}`;
          expect(sql, `SQL vs oracle, ${msg}`).toEqual(want);
          expect(mem, `engine vs oracle, ${msg}`).toEqual(want);
          expect(db, `stored memberships vs oracle, ${msg}`).toEqual(want);
        }
        // A preview of the condition under test from engine state (once its leaves are live), in bulk and per profile;
        // and reading the events the engine does not keep from the store (before the segment exists too).
        const condition = parseWithSegments(c.condition, c.segments);
        const oracle = oracleMembers(c.condition, data, defs, now);
        const fromStore = await engine.previewFromStore(projectId, condition, now, 1000, { every: true });
        const bulk = engine.preview(projectId, condition, now, 0), perProfile = engine.preview(projectId, condition, now, 0, 'per-profile');
        if (fromStore && !bulk) readFromStore++;
        // The segment sizes a bulk tally reads from the counts kept are those a full scan counts; so is what the matches share.
        for (const t of [bulk, fromStore]) {
          if (!t) continue;
          expect(t.sizes).toEqual(engine.sizes(projectId));
          if (perProfile) expect(t.shared).toEqual(perProfile.shared);
        }
        for (const [how, tally] of [['bulk', engine.preview(projectId, condition, now, 1000)], ['per-profile', engine.preview(projectId, condition, now, 1000, 'per-profile')], ['reading what is not kept from the store', fromStore]] as const) {
          if (!tally) continue;
          const msg = `preview (${how}) of ${JSON.stringify(c.condition)}, ${when} at ${new Date(now).toISOString()}`;
          expect(tally.count, msg).toBe(oracle.length);
          expect(tally.sample.map((p) => String(p.id)).sort(), msg).toEqual(oracle);
        }
      };

      let created = false;
      const maybeCreate = async (k: number) => {
        if (created || k < createAt) return;
        created = true;
        await createSegment('under_test', c.condition, [], []);
      };
      await maybeCreate(0);
      const both = c.profiles.map((x) => x.profile).filter((p) => p.userId !== null && p.anonymousId !== null);
      const merge = async () => {
        for (const p of both) await ingest([item({ type: 'identify', name: '$identify', userId: p.userId, anonymousId: p.anonymousId, timestamp: clock.now() })]);
        await check('after the merges');
      };
      for (const [k, { i, e }] of order.entries()) {
        clock.t += jumps[k]!;
        await engine.tick();
        if (k === mergeAt && both.length) await merge();
        const p = c.profiles[i]!.profile;
        const ids = k >= mergeAt || !p.userId || !p.anonymousId ? { userId: p.userId, anonymousId: p.userId ? null : p.anonymousId } : anonymously[k] ? { userId: null, anonymousId: p.anonymousId } : { userId: p.userId, anonymousId: null };
        await ingest([item({ type: e.name === '$pageview' ? 'page' : 'track', name: e.name, ...ids, properties: e.properties as JsonObject, context: e.context as JsonObject, timestamp: e.timestamp, receivedAt: clock.now() })]);
        await maybeCreate(k + 1);
        await check(`after event ${k}`);
      }
      await maybeCreate(order.length);
      if (mergeAt >= order.length && both.length) await merge();
      for (const j of [jumps[order.length]!, jumps[order.length + 1]!, last]) {
        clock.t += j;
        await engine.tick();
        await check(`after a jump of ${j / MINUTE} min`);
      }
      // History explains every change: replaying it gives the memberships (read page by page: a
      // segment that feeds on its own entries changes every minute).
      const allHistory = async (segmentId: string) => {
        const out: Awaited<ReturnType<SqlStore['history']>> = [];
        for (let before: number | null = null; ;) {
          const page = await store.history(projectId, { segmentId }, 50_000, before);
          for (const x of page) out.push(x);
          if (page.length < 50_000) return out;
          before = page[page.length - 1]!.id;
        }
      };
      for (const row of await store.listSegments(projectId)) {
        const h = (await allHistory(row.id)).reverse();
        const replay = new Set<number>();
        for (const x of h) {
          expect(replay.has(x.profileId), `history of ${row.id} alternates`).toBe(x.kind === 'exited');
          if (x.kind === 'entered') replay.add(x.profileId); else replay.delete(x.profileId);
        }
        expect([...replay].sort()).toEqual([...engine.members(projectId, row.id).keys()].sort());
      }
      let recorded = 0;
      for (const r of await store.listSegments(projectId)) recorded += (await allHistory(r.id)).length;
      expect(changes.length).toBe(recorded);
      } finally {
        await pipeline.stop(0);
      }
    }), { numRuns: Number(process.env.STRATA_ENGINE_PROPERTY_RUNS ?? (name === 'sqlite' ? 300 : 60)), ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED), path: process.env.FC_PATH, endOnFailure: true } : {}) });
    // (A replay of one case, FC_SEED, may not have one.)
    if (!process.env.FC_SEED) expect(readFromStore, 'previews that read from the store what the engine does not keep').toBeGreaterThan(0);
  }, 900_000);
});

describe.each(backends.map((b) => [b.name, b] as const))('engine restart and time transitions on %s', (_name, backend) => {
  let store: SqlStore;
  beforeAll(async () => { store = await backend.open(); });
  afterAll(async () => { await store?.close(); });

  const T0 = Date.UTC(2024, 5, 15, 12);
  const setup = async (projectId: string, clock: TestClock) => {
    const engine = new LiveEngine(store, clock);
    await engine.start(0);
    await engine.write(async (tx) => {
      for (const [id, condition] of [
        ['buyers', { event: 'purchase', window: { within: '30d' } }],
        ['lapsed', { all: [{ attr: 'known', op: 'eq', value: true }, { not: { event: 'purchase', window: { within: '30d' } } }] }],
        ['lapsed_vip', { all: [{ segment: 'lapsed' }, { attr: 'traits.plan', op: 'eq', value: 'vip' }] }],
      ] as const) {
        await tx.insertSegment({ id, projectId, name: id, description: '', condition: condition as Json, template: null, params: null, createdAt: clock.now(), updatedAt: clock.now() });
        await engine.segmentsChanged(tx, projectId, [id], clock.now());
      }
      const out = await tx.ingest(projectId, [
        item({ type: 'identify', name: '$identify', userId: 'u1', traits: { plan: 'vip' }, timestamp: T0 }),
        item({ name: 'purchase', userId: 'u1', timestamp: T0 }),
      ], SESSION);
      await engine.applyIngest(tx, projectId, out, clock.now());
    });
    return engine;
  };
  const historyOf = async (projectId: string, segmentId: string) =>
    (await store.history(projectId, { segmentId }, 100, null)).reverse().map((h) => `${h.kind}@${new Date(h.at).toISOString()}:${h.reason}`);

  it('flips a window membership exactly at its boundary, once, and the reference follows', async () => {
    const projectId = `time${++seq}`;
    await store.createProject({ id: projectId, name: projectId, writeKey: `wk_${projectId}`, adminToken: `at_${projectId}`, now: T0 });
    const clock = new TestClock(T0);
    const engine = await setup(projectId, clock);
    expect(engine.segmentsOf(projectId, (await store.findProfile(projectId, 'u1'))!.id).sort()).toEqual(['buyers']);
    clock.t = T0 + 30 * DAY - 1;
    await engine.tick();
    expect(await historyOf(projectId, 'buyers')).toEqual(['entered@2024-06-15T12:00:00.000Z:event']);
    clock.t = T0 + 30 * DAY + 5_000;
    await engine.tick();
    await engine.tick();
    expect(await historyOf(projectId, 'buyers')).toEqual(['entered@2024-06-15T12:00:00.000Z:event', 'exited@2024-07-15T12:00:00.000Z:time']);
    expect(await historyOf(projectId, 'lapsed')).toEqual(['entered@2024-07-15T12:00:00.000Z:time']);
    expect(await historyOf(projectId, 'lapsed_vip')).toEqual(['entered@2024-07-15T12:00:00.000Z:time']);
    // Each change is also a derived event on the profile.
    const events = await store.profileEvents(projectId, (await store.findProfile(projectId, 'u1'))!.id, 50);
    expect(events.filter((e) => e.name.startsWith('$segment_')).map((e) => `${e.name}:${e.properties.segmentId}:${e.properties.reason}`).sort()).toEqual([
      '$segment_entered:buyers:event', '$segment_entered:lapsed:time', '$segment_entered:lapsed_vip:time', '$segment_exited:buyers:time',
    ]);
    await engine.stop();
  });

  it('after a restart, emits the transitions that came due while it was down, at their true times, exactly once', async () => {
    const projectId = `restart${++seq}`;
    await store.createProject({ id: projectId, name: projectId, writeKey: `wk_${projectId}`, adminToken: `at_${projectId}`, now: T0 });
    const clock = new TestClock(T0);
    const first = await setup(projectId, clock);
    await first.stop();
    // Down for 45 days.
    clock.t = T0 + 45 * DAY;
    const second = new LiveEngine(store, clock);
    await second.start(0);
    expect(await historyOf(projectId, 'buyers')).toEqual(['entered@2024-06-15T12:00:00.000Z:event', 'exited@2024-07-15T12:00:00.000Z:time']);
    expect(await historyOf(projectId, 'lapsed_vip')).toEqual(['entered@2024-07-15T12:00:00.000Z:time']);
    await second.stop();
    // A third start finds nothing new to emit.
    const third = new LiveEngine(store, clock);
    await third.start(0);
    expect(await historyOf(projectId, 'buyers')).toHaveLength(2);
    expect(await store.engineClock(projectId)).toBe(T0 + 45 * DAY);
    expect(third.members(projectId, 'lapsed').size).toBe(1);
    await third.stop();
  });

  it('a failed transaction gives back the time transitions it had consumed: the next tick applies them at their true instants', async () => {
    const projectId = `rollback-time${++seq}`;
    await store.createProject({ id: projectId, name: projectId, writeKey: `wk_${projectId}`, adminToken: `at_${projectId}`, now: T0 });
    const clock = new TestClock(T0);
    const engine = await setup(projectId, clock);
    clock.t = T0 + 31 * DAY;
    await expect(engine.write(async (tx) => {
      // Another user's event: the engine first applies u1's due exit (at T0 + 30d), then the transaction fails.
      const out = await tx.ingest(projectId, [item({ name: 'login', userId: 'u2', timestamp: clock.now() })], SESSION);
      await engine.applyIngest(tx, projectId, out, clock.now());
      throw new Error('boom');
    })).rejects.toThrow('boom');
    expect(await historyOf(projectId, 'buyers')).toEqual(['entered@2024-06-15T12:00:00.000Z:event']);
    await engine.tick();
    expect(await historyOf(projectId, 'buyers')).toEqual(['entered@2024-06-15T12:00:00.000Z:event', 'exited@2024-07-15T12:00:00.000Z:time']);
    await engine.stop();
  });

  it('a failed transaction leaves the engine as the store is (nothing uncommitted stays in memory)', async () => {
    const projectId = `rollback${++seq}`;
    await store.createProject({ id: projectId, name: projectId, writeKey: `wk_${projectId}`, adminToken: `at_${projectId}`, now: T0 });
    const clock = new TestClock(T0 + DAY);
    const engine = await setup(projectId, clock);
    const u1 = (await store.findProfile(projectId, 'u1'))!.id;
    await expect(engine.write(async (tx) => {
      const out = await tx.ingest(projectId, [item({ type: 'identify', name: '$identify', userId: 'u1', traits: { plan: 'free' }, timestamp: clock.now() })], SESSION);
      await engine.applyIngest(tx, projectId, out, clock.now());
      throw new Error('boom');
    })).rejects.toThrow('boom');
    // u1 is still vip in the store, and so in the engine: lapsed_vip follows once the purchase ages out.
    expect((await store.getProfiles(projectId, [u1]))[0]!.traits).toEqual({ plan: 'vip' });
    clock.t = T0 + 31 * DAY;
    await engine.tick();
    expect(engine.segmentsOf(projectId, u1).sort()).toEqual(['lapsed', 'lapsed_vip']);
    await engine.stop();
  });

  it('a failed transaction whose read-back fails too (the store is down) is read back before the next write, or at the next tick', async () => {
    const projectId = `stale${++seq}`;
    await store.createProject({ id: projectId, name: projectId, writeKey: `wk_${projectId}`, adminToken: `at_${projectId}`, now: T0 });
    const clock = new TestClock(T0 + DAY);
    const engine = await setup(projectId, clock);
    const down = Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
    const engineClock = store.engineClock.bind(store);
    let storeDown = true;
    // The store answers nothing while it is down: the engine's read-back starts with the engine clock.
    store.engineClock = async (id: string) => { if (storeDown) throw down; return engineClock(id); };
    const buy = (userId: string) => engine.write(async (tx) => {
      const out = await tx.ingest(projectId, [item({ name: 'purchase', userId, timestamp: clock.now() })], SESSION);
      await engine.applyIngest(tx, projectId, out, clock.now());
    });
    try {
      // u3 enters buyers in memory, in a transaction that fails.
      await expect(engine.write(async (tx) => {
        const out = await tx.ingest(projectId, [item({ name: 'purchase', userId: 'u3', timestamp: clock.now() })], SESSION);
        await engine.applyIngest(tx, projectId, out, clock.now());
        throw down;
      })).rejects.toBe(down);
      // While the store is down, a write fails before it runs: the stale state is read back first.
      await expect(buy('u4')).rejects.toBe(down);
      storeDown = false;
      await engine.tick();
      expect(engine.members(projectId, 'buyers').size).toBe(1);
      // Sent again, u3's purchase enters them, in memory and in the store.
      await buy('u3');
      expect(engine.members(projectId, 'buyers').size).toBe(2);
      expect(await historyOf(projectId, 'buyers')).toHaveLength(2);
    } finally {
      store.engineClock = engineClock;
      await engine.stop();
    }
  });
});

describe('close pairs of segments (the segment list\'s SUBSET and HIGH_OVERLAP)', () => {
  it('finds exactly the pairs where one holds the other or the Jaccard is ≥ j, with their intersections, over 40 segments (two bit words)', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 99 }), { minLength: 0, maxLength: 120 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 30 })), { minLength: 34, maxLength: 40 }),
      (scores, bands) => {
        const now = Date.UTC(2024, 5, 15);
        // Score bands: nested and near-equal bands make subsets and high overlaps.
        const rows = bands.map(([lo, width], i) => ({
          id: `s${i}`, projectId: 'p', name: `band ${i}`, description: '', template: null, params: null, createdAt: now, updatedAt: now,
          condition: { attr: 'traits.score', op: 'between', value: [lo, lo + width] } as Json as never,
        }));
        const engine = new LiveEngine(null as never, { now: () => now });
        engine.hydrate('p', rows, scores.map((score, i) => ({
          profile: { id: i + 1, key: String(i + 1), userId: `u${i}`, anonymousId: null, traits: { score }, context: {}, labels: [], firstSeen: null, lastSeen: null },
          events: [],
        })), now);
        const close = engine.closePairs('p', 0.9)!;
        const members = close.ids.map((id) => engine.members('p', id));
        expect(close.sizes).toEqual(members.map((m) => m.size));
        const expected: [number, number, number][] = [];
        for (let a = 0; a < members.length; a++) {
          for (let b = a + 1; b < members.length; b++) {
            const A = members[a]!, B = members[b]!;
            if (A.size === 0 || B.size === 0) continue;
            const inter = [...A].filter((x) => B.has(x)).length;
            if (inter === Math.min(A.size, B.size) || inter / (A.size + B.size - inter) >= 0.9 - 1e-4) expected.push([a, b, inter]);
          }
        }
        expect(close.pairs).toEqual(expected);
      },
    ), { numRuns: 200 });
  });
});
