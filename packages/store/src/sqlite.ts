import { Worker } from 'node:worker_threads';
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

/** The background WAL checkpointer of a file store (`wal-checkpointer.cjs`). */
export interface Checkpointer {
  /**
   * Checkpoints run so far, the errors met (the next round tries again, and a thread that died
   * leaves checkpoints to the commits: 32 MB) and the last one.
   */
  readonly stats: { checkpoints: number; errors: number; lastError?: string };
  /** Closes the thread's connection; resolves once the thread has exited. */
  stop(): Promise<void>;
}

/**
 * How often the checkpointer looks at the WAL, and the size from which it checkpoints: small
 * rounds (1 MB of pages), because the database file's fsync at the end of a round can hold up a
 * commit's own fsync of the WAL on the same disk — with 4 MB rounds, one health check in four runs
 * of the segment benchmark took 70–114 ms; with 1 MB rounds none passed 39 ms (docs/benchmarks.md).
 */
const CHECKPOINT_EVERY_MS = 200;
const CHECKPOINT_MIN_WAL_BYTES = 1024 * 1024;

function startCheckpointer(filename: string): Checkpointer {
  const worker = new Worker(new URL('./wal-checkpointer.cjs', import.meta.url), {
    workerData: { filename, everyMs: CHECKPOINT_EVERY_MS, minWalBytes: CHECKPOINT_MIN_WAL_BYTES },
  });
  worker.unref();
  const stats: Checkpointer['stats'] = { checkpoints: 0, errors: 0 };
  let stopping: Promise<void> | null = null;
  // The first failure is said on stderr (the server's log has no handle here); all are counted (/metrics).
  const failed = (message: string) => {
    if (stats.errors++ === 0) console.error(`strata: the SQLite WAL checkpointer of ${filename} failed (${message}); commits checkpoint the WAL themselves from 32 MB meanwhile`);
    stats.lastError = message;
  };
  worker.on('message', (m: { kind: string; message?: string }) => {
    if (m.kind === 'checkpoint') stats.checkpoints++;
    else if (m.kind === 'error') failed(m.message ?? 'unknown error');
  });
  // A thread that throws emits 'error', then 'exit': counted once, with the error's message.
  let crash: string | undefined;
  worker.on('error', (e) => { crash = e.message; });
  const exited = new Promise<void>((resolve) => worker.once('exit', (code) => {
    if (!stopping) failed(crash ?? `the thread exited with code ${code}`);
    resolve();
  }));
  return {
    stats,
    stop: () => (stopping ??= (async () => {
      worker.postMessage('stop');
      // The thread closes its connection and exits; one stuck in a checkpoint is ended after 5 s.
      const late = setTimeout(() => void worker.terminate(), 5000);
      await exited;
      clearTimeout(late);
    })()),
  };
}

/**
 * Opens the embedded store: WAL, full fsync on commit (an acknowledged write survives power loss).
 * A file store checkpoints its WAL in a worker thread (`checkpointer`), off the event loop.
 */
export function openSqlite(opts: SqliteOptions): { db: Kysely<Database>; raw: BetterSqlite3.Database; checkpointer?: Checkpointer } {
  const raw = new BetterSqlite3(opts.filename);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = FULL');
  raw.pragma('foreign_keys = ON');
  raw.pragma('busy_timeout = 5000');
  raw.pragma('cache_size = -262144');
  raw.pragma('temp_store = MEMORY');
  // The checkpointer thread keeps the WAL near 1 MB; should it fall behind, a commit that finds
  // 32 MB in the WAL checkpoints what is left itself (durability is the commit's either way).
  raw.pragma('wal_autocheckpoint = 8192');
  // When a complete checkpoint lets the WAL start over, a WAL file grown larger is cut back to 512 KB
  // (below the checkpointer's 1 MB, so that the file's size says how much was written since).
  raw.pragma('journal_size_limit = 524288');
  // Deleted rows are overwritten with zeros, not left in free space: an erased user leaves no bytes in the file (docs/privacy.md).
  raw.pragma('secure_delete = ON');
  registerFunctions(raw);
  raw.defaultSafeIntegers(false);
  const checkpointer = raw.memory ? undefined : startCheckpointer(raw.name);
  // Destroying the Kysely handle stops the checkpointer before closing the server's connection, so
  // that once it resolves no thread holds the files (the last connection to close removes the WAL).
  const stop = async () => checkpointer?.stop();
  const db = new SqliteHandle(new StrataSqliteDialect({ database: withStatementCache(raw) }, raw, stop), async () => {
    await stop();
    if (raw.open) raw.close();
  });
  return { db, raw, checkpointer };
}

/**
 * Kysely destroys only a driver it has used: a handle that never ran a query would keep its
 * checkpointer thread and connection open. This one releases them in either case.
 */
class SqliteHandle extends Kysely<Database> {
  constructor(dialect: SqliteDialect, private readonly release: () => Promise<void>) {
    super({ dialect });
  }

  override async destroy(): Promise<void> {
    await super.destroy();
    await this.release();
  }
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
  constructor(private readonly config: SqliteDialectConfig, private readonly raw: BetterSqlite3.Database, private readonly beforeClose: () => Promise<void>) {
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
    const { raw, beforeClose } = this;
    return new (class extends SqliteDriver {
      override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
        if (raw.inTransaction) await super.rollbackTransaction(connection);
      }
      override async destroy(): Promise<void> {
        await beforeClose();
        await super.destroy();
      }
    })(this.config);
  }
}

/**
 * Kysely prepares a statement for every query; better-sqlite3 statements are reusable, so
 * keep the prepared ones by SQL text (bounded, the least recently used out) and skip SQLite's
 * parse and plan on repeats.
 */
function withStatementCache(raw: BetterSqlite3.Database, max = 500): { prepare(sql: string): BetterSqlite3.Statement; close(): void } {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    prepare(sql: string) {
      let stmt = cache.get(sql);
      if (stmt) {
        // Most recently used last: what is evicted is what has not been used for longest.
        cache.delete(sql);
        cache.set(sql, stmt);
      } else {
        stmt = raw.prepare(sql);
        if (cache.size >= max) cache.delete(cache.keys().next().value!);
        cache.set(sql, stmt);
      }
      return stmt;
    },
    close: () => raw.close(),
  };
}
