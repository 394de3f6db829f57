import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir, uptime } from 'node:os';
import { join, resolve } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createStore, openWriterStore, type StoreConfig } from './create-store.ts';
import { postgresReachable } from './postgres.ts';
import type { SqlStore } from './sql-store.ts';
import { TEST_PG_URL, withTestPgSchema } from './testing/index.ts';
import { hostId, WriterLeaseRefused, writerLockKey, type LeaseHolder, type WriterLease } from './writer-lease.ts';

const root = join(import.meta.dirname, '../../..');
/** The database the PostgreSQL tests' schemas are in. */
const PG_DB = new URL(TEST_PG_URL).pathname.slice(1);

/** What a refused start threw. */
async function refusal(p: Promise<unknown>): Promise<WriterLeaseRefused> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(WriterLeaseRefused);
  return err as WriterLeaseRefused;
}

/** Resolves with the reason once `lease` is told it was lost (or rejects after `ms`). */
function lostWithin(lease: WriterLease, ms: number): Promise<string> {
  return new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`the lease was not lost within ${ms} ms`)), ms);
    lease.onLost((reason) => { clearTimeout(t); res(reason); });
  });
}

/**
 * A separate Node process that takes the lease of `cfg` and holds it until killed; resolves once
 * it holds it, with its pid. As `strata serve` does it, without the rest of the server.
 */
