import { createStore, type SqlStore } from '@strata/store';
import { buildApp, configFromEnv, createContext, ensureDefaultProject, stopContext, type AppContext, type Config } from '@strata/server';

/** Opens the configured store: PostgreSQL when DATABASE_URL is set, else embedded SQLite in STRATA_DATA_DIR. */
export async function openConfiguredStore(config: Config): Promise<SqlStore> {
  return createStore(config.databaseUrl ? { kind: 'postgres', url: config.databaseUrl } : { kind: 'sqlite', dataDir: config.dataDir });
}

/** Prepares store, default project and services; prints credentials generated at this start. */
export async function prepare(): Promise<{ config: Config; ctx: AppContext }> {
  const config = configFromEnv();
  const store = await openConfiguredStore(config);
  const { generated } = await ensureDefaultProject(store, config, Date.now());
  if (generated) {
    console.log('Strata generated credentials for the default project (shown once; keep them):');
    if (generated.adminToken) console.log(`  admin token: ${generated.adminToken}`);
    if (generated.writeKey) console.log(`  write key:   ${generated.writeKey}`);
  }
  return { config, ctx: createContext(store, config) };
}

export async function serve(ctx: AppContext, config: Config): Promise<void> {
  // Loads engine state (emitting transitions that came due while down) before taking traffic.
  await ctx.engine.start();
  const app = await buildApp(ctx, { logger: process.env.STRATA_LOG === '1' });
  const address = await app.listen({ port: config.port, host: config.host });
  ctx.dispatcher.start();
  ctx.destinationDispatcher.start();
  // Syncs a stop interrupted carry on from their last page.
  await ctx.destinations.resumeSyncs();
  console.log(`Strata is serving on ${address} (store: ${config.databaseUrl ? 'PostgreSQL' : `SQLite in ${config.dataDir}`}); API docs at ${address}/docs`);
  const stop = async () => {
    await app.close();
    await stopContext(ctx);
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}
