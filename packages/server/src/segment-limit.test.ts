import { afterEach, describe, expect, it } from 'vitest';
import { testBackends } from '@strata/store/testing';
import { configFromEnv } from './config.ts';
import { startTestApp, type TestApp } from './test-app.ts';

const backends = await testBackends();
const T0 = Date.UTC(2024, 5, 15, 12);

describe('STRATA_MAX_SEGMENTS', () => {
  it('defaults to 10,000 and refuses a value that is not a whole number of at least 1, naming the variable', () => {
    expect(configFromEnv({}).maxSegments).toBe(10_000);
    expect(configFromEnv({ STRATA_MAX_SEGMENTS: '250' }).maxSegments).toBe(250);
    for (const bad of ['0', '-3', '2.5', 'many', '1e400']) {
      expect(() => configFromEnv({ STRATA_MAX_SEGMENTS: bad }), bad).toThrow(/STRATA_MAX_SEGMENTS must be a whole number of at least 1/);
    }
  });
});

describe.each(backends.map((b) => [b.name, b] as const))('segment limit per project on %s', (_n, backend) => {
  let t: TestApp;
  afterEach(async () => t.close());

  const plan = (value: string) => ({ attr: 'traits.plan', op: 'eq', value });

  it('creates up to the limit, refuses the next with 409 LIMIT_REACHED naming it, and adds nothing', async () => {
    t = await startTestApp(await backend.open(), T0, { config: { maxSegments: 3 } });
    expect((await t.admin('POST', '/api/segments', { name: 'pro', condition: plan('pro') })).status).toBe(201);
    expect((await t.admin('POST', '/api/segments', { template: 'known' })).status).toBe(201);
    const third = await t.admin('POST', '/api/segments', { name: 'vip', condition: plan('vip') });
    expect(third.status).toBe(201);

    const over = await t.admin('POST', '/api/segments', { name: 'free', condition: plan('free') });
    expect(over.status).toBe(409);
    expect(over.body.error.code).toBe('LIMIT_REACHED');
    expect(over.body.error.message).toContain('at most 3');
    expect(over.body.error.message).toContain('STRATA_MAX_SEGMENTS');
    const byTemplate = await t.admin('POST', '/api/segments', { template: 'anonymous' });
    expect(byTemplate.status).toBe(409);
    expect(byTemplate.body.error.code).toBe('LIMIT_REACHED');
    expect((await t.admin('GET', '/api/segments')).body.segments.map((s: { name: string }) => s.name).sort()).toEqual(['Known users', 'pro', 'vip']);

    // Changing a segment is not creating one; deleting one makes room again.
    expect((await t.admin('PATCH', `/api/segments/${third.body.id}`, { condition: plan('basic') })).status).toBe(200);
    expect((await t.admin('DELETE', `/api/segments/${third.body.id}`)).status).toBe(204);
    expect((await t.admin('POST', '/api/segments', { name: 'free', condition: plan('free') })).status).toBe(201);
  });

  it('refuses a set of segments (the lifecycle stages) that does not fit whole, creating none of it', async () => {
    t = await startTestApp(await backend.open(), T0, { config: { maxSegments: 5 } });
    expect((await t.admin('POST', '/api/segments', { name: 'pro', condition: plan('pro') })).status).toBe(201);
    expect((await t.admin('POST', '/api/segments', { name: 'vip', condition: plan('vip') })).status).toBe(201);
    const set = await t.admin('POST', '/api/segments/lifecycle', {});
    expect(set.status).toBe(409);
    expect(set.body.error.code).toBe('LIMIT_REACHED');
    expect(set.body.error.message).toContain('4 more do not fit');
    expect((await t.admin('GET', '/api/segments')).body.segments).toHaveLength(2);
  });
});
