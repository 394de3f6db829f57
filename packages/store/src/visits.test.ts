import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDerivedEvent, visitOf, type JsonObject } from '@strata/core';
import type { SqlStore } from './sql-store.ts';
import { testBackends } from './testing/index.ts';
import type { IngestItem, StoredEvent } from './types.ts';
import { UserDataStore } from './user-data-store.ts';

const backends = await testBackends();
const MINUTE = 60_000;
const SESSION = 30 * MINUTE;
const T0 = Date.UTC(2024, 5, 15, 12);

let seq = 0;
const PATHS = ['/', '/pricing', '/cart'];

/**
 * One event: its time (minutes from T0, on a grid that lands on and around the timeout, in one
 * of three clusters far apart, so that a batch holds late events whose windows must stay apart),
 * page, and whether it is sent anonymously.
 */
const arbEvent = fc.record({
  minute: fc.tuple(fc.oneof(fc.integer({ min: 0, max: 12 }).map((k) => k * 15), fc.constantFrom(29, 30, 31, 60, 61, 90)), fc.constantFrom(0, 0, 0, 1000, 5000))
    .map(([m, far]) => m + far),
  path: fc.constantFrom(...PATHS),
  page: fc.boolean(),
  anonymous: fc.boolean(),
  /** u1 (who may send anonymously as a1, until the merge) or u2: batches mix profiles. */
  second: fc.boolean(),
});

/**
 * Batches in arrival order; an identify that merges the anonymous profile may come before any
 * batch; the store's kept event times may be dropped before any batch (as after a restart), so
 * that late events read the history and keep it again.
 */
const arbScenario = fc.record({
  batches: fc.array(fc.array(arbEvent, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 }),
  mergeBefore: fc.integer({ min: 0, max: 9 }),
  forgetBefore: fc.array(fc.boolean(), { maxLength: 8 }),
});

/** `$session` rows as a derivation from scratch gives them: a visit starts at an event more than the timeout after the one before it. */
function expectedVisits(events: readonly StoredEvent[]) {
  const own = events.filter((e) => !isDerivedEvent(e.name))
    .sort((a, b) => a.timestamp - b.timestamp || a.id - b.id);
  const out: { timestamp: number; receivedAt: number; properties: JsonObject; context: JsonObject }[] = [];
  let last: number | null = null;
  for (const e of own) {
    if (last === null || e.timestamp - last > SESSION) out.push({ timestamp: e.timestamp, receivedAt: e.receivedAt, properties: visitOf(e.type, e.properties, e.context), context: e.context });
    last = e.timestamp;
  }
  return out;
}

