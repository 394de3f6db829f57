import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { SqlStore } from '@strata/store';
import { testBackends } from '@strata/store/testing';
import { buildApp } from './app.ts';
import { createContext, ensureDefaultProject, stopContext } from './bootstrap.ts';
import { configFromEnv } from './config.ts';
import type { AppContext } from './context.ts';
import { ADMIN, DEFAULT_PROJECT, ManualClock, WRITE } from './test-app.ts';

const backends = await testBackends();
const T0 = Date.UTC(2024, 5, 15, 12);
const US = '8.8.8.8';

/**
 * docs/api.md: the client's IP is not stored unless STRATA_STORE_IP=1. Each path that persists a
 * context is checked on both stores: events and profiles from HTTP ingest, a rejected batch item
 * (its ingestion warning, in the table and through the API), and events of an import.
 */
describe.each(backends)('the client IP is not stored ($name)', (backend) => {
  let app: FastifyInstance;
  let ctx: AppContext;
  afterEach(async () => {
    await app.close();
    await stopContext(ctx);
  });

  async function start(env: Record<string, string>): Promise<SqlStore> {
    const store = await backend.open();
    const config = { ...configFromEnv(env), adminToken: ADMIN, writeKey: WRITE };
    await ensureDefaultProject(store, config, T0);
    ctx = createContext(store, config, new ManualClock(T0));
    await ctx.engine.start(0);
    app = await buildApp(ctx);
    return store;
  }
  const admin = async (url: string, method: 'GET' | 'POST' = 'GET', payload?: string, contentType?: string) => {
    const r = await app.inject({ method, url, headers: { authorization: `Bearer ${ADMIN}`, ...(contentType ? { 'content-type': contentType } : {}) }, ...(payload === undefined ? {} : { payload }) });
    expect(r.statusCode, r.payload).toBeLessThan(300);
    return r.json();
  };
  /** Every stored context of the project: profiles, events, and the payloads of the warnings. */
  async function storedText(store: SqlStore): Promise<string> {
    const profiles = await store.db.selectFrom('profiles').select('context').where('project_id', '=', DEFAULT_PROJECT).execute();
    const users = profiles.length;
    const events = await Promise.all(['batch-ok', 'imported'].map(async (u) => (await admin(`/api/users/${u}/events?limit=100`)).events));
    const warnings = await store.listRejections(DEFAULT_PROJECT, 100);
    expect(users).toBe(2);
    expect(warnings).toHaveLength(1);
    return JSON.stringify([profiles, events, warnings]);
  }

  async function sendAll(): Promise<void> {
    const batch = { batch: [
      { type: 'track', userId: 'batch-ok', event: 'a', context: { ip: US, locale: 'en-US' } },
      // Rejected (no event name): its warning keeps the payload.
      { type: 'track', userId: 'batch-bad', context: { ip: US, locale: 'en-US' } },
    ] };
    const r = await app.inject({ method: 'POST', url: '/v1/batch', headers: { 'x-write-key': WRITE, 'content-type': 'application/json' }, payload: JSON.stringify(batch) });
    expect(r.json()).toMatchObject({ success: true, rejected: [{ index: 1 }] });
    const ndjson = `${JSON.stringify({ type: 'track', userId: 'imported', event: 'b', context: { ip: US } })}\n`;
    const job = await admin('/api/imports?kind=events&format=ndjson', 'POST', ndjson, 'application/x-ndjson');
    expect(job).toMatchObject({ status: 'done', ok: 1, summary: { stored: 1 } });
  }

  it('removes context.ip from events, profiles, warnings and imported events; the country stays', async () => {
    const store = await start({});
    await sendAll();
    const text = await storedText(store);
    expect(text).not.toContain(US);
    expect(text).not.toMatch(/\\?"ip\\?"/);
    const { warnings } = await admin('/api/ingest/warnings');
    expect(JSON.parse(warnings[0].payload)).toEqual({ type: 'track', userId: 'batch-bad', context: { locale: 'en-US' } });
    // Located before it was dropped, on both paths.
    for (const u of ['batch-ok', 'imported']) expect((await admin(`/api/users/${u}`)).context.location).toEqual({ country: 'US' });
  });

  it('keeps it everywhere with STRATA_STORE_IP=1', async () => {
    const store = await start({ STRATA_STORE_IP: '1' });
    await sendAll();
    await storedText(store);
    const { warnings } = await admin('/api/ingest/warnings');
    expect(JSON.parse(warnings[0].payload).context).toEqual({ ip: US, locale: 'en-US' });
    for (const u of ['batch-ok', 'imported']) expect((await admin(`/api/users/${u}`)).context).toMatchObject({ ip: US, location: { country: 'US' } });
  });
});
