import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import type { SqlStore } from '@strata/store';
import { openTestSqlite } from '@strata/store/testing';
import { buildApp, type AppOptions } from './app.ts';
import { createContext, DEFAULT_PROJECT, ensureDefaultProject, stopContext } from './bootstrap.ts';
import { configFromEnv, type Config } from './config.ts';
import type { AppContext } from './context.ts';

export const ADMIN = 'sta_test_admin_token';
export const WRITE = 'stw_test_write_key';
/** The server's root token in test apps (STRATA_ROOT_TOKEN): /api/projects. */
export const ROOT = 'str_test_root_token';

/** Awaits a test app's answer, expects its status (200 unless given) and returns its body. */
export async function expectStatus(r: Promise<{ status: number; body: any }>, status = 200): Promise<any> {
  const res = await r;
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  return res.body;
}

/** A clock tests move by hand. */
export class ManualClock {
  constructor(public t: number) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface TestApp {
  readonly app: FastifyInstance;
  readonly ctx: AppContext;
  readonly clock: ManualClock;
  close(): Promise<void>;
  admin(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<{ status: number; body: any; headers: Record<string, string | string[] | number | undefined> }>;
  send(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  /** POSTs a raw body (a file upload) with the admin token. */
  upload(url: string, body: string, contentType: string): Promise<{ status: number; body: any }>;
}

export interface TestAppOptions {
  /** Settings over the defaults (the log is silent unless a test sets `logLevel` and a `logStream` to read it). */
  readonly config?: Partial<Config>;
  readonly logStream?: AppOptions['logStream'];
  /** false: the test starts the engine itself (`ctx.engine.start(0)`), after the app is built. */
  readonly startEngine?: boolean;
}

/** The whole app over a fresh store, with known credentials and a manual clock. */
export async function startTestApp(store: SqlStore, now = Date.UTC(2024, 5, 15, 12), opts: TestAppOptions = {}): Promise<TestApp> {
  const config: Config = { ...configFromEnv({}), adminToken: ADMIN, writeKey: WRITE, rootToken: ROOT, logLevel: 'silent', ...opts.config };
  await ensureDefaultProject(store, config, now);
  const clock = new ManualClock(now);
  const ctx = createContext(store, config, clock);
  // No timer: tests move the clock and call ctx.engine.tick() themselves.
  if (opts.startEngine !== false) await ctx.engine.start(0);
  const app = await buildApp(ctx, opts.logStream ? { logStream: opts.logStream } : {});
  const parse = (payload: string) => (payload ? JSON.parse(payload) : null);
  return {
    app, ctx, clock,
    async close() {
      await app.close();
      await stopContext(ctx);
    },
    async admin(method, url, body) {
      const r = await app.inject({ method, url, headers: { authorization: `Bearer ${ADMIN}` }, ...(body === undefined ? {} : { payload: body as object }) });
      return { status: r.statusCode, body: parse(r.payload), headers: r.headers };
    },
    async send(path, body, headers = {}) {
      const r = await app.inject({ method: 'POST', url: path, headers: { 'x-write-key': WRITE, 'content-type': 'application/json', ...headers }, payload: typeof body === 'string' ? body : JSON.stringify(body) });
      const out = { status: r.statusCode, body: parse(r.payload) };
      // Tests read services and the store directly, not only over HTTP (whose reads wait by
      // themselves): the acknowledged events are applied before the test goes on.
      if (r.statusCode === 200 && typeof out.body?.position === 'number') await ctx.ingest.waitApplied(out.body.position, 30_000);
      return out;
    },
    async upload(url, body, contentType) {
      const r = await app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': contentType }, payload: body });
      return { status: r.statusCode, body: parse(r.payload) };
    },
  };
}

export interface RunningApp {
  readonly ctx: AppContext;
  readonly app: FastifyInstance;
  /** http://127.0.0.1:<port> */
  readonly base: string;
  /** Stops the app, its workers and the store (close a browser first). */
  close(): Promise<void>;
}

/**
 * The real app (`createContext` + `buildApp`) on a fresh test SQLite store with a project for these
 * credentials, listening on a free port of the loopback: for clients that need a socket (Segment's
 * and RudderStack's libraries, a browser). `beforeListen` may add hooks (to record requests).
 */
export async function startListeningApp(o: {
  adminToken: string; writeKey: string; rootToken?: string; dirs?: AppOptions['dirs']; beforeListen?: (app: FastifyInstance) => void;
}): Promise<RunningApp> {
  const store = await openTestSqlite();
  const config = { ...configFromEnv({}), adminToken: o.adminToken, writeKey: o.writeKey, rootToken: o.rootToken ?? null, logLevel: 'silent' as const };
  await ensureDefaultProject(store, config, Date.now());
  const ctx = createContext(store, config);
  await ctx.engine.start(0);
  const app = await buildApp(ctx, o.dirs ? { dirs: o.dirs } : {});
  o.beforeListen?.(app);
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    ctx, app, base,
    async close() {
      await app.close();
      await stopContext(ctx);
    },
  };
}

export { DEFAULT_PROJECT };