describe.each(backends.map((b) => [b.name, b] as const))('visits re-derived after late events on %s', (_n, backend) => {
  let store: SqlStore;
  beforeAll(async () => { store = await backend.open(); });
  afterAll(async () => { await store?.close(); });

  const stored = async (projectId: string, id: string) => {
    const p = await store.findProfile(projectId, id);
    return p ? store.profileEvents(projectId, p.id, 10_000) : [];
  };
  const visits = (events: readonly StoredEvent[]) => events.filter((e) => e.name === '$session')
    .map((e) => ({ timestamp: e.timestamp, receivedAt: e.receivedAt, properties: e.properties, context: e.context }))
    .sort((a, b) => a.timestamp - b.timestamp);

  it('property: after batches in any time order (and a merge), the stored visits are those derived from scratch, and the outcome says which changed', async () => {
    await fc.assert(fc.asyncProperty(arbScenario, async ({ batches, mergeBefore, forgetBefore }) => {
      const projectId = `visits${++seq}`;
      let merged = false;
      const merge = async () => {
        merged = true;
        await store.transaction((tx) => tx.ingest(projectId, [{
          messageId: `m${++seq}`, type: 'identify', name: '$identify', userId: 'u1', anonymousId: 'a1', previousId: null,
          properties: {}, context: {}, traits: null, timestamp: T0 + 200 * MINUTE, receivedAt: T0 + 300 * MINUTE,
        }], SESSION));
      };
      for (const [k, batch] of batches.entries()) {
        if (k === mergeBefore) await merge();
        if (forgetBefore[k]) store.visitTimes?.clear();
        const before = new Map<string, Set<number>>();
        for (const id of ['u1', 'u2']) before.set(id, new Set(visits(await stored(projectId, id)).map((v) => v.timestamp)));
        const items: IngestItem[] = batch.map((e, i) => ({
          messageId: `m${++seq}`, type: e.page ? 'page' : 'track', name: e.page ? '$pageview' : 'x',
          userId: e.second ? 'u2' : e.anonymous && !merged ? null : 'u1', anonymousId: e.anonymous && !e.second ? 'a1' : null, previousId: null,
          properties: e.page ? { path: e.path } : ({} as JsonObject), context: { page: { path: e.path }, locale: i % 2 ? 'en-GB' : 'de-DE' }, traits: null,
          timestamp: T0 + e.minute * MINUTE, receivedAt: T0 + (1000 + k) * MINUTE,
        }));
        const out = await store.transaction((tx) => tx.ingest(projectId, items, SESSION));
        for (const id of ['u1', 'a1', 'u2']) {
          const events = await stored(projectId, id);
          expect(visits(events), `visits of ${id} after batch ${k}`).toEqual(expectedVisits(events));
          // Kept event times (SQLite) are exactly the stored own events' times.
          const pid = (await store.findProfile(projectId, id))?.id;
          const kept = pid === undefined ? undefined : store.visitTimes?.get(projectId, pid);
          if (kept) expect(kept, `kept times of ${id} after batch ${k}`).toEqual(events.filter((e) => !isDerivedEvent(e.name)).map((e) => e.timestamp).sort((a, b) => a - b));
        }
        // What the live engine is told: the visits before, less those removed, plus those added, are the visits now.
        for (const id of ['u1', 'u2']) {
          const pid = (await store.findProfile(projectId, id))?.id;
          if (pid === undefined || out.reload.has(pid)) continue;
          const told = before.get(id)!;
          for (const v of out.removedVisits ?? []) if (v.profileId === pid) told.delete(v.timestamp);
          for (const e of out.events) if (e.profileId === pid && e.name === '$session') told.add(e.timestamp);
          expect([...told].sort((a, b) => a - b), `${id}'s visits told after batch ${k}`).toEqual(visits(await stored(projectId, id)).map((v) => v.timestamp));
        }
      }
    }), { numRuns: Number(process.env.STRATA_VISIT_PROPERTY_RUNS ?? 150) });
  }, 300_000);

  it('a late event between two visits joins them into one, and one before a visit starts it earlier', async () => {
    const projectId = `visits${++seq}`;
    const send = (minutes: number[], path = '/') => store.transaction((tx) => tx.ingest(projectId, minutes.map((m) => ({
      messageId: `m${++seq}`, type: 'page', name: '$pageview', userId: 'u1', anonymousId: null, previousId: null,
      properties: { path }, context: {}, traits: null, timestamp: T0 + m * MINUTE, receivedAt: T0 + 1000 * MINUTE,
    })), SESSION));
    await send([0, 50, 200]);
    expect(visits(await stored(projectId, 'u1')).map((v) => (v.timestamp - T0) / MINUTE)).toEqual([0, 50, 200]);
    const joined = await send([25]);
    expect(visits(await stored(projectId, 'u1')).map((v) => (v.timestamp - T0) / MINUTE)).toEqual([0, 200]);
    expect(joined.removedVisits?.map((v) => (v.timestamp - T0) / MINUTE)).toEqual([50]);
    expect(joined.reload.size).toBe(0);
    const earlier = await send([180], '/pricing');
    const now = visits(await stored(projectId, 'u1'));
    expect(now.map((v) => (v.timestamp - T0) / MINUTE)).toEqual([0, 180]);
    expect(now[1]!.properties).toMatchObject({ landingPage: '/pricing' });
    expect(earlier.removedVisits?.map((v) => (v.timestamp - T0) / MINUTE)).toEqual([200]);
    expect(earlier.events.filter((e) => e.name === '$session').map((e) => (e.timestamp - T0) / MINUTE)).toEqual([180]);
  });

  it('several late events of a profile far apart in one batch each re-derive the visits around them, and nothing between', async () => {
    const projectId = `visits${++seq}`;
    const send = (minutes: number[]) => store.transaction((tx) => tx.ingest(projectId, minutes.map((m) => ({
      messageId: `m${++seq}`, type: 'page', name: '$pageview', userId: 'u1', anonymousId: null, previousId: null,
      properties: { path: `/p${m}` }, context: {}, traits: null, timestamp: T0 + m * MINUTE, receivedAt: T0 + 9000 * MINUTE,
    })), SESSION));
    const minutes = async () => visits(await stored(projectId, 'u1')).map((v) => (v.timestamp - T0) / MINUTE);
    await send([0, 50, 200, 1000, 1020, 1060, 1200, 3000, 4000]);
    expect(await minutes()).toEqual([0, 50, 200, 1000, 1060, 1200, 3000, 4000]);
    // Joins 0+50 and 1000+1060 (1040's window begins after 1000: 1020 is only read as a predecessor), starts
    // 3000's visit earlier, and a lone new visit at 2000; 200, 1200 and 4000 stand.
    const out = await send([25, 1040, 2000, 2990]);
    expect(await minutes()).toEqual([0, 200, 1000, 1200, 2000, 2990, 4000]);
    expect(out.removedVisits?.map((v) => (v.timestamp - T0) / MINUTE).sort((a, b) => a - b)).toEqual([50, 1060, 3000]);
    expect(out.events.filter((e) => e.name === '$session').map((e) => (e.timestamp - T0) / MINUTE)).toEqual([2000, 2990]);
    const now = visits(await stored(projectId, 'u1'));
    expect(now.find((v) => v.timestamp === T0 + 2990 * MINUTE)!.properties).toMatchObject({ landingPage: '/p2990' });
    expect(now).toEqual(expectedVisits(await stored(projectId, 'u1')));
  });
  /** Sends page views of u1 at the given times (minutes from T0, plus `ms`), the given paths, received at `received` minutes. */
  const sender = (projectId: string) => (minutes: readonly number[], opts: { ms?: number; paths?: readonly string[]; received?: number } = {}) =>
    store.transaction((tx) => tx.ingest(projectId, minutes.map((m, i) => ({
      messageId: `m${++seq}`, type: 'page', name: '$pageview', userId: 'u1', anonymousId: null, previousId: null,
      properties: { path: opts.paths?.[i] ?? '/' }, context: { page: { path: opts.paths?.[i] ?? '/' } }, traits: null,
      timestamp: T0 + m * MINUTE + (opts.ms ?? 0), receivedAt: T0 + (opts.received ?? 9000) * MINUTE,
    })), SESSION));
  const sessionsOf = (out: { events: readonly { name: string; timestamp: number }[] }) => out.events.filter((e) => e.name === '$session').map((e) => (e.timestamp - T0) / MINUTE);

  it('a late event inside a visit changes no visit; one at exactly the timeout from both neighbours joins their visits, one a millisecond further starts its own', async () => {
    const projectId = `visits${++seq}`;
    const send = sender(projectId);
    const minutes = async () => visits(await stored(projectId, 'u1')).map((v) => (v.timestamp - T0) / MINUTE);
    await send([0, 20, 40, 100, 160, 300, 360]);
    expect(await minutes()).toEqual([0, 100, 160, 300, 360]);
    const inside = await send([10, 30]);
    expect(await minutes()).toEqual([0, 100, 160, 300, 360]);
    expect(inside.removedVisits ?? []).toEqual([]);
    expect(sessionsOf(inside)).toEqual([]);
    // 130 is 30 minutes (the timeout, not more) after 100 and before 160: 160 no longer starts a visit.
    const joined = await send([130]);
    expect(await minutes()).toEqual([0, 100, 300, 360]);
    expect(joined.removedVisits?.map((v) => (v.timestamp - T0) / MINUTE)).toEqual([160]);
    expect(sessionsOf(joined)).toEqual([]);
    // 330 min + 1 ms is more than the timeout after 300: a visit of its own; 360 is within the timeout after it and stops starting one.
    const alone = await send([330], { ms: 1, paths: ['/alone'] });
    const now = visits(await stored(projectId, 'u1'));
    expect(now.map((v) => v.timestamp - T0)).toEqual([0, 100 * MINUTE, 300 * MINUTE, 330 * MINUTE + 1]);
    expect(alone.removedVisits?.map((v) => (v.timestamp - T0) / MINUTE)).toEqual([360]);
    expect(alone.events.filter((e) => e.name === '$session').map((e) => e.timestamp - T0)).toEqual([330 * MINUTE + 1]);
    expect(now).toEqual(expectedVisits(await stored(projectId, 'u1')));
  });

  it('a visit a late event starts is the one derived from scratch, in the store and as told to the engine, also when two of its events share the instant', async () => {
    const projectId = `visits${++seq}`;
    const send = sender(projectId);
    await send([100, 110]);
    // Both at 25: the first sent is first in storage order and is the visit's landing; 100 (75 minutes on) and 200 still start theirs.
    const out = await send([25, 25, 200], { paths: ['/first', '/second', '/later'], received: 9500 });
    const events = await stored(projectId, 'u1');
    const expected = expectedVisits(events);
    expect(visits(events)).toEqual(expected);
    expect(expected.map((v) => (v.timestamp - T0) / MINUTE)).toEqual([25, 100, 200]);
    expect(expected[0]!.properties).toMatchObject({ landingPage: '/first' });
    // The engine's copies: the same instants, properties and context as the stored rows.
    const told = out.events.filter((e) => e.name === '$session');
    expect(told.map((e) => ({ timestamp: e.timestamp, properties: e.properties, context: e.context })))
      .toEqual(expected.filter((v) => v.timestamp !== T0 + 100 * MINUTE).map((v) => ({ timestamp: v.timestamp, properties: v.properties, context: v.context })));
  });

  it('a late event at the instant of a stored one that starts a visit leaves that visit as it was (the stored event stays first)', async () => {
    const projectId = `visits${++seq}`;
    const send = sender(projectId);
    await send([0, 50, 120], { paths: ['/a', '/b', '/c'] });
    const out = await send([50], { paths: ['/late'] });
    const now = visits(await stored(projectId, 'u1'));
    expect(now.map((v) => (v.timestamp - T0) / MINUTE)).toEqual([0, 50, 120]);
    expect(now[1]!.properties).toMatchObject({ landingPage: '/b' });
    expect(out.removedVisits ?? []).toEqual([]);
    expect(sessionsOf(out)).toEqual([]);
    expect(now).toEqual(expectedVisits(await stored(projectId, 'u1')));
  });

  it('a late event that changes nothing of the profile leaves its record unwritten (updatedAt stays); one with a newer trait or an earlier first-seen time writes it', async () => {
    const projectId = `visits${++seq}`;
    const send = sender(projectId);
    await send([0, 100], { received: 9000 });
    const first = (await store.findProfile(projectId, 'u1'))!;
    expect(first.updatedAt).toBe(T0 + 9000 * MINUTE);
    await send([50], { received: 9100 });
    const after = (await store.findProfile(projectId, 'u1'))!;
    expect(after).toEqual(first);
    await store.transaction((tx) => tx.ingest(projectId, [{
      messageId: `m${++seq}`, type: 'identify', name: '$identify', userId: 'u1', anonymousId: null, previousId: null,
      properties: {}, context: {}, traits: { plan: 'gold' }, timestamp: T0 + 60 * MINUTE, receivedAt: T0 + 9200 * MINUTE,
    }], SESSION));
    const traited = (await store.findProfile(projectId, 'u1'))!;
    expect(traited.traits).toEqual({ plan: 'gold' });
    expect(traited.updatedAt).toBe(T0 + 9200 * MINUTE);
    await send([-10], { received: 9300 });
    const earlier = (await store.findProfile(projectId, 'u1'))!;
    expect(earlier.firstSeen).toBe(T0 - 10 * MINUTE);
    expect(earlier.updatedAt).toBe(T0 + 9300 * MINUTE);
  });
});

