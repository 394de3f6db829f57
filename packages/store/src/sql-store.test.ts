import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqlStore } from './sql-store.ts';
import { testBackends } from './testing/index.ts';
import type { IngestItem } from './types.ts';

const backends = await testBackends();
const T = Date.UTC(2024, 5, 15, 12);

const item = (over: Partial<IngestItem>): IngestItem => ({
  messageId: `m-${Math.random()}`, type: 'track', name: 'x', userId: 'u1', anonymousId: null, previousId: null,
  properties: {}, context: {}, traits: null, timestamp: T, receivedAt: T, ...over,
});

describe.each(backends.map((b) => [b.name, b] as const))('SqlStore on %s', (_n, backend) => {
  let store: SqlStore;
  beforeEach(async () => {
    store = await backend.open();
  });
  afterEach(async () => store.close());

  it('never gives a new profile the id of one merged away', async () => {
    const ingest = (items: IngestItem[]) => store.transaction((tx) => tx.ingest('p1', items, 30 * 60_000));
    await ingest([item({ userId: 'u1' })]);
    await ingest([item({ userId: null, anonymousId: 'a2' })]);
    const merged = (await store.findProfile('p1', 'a2'))!.id;
    await ingest([item({ type: 'identify', name: '$identify', userId: 'u1', anonymousId: 'a2' })]);
    expect((await store.findProfile('p1', 'a2'))!.userId).toBe('u1');
    await ingest([item({ userId: null, anonymousId: 'a3' })]);
    expect((await store.findProfile('p1', 'a3'))!.id).toBeGreaterThan(merged);
  });

  it('numbers the profiles one batch creates in the order they were created, also around a merge within the batch', async () => {
    // On PostgreSQL a batch's new profiles draw their ids together (IngestStore.numberNew): the
    // ids, rows and keys must be those of one profile created after the other.
    const ingest = (items: IngestItem[]) => store.transaction((tx) => tx.ingest('p1', items, 30 * 60_000));
    await ingest([item({ userId: 'u0' })]);
    const first = (await store.findProfile('p1', 'u0'))!.id;
    await ingest([
      item({ userId: 'u1', timestamp: T + 1000 }),
      item({ userId: null, anonymousId: 'a1', name: 'seen', timestamp: T + 2000 }),
      // Merges the profile made for a1 two items ago into u0 (its id is drawn, then deleted).
      item({ type: 'identify', name: '$identify', userId: 'u0', anonymousId: 'a1', timestamp: T + 3000 }),
      item({ userId: null, anonymousId: 'a2', timestamp: T + 4000 }),
      item({ type: 'identify', name: '$identify', userId: 'u3', anonymousId: 'a3', traits: { plan: 'pro' }, timestamp: T + 5000 }),
    ]);
    const u1 = (await store.findProfile('p1', 'u1'))!;
    expect(u1.id).toBe(first + 1);
    expect([u1.firstSeen, u1.lastSeen]).toEqual([T + 1000, T + 1000]);
    expect((await store.findProfile('p1', 'a1'))!.id).toBe(first);
    expect((await store.findProfile('p1', 'a2'))!.id).toBe(first + 3);
    const u3 = (await store.findProfile('p1', 'a3'))!;
    expect([u3.id, u3.userId, u3.anonymousId, u3.traits]).toEqual([first + 4, 'u3', 'a3', { plan: 'pro' }]);
    expect((await store.findProfile('p1', 'u3'))!.id).toBe(first + 4);
    expect(await store.countProfiles('p1')).toBe(4);
    const ofU0 = await store.profileEvents('p1', first, 20);
    expect(ofU0.filter((e) => e.name === 'seen').map((e) => e.timestamp)).toEqual([T + 2000]);
    const owners = await store.db.selectFrom('events').select('profile_id').where('project_id', '=', 'p1').execute();
    expect([...new Set(owners.map((o) => Number(o.profile_id)))].sort((a, b) => a - b)).toEqual([first, first + 1, first + 3, first + 4]);
  });

  it('stores the shared part of equal contexts once and gives every event its whole context back', async () => {
    const device = { device: { type: 'mobile' }, locale: 'en-GB', userAgent: 'UA' };
    await store.transaction((tx) => tx.ingest('p1', [
      item({ context: { ...device, page: { path: '/a' } }, timestamp: T }),
      item({ context: { ...device, page: { path: '/b' }, campaign: { source: 'mail' } }, timestamp: T + 1000 }),
      item({ context: { ...device }, timestamp: T + 2000 }),
    ], 30 * 60_000));
    await store.transaction((tx) => tx.ingest('p2', [item({ userId: 'other', context: { ...device } })], 30 * 60_000));
    const shared = await store.db.selectFrom('contexts').select(['project_id']).execute();
    expect(shared.map((r) => r.project_id).sort()).toEqual(['p1', 'p2']);
    const profile = await store.findProfile('p1', 'u1');
    const events = await store.profileEvents('p1', profile!.id, 10);
    const byTime = events.filter((e) => e.name === 'x').sort((a, b) => a.timestamp - b.timestamp);
    expect(byTime.map((e) => e.context)).toEqual([
      { ...device, page: { path: '/a' } },
      { ...device, page: { path: '/b' }, campaign: { source: 'mail' } },
      { ...device },
    ]);
    const [withEvents] = await store.profilesWithEvents('p1', [profile!.id]);
    expect(withEvents!.events.filter((e) => e.name === 'x').map((e) => e.context).sort((a, b) => JSON.stringify(a).length - JSON.stringify(b).length)[2])
      .toEqual({ ...device, page: { path: '/b' }, campaign: { source: 'mail' } });
    expect(profile!.context).toEqual({ ...device });
  });

  it('does not reuse a context id from a transaction that rolled back', async () => {
    const ctx = { device: { type: 'tablet' } };
    await expect(store.transaction(async (tx) => {
      await tx.ingest('p1', [item({ context: ctx })], 30 * 60_000);
      throw new Error('abort');
    })).rejects.toThrow('abort');
    await store.transaction((tx) => tx.ingest('p1', [item({ context: ctx, messageId: 'again' })], 30 * 60_000));
    const profile = await store.findProfile('p1', 'u1');
    const events = await store.profileEvents('p1', profile!.id, 10);
    expect(events.find((e) => e.name === 'x')!.context).toEqual(ctx);
  });
});
