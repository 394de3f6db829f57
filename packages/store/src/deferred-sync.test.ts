import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createStore } from './create-store.ts';
import type { SqlStore } from './sql-store.ts';

/** SQLite's safety level as the store's connection has it: 1 NORMAL (no fsync at commit), 2 FULL. */
const level = async (s: SqlStore) => Number(Object.values((await sql<Record<string, number>>`PRAGMA synchronous`.execute(s.db)).rows[0]!)[0]);

describe('deferSync transactions on the embedded store', () => {
  const dirs: string[] = [];
  const stores: SqlStore[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  async function fileStore() {
    const dir = mkdtempSync(join(tmpdir(), 'strata-sync-'));
    dirs.push(dir);
    const store = await createStore({ kind: 'sqlite', dataDir: dir });
    stores.push(store);
    return { store, dir };
  }

  it('commits without fsync inside the transaction alone, and every other commit with it', async () => {
    const { store } = await fileStore();
    expect(await level(store)).toBe(2);
    expect(await store.transaction(async (tx) => level(tx), { deferSync: true })).toBe(1);
    expect(await level(store)).toBe(2);
    expect(await store.transaction(async (tx) => level(tx))).toBe(2);
    // A transaction that fails leaves the connection at FULL too.
    await expect(store.transaction(async () => { throw new Error('boom'); }, { deferSync: true })).rejects.toThrow('boom');
    expect(await level(store)).toBe(2);
  });

  it('keeps what a deferSync transaction wrote, and syncCommitted fsyncs the database and its WAL', async () => {
    const { store, dir } = await fileStore();
    await store.transaction((tx) => tx.createProject({ id: 'p', name: 'p', writeKey: 'wk', adminToken: 'at', now: 1 }).then(() => undefined), { deferSync: true });
    expect(store.syncFiles).toEqual([join(dir, 'strata.db-wal'), join(dir, 'strata.db')]);
    expect(existsSync(join(dir, 'strata.db-wal'))).toBe(true);
    await store.syncCommitted();
    expect((await store.getProject('p'))?.name).toBe('p');
    // A file that is not there (no WAL after a clean close) is nothing to sync; any other failure is the caller's to hear.
    store.syncFiles = [join(dir, 'absent-wal'), join(dir, 'strata.db')];
    await expect(store.syncCommitted()).resolves.toBeUndefined();
    store.syncFiles = [dir];
    await expect(store.syncCommitted()).rejects.toThrow(/EISDIR/);
  });

  it('is an ordinary transaction on a store in memory, which has no files to sync', async () => {
    const store = await createStore({ kind: 'sqlite-memory' });
    stores.push(store);
    expect(store.syncFiles).toBeUndefined();
    expect(await store.transaction(async (tx) => level(tx), { deferSync: true })).toBe(await level(store));
    await expect(store.syncCommitted()).resolves.toBeUndefined();
  });
});
