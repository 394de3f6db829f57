import { createHash, randomUUID } from 'node:crypto';
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { hostname as osHostname, uptime } from 'node:os';
import { join, resolve } from 'node:path';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import type { StoreConfig } from './create-store.ts';
import { writerLeaseTable } from './migrations.ts';
import type { Database } from './schema.ts';
import type { SqlStore } from './sql-store.ts';

// One writer per database. The live engine in the process that writes a database is what keeps
// its memberships exact: a second `strata serve` on the same database would apply only the events
// sent to it, and answer segments from that partial view without knowing. So the process that
// serves a database holds its writer lease for as long as it runs, and a second one is refused at
// start, naming the holder, before it listens or changes anything (docs/operations.md). Sharing one
// database between processes correctly is the distributed mode's task (partitions leased over NATS
// JetStream, later); until then, one process writes.

/** The key of the lease's one row in `writer_lease`. */
const ROW = 'writer';

/** Who holds the lease, as its row says. */
export interface LeaseHolder {
  /** A random id per lease taken (a pid alone may be reused). */
  readonly holderId: string;
  readonly pid: number;
  readonly hostname: string;
  /** Its boot and pid namespace (`hostId()`); null where the system does not say. */
  readonly hostId: string | null;
  /** SQLite: the database file it wrote the row in (`fileId()`); null on PostgreSQL. */
  readonly dbFile: string | null;
  /** When it took the lease (epoch ms). */
  readonly startedAt: number;
  /** Its last heartbeat (epoch ms), written every `heartbeatMs` while it holds the lease. */
  readonly heartbeatAt: number;
}

export interface WriterLeaseOptions {
  /** How often the holder writes its heartbeat (ms; default 5,000). */
  readonly heartbeatMs?: number;
  /** SQLite: a holder on another host (a shared file system) whose heartbeat is older than this is gone (ms; default 60,000). */
  readonly staleMs?: number;
  /**
   * PostgreSQL: how long a start retries a held lock before it is refused (ms; default 3,000): the
   * session of a process killed a moment ago can take that long to end.
   */
  readonly waitMs?: number;
  /**
   * PostgreSQL: the lease shared among the processes of the worker role, which split the writes
   * by partition between them (docs/scale-out.md § Workers): any number hold it together, and it
   * keeps a process of the all role (which holds it alone) from starting, and the other way round.
   * No row names the holders.
   */
  readonly shared?: boolean;
}

export interface WriterLease {
  /** What the lease guards, in words: "SQLite data dir /srv/strata", "PostgreSQL database "x", schema "y" on host:5432". */
  readonly target: string;
  /** This process as the lease row names it; null for an in-process store, which needs no lease. */
  readonly holder: LeaseHolder | null;
  /** `fn` is told, once, that another process took the lease while this one held it: this one must stop writing. */
  onLost(fn: (reason: string) => void): void;
  /** Gives the lease up: the row goes, and on PostgreSQL the lock with its connection. */
  release(): Promise<void>;
}

/** A start refused because another process holds the lease; the message says who, why and what to do. */
export class WriterLeaseRefused extends Error {
  constructor(readonly target: string, readonly holder: LeaseHolder | null, readonly detail: string | null = null, now = Date.now()) {
    super(`another Strata process already writes to ${target}: ${holder ? describeHolder(holder, now) : 'its pid and host are not recorded'}`
      + `${detail ? `; ${detail}` : ''}.\n`
      + 'Strata runs one writer per database: the live engine of the process that writes it keeps segment memberships exact, '
      + 'and a second process would see only the events sent to it and answer segments from that partial view. '
      + 'Stop the other process first, or give this one a database of its own '
      + '(STRATA_DATA_DIR, or DATABASE_URL with a database or schema of its own); to share the work, run processes of the worker role '
      + '(STRATA_ROLE=worker, on NATS and PostgreSQL) instead of one of the all role.');
    this.name = 'WriterLeaseRefused';
  }
}

