import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImportStore } from './import-store.ts';
import { ProfileRecords, type KeptRecord } from './profile-records.ts';
import type { SqlStore } from './sql-store.ts';
import { UserDataStore } from './user-data-store.ts';
import { testBackends } from './testing/index.ts';
import type { IngestItem } from './types.ts';

const backends = await testBackends();
const SESSION = 30 * 60_000;
const T0 = Date.UTC(2024, 5, 15, 12);
let seq = 0;

function item(userId: string, minute: number, traits: IngestItem['traits'] = null): IngestItem {
  return {
    messageId: `m${++seq}`, type: traits ? 'identify' : 'track', name: traits ? '$identify' : 'view', userId, anonymousId: null, previousId: null,
    properties: {}, context: { locale: 'en' }, traits, timestamp: T0 + minute * 60_000, receivedAt: T0 + 1000 * 60_000,
  };
}

const record = (userId: string): KeptRecord => ({
  userId, anonymousId: null, traits: {}, traitsAt: {}, context: {}, contextAt: null, labels: [], firstSeen: null, lastSeen: null, createdAt: 0,
});

describe('ProfileRecords', () => {
  it('keeps at most `max` records, the least recently used going first', () => {
    const kept = new ProfileRecords(2);
    kept.put('p', 1, record('a'));
    kept.put('p', 2, record('b'));
    expect(kept.get('p', 1)?.userId).toBe('a');
    kept.put('p', 3, record('c'));
    expect(kept.get('p', 2)).toBeUndefined();
    expect(kept.get('p', 1)?.userId).toBe('a');
    expect(kept.get('p', 3)?.userId).toBe('c');
    expect(kept.size).toBe(2);
  });

  it('forgets one profile, or every profile of one project', () => {
    const kept = new ProfileRecords();
    kept.put('p', 1, record('a'));
    kept.put('p', 2, record('b'));
    kept.put('q', 1, record('c'));
    kept.forget('p', 2);
    expect(kept.get('p', 2)).toBeUndefined();
    kept.forgetProject('p');
    expect(kept.get('p', 1)).toBeUndefined();
    expect(kept.get('q', 1)?.userId).toBe('c');
  });

  it('keeps the ids naming a kept profile only while its record is kept', () => {
    const kept = new ProfileRecords(2);
    kept.keepId('p', 'u:a', 1);
    expect(kept.profileOf('p', 'u:a'), 'no record kept: no id either').toBeUndefined();
    kept.put('p', 1, record('a'));
    kept.put('p', 2, record('b'));
    kept.keepId('p', 'u:a', 1);
    kept.keepId('p', 'a:x', 1);
    kept.keepId('p', 'u:b', 2);
    expect([kept.profileOf('p', 'u:a'), kept.profileOf('p', 'a:x'), kept.profileOf('q', 'u:a')]).toEqual([1, 1, undefined]);
    kept.forget('p', 1);
    expect([kept.profileOf('p', 'u:a'), kept.profileOf('p', 'a:x'), kept.profileOf('p', 'u:b')]).toEqual([undefined, undefined, 2]);
    // Pushed out by newer records: its ids go with it.
    kept.put('p', 3, record('c'));
    kept.put('p', 4, record('d'));
    expect(kept.profileOf('p', 'u:b')).toBeUndefined();
  });

  it('keeps a bounded number of ids per profile: a kept profile named by ever new anonymous ids does not grow memory without end', () => {
    const kept = new ProfileRecords(2);
    kept.put('p', 1, record('a'));
    // One user identified with a fresh anonymousId per session, its record always recently used.
    for (let i = 0; i < 10_000; i++) kept.keepId('p', `a:s${i}`, 1);
    expect(kept.idCount).toBeLessThanOrEqual(kept.maxIdsPerProfile);
    // An id not kept is looked up in the store: never left naming another profile.
    kept.put('p', 2, record('b'));
    kept.keepId('p', 'a:y', 2);
    for (let i = 0; i < kept.maxIdsPerProfile; i++) kept.keepId('p', `a:t${i}`, 1);
    kept.keepId('p', 'a:y', 1);
    expect(kept.profileOf('p', 'a:y')).not.toBe(2);
  });

  it('an id that came to name another profile (an alias) stays with it when the first is forgotten', () => {
    const kept = new ProfileRecords();
    kept.put('p', 1, record('a'));
    kept.put('p', 2, record('b'));
    kept.keepId('p', 'a:x', 1);
    kept.keepId('p', 'a:x', 2);
    kept.forget('p', 1);
    expect(kept.profileOf('p', 'a:x')).toBe(2);
    kept.forgetProject('p');
    expect(kept.profileOf('p', 'a:x')).toBeUndefined();
  });
});

