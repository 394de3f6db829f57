import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createStore } from './create-store.ts';
import { postgresReachable } from './postgres.ts';
import { TEST_PG_URL, withTestPgSchema } from './testing/index.ts';

/**
 * A partition worker's store (`idleInTransactionMs`): a session that sits idle inside a transaction
 * past the limit — a worker frozen in the middle of one — is ended by PostgreSQL, its transaction
 * rolled back and its locks freed for the worker that takes its partitions over. Skipped, saying
 * why, without a PostgreSQL server.
 */

const why = (await postgresReachable(TEST_PG_URL)) ? null : `no PostgreSQL server at ${TEST_PG_URL}`;
if (why !== null) console.warn(`skipping the idle transaction test: ${why}`);

describe.skipIf(why !== null)('a store whose sessions may not idle inside a transaction', () => {
  it('loses a transaction left idle past the limit, and its locks go to whoever waits for them', async () => {
    await withTestPgSchema('idle_tx', async (db) => {
      const frozen = await createStore({ kind: 'postgres', url: db.url, idleInTransactionMs: 500 });
      const next = await createStore({ kind: 'postgres', url: db.url });
      try {
        let failed: unknown = null;
        const stalled = frozen.transaction(async (tx) => {
          await sql`SELECT pg_advisory_xact_lock(hashtext(current_schema()), 7)`.execute(tx.db);
          await new Promise((r) => setTimeout(r, 1_500));
          await sql`SELECT 1`.execute(tx.db);
        }).catch((e: unknown) => { failed = e; });
        await new Promise((r) => setTimeout(r, 100));
        const began = Date.now();
        await next.transaction((tx) => sql`SELECT pg_advisory_xact_lock(hashtext(current_schema()), 7)`.execute(tx.db));
        // Taken once the idle session was ended (about 500 ms in), not when the frozen transaction would have gone on.
        expect(Date.now() - began).toBeLessThan(1_300);
        await stalled;
        expect(failed).not.toBeNull();
        // The store goes on with a new session.
        expect((await sql<{ one: number }>`SELECT 1 AS one`.execute(frozen.db)).rows[0]!.one).toBe(1);
      } finally {
        await frozen.close();
        await next.close();
      }
    });
  }, 30_000);
});