/** "pid 41 on host web-1, since 2024-06-15T12:00:00.000Z (last heartbeat 3 s ago)". */
export function describeHolder(h: LeaseHolder, now = Date.now()): string {
  const ago = Math.max(0, Math.round((now - h.heartbeatAt) / 1000));
  return `pid ${h.pid} on host ${h.hostname}, since ${new Date(h.startedAt).toISOString()} (last heartbeat ${ago} s ago)`;
}

/** The leases this process holds, by holder id: a row naming one of them is held, whatever its pid says. */
const heldHere = new Set<string>();

const DEFAULTS = { heartbeatMs: 5_000, staleMs: 60_000, waitMs: 3_000, shared: false };

/**
 * Takes the writer lease of the store `cfg` opens (`store` is that store), or throws
 * `WriterLeaseRefused` naming the holder. The embedded SQLite file and a PostgreSQL database
 * (per schema) are leased; PGlite and in-memory SQLite live inside this process, so no other
 * process can open them: they need no lease and get one that guards nothing.
 */
export async function acquireWriterLease(store: SqlStore, cfg: StoreConfig, options: WriterLeaseOptions = {}): Promise<WriterLease> {
  const o = { ...DEFAULTS, ...options };
  switch (cfg.kind) {
    case 'sqlite':
      return acquireSqlite(store.db, `SQLite data dir ${resolve(cfg.dataDir)}`, fileId(join(cfg.dataDir, 'strata.db')), o);
    case 'postgres':
      return acquirePostgres(cfg.url, o);
    case 'sqlite-memory':
    case 'pglite':
      return { target: `the in-process store (${cfg.kind})`, holder: null, onLost: () => undefined, release: async () => undefined };
  }
}

function newHolder(dbFile: string | null = null): LeaseHolder {
  const now = Date.now();
  return { holderId: randomUUID(), pid: process.pid, hostname: osHostname(), hostId: hostId(), dbFile, startedAt: now, heartbeatAt: now };
}

/**
 * Where a pid means something: this boot of this machine (Linux's boot id) and this pid namespace
 * (two containers sharing a host name each have their own pids). Null where /proc does not say.
 */