function holderProcess(cfg: StoreConfig, children: ChildProcess[]): Promise<ChildProcess> {
  const code = `import { openWriterStore } from '@strata/store';
    const { lease } = await openWriterStore(JSON.parse(process.env.LEASE_CFG));
    console.log('held ' + lease.holder.pid);
    setInterval(() => undefined, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: root, env: { ...process.env, LEASE_CFG: JSON.stringify(cfg) }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  return new Promise((res, rej) => {
    child.stdout!.on('data', (d) => { out += d; if (out.includes(`held ${child.pid}`)) res(child); });
    child.stderr!.on('data', (d) => { out += d; });
    child.on('exit', (code) => rej(new Error(`the holder process exited (${code}): ${out}`)));
  });
}

async function killHard(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

describe('writer lease on SQLite (one data dir)', () => {
  let dir: string;
  let cfg: StoreConfig;
  const open: { store: SqlStore; lease?: WriterLease }[] = [];
  const children: ChildProcess[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'strata-lease-'));
    cfg = { kind: 'sqlite', dataDir: dir };
  });
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    for (const o of open.splice(0)) {
      await o.lease?.release();
      await o.store.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const writer = async (options = {}) => {
    const w = await openWriterStore(cfg, options);
    open.push(w);
    return w;
  };
  /** A plain (lease-less) connection to the file, to write the row as another process would have left it. */
  const leaveRow = async (h: Partial<LeaseHolder>) => {
    const store = await createStore(cfg);
    open.push({ store });
    const now = Date.now();
    await store.db.insertInto('writer_lease').values({
      name: 'writer', holder_id: h.holderId ?? 'another-holder', pid: h.pid ?? 1, hostname: h.hostname ?? hostname(),
      host_id: h.hostId ?? null, db_file: h.dbFile ?? null, started_at: h.startedAt ?? now, heartbeat_at: h.heartbeatAt ?? now,
    }).execute();
  };

  it('refuses a second writer, naming the data dir and the holder; after a release the next one takes it', async () => {
    const first = await writer();
    const err = await refusal(openWriterStore(cfg));
    expect(err.holder).toMatchObject({ holderId: first.lease.holder!.holderId, pid: process.pid, hostname: hostname() });
    expect(err.message).toContain(`SQLite data dir ${resolve(dir)}`);
    expect(err.message).toContain(`pid ${process.pid} on host ${hostname()}, since ${new Date(first.lease.holder!.startedAt).toISOString()}`);
    expect(err.message).toMatch(/one writer per database/);

    await first.lease.release();
    const rows = await first.store.db.selectFrom('writer_lease').selectAll().execute();
    expect(rows).toEqual([]);
    const second = await writer();
    expect((await second.store.db.selectFrom('writer_lease').select('holder_id').execute()).map((r) => r.holder_id)).toEqual([second.lease.holder!.holderId]);
  });

  it('takes over from a holder killed with SIGKILL (its row names a dead pid); refuses while that process lives', async () => {
    const child = await holderProcess(cfg, children);
    const err = await refusal(openWriterStore(cfg));
    expect(err.holder!.pid).toBe(child.pid);
    expect(err.message).toContain(`pid ${child.pid} on host ${hostname()}`);
    await killHard(child);
    const w = await writer();
    expect((await w.store.db.selectFrom('writer_lease').select('pid').execute()).map((r) => r.pid)).toEqual([process.pid]);
  });

  it('takes over a row whose pid has exited', async () => {
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    await leaveRow({ pid: gone });
    await writer();
  });

  it('takes over a row naming its own pid under another holder id (a container restarted after a crash gives the same pid)', async () => {
    await leaveRow({ pid: process.pid, holderId: 'previous-incarnation' });
    await writer();
  });

  it('a live pid holds the lease, unless its holder started before this host booted (the pid is another program now)', async () => {
    // pid 1 always exists.
    await leaveRow({ pid: 1, startedAt: Date.now() - 1000 });
    expect((await refusal(openWriterStore(cfg))).holder!.pid).toBe(1);
    await open[0]!.store.db.updateTable('writer_lease').set({ started_at: Date.now() - uptime() * 1000 - 3_600_000 }).execute();
    await writer();
  });

  it('on another host (a shared file system), the holder is gone once its heartbeat is older than staleMs', async () => {
    await leaveRow({ hostname: 'elsewhere.example', pid: 4242, heartbeatAt: Date.now() - 5_000 });
    const err = await refusal(openWriterStore(cfg, { staleMs: 60_000 }));
    expect(err.message).toMatch(/pid 4242 on host elsewhere\.example, since .* \(last heartbeat 5 s ago\)/);
    await open[0]!.store.db.updateTable('writer_lease').set({ heartbeat_at: Date.now() - 61_000 }).execute();
    await writer({ staleMs: 60_000 });
  });

  it('a copy of the database (a backup made while Strata runs) carries no lease: Strata starts on it, the original stays held', async () => {
    const first = await writer();
    const copyDir = mkdtempSync(join(tmpdir(), 'strata-lease-copy-'));
    try {
      await sql.raw(`VACUUM INTO '${join(copyDir, 'strata.db')}'`).execute(first.store.db);
      const copy = await openWriterStore({ kind: 'sqlite', dataDir: copyDir });
      open.push(copy);
      expect((await copy.store.db.selectFrom('writer_lease').select('holder_id').execute()).map((r) => r.holder_id)).toEqual([copy.lease.holder!.holderId]);
      expect((await refusal(openWriterStore(cfg))).holder!.holderId).toBe(first.lease.holder!.holderId);
    } finally {
      rmSync(copyDir, { recursive: true, force: true });
    }
  });

  it.runIf(hostId() !== null)('same host name, another pid namespace (containers): the pid means nothing here, the heartbeat decides', async () => {
    const [boot] = hostId()!.split('/');
    // pid 1 exists in this namespace too, but the row's pid 1 is another namespace's.
    await leaveRow({ pid: 1, hostId: `${boot}/pid:[1]`, heartbeatAt: Date.now() - 5_000 });
    expect((await refusal(openWriterStore(cfg, { staleMs: 60_000 }))).holder!.pid).toBe(1);
    await open[0]!.store.db.updateTable('writer_lease').set({ heartbeat_at: Date.now() - 61_000 }).execute();
    await writer({ staleMs: 60_000 });
  });

  it.runIf(hostId() !== null)('same host name, another boot: the holder is gone whatever its pid (a clock that moved cannot fool it)', async () => {
    const [, ns] = hostId()!.split('/');
    // A live pid, a fresh heartbeat and a start after this boot by the wall clock: still another boot's.
    await leaveRow({ pid: 1, hostId: `another-boot/${ns}`, startedAt: Date.now() });
    await writer();
  });

  it.runIf(hostId() !== null)('same boot and pid namespace: a live pid holds it', async () => {
    await leaveRow({ pid: 1, hostId: hostId() });
    expect((await refusal(openWriterStore(cfg))).holder!.pid).toBe(1);
  });

  it('writes a heartbeat while held, and tells the holder when another process took the lease over', async () => {
    const w = await writer({ heartbeatMs: 20 });
    const started = w.lease.holder!.startedAt;
    await new Promise((r) => setTimeout(r, 150));
    const [row] = await w.store.db.selectFrom('writer_lease').selectAll().execute();
    expect(row!.heartbeat_at).toBeGreaterThan(started);
    const lost = lostWithin(w.lease, 2_000);
    await w.store.db.updateTable('writer_lease').set({ holder_id: 'usurper', pid: 777, hostname: 'other.example' }).execute();
    expect(await lost).toMatch(/taken over by pid 777 on host other\.example/);
    // Released after the loss, it leaves the other holder's row alone.
    await w.lease.release();
    expect((await w.store.db.selectFrom('writer_lease').select('holder_id').execute()).map((r) => r.holder_id)).toEqual(['usurper']);
  });

  it('refuses before it migrates: a start refused changes nothing in the store', async () => {
    const first = await writer();
    // As if a newer Strata with a migration this store lacks were started while the first runs.
    await sql`DROP TABLE audit_log`.execute(first.store.db);
    await sql`DELETE FROM strata_migrations WHERE name = '0018_audit_log'`.execute(first.store.db);
    await refusal(openWriterStore(cfg));
    const names = async () => (await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table'`.execute(first.store.db)).rows.map((r) => r.name);
    expect(await names()).not.toContain('audit_log');
    await first.lease.release();
    await writer();
    expect(await names()).toContain('audit_log');
  });
});

