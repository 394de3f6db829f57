import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Json } from '@strata/core';
import type { IngestItem, SqlStore } from '@strata/store';
import { testBackends } from '@strata/store/testing';
import { LiveEngine } from './live-engine.ts';
import { newId } from './ids.ts';

const backends = await testBackends();
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 5, 15, 12);

let seq = 0;
const item = (over: Partial<IngestItem> & Pick<IngestItem, 'name' | 'timestamp'>): IngestItem => ({
  messageId: `a${++seq}`, type: 'track', userId: null, anonymousId: null, previousId: null, properties: {}, context: {}, traits: null,
  receivedAt: over.timestamp, ...over,
});

/**
 * A new segment is added to the engine's state on its own (LiveEngine.appendSegments), not by
 * reading and compiling every segment again: what it holds afterwards must be what a fresh
 * engine loading the same store holds — rows in store order, membership, sizes.
 */
describe.each(backends.map((b) => [b.name, b] as const))('segments added one by one on %s', (_n, backend) => {
  let store: SqlStore;
  beforeAll(async () => { store = await backend.open(); });
  afterAll(async () => { await store?.close(); });

  it('leave the engine as a fresh load of the store leaves it', async () => {
    const projectId = `append${++seq}`;
    await store.createProject({ id: projectId, name: projectId, writeKey: `wk_${projectId}`, adminToken: `at_${projectId}`, now: T0 });
    const clock = { t: T0, now() { return this.t; } };
    const engine = new LiveEngine(store, clock);
    await engine.start(0);
    await engine.write(async (tx) => {
      const items: IngestItem[] = [];
      for (let u = 1; u <= 40; u++) {
        items.push(item({ type: 'identify', name: '$identify', userId: `u${u}`, traits: { plan: ['free', 'pro', 'vip'][u % 3], score: u }, context: { locale: u % 2 ? 'en-GB' : 'de-DE' }, timestamp: T0 - 40 * DAY }));
        for (let k = 0; k < u % 5; k++) items.push(item({ name: 'purchase', userId: `u${u}`, properties: { revenue: 10 * u }, timestamp: T0 - (u + k) * DAY }));
        if (u % 4 === 0) items.push(item({ name: '$pageview', userId: `u${u}`, properties: { path: '/pricing' }, timestamp: T0 - u * 3_600_000 }));
      }
      await engine.applyIngest(tx, projectId, await tx.ingest(projectId, items, 30 * 60_000), clock.now());
    });
    const u3 = (await store.findProfile(projectId, 'u3'))!.id;
    const create = async (condition: Json | null, opts: { include?: number[]; sameInstant?: boolean } = {}) => {
      if (!opts.sameInstant) clock.t += 1000;
      const id = newId('seg');
      await engine.write(async (tx) => {
        await tx.insertSegment({ id, projectId, name: id, description: '', condition, template: null, params: null, createdAt: clock.now(), updatedAt: clock.now() });
        if (opts.include) await tx.replaceManual(projectId, id, opts.include, []);
        await engine.segmentsChanged(tx, projectId, [id], clock.now());
      });
      return id;
    };
    const vip = await create({ attr: 'traits.plan', op: 'eq', value: 'vip' });
    const buyers = await create({ event: 'purchase', window: { within: '14d' } });
    await create({ event: 'purchase', agg: { fn: 'sum', prop: 'properties.revenue' }, cmp: { op: 'gte', value: 300 } });
    await create({ all: [{ segment: vip }, { not: { segment: buyers } }] });
    await create({ attr: 'context.locale', op: 'starts_with', value: 'en' }, { include: [u3] });
    await create({ event: '$pageview', where: [{ attr: 'properties.path', op: 'eq', value: '/pricing' }], window: { within: '1d' } });
    await create({ attr: 'traits.score', op: 'gte', value: 30 }, { sameInstant: true });
    await create(null, { include: [u3] });
    for (let i = 0; i < 40; i++) await create({ attr: 'traits.score', op: 'between', value: [i, i + 5] });

    const rows = await store.listSegments(projectId);
    expect((await engine.segmentRows(store, projectId)).map((r) => r.id)).toEqual(rows.map((r) => r.id));
    const fresh = new LiveEngine(store, clock);
    await fresh.load(projectId);
    expect(new Map(engine.sizes(projectId))).toEqual(new Map(fresh.sizes(projectId)));
    expect([...engine.sizes(projectId)!.values()].some((n) => n > 0)).toBe(true);
    for (const p of await store.scanProfiles(projectId, 0, 1000)) {
      expect(engine.segmentsOf(projectId, p.id).sort(), `profile ${p.userId}`).toEqual(fresh.segmentsOf(projectId, p.id).sort());
    }
    const stored = await store.allMemberships(projectId);
    for (const r of rows) expect(engine.members(projectId, r.id).size, r.id).toBe(stored.filter((m) => m.segmentId === r.id).length);
    // Kept sizes and a count from the bits agree (the saved segment's overlap reads the kept ones).
    const sizes = fresh.sizes(projectId)!;
    for (const r of rows) {
      const o = engine.overlapWith(projectId, r.id)!;
      expect(o.count).toBe(engine.members(projectId, r.id).size);
      for (const [id, n] of o.sizes) expect(n, `size of ${id} seen from ${r.id}`).toBe(sizes.get(id));
    }
    await engine.stop();
  });
});
