import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS, type LimitName } from '@strata/core';
import { testBackends } from '@strata/store/testing';
import { startTestApp, type TestApp } from './test-app.ts';

/** Every input limit (core/limits.ts) refuses with a 4xx naming the limit — its name and value — and the path of the value. */
const [sqlite, postgres] = await testBackends();
const named = (name: LimitName) => expect.stringContaining(`limit ${name} = ${LIMITS[name]}`);
const ev = { userId: 'u1', event: 'e' };

describe('limits: each refusal names its limit and the path', () => {
  let t: TestApp;
  beforeAll(async () => { t = await startTestApp(await sqlite!.open()); });
  afterAll(async () => t.close());

  it('ids and event names of ingested messages', async () => {
    const id = await t.send('/v1/track', { ...ev, userId: 'u'.repeat(LIMITS.MAX_ID_LENGTH + 1) });
    expect(id.status).toBe(400);
    expect(id.body.error.issues).toEqual([{ path: '/userId', message: named('MAX_ID_LENGTH') }]);
    expect((await t.send('/v1/track', { ...ev, userId: 'u'.repeat(LIMITS.MAX_ID_LENGTH) })).status).toBe(200);
    const name = await t.send('/v1/track', { ...ev, event: 'e'.repeat(LIMITS.MAX_EVENT_NAME_LENGTH + 1) });
    expect(name.body.error.issues).toEqual([{ path: '/event', message: named('MAX_EVENT_NAME_LENGTH') }]);
  });

  it('keys of properties, traits and context: a batch keeps the other messages', async () => {
    const long = 'k'.repeat(LIMITS.MAX_KEY_LENGTH + 1);
    const r = await t.send('/v1/batch', { batch: [{ ...ev, type: 'track', properties: { nested: { [long]: 1 } } }, { ...ev, type: 'identify', traits: { ['k'.repeat(LIMITS.MAX_KEY_LENGTH)]: 1 } }] });
    expect(r.status).toBe(200);
    expect(r.body.rejected).toEqual([{ index: 0, message: expect.stringMatching(new RegExp(`^/properties/nested/${long} a key has at most 256 characters \\(limit MAX_KEY_LENGTH = 256\\)$`)) }]);
    const one = await t.send('/v1/identify', { userId: 'u1', traits: { [long]: 'x' } });
    expect(one.status).toBe(400);
    expect(one.body.error.issues).toEqual([{ path: `/traits/${long}`, message: named('MAX_KEY_LENGTH') }]);
  });

  it('event size, batch count, and body size (ingest and admin)', async () => {
    const big = await t.send('/v1/track', { ...ev, properties: { s: 'x'.repeat(LIMITS.MAX_EVENT_BYTES) } });
    expect(big.status).toBe(400);
    expect(big.body.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: named('MAX_EVENT_BYTES'), issues: [{ path: '/', message: named('MAX_EVENT_BYTES') }] });
    const many = await t.send('/v1/batch', { batch: Array.from({ length: LIMITS.MAX_BATCH_ITEMS + 1 }, () => ({})) });
    expect(many.status).toBe(400);
    expect(many.body.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', issues: [{ path: '/batch', message: named('MAX_BATCH_ITEMS') }] });
    const heavy = await t.send('/v1/batch', { batch: [], pad: 'x'.repeat(LIMITS.MAX_BATCH_BYTES) });
    expect(heavy.status).toBe(400);
    expect(heavy.body.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: named('MAX_BATCH_BYTES') });
    const admin = await t.admin('POST', '/api/segments', { name: 'n', condition: null, description: 'x'.repeat(LIMITS.MAX_BODY_BYTES) });
    expect(admin.status).toBe(400);
    expect(admin.body.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: named('MAX_BODY_BYTES') });
  });

  it('names, descriptions and ids of the admin API, in bodies and in paths', async () => {
    const name = await t.admin('POST', '/api/segments', { name: 'n'.repeat(LIMITS.MAX_NAME_LENGTH + 1), description: 'd'.repeat(LIMITS.MAX_DESCRIPTION_LENGTH + 1), condition: null });
    expect(name.status).toBe(400);
    expect(name.body.error.issues).toEqual([
      { path: '/name', message: `must NOT have more than 200 characters (limit MAX_NAME_LENGTH = 200)` },
      { path: '/description', message: `must NOT have more than 2000 characters (limit MAX_DESCRIPTION_LENGTH = 2000)` },
    ]);
    const path = await t.admin('GET', `/api/segments/${'s'.repeat(LIMITS.MAX_ID_LENGTH + 1)}`);
    expect(path.status).toBe(400);
    expect(path.body.error.issues).toEqual([{ path: '/params/id', message: named('MAX_ID_LENGTH') }]);
    const members = await t.admin('POST', '/api/segments/x/members', { userIds: ['ok', 'u'.repeat(LIMITS.MAX_ID_LENGTH + 1)] });
    expect(members.body.error.issues).toEqual([{ path: '/userIds/1', message: named('MAX_ID_LENGTH') }]);
  });

  it('an experience payload; a userId of an import row', async () => {
    const big = { s: 'x'.repeat(LIMITS.MAX_PAYLOAD_BYTES) };
    const r = await t.admin('POST', '/api/experiences', { key: 'k', name: 'n', variants: [{ key: 'a', payload: big }] });
    expect(r.status).toBe(400);
    expect(r.body.error.issues).toEqual([{ path: '/variants/0/payload', message: named('MAX_PAYLOAD_BYTES') }]);
    const rows = `userId,plan\n${'u'.repeat(LIMITS.MAX_ID_LENGTH + 1)},pro\nu9,pro\n`;
    const imp = await t.upload('/api/imports?kind=users&format=csv', rows, 'text/csv');
    expect(imp.status).toBe(201);
    expect(imp.body.badRows).toEqual([{ line: 2, reason: named('MAX_ID_LENGTH') }]);
  });

  it('conditions: node count, nesting depth, list size, string length, path keys, sequence steps', async () => {
    const preview = async (condition: unknown) => (await t.admin('POST', '/api/segments/preview', { condition })).body.error?.issues;
    const leaf = { attr: 'traits.plan', op: 'eq', value: 'pro' };
    expect(await preview({ any: Array.from({ length: LIMITS.MAX_CONDITION_NODES }, () => leaf) })).toEqual([{ path: `/condition/any/${LIMITS.MAX_CONDITION_NODES - 1}`, message: named('MAX_CONDITION_NODES') }]);
    let deep: unknown = leaf;
    for (let i = 0; i <= LIMITS.MAX_CONDITION_DEPTH; i++) deep = { not: deep };
    expect(await preview(deep)).toEqual([{ path: `/condition${'/not'.repeat(LIMITS.MAX_CONDITION_DEPTH + 1)}`, message: named('MAX_CONDITION_DEPTH') }]);
    expect(await preview({ attr: 'traits.plan', op: 'in', value: Array.from({ length: LIMITS.MAX_LIST_VALUES + 1 }, (_, i) => i) })).toEqual([{ path: '/condition/value', message: named('MAX_LIST_VALUES') }]);
    expect(await preview({ attr: 'traits.plan', op: 'eq', value: 'x'.repeat(LIMITS.MAX_CONDITION_STRING_LENGTH + 1) })).toEqual([{ path: '/condition/value', message: named('MAX_CONDITION_STRING_LENGTH') }]);
    expect(await preview({ attr: 'traits.plan', op: 'in', value: ['a', 'x'.repeat(LIMITS.MAX_CONDITION_STRING_LENGTH + 1)] })).toEqual([{ path: '/condition/value/1', message: named('MAX_CONDITION_STRING_LENGTH') }]);
    expect(await preview({ attr: `traits.${Array.from({ length: LIMITS.MAX_PATH_KEYS + 1 }, () => 'k').join('.')}`, op: 'exists' })).toEqual([{ path: '/condition/attr', message: named('MAX_PATH_KEYS') }]);
    expect(await preview({ event: 'e'.repeat(LIMITS.MAX_EVENT_NAME_LENGTH + 1) })).toEqual([{ path: '/condition/event', message: named('MAX_EVENT_NAME_LENGTH') }]);
    expect(await preview({ sequence: Array.from({ length: LIMITS.MAX_SEQUENCE_STEPS + 1 }, () => ({ event: 'e' })), window: { within: '7d' } })).toEqual([{ path: '/condition/sequence', message: named('MAX_SEQUENCE_STEPS') }]);
  });

  it('regular expressions: source length and compiled size', async () => {
    const preview = async (value: string) => (await t.admin('POST', '/api/segments/preview', { condition: { attr: 'traits.name', op: 'matches', value } })).body.error?.issues;
    expect(await preview('a'.repeat(LIMITS.MAX_PATTERN_LENGTH + 1))).toEqual([{ path: '/condition/value', message: named('MAX_PATTERN_LENGTH') }]);
    expect(await preview('((a?){1,10}){1,100}$')).toEqual([{ path: '/condition/value', message: named('MAX_PROGRAM_SIZE') }]);
  });

  it('docs/reference.md lists every limit with its value', () => {
    const doc = readFileSync(new URL('../../../docs/reference.md', import.meta.url), 'utf8');
    for (const [name, value] of Object.entries(LIMITS)) {
      expect(doc, name).toMatch(new RegExp(`\\| \`${name}\` \\| ${value.toLocaleString('en-US')}\\b`));
    }
  });
});

