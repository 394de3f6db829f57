import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPostgres, openSqlite, postgresReachable, SqlStore } from '@strata/store';
import { TEST_PG_URL } from '@strata/store/testing';
import { startTestApp, WRITE, type TestApp } from './test-app.ts';

// The store fails for real (a file the disk refuses to write, a database that may not grow, a lock held by another connection,
// PostgreSQL unreachable behind a proxy). On SQLite the event log is a file of its own: ingest goes
// on acknowledging into it, while reads, which wait for what was acknowledged, answer 503
// NOT_YET_APPLIED. On PostgreSQL the log is a table of the same database: ingest answers 503
// STORE_UNAVAILABLE with Retry-After, never 200, while it lasts. Either way Strata serves again
// without a restart once it is over, and everything it acknowledged is stored exactly once, the
// refused batches too once clients send them again.

const T0 = Date.UTC(2024, 5, 15, 12);

/** The batches a client sent: what was acknowledged (200) and what was refused (503, to send again). */
class Ledger {
  readonly acked = new Set<string>();
  refused: string[][] = [];
  private n = 0;
  constructor(private readonly t: TestApp, private readonly prefix: string, private readonly properties: Record<string, string> = {}) {}
  /** Sends a batch of `size` new events (or the given message ids again); returns the answer. */
  async send(size = 3, ids?: readonly string[]) {
    const messageIds = ids ?? Array.from({ length: size }, () => `${this.prefix}-${this.n++}`);
    const r = await this.t.app.inject({
      method: 'POST', url: '/v1/batch', headers: { 'x-write-key': WRITE },
      payload: { batch: messageIds.map((messageId, i) => ({ type: 'track', messageId, userId: `user-${i % 2}`, event: 'clicked', properties: this.properties })) },
    });
    if (r.statusCode === 200) for (const id of messageIds) this.acked.add(id);
    else this.refused.push([...messageIds]);
    return r;
  }
  /** Sends every refused batch again, with the same message ids. */
  async retry(): Promise<number[]> {
    const again = this.refused;
    this.refused = [];
    const statuses: number[] = [];
    for (const ids of again) statuses.push((await this.send(0, ids)).statusCode);
    return statuses;
  }
  /** Each message id the store holds, with how many times. */
  async stored(): Promise<Map<string, number>> {
    const rows = await this.t.ctx.store.db.selectFrom('events').select(['message_id']).where('message_id', 'like', `${this.prefix}-%`).execute();
    const out = new Map<string, number>();
    for (const r of rows) out.set(r.message_id!, (out.get(r.message_id!) ?? 0) + 1);
    return out;
  }
  /** Every acknowledged message id is stored exactly once (once applied), and nothing else of this client's is. */
  async expectExactlyAcked(): Promise<void> {
    await this.t.ctx.ingest.drain();
    const stored = await this.stored();
    expect([...stored.values()].filter((n) => n !== 1)).toEqual([]);
    expect([...stored.keys()].sort()).toEqual([...this.acked].sort());
  }
}

type Answer = { statusCode: number; headers: Record<string, unknown>; json(): any };

/** A 503 as the client must see it: the store (or the event log in it) named, Retry-After, nothing claimed. */
function expectUnavailable(r: Answer, reason: RegExp): void {
  expect(r.statusCode).toBe(503);
  expect(r.headers['retry-after']).toBe('5');
  expect(r.json().error.code).toBe('STORE_UNAVAILABLE');
  expect(r.json().error.message).toMatch(/the store is unavailable|the event log could not take the events/);
  expect(r.json().error.message).toMatch(reason);
}

/** A read that could not see what was acknowledged before it applied: 503 NOT_YET_APPLIED naming the store's fault. */
function expectNotApplied(r: Answer, reason: RegExp): void {
  expect(r.statusCode).toBe(503);
  expect(r.headers['retry-after']).toBe('1');
  expect(r.json().error.code).toBe('NOT_YET_APPLIED');
  expect(r.json().error.message).toMatch(reason);
}

async function admin(t: TestApp, method: 'GET' | 'POST', url: string, body?: unknown) {
  return t.app.inject({ method, url, headers: { authorization: 'Bearer sta_test_admin_token' }, ...(body === undefined ? {} : { payload: body as object }) });
}

