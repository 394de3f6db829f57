import { describe, expect, it } from 'vitest';
import { createStore } from './create-store.ts';
import { postgresReachable } from './postgres.ts';
import { TEST_PG_URL, withTestPgSchema } from './testing/index.ts';
import type { IngestItem } from './types.ts';

/**
 * A user's key looked up for a change made beside the workers (points, a redemption on a process
 * of the api role: `profileKey(…, lock)`): on PostgreSQL it is held until the transaction ends, so
 * that a merge moving the key to another profile waits for the change, and one that went first is
 * what the change reads. Skipped, saying why, without a PostgreSQL server (SQLite has one writer).
 */

const why = (await postgresReachable(TEST_PG_URL)) ? null : `no PostgreSQL server at ${TEST_PG_URL}`;
if (why !== null) console.warn(`skipping the profile key lock test: ${why}`);

const T = Date.UTC(2026, 0, 1);
const item = (over: Partial<IngestItem>): IngestItem => ({
  messageId: `m-${Math.random()}`, type: 'track', name: 'x', userId: null, anonymousId: null, previousId: null,
  properties: {}, context: {}, traits: null, timestamp: T, receivedAt: T, ...over,
});

describe.skipIf(why !== null)('a profile key looked up for a change, on PostgreSQL', () => {
  it('holds the key until the transaction ends: a merge that moves it waits, and the change after it reads the survivor', async () => {
    await withTestPgSchema('profile_key_lock', async (db) => {
      const change = await createStore({ kind: 'postgres', url: db.url });
      const worker = await createStore({ kind: 'postgres', url: db.url });
      try {
        const ingest = (items: IngestItem[]) => worker.transaction((tx) => tx.ingest('p1', items, 30 * 60_000));
        await ingest([item({ userId: 'u1' })]);
        await ingest([item({ anonymousId: 'a2' })]);
        const known = (await worker.findProfile('p1', 'u1'))!.id, anonymous = (await worker.findProfile('p1', 'a2'))!.id;
        let merged = false;
        let merge: Promise<void> = Promise.resolve();
        const seen = await change.transaction(async (tx) => {
          const key = await tx.profileKey('p1', 'a2', true);
          merge = ingest([item({ type: 'identify', name: '$identify', userId: 'u1', anonymousId: 'a2' })]).then(() => { merged = true; });
          await new Promise((r) => setTimeout(r, 500));
          expect(merged).toBe(false);
          return key;
        });
        await merge;
        expect(merged).toBe(true);
        expect(seen).toEqual({ profileId: anonymous, kind: 'a' });
        expect(await change.transaction((tx) => tx.profileKey('p1', 'a2', true))).toEqual({ profileId: known, kind: 'a' });
      } finally {
        await change.close();
        await worker.close();
      }
    });
  }, 60_000);
});
