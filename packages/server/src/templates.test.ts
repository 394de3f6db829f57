/**
 * Segment templates end to end: a generated dataset goes in through the ingest API, a segment
 * is made from every template through POST /api/segments, and its members are compared with
 * what plain JavaScript computes from the generated messages (no Strata evaluator, no SQL).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateUsers, type GeneratedUser, type SegmentMessage } from '@strata/datagen';
import { testBackends } from '@strata/store/testing';
import { startTestApp, type TestApp } from './test-app.ts';

// PostgreSQL runs too when a real server answers; PGlite would only repeat SQLite slowly here.
const backends = (await testBackends()).filter((b) => b.name !== 'postgres (pglite)');

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** 15 December: the Christmas season (1 November – 1 January) lies inside the 90 days of data. */
const T0 = Date.UTC(2024, 11, 15, 12);
const SESSION_TIMEOUT = 30 * MINUTE;

// ------------------------------------------------------------------ the oracle

interface Act { readonly name: string; readonly ts: number; readonly props: Record<string, unknown> }
interface Visit { readonly ts: number; readonly deviceType: unknown; readonly utmSource: string | null }
interface Person {
  readonly id: string;
  readonly known: boolean;
  readonly acts: Act[];
  readonly visits: Visit[];
  readonly firstSeen: number;
  readonly plan: unknown;
  readonly country: unknown;
  readonly locale: unknown;
  /** The generator's own label for the user's country (a second source for the EMEA list). */
  readonly region: string;
}

const NAME_OF: Record<SegmentMessage['type'], (m: SegmentMessage) => string> = {
  track: (m) => m.event!, page: () => '$pageview', screen: () => '$screen', identify: () => '$identify',
};

function utmSourceOf(m: SegmentMessage): string | null {
  const campaign = m.context.campaign as { source?: string } | undefined;
  if (campaign?.source) return campaign.source;
  const url = m.type === 'page' ? (m.properties?.url as string | undefined) : (m.context.page as { url?: string } | undefined)?.url;
  return url ? new URL(url).searchParams.get('utm_source') : null;
}

function personOf(u: GeneratedUser): Person {
  const msgs = [...u.messages].sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
  const acts: Act[] = [];
  const visits: Visit[] = [];
  let plan: unknown;
  let prev = -Infinity;
  for (const m of msgs) {
    const ts = Date.parse(m.timestamp);
    acts.push({ name: NAME_OF[m.type](m), ts, props: m.properties ?? {} });
    // A visit begins with the first event, or one more than 30 minutes after the previous.
    if (ts - prev > SESSION_TIMEOUT) visits.push({ ts, deviceType: (m.context.device as { type?: unknown }).type, utmSource: utmSourceOf(m) });
    prev = ts;
    if (m.type === 'identify' && m.traits?.plan !== undefined) plan = m.traits.plan;
  }
  const last = msgs[msgs.length - 1]!;
  return {
    id: u.userId ?? u.anonymousId,
    known: msgs.some((m) => m.userId !== undefined),
    acts, visits, firstSeen: acts[0]!.ts, plan,
    country: (last.context.location as { country?: unknown }).country, locale: last.context.locale, region: u.meta.region,
  };
}

/** now − d < t ≤ now */
const within = (t: number, now: number, d: number) => t > now - d && t <= now;
const count = (p: Person, f: (a: Act) => boolean) => p.acts.filter(f).length;
const activeWithin = (p: Person, now: number, d: number) => p.acts.some((a) => within(a.ts, now, d));
const CONVERSIONS = ['signed_up', 'login', 'purchase', 'inquiry'];

const stage = {
  isNew: (p: Person, now: number, w = 7 * DAY) => within(p.firstSeen, now, w),
  resurrected: (p: Person, now: number, w = 7 * DAY, gap = 30 * DAY) =>
    activeWithin(p, now, w) && !p.acts.some((a) => a.ts > now - w - gap && a.ts <= now - w) && p.firstSeen <= now - w - gap,
};

interface Case {
  readonly template: string;
  readonly params?: Record<string, unknown>;
  readonly name?: string;
  readonly expect: (p: Person, now: number) => boolean;
}

