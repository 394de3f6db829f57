import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Migrator } from 'kysely';
import { migrate, migrationProvider } from './migrations.ts';
import { SqlStore } from './sql-store.ts';
import { openSqlite } from './sqlite.ts';
import { testBackends } from './testing/index.ts';
import { UserDataStore } from './user-data-store.ts';

const backends = await testBackends();
const T = Date.UTC(2024, 5, 15, 12);
const DAY = 86_400_000;

/**
 * The rows the live engine writes for each membership change (membership, history, derived
 * event), written as multi-row statements built from parameters: what they store, read back.
 */
describe.each(backends.map((b) => [b.name, b] as const))('membership change rows on %s', (_n, backend) => {
  let store: SqlStore;
  beforeEach(async () => {
    store = await backend.open();
  });
  afterEach(async () => store.close());

  it('gives history ids in the order of the rows, across statements, and counts them per day', async () => {
    // 613 rows: statements of 500, 64, 32, 16 and 1 rows.
    const rows = Array.from({ length: 613 }, (_, i) => ({
      segmentId: `s${i % 3}`, profileId: 1000 + i, kind: (i % 2 ? 'exited' : 'entered') as 'entered' | 'exited', at: T + (i % 2) * DAY, reason: i % 5 ? 'event' as const : 'time' as const,
    }));
    const ids = await store.transaction((tx) => tx.recordHistory('p1', rows));
    expect(ids).toHaveLength(rows.length);
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1]!);
    const back = await store.history('p1', { segmentId: 's1' }, 1000, null);
    const mine = rows.map((r, i) => ({ id: ids[i]!, ...r })).filter((r) => r.segmentId === 's1').reverse();
    expect(back).toEqual(mine);
    const daily = await store.db.selectFrom('segment_daily').select(['segment_id', 'day', 'entered', 'exited']).where('project_id', '=', 'p1').execute();
    const count = (seg: string, kind: string) => rows.filter((r) => r.segmentId === seg && r.kind === kind).length;
    expect(daily.map((d) => ({ ...d, day: Number(d.day), entered: Number(d.entered), exited: Number(d.exited) })).sort((a, b) => a.segment_id.localeCompare(b.segment_id) || a.day - b.day)).toEqual(
      ['s0', 's1', 's2'].flatMap((s) => [
        { segment_id: s, day: Math.floor(T / DAY), entered: count(s, 'entered'), exited: 0 },
        { segment_id: s, day: Math.floor(T / DAY) + 1, entered: 0, exited: count(s, 'exited') },
      ]),
    );
  });

  it('never gives a history id twice, also once the entries holding the latest ids are erased', async () => {
    // History ids name webhook messages (`webhook-id`); a receiver drops a message whose id it has seen.
    const ingest = (userId: string) => store.transaction((tx) => tx.ingest('p1', [{
      messageId: `m-${userId}`, type: 'track', name: 'x', userId, anonymousId: null, previousId: null,
      properties: {}, context: {}, traits: null, timestamp: T, receivedAt: T,
    }], 30 * 60_000));
    await ingest('kept');
    await ingest('erased');
    const kept = (await store.findProfile('p1', 'kept'))!.id, erased = (await store.findProfile('p1', 'erased'))!.id;
    const change = (profileId: number, at: number) => ({ segmentId: 's', profileId, kind: 'entered' as const, at, reason: 'event' as const });
    const first = await store.transaction((tx) => tx.recordHistory('p1', [change(kept, T), change(erased, T + 1), change(erased, T + 2)]));
    await store.transaction((tx) => new UserDataStore(tx).erase('p1', erased, T + 3, { suppress: false }));
    // A failed transaction hands out nothing for good either.
    await expect(store.transaction(async (tx) => {
      await tx.recordHistory('p1', [change(kept, T + 4)]);
      throw new Error('rolled back');
    })).rejects.toThrow('rolled back');
    const next = await store.transaction((tx) => tx.recordHistory('p1', [change(kept, T + 5), change(kept, T + 6)]));
    expect(next[0]).toBeGreaterThan(Math.max(...first));
    expect(next[1]).toBe(next[0]! + 1);
    const back = await store.history('p1', { segmentId: 's' }, 10, null);
    expect(back.map((h) => ({ id: h.id, at: h.at }))).toEqual([{ id: next[1], at: T + 6 }, { id: next[0], at: T + 5 }, { id: first[0], at: T }]);
  });

  it('gives distinct ids to history written at once outside a transaction', async () => {
    const change = (profileId: number) => ({ segmentId: 's', profileId, kind: 'entered' as const, at: T, reason: 'event' as const });
    const [a, b] = await Promise.all([store.recordHistory('p1', [change(1), change(2)]), store.recordHistory('p1', [change(3)])]);
    expect(new Set([...a, ...b]).size).toBe(3);
    const back = await store.history('p1', { segmentId: 's' }, 10, null);
    expect(back.map((h) => h.id).sort((x, y) => x - y)).toEqual([...a, ...b].sort((x, y) => x - y));
  });

  // SQLite's own sequence (PostgreSQL's is the database's: rows written with ids of their own must move it, as with any sequence).
  it.runIf(backend.name === 'sqlite')('steps over history rows written by other means than Strata\'s own writes', async () => {
    const change = (profileId: number) => ({ segmentId: 's', profileId, kind: 'entered' as const, at: T, reason: 'event' as const });
    const [first] = await store.transaction((tx) => tx.recordHistory('p1', [change(1)]));
    // A script (or a copy restored from elsewhere) adds rows with ids of its own.
    await store.db.insertInto('membership_history').values({ id: first! + 10, project_id: 'p1', segment_id: 's', profile_id: 2, kind: 'entered', at: T, reason: 'event' } as never).execute();
    const next = await store.transaction((tx) => tx.recordHistory('p1', [change(3)]));
    expect(next[0]).toBeGreaterThan(first! + 10);
  });

  it('adds memberships once (a repeat keeps the first since) and removes them', async () => {
    await store.transaction((tx) => tx.applyMembershipChanges('p1', [
      { segmentId: 'a', profileId: 1, since: T }, { segmentId: 'a', profileId: 2, since: T }, { segmentId: 'b', profileId: 1, since: T },
    ], []));
    await store.transaction((tx) => tx.applyMembershipChanges('p1', [{ segmentId: 'a', profileId: 1, since: T + 5 }, { segmentId: 'b', profileId: 3, since: T + 5 }], [{ segmentId: 'a', profileId: 2 }]));
    const all = (await store.allMemberships('p1')).sort((x, y) => x.segmentId.localeCompare(y.segmentId) || x.profileId - y.profileId);
    expect(all).toEqual([
      { segmentId: 'a', profileId: 1, since: T },
      { segmentId: 'b', profileId: 1, since: T },
      { segmentId: 'b', profileId: 3, since: T + 5 },
    ]);
  });

  it('stores derived events with an empty context, received when derived (never before their own time)', async () => {
    await store.transaction((tx) => tx.ingest('p1', [{
      messageId: 'm1', type: 'track', name: 'x', userId: 'u1', anonymousId: null, previousId: null,
      properties: {}, context: { locale: 'en-GB' }, traits: null, timestamp: T, receivedAt: T,
    }], 30 * 60_000));
    const profile = (await store.findProfile('p1', 'u1'))!;
    await store.transaction((tx) => tx.insertDerivedEvents('p1', [
      { profileId: profile.id, name: '$segment_entered', properties: { segmentId: 's', segmentName: 'S', reason: 'event' }, timestamp: T + 10 },
      { profileId: profile.id, name: '$segment_exited', properties: { segmentId: 's', segmentName: 'S', reason: 'time' }, timestamp: T + 50 },
    ], T + 20));
    const events = (await store.profileEvents('p1', profile.id, 10)).filter((e) => e.name.startsWith('$segment'));
    expect(events.map((e) => ({ name: e.name, type: e.type, messageId: e.messageId, timestamp: e.timestamp, receivedAt: e.receivedAt, properties: e.properties, context: e.context }))).toEqual([
      { name: '$segment_exited', type: 'derived', messageId: null, timestamp: T + 50, receivedAt: T + 50, properties: { segmentId: 's', segmentName: 'S', reason: 'time' }, context: {} },
      { name: '$segment_entered', type: 'derived', messageId: null, timestamp: T + 10, receivedAt: T + 20, properties: { segmentId: 's', segmentName: 'S', reason: 'event' }, context: {} },
    ]);
    // The ingested event's context is its own row; the derived ones share the empty context's.
    const contexts = await store.db.selectFrom('contexts').select('json').where('project_id', '=', 'p1').execute();
    expect(contexts.map((c) => (typeof c.json === 'string' ? JSON.parse(c.json) : c.json)).sort((a, b) => Object.keys(a).length - Object.keys(b).length)).toEqual([{}, { locale: 'en-GB' }]);
  });
});