describe.each(backends.filter((b) => b.name === 'sqlite').map((b) => [b.name, b] as const))('event times kept in memory on %s', (_n, backend) => {
  let store: SqlStore;
  beforeAll(async () => { store = await backend.open(); });
  afterAll(async () => { await store?.close(); });
  const page = (projectId: string, minute: number): IngestItem => ({
    messageId: `m${++seq}`, type: 'page', name: '$pageview', userId: 'u1', anonymousId: null, previousId: null,
    properties: { path: '/' }, context: {}, traits: null, timestamp: T0 + minute * MINUTE, receivedAt: T0 + 9000 * MINUTE,
  });
  const minutes = async (projectId: string) => (await store.db.selectFrom('events').select('ts').where('project_id', '=', projectId).where('name', '=', '$session').execute())
    .map((e) => (Number(e.ts) - T0) / MINUTE).sort((a, b) => a - b);

  it('a transaction that fails forgets every kept time, and the next late event reads the history again', async () => {
    const projectId = `kept${++seq}`;
    await store.transaction((tx) => tx.ingest(projectId, [0, 50, 200].map((m) => page(projectId, m)), SESSION));
    const pid = (await store.findProfile(projectId, 'u1'))!.id;
    expect(store.visitTimes!.get(projectId, pid)).toEqual([0, 50, 200].map((m) => T0 + m * MINUTE));
    // A late event joins 0 and 50, then the transaction fails: nothing of it is stored, and the kept times are dropped.
    await expect(store.transaction(async (tx) => {
      await tx.ingest(projectId, [page(projectId, 25)], SESSION);
      throw new Error('boom');
    })).rejects.toThrow('boom');
    expect(store.visitTimes!.get(projectId, pid)).toBeUndefined();
    expect(await minutes(projectId)).toEqual([0, 50, 200]);
    // The same late event again: decided from the rows read back, and the times kept from then on.
    const out = await store.transaction((tx) => tx.ingest(projectId, [page(projectId, 25)], SESSION));
    expect(out.removedVisits?.map((v) => (v.timestamp - T0) / MINUTE)).toEqual([50]);
    expect(await minutes(projectId)).toEqual([0, 200]);
    expect(store.visitTimes!.get(projectId, pid)).toEqual([0, 25, 50, 200].map((m) => T0 + m * MINUTE));
    const next = await store.transaction((tx) => tx.ingest(projectId, [page(projectId, 180)], SESSION));
    expect(next.removedVisits?.map((v) => (v.timestamp - T0) / MINUTE)).toEqual([200]);
    expect(await minutes(projectId)).toEqual([0, 180]);
  });

  it('a merge and an erasure forget the kept times of the profiles they change', async () => {
    const projectId = `kept${++seq}`;
    const anon: IngestItem = { ...page(projectId, 0), userId: null, anonymousId: 'a1' };
    await store.transaction((tx) => tx.ingest(projectId, [page(projectId, 10), anon], SESSION));
    const known = (await store.findProfile(projectId, 'u1'))!.id, anonymous = (await store.findProfile(projectId, 'a1'))!.id;
    expect(known).not.toBe(anonymous);
    expect(store.visitTimes!.get(projectId, anonymous)).toEqual([T0]);
    // u1 identifies on a1's device: a1's profile (and its events) merge into u1's.
    await store.transaction((tx) => tx.ingest(projectId, [{ ...page(projectId, 20), type: 'identify', name: '$identify', anonymousId: 'a1' }], SESSION));
    expect(store.visitTimes!.get(projectId, anonymous)).toBeUndefined();
    expect(store.visitTimes!.get(projectId, known)).toBeUndefined();
    // The survivor's next late event reads its whole history and keeps it (the merged-in event included).
    await store.transaction((tx) => tx.ingest(projectId, [page(projectId, 5)], SESSION));
    expect(store.visitTimes!.get(projectId, known)).toEqual([0, 5, 10, 20].map((m) => T0 + m * MINUTE));
    await store.transaction((tx) => new UserDataStore(tx).erase(projectId, known, T0, { suppress: false }));
    expect(store.visitTimes!.get(projectId, known)).toBeUndefined();
  });

  it('a profile with more own events than may be kept reads the windows around its late events', async () => {
    const projectId = `kept${++seq}`;
    const limit = store.visitTimes!.maxPerProfile;
    await store.transaction((tx) => tx.ingest(projectId, [page(projectId, 0)], SESSION));
    const pid = (await store.findProfile(projectId, 'u1'))!.id;
    store.visitTimes!.clear();
    // limit + 1 events, one a minute from minute 1000 (one visit), sent in time order while not kept.
    for (let i = 0; i <= limit; i += 500) {
      await store.transaction((tx) => tx.ingest(projectId, Array.from({ length: Math.min(500, limit + 1 - i) }, (_, k) => page(projectId, 1000 + i + k)), SESSION));
    }
    const out = await store.transaction((tx) => tx.ingest(projectId, [page(projectId, 990)], SESSION));
    expect(out.removedVisits?.map((v) => (v.timestamp - T0) / MINUTE)).toEqual([1000]);
    expect(store.visitTimes!.get(projectId, pid)).toBeUndefined();
    expect(store.visitTimes!.isLarge(projectId, pid)).toBe(true);
    await store.transaction((tx) => tx.ingest(projectId, [page(projectId, 500)], SESSION));
    expect(await minutes(projectId)).toEqual([0, 500, 990]);
  }, 60_000);
});
