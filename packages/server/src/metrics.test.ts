import { afterEach, describe, expect, it, vi } from 'vitest';
import { testBackends } from '@strata/store/testing';
import { startTestApp, type TestApp } from './test-app.ts';

const backends = await testBackends();
const T0 = Date.UTC(2024, 5, 15, 12);

/** The value of one sample of a Prometheus text exposition (labels in any order), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe.each(backends.map((b) => [b.name, b] as const))('/metrics on %s', (_n, backend) => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });
  const scrape = async () => {
    const r = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return r.payload;
  };

  it('counts requests by route pattern, method and status with their latency, and ingest by result', async () => {
    t = await startTestApp(await backend.open(), T0);
    const batch = { batch: [{ type: 'track', userId: 'u1', event: 'opened', messageId: 'm1' }, { type: 'track', userId: 'u1', event: 'opened', messageId: 'm1' }, { type: 'track', event: 'no-id' }] };
    expect((await t.send('/v1/batch', batch)).status).toBe(200);
    expect((await t.admin('GET', '/api/segments/seg_missing')).status).toBe(404);
    expect((await t.admin('GET', '/api/segments/seg_other')).status).toBe(404);
    await t.app.inject({ method: 'GET', url: '/no/such/route' });
    const text = await scrape();
    expect(sample(text, 'strata_http_requests_total', { method: 'POST', route: '/v1/batch', status: '200' })).toBe(1);
    // The pattern, not the URL: one series for every id.
    expect(sample(text, 'strata_http_requests_total', { method: 'GET', route: '/api/segments/:id', status: '404' })).toBe(2);
    expect(sample(text, 'strata_http_requests_total', { method: 'GET', route: '(none)', status: '404' })).toBe(1);
    expect(sample(text, 'strata_http_request_duration_seconds_count', { method: 'GET', route: '/api/segments/:id', status: '404' })).toBe(2);
    expect(sample(text, 'strata_http_request_duration_seconds_bucket', { method: 'GET', route: '/api/segments/:id', status: '404', le: '+Inf' })).toBe(2);
    expect(sample(text, 'strata_ingest_messages_total', { result: 'accepted' })).toBe(2);
    expect(sample(text, 'strata_ingest_messages_total', { result: 'rejected' })).toBe(1);
    expect(sample(text, 'strata_ingest_messages_total', { result: 'failed' })).toBe(0);
    expect(sample(text, 'strata_ingest_duplicates_total')).toBe(1);
    expect(sample(text, 'strata_engine_ready')).toBe(1);
    expect(sample(text, 'strata_engine_projects_loaded')).toBe(1);
    expect(sample(text, 'strata_engine_profiles')).toBe(1);
    // The heap against its limit, and per profile held (one profile: the whole heap).
    const ratio = sample(text, 'strata_heap_used_ratio');
    expect(ratio).toBeGreaterThan(0);
    expect(ratio).toBeLessThan(1);
    // One profile: the whole heap is its share. No segment reads an event: none is kept.
    expect(sample(text, 'strata_engine_bytes_per_profile')).toBeGreaterThan(1e6);
    expect([sample(text, 'strata_engine_events'), sample(text, 'strata_engine_bytes_per_event')]).toEqual([0, 0]);
    const rss = sample(text, 'strata_memory_used_ratio');
    expect(rss).toBeGreaterThan(0);
    expect(rss).toBeLessThan(1);
    // prom-client's process metrics.
    expect(sample(text, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    // The counters only grow: a second scrape counts the first one's request too.
    const again = await scrape();
    expect(sample(again, 'strata_http_requests_total', { method: 'GET', route: '/metrics', status: '200' })).toBe(1);
    expect(sample(again, 'strata_ingest_messages_total', { result: 'accepted' })).toBe(2);
  });

  it('counts the messages of a request the event log could not take as failed (none accepted)', async () => {
    t = await startTestApp(await backend.open(), T0);
    const write = vi.spyOn(t.ctx.ingest.log, 'append').mockRejectedValue(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
    expect((await t.send('/v1/batch', { batch: [{ type: 'track', userId: 'u1', event: 'a' }, { type: 'track', userId: 'u1', event: 'b' }] })).status).toBe(503);
    write.mockRestore();
    const text = await scrape();
    expect(sample(text, 'strata_ingest_messages_total', { result: 'failed' })).toBe(2);
    expect(sample(text, 'strata_ingest_messages_total', { result: 'accepted' })).toBe(0);
    expect(sample(text, 'strata_http_requests_total', { method: 'POST', route: '/v1/batch', status: '503' })).toBe(1);
  });

  it('reports the event log: acknowledged and applied positions, the backlog, a stalled worker', async () => {
    t = await startTestApp(await backend.open(), T0, { config: { readWaitMs: 200 } });
    const transaction = t.ctx.store.transaction.bind(t.ctx.store);
    let down = false;
    t.ctx.store.transaction = (async (fn: never) => { if (down) throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }); return transaction(fn); }) as typeof t.ctx.store.transaction;
    expect((await t.send('/v1/track', { userId: 'u1', event: 'a' })).status).toBe(200);
    let text = await scrape();
    const first = sample(text, 'strata_ingest_acknowledged_position')!;
    expect(first).toBeGreaterThan(0);
    // Which log: the embedded one of this store, one partition.
    expect(sample(text, 'strata_event_log_partitions', { log: t.ctx.store.dialect === 'sqlite' ? 'sqlite' : 'postgres' })).toBe(1);
    expect(sample(text, 'strata_ingest_applied_position')).toBe(first);
    expect([sample(text, 'strata_ingest_backlog_events'), sample(text, 'strata_ingest_stalled')]).toEqual([0, 0]);
    down = true;
    const r = await t.app.inject({ method: 'POST', url: '/v1/batch', headers: { 'x-write-key': 'stw_test_write_key' }, payload: { batch: [{ type: 'track', userId: 'u2', event: 'b' }, { type: 'track', userId: 'u2', event: 'c' }] } });
    expect(r.statusCode).toBe(200);
    await vi.waitFor(() => expect(t.ctx.ingest.stalled).not.toBeNull());
    text = await scrape();
    expect(sample(text, 'strata_ingest_acknowledged_position')).toBe(r.json().position);
    expect(sample(text, 'strata_ingest_applied_position')).toBe(first);
    expect([sample(text, 'strata_ingest_backlog_events'), sample(text, 'strata_ingest_stalled')]).toEqual([2, 1]);
    down = false;
    await t.ctx.ingest.drain();
    text = await scrape();
    expect([sample(text, 'strata_ingest_applied_position'), sample(text, 'strata_ingest_backlog_events'), sample(text, 'strata_ingest_stalled')]).toEqual([r.json().position, 0, 0]);
  });

  it('reports the outbox backlog of webhooks and destinations, and how old its oldest row is', async () => {
    t = await startTestApp(await backend.open(), T0);
    let text = await scrape();
    expect(sample(text, 'strata_outbox_pending', { target: 'webhook' })).toBe(0);
    expect(sample(text, 'strata_outbox_oldest_pending_age_seconds', { target: 'webhook' })).toBe(0);
    const seg = (await t.admin('POST', '/api/segments', { name: 'Pro', condition: { attr: 'traits.plan', op: 'eq', value: 'pro' } })).body.id as string;
    expect((await t.admin('POST', '/api/webhooks', { url: 'https://crm.example.com/in', segmentIds: [seg] })).status).toBe(201);
    expect((await t.admin('POST', '/api/destinations', { name: 'CRM', kind: 'http', url: 'https://crm.example.com/sync', segmentIds: [seg] })).status).toBe(201);
    expect((await t.send('/v1/identify', { userId: 'ann', traits: { plan: 'pro' } })).status).toBe(200);
    t.clock.advance(90_000);
    text = await scrape();
    expect(sample(text, 'strata_outbox_pending', { target: 'webhook' })).toBe(1);
    expect(sample(text, 'strata_outbox_pending', { target: 'destination' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'strata_outbox_oldest_pending_age_seconds', { target: 'webhook' })).toBe(90);
  });

  it('reports the engine\'s memory: its typed arrays by part, the events it keeps, bytes per profile and per event', async () => {
    t = await startTestApp(await backend.open(), T0);
    await t.admin('POST', '/api/segments', { name: 'Openers', condition: { event: 'opened', where: [{ attr: 'properties.screen', op: 'eq', value: 'home' }], window: { within: '7d' } } });
    const parts = ['events', 'records', 'index', 'membership', 'wakes'];
    const read = async () => {
      const text = await scrape();
      const bytes = parts.map((part) => sample(text, 'strata_engine_column_bytes', { part })!);
      return { text, bytes, total: bytes.reduce((a, b) => a + b, 0), events: sample(text, 'strata_engine_events')! };
    };
    const batch = (users: string[]) => ({ batch: users.flatMap((u) => [{ type: 'track', userId: u, event: 'opened', properties: { screen: 'home' } }, { type: 'track', userId: u, event: 'closed' }]) });
    expect((await t.send('/v1/batch', batch(['a', 'b']))).status).toBe(200);
    const before = await read();
    // "opened" is read by the segment (kept); "closed" is not.
    expect(before.events).toBe(2);
    expect(before.total).toBe(t.ctx.engine.memory().columnBytes);
    for (const b of before.bytes) expect(b).toBeGreaterThan(0);
    expect(sample(before.text, 'strata_engine_bytes_per_event')).toBeCloseTo(before.bytes[0]! / 2, 6);
    expect(sample(before.text, 'strata_engine_bytes_per_profile')).toBeGreaterThan(before.total / 2);
    expect((await t.send('/v1/batch', batch(Array.from({ length: 200 }, (_, i) => `u${i}`)))).status).toBe(200);
    const after = await read();
    expect(after.events).toBe(202);
    expect(after.total).toBe(t.ctx.engine.memory().columnBytes);
    expect(after.bytes[0]).toBeGreaterThan(before.bytes[0]!);
    expect(after.bytes[1]).toBeGreaterThan(before.bytes[1]!);
    expect(sample(after.text, 'strata_engine_profiles')).toBe(202);
  });

  it('measures how long a due time transition has waited (the lag of the engine\'s wake-ups)', async () => {
    t = await startTestApp(await backend.open(), T0);
    await t.admin('POST', '/api/segments', { name: 'Active 1h', condition: { event: 'opened', window: { within: '1h' } } });
    expect((await t.send('/v1/track', { userId: 'u1', event: 'opened' })).status).toBe(200);
    expect(sample(await scrape(), 'strata_engine_transition_lag_seconds')).toBe(0);
    // The exit is due at T0 + 1h; the clock is 90 s past it and no tick has run.
    t.clock.advance(3_600_000 + 90_000);
    expect(sample(await scrape(), 'strata_engine_transition_lag_seconds')).toBe(90);
    await t.ctx.engine.tick();
    expect(sample(await scrape(), 'strata_engine_transition_lag_seconds')).toBe(0);
  });
});

describe('who may read /metrics', () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
  });
  const backend = backends[0]!;

  it('without STRATA_METRICS_TOKEN: a direct loopback caller only (not another address, not through a proxy)', async () => {
    t = await startTestApp(await backend.open(), T0);
    const get = (remoteAddress: string, headers: Record<string, string> = {}) => t.app.inject({ method: 'GET', url: '/metrics', remoteAddress, headers });
    expect((await get('127.0.0.1')).statusCode).toBe(200);
    expect((await get('::1')).statusCode).toBe(200);
    const remote = await get('10.1.2.3');
    expect(remote.statusCode).toBe(403);
    expect(remote.json().error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('STRATA_METRICS_TOKEN') });
    expect((await get('127.0.0.1', { 'x-forwarded-for': '203.0.113.9' })).statusCode).toBe(403);
    expect((await get('127.0.0.1', { forwarded: 'for=203.0.113.9' })).statusCode).toBe(403);
    // The admin token of a project is not the operator's.
    expect((await get('10.1.2.3', { authorization: 'Bearer sta_test_admin_token' })).statusCode).toBe(403);
  });

  it('with STRATA_METRICS_TOKEN: that bearer token from anywhere; without it or with another, 401 (loopback included)', async () => {
    t = await startTestApp(await backend.open(), T0, { config: { metricsToken: 'stm_scrape_me' } });
    const get = (remoteAddress: string, headers: Record<string, string> = {}) => t.app.inject({ method: 'GET', url: '/metrics', remoteAddress, headers });
    expect((await get('10.1.2.3', { authorization: 'Bearer stm_scrape_me' })).statusCode).toBe(200);
    expect((await get('127.0.0.1')).statusCode).toBe(401);
    expect((await get('10.1.2.3', { authorization: 'Bearer stm_wrong' })).statusCode).toBe(401);
    expect((await get('10.1.2.3', { authorization: 'Bearer sta_test_admin_token' })).json().error.code).toBe('UNAUTHORIZED');
  });

  it('keeps one registry per app: two apps in one process count their own requests', async () => {
    t = await startTestApp(await backend.open(), T0);
    const other = await startTestApp(await backend.open(), T0);
    try {
      await other.app.inject({ method: 'GET', url: '/api/health' });
      await other.app.inject({ method: 'GET', url: '/api/health' });
      await t.app.inject({ method: 'GET', url: '/api/health' });
      const mine = (await t.app.inject({ method: 'GET', url: '/metrics' })).payload;
      const theirs = (await other.app.inject({ method: 'GET', url: '/metrics' })).payload;
      expect(sample(mine, 'strata_http_requests_total', { route: '/api/health' })).toBe(1);
      expect(sample(theirs, 'strata_http_requests_total', { route: '/api/health' })).toBe(2);
    } finally {
      await other.close();
    }
  });
});

describe('STRATA_METRICS_TOKEN', () => {
  it('is read from the environment (blank: unset)', async () => {
    const { configFromEnv } = await import('./config.ts');
    expect(configFromEnv({ STRATA_METRICS_TOKEN: ' stm_x ' }).metricsToken).toBe('stm_x');
    expect(configFromEnv({ STRATA_METRICS_TOKEN: ' ' }).metricsToken).toBeNull();
    expect(configFromEnv({}).metricsToken).toBeNull();
  });
});