/** 5xx the fuzz test found (fuzz.test.ts), on both stores: each is now a 400 naming its path. */
describe.each([sqlite!, postgres!])('fuzz regressions on $name', (backend) => {
  let t: TestApp;
  beforeAll(async () => { t = await startTestApp(await backend.open()); });
  afterAll(async () => t.close());

  it('a NUL, a lone surrogate, bad percent-encoding or an over-long id in a query string or a path is a 400 in the error shape (PostgreSQL refuses NUL in text)', async () => {
    const write = { 'x-write-key': 'stw_test_write_key' };
    const q = await t.app.inject({ method: 'GET', url: '/v1/targeting?anonymousId=%00', headers: write });
    expect(q.statusCode).toBe(400);
    expect(q.json().error.issues).toEqual([{ path: '/querystring/anonymousId', message: expect.stringMatching(/NUL/) }]);
    const p = await t.admin('GET', '/api/users/a%00b');
    expect(p.status).toBe(400);
    expect(p.body.error.issues).toEqual([{ path: '/params/id', message: expect.stringMatching(/NUL/) }]);
    expect((await t.admin('GET', '/api/segments/x%ED%A0%80')).status).toBeLessThan(500);
    // Router refusals: an over-long or undecodable path parameter (were 414 and 400 in Fastify's own shape; ids of 101 to 256 characters were 414).
    expect((await t.admin('GET', `/api/users/${'u'.repeat(200)}`)).status).toBe(404);
    for (const bad of ['u'.repeat(4000), 'x%FF', '%ED%A0%80']) {
      const r = await t.admin('GET', `/api/users/${bad}`);
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'VALIDATION_FAILED', issues: [{ path: '/params', message: expect.any(String) }] });
    }
    const redeem = await t.app.inject({ method: 'POST', url: '/v1/rewards/r1/redeem', headers: write, payload: { userId: 'a\u0000' } });
    expect(redeem.statusCode).toBe(400);
    expect(redeem.json().error.issues).toEqual([{ path: '/userId', message: expect.stringMatching(/NUL/) }]);
  });
});