describe('history ids on a SQLite store made before they were kept (migration 0023)', () => {
  it('go on above the highest id the database held, even once those entries are deleted', async () => {
    const { db } = openSqlite({ filename: ':memory:' });
    try {
      const migrator = new Migrator({ db, provider: migrationProvider('sqlite'), migrationTableName: 'strata_migrations', migrationLockTableName: 'strata_migrations_lock', allowUnorderedMigrations: true });
      const before = await migrator.migrateTo('0022_store_identity');
      expect(before.error).toBeUndefined();
      const old = Array.from({ length: 5 }, (_, i) => ({ project_id: 'p1', segment_id: 's', profile_id: 1 + (i % 2), kind: 'entered' as const, at: T + i, reason: 'event' as const }));
      await db.insertInto('membership_history').values(old).execute();
      await migrate(db, 'sqlite');
      // The newest entries go (an erasure), then the next change comes.
      await db.deleteFrom('membership_history').where('id', '>', 2).execute();
      const store = new SqlStore(db, 'sqlite');
      const ids = await store.transaction((tx) => tx.recordHistory('p1', [{ segmentId: 's', profileId: 1, kind: 'exited', at: T + 9, reason: 'event' }]));
      expect(ids).toEqual([6]);
    } finally {
      await db.destroy();
    }
  });
});
