import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openPglite } from './pglite.ts';
import { openPostgres } from './postgres.ts';
import { SqlStore } from './sql-store.ts';
import { openSqlite } from './sqlite.ts';

export type StoreConfig =
  | { readonly kind: 'sqlite'; readonly dataDir: string }
  | { readonly kind: 'sqlite-memory' }
  | { readonly kind: 'postgres'; readonly url: string }
  | { readonly kind: 'pglite' };

/** Opens and migrates the configured store. */
export async function createStore(cfg: StoreConfig): Promise<SqlStore> {
  let store: SqlStore;
  switch (cfg.kind) {
    case 'sqlite': {
      mkdirSync(cfg.dataDir, { recursive: true });
      const { db } = openSqlite({ filename: join(cfg.dataDir, 'strata.db') });
      store = new SqlStore(db, 'sqlite');
      break;
    }
    case 'sqlite-memory':
      store = new SqlStore(openSqlite({ filename: ':memory:' }).db, 'sqlite');
      break;
    case 'postgres':
      store = new SqlStore(openPostgres(cfg.url), 'postgres');
      break;
    case 'pglite':
      store = new SqlStore(await openPglite(), 'postgres');
      break;
  }
  await store.migrate();
  return store;
}
