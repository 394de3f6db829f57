import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { openTestSqlite } from '@strata/store/testing';
import { buildApp } from './app.ts';
import { createContext, ensureDefaultProject, stopContext } from './bootstrap.ts';
import { configFromEnv } from './config.ts';
import type { AppContext } from './context.ts';
import { countryOfIp, geolocate } from './ingest/geo.ts';
import { ADMIN, ManualClock, WRITE } from './test-app.ts';

const T0 = Date.UTC(2024, 5, 15, 12);
// Addresses whose country is long-stable in the shipped table (checked: 8.8.8.8 and 1.1.1.1 → US,
// 193.0.6.139 (RIPE NCC) → NL, 81.2.69.160 → GB).
const US = '8.8.8.8';
const NL = '193.0.6.139';

describe('countryOfIp', () => {
  it('maps public IPv4 (and IPv4-mapped IPv6) to ISO alpha-2, and private, loopback, IPv6 and junk to null', () => {
    expect(countryOfIp(US)).toBe('US');
    expect(countryOfIp('1.1.1.1')).toBe('US');
    expect(countryOfIp(NL)).toBe('NL');
    expect(countryOfIp('81.2.69.160')).toBe('GB');
    expect(countryOfIp(`::ffff:${NL}`)).toBe('NL');
    for (const ip of ['10.1.2.3', '127.0.0.1', '192.168.0.9', '172.16.5.5', '100.64.0.1', '169.254.0.1', '::1', '2001:4860:4860::8888', 'not-an-ip', '8.8.8', '8.8.8.8.8', '']) {
      expect([ip, countryOfIp(ip)]).toEqual([ip, null]);
    }
  });

  it('leaves the given context untouched and keeps other location fields', () => {
    const ctx = { ip: US, location: { city: 'Springfield' } };
    expect(geolocate(ctx, { requestIp: null, storeIp: false })).toEqual({ location: { city: 'Springfield', country: 'US' } });
    expect(ctx).toEqual({ ip: US, location: { city: 'Springfield' } });
    // A location that is not an object is the client's: left alone.
    expect(geolocate({ location: 'Paris' }, { requestIp: US, storeIp: false })).toEqual({ location: 'Paris' });
  });
});

