import type { FastifyInstance } from 'fastify';
import type { SqlStore } from '@strata/store';
import { openTestSqlite } from '@strata/store/testing';
import { buildApp, type AppOptions } from './app.ts';
import { createContext, DEFAULT_PROJECT, ensureDefaultProject, stopContext } from './bootstrap.ts';
import { configFromEnv } from './config.ts';
import type { AppContext } from './context.ts';

export const ADMIN = 'sta_test_admin_token';
export const WRITE = 'stw_test_write_key';

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
  admin(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<{ status: number; body: any }>;
  send(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  /** POSTs a raw body (a file upload) with the admin token. */
  upload(url: string, body: string, contentType: string): Promise<{ status: number; body: any }>;
}

/** The whole app over a fresh store, with known credentials and a manual clock. */
export async function startTestApp(store: SqlStore, now = Date.UTC(2024, 5, 15, 12), env: NodeJS.ProcessEnv = {}): Promise<TestApp> {
  const config = { ...configFromEnv(env), adminToken: ADMIN, writeKey: WRITE };
  await ensureDefaultProject(store, config, now);
  const clock = new ManualClock(now);
  const ctx = createContext(store, config, clock);
  // No timer: tests move the clock and call ctx.engine.tick() themselves.
  await ctx.engine.start(0);
  const app = await buildApp(ctx);
  const parse = (payload: string) => (payload ? JSON.parse(payload) : null);
  return {
    app, ctx, clock,
    async close() {
      await app.close();
      await stopContext(ctx);
    },
    async admin(method, url, body) {
      const r = await app.inject({ method, url, headers: { authorization: `Bearer ${ADMIN}` }, ...(body === undefined ? {} : { payload: body as object }) });
      return { status: r.statusCode, body: parse(r.payload) };
    },
    async send(path, body, headers = {}) {
      const r = await app.inject({ method: 'POST', url: path, headers: { 'x-write-key': WRITE, 'content-type': 'application/json', ...headers }, payload: typeof body === 'string' ? body : JSON.stringify(body) });
      return { status: r.statusCode, body: parse(r.payload) };
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
  adminToken: string; writeKey: string; dirs?: AppOptions['dirs']; beforeListen?: (app: FastifyInstance) => void;
}): Promise<RunningApp> {
  const store = await openTestSqlite();
  const config = { ...configFromEnv({}), adminToken: o.adminToken, writeKey: o.writeKey };
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
