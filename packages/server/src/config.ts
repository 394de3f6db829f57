import { isIP } from 'node:net';
import { parseDuration, RATE_LIMIT_DEFAULTS } from '@strata/core';
import { DEFAULT_MAX_SEGMENTS } from '@strata/engine';
import { isNatsName, redactNatsUrl } from '@strata/store';

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly databaseUrl: string | null;
  readonly adminToken: string | null;
  readonly writeKey: string | null;
  /** `STRATA_ROOT_TOKEN`: the operator's token for /api/projects (docs/security.md); generated at the first start when unset. */
  readonly rootToken: string | null;
  readonly sessionTimeoutMs: number;
  /**
   * `STRATA_TRUST_PROXY`: whether X-Forwarded-For names the client (Fastify's `trustProxy`):
   * false (default), true (any proxy), or the addresses / CIDR ranges of the trusted proxies.
   */
  readonly trustProxy: boolean | readonly string[];
  /** `STRATA_STORE_IP`: keep the client's IP in the stored `context.ip` (default: removed after geolocation). */
  readonly storeIp: boolean;
  /**
   * `STRATA_LOG_LEVEL`: the least severe JSON log line written to stdout (default `info`): every
   * 5xx is an `error` line with its request id; `debug` adds a line per request; `silent` none.
   */
  readonly logLevel: LogLevel;
  /** `STRATA_METRICS_TOKEN`: the bearer token `/metrics` asks for; unset, only a direct loopback caller may read it (docs/operations.md). */
  readonly metricsToken: string | null;
  /**
   * Requests per minute per credential (rate-limit.ts): `STRATA_RATE_LIMIT_WRITE` for each write
   * key on /v1/*, `STRATA_RATE_LIMIT_ADMIN` for each admin token on /api/*; 0 turns one off.
   */
  readonly rateLimit: { readonly write: number; readonly admin: number };
  /** `STRATA_MAX_SEGMENTS`: the most segments one project may hold (default 10,000); a create beyond it is refused with 409 LIMIT_REACHED. */
  readonly maxSegments: number;
  /**
   * `STRATA_READ_WAIT_MS`: how long a read waits for the events acknowledged before it to be applied
   * (default 5,000 ms); past it the read is answered 503 NOT_YET_APPLIED, never from a view that misses them.
   */
  readonly readWaitMs: number;
  /**
   * The event log (docs/scale-out.md): `STRATA_NATS_URL` puts it on NATS JetStream (null: the
   * embedded log, a file beside the SQLite store or a table of the PostgreSQL one);
   * `STRATA_NATS_PREFIX` names its stream and subjects; `STRATA_PARTITIONS` is how many partitions
   * it has (16 on NATS; the embedded log always has 1).
   */
  readonly eventLog: EventLogConfig;
  /**
   * `STRATA_ROLE` (docs/scale-out.md § Roles): `all` (the default) serves every API and applies the
   * event log; `api` (NATS and PostgreSQL only) takes ingest and appends it to the log, applying
   * nothing and holding no profile state, beside what applies the log: one `all` process, or
   * `worker` processes (NATS and PostgreSQL only) that share its partitions by lease.
   */
  readonly role: Role;
}

export type Role = 'all' | 'api' | 'worker';

