import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.ts';

// BIGINT columns hold epoch milliseconds and ids: both fit a double exactly.
pg.types.setTypeParser(20, (v: string) => Number(v));

/** Opens the PostgreSQL store on a connection pool. */
export function openPostgres(connectionString: string, poolSize = 10): Kysely<Database> {
  const pool = new pg.Pool({ connectionString, max: poolSize });
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** True when a PostgreSQL server answers at the URL within a second. */
export async function postgresReachable(connectionString: string): Promise<boolean> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}
