import { afterEach, describe, expect, it, vi } from 'vitest';
import { SqlStore } from '@strata/store';
import { openTestSqlite } from '@strata/store/testing';
import { buildApp } from './app.ts';
import { createContext } from './bootstrap.ts';
import { startTestApp, type TestApp } from './test-app.ts';

const ADMIN = { authorization: 'Bearer sta_test_admin_token' };
const WRITE = { 'x-write-key': 'stw_test_write_key' };

/** Holds the engine's load of a project (the first thing it reads of one) until `release()`: a slow start, without timing. */
function holdProjectLoad(): { release(): void } {
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const read = SqlStore.prototype.engineClock;
  vi.spyOn(SqlStore.prototype, 'engineClock').mockImplementation(async function (this: SqlStore, projectId: string) {
    await gate;
    return read.call(this, projectId);
  });
  return { release };
}

describe('readiness: the server answers while the engine loads, and serves once it has', () => {
  let t: TestApp;
  let lines: Record<string, any>[];
  afterEach(async () => {
    vi.restoreAllMocks();
    await t.close();
  });

  it('answers liveness 200, readiness 503 with the progress and the APIs 503 STARTING until every project is loaded; then 200 everywhere', async () => {
    lines = [];
    t = await startTestApp(await openTestSqlite(), undefined, { startEngine: false, config: { logLevel: 'info' }, logStream: { write: (s: string) => { lines.push(JSON.parse(s)); } } });
    const held = holdProjectLoad();
    const started = t.ctx.engine.start(0);
    // The list of projects is read: 0 of 1 loaded.
    await vi.waitFor(() => expect(t.ctx.engine.started.total).toBe(1));

    const live = await t.app.inject({ method: 'GET', url: '/api/health' });
    expect([live.statusCode, live.json()]).toEqual([200, { status: 'ok' }]);
    const ready = await t.app.inject({ method: 'GET', url: '/api/health/ready' });
    expect([ready.statusCode, ready.json(), ready.headers['retry-after']]).toEqual([503, { status: 'starting', projects: { loaded: 0, total: 1 } }, '1']);

    const admin = await t.app.inject({ method: 'GET', url: '/api/segments', headers: ADMIN });
    expect(admin.statusCode).toBe(503);
    expect(admin.headers['retry-after']).toBe('1');
    expect(admin.json().error).toEqual({ code: 'STARTING', message: expect.stringContaining('loading its projects (0 of 1 projects loaded)'), requestId: admin.headers['x-request-id'] });
    // Refused before any credential is looked up: a wrong token hears the same (the store is the load's meanwhile).
    expect((await t.app.inject({ method: 'GET', url: '/api/segments', headers: { authorization: 'Bearer wrong' } })).json().error.code).toBe('STARTING');
    const ingest = await t.app.inject({ method: 'POST', url: '/v1/track', headers: WRITE, payload: { userId: 'early', event: 'opened' } });
    expect([ingest.statusCode, ingest.json().error.code]).toEqual([503, 'STARTING']);
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.payload).toMatch(/^strata_engine_ready 0$/m);
    // Expected answers while starting, not faults: nothing at error.
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);

    held.release();
    await started;
    const after = await t.app.inject({ method: 'GET', url: '/api/health/ready' });
    expect([after.statusCode, after.json()]).toEqual([200, { status: 'ready' }]);
    expect((await t.app.inject({ method: 'GET', url: '/api/segments', headers: ADMIN })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'POST', url: '/v1/track', headers: WRITE, payload: { userId: 'later', event: 'opened' } })).statusCode).toBe(200);
    // Only what was acknowledged is stored: the refused event is not there.
    expect((await t.admin('GET', '/api/users/early')).status).toBe(404);
    expect((await t.admin('GET', '/api/users/later')).status).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/metrics' })).payload).toMatch(/^strata_engine_ready 1$/m);
  });

  it('says "stopping" when a stop ends the load (the load stops after the project it is in)', async () => {
    t = await startTestApp(await openTestSqlite(), undefined, { startEngine: false });
    const held = holdProjectLoad();
    const started = t.ctx.engine.start(0);
    await vi.waitFor(() => expect(t.ctx.engine.started.total).toBe(1));
    const stopped = t.ctx.engine.stop();
    held.release();
    await started;
    await stopped;
    const r = await t.app.inject({ method: 'GET', url: '/api/health/ready' });
    expect([r.statusCode, r.json().status]).toEqual([503, 'stopping']);
    expect((await t.app.inject({ method: 'GET', url: '/api/segments', headers: ADMIN })).json().error.code).toBe('STARTING');
  });

  it('answers liveness in the middle of a long load on the embedded store, whose reads block the thread', async () => {
    t = await startTestApp(await openTestSqlite());
    await t.admin('POST', '/api/segments', { name: 'Openers', condition: { event: 'opened' } });
    for (let b = 0; b < 3; b++) {
      const batch = Array.from({ length: 2000 }, (_, i) => ({ type: 'track', userId: `u${b}-${i}`, event: 'opened' }));
      expect((await t.send('/v1/batch', { batch })).status).toBe(200);
    }
    // A second server over the same store, as after a restart: 6,000 profiles, more than one page of the load.
    await t.ctx.ingest.drain();
    const ctx = createContext(t.ctx.store, t.ctx.config, t.clock);
    const app = await buildApp(ctx);
    try {
      const loading = ctx.engine.start(0);
      const phaseWhenAnswered = app.inject({ method: 'GET', url: '/api/health' }).then((r) => [r.statusCode, ctx.engine.started.phase]);
      const readyWhenAnswered = app.inject({ method: 'GET', url: '/api/health/ready' }).then((r) => [r.statusCode, r.json().status]);
      expect(await phaseWhenAnswered).toEqual([200, 'loading']);
      expect(await readyWhenAnswered).toEqual([503, 'starting']);
      await loading;
      expect(ctx.engine.stats().profiles).toBe(6000);
      expect((await app.inject({ method: 'GET', url: '/api/health/ready' })).statusCode).toBe(200);
    } finally {
      await app.close();
      await ctx.engine.stop();
    }
  });

  it('answers ready for an engine that was never started (it loads each project on first use)', async () => {
    t = await startTestApp(await openTestSqlite(), undefined, { startEngine: false });
    expect((await t.app.inject({ method: 'GET', url: '/api/health/ready' })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/api/segments', headers: ADMIN })).statusCode).toBe(200);
  });
});