export interface EventLogConfig {
  readonly natsUrl: string | null;
  readonly prefix: string;
  readonly partitions: number;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

function logLevel(v: string | undefined): LogLevel {
  const s = (v ?? '').trim().toLowerCase();
  if (s === '') return 'info';
  if ((LOG_LEVELS as readonly string[]).includes(s)) return s as LogLevel;
  throw new Error(`STRATA_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${v}"`);
}

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['', '0', 'false', 'no', 'off'];

function flag(name: string, v: string | undefined): boolean {
  const s = (v ?? '').trim().toLowerCase();
  if (TRUE.includes(s)) return true;
  if (FALSE.includes(s)) return false;
  throw new Error(`${name} must be 1 or 0, got "${v}"`);
}

function trustProxy(v: string | undefined): boolean | readonly string[] {
  const s = (v ?? '').trim();
  if (TRUE.includes(s.toLowerCase())) return true;
  if (FALSE.includes(s.toLowerCase())) return false;
  const list = s.split(',').map((x) => x.trim()).filter((x) => x !== '');
  for (const x of list) {
    const [addr, bits, ...rest] = x.split('/');
    const family = isIP(addr ?? '');
    const okBits = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
    if (family === 0 || !okBits || rest.length > 0) {
      throw new Error(`STRATA_TRUST_PROXY must be 1, 0 or a comma-separated list of proxy addresses or CIDR ranges, got "${v}"`);
    }
  }
  return list;
}

function perMinute(name: string, v: string | undefined, fallback: number): number {
  const s = (v ?? '').trim();
  if (s === '') return fallback;
  if (!/^\d{1,9}$/.test(s)) throw new Error(`${name} must be a whole number of requests per minute (0: no limit), got "${v}"`);
  return Number(s);
}

/** One NATS server URL, or a comma-separated list of them (a cluster's seeds). */
const NATS_URL = /^(nats|tls):\/\/[^\s,/]+\/?$/;

/** Why one NATS URL (of the list) is not one, or null: the scheme, then a host and a port from 1 to 65535 (none: 4222). */
function natsUrlFault(u: string): string | null {
  if (!NATS_URL.test(u)) return 'not a nats:// (or tls://) URL';
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch {
    return 'its host or port is not valid (the port must be a number from 1 to 65535)';
  }
  if (parsed.hostname === '') return 'it names no host';
  if (parsed.port !== '' && Number(parsed.port) < 1) return 'its port must be a number from 1 to 65535';
  return null;
}

/**
 * The event log's settings. NATS needs PostgreSQL: the log is shared by every process that
 * applies it, so the system of record must be too (the SQLite store lives on one machine's disk).
 * The NATS-only settings are refused without STRATA_NATS_URL rather than ignored.
 */
function eventLog(env: NodeJS.ProcessEnv, databaseUrl: string | null): EventLogConfig {
  const url = env.STRATA_NATS_URL?.trim() || null;
  const prefix = env.STRATA_NATS_PREFIX?.trim() || null;
  const parts = env.STRATA_PARTITIONS?.trim() || null;
  if (url === null) {
    if (prefix !== null) throw new Error(`STRATA_NATS_PREFIX is set ("${env.STRATA_NATS_PREFIX}") but STRATA_NATS_URL is not: the prefix names the event log's NATS stream; unset it, or set STRATA_NATS_URL`);
    if (parts !== null) throw new Error(`STRATA_PARTITIONS is set ("${env.STRATA_PARTITIONS}") but STRATA_NATS_URL is not: the embedded event log has one partition; unset it, or set STRATA_NATS_URL`);
    return { natsUrl: null, prefix: 'strata', partitions: 1 };
  }
  for (const u of url.split(',').map((x) => x.trim())) {
    const fault = natsUrlFault(u);
    if (fault !== null) {
      throw new Error(`STRATA_NATS_URL must be a nats:// (or tls://) URL such as nats://127.0.0.1:4222, or a comma-separated list of them: "${redactNatsUrl(u)}" is ${fault.startsWith('not') ? fault : `not one: ${fault}`} (got "${redactNatsUrl(env.STRATA_NATS_URL ?? '')}")`);
    }
  }
  if (databaseUrl === null) throw new Error('STRATA_NATS_URL needs DATABASE_URL (a postgres:// URL): with the event log on NATS the system of record must be PostgreSQL, shared by every Strata process; the embedded SQLite store is local to one machine');
  if (prefix !== null && !isNatsName(prefix)) throw new Error(`STRATA_NATS_PREFIX must be 1-64 letters, digits, '-' or '_', got "${env.STRATA_NATS_PREFIX}"`);
  const partitions = parts === null ? 16 : Number(parts);
  if (!/^\d{1,4}$/.test(parts ?? '16') || partitions < 1 || partitions > 1024) throw new Error(`STRATA_PARTITIONS must be a whole number from 1 to 1024, got "${env.STRATA_PARTITIONS}"`);
  return { natsUrl: url.split(',').map((u) => u.trim()).join(','), prefix: prefix ?? 'strata', partitions };
}

/**
 * STRATA_ROLE: `all` (the default), `api` or `worker`; the last two need the log on NATS and the
 * PostgreSQL store (the processes share both).
 */
function role(text: string | undefined, env: NodeJS.ProcessEnv): Role {
  const r = text?.trim() || 'all';
  if (r === 'all') return r;
  if (r === 'api' || r === 'worker') {
    const missing = [env.DATABASE_URL?.trim() ? null : 'DATABASE_URL', env.STRATA_NATS_URL?.trim() ? null : 'STRATA_NATS_URL'].filter((m) => m !== null);
    if (missing.length) {
      const what = r === 'api'
        ? 'a process of the api role appends to the event log on NATS JetStream and reads the PostgreSQL store the log is applied to'
        : 'a process of the worker role applies partitions of the event log on NATS JetStream to the PostgreSQL store';
      throw new Error(`STRATA_ROLE=${r} needs ${missing.join(' and ')}: ${what} (docs/scale-out.md § Roles)`);
    }
    return r;
  }
  throw new Error(`STRATA_ROLE must be all, api or worker, got "${text}"`);
}

/** Reads the configuration of docs/reference.md §5 from the environment; a bad value stops the start with its name. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Config {
  const port = Number(env.PORT ?? 4000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, got "${env.PORT}"`);
  const timeout = parseDuration(env.STRATA_SESSION_TIMEOUT ?? '30m');
  if (timeout === null) throw new Error(`STRATA_SESSION_TIMEOUT must be a duration such as "30m", got "${env.STRATA_SESSION_TIMEOUT}"`);
  const maxSegments = Number(env.STRATA_MAX_SEGMENTS?.trim() || DEFAULT_MAX_SEGMENTS);
  if (!Number.isSafeInteger(maxSegments) || maxSegments < 1) throw new Error(`STRATA_MAX_SEGMENTS must be a whole number of at least 1, got "${env.STRATA_MAX_SEGMENTS}"`);
  const readWaitMs = Number(env.STRATA_READ_WAIT_MS?.trim() || 5000);
  if (!Number.isSafeInteger(readWaitMs) || readWaitMs < 1) throw new Error(`STRATA_READ_WAIT_MS must be a whole number of milliseconds of at least 1, got "${env.STRATA_READ_WAIT_MS}"`);
  const url = env.DATABASE_URL?.trim() || null;
  if (url && !/^postgres(ql)?:\/\//.test(url)) throw new Error('DATABASE_URL must be a postgres:// URL');
  const processRole = role(env.STRATA_ROLE, env);
  return {
    port,
    host: env.HOST ?? '127.0.0.1',
    dataDir: env.STRATA_DATA_DIR ?? './data',
    databaseUrl: url,
    adminToken: env.STRATA_ADMIN_TOKEN?.trim() || null,
    writeKey: env.STRATA_WRITE_KEY?.trim() || null,
    rootToken: env.STRATA_ROOT_TOKEN?.trim() || null,
    sessionTimeoutMs: timeout,
    trustProxy: trustProxy(env.STRATA_TRUST_PROXY),
    storeIp: flag('STRATA_STORE_IP', env.STRATA_STORE_IP),
    logLevel: logLevel(env.STRATA_LOG_LEVEL),
    metricsToken: env.STRATA_METRICS_TOKEN?.trim() || null,
    rateLimit: {
      write: perMinute('STRATA_RATE_LIMIT_WRITE', env.STRATA_RATE_LIMIT_WRITE, RATE_LIMIT_DEFAULTS.write),
      admin: perMinute('STRATA_RATE_LIMIT_ADMIN', env.STRATA_RATE_LIMIT_ADMIN, RATE_LIMIT_DEFAULTS.admin),
    },
    maxSegments,
    readWaitMs,
    eventLog: eventLog(env, url),
    role: processRole,
  };
}