/** Every template, some twice with other params; the params are picked so that no segment is empty or everyone. */
const CASES: readonly Case[] = [
  { template: 'anonymous', expect: (p) => !p.known && !p.acts.some((a) => CONVERSIONS.includes(a.name)) },
  { template: 'known', expect: (p) => p.known || p.acts.some((a) => CONVERSIONS.includes(a.name)) },
  { template: 'anonymous', name: 'No cart yet', params: { conversionEvents: ['add_to_cart', 'inquiry'] }, expect: (p) => !p.known && !p.acts.some((a) => a.name === 'add_to_cart' || a.name === 'inquiry') },
  { template: 'known', name: 'Known or carted', params: { conversionEvents: ['add_to_cart', 'inquiry'] }, expect: (p) => p.known || p.acts.some((a) => a.name === 'add_to_cart' || a.name === 'inquiry') },
  {
    template: 'loyal', params: { minPurchases: 2, purchaseWindow: '60d', minActiveDays: 4, activeDaysWindow: '30d' },
    expect: (p, now) => count(p, (a) => a.name === 'purchase' && within(a.ts, now, 60 * DAY)) >= 2
      || new Set(p.acts.filter((a) => within(a.ts, now, 30 * DAY)).map((a) => Math.floor(a.ts / DAY))).size >= 4,
  },
  { template: 'new', expect: (p, now) => stage.isNew(p, now) },
  { template: 'new', name: 'New this fortnight', params: { window: '14d' }, expect: (p, now) => stage.isNew(p, now, 14 * DAY) },
  { template: 'active', expect: (p, now) => activeWithin(p, now, 7 * DAY) && !stage.isNew(p, now) },
  { template: 'resurrected', expect: (p, now) => stage.resurrected(p, now) },
  { template: 'resurrected', name: 'Back after 3 weeks', params: { activeWindow: '10d', gap: '3w' }, expect: (p, now) => stage.resurrected(p, now, 10 * DAY, 21 * DAY) },
  { template: 'churned', expect: (p, now) => !activeWithin(p, now, 30 * DAY) },
  {
    template: 'vip', expect: (p) => p.plan === 'vip'
      || p.acts.filter((a) => a.name === 'purchase').reduce((s, a) => s + (a.props.revenue as number), 0) >= 500,
  },
  {
    template: 'vip', name: 'Pro or big spenders', params: { planValues: ['pro'], minRevenue: 300 }, expect: (p) => p.plan === 'pro'
      || p.acts.filter((a) => a.name === 'purchase').reduce((s, a) => s + (a.props.revenue as number), 0) >= 300,
  },
  {
    template: 'high-frequency-visitor', params: { minViews: 3 },
    expect: (p, now) => count(p, (a) => a.name === '$pageview' && a.props.path === '/pricing' && within(a.ts, now, 30 * DAY)) >= 3,
  },
  {
    template: 'high-frequency-visitor', name: 'Product browsers', params: { path: '/products', minViews: 2, window: '60d' },
    expect: (p, now) => count(p, (a) => a.name === '$pageview' && a.props.path === '/products' && within(a.ts, now, 60 * DAY)) >= 2,
  },
  {
    template: 'cart-abandonment', params: { window: '14d' },
    expect: (p, now) => p.acts.some((a) => a.name === 'add_to_cart' && within(a.ts, now, 14 * DAY)) && !p.acts.some((a) => a.name === 'purchase' && within(a.ts, now, 14 * DAY)),
  },
  {
    template: 'seasonal-interest',
    expect: (p) => p.acts.some((a) => a.name === '$pageview' && /^\/seasonal\/christmas/.test(String(a.props.path)) && a.ts >= Date.UTC(2024, 10, 1) && a.ts < Date.UTC(2025, 0, 1)),
  },
  {
    template: 'seasonal-interest', name: 'Summer or Christmas in October', params: { pathPattern: '^/seasonal/(summer|christmas)', after: '2024-10-01T00:00:00Z', before: '2024-11-01' },
    expect: (p) => p.acts.some((a) => a.name === '$pageview' && /^\/seasonal\/(summer|christmas)/.test(String(a.props.path)) && a.ts >= Date.UTC(2024, 9, 1) && a.ts < Date.UTC(2024, 10, 1)),
  },
  { template: 'region-emea', expect: (p) => p.region === 'EMEA' },
  { template: 'region-china', expect: (p) => p.country === 'CN' },
  { template: 'region-uk', expect: (p) => p.country === 'GB' },
  { template: 'region-us', expect: (p) => p.country === 'US' },
  { template: 'region-us', name: 'North America (lower case)', params: { countries: ['us', 'ca', 'mx'] }, expect: (p) => p.country === 'US' || p.country === 'CA' || p.country === 'MX' },
  { template: 'device-type', expect: (p, now) => p.visits.some((v) => v.deviceType === 'mobile' && within(v.ts, now, 30 * DAY)) },
  { template: 'device-type', name: 'Tablet visitors', params: { deviceType: 'tablet', window: '90d' }, expect: (p, now) => p.visits.some((v) => v.deviceType === 'tablet' && within(v.ts, now, 90 * DAY)) },
  { template: 'device-type', name: 'Desktop visitors', params: { deviceType: 'desktop', window: '2w' }, expect: (p, now) => p.visits.some((v) => v.deviceType === 'desktop' && within(v.ts, now, 14 * DAY)) },
  { template: 'system-language', expect: (p) => String(p.locale).toLowerCase().split(/[-_]/)[0] === 'en' },
  { template: 'system-language', name: 'Speaks German', params: { language: 'DE' }, expect: (p) => String(p.locale).toLowerCase().split(/[-_]/)[0] === 'de' },
  { template: 'new-visitor', expect: (p) => p.visits.length === 1 },
  { template: 'returning-visitor', expect: (p) => p.visits.length >= 2 },
  { template: 'returning-visitor', name: 'Regulars', params: { minVisits: 4 }, expect: (p) => p.visits.length >= 4 },
  { template: 'campaign-source', params: { window: '90d' }, expect: (p, now) => p.visits.some((v) => v.utmSource?.toLowerCase() === 'google' && within(v.ts, now, 90 * DAY)) },
  { template: 'campaign-source', name: 'Newsletter readers', params: { source: 'NewsLetter' }, expect: (p, now) => p.visits.some((v) => v.utmSource?.toLowerCase() === 'newsletter' && within(v.ts, now, 30 * DAY)) },
];