describe('when the SQLite store fails', () => {
  let dir: string;
  let file: string;
  let t: TestApp;
  let raw: BetterSqlite3.Database;
  let immutable: string[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-faults-'));
    file = join(dir, 'strata.db');
    const opened = openSqlite({ filename: file });
    const db = opened.db;
    raw = opened.raw;
    // A held lock fails writes after busy_timeout (5 s in Strata); shorter here, the same path.
    raw.pragma('busy_timeout = 100');
    const store = new SqlStore(db, 'sqlite');
    // The event log beside it, as createStore opens it: a file the faults below leave alone.
    store.eventLogFile = join(dir, 'strata-log.db');
    await store.migrate();
    t = await startTestApp(store, T0, { config: { readWaitMs: 300 } });
  });
  afterEach(async () => {
    if (immutable.length) execFileSync('chattr', ['-i', ...immutable]);
    immutable = [];
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Whether this file system lets root make a file immutable (ext4, xfs, btrfs do; tmpfs and overlay may not). */
  function canMakeImmutable(): boolean {
    const probe = join(dir, 'probe');
    writeFileSync(probe, '');
    try {
      execFileSync('chattr', ['+i', probe], { stdio: 'ignore' });
      execFileSync('chattr', ['-i', probe], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }

  it('acknowledges into the log while the disk refuses to write the database, answers reads 503 NOT_YET_APPLIED, and applies everything once when it can', async (ctx) => {
    if (!canMakeImmutable()) {
      console.warn(`[strata tests] skipped: chattr +i does not work in ${tmpdir()} (needed to make the database unwritable even to root)`);
      ctx.skip();
    }
    const seg = (await admin(t, 'POST', '/api/segments', { name: 'Clickers', condition: { event: 'clicked' } })).json();
    const ledger = new Ledger(t, 'ro');
    expect((await ledger.send()).statusCode).toBe(200);
    // Immutable: no process, root included, may write the files (the shared-memory index stays writable: it is mapped).
    immutable = [file, `${file}-wal`];
    execFileSync('chattr', ['+i', ...immutable]);
    for (let i = 0; i < 3; i++) expect((await ledger.send()).statusCode).toBe(200);
    const concurrent = await Promise.all([ledger.send(), ledger.send(), ledger.send()]);
    for (const r of concurrent) expect(r.statusCode).toBe(200);
    // Reads and admin writes wait for those events, which cannot be applied: 503 naming the fault, never a stale answer.
    expectNotApplied(await admin(t, 'GET', '/api/users/user-0'), /the store is unavailable \(SQLITE_IOERR/);
    expectNotApplied(await admin(t, 'POST', '/api/segments', { name: 'Later', condition: { event: 'later' } }), /SQLITE_IOERR/);
    expect(ledger.refused).toHaveLength(0);

    execFileSync('chattr', ['-i', ...immutable]);
    immutable = [];
    // No restart: what was acknowledged is applied, once.
    expect((await ledger.send()).statusCode).toBe(200);
    await ledger.expectExactlyAcked();
    expect(ledger.acked.size).toBe(8 * 3);
    // Membership follows what was committed.
    const users = (await admin(t, 'GET', '/api/users/user-1/segments')).json();
    expect(users.segments.map((s: { id: string }) => s.id)).toEqual([seg.id]);
    expect((await admin(t, 'GET', `/api/segments/${seg.id}`)).json().size).toBe(2);
  });

  it('acknowledges into the log while the database can grow no more (SQLITE_FULL), and applies it once there is room', async () => {
    // Batches of 20 events of 20 KB each: more than the pages the file has to spare.
    const ledger = new Ledger(t, 'full', { big: 'x'.repeat(20_000) });
    expect((await ledger.send(20)).statusCode).toBe(200);
    // A full disk, as SQLite meets it: no page beyond those the file has now (a limit of this connection).
    raw.pragma(`max_page_count = ${raw.pragma('page_count', { simple: true }) as number}`);
    expect((await ledger.send(20)).statusCode).toBe(200);
    expect((await ledger.send(20)).statusCode).toBe(200);
    expectNotApplied(await admin(t, 'GET', '/api/users/user-0'), /the store is unavailable \(SQLITE_FULL\)/);
    raw.pragma('max_page_count = 1073741823');
    expect((await ledger.send(20)).statusCode).toBe(200);
    await ledger.expectExactlyAcked();
    expect((await admin(t, 'GET', '/api/users/user-0')).statusCode).toBe(200);
    expect(ledger.acked.size).toBe(4 * 20);
  });

  it('acknowledges into the log while another connection holds the write lock (SQLITE_BUSY), and applies it when it lets go', async () => {
    const ledger = new Ledger(t, 'busy');
    expect((await ledger.send()).statusCode).toBe(200);
    const other = new BetterSqlite3(file);
    try {
      other.exec('BEGIN EXCLUSIVE');
      expect((await ledger.send()).statusCode).toBe(200);
      const concurrent = await Promise.all([ledger.send(), ledger.send(), ledger.send()]);
      for (const r of concurrent) expect(r.statusCode).toBe(200);
      // A reader waits for those events, which the lock keeps from being applied.
      expectNotApplied(await admin(t, 'GET', '/api/users/user-0'), /the store is unavailable \(SQLITE_BUSY\)/);
      other.exec('COMMIT');
    } finally {
      other.close();
    }
    expect((await ledger.send()).statusCode).toBe(200);
    await t.ctx.ingest.drain();
    expect((await admin(t, 'GET', '/api/users/user-0')).statusCode).toBe(200);
    // A batch acknowledged before is a duplicate when sent again: still one copy.
    expect((await ledger.send(0, ['busy-0', 'busy-1', 'busy-2'])).statusCode).toBe(200);
    await ledger.expectExactlyAcked();
    expect(ledger.acked.size).toBe(6 * 3);
  });
});

/**
 * A TCP proxy to PostgreSQL that the test can stop (refusing), make silent, stop at the next
 * COMMIT (PostgreSQL gone in the middle of a transaction), or start again on the same port.
 */
class PgProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private silent = false;
  /** Stop (as `down`) when a client next sends COMMIT, before PostgreSQL receives it. */
  downAtCommit = false;
  port = 0;
  constructor(private readonly target: { host: string; port: number }) {}
  async up(): Promise<void> {
    this.silent = false;
    const server = createServer((client) => {
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client));
      client.on('error', () => undefined);
      // Silent: the connection is accepted and nothing ever comes back.
      if (this.silent) return;
      const upstream = new Socket();
      this.sockets.add(upstream);
      upstream.on('close', () => { this.sockets.delete(upstream); client.destroy(); });
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      upstream.connect(this.target.port, this.target.host, () => {
        upstream.pipe(client);
        client.on('data', (d: Buffer) => {
          if (this.downAtCommit && /\bcommit\b/i.test(d.toString('latin1'))) {
            this.downAtCommit = false;
            void this.down();
          } else upstream.write(d);
        });
      });
    });
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(this.port, '127.0.0.1', () => resolve()); });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }
  /** PostgreSQL "stopped": every connection cut, new ones refused (nothing listens on the port). */
  async down(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
  /** PostgreSQL "hung": connections cut, new ones accepted and never answered. */
  mute(): void {
    this.silent = true;
    for (const s of this.sockets) s.destroy();
  }
}

