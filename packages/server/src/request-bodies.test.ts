import { Readable } from 'node:stream';
import { createGzip, deflateSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openTestSqlite } from '@strata/store/testing';
import { ADMIN, startTestApp, WRITE, type TestApp } from './test-app.ts';

const T0 = Date.UTC(2024, 5, 15, 12);
let t: TestApp;
beforeEach(async () => { t = await startTestApp(await openTestSqlite(), T0); });
afterEach(async () => t.close());

const inject = async (method: 'POST' | 'DELETE', url: string, headers: Record<string, string>, payload?: string | Buffer | Readable) => {
  const r = await t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
  return { status: r.statusCode, body: r.payload ? JSON.parse(r.payload) : null };
};
const ingest = (url: string, payload: string | Buffer | Readable | undefined, headers: Record<string, string> = {}) =>
  inject('POST', url, { 'x-write-key': WRITE, 'content-type': 'application/json', ...headers }, payload);
const admin = (method: 'POST' | 'DELETE', url: string) => inject(method, url, { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' });

describe('empty bodies sent as application/json', () => {
  it('are no body for a DELETE and a POST that take none', async () => {
    const seg = await t.admin('POST', '/api/segments', { name: 'Pro', condition: { attr: 'traits.plan', op: 'eq', value: 'pro' } });
    const del = await admin('DELETE', `/api/segments/${seg.body.id}`);
    expect(del.status).toBe(204);
    expect((await t.admin('GET', `/api/segments/${seg.body.id}`)).status).toBe(404);
    // The route ran (and found nothing), instead of a 400 about the empty body.
    const resync = await admin('POST', '/api/destinations/dst_none/resync');
    expect(resync.status).toBe(404);
    expect(resync.body.error.code).toBe('NOT_FOUND');
  });

  it('still answer 400 naming what is missing where a body is required', async () => {
    const create = await admin('POST', '/api/segments');
    expect(create.status).toBe(400);
    expect(create.body.error.message).toMatch(/request body/);
    const batch = await ingest('/v1/batch', '');
    expect(batch.status).toBe(400);
    expect(batch.body.error.issues).toEqual([{ path: '/batch', message: 'must be an array of messages' }]);
    const track = await ingest('/v1/track', '');
    expect(track.status).toBe(400);
    expect(track.body.error.message).toMatch(/track call is not valid/);
    const bad = await admin('POST', '/api/segments/overlap');
    expect(bad.status).toBe(400);
  });
});

describe('compressed ingest bodies', () => {
  const batch = (n: number, userId = 'z1') => JSON.stringify({ batch: Array.from({ length: n }, (_, i) => ({ type: 'track', userId, event: `e${i}`, timestamp: new Date(T0 - i * 1000).toISOString() })) });
  const events = async (id: string) => ((await t.admin('GET', `/api/users/${id}/events?limit=1000`)).body.events as { event: string }[]).map((e) => e.event);

  it('gzip and deflate bodies are inflated on every ingest route', async () => {
    expect(await ingest('/v1/batch', gzipSync(batch(3)), { 'content-encoding': 'gzip' })).toEqual({ status: 200, body: { success: true, position: expect.any(Number) } });
    expect(await ingest('/v1/t', deflateSync(JSON.stringify({ userId: 'z1', event: 'deflated' })), { 'content-encoding': 'deflate' })).toEqual({ status: 200, body: { success: true, position: expect.any(Number) } });
    expect(await ingest('/v1/identify', gzipSync(JSON.stringify({ userId: 'z1', traits: { plan: 'pro' } })), { 'content-encoding': 'GZip', 'content-type': 'text/plain' })).toEqual({ status: 200, body: { success: true, position: expect.any(Number) } });
    expect((await events('z1')).sort()).toEqual(['$identify', '$session', 'deflated', 'e0', 'e1', 'e2']);
    expect((await t.admin('GET', '/api/users/z1')).body.traits).toEqual({ plan: 'pro' });
  });

  it('an unknown encoding is 415 naming it; a corrupt body is 400', async () => {
    const br = await ingest('/v1/batch', Buffer.from('not brotli'), { 'content-encoding': 'br' });
    expect(br.status).toBe(415);
    expect(br.body.error).toMatchObject({ code: 'UNSUPPORTED_ENCODING', message: expect.stringContaining('"br"') });
    const corrupt = await ingest('/v1/batch', Buffer.from('this is not gzip at all'), { 'content-encoding': 'gzip' });
    expect(corrupt.status).toBe(400);
    expect(corrupt.body.error.message).toMatch(/not valid gzip/);
    const truncated = gzipSync(batch(50));
    const cut = await ingest('/v1/batch', truncated.subarray(0, truncated.length - 20), { 'content-encoding': 'gzip' });
    expect(cut.status).toBe(400);
    const json = await ingest('/v1/batch', gzipSync('{"batch": ['), { 'content-encoding': 'gzip' });
    expect(json.status).toBe(400);
    expect(json.body.error.message).toMatch(/not valid JSON/);
    expect((await t.admin('GET', '/api/users/z1')).status).toBe(404);
  });

  it('the body limit applies to the inflated size: a body over it is refused with 413, and inflation stops there', async () => {
    // Just under 500 KB inflated is fine; the same over it is not.
    const under = JSON.stringify({ batch: [{ type: 'track', userId: 'z2', event: 'big', properties: { pad: ' '.repeat(20_000) } }], pad: ' '.repeat(480_000) });
    expect((await ingest('/v1/batch', gzipSync(under), { 'content-encoding': 'gzip' })).status).toBe(200);
    const over = JSON.stringify({ batch: [{ type: 'track', userId: 'z3', event: 'big' }], pad: ' '.repeat(520_000) });
    const refused = await ingest('/v1/batch', gzipSync(over), { 'content-encoding': 'gzip' });
    expect(refused.status).toBe(413);
    expect(refused.body.error.code).toBe('DECODED_TOO_LARGE');
    expect((await t.admin('GET', '/api/users/z3')).status).toBe(404);

    // A bomb: 2 GB of spaces, gzip-compressed as it is read. The server reads a few chunks, stops, and answers.
    let produced = 0;
    const spaces = Buffer.alloc(1 << 16, 0x20);
    const source = new Readable({
      read() {
        if (produced >= 2 ** 31) return void this.push(null);
        produced += spaces.length;
        this.push(spaces);
      },
    });
    const bomb = await ingest('/v1/batch', source.pipe(createGzip()), { 'content-encoding': 'gzip' });
    expect(bomb.status).toBe(413);
    // Inflation stopped near the limit: what was produced is what the streams' buffers hold, not 2 GB.
    expect(produced).toBeLessThan(64 * 1024 * 1024);
    source.destroy();
  }, 60_000);
});

describe('a fault of Strata is not blamed on the request', () => {
  it('answers 500 INTERNAL, not a 400 about the body, when a stored value no longer parses', async () => {
    const made = await t.admin('POST', '/api/experiences', { key: 'banner', name: 'Banner', variants: [{ key: 'a', payload: 1 }] });
    expect(made.status).toBe(201);
    // Written behind Strata's back: text that is not JSON where JSON is kept.
    await t.ctx.store.db.updateTable('experiences').set({ variants: '{not json' }).execute();
    const r = await t.admin('GET', '/api/experiences');
    expect(r.status).toBe(500);
    expect(r.body.error).toMatchObject({ code: 'INTERNAL', message: 'internal error' });
    // A body that does not parse is still the caller's: 400.
    const bad = await inject('POST', '/api/segments', { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, '{"name":');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^the request body is not valid JSON/);
  });
});