// ------------------------------------------------------------------ the tests

describe.each(backends.map((b) => [b.name, b] as const))('segment templates on %s', (_n, backend) => {
  let t: TestApp;
  let people: Person[];

  beforeAll(async () => {
    t = await startTestApp(await backend.open(), T0);
    const users = [...generateUsers({ seed: 11, users: 300, end: T0, days: 90 })];
    people = users.map(personOf);
    const messages = users.flatMap((u) => u.messages);
    for (let i = 0; i < messages.length; i += 400) {
      expect((await t.send('/v1/batch', { batch: messages.slice(i, i + 400) })).status).toBe(200);
    }
  });
  afterAll(async () => t?.close());

  const memberIds = async (id: string): Promise<string[]> => {
    const out: string[] = [];
    let cursor: string | null = null;
    do {
      const r: { status: number; body: { members: { userId: string | null; anonymousId: string | null }[]; nextCursor: string | null } } =
        await t.admin('GET', `/api/segments/${id}/members?limit=97${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      out.push(...r.body.members.map((m) => (m.userId ?? m.anonymousId)!));
      cursor = r.body.nextCursor;
    } while (cursor);
    return out.sort();
  };
  const expected = (f: (p: Person, now: number) => boolean, now: number) => people.filter((p) => f(p, now)).map((p) => p.id).sort();

  it('ingested one profile per generated user', async () => {
    expect(await t.ctx.store.countProfiles('default')).toBe(people.length);
  });

  it('lists the templates with their params and default conditions', async () => {
    const r = await t.admin('GET', '/api/templates');
    expect(r.status).toBe(200);
    const ids = r.body.templates.map((x: { id: string }) => x.id);
    for (const c of CASES) expect(ids).toContain(c.template);
    expect(r.body.templates.filter((x: { recommended: boolean }) => x.recommended).map((x: { id: string }) => x.id).sort()).toEqual(['anonymous', 'known', 'loyal']);
    for (const tpl of r.body.templates) {
      expect(Object.keys(tpl).sort()).toEqual(['category', 'condition', 'description', 'id', 'name', 'params', 'recommended', 'suggestedUse']);
      expect(typeof tpl.condition).toBe('object');
      expect(tpl.condition).not.toEqual({});
      for (const p of tpl.params) expect(p).toHaveProperty('default');
    }
    const hf = r.body.templates.find((x: { id: string }) => x.id === 'high-frequency-visitor');
    expect(hf.params.find((p: { name: string }) => p.name === 'minViews')).toMatchObject({ type: 'integer', default: 5, min: 1 });
    expect(hf.condition).toEqual({ event: '$pageview', where: [{ attr: 'properties.path', op: 'eq', value: '/pricing' }], window: { within: '30d' }, cmp: { op: 'gte', value: 5 } });
    const device = r.body.templates.find((x: { id: string }) => x.id === 'device-type');
    expect(device.params[0]).toMatchObject({ name: 'deviceType', type: 'enum', options: ['mobile', 'tablet', 'desktop'] });
    // The date-dependent default follows the server's clock.
    const seasonal = r.body.templates.find((x: { id: string }) => x.id === 'seasonal-interest');
    expect(seasonal.condition.window).toEqual({ after: '2024-11-01T00:00:00.000Z', before: '2025-01-01T00:00:00.000Z' });
    expect(r.body.sets.map((s: { id: string }) => s.id)).toEqual(['lifecycle-stages']);
    expect(r.body.sets[0].stages.map((s: { name: string }) => s.name)).toEqual(['New', 'Resurrected', 'Active', 'Inactive']);
    expect((await t.app.inject({ method: 'GET', url: '/api/templates' })).statusCode).toBe(401);
    const spec = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/api/templates', '/api/segments/lifecycle']));
  });

  it('gives a segment made from each template exactly the members computed from the generated data', async () => {
    const total = people.length;
    for (const c of CASES) {
      const body = { template: c.template, ...(c.params ? { params: c.params } : {}), ...(c.name ? { name: c.name } : {}) };
      const r = await t.admin('POST', '/api/segments', body);
      expect(r.status, `${c.template}: ${JSON.stringify(r.body)}`).toBe(201);
      expect(r.body.template).toBe(c.template);
      expect(r.body.name).toBe(c.name ?? (await t.admin('GET', '/api/templates')).body.templates.find((x: { id: string }) => x.id === c.template).name);
      const want = expected(c.expect, T0);
      expect(want.length, `${c.name ?? c.template} should match someone`).toBeGreaterThan(0);
      expect(want.length, `${c.name ?? c.template} should not match everyone`).toBeLessThan(total);
      const got = await memberIds(r.body.id);
      expect(got, `${c.name ?? c.template}`).toEqual(want);
      expect(r.body.size).toBe(want.length);
    }
  });

  it('remembers the template and its params, defaults filled in, and edits like any segment', async () => {
    const r = await t.admin('POST', '/api/segments', { template: 'high-frequency-visitor', name: 'Blog readers', description: 'reads the blog', params: { path: '/blog', minViews: 1 } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ name: 'Blog readers', description: 'reads the blog', template: 'high-frequency-visitor', params: { path: '/blog', minViews: 1, window: '30d' } });
    const got = await t.admin('GET', `/api/segments/${r.body.id}`);
    expect(got.body).toMatchObject({ template: 'high-frequency-visitor', params: { path: '/blog', minViews: 1, window: '30d' } });
    const condition = { event: '$pageview', where: [{ attr: 'properties.path', op: 'eq', value: '/blog' }], window: { within: '60d' } };
    const p = await t.admin('PATCH', `/api/segments/${r.body.id}`, { condition, name: 'Blog readers (60d)' });
    expect(p.status).toBe(200);
    expect(p.body.condition).toEqual(condition);
    const want = expected((x, now) => x.acts.some((a) => a.name === '$pageview' && a.props.path === '/blog' && within(a.ts, now, 60 * DAY)), T0);
    expect(want.length).toBeGreaterThan(0);
    expect(await memberIds(r.body.id)).toEqual(want);
    expect((await t.admin('DELETE', `/api/segments/${r.body.id}`)).status).toBe(204);
  });

  it('refuses bad template requests with 400 and the path of each fault', async () => {
    const issues = async (body: unknown) => {
      const r = await t.admin('POST', '/api/segments', body);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_FAILED');
      return r.body.error.issues.map((i: { path: string }) => i.path);
    };
    expect(await issues({ template: 'no-such-template' })).toEqual(['/template']);
    expect(await issues({ template: 'loyal', params: { minPurchases: 'three', colour: 'red' } })).toEqual(['/params/colour', '/params/minPurchases']);
    expect(await issues({ template: 'region-uk', params: { countries: ['GB', 'Britain'] } })).toEqual(['/params/countries/1']);
    expect(await issues({ template: 'seasonal-interest', params: { after: '2024-12-01', before: '2024-11-01' } })).toEqual(['/params/before']);
    expect(await issues({ template: 'loyal', params: [1] })).toEqual(['/params']);
    expect(await issues({ template: 'new', condition: { event: 'x' } })).toEqual(['/template']);
    expect(await issues({ name: 'neither' })).toEqual(['/condition']);
    expect(await issues({ condition: { event: 'x' } })).toEqual(['/name']);
    expect(await issues({ name: 'x', condition: { event: 'x' }, params: { a: 1 } })).toEqual(['/params']);
    expect(await issues({ template: 'new', colour: 'red' })).toEqual(['/colour']);
    // The plain form still works as before.
    expect((await t.admin('POST', '/api/segments', { name: 'Plain', condition: { event: 'purchase' } })).status).toBe(201);
  });

  it('answers 409 when the template name is taken, and takes another name', async () => {
    // Start without a segment of the template's name (an earlier test may have made one).
    for (const s of (await t.admin('GET', '/api/segments')).body.segments) {
      if (s.name === 'Cart abandoners' || s.name === 'Cart abandoners (3d)') expect((await t.admin('DELETE', `/api/segments/${s.id}`)).status).toBe(204);
    }
    const first = await t.admin('POST', '/api/segments', { template: 'cart-abandonment' });
    expect(first.status).toBe(201);
    expect(first.body.name).toBe('Cart abandoners');
    const again = await t.admin('POST', '/api/segments', { template: 'cart-abandonment', params: { window: '3d' } });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/"name"/);
    expect((await t.admin('POST', '/api/segments', { template: 'cart-abandonment', name: 'Cart abandoners (3d)', params: { window: '3d' } })).status).toBe(201);
  });

  it('creates the lifecycle stages all or none, with 400 and 409 naming the fault', async () => {
    const before = (await t.admin('GET', '/api/segments')).body.segments.length;
    const bad = await t.admin('POST', '/api/segments/lifecycle', { params: { activeWindow: 'a week' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues.map((i: { path: string }) => i.path)).toEqual(['/params/activeWindow']);
    const unknown = await t.admin('POST', '/api/segments/lifecycle', { prefix: 'x' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.issues[0].path).toBe('/prefix');
    // A clash on the third name leaves no segment behind.
    expect((await t.admin('POST', '/api/segments', { name: 'Trial: Active', condition: null })).status).toBe(201);
    const clash = await t.admin('POST', '/api/segments/lifecycle', { namePrefix: 'Trial: ' });
    expect(clash.status).toBe(409);
    const names = (await t.admin('GET', '/api/segments')).body.segments.map((s: { name: string }) => s.name);
    expect(names.length).toBe(before + 1);
    expect(names.filter((n: string) => n.startsWith('Trial: '))).toEqual(['Trial: Active']);
  });

  it('partitions every user with activity into exactly one lifecycle stage, now and as time passes', async () => {
    const r = await t.admin('POST', '/api/segments/lifecycle', {});
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const stages: { id: string; name: string; template: string; params: unknown; size: number }[] = r.body.segments;
    expect(stages.map((s) => s.name)).toEqual(['Lifecycle: New', 'Lifecycle: Resurrected', 'Lifecycle: Active', 'Lifecycle: Inactive']);
    expect(stages.map((s) => s.template)).toEqual(['lifecycle-stages/new', 'lifecycle-stages/resurrected', 'lifecycle-stages/active', 'lifecycle-stages/inactive']);
    for (const s of stages) expect(s.params).toEqual({ activeWindow: '7d', gap: '30d' });
    const W = 7 * DAY;
    const oracle: ((p: Person, now: number) => boolean)[] = [
      (p, now) => stage.isNew(p, now),
      (p, now) => !stage.isNew(p, now) && stage.resurrected(p, now),
      (p, now) => activeWithin(p, now, W) && !stage.isNew(p, now) && !stage.resurrected(p, now),
      (p, now) => !stage.isNew(p, now) && !activeWithin(p, now, W),
    ];
    const check = async (now: number, label: string) => {
      const members = await Promise.all(stages.map((s) => memberIds(s.id)));
      const seen = new Map<string, number>();
      for (const m of members) for (const id of m) seen.set(id, (seen.get(id) ?? 0) + 1);
      // Every generated user has activity: each is in exactly one stage.
      expect([...seen.values()].every((n) => n === 1), `${label}: someone is in two stages`).toBe(true);
      expect([...seen.keys()].sort(), `${label}: someone is in no stage`).toEqual(people.map((p) => p.id).sort());
      stages.forEach((s, i) => {
        expect(members[i], `${label}: ${s.name}`).toEqual(expected(oracle[i]!, now));
      });
      return members.map((m) => m.length);
    };
    const sizes = await check(T0, 'at the end of the data');
    expect(sizes.every((n) => n > 0), `every stage is reached: ${sizes.join(', ')}`).toBe(true);
    expect(stages.map((s) => s.size)).toEqual(sizes);
    // Time alone moves users from stage to stage; the partition holds at each step.
    for (const [step, label] of [[3 * DAY + 5 * MINUTE, '3 days later'], [5 * DAY, '8 days later'], [30 * DAY, '38 days later']] as const) {
      t.clock.advance(step);
      await t.ctx.engine.tick();
      await check(t.clock.now(), label);
    }
  });
});
