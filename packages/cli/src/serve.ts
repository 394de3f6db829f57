import { createStore, type SqlStore } from '@strata/store';
import { buildApp, configFromEnv, createContext, credentialLines, ensureDefaultProject, stopContext, type AppContext, type Config } from '@strata/server';

/** Opens the configured store: PostgreSQL when DATABASE_URL is set, else embedded SQLite in STRATA_DATA_DIR. */
export async function openConfiguredStore(config: Config): Promise<SqlStore> {
  return createStore(config.databaseUrl ? { kind: 'postgres', url: config.databaseUrl } : { kind: 'sqlite', dataDir: config.dataDir });
}

/** Prepares store, default project and services; prints the credentials in force and what this start changed. */
export async function prepare(): Promise<{ config: Config; ctx: AppContext }> {
  const config = configFromEnv();
  const store = await openConfiguredStore(config);
  for (const line of credentialLines(await ensureDefaultProject(store, config, Date.now()))) console.log(line);
  return { config, ctx: createContext(store, config) };
}

export async function serve(ctx: AppContext, config: Config): Promise<void> {
  // Ctrl-C or SIGTERM exits 0: before Strata listens, at once (nothing was acknowledged yet); once
  // it listens, after closing HTTP, the queues and the store (a load in progress stops after the
  // project it is loading). A second signal while stopping changes nothing (the default action
  // would kill the process in the middle of a commit).
  let stopping: Promise<void> | null = null;
  let stop: () => Promise<void> = async () => process.exit(0);
  const onSignal = () => { stopping ??= stop(); };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Listens at once: liveness (/api/health) and readiness (/api/health/ready, 503 until the
  // engine is loaded) answer during the load; the APIs answer 503 STARTING until then.
  const app = await buildApp(ctx);
  const address = await app.listen({ port: config.port, host: config.host });
  stop = async () => {
    await app.close();
    await stopContext(ctx);
    process.exit(0);
  };
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
  console.log(`Strata is serving on ${address} (store: ${config.databaseUrl ? 'PostgreSQL' : `SQLite in ${config.dataDir}`}); API docs at ${address}/docs; Ctrl-C stops it`);
}