describe('geolocation at ingest', () => {
  let app: FastifyInstance;
  let ctx: AppContext;
  afterEach(async () => {
    await app.close();
    await stopContext(ctx);
  });

  async function start(env: Record<string, string> = {}): Promise<void> {
    const store = await openTestSqlite();
    const config = { ...configFromEnv(env), adminToken: ADMIN, writeKey: WRITE };
    await ensureDefaultProject(store, config, T0);
    ctx = createContext(store, config, new ManualClock(T0));
    await ctx.engine.start(0);
    app = await buildApp(ctx);
  }
  const send = async (path: string, body: object, opts: { remoteAddress?: string; headers?: Record<string, string> } = {}) => {
    const r = await app.inject({ method: 'POST', url: path, remoteAddress: opts.remoteAddress, headers: { 'x-write-key': WRITE, 'content-type': 'application/json', ...opts.headers }, payload: JSON.stringify(body) });
    expect(r.statusCode).toBe(200);
  };
  const admin = async (method: 'GET' | 'POST', url: string, payload?: object) => {
    const r = await app.inject({ method, url, headers: { authorization: `Bearer ${ADMIN}` }, ...(payload ? { payload } : {}) });
    return r.json();
  };
  const events = async (id: string) => ((await admin('GET', `/api/users/${id}/events?limit=100`)).events as { event: string; context: any }[]).filter((e) => e.event !== '$session');

  it('adds the country of context.ip, drops the ip, and a segment on context.location.country holds the user', async () => {
    await start();
    await send('/v1/track', { userId: 'us', event: 'a', context: { ip: US, locale: 'en-US' } }, { remoteAddress: NL });
    const [e] = await events('us');
    expect(e!.context).toEqual({ locale: 'en-US', location: { country: 'US' } });
    const profile = await admin('GET', '/api/users/us');
    expect(profile.context.location).toEqual({ country: 'US' });
    expect(profile.context.ip).toBeUndefined();
    expect(JSON.stringify(profile)).not.toContain(US);
    // The $session visit carries the country too.
    const session = ((await admin('GET', '/api/users/us/events?limit=100')).events as { event: string; properties: any }[]).find((x) => x.event === '$session');
    expect(session?.properties.country).toBe('US');

    await send('/v1/track', { userId: 'nl', event: 'a', context: { ip: NL } });
    const seg = await admin('POST', '/api/segments', { name: 'US', condition: { attr: 'context.location.country', op: 'eq', value: 'US' } });
    const members = (await admin('GET', `/api/segments/${seg.id}/members`)).members as { userId: string }[];
    expect(members.map((m) => m.userId)).toEqual(['us']);
  });

  it('keeps the ip with STRATA_STORE_IP=1 (the request address when the message has none)', async () => {
    await start({ STRATA_STORE_IP: '1' });
    await send('/v1/batch', { batch: [
      { type: 'track', userId: 'a', event: 'x', context: { ip: US } },
      { type: 'track', userId: 'b', event: 'x' },
    ] }, { remoteAddress: NL });
    expect((await events('a'))[0]!.context).toEqual({ ip: US, location: { country: 'US' } });
    expect((await events('b'))[0]!.context).toEqual({ ip: NL, location: { country: 'NL' } });
  });

  it('leaves a message\'s own context.location untouched; a private address adds nothing', async () => {
    await start();
    await send('/v1/track', { userId: 'own', event: 'x', context: { ip: US, location: { country: 'FR', city: 'Paris' } } });
    expect((await events('own'))[0]!.context).toEqual({ location: { country: 'FR', city: 'Paris' } });
    await send('/v1/track', { userId: 'lan', event: 'x', context: { ip: '192.168.1.20' } }, { remoteAddress: US });
    expect((await events('lan'))[0]!.context).toEqual({});
    await send('/v1/track', { userId: 'local', event: 'x' }, { remoteAddress: '127.0.0.1' });
    expect((await events('local'))[0]!.context).toEqual({});
  });

  it('uses the request address without context.ip; X-Forwarded-For only counts with STRATA_TRUST_PROXY', async () => {
    await start();
    await send('/v1/track', { userId: 'direct', event: 'x' }, { remoteAddress: NL, headers: { 'x-forwarded-for': US } });
    expect((await events('direct'))[0]!.context).toEqual({ location: { country: 'NL' } });
    await send('/v1/track', { userId: 'proxied', event: 'x' }, { remoteAddress: '10.0.0.2', headers: { 'x-forwarded-for': US } });
    expect((await events('proxied'))[0]!.context).toEqual({});
  });

  it('honours X-Forwarded-For behind a trusted proxy (all, or a list of proxy ranges)', async () => {
    await start({ STRATA_TRUST_PROXY: '1' });
    await send('/v1/track', { userId: 'p', event: 'x' }, { remoteAddress: '10.0.0.2', headers: { 'x-forwarded-for': US } });
    expect((await events('p'))[0]!.context).toEqual({ location: { country: 'US' } });
    await app.close();
    await stopContext(ctx);

    await start({ STRATA_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' });
    await send('/v1/track', { userId: 'in', event: 'x' }, { remoteAddress: '10.0.0.2', headers: { 'x-forwarded-for': US } });
    expect((await events('in'))[0]!.context).toEqual({ location: { country: 'US' } });
    // From an address outside the list, the header is ignored.
    await send('/v1/track', { userId: 'out', event: 'x' }, { remoteAddress: NL, headers: { 'x-forwarded-for': US } });
    expect((await events('out'))[0]!.context).toEqual({ location: { country: 'NL' } });
  });

  it('refuses bad values of the two variables at start', () => {
    expect(() => configFromEnv({ STRATA_STORE_IP: 'maybe' })).toThrow(/STRATA_STORE_IP/);
    expect(() => configFromEnv({ STRATA_TRUST_PROXY: '10.0.0.0/99' })).toThrow(/STRATA_TRUST_PROXY/);
    expect(() => configFromEnv({ STRATA_TRUST_PROXY: 'proxy.local' })).toThrow(/STRATA_TRUST_PROXY/);
    expect(configFromEnv({})).toMatchObject({ trustProxy: false, storeIp: false });
    expect(configFromEnv({ STRATA_TRUST_PROXY: 'true', STRATA_STORE_IP: 'yes' })).toMatchObject({ trustProxy: true, storeIp: true });
  });
});
