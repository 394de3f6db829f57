import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openSqlite } from './sqlite.ts';
import { SqlStore } from './sql-store.ts';
import { UserDataStore } from './user-data-store.ts';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

describe('the embedded store checkpoints its WAL in a worker thread', () => {
  it('moves a 12 MB WAL into the database file without the server connection checkpointing, then lets the WAL start over small', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-ckpt-'));
    dirs.push(dir);
    const file = join(dir, 'strata.db');
    const { db, raw, checkpointer } = openSqlite({ filename: file });
    expect(checkpointer).toBeDefined();
    raw.exec('CREATE TABLE blob_rows (id INTEGER PRIMARY KEY, body BLOB NOT NULL)');
    const insert = raw.prepare('INSERT INTO blob_rows (body) VALUES (?)');
    const body = Buffer.alloc(64 * 1024, 7);
    // 12 MB in 24 commits: below the 32 MB at which a commit would checkpoint by itself.
    for (let t = 0; t < 24; t++) raw.transaction(() => { for (let i = 0; i < 8; i++) insert.run(body); })();
    expect(statSync(`${file}-wal`).size).toBeGreaterThan(12 * 1024 * 1024);
    const dbBefore = statSync(file).size;
    expect(dbBefore).toBeLessThan(1024 * 1024);

    await vi.waitFor(() => {
      expect(checkpointer!.stats.checkpoints).toBeGreaterThan(0);
      expect(statSync(file).size).toBeGreaterThan(12 * 1024 * 1024);
    }, { timeout: 10_000, interval: 25 });
    expect(checkpointer!.stats.lastError).toBeUndefined();
    // The next commit finds the WAL fully checkpointed: it starts it over and cuts the file back to 512 KB.
    insert.run(Buffer.alloc(10));
    expect(statSync(`${file}-wal`).size).toBeLessThanOrEqual(512 * 1024);
    // Nothing new to copy: the thread stays idle.
    const idle = checkpointer!.stats.checkpoints;
    await new Promise((r) => setTimeout(r, 1000));
    expect(checkpointer!.stats.checkpoints).toBe(idle);
    expect(raw.prepare('SELECT count(*) AS n FROM blob_rows').get()).toEqual({ n: 193 });
    await db.destroy();
    expect(raw.open).toBe(false);

    // Reopened: everything is there.
    const again = openSqlite({ filename: file });
    expect(again.raw.prepare('SELECT count(*) AS n, sum(length(body)) AS bytes FROM blob_rows').get()).toEqual({ n: 193, bytes: 192 * 64 * 1024 + 10 });
    await again.db.destroy();
    expect(again.raw.open).toBe(false);
  });

  it("an erasure's TRUNCATE checkpoint empties the WAL even while the thread is checkpointing", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata ckpt '));
    dirs.push(dir);
    const file = join(dir, 'strata.db');
    const { db, raw, checkpointer } = openSqlite({ filename: file });
    const store = new SqlStore(db, 'sqlite');
    raw.exec('CREATE TABLE blob_rows (id INTEGER PRIMARY KEY, body BLOB NOT NULL)');
    const insert = raw.prepare('INSERT INTO blob_rows (body) VALUES (?)');
    const body = Buffer.alloc(64 * 1024, 7);
    const until = Date.now() + 2000;
    let rounds = 0;
    while (Date.now() < until) {
      // 5 MB a round: the thread always has a checkpoint to run when the erasure's comes.
      for (let t = 0; t < 10; t++) raw.transaction(() => { for (let i = 0; i < 8; i++) insert.run(body); })();
      await new Promise((r) => setTimeout(r, 1 + (rounds % 5) * 40));
      await new UserDataStore(store).checkpoint();
      expect(statSync(`${file}-wal`).size).toBe(0);
      raw.exec('DELETE FROM blob_rows');
      rounds++;
    }
    expect(checkpointer!.stats.checkpoints).toBeGreaterThan(0);
    await store.close();
  });

  it('an in-memory store has none', async () => {
    const { db, checkpointer } = openSqlite({ filename: ':memory:' });
    expect(checkpointer).toBeUndefined();
    await db.destroy();
  });
});