const pgUp = await postgresReachable(TEST_PG_URL);
// A proxy needs a real server: PGlite runs in process, with no connection to cut.
if (!pgUp) console.warn(`[strata tests] skipped: no PostgreSQL server at ${TEST_PG_URL} for the PostgreSQL fault tests`);

describe.runIf(pgUp)('when PostgreSQL fails', () => {
  let proxy: PgProxy;
  let schema: string;
  let app: string;
  let adminClient: pg.Client;
  let t: TestApp;
  const idleErrors: Error[] = [];

  beforeEach(async () => {
    const target = new URL(TEST_PG_URL);
    proxy = new PgProxy({ host: target.hostname, port: Number(target.port || 5432) });
    await proxy.up();
    schema = `strata_faults_${randomBytes(5).toString('hex')}`;
    app = schema;
    adminClient = new pg.Client({ connectionString: TEST_PG_URL });
    await adminClient.connect();
    await adminClient.query(`CREATE SCHEMA ${schema}`);
    const url = new URL(TEST_PG_URL);
    url.port = String(proxy.port);
    url.hostname = '127.0.0.1';
    url.searchParams.set('options', `-c search_path=${schema}`);
    url.searchParams.set('application_name', app);
    idleErrors.length = 0;
    const db = openPostgres(url.toString(), { poolSize: 4, connectTimeoutMs: 1000, onIdleError: (e) => idleErrors.push(e) });
    const store = new SqlStore(db, 'postgres');
    await store.migrate();
    t = await startTestApp(store, T0, { config: { readWaitMs: 1500 } });
  });
  afterEach(async () => {
    await proxy.up().catch(() => undefined);
    await t.close();
    await proxy.down();
    await adminClient.query(`DROP SCHEMA ${schema} CASCADE`);
    await adminClient.end();
  });

  it('answers 503 to ingest and reads while PostgreSQL is stopped, and serves again without a restart when it is back', async () => {
    const seg = (await admin(t, 'POST', '/api/segments', { name: 'Clickers', condition: { event: 'clicked' } })).json();
    const buyers = (await admin(t, 'POST', '/api/segments', { name: 'Buyers', condition: { event: 'bought' } })).json();
    const ledger = new Ledger(t, 'pgdown');
    expect((await ledger.send()).statusCode).toBe(200);
    // PostgreSQL goes away at the COMMIT of the worker's transaction applying a purchase (its
    // append, a statement of its own, committed: the purchase is acknowledged): user-0 entered
    // Buyers in the engine's memory, in a transaction that never committed; the engine must not
    // keep that entry, and must apply the purchase again once PostgreSQL is back.
    proxy.downAtCommit = true;
    const bought = { userId: 'user-0', event: 'bought', messageId: 'bought-while-down' };
    expect((await t.app.inject({ method: 'POST', url: '/v1/track', headers: { 'x-write-key': WRITE }, payload: bought })).statusCode).toBe(200);
    for (let i = 0; i < 100 && proxy.downAtCommit; i++) await new Promise((r) => setTimeout(r, 10));
    expect(proxy.downAtCommit).toBe(false);
    // The log is a table of the same database: nothing more is acknowledged while it is gone.
    for (let i = 0; i < 2; i++) expectUnavailable(await ledger.send(), /ECONNREFUSED|Connection terminated/);
    for (const r of await Promise.all([ledger.send(), ledger.send()])) expectUnavailable(r, /ECONNREFUSED|Connection terminated/);
    expectNotApplied(await admin(t, 'GET', '/api/users/user-0'), /the store is unavailable \((ECONNREFUSED|Connection terminated)/);
    expectNotApplied(await admin(t, 'GET', '/api/segments'), /ECONNREFUSED|Connection terminated/);
    // Liveness: the process is up, only its store is not.
    expect((await t.app.inject({ method: 'GET', url: '/api/health' })).statusCode).toBe(200);

    await proxy.up();
    expect((await ledger.send()).statusCode).toBe(200);
    expect(await ledger.retry()).toEqual([200, 200, 200, 200]);
    await ledger.expectExactlyAcked();
    expect(ledger.acked.size).toBe(6 * 3);
    expect((await admin(t, 'GET', '/api/users/user-1/segments')).json().segments.map((s: { id: string }) => s.id)).toEqual([seg.id]);
    // The purchase was applied once PostgreSQL came back, and its entry with it (in memory and in the store).
    expect((await admin(t, 'GET', `/api/segments/${buyers.id}`)).json().size).toBe(1);
    expect((await t.app.inject({ method: 'POST', url: '/v1/track', headers: { 'x-write-key': WRITE }, payload: bought })).statusCode).toBe(200);
    expect((await admin(t, 'GET', `/api/segments/${buyers.id}`)).json().size).toBe(1);
    expect((await admin(t, 'GET', '/api/users/user-0/segments')).json().segments.map((s: { id: string }) => s.id).sort()).toEqual([seg.id, buyers.id].sort());
  });

  it('answers 503 within the connect timeout when PostgreSQL accepts connections but never answers', async () => {
    const ledger = new Ledger(t, 'pgmute');
    expect((await ledger.send()).statusCode).toBe(200);
    await t.ctx.ingest.drain();
    proxy.mute();
    expectUnavailable(await ledger.send(), /Connection terminated|timeout/);
    expectUnavailable(await admin(t, 'GET', '/api/users/user-0'), /Connection terminated|timeout/);
    await proxy.down();
    await proxy.up();
    expect(await ledger.retry()).toEqual([200]);
    await ledger.expectExactlyAcked();
  });

  it('carries on when PostgreSQL ends the app\'s connections (pg_terminate_backend), without a restart', async () => {
    const ledger = new Ledger(t, 'pgterm');
    expect((await ledger.send()).statusCode).toBe(200);
    // Applied first, so that every connection of the pool is idle when it is ended.
    await t.ctx.ingest.drain();
    const ended = await adminClient.query('SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1', [app]);
    expect(ended.rows.length).toBeGreaterThan(0);
    // The pool hears of each idle connection's end (asynchronously) and drops it. A connection that was
    // running a query then (a background read: the trimmer, the definitions poll) fails that query instead,
    // which is tried again: so at least one, and at most every one, is heard of as idle.
    for (let i = 0; i < 200 && idleErrors.length < ended.rows.length; i++) await new Promise((r) => setTimeout(r, 10));
    expect(idleErrors.length).toBeGreaterThan(0);
    expect(idleErrors.length).toBeLessThanOrEqual(ended.rows.length);
    expect((await ledger.send()).statusCode).toBe(200);
    expect((await admin(t, 'GET', '/api/users/user-0')).statusCode).toBe(200);
    await ledger.expectExactlyAcked();
    expect(ledger.acked.size).toBe(2 * 3);
  });
});