export function hostId(): string | null {
  try {
    return `${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()}/${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return null;
  }
}

/** A file's identity (`<device>:<inode>`): a copy of it is another file. */
function fileId(path: string): string | null {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

type LeaseRow = Database['writer_lease'];

function holderOf(row: LeaseRow): LeaseHolder {
  return {
    holderId: row.holder_id, pid: Number(row.pid), hostname: row.hostname, hostId: row.host_id ?? null, dbFile: row.db_file ?? null,
    startedAt: Number(row.started_at), heartbeatAt: Number(row.heartbeat_at),
  };
}

function rowOf(h: LeaseHolder): LeaseRow {
  return { name: ROW, holder_id: h.holderId, pid: h.pid, hostname: h.hostname, host_id: h.hostId, db_file: h.dbFile, started_at: h.startedAt, heartbeat_at: h.heartbeatAt };
}

/** Whether a process with this pid exists on this host (EPERM: it does, under another user). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the holder a SQLite lease row names still holds it.
 * - A row written in another database file is a copy's (a backup made with `VACUUM INTO`, then
 *   started elsewhere): it holds nothing here.
 * - Same host name, same boot, same pid namespace: its pid is alive — unless that pid is this very
 *   process (a container restarted after a crash gives Strata the same pid again).
 * - Same host name, another boot (where the boot id is known): gone, a power cut or reboot ended
 *   it, and its pid may be another program's now. Without a boot id, a holder that started before
 *   this host's uptime began is gone (10 s of slack for the wall clock).
 * - Anywhere else — another host (a data dir on a network file system), or another pid namespace
 *   on this one (containers sharing a host name), where its pid cannot be checked: its heartbeat
 *   is fresher than `staleMs`.
 */
function stillHeld(h: LeaseHolder, me: LeaseHolder, now: number, staleMs: number): boolean {
  if (h.dbFile !== null && me.dbFile !== null && h.dbFile !== me.dbFile) return false;
  if (heldHere.has(h.holderId)) return true;
  const fresh = now - h.heartbeatAt < staleMs;
  if (h.hostname !== me.hostname) return fresh;
  if (h.hostId !== null && me.hostId !== null) {
    const [hBoot, hNs] = h.hostId.split('/'), [myBoot, myNs] = me.hostId.split('/');
    if (hBoot !== myBoot) return false;
    if (hNs !== myNs) return fresh;
  } else if (h.startedAt < now - uptime() * 1000 - 10_000) return false;
  if (h.pid === process.pid) return false;
  return pidAlive(h.pid);
}

/** Heartbeats and loss, the same for both stores: `beat` resolves to a reason when the lease was lost. */
function leaseHandle(target: string, me: LeaseHolder, heartbeatMs: number, beat: () => Promise<string | null>, giveUp: () => Promise<void>): WriterLease {
  heldHere.add(me.holderId);
  const listeners: ((reason: string) => void)[] = [];
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> = Promise.resolve();
  let over = false;
  const end = () => {
    over = true;
    heldHere.delete(me.holderId);
    if (timer) clearTimeout(timer);
  };
  const schedule = () => {
    if (over) return;
    timer = setTimeout(() => {
      running = beat().then((lost) => {
        if (lost === null || over) return;
        end();
        for (const fn of listeners) fn(lost);
      }, () => undefined).finally(schedule);
    }, heartbeatMs);
    timer.unref();
  };
  schedule();
  let released = false;
  return {
    target,
    holder: me,
    onLost: (fn) => void listeners.push(fn),
    // After a loss too: giving up touches only what is still this holder's (its row, its connection).
    async release() {
      if (released) return;
      released = true;
      end();
      await running;
      await giveUp();
    },
  };
}

// ------------------------------------------------------------------ SQLite

/**
 * SQLite's own locks are the database's read and write locks: one held for the life of the
 * process would stop every other connection, its own checkpointer's included. So the lease is the
 * row alone, taken in a `BEGIN IMMEDIATE` transaction (the write lock, for that moment: two starts
 * read and write the row one after the other). It is free when there is no row, or when its holder is
 * gone (`stillHeld`). A kill -9 leaves the row behind, naming a dead pid: the next start takes it.
 */
async function acquireSqlite(db: Kysely<Database>, target: string, dbFile: string | null, o: typeof DEFAULTS): Promise<WriterLease> {
  const me = newHolder(dbFile);
  await db.connection().execute(async (conn) => {
    await sql`BEGIN IMMEDIATE`.execute(conn);
    try {
      await sql.raw(writerLeaseTable('sqlite')).execute(conn);
      const row = await conn.selectFrom('writer_lease').selectAll().where('name', '=', ROW).executeTakeFirst();
      const held = row ? holderOf(row) : null;
      if (held && stillHeld(held, me, me.startedAt, o.staleMs)) throw new WriterLeaseRefused(target, held, null, me.startedAt);
      await conn.insertInto('writer_lease').values(rowOf(me))
        .onConflict((c) => c.column('name').doUpdateSet((eb) => ({
          holder_id: eb.ref('excluded.holder_id'), pid: eb.ref('excluded.pid'), hostname: eb.ref('excluded.hostname'),
          host_id: eb.ref('excluded.host_id'), db_file: eb.ref('excluded.db_file'),
          started_at: eb.ref('excluded.started_at'), heartbeat_at: eb.ref('excluded.heartbeat_at'),
        }))).execute();
      await sql`COMMIT`.execute(conn);
    } catch (err) {
      await sql`ROLLBACK`.execute(conn).catch(() => undefined);
      throw err;
    }
  });
  return leaseHandle(target, me, o.heartbeatMs, async () => {
    let updated: bigint;
    try {
      updated = (await db.updateTable('writer_lease').set({ heartbeat_at: Date.now() })
        .where('name', '=', ROW).where('holder_id', '=', me.holderId).executeTakeFirst()).numUpdatedRows;
    } catch {
      return null; // the file is busy or unwritable now: the next heartbeat tries again
    }
    if (updated > 0n) return null;
    const row = await db.selectFrom('writer_lease').selectAll().where('name', '=', ROW).executeTakeFirst().catch(() => undefined);
    return `the writer lease of ${target} was taken over by ${row ? describeHolder(holderOf(row)) : 'another process (its row is gone)'}`;
  }, async () => {
    await db.deleteFrom('writer_lease').where('name', '=', ROW).where('holder_id', '=', me.holderId).execute().catch(() => undefined);
  });
}

// -------------------------------------------------------------- PostgreSQL

/** The advisory lock's key: distinct per database and per schema (tests run many schemas in one database). */
export function writerLockKey(database: string, schema: string): bigint {
  return createHash('sha256').update(`strata writer lease\0${database}\0${schema}`).digest().readBigInt64BE(0);
}

interface Session {
  readonly client: pg.Client;
  readonly key: bigint;
  readonly target: string;
}

/** A connection of its own for the lock (its session holds it): PostgreSQL releases it when the session ends, kill -9 included. */
async function openSession(url: string): Promise<Session> {
  const client = new pg.Client({ connectionString: url, keepAlive: true, connectionTimeoutMillis: 5_000, application_name: 'strata writer lease' });
  // Heard here, a lost connection is found by the next heartbeat; unheard, it would end the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    // A host that vanishes (power cut) leaves its session open until TCP gives up: ask the server to probe after 30 s idle.
    await client.query('SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3');
    // The lease's statements are tiny: one that waits (a lock someone holds on the row) fails soon
    // instead of holding up a heartbeat, and with it the release at stop.
    await client.query("SET lock_timeout = '2s'; SET statement_timeout = '5s'");
    const { rows } = await client.query<{ db: string; schema: string | null }>('SELECT current_database() AS db, current_schema() AS schema');
    const { db, schema } = rows[0]!;
    if (schema === null) throw new Error(`DATABASE_URL's search_path names no schema that exists in database "${db}"`);
    const u = new URL(url);
    const where = u.hostname ? ` on ${u.hostname}:${u.port || '5432'}` : '';
    return { client, key: writerLockKey(db, schema), target: `PostgreSQL database "${db}", schema "${schema}"${where}` };
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
}

async function tryLock(s: Session, shared = false): Promise<boolean> {
  const fn = shared ? 'pg_try_advisory_lock_shared' : 'pg_try_advisory_lock';
  return (await s.client.query<{ got: boolean }>(`SELECT ${fn}($1::bigint) AS got`, [s.key.toString()])).rows[0]!.got;
}

/** The row, if the table exists (a holder of an older Strata has none). */
async function readHolder(client: pg.Client): Promise<LeaseHolder | null> {
  try {
    const { rows } = await client.query<LeaseRow>('SELECT * FROM writer_lease WHERE name = $1', [ROW]);
    return rows[0] ? holderOf(rows[0]) : null;
  } catch {
    return null;
  }
}

/** The PostgreSQL session (backend pid) that holds the lock, from pg_locks: a bigint key is (classid, objid) = (high, low) 32 bits. */
async function lockSession(s: Session): Promise<number | null> {
  const u = BigInt.asUintN(64, s.key);
  const { rows } = await s.client.query<{ pid: number }>(
    `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND classid = $1::oid AND objid = $2::oid AND objsubid = 1 AND granted`, [(u >> 32n).toString(), (u & 0xffffffffn).toString()]);
  return rows[0]?.pid ?? null;
}

const UPSERT = `INSERT INTO writer_lease (name, holder_id, pid, hostname, host_id, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
  ON CONFLICT (name) DO UPDATE SET holder_id = excluded.holder_id, pid = excluded.pid, hostname = excluded.hostname,
    host_id = excluded.host_id, started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at`;

async function writeRow(client: pg.Client, me: LeaseHolder): Promise<void> {
  await client.query(writerLeaseTable('postgres'));
  await client.query(UPSERT, [ROW, me.holderId, me.pid, me.hostname, me.hostId, me.startedAt, Date.now()]);
}

/**
 * PostgreSQL: a session-level advisory lock on a connection held open for the life of the
 * process. The server releases it when that session ends, however the process ended; the row
 * only says who holds it. If the connection is lost (a server restart, a network cut), the next
 * heartbeat connects again and takes the lock again; if another process has taken it meanwhile,
 * the lease is lost and its listeners are told.
 */
async function acquirePostgres(url: string, o: typeof DEFAULTS): Promise<WriterLease> {
  const me = newHolder();
  let session = await openSession(url);
  const giveUpBy = Date.now() + o.waitMs;
  try {
    while (!(await tryLock(session, o.shared))) {
      if (Date.now() >= giveUpBy) {
        const [holder, backend] = [await readHolder(session.client), await lockSession(session)];
        const detail = o.shared
          ? 'a process of the all role applies every partition of this database alone; processes of the worker role cannot share the work with it'
          : holder === null
            ? 'no process of the all role is recorded: processes of the worker role (STRATA_ROLE=worker) hold it, sharing the writes by partition; a process of the all role cannot start beside them'
            : backend === null ? null : `its PostgreSQL session is ${backend} (SELECT pg_terminate_backend(${backend}) ends it, should that process be gone)`;
        throw new WriterLeaseRefused(session.target, o.shared ? null : holder, detail);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    if (!o.shared) await writeRow(session.client, me);
  } catch (err) {
    await session.client.end().catch(() => undefined);
    throw err;
  }
  let broken = false;
  const watch = (s: Session) => {
    const lost = () => { if (s === session) broken = true; };
    s.client.on('error', lost);
    s.client.on('end', lost);
  };
  watch(session);
  const target = session.target;
  return leaseHandle(target, me, o.heartbeatMs, async () => {
    if (!broken && o.shared) return null;
    if (!broken) {
      const r = await session.client.query('UPDATE writer_lease SET heartbeat_at = $1 WHERE name = $2 AND holder_id = $3', [Date.now(), ROW, me.holderId]).catch(() => null);
      if (r === null || r.rowCount! > 0) return null; // a failed update: the connection's 'error' or 'end' says whether it is lost
      return `the writer lease row of ${target} names another holder: ${describeHolderOr(await readHolder(session.client))}`;
    }
    let next: Session;
    try {
      next = await openSession(url);
    } catch {
      return null; // the server is unreachable: nobody else can take the lock either; the next heartbeat tries again
    }
    try {
      if (await tryLock(next, o.shared)) {
        if (!o.shared) await writeRow(next.client, me);
        await session.client.end().catch(() => undefined);
        session = next;
        broken = false;
        watch(next);
        return null;
      }
      const holder = await readHolder(next.client);
      await next.client.end().catch(() => undefined);
      // Still this process's old session (the server has not seen it end yet): try again at the next heartbeat.
      if (holder === null || holder.holderId === me.holderId) return null;
      return `the connection holding the writer lease of ${target} was lost, and another process took the lease: ${describeHolder(holder)}`;
    } catch {
      await next.client.end().catch(() => undefined);
      return null;
    }
  }, async () => {
    if (!broken && o.shared) await session.client.query('SELECT pg_advisory_unlock_shared($1::bigint)', [session.key.toString()]).catch(() => undefined);
    else if (!broken) {
      await session.client.query('DELETE FROM writer_lease WHERE name = $1 AND holder_id = $2', [ROW, me.holderId]).catch(() => undefined);
      await session.client.query('SELECT pg_advisory_unlock($1::bigint)', [session.key.toString()]).catch(() => undefined);
    }
    await session.client.end().catch(() => undefined);
  });
}

function describeHolderOr(h: LeaseHolder | null): string {
  return h ? describeHolder(h) : 'none recorded';
}
