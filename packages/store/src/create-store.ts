import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openPglite } from './pglite.ts';
import { openPostgres } from './postgres.ts';
import { SqlStore } from './sql-store.ts';
import { openSqlite } from './sqlite.ts';
import { acquireWriterLease, type WriterLease, type WriterLeaseOptions } from './writer-lease.ts';

export type StoreConfig =
  | { readonly kind: 'sqlite'; readonly dataDir: string }
  | { readonly kind: 'sqlite-memory' }
  | { readonly kind: 'postgres'; readonly url: string; readonly idleInTransactionMs?: number }
  | { readonly kind: 'pglite' };

async function openStore(cfg: StoreConfig): Promise<SqlStore> {
  switch (cfg.kind) {
    case 'sqlite': {
      mkdirSync(cfg.dataDir, { recursive: true });
      const filename = join(cfg.dataDir, 'strata.db');
      const { db, checkpointer } = openSqlite({ filename });
      const store = new SqlStore(db, 'sqlite');
      store.walCheckpointer = checkpointer;
      store.syncFiles = [`${filename}-wal`, filename];
      store.eventLogFile = join(cfg.dataDir, 'strata-log.db');
      return store;
    }
    case 'sqlite-memory':
      return new SqlStore(openSqlite({ filename: ':memory:' }).db, 'sqlite');
    case 'postgres':
      return new SqlStore(openPostgres(cfg.url, { idleInTransactionMs: cfg.idleInTransactionMs }), 'postgres');
    case 'pglite':
      return new SqlStore(await openPglite(), 'postgres');
  }
}

/** Opens and migrates the configured store. */
export async function createStore(cfg: StoreConfig): Promise<SqlStore> {
  const store = await openStore(cfg);
  await store.migrate();
  return store;
}

/**
 * Opens the configured store for a process of the `api` role, which neither takes the writer lease
 * nor migrates: it appends to the event log, and reads credentials and applied positions here. A
 * schema older than this code is refused, naming the first migration missing: the process of the
 * `all` role migrates it at its start.
 */
export async function openSharedStore(cfg: StoreConfig): Promise<SqlStore> {
  const store = await openStore(cfg);
  let pending: string[];
  try {
    pending = await store.pendingMigrations();
  } catch (err) {
    await store.close();
    throw err;
  }
  if (pending.length) {
    await store.close();
    throw new Error(`the database's schema is not this Strata's: ${pending.length} migration${pending.length === 1 ? '' : 's'} not run (${pending[0]} first). `
      + 'A process of the api role does not migrate: start the process of the all role first (it migrates at its start), then this one');
  }
  return store;
}

/**
 * Opens the configured store for the process that will write it (`strata serve`): takes the
 * writer lease first (writer-lease.ts), so that a second process is refused — with
 * `WriterLeaseRefused`, naming the holder — before it migrates or writes anything, then migrates.
 */
export async function openWriterStore(cfg: StoreConfig, options: WriterLeaseOptions = {}): Promise<{ store: SqlStore; lease: WriterLease }> {
  const store = await openStore(cfg);
  let lease: WriterLease;
  try {
    lease = await acquireWriterLease(store, cfg, options);
  } catch (err) {
    await store.close();
    throw err;
  }
  try {
    // Workers share the lease, so several may migrate at once: PostgreSQL then refuses one of two
    // concurrent catalog changes ("tuple concurrently updated"); each step is idempotent, so it is run again.
    for (let attempt = 1; ; attempt++) {
      try {
        await store.migrate();
        break;
      } catch (err) {
        if (!options.shared || attempt >= 10) throw err;
        await new Promise((r) => setTimeout(r, 50 * attempt + Math.random() * 100));
      }
    }
  } catch (err) {
    await lease.release();
    await store.close();
    throw err;
  }
  return { store, lease };
}
