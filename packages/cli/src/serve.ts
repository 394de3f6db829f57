import { randomInt } from 'node:crypto';
import { systemClock } from '@strata/engine';
import { openSharedStore, openWriterStore, redactNatsUrl, streamName, type StoreConfig } from '@strata/store';
import { buildApp, configFromEnv, createContext, credentialLines, ensureDefaultProject, openConfiguredLog, startWorkerRole, stopContext, workerHealthServer, type AppContext, type Config } from '@strata/server';

/** The configured store: PostgreSQL when DATABASE_URL is set, else embedded SQLite in STRATA_DATA_DIR. */
export function storeConfigOf(config: Config): StoreConfig {
  return config.databaseUrl ? { kind: 'postgres', url: config.databaseUrl } : { kind: 'sqlite', dataDir: config.dataDir };
}

/** How the process stops with an exit code: at once until `serve` listens, then as a signal stops it. */
let stopWith: (code: number) => void = (code) => process.exit(code);

/**
 * Prepares store, default project and services; prints the credentials in force and what this start changed.
 * The store's writer lease comes first: when another process writes this database, the start is refused
 * here (`WriterLeaseRefused`: exit 1, the holder named on stderr) before it migrates, writes or listens.
 * The event log next (on NATS with STRATA_NATS_URL): a log that cannot be opened, or that would
 * leave acknowledged records unread, stops the start too (exit 1, saying why).
 */
export async function prepare(): Promise<{ config: Config; ctx: AppContext }> {
  const config = configFromEnv();
  if (config.role === 'api') return { config, ctx: await prepareApi(config) };
  const { store, lease } = await openWriterStore(storeConfigOf(config));
  lease.onLost((reason) => {
    console.error(`strata: ${reason}. This process stops (exit 1): two processes writing one database would each keep segments from part of the events.`);
    stopWith(1);
  });
  const log = await openLogOrClose(store, config, () => lease.release());
  for (const line of credentialLines(await ensureDefaultProject(store, config, Date.now()))) console.log(line);
  return { config, ctx: createContext(store, config, systemClock, { writerLease: lease, log }) };
}

/**
 * A process of the api role (docs/scale-out.md § Roles): no writer lease and no migration (the
 * process of the all role holds the one and runs the other; a schema it has not migrated yet is
 * refused), the event log on NATS opened as the all process opens it. No engine is loaded.
 */
async function prepareApi(config: Config): Promise<AppContext> {
  const store = await openSharedStore(storeConfigOf(config));
  return createContext(store, config, systemClock, { log: await openLogOrClose(store, config) });
}

/** The configured event log; when it cannot be opened, `release` (the writer lease) and the store are let go before the start fails. */
async function openLogOrClose(store: AppContext['store'], config: Config, release: () => Promise<void> = async () => {}): Promise<AppContext['ingest']['log']> {
  try {
    return await openConfiguredLog(store, config);
  } catch (err) {
    await release();
    await store.close();
    throw err;
  }
}

