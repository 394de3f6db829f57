import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBackends } from '@strata/store/testing';
import { ADMIN, WRITE, startTestApp, type TestApp } from './test-app.ts';

/** Authentication comes before body parsing and validation on every route: no caller without a credential hears about a request's faults. */
const [backend] = await testBackends();

interface Operation { readonly method: string; readonly url: string; readonly security: string[] }

/** Every operation of the OpenAPI document (every route with a schema: all admin routes), with its path parameters filled in. */
function operations(doc: { paths: Record<string, Record<string, { security?: Record<string, string[]>[] }>> }): Operation[] {
  const out: Operation[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      out.push({ method: method.toUpperCase(), url: path.replace(/\{[^}]+\}/g, 'x'), security: (op.security ?? []).flatMap((s) => Object.keys(s)) });
    }
  }
  return out;
}

describe('authentication before validation', () => {
  let t: TestApp;
  let admin: Operation[];
  beforeAll(async () => {
    t = await startTestApp(await backend!.open());
    admin = operations((await t.app.inject({ method: 'GET', url: '/openapi.json' })).json()).filter((o) => o.security.includes('adminToken'));
  });
  afterAll(async () => t.close());

  /** A request every schema refuses: a body that is not JSON, and a query parameter no route knows. */
  const bad = (o: Operation, headers: Record<string, string>) => t.app.inject({
    method: o.method as 'GET', url: `${o.url}?bogus=1&limit=-5`, headers: { 'content-type': 'application/json', ...headers },
    ...(o.method === 'GET' || o.method === 'DELETE' ? {} : { payload: '{"name": ' }),
  });

  it('walks every admin route', () => {
    // The admin API as documented: segments, users, experiences, settings, imports and the rest.
    expect(admin.length).toBeGreaterThan(60);
    for (const path of ['/api/segments', '/api/users/x', '/api/experiences', '/api/settings', '/api/imports', '/api/webhooks', '/api/missions', '/api/rewards']) {
      expect(admin.some((o) => o.url === path), path).toBe(true);
    }
  });

  it('answers 401 to every admin route without credentials, whatever the body and query', async () => {
    const wrong: string[] = [];
    for (const o of admin) {
      const r = await bad(o, {});
      if (r.statusCode !== 401) wrong.push(`${o.method} ${o.url}: ${r.statusCode} ${r.payload.slice(0, 120)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('answers 401 to every admin route with an unknown token, and 403 with the write key', async () => {
    const wrong: string[] = [];
    for (const o of admin) {
      const unknown = await bad(o, { authorization: 'Bearer not-a-token' });
      if (unknown.statusCode !== 401) wrong.push(`${o.method} ${o.url} (unknown token): ${unknown.statusCode}`);
      const write = await bad(o, { authorization: `Bearer ${WRITE}` });
      if (write.statusCode !== 403) wrong.push(`${o.method} ${o.url} (write key): ${write.statusCode}`);
    }
    expect(wrong).toEqual([]);
  });

  it('reaches every admin route with the admin token (the walk is of real routes), which then answers the request\'s faults', async () => {
    const missing: string[] = [];
    for (const o of admin) {
      const r = await bad(o, { authorization: `Bearer ${ADMIN}` });
      if (r.statusCode === 401 || r.statusCode === 403 || (r.statusCode === 404 && /^no route/.test(r.json().error?.message ?? ''))) missing.push(`${o.method} ${o.url}: ${r.statusCode}`);
    }
    expect(missing).toEqual([]);
    // With the token, a body that is not JSON is a 400 naming it.
    const r = await bad({ method: 'POST', url: '/api/segments', security: [] }, { authorization: `Bearer ${ADMIN}` });
    expect(r.statusCode).toBe(400);
  });

  it('answers 401 on the write-key routes without a key, even with a body that is not JSON or a query no route knows', async () => {
    for (const url of ['/v1/batch', '/v1/track', '/v1/t', '/v1/rewards/x/redeem']) {
      const none = await t.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: '{"batch": [' });
      expect(none.statusCode, url).toBe(401);
      expect(none.json().error.code).toBe('UNAUTHORIZED');
      const schemaBad = await t.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: '{"bogus": true}' });
      expect(schemaBad.statusCode, url).toBe(401);
      const unknown = await t.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', 'x-write-key': 'not-a-key' }, payload: '{"batch": [' });
      expect(unknown.statusCode, url).toBe(401);
      expect(unknown.json().error.message).toBe('unknown write key');
    }
    const targeting = await t.app.inject({ method: 'GET', url: '/v1/targeting?bogus=1&userId=' });
    expect(targeting.statusCode).toBe(401);
    const wrongKey = await t.app.inject({ method: 'GET', url: '/v1/targeting?bogus=1&writeKey=not-a-key' });
    expect(wrongKey.statusCode).toBe(401);
  });

  it('still reads the key from the body or the query, answers a keyed caller\'s faults with 400, and lets CORS preflights through', async () => {
    const inBody = await t.app.inject({ method: 'POST', url: '/v1/track', headers: { 'content-type': 'text/plain' }, payload: JSON.stringify({ writeKey: WRITE, userId: 'u1', event: 'E' }) });
    expect(inBody.statusCode).toBe(200);
    const notJson = await t.app.inject({ method: 'POST', url: '/v1/batch', headers: { 'content-type': 'application/json', 'x-write-key': WRITE }, payload: '{"batch": [' });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().error.message).toMatch(/^the request body is not valid JSON/);
    const query = await t.app.inject({ method: 'GET', url: `/v1/targeting?writeKey=${WRITE}&userId=u1` });
    expect(query.statusCode).toBe(200);
    const badQuery = await t.app.inject({ method: 'GET', url: `/v1/targeting?writeKey=${WRITE}&bogus=1` });
    expect(badQuery.statusCode).toBe(400);
    const preflight = await t.app.inject({ method: 'OPTIONS', url: '/v1/batch', headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' } });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('*');
  });
});
