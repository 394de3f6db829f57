import { Kysely, PostgresDialect, PostgresDriver, type DatabaseConnection, type PostgresDialectConfig } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.ts';
import { isStoreUnavailable } from './store-errors.ts';

// BIGINT columns hold epoch milliseconds and ids: both fit a double exactly.
pg.types.setTypeParser(20, (v: string) => Number(v));

export interface PostgresOptions {
  readonly poolSize?: number;
  /** How long opening a connection may take before the request fails as STORE_UNAVAILABLE (ms; default 5000). */
  readonly connectTimeoutMs?: number;
  /** Told when a pooled idle connection dies (the server stopped, restarted or ended it); default: one line on stderr. */
  readonly onIdleError?: (err: Error) => void;
  /**
   * Ends a session that stays idle inside a transaction this long (ms; PostgreSQL's
   * idle_in_transaction_session_timeout): its transaction rolls back and its locks go. Partition
   * workers set it, so that a worker frozen inside a transaction (a long pause, a suspended VM)
   * cannot hold its partitions' locks from the worker that takes them over.
   */
  readonly idleInTransactionMs?: number;
}

/**
 * Opens the PostgreSQL store on a connection pool. While the server is down, requests fail at
 * once (or after `connectTimeoutMs` when it does not answer) and the pool opens new connections
 * when it is back: no restart. An idle connection that dies is dropped from the pool (without a
 * listener, node-postgres' pool would throw that error and end the process).
 */
export function openPostgres(connectionString: string, opts: PostgresOptions = {}): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString, max: opts.poolSize ?? 10, connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000, keepAlive: true,
    ...(opts.idleInTransactionMs ? { idle_in_transaction_session_timeout: opts.idleInTransactionMs } : {}),
  });
  const onIdleError = opts.onIdleError ?? ((err: Error) => console.error(`strata: a PostgreSQL connection was lost (${err.message}); the next request opens a new one`));
  pool.on('error', onIdleError);
  // A connection in use that dies also emits 'error' on its client, where the pool listens only
  // while it is idle: unheard, that would end the process. Its query fails and says why.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return new Kysely<Database>({ dialect: new StrataPostgresDialect({ pool }) });
}

/**
 * Kysely's PostgreSQL dialect, except that a ROLLBACK that fails because the connection is gone
 * is not an error (the server ends the transaction with the session): the caller sees the
 * error that ended the transaction, not "the client is not queryable".
 */
class StrataPostgresDialect extends PostgresDialect {
  constructor(private readonly config: PostgresDialectConfig) {
    super(config);
  }
  override createDriver(): PostgresDriver {
    return new (class extends PostgresDriver {
      override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
        try {
          await super.rollbackTransaction(connection);
        } catch (err) {
          if (!isStoreUnavailable(err)) throw err;
        }
      }
    })(this.config);
  }
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
