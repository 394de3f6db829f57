import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RATE_LIMIT_DEFAULTS } from '@strata/core';
import { openTestSqlite } from '@strata/store/testing';
import { configFromEnv } from './config.ts';
import { ADMIN, ROOT, WRITE, startTestApp, type TestApp } from './test-app.ts';

/**
 * Rate limits per credential (rate-limit.ts): a small limit, then the request past it. The
 * limiter's window is a minute of wall time and no test here waits for it: each test spends
 * budgets of its own credentials only.
 */
const LIMIT = 3;
const T0 = Date.UTC(2024, 5, 15, 12);

describe('rate limits per credential', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(await openTestSqlite(), T0, { config: { rateLimit: { write: LIMIT, admin: LIMIT } } });
    await t.ctx.store.createProject({ id: 'other', name: 'Other', writeKey: 'stw_other', adminToken: 'sta_other', now: T0 });
    await t.ctx.store.createProject({ id: 'third', name: 'Third', writeKey: 'stw_third', adminToken: 'sta_third', now: T0 });
  });
  afterAll(async () => t.close());

  const track = (headers: Record<string, string>, body: object = {}) => t.app.inject({
    method: 'POST', url: '/v1/track', headers: { 'content-type': 'application/json', ...headers },
    payload: { userId: 'u1', event: 'e', ...body },
  });

  it('a write key gets LIMIT requests a minute, then 429 with Retry-After and a body naming the limit; another key is not affected', async () => {
    for (let i = 0; i < LIMIT; i++) {
      const ok = await track({ 'x-write-key': WRITE });
      expect(ok.statusCode).toBe(200);
      expect(ok.headers['x-ratelimit-remaining']).toBe(String(LIMIT - 1 - i));
    }
    const over = await track({ 'x-write-key': WRITE });
    expect(over.statusCode).toBe(429);
    const retry = Number(over.headers['retry-after']);
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(60);
    expect(over.json().error).toEqual({ code: 'RATE_LIMITED', message: expect.stringMatching(/^rate limit STRATA_RATE_LIMIT_WRITE = 3 requests per minute per write key reached; retry in \d+ s$/) });
    // The refused event was not stored: the limit answers before the handler.
    expect((await t.admin('GET', '/api/users/u1/events')).body.events.filter((e: { event: string }) => e.event === 'e')).toHaveLength(LIMIT);

    // Another write key (another project) still has its whole budget.
    expect((await track({ 'x-write-key': 'stw_other' })).statusCode).toBe(200);
    // The same key presented another way (Basic auth, or in the body) is the same budget.
    expect((await track({ authorization: `Basic ${Buffer.from(`${WRITE}:`).toString('base64')}` })).statusCode).toBe(429);
    expect((await track({}, { writeKey: WRITE })).statusCode).toBe(429);
    // /v1/targeting shares the write key's budget.
    expect((await t.app.inject({ method: 'GET', url: '/v1/targeting?userId=u1', headers: { 'x-write-key': WRITE } })).statusCode).toBe(429);
  });

  it('a caller without a valid credential hears 401, not 429, and spends no budget', async () => {
    for (let i = 0; i < LIMIT + 2; i++) expect((await track({ 'x-write-key': 'stw_unknown' })).statusCode).toBe(401);
    for (let i = 0; i < LIMIT; i++) expect((await track({ 'x-write-key': 'stw_third' })).statusCode).toBe(200);
  });

  it('an admin token gets LIMIT requests a minute on /api/*; another token is not affected; /api/health is never limited', async () => {
    const get = (token: string) => t.app.inject({ method: 'GET', url: '/api/segments', headers: { authorization: `Bearer ${token}` } });
    for (let i = 0; i < LIMIT; i++) expect((await get('sta_other')).statusCode).toBe(200);
    const over = await get('sta_other');
    expect(over.statusCode).toBe(429);
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    expect(over.json().error.code).toBe('RATE_LIMITED');
    expect(over.json().error.message).toMatch(/^rate limit STRATA_RATE_LIMIT_ADMIN = 3 requests per minute per admin token reached/);
    expect((await get('sta_third')).statusCode).toBe(200);
    // The root token on /api/projects has a budget of its own, the same size.
    const projects = () => t.app.inject({ method: 'GET', url: '/api/projects', headers: { authorization: `Bearer ${ROOT}` } });
    for (let i = 0; i < LIMIT; i++) expect((await projects()).statusCode).toBe(200);
    expect((await projects()).statusCode).toBe(429);
    for (let i = 0; i < LIMIT + 2; i++) expect((await t.app.inject({ method: 'GET', url: '/api/health' })).statusCode).toBe(200);
  });
});

describe('rate limit configuration', () => {
  it('defaults are generous (ten times the ingest benchmark), 0 turns a limit off, anything else but a whole number is refused', () => {
    expect(configFromEnv({}).rateLimit).toEqual(RATE_LIMIT_DEFAULTS);
    expect(configFromEnv({ STRATA_RATE_LIMIT_WRITE: '0', STRATA_RATE_LIMIT_ADMIN: '50' }).rateLimit).toEqual({ write: 0, admin: 50 });
    for (const bad of ['-1', '1.5', 'ten', '1e3']) {
      expect(() => configFromEnv({ STRATA_RATE_LIMIT_WRITE: bad })).toThrow(`STRATA_RATE_LIMIT_WRITE must be a whole number of requests per minute (0: no limit), got "${bad}"`);
    }
  });

  it('0: no limit at all', async () => {
    const t = await startTestApp(await openTestSqlite(), T0, { config: { rateLimit: { write: 0, admin: 0 } } });
    try {
      for (let i = 0; i < 5; i++) {
        const r = await t.app.inject({ method: 'GET', url: '/api/segments', headers: { authorization: `Bearer ${ADMIN}` } });
        expect(r.statusCode).toBe(200);
        expect(r.headers['x-ratelimit-limit']).toBeUndefined();
      }
    } finally {
      await t.close();
    }
  });
});
