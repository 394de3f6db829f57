/**
 * The store a benchmark runs Strata on (BENCH_STORE), each run fresh and removed afterwards:
 * - `sqlite` — the embedded SQLite store and its embedded log in a directory (benchContext);
 * - `postgres` — a PostgreSQL database of its own (created, then dropped) with the embedded log
 *   in it (the `event_log` table);
 * - `nats` — the same, with the event log on NATS JetStream under a prefix of its own and 16
 *   partitions (BENCH_PARTITIONS for another count; its stream deleted afterwards), opened as
 *   `strata serve` opens it (openConfiguredLog); one process applies every partition.
 * A database rather than a schema: the run is alone in it, as a deployment is. PostgreSQL and NATS
 * are those of the machine unless BENCH_PG_URL (the server's maintenance database, where the
 * run's database is created) or BENCH_NATS_URL say otherwise. A service that does not answer
 * stops the run at once, naming it (checkBenchServices), before anything is measured.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Clock } from '@strata/engine';
import { configFromEnv, createContext, ensureDefaultProject, openConfiguredLog, stopContext, type AppContext } from '@strata/server';
import { createStore, postgresReachable, type SqlStore } from '@strata/store';
import { deleteEventStreams, natsUnavailable, testPrefixes } from '@strata/store/testing';
import { ADMIN, WRITE, benchContext } from './scale-data.ts';

export type BenchStore = 'sqlite' | 'postgres' | 'nats';
export const BENCH_STORES: readonly BenchStore[] = ['sqlite', 'postgres', 'nats'];
const partitionsText = process.env.BENCH_PARTITIONS?.trim() || '16';
/** Partitions of the `nats` store's log (BENCH_PARTITIONS, 16 by default as `strata serve` has). */
export const NATS_PARTITIONS = Number(partitionsText);
if (!Number.isSafeInteger(NATS_PARTITIONS) || NATS_PARTITIONS < 1) throw new Error(`BENCH_PARTITIONS must be a whole number of at least 1, got "${process.env.BENCH_PARTITIONS}"`);

const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const NATS_URL = process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222';
const prefixes = testPrefixes('bench');

/** BENCH_STORE, refused by name when it is none of the three. */
export function benchStoreFromEnv(text = process.env.BENCH_STORE): BenchStore {
  if (text === undefined || text === '') return 'sqlite';
  if (!(BENCH_STORES as readonly string[]).includes(text)) throw new Error(`BENCH_STORE must be sqlite, postgres or nats, got "${text}"`);
  return text as BenchStore;
}

/** How a table names the store. */
export function describeStore(kind: BenchStore): string {
  if (kind === 'sqlite') return 'embedded SQLite store and log';
  if (kind === 'postgres') return `PostgreSQL (${new URL(PG_URL).host}), its embedded log`;
  return `PostgreSQL (${new URL(PG_URL).host}), log on NATS JetStream (${new URL(NATS_URL).host}, ${NATS_PARTITIONS} partitions)`;
}

/** Throws, naming the service and its address, when one the store needs does not answer. */
export async function checkBenchServices(kind: BenchStore): Promise<void> {
  if (kind === 'sqlite') return;
  if (!(await postgresReachable(PG_URL))) throw new Error(`BENCH_STORE=${kind}: no PostgreSQL server answers at ${PG_URL} (BENCH_PG_URL)`);
  if (kind === 'nats') {
    const why = await natsUnavailable(NATS_URL);
    if (why !== null) throw new Error(`BENCH_STORE=nats: ${why} (BENCH_NATS_URL)`);
  }
}

export interface BenchRunStore {
  store: SqlStore;
  ctx: AppContext;
  /** The variables another Strata process needs to share this store and log (processes of the api role): `nats` only. */
  env?: Record<string, string>;
  /** Stops every service of the context, closes the store and log, and removes the database and stream. */
  close(): Promise<void>;
}

/**
 * A fresh store of `kind` with the default project (credentials ADMIN, WRITE) and its services,
 * the engine not started, as benchContext gives it. `dataDir` is used by `sqlite` only.
 */
export async function openBenchStore(kind: BenchStore, dataDir: string, now: number, clock?: Clock): Promise<BenchRunStore> {
  if (kind === 'sqlite') {
    const { store, ctx } = await benchContext(dataDir, now, clock);
    return { store, ctx, close: () => stopContext(ctx) };
  }
  const database = await createDatabase();
  const prefix = kind === 'nats' ? prefixes.next() : null;
  const removeAll = async () => {
    if (prefix !== null) await deleteStream(prefix);
    await dropDatabase(database.name);
  };
  try {
    const config = {
      ...configFromEnv({
        DATABASE_URL: database.url,
        ...(prefix === null ? {} : { STRATA_NATS_URL: NATS_URL, STRATA_NATS_PREFIX: prefix, STRATA_PARTITIONS: String(NATS_PARTITIONS) }),
      }),
      adminToken: ADMIN, writeKey: WRITE,
    };
    const store = await createStore({ kind: 'postgres', url: database.url });
    try {
      await ensureDefaultProject(store, config, now);
      const log = await openConfiguredLog(store, config);
      const ctx = createContext(store, config, clock, { log });
      return {
        store, ctx,
        ...(prefix === null ? {} : { env: { DATABASE_URL: database.url, STRATA_NATS_URL: NATS_URL, STRATA_NATS_PREFIX: prefix, STRATA_PARTITIONS: String(NATS_PARTITIONS) } }),
        async close() {
          try {
            await stopContext(ctx);
          } finally {
            await removeAll();
          }
        },
      };
    } catch (err) {
      await store.close();
      throw err;
    }
  } catch (err) {
    await removeAll();
    throw err;
  }
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A database no other run shares (the process id and random bytes), on PG_URL's server. */
async function createDatabase(): Promise<{ name: string; url: string }> {
  const name = `strata_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

async function dropDatabase(name: string): Promise<void> {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

const deleteStream = (prefix: string) => deleteEventStreams([prefix], NATS_URL);
