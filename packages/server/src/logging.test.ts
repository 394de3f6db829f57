import { afterEach, describe, expect, it, vi } from 'vitest';
import { openTestSqlite } from '@strata/store/testing';
import { configFromEnv, type LogLevel } from './config.ts';
import { startTestApp, type TestApp } from './test-app.ts';

const ADMIN_HEADERS = { authorization: 'Bearer sta_test_admin_token' };

describe('logs: every 5xx is one JSON line at error with its request id; 4xx are not logged', () => {
  let t: TestApp;
  let lines: Record<string, any>[];
  afterEach(async () => {
    vi.restoreAllMocks();
    await t.close();
  });
  async function start(logLevel: LogLevel = 'info'): Promise<void> {
    lines = [];
    t = await startTestApp(await openTestSqlite(), undefined, { config: { logLevel }, logStream: { write: (s: string) => { lines.push(JSON.parse(s)); } } });
  }

  it('logs a route that throws: level error, reqId, the error with its stack; the 500 body and X-Request-Id name the same id', async () => {
    await start();
    vi.spyOn(t.ctx.segments, 'list').mockRejectedValue(new Error('disk on fire'));
    const r = await t.app.inject({ method: 'GET', url: '/api/segments', headers: ADMIN_HEADERS });
    expect(r.statusCode).toBe(500);
    const body = r.json();
    expect(body).toEqual({ error: { code: 'INTERNAL', message: 'internal error', requestId: expect.any(String) } });
    expect(r.headers['x-request-id']).toBe(body.error.requestId);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'error', reqId: body.error.requestId, msg: 'internal error', code: 'INTERNAL', method: 'GET', url: '/api/segments', statusCode: 500,
      err: { type: 'Error', message: 'disk on fire', stack: expect.stringContaining('disk on fire') },
    });
    expect(new Date(lines[0]!.time).toISOString()).toBe(lines[0]!.time);
  });

  it('logs a 503 of the store at error too, with Retry-After and the request id in the body', async () => {
    await start();
    vi.spyOn(t.ctx.ingest.log, 'append').mockRejectedValue(Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' }));
    const r = await t.app.inject({ method: 'POST', url: '/v1/track', headers: { 'x-write-key': 'stw_test_write_key' }, payload: { userId: 'u1', event: 'e' } });
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('5');
    expect(r.json().error).toMatchObject({ code: 'STORE_UNAVAILABLE', requestId: r.headers['x-request-id'] });
    expect(lines.map((l) => [l.level, l.reqId, l.code, l.err?.message])).toEqual([['error', r.headers['x-request-id'], 'STORE_UNAVAILABLE', 'disk I/O error']]);
  });

  it('does not log 4xx (bad input, no credential, unknown route) nor successes at info; their bodies carry no request id', async () => {
    await start();
    const answers = [
      await t.app.inject({ method: 'POST', url: '/api/segments', headers: ADMIN_HEADERS, payload: { name: 1 } }),
      await t.app.inject({ method: 'GET', url: '/api/segments' }),
      await t.app.inject({ method: 'GET', url: '/api/nothing-here' }),
      await t.app.inject({ method: 'GET', url: '/api/segments', headers: ADMIN_HEADERS }),
    ];
    expect(answers.map((a) => a.statusCode)).toEqual([400, 401, 404, 200]);
    for (const a of answers.slice(0, 3)) expect(a.json().error.requestId).toBeUndefined();
    expect(lines).toEqual([]);
  });

  it('logs every request at debug, one line each with its status and time', async () => {
    await start('debug');
    await t.app.inject({ method: 'GET', url: '/api/health' });
    await t.app.inject({ method: 'GET', url: '/api/segments' });
    expect(lines.map((l) => [l.level, l.msg, l.method, l.url, l.statusCode, typeof l.responseTime])).toEqual([
      ['debug', 'request completed', 'GET', '/api/health', 200, 'number'],
      ['debug', 'request completed', 'GET', '/api/segments', 401, 'number'],
    ]);
  });

  it('writes nothing at silent, even for a 500', async () => {
    await start('silent');
    vi.spyOn(t.ctx.segments, 'list').mockRejectedValue(new Error('disk on fire'));
    expect((await t.app.inject({ method: 'GET', url: '/api/segments', headers: ADMIN_HEADERS })).statusCode).toBe(500);
    expect(lines).toEqual([]);
  });

  it('keeps a usable X-Request-Id the caller (or its proxy) sent, and replaces one that is not a plain token', async () => {
    await start();
    vi.spyOn(t.ctx.segments, 'list').mockRejectedValue(new Error('disk on fire'));
    const kept = await t.app.inject({ method: 'GET', url: '/api/segments', headers: { ...ADMIN_HEADERS, 'x-request-id': 'lb-7f3a:42' } });
    expect([kept.headers['x-request-id'], kept.json().error.requestId, lines[0]!.reqId]).toEqual(['lb-7f3a:42', 'lb-7f3a:42', 'lb-7f3a:42']);
    const replaced = await t.app.inject({ method: 'GET', url: '/api/segments', headers: { ...ADMIN_HEADERS, 'x-request-id': 'two words\n{"level":"fake"}' } });
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect(lines[1]!.reqId).toBe(replaced.headers['x-request-id']);
  });
});

describe('STRATA_LOG_LEVEL', () => {
  it('defaults to info, takes any pino level name in any case, and stops the start naming the variable otherwise', () => {
    expect(configFromEnv({}).logLevel).toBe('info');
    expect(configFromEnv({ STRATA_LOG_LEVEL: 'WARN' }).logLevel).toBe('warn');
    expect(configFromEnv({ STRATA_LOG_LEVEL: 'silent' }).logLevel).toBe('silent');
    expect(() => configFromEnv({ STRATA_LOG_LEVEL: 'verbose' })).toThrow(/STRATA_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"/);
  });
});
