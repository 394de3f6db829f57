import type { PGlite } from '@electric-sql/pglite';
import {
  CompiledQuery, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler,
  type DatabaseConnection, type Dialect, type Driver, type QueryResult,
} from 'kysely';
import type { Database } from './schema.ts';

/**
 * PostgreSQL compiled to WebAssembly, in process: the PostgreSQL store's stand-in on a
 * machine without a PostgreSQL server (tests only). One connection, so transactions take turns.
 */
class PgliteDriver implements Driver {
  private queue: Promise<void> = Promise.resolve();
  constructor(private readonly pg: PGlite) {}
  async init(): Promise<void> {
    await this.pg.waitReady;
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    let release!: () => void;
    const turn = new Promise<void>((r) => (release = r));
    const prev = this.queue;
    this.queue = prev.then(() => turn);
    await prev;
    const pg = this.pg;
    const conn: DatabaseConnection & { release(): void } = {
      release,
      async executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
        const res = await pg.query<R>(q.sql, q.parameters as unknown[]);
        return { rows: res.rows, numAffectedRows: res.affectedRows === undefined ? undefined : BigInt(res.affectedRows) };
      },
      streamQuery() {
        throw new Error('streaming is not used on PGlite');
      },
    };
    return conn;
  }
  async beginTransaction(c: DatabaseConnection): Promise<void> {
    await c.executeQuery(CompiledQuery.raw('BEGIN'));
  }
  async commitTransaction(c: DatabaseConnection): Promise<void> {
    await c.executeQuery(CompiledQuery.raw('COMMIT'));
  }
  async rollbackTransaction(c: DatabaseConnection): Promise<void> {
    await c.executeQuery(CompiledQuery.raw('ROLLBACK'));
  }
  async releaseConnection(c: DatabaseConnection): Promise<void> {
    (c as DatabaseConnection & { release(): void }).release();
  }
  async destroy(): Promise<void> {
    await this.pg.close();
  }
}

/** Opens an in-memory PGlite database behind Kysely. */
export async function openPglite(): Promise<Kysely<Database>> {
  const { PGlite } = await import('@electric-sql/pglite');
  const pg = new PGlite({ parsers: { 20: (x: string) => Number(x) } });
  const dialect: Dialect = {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new PgliteDriver(pg),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  };
  return new Kysely<Database>({ dialect });
}
