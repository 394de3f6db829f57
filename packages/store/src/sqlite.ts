import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteAdapter, SqliteDialect, SqliteDriver, type DatabaseConnection, type DialectAdapter, type SqliteDialectConfig } from 'kysely';
import { bucketOf, compileMatcher, foldCase, parseIsoTime, toNumber } from '@strata/core';
import type { Database } from './schema.ts';

export interface SqliteOptions {
  /** A file path, or ':memory:'. */
  readonly filename: string;
}

/**
 * Registers the functions compiled conditions call (see core's sqlite dialect), each the
 * very JavaScript the in-memory evaluator uses, so both agree by construction.
 */
export function registerFunctions(db: BetterSqlite3.Database): void {
  const det = { deterministic: true };
  db.function('strata_num', det, (s: unknown) => {
    if (typeof s !== 'string' || s.length > 300) return null;
    const n = toNumber(s);
    return Number.isNaN(n) ? null : n;
  });
  db.function('strata_time', det, (s: unknown) => {
    if (typeof s !== 'string') return null;
    const t = parseIsoTime(s);
    return Number.isNaN(t) ? null : t;
  });
  db.function('strata_lower', det, (s: unknown) => (typeof s === 'string' ? foldCase(s) : null));
  const matchers = new Map<string, (s: string) => boolean>();
  db.function('strata_regexp', det, (pattern: unknown, ic: unknown, s: unknown) => {
    if (typeof s !== 'string' || typeof pattern !== 'string') return null;
    const key = `${ic ? 1 : 0}${pattern}`;
    let m = matchers.get(key);
    if (!m) {
      if (matchers.size > 1000) matchers.clear();
      m = compileMatcher(pattern, ic === 1);
      matchers.set(key, m);
    }
    return m(s) ? 1 : 0;
  });
  db.function('strata_bucket', det, (salt: unknown, id: unknown) =>
    typeof salt === 'string' && typeof id === 'string' ? bucketOf(salt, id) : null);
}

/** Opens the embedded store: WAL, full fsync on commit (an acknowledged write survives power loss). */
export function openSqlite(opts: SqliteOptions): { db: Kysely<Database>; raw: BetterSqlite3.Database } {
  const raw = new BetterSqlite3(opts.filename);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = FULL');
  raw.pragma('foreign_keys = ON');
  raw.pragma('busy_timeout = 5000');
  raw.pragma('cache_size = -262144');
  raw.pragma('temp_store = MEMORY');
  // Checkpoint the WAL every 32 MB instead of 4 MB: fewer checkpoint fsyncs under bulk writes (durability is the commit's, unchanged).
  raw.pragma('wal_autocheckpoint = 8192');
  // Deleted rows are overwritten with zeros, not left in free space: an erased user leaves no bytes in the file (docs/privacy.md).
  raw.pragma('secure_delete = ON');
  registerFunctions(raw);
  raw.defaultSafeIntegers(false);
  const db = new Kysely<Database>({ dialect: new StrataSqliteDialect({ database: withStatementCache(raw) }, raw) });
  return { db, raw };
}

/**
 * Kysely's SQLite dialect, except for one case of rollback: when a write fails with an I/O error
 * or a full disk, SQLite may already have rolled the transaction back itself, and a ROLLBACK then
 * fails with "no transaction is active", which would hide the store's error from the caller
 * (who must learn that the store is unavailable: docs/reliability.md). Only then it is skipped.
 * And migrations run in a transaction, as on PostgreSQL: SQLite's DDL is transactional, and a
 * migration that fails (or a process killed during one) must leave the store as it was, not half
 * migrated with a table that makes every later attempt fail.
 */
class StrataSqliteDialect extends SqliteDialect {
  constructor(private readonly config: SqliteDialectConfig, private readonly raw: BetterSqlite3.Database) {
    super(config);
  }
  override createAdapter(): DialectAdapter {
    return new (class extends SqliteAdapter {
      override get supportsTransactionalDdl(): boolean {
        return true;
      }
    })();
  }
  override createDriver(): SqliteDriver {
    const raw = this.raw;
    return new (class extends SqliteDriver {
      override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
        if (raw.inTransaction) await super.rollbackTransaction(connection);
      }
    })(this.config);
  }
}

/**
 * Kysely prepares a statement for every query; better-sqlite3 statements are reusable, so
 * keep the prepared ones by SQL text (bounded) and skip SQLite's parse and plan on repeats.
 */
function withStatementCache(raw: BetterSqlite3.Database, max = 500): { prepare(sql: string): BetterSqlite3.Statement; close(): void } {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    prepare(sql: string) {
      let stmt = cache.get(sql);
      if (!stmt) {
        stmt = raw.prepare(sql);
        if (cache.size >= max) cache.delete(cache.keys().next().value!);
        cache.set(sql, stmt);
      }
      return stmt;
    },
    close: () => raw.close(),
  };
}
