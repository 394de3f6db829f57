import { randomBytes } from 'node:crypto';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { openPglite } from '../pglite.ts';
import { postgresReachable } from '../postgres.ts';
import type { Database } from '../schema.ts';
import { SqlStore } from '../sql-store.ts';
import { openSqlite } from '../sqlite.ts';

export interface TestBackend {
  readonly name: string;
  /** A fresh, migrated, empty store; close it when done. */
  open(): Promise<SqlStore>;
}

/** The PostgreSQL server tests use: STRATA_TEST_DATABASE_URL, else the machine's local server. */
export const TEST_PG_URL = process.env.STRATA_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let pgAvailable: Promise<boolean> | undefined;

/**
 * The stores every store-level suite runs against: SQLite in memory, and PostgreSQL — the
 * real server when one answers (each store in a schema of its own, dropped on close), else
 * PGlite in process, with a line saying so.
 */
export async function testBackends(): Promise<TestBackend[]> {
  pgAvailable ??= postgresReachable(TEST_PG_URL).then((ok) => {
    if (!ok) console.warn(`[strata tests] no PostgreSQL server at ${TEST_PG_URL}: running the PostgreSQL suites on PGlite (in-process PostgreSQL)`);
    return ok;
  });
  const real = await pgAvailable;
  return [
    { name: 'sqlite', open: openTestSqlite },
    { name: real ? 'postgres' : 'postgres (pglite)', open: real ? openTestPostgres : openTestPglite },
  ];
}

export async function openTestSqlite(): Promise<SqlStore> {
  const store = new SqlStore(openSqlite({ filename: ':memory:' }).db, 'sqlite');
  await store.migrate();
  return store;
}

/**
 * A PostgreSQL schema of its own for a test that starts Strata processes (isolated like a
 * database, without the server-wide checkpoint that dropping a database forces): `fn` gets a
 * DATABASE_URL whose search_path is the schema and a client to read it; the schema is dropped after.
 */
export async function withTestPgSchema<T>(prefix: string, fn: (s: { url: string; schema: string; client: pg.Client }) => Promise<T>): Promise<T> {
  const schema = `${prefix}_${randomBytes(5).toString('hex')}`;
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  await client.query(`CREATE SCHEMA ${schema}`);
  const url = new URL(TEST_PG_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  try {
    return await fn({ url: url.toString(), schema, client });
  } finally {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  }
}

export async function openTestPostgres(): Promise<SqlStore> {
  const schema = `strata_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_PG_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const pool = new pg.Pool({ connectionString: TEST_PG_URL, max: 4, options: `-c search_path=${schema}` });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const store = new SqlStore(db, 'postgres', async () => {
    await sql`DROP SCHEMA ${sql.id(schema)} CASCADE`.execute(db).catch(() => undefined);
    await db.destroy();
  });
  // A schema another test process drops meanwhile is read again by the migration (migrations.ts `migrate`).
  await store.migrate();
  return store;
}

export async function openTestPglite(): Promise<SqlStore> {
  const store = new SqlStore(await openPglite(), 'postgres');
  await store.migrate();
  return store;
}
