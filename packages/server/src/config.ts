import { parseDuration } from '@strata/core';

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly databaseUrl: string | null;
  readonly adminToken: string | null;
  readonly writeKey: string | null;
  readonly sessionTimeoutMs: number;
}

/** Reads the configuration of SPEC §5 from the environment; a bad value stops the start with its name. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Config {
  const port = Number(env.PORT ?? 4000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, got "${env.PORT}"`);
  const timeout = parseDuration(env.STRATA_SESSION_TIMEOUT ?? '30m');
  if (timeout === null) throw new Error(`STRATA_SESSION_TIMEOUT must be a duration such as "30m", got "${env.STRATA_SESSION_TIMEOUT}"`);
  const url = env.DATABASE_URL?.trim() || null;
  if (url && !/^postgres(ql)?:\/\//.test(url)) throw new Error('DATABASE_URL must be a postgres:// URL');
  return {
    port,
    host: env.HOST ?? '127.0.0.1',
    dataDir: env.STRATA_DATA_DIR ?? './data',
    databaseUrl: url,
    adminToken: env.STRATA_ADMIN_TOKEN?.trim() || null,
    writeKey: env.STRATA_WRITE_KEY?.trim() || null,
    sessionTimeoutMs: timeout,
  };
}