describe('writer lease on PostgreSQL (advisory lock per database and schema)', async () => {
  const server = await postgresReachable(TEST_PG_URL);
  if (!server) console.warn(`[strata tests] skipped: no PostgreSQL server at ${TEST_PG_URL}; PGlite runs in one process, where advisory locks cannot be held across connections of two processes`);
  const open: { store: SqlStore; lease: WriterLease }[] = [];
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    for (const o of open.splice(0)) {
      await o.lease.release();
      await o.store.close();
    }
  });
  const writer = async (cfg: StoreConfig, options = {}) => {
    const w = await openWriterStore(cfg, { waitMs: 300, ...options });
    open.push(w);
    return w;
  };
  /** The PostgreSQL session that holds the lock of a schema, as pg_locks says. */
  const lockHolders = async (client: { query: (q: string, v: unknown[]) => Promise<{ rows: { pid: number }[] }> }, schema: string) => {
    const u = BigInt.asUintN(64, writerLockKey(PG_DB, schema));
    return (await client.query(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::oid AND objid = $2::oid AND granted`,
      [(u >> 32n).toString(), (u & 0xffffffffn).toString()])).rows.map((r) => r.pid);
  };

  it.skipIf(!server)('refuses a second writer on the schema, naming the holder and its session; after a release the next one takes it', async () => {
    await withTestPgSchema('strata_lease', async ({ url, schema, client }) => {
      const cfg: StoreConfig = { kind: 'postgres', url };
      const first = await writer(cfg);
      const err = await refusal(openWriterStore(cfg, { waitMs: 300 }));
      const [session] = await lockHolders(client, schema);
      expect(session).toEqual(expect.any(Number));
      expect(err.holder).toMatchObject({ holderId: first.lease.holder!.holderId, pid: process.pid, hostname: hostname() });
      expect(err.message).toContain(`PostgreSQL database "${PG_DB}", schema "${schema}"`);
      expect(err.message).toContain(`its PostgreSQL session is ${session} (SELECT pg_terminate_backend(${session})`);
      await first.lease.release();
      expect(await lockHolders(client, schema)).toEqual([]);
      expect((await client.query(`SELECT count(*)::int AS n FROM ${schema}.writer_lease`)).rows[0].n).toBe(0);
      await writer(cfg);
      expect(await lockHolders(client, schema)).toHaveLength(1);
    });
  });

  it.skipIf(!server)('a heartbeat blocked on the row (another session holds it locked) gives up: a stop is not held up', async () => {
    await withTestPgSchema('strata_lease_block', async ({ url, schema, client }) => {
      const w = await writer({ kind: 'postgres', url }, { heartbeatMs: 50 });
      await client.query('BEGIN');
      await client.query(`SELECT * FROM ${schema}.writer_lease FOR UPDATE`);
      try {
        await new Promise((r) => setTimeout(r, 300)); // a heartbeat is now waiting for the row
        const released = w.lease.release().then(() => 'released' as const);
        const stuck = new Promise<'stuck'>((r) => setTimeout(() => r('stuck'), 15_000).unref());
        // The blocking transaction is still open: the release must not wait for it to end.
        expect(await Promise.race([released, stuck])).toBe('released');
      } finally {
        await client.query('ROLLBACK');
      }
    });
  });

  it.skipIf(!server)('leases each schema of one database on its own', async () => {
    await withTestPgSchema('strata_lease_a', async (a) => {
      await withTestPgSchema('strata_lease_b', async (b) => {
        expect(writerLockKey(PG_DB, a.schema)).not.toBe(writerLockKey(PG_DB, b.schema));
        await writer({ kind: 'postgres', url: a.url });
        await writer({ kind: 'postgres', url: b.url });
        expect(await lockHolders(a.client, a.schema)).toHaveLength(1);
        expect(await lockHolders(a.client, b.schema)).toHaveLength(1);
      });
    });
  });

  it.skipIf(!server)('the lock goes with the holder process when it is killed (SIGKILL, no release): the next start takes it', async () => {
    await withTestPgSchema('strata_lease', async ({ url }) => {
      const cfg: StoreConfig = { kind: 'postgres', url };
      const child = await holderProcess(cfg, children);
      expect((await refusal(openWriterStore(cfg, { waitMs: 300 }))).holder!.pid).toBe(child.pid);
      await killHard(child);
      // Within waitMs: the server ends the dead process's session as its socket closes.
      const w = await writer(cfg, { waitMs: 3_000 });
      expect(w.lease.holder!.pid).toBe(process.pid);
    });
  });

  it.skipIf(!server)('a holder whose session is ended takes the lock again at its next heartbeat', async () => {
    await withTestPgSchema('strata_lease', async ({ url, schema, client }) => {
      const cfg: StoreConfig = { kind: 'postgres', url };
      await writer(cfg, { heartbeatMs: 50 });
      const [s1] = await lockHolders(client, schema);
      await client.query('SELECT pg_terminate_backend($1)', [s1]);
      // Nobody else wants it: the next heartbeat connects again and holds it in a new session.
      let now: number[] = [];
      for (let i = 0; i < 100 && !(now.length === 1 && now[0] !== s1); i++) {
        await new Promise((r) => setTimeout(r, 20));
        now = await lockHolders(client, schema);
      }
      expect(now).toEqual([expect.any(Number)]);
      expect(now[0]).not.toBe(s1);
      await expect(openWriterStore(cfg, { waitMs: 100 })).rejects.toThrow(WriterLeaseRefused);
    });
  });

  it.skipIf(!server)('a holder whose session ended is told it lost the lease when another process took it first', async () => {
    await withTestPgSchema('strata_lease', async ({ url, schema, client }) => {
      const cfg: StoreConfig = { kind: 'postgres', url };
      const first = await writer(cfg, { heartbeatMs: 2_000 });
      // Just after one of its heartbeats, so that the next one (2 s later) finds the lock taken.
      const beat = async () => Number((await client.query(`SELECT heartbeat_at FROM ${schema}.writer_lease`)).rows[0].heartbeat_at);
      const before = await beat();
      while ((await beat()) === before) await new Promise((r) => setTimeout(r, 20));
      const lost = lostWithin(first.lease, 5_000);
      const [session] = await lockHolders(client, schema);
      await client.query('SELECT pg_terminate_backend($1)', [session]);
      const second = await writer(cfg, { waitMs: 1_500 });
      expect(await lost).toMatch(new RegExp(`another process took the lease: pid ${process.pid} on host ${hostname()}`));
      const [row] = (await client.query(`SELECT holder_id FROM ${schema}.writer_lease`)).rows;
      expect(row.holder_id).toBe(second.lease.holder!.holderId);
    });
  });
});
