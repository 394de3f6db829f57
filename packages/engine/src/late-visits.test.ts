import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Json } from '@strata/core';
import type { IngestItem, SqlStore } from '@strata/store';
import { testBackends } from '@strata/store/testing';
import { LiveEngine } from './live-engine.ts';

const backends = await testBackends();
const MINUTE = 60_000;
const SESSION = 30 * MINUTE;
const T0 = Date.UTC(2024, 5, 15, 12);

let seq = 0;
const page = (minute: number, path = '/'): IngestItem => ({
  messageId: `late${++seq}`, type: 'page', name: '$pageview', userId: 'u1', anonymousId: null, previousId: null,
  properties: { path }, context: {}, traits: null, timestamp: T0 + minute * MINUTE, receivedAt: T0 + 300 * MINUTE,
});

describe.each(backends.map((b) => [b.name, b] as const))('late events and the engine\'s visits on %s', (_n, backend) => {
  let store: SqlStore;
  beforeAll(async () => { store = await backend.open(); });
  afterAll(async () => { await store?.close(); });

  it('a late event that joins two visits, or starts one earlier, changes the memberships that read visits at once', async () => {
    const projectId = `late${++seq}`;
    const clock = { now: () => T0 + 300 * MINUTE };
    const engine = new LiveEngine(store, clock);
    await engine.start(0);
    const ingest = (items: IngestItem[]) => engine.write(async (tx) => {
      await engine.applyIngest(tx, projectId, await tx.ingest(projectId, items, SESSION), clock.now());
    });
    await engine.write(async (tx) => {
      for (const [id, condition] of [
        ['two_visits', { event: '$session', cmp: { op: 'gte', value: 2 } }],
        ['landed_on_pricing', { event: '$session', where: [{ attr: 'properties.landingPage', op: 'eq', value: '/pricing' }] }],
      ] as const) {
        await tx.insertSegment({ id, projectId, name: id, description: '', condition: condition as Json, template: null, params: null, createdAt: clock.now(), updatedAt: clock.now() });
        await engine.segmentsChanged(tx, projectId, [id], clock.now());
      }
    });
    const members = (segment: string) => [...engine.members(projectId, segment).keys()].length;
    await ingest([page(0), page(50)]);
    expect(members('two_visits')).toBe(1);
    await ingest([page(25)]);
    // 0, 25 and 50 are one visit now: the engine drops the visit that started at 50.
    expect(members('two_visits')).toBe(0);
    await ingest([page(100)]);
    expect(members('two_visits')).toBe(1);
    expect(members('landed_on_pricing')).toBe(0);
    await ingest([page(85, '/pricing')]);
    // 85 starts a visit (35 minutes after 50) that now holds 100: the visit lands on /pricing.
    expect(members('landed_on_pricing')).toBe(1);
    expect(members('two_visits')).toBe(1);
    const all = await store.profileEvents(projectId, (await store.findProfile(projectId, 'u1'))!.id, 100);
    expect(all.filter((e) => e.name === '$session').map((e) => (e.timestamp - T0) / MINUTE).sort((a, b) => a - b)).toEqual([0, 85]);
    await engine.stop();
  });
});