export async function serve(ctx: AppContext, config: Config): Promise<void> {
  // Ctrl-C or SIGTERM exits 0 (a lost writer lease, 1): before Strata listens, at once (nothing was
  // acknowledged yet); once it listens, after closing HTTP, the queues, the lease and the store (a load
  // in progress stops after the project it is loading). A second signal while stopping changes
  // nothing (the default action would kill the process in the middle of a commit).
  let stopping: Promise<void> | null = null;
  let stop: (code: number) => Promise<void> = async (code) => process.exit(code);
  stopWith = (code) => { stopping ??= stop(code); };
  const onSignal = () => stopWith(0);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Listens at once: liveness (/api/health) and readiness (/api/health/ready, 503 until the
  // engine is loaded) answer during the load; the APIs answer 503 STARTING until then.
  const app = await buildApp(ctx);
  const address = await app.listen({ port: config.port, host: config.host });
  stop = async (code) => {
    await app.close();
    await stopContext(ctx);
    process.exit(code);
  };
  if (config.role === 'api') {
    console.log(`Strata is serving on ${address} with the api role: ingest, appended to the event log (${logName(ctx.ingest.log, config)}) that a process of the all role applies to PostgreSQL, and targeting and the admin API's reads from PostgreSQL; Ctrl-C stops it`);
    return;
  }
  console.log(`Strata is listening on ${address}; loading the engine (readiness: ${address}/api/health/ready)`);
  const began = Date.now();
  // Loads engine state (emitting transitions that came due while down) before the APIs serve.
  await ctx.engine.start();
  if (stopping || ctx.engine.started.phase !== 'ready') return;
  app.log.info({ projects: ctx.engine.started.total, profiles: ctx.engine.stats().profiles, loadMs: Date.now() - began }, 'engine loaded: ready');
  ctx.dispatcher.start();
  ctx.destinationDispatcher.start();
  // Syncs a stop interrupted carry on from their last page.
  await ctx.destinations.resumeSyncs();
  console.log(`Strata is serving on ${address} (store: ${config.databaseUrl ? 'PostgreSQL' : `SQLite in ${config.dataDir}`}; event log: ${logName(ctx.ingest.log, config)}); API docs at ${address}/docs; Ctrl-C stops it`);
}

/** The event log in use, for the start line (the NATS URL without its password). */
export function logName(log: Pick<AppContext['ingest']['log'], 'kind' | 'partitions'>, config: Config): string {
  if (log.kind !== 'jetstream') return `embedded (${log.kind === 'sqlite' ? 'a file beside the store' : 'a table of the store'})`;
  return `NATS JetStream at ${redactNatsUrl(config.eventLog.natsUrl ?? '')}, stream ${streamName(config.eventLog.prefix)}, ${log.partitions} partitions`;
}

/**
 * How long a worker's session may sit idle inside a transaction (ms): far longer than any pause
 * between its statements — a NATS append waits 5 s at most, and the longest computation inside one
 * of its transactions measured, catching up a million profiles after a week down, took 85 s.
 */
const WORKER_IDLE_IN_TRANSACTION_MS = 300_000;

/**
 * `strata serve` with STRATA_ROLE=worker (docs/scale-out.md § Workers): the writer lease taken
 * shared (any number of workers together; a process of the all role refused beside them, and they
 * beside it), migrations run, the log on NATS opened; then the partition leases, the worker, and
 * its health answers on PORT. Ctrl-C or SIGTERM releases the leases (the others take the
 * partitions at once) and exits 0.
 */
export async function serveWorker(config: Config = configFromEnv()): Promise<void> {
  const cfg = storeConfigOf(config);
  // A worker frozen inside a transaction loses it, and its partitions' locks, after five minutes (docs/scale-out.md § Partition leases).
  const { store, lease } = await openWriterStore(cfg.kind === 'postgres' ? { ...cfg, idleInTransactionMs: WORKER_IDLE_IN_TRANSACTION_MS } : cfg, { shared: true });
  // Its own rows of the per-day membership counts: workers applying at once never wait on one another's.
  store.dailyShard = randomInt(1, 2 ** 31 - 1);
  const log = await openLogOrClose(store, config, () => lease.release());
  const role = await startWorkerRole(store, config, log, systemClock);
  const http = workerHealthServer(role);
  await new Promise<void>((resolve) => http.listen(config.port, config.host, resolve));
  let stopping: Promise<void> | null = null;
  const stop = (code: number) => {
    stopping ??= (async () => {
      http.close();
      await role.stop();
      await log.close();
      await lease.release();
      await store.close();
      process.exit(code);
    })();
  };
  lease.onLost((reason) => {
    console.error(`strata: ${reason}. This process stops (exit 1).`);
    stop(1);
  });
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  const a = http.address();
  const where = typeof a === 'object' && a !== null ? `http://${config.host}:${a.port}` : String(a);
  console.log(`Strata is serving on ${where} with the worker role: it applies the partitions it leases of the event log (${logName(log, config)}) to PostgreSQL; health at ${where}/api/health; Ctrl-C stops it`);
}
