import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { openTestSqlite } from '@strata/store/testing';
import { ADMIN, startTestApp, WRITE, type TestApp } from './test-app.ts';

/**
 * What a process of the api role serves (docs/scale-out.md § Roles): ingest appended to the log
 * and applied by nobody here, health, metrics and docs; 421 WRONG_ROLE, naming the role, for the
 * rest. (The role needs NATS and PostgreSQL at start — config.test.ts — and runs with them in
 * e2e/api-role.test.ts; this test checks the routing over the embedded log.)
 */
describe('a process of the api role', () => {
  let t: TestApp;
  afterEach(async () => t?.close());

  it('appends ingest to the log and applies none of it', async () => {
    t = await startTestApp(await openTestSqlite(), undefined, { config: { role: 'api' }, startEngine: false });
    // Injected, not through t.send, which waits for what it sent to be applied: nothing is, here.
    const send = async (url: string, payload: object) => {
      const r = await t.app.inject({ method: 'POST', url, headers: { 'x-write-key': WRITE }, payload });
      return { status: r.statusCode, body: JSON.parse(r.payload) };
    };
    const r = await send('/v1/batch', { batch: [{ type: 'track', userId: 'u1', event: 'clicked', messageId: 'm1' }, { type: 'identify', userId: 'u2', traits: { plan: 'vip' }, messageId: 'm2' }] });
    expect(r.status).toBe(200);
    expect(r.body.position).toBeGreaterThan(0);
    const logged = await t.ctx.ingest.log.readAll(0, 10, 0);
    expect(logged.records.flatMap((x) => x.items.map((i) => i.messageId))).toEqual(['m1', 'm2']);
    // Nothing applied: no event stored, no position recorded.
    await new Promise((res) => setTimeout(res, 100));
    const events = await sql<{ n: number }>`SELECT count(*) AS n FROM events`.execute(t.ctx.store.db);
    expect(Number(events.rows[0]!.n)).toBe(0);
    expect(t.ctx.ingest.applies).toBe(false);
    expect(t.ctx.ingest.backlogItems).toBe(0);
    // A bad message is still refused as on any process.
    const bad = await send('/v1/track', { userId: 'u1' });
    expect(bad.status).toBe(400);
  });

  it('answers 421 WRONG_ROLE, naming the role, to the admin API, targeting, redemption and the admin UI; serves health and docs', async () => {
    t = await startTestApp(await openTestSqlite(), undefined, { config: { role: 'api' }, startEngine: false });
    for (const [method, url, headers] of [
      ['GET', '/api/segments', { authorization: `Bearer ${ADMIN}` }],
      ['POST', '/api/segments', { authorization: `Bearer ${ADMIN}` }],
      ['GET', '/v1/targeting?userId=u1', { 'x-write-key': WRITE }],
      ['POST', '/v1/rewards/r1/redeem', { 'x-write-key': WRITE }],
      ['GET', '/', {}],
      ['GET', '/segments', {}],
    ] as const) {
      const r = await t.app.inject({ method, url, headers });
      expect(r.statusCode, `${method} ${url}`).toBe(421);
      const body = JSON.parse(r.payload);
      expect(body.error.code).toBe('WRONG_ROLE');
      expect(body.error.message).toContain('STRATA_ROLE=api');
      expect(body.error.message).toContain(`send ${method} ${url.split('?')[0]} to a process of the all role`);
    }
    expect((await t.app.inject({ method: 'GET', url: '/api/health' })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/api/health/ready' })).statusCode).toBe(200);
    const spec = JSON.parse((await t.app.inject({ method: 'GET', url: '/openapi.json' })).payload);
    expect(Object.keys(spec.paths)).toContain('/v1/batch');
    expect(Object.keys(spec.paths)).not.toContain('/api/segments');
    // Browsers may still send events here: the preflight of ingest is answered.
    const pre = await t.app.inject({ method: 'OPTIONS', url: '/v1/batch', headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' } });
    expect(pre.statusCode).toBe(204);
  });
});