// Ingest writes a profile's whole record back from what it holds: a kept record that missed a
// change made elsewhere would write the change away. On PostgreSQL nothing is kept; the same
// expectations hold there.
describe.each(backends.map((b) => [b.name, b] as const))('kept profile records stay what is stored, on %s', (_n, backend) => {
  let store: SqlStore;
  beforeAll(async () => { store = await backend.open(); });
  afterAll(async () => { await store?.close(); });

  const profile = async (projectId: string, userId: string) => (await store.findProfile(projectId, userId))!;

  it('labels set outside ingest survive the next batch of the profile', async () => {
    const projectId = `records${++seq}`;
    await store.transaction((tx) => tx.ingest(projectId, [item('u1', 0, { plan: 'free' })], SESSION));
    const { id } = await profile(projectId, 'u1');
    await store.updateLabels(projectId, id, ['vip'], [], T0);
    await store.transaction((tx) => tx.ingest(projectId, [item('u1', 10, { plan: 'pro' })], SESSION));
    const p = await profile(projectId, 'u1');
    expect(p.labels).toEqual(['vip']);
    expect(p.traits).toEqual({ plan: 'pro' });
  });

  it('traits an import changed survive the next batch of the profile', async () => {
    const projectId = `records${++seq}`;
    await store.transaction((tx) => tx.ingest(projectId, [item('u1', 0, { plan: 'free' })], SESSION));
    await store.transaction((tx) => new ImportStore(tx).upsertUsers(projectId, [{ userId: 'u1', traits: { country: 'FR' }, labels: ['imported'] }], T0));
    await store.transaction((tx) => tx.ingest(projectId, [item('u1', 10)], SESSION));
    const p = await profile(projectId, 'u1');
    expect(p.traits).toEqual({ plan: 'free', country: 'FR' });
    expect(p.labels).toEqual(['imported']);
  });

  it('what a failed transaction ingested is not brought back by the next batch', async () => {
    const projectId = `records${++seq}`;
    await store.transaction((tx) => tx.ingest(projectId, [item('u1', 0, { plan: 'free' })], SESSION));
    await expect(store.transaction(async (tx) => {
      await tx.ingest(projectId, [item('u1', 5, { plan: 'rolled back' })], SESSION);
      throw new Error('the transaction fails after ingest');
    })).rejects.toThrow('the transaction fails');
    await store.transaction((tx) => tx.ingest(projectId, [item('u1', 10)], SESSION));
    const p = await profile(projectId, 'u1');
    expect(p.traits).toEqual({ plan: 'free' });
    expect(p.lastSeen).toBe(T0 + 10 * 60_000);
  });

  const anon = (anonymousId: string, minute: number, userId: string | null = null): IngestItem => ({
    ...item('x', minute), userId, anonymousId, ...(userId ? { type: 'identify', name: '$identify', traits: {} } : {}),
  });

  it('an anonymous id merged into a known profile names the known one in the next batch', async () => {
    const projectId = `records${++seq}`;
    await store.transaction((tx) => tx.ingest(projectId, [anon('a1', 0)], SESSION));
    await store.transaction((tx) => tx.ingest(projectId, [item('u1', 1)], SESSION));
    const known = (await profile(projectId, 'u1')).id;
    await store.transaction((tx) => tx.ingest(projectId, [anon('a1', 2, 'u1')], SESSION));
    const next = await store.transaction((tx) => tx.ingest(projectId, [anon('a1', 3)], SESSION));
    expect([...next.touched]).toEqual([known]);
    expect(await store.countProfiles(projectId)).toBe(1);
  });

  it('an erased user who comes back gets a new profile, and the erased id names nothing', async () => {
    const projectId = `records${++seq}`;
    await store.transaction((tx) => tx.ingest(projectId, [item('u1', 0, { plan: 'free' })], SESSION));
    const erased = (await profile(projectId, 'u1')).id;
    await store.transaction((tx) => new UserDataStore(tx).erase(projectId, erased, T0, { suppress: false }));
    const back = await store.transaction((tx) => tx.ingest(projectId, [item('u1', 10)], SESSION));
    const p = await profile(projectId, 'u1');
    expect([...back.touched]).toEqual([p.id]);
    expect(p.traits).toEqual({});
    expect(await store.countProfiles(projectId)).toBe(1);
  });

  it('a profile a failed transaction created is created again by the next batch', async () => {
    const projectId = `records${++seq}`;
    await store.transaction((tx) => tx.ingest(projectId, [item('u0', 0)], SESSION));
    await expect(store.transaction(async (tx) => {
      await tx.ingest(projectId, [item('u1', 5, { plan: 'rolled back' })], SESSION);
      throw new Error('the transaction fails after ingest');
    })).rejects.toThrow('the transaction fails');
    const again = await store.transaction((tx) => tx.ingest(projectId, [item('u1', 10)], SESSION));
    const p = await profile(projectId, 'u1');
    expect([...again.touched]).toEqual([p.id]);
    expect(p).toMatchObject({ traits: {}, firstSeen: T0 + 10 * 60_000 });
    expect(await store.countProfiles(projectId)).toBe(2);
  });

  it('a late event leaves the kept record as stored, and a later batch reads it so', async () => {
    const projectId = `records${++seq}`;
    await store.transaction((tx) => tx.ingest(projectId, [item('u1', 60, { plan: 'free' })], SESSION));
    const late = await store.transaction((tx) => tx.ingest(projectId, [item('u1', 0)], SESSION));
    expect(late.records[0]).toMatchObject({ firstSeen: T0, lastSeen: T0 + 60 * 60_000, traits: { plan: 'free' } });
    // Older than the context and the last-seen time, but earlier than firstSeen: the record changed.
    expect([...late.unchanged!]).toEqual([]);
    const inside = await store.transaction((tx) => tx.ingest(projectId, [item('u1', 30)], SESSION));
    // Between firstSeen and lastSeen, no traits: the engine's copy of the record needs no comparison.
    expect([...inside.unchanged!]).toEqual([inside.records[0]!.id]);
    const later = await store.transaction((tx) => tx.ingest(projectId, [item('u1', 90, { seats: 3 })], SESSION));
    expect([...later.unchanged!]).toEqual([]);
    const p = await profile(projectId, 'u1');
    expect(p).toMatchObject({ firstSeen: T0, lastSeen: T0 + 90 * 60_000, traits: { plan: 'free', seats: 3 } });
  });
});
