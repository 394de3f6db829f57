import { describe, it, expect } from 'vitest';
import {
  COUNTRY_BY_CODE,
  DAY,
  REGION_COUNTRIES,
  TRACK_EVENTS,
  generateBatches,
  generateMessages,
  generateUser,
  generateUsers,
  userIdFor,
  type GenerateOptions,
  type GeneratedUser,
  type SegmentMessage,
} from './index.ts';

const END = Date.UTC(2025, 11, 15, 12, 0, 0);
const BASE: GenerateOptions = { seed: 20250101, users: 10_000, end: END };
const ALL: GeneratedUser[] = [...generateUsers(BASE)];

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const ts = (m: SegmentMessage): number => Date.parse(m.timestamp);
const obj = (v: unknown): Record<string, unknown> => v as Record<string, unknown>;
const PAGE_PATH =
  /^\/(|pricing|products|products\/p\d{4}|cart|checkout|blog|blog\/[a-z0-9-]+|seasonal\/christmas|seasonal\/summer-sale|search|contact|account)$/;

/** Everything wrong with one message's shape (empty when it is a valid Segment call). */
function messageProblems(m: SegmentMessage): string[] {
  const out: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (!ok) out.push(what);
  };
  check(['identify', 'track', 'page', 'screen'].includes(m.type), 'type');
  check(typeof m.messageId === 'string' && m.messageId.length > 0, 'messageId');
  check(typeof m.anonymousId === 'string' && m.anonymousId.length > 0, 'anonymousId');
  check(typeof m.timestamp === 'string' && ISO.test(m.timestamp), 'timestamp');
  check(m.userId === undefined || typeof m.userId === 'string', 'userId');
  const c = m.context;
  check(typeof c === 'object' && c !== null, 'context');
  check(typeof c.locale === 'string' && /^[a-z]{2,3}-[A-Z]{2}$/.test(c.locale as string), 'context.locale');
  check(typeof c.timezone === 'string' && (c.timezone as string).includes('/'), 'context.timezone');
  check(typeof c.userAgent === 'string', 'context.userAgent');
  check(typeof c.ip === 'string' && /^\d+\.\d+\.\d+\.\d+$/.test(c.ip as string), 'context.ip');
  check(['desktop', 'mobile', 'tablet'].includes(obj(c.device).type as string), 'context.device.type');
  check(typeof obj(c.os).name === 'string' && typeof obj(c.os).version === 'string', 'context.os');
  check(typeof obj(c.screen).width === 'number' && typeof obj(c.screen).height === 'number', 'context.screen');
  check(typeof obj(c.location).country === 'string' && typeof obj(c.location).city === 'string', 'context.location');
  check(typeof obj(c.library).name === 'string' && typeof obj(c.library).version === 'string', 'context.library');
  if (c.campaign !== undefined) {
    const k = obj(c.campaign);
    check(typeof k.source === 'string' && typeof k.medium === 'string' && typeof k.name === 'string', 'context.campaign');
  }
  const web = obj(c.library).name === 'analytics.js';
  if (web) {
    const page = obj(c.page);
    check(PAGE_PATH.test(page.path as string), `context.page.path ${String(page.path)}`);
    check(String(page.url).startsWith('https://shop.example.com/'), 'context.page.url');
    check(typeof page.title === 'string' && typeof page.referrer === 'string' && typeof page.search === 'string', 'context.page');
    check(typeof obj(c.browser).name === 'string', 'context.browser');
  } else {
    check(c.page === undefined && typeof obj(c.app).version === 'string', 'context.app');
  }
  switch (m.type) {
    case 'track':
      check((TRACK_EVENTS as readonly string[]).includes(m.event as string), `event ${String(m.event)}`);
      check(typeof m.properties === 'object', 'track properties');
      check(m.name === undefined && m.traits === undefined, 'track extras');
      break;
    case 'page': {
      check(web, 'page from the app');
      check(typeof m.name === 'string', 'page name');
      const p = obj(m.properties);
      check(Object.keys(p).sort().join() === 'path,referrer,search,title,url', 'page properties keys');
      for (const k of ['path', 'url', 'title', 'referrer', 'search']) check(p[k] === obj(c.page)[k], `page property ${k}`);
      break;
    }
    case 'screen':
      check(!web && typeof m.name === 'string' && typeof m.properties === 'object', 'screen');
      break;
    case 'identify':
      check(typeof m.userId === 'string' && typeof m.traits === 'object', 'identify');
      break;
  }
  return out;
}

describe('determinism', () => {
  it('produces byte-identical output for the same options', () => {
    const opts = { ...BASE, users: 500 };
    const a = JSON.stringify([...generateUsers(opts)]);
    const b = JSON.stringify([...generateUsers(opts)]);
    expect(a).toBe(b);
    expect(JSON.stringify(ALL.slice(0, 500))).toBe(a); // a prefix does not depend on `users`
  });

  it('differs between seeds', () => {
    const a = [...generateUsers({ ...BASE, users: 50 })];
    const b = [...generateUsers({ ...BASE, seed: BASE.seed + 1, users: 50 })];
    expect(JSON.stringify(a)).not.toBe(JSON.stringify(b));
    expect(a[0].anonymousId).not.toBe(b[0].anonymousId);
    expect(a[0].messages[0].messageId).not.toBe(b[0].messages[0].messageId);
  });

  it('gives random access by index that matches the stream', () => {
    for (const i of [0, 1, 777, 9_999]) expect(generateUser(BASE, i)).toEqual(ALL[i]);
  });

  it('generateMessages yields every message of every user in order', () => {
    const opts = { ...BASE, users: 200 };
    expect([...generateMessages(opts)]).toEqual(ALL.slice(0, 200).flatMap((u) => u.messages));
  });
});

describe('time', () => {
  it('keeps timestamps within [end − days, end], ISO formatted and sorted per user', () => {
    const lo = END - 90 * DAY;
    const problems: string[] = [];
    for (const u of ALL) {
      let prev = -Infinity;
      for (const m of u.messages) {
        const t = ts(m);
        if (!ISO.test(m.timestamp) || new Date(t).toISOString() !== m.timestamp) problems.push(`${u.index}: format ${m.timestamp}`);
        if (t < lo || t > END) problems.push(`${u.index}: out of range ${m.timestamp}`);
        if (t < prev) problems.push(`${u.index}: not sorted at ${m.timestamp}`);
        prev = t;
      }
      if (u.meta.firstSeen !== ts(u.messages[0]) || u.meta.lastSeen !== prev) problems.push(`${u.index}: meta first/last seen`);
    }
    expect(problems.slice(0, 10)).toEqual([]);
  });

  it('honours other windows, non-integer ends and small means', () => {
    for (const opts of [
      { seed: 1, users: 2_000, end: END + 0.7, days: 3, eventsPerUser: 1 },
      { seed: 2, users: 2_000, end: END, days: 40, eventsPerUser: 3 },
      { seed: 3, users: 500, end: END, days: 365, eventsPerUser: 40 },
    ]) {
      const lo = Math.floor(opts.end) - opts.days * DAY;
      for (const u of generateUsers(opts)) {
        expect(u.messages.length).toBeGreaterThan(0);
        let prev = -Infinity;
        for (const m of u.messages) {
          const t = ts(m);
          expect(t).toBeGreaterThanOrEqual(lo);
          expect(t).toBeLessThanOrEqual(opts.end);
          expect(t).toBeGreaterThanOrEqual(prev);
          prev = t;
        }
      }
    }
  });

  it('clusters events into visits: seconds to minutes inside, 30+ minutes between', () => {
    let inside = 0;
    let between = 0;
    for (const u of ALL.slice(0, 3_000)) {
      for (let i = 1; i < u.messages.length; i++) {
        const gap = ts(u.messages[i]) - ts(u.messages[i - 1]);
        if (gap <= 10 * 60_000) inside++;
        else if (gap > 30 * 60_000) between++;
        else throw new Error(`gap of ${gap} ms is neither inside a visit nor between visits (user ${u.index})`);
      }
    }
    expect(inside).toBeGreaterThan(between * 2);
    expect(between).toBeGreaterThan(1_000);
  });

  it('generates the intended lifecycles', () => {
    const by = (l: string) => ALL.filter((u) => u.meta.lifecycle === l);
    for (const l of ['new', 'active', 'churned', 'resurrected']) expect(by(l).length).toBeGreaterThan(200);
    for (const u of by('new')) expect(u.meta.firstSeen).toBeGreaterThanOrEqual(END - 7 * DAY);
    for (const u of by('churned')) expect(u.meta.lastSeen).toBeLessThanOrEqual(END - 30 * DAY);
    for (const u of by('resurrected')) {
      const times = u.messages.map(ts);
      expect(times[times.length - 1]).toBeGreaterThan(END - 7 * DAY);
      expect(times.some((t) => t <= END - 37 * DAY)).toBe(true);
      expect(times.some((t) => t > END - 37 * DAY && t <= END - 7 * DAY)).toBe(false);
    }
    const firstDays = new Set(ALL.map((u) => Math.floor((END - u.meta.firstSeen) / DAY)));
    expect(firstDays.size).toBeGreaterThan(80); // first visits spread over the whole 90 days
  });
});

describe('users', () => {
  it('has ~65% known and ~35% anonymous users', () => {
    const known = ALL.filter((u) => u.userId !== null).length / ALL.length;
    expect(known).toBeGreaterThan(0.62);
    expect(known).toBeLessThan(0.68);
  });

  it('identifies known users at or after their first visit and not before', () => {
    for (const u of ALL) {
      const first = u.messages.findIndex((m) => m.type === 'identify');
      if (u.userId === null) {
        expect(first).toBe(-1);
        for (const m of u.messages) {
          expect(m.userId).toBeUndefined();
          expect(['purchase', 'login', 'signed_up', 'inquiry']).not.toContain(m.event);
        }
        continue;
      }
      expect(u.userId).toBe(userIdFor(u.index));
      expect(u.userId).toMatch(/^u\d{6,}$/);
      expect(first).toBeGreaterThanOrEqual(0);
      u.messages.forEach((m, i) => {
        if (i < first) expect(m.userId).toBeUndefined();
        else expect(m.userId).toBe(u.userId);
        expect(m.anonymousId).toBe(u.anonymousId);
      });
      const traits = obj(u.messages[first].traits);
      expect(traits.email).toMatch(/^[a-z]+\.[a-z]+\d+@[a-z.]+$/);
      expect(typeof traits.name).toBe('string');
      expect(['free', 'basic', 'pro', 'vip']).toContain(traits.plan);
      expect(String(traits.createdAt)).toMatch(ISO);
      expect(Date.parse(String(traits.createdAt))).toBeLessThanOrEqual(ts(u.messages[first]));
      const later = u.messages.slice(first).filter((m) => m.type === 'identify');
      expect(obj(later[later.length - 1].traits).plan).toBe(u.meta.plan);
    }
    expect(userIdFor(123)).toBe('u000123');
  });

  it('has ~3% vip among known users and no labels', () => {
    const known = ALL.filter((u) => u.userId !== null);
    const vip = known.filter((u) => u.meta.plan === 'vip').length / known.length;
    expect(vip).toBeGreaterThan(0.015);
    expect(vip).toBeLessThan(0.05);
    for (const u of ALL.slice(0, 2_000))
      for (const m of u.messages) if (m.traits) expect(m.traits).not.toHaveProperty('labels');
  });

  it('uses deterministic, unique uuid-like anonymous ids and message ids', () => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const anon = new Set<string>();
    const ids = new Set<string>();
    let n = 0;
    for (const u of ALL) {
      expect(u.anonymousId).toMatch(uuid);
      anon.add(u.anonymousId);
      for (const m of u.messages) {
        ids.add(m.messageId);
        n++;
      }
    }
    expect(anon.size).toBe(ALL.length);
    expect(ids.size).toBe(n);
    expect(ALL[0].messages[0].messageId).toMatch(uuid);
  });

  it('averages the requested number of messages per user, heavy-tailed', () => {
    for (const [mean, users] of [
      [10, 10_000],
      [4, 10_000],
      [25, 4_000],
    ] as const) {
      const list = mean === 10 ? ALL : [...generateUsers({ seed: mean, users, end: END, eventsPerUser: mean })];
      const counts = list.map((u) => u.messages.length).sort((a, b) => a - b);
      const avg = counts.reduce((s, c) => s + c, 0) / counts.length;
      expect(Math.abs(avg - mean) / mean).toBeLessThan(0.15);
      expect(counts[counts.length >> 1]).toBeLessThan(mean); // most users have few…
      expect(counts[counts.length - 1]).toBeGreaterThan(5 * mean); // …some have many
    }
  });
});

describe('messages', () => {
  it('carry the required Segment fields', () => {
    const types = new Set<string>();
    const problems: string[] = [];
    for (const u of ALL) {
      for (const m of u.messages) {
        types.add(m.type);
        problems.push(...messageProblems(m).map((p) => `user ${u.index} ${m.messageId}: ${p}`));
        if (problems.length > 20) break;
      }
    }
    expect(problems).toEqual([]);
    expect([...types].sort()).toEqual(['identify', 'page', 'screen', 'track']);
  });

  it('satisfy every invariant for other seeds and options too', () => {
    const problems: string[] = [];
    for (const opts of [
      { seed: 11, users: 2_000, end: END },
      { seed: -3.5, users: 2_000, end: END - 1234.5, days: 60, eventsPerUser: 6 },
      { seed: 2 ** 33 + 5, users: 1_000, end: Date.UTC(2025, 6, 1), days: 120, eventsPerUser: 20 },
      { seed: 99, users: 1_000, end: END, days: 10, eventsPerUser: 8 },
    ]) {
      const lo = Math.floor(opts.end) - (opts.days ?? 90) * DAY;
      for (const u of generateUsers(opts)) {
        let prev = -Infinity;
        let identified = false;
        for (const m of u.messages) {
          const t = ts(m);
          if (!(t >= lo && t <= opts.end && t >= prev)) problems.push(`seed ${opts.seed} user ${u.index}: time ${m.timestamp}`);
          if (prev > -Infinity) {
            const gap = t - prev;
            if (gap > 10 * 60_000 && gap <= 30 * 60_000) problems.push(`seed ${opts.seed} user ${u.index}: gap ${gap}`);
          }
          prev = t;
          if (m.type === 'identify') identified = true;
          if ((m.userId !== undefined) !== identified) problems.push(`seed ${opts.seed} user ${u.index}: userId before identify`);
          for (const p of messageProblems(m)) problems.push(`seed ${opts.seed} user ${u.index}: ${p}`);
        }
        if ((u.userId !== null) !== identified) problems.push(`seed ${opts.seed} user ${u.index}: known/identify mismatch`);
        if (problems.length > 20) break;
      }
    }
    expect(problems).toEqual([]);
  });

  it('uses every track event and the documented pages', () => {
    const events = new Set<string>();
    const paths = new Set<string>();
    for (const u of ALL)
      for (const m of u.messages) {
        if (m.event) events.add(m.event);
        if (m.type === 'page') paths.add(String(obj(m.properties).path).replace(/^\/(products|blog)\/.+$/, '/$1/*'));
      }
    expect([...events].sort()).toEqual([...TRACK_EVENTS].sort());
    for (const p of ['/', '/pricing', '/products/*', '/cart', '/checkout', '/blog/*', '/seasonal/christmas', '/seasonal/summer-sale'])
      expect(paths).toContain(p);
  });

  it('puts utm campaigns only on the first message of a visit', () => {
    let campaigns = 0;
    for (const u of ALL.slice(0, 3_000)) {
      u.messages.forEach((m, i) => {
        const campaign = m.context.campaign as Record<string, unknown> | undefined;
        if (!campaign) return;
        campaigns++;
        expect(typeof campaign.source).toBe('string');
        expect(typeof campaign.medium).toBe('string');
        expect(typeof campaign.name).toBe('string');
        if (i > 0) expect(ts(m) - ts(u.messages[i - 1])).toBeGreaterThan(30 * 60_000);
        if (m.type === 'page') expect(String(obj(m.properties).search)).toContain('utm_source=');
      });
    }
    expect(campaigns).toBeGreaterThan(1_000);
  });

  it('models shopping: carts, abandonment, purchases with exact revenue, heavy buyers', () => {
    let abandoners = 0;
    let purchasers = 0;
    let big = 0;
    const orders = new Set<string>();
    for (const u of ALL) {
      let cart = false;
      let bought = false;
      let revenue = 0;
      for (const m of u.messages) {
        if (m.event === 'add_to_cart') cart = true;
        if (m.event !== 'purchase') continue;
        bought = true;
        const p = obj(m.properties);
        expect(m.userId).toBe(u.userId);
        expect(['USD', 'EUR', 'GBP']).toContain(p.currency);
        expect(typeof p.orderId).toBe('string');
        expect(orders.has(String(p.orderId))).toBe(false);
        orders.add(String(p.orderId));
        const r = p.revenue as number;
        expect(Math.round(r * 100) / 100).toBe(r);
        const items = p.items as { price: number; quantity: number }[];
        expect(items.length).toBeGreaterThan(0);
        expect(Math.round(items.reduce((s, i) => s + Math.round(i.price * 100) * i.quantity, 0)) / 100).toBe(r);
        revenue += r;
      }
      expect(Math.abs(revenue - u.meta.revenue)).toBeLessThan(0.005);
      if (cart && !bought) abandoners++;
      if (bought) purchasers++;
      if (u.meta.revenue >= 500) big++;
    }
    expect(abandoners).toBeGreaterThan(300);
    expect(purchasers).toBeGreaterThan(150);
    expect(big).toBeGreaterThan(10);
  });

  it('has a page viewed 5+ times in 30 days by some users, and seasonal interest', () => {
    let frequent = 0;
    let seasonal = 0;
    for (const u of ALL) {
      const counts = new Map<string, number>();
      let s = false;
      for (const m of u.messages) {
        if (m.type !== 'page' || ts(m) <= END - 30 * DAY) continue;
        const path = String(obj(m.properties).path);
        counts.set(path, (counts.get(path) ?? 0) + 1);
        if (path.startsWith('/seasonal/')) s = true;
      }
      if ([...counts.values()].some((c) => c >= 5)) frequent++;
      if (s) seasonal++;
    }
    expect(frequent).toBeGreaterThan(50);
    expect(seasonal).toBeGreaterThan(100);
  });
});

describe('geography and devices', () => {
  it('mixes countries across EMEA, Asia and the Americas, heavy on US / GB / CN / DE', () => {
    const counts = new Map<string, number>();
    for (const u of ALL) counts.set(u.meta.country, (counts.get(u.meta.country) ?? 0) + 1);
    for (const c of ['US', 'GB', 'CN', 'DE', 'FR', 'ES', 'IT', 'NL', 'SE', 'PL', 'AE', 'SA', 'ZA', 'NG', 'EG', 'TR', 'JP', 'IN', 'KR', 'SG', 'ID', 'CA', 'BR', 'MX', 'AR'])
      expect(counts.get(c) ?? 0).toBeGreaterThan(0);
    const top = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([c]) => c).sort();
    expect(top).toEqual(['CN', 'DE', 'GB', 'US']);
    const emea = ALL.filter((u) => REGION_COUNTRIES.EMEA.includes(u.meta.country)).length / ALL.length;
    expect(emea).toBeGreaterThan(0.3);
    expect(emea).toBeLessThan(0.5);
  });

  it('keeps locale, timezone, city and region consistent with the country', () => {
    for (const u of ALL) {
      const info = COUNTRY_BY_CODE.get(u.meta.country)!;
      expect(info.region).toBe(u.meta.region);
      const c = u.messages[0].context;
      expect(obj(c.location).country).toBe(u.meta.country);
      expect(info.locales.map(([l]) => l)).toContain(c.locale);
      const city = info.cities.find(([name]) => name === obj(c.location).city);
      expect(city).toBeDefined();
      expect(city![1]).toBe(c.timezone);
    }
  });

  it('pairs device types with matching os, browser and user agent', () => {
    const seen = new Set<string>();
    for (const u of ALL) {
      const c = u.messages[0].context;
      const type = obj(c.device).type as string;
      const os = obj(c.os).name as string;
      const ua = c.userAgent as string;
      seen.add(`${type}/${os}`);
      expect(type).toBe(u.meta.deviceType);
      if (type === 'desktop') expect(['Windows', 'macOS', 'Linux']).toContain(os);
      else expect(['iOS', 'Android']).toContain(os);
      const token = { Windows: 'Windows NT', macOS: 'Mac OS X', Linux: 'Linux', iOS: type === 'tablet' ? 'iPad' : 'iPhone', Android: 'Android' }[os]!;
      expect(ua).toContain(token);
      if (u.meta.app) expect(c.browser).toBeUndefined();
      else expect(typeof obj(c.browser).name).toBe('string');
    }
    for (const k of ['desktop/Windows', 'desktop/macOS', 'desktop/Linux', 'mobile/iOS', 'mobile/Android', 'tablet/iOS', 'tablet/Android'])
      expect(seen).toContain(k);
  });
});

describe('batches', () => {
  it('chunks consecutive users into batches of at most batchSize, in order', () => {
    const opts = { ...BASE, users: 1_000 };
    const flat = ALL.slice(0, 1_000).flatMap((u) => u.messages);
    for (const size of [1, 7, 100, 500, 2_500]) {
      const batches = [...generateBatches(opts, size)];
      batches.forEach((b, i) => {
        expect(b.length).toBeGreaterThan(0);
        expect(b.length).toBeLessThanOrEqual(size);
        if (i < batches.length - 1) expect(b.length).toBe(size);
      });
      const joined = batches.flat();
      expect(joined.length).toBe(flat.length);
      expect(joined.map((m) => m.messageId)).toEqual(flat.map((m) => m.messageId));
    }
    expect([...generateBatches({ ...BASE, users: 0 }, 10)]).toEqual([]);
  });

  it('rejects bad options', () => {
    expect(() => [...generateBatches(BASE, 0)]).toThrow(RangeError);
    expect(() => [...generateUsers({ ...BASE, users: -1 })]).toThrow(RangeError);
    expect(() => [...generateUsers({ ...BASE, seed: Number.NaN })]).toThrow(RangeError);
    expect(() => [...generateUsers({ ...BASE, end: Number.POSITIVE_INFINITY })]).toThrow(RangeError);
    expect(() => [...generateUsers({ ...BASE, days: 0 })]).toThrow(RangeError);
    expect(() => [...generateUsers({ ...BASE, eventsPerUser: 0.5 })]).toThrow(RangeError);
    expect(() => generateUser(BASE, -1)).toThrow(RangeError);
  });
});

describe('ids', () => {
  it('gives every user and every message an id no other has', () => {
    const anon = new Set<string>();
    const msgs = new Set<string>();
    let messages = 0;
    for (const u of generateUsers({ seed: 5, users: 20_000, end: Date.UTC(2025, 0, 1) })) {
      anon.add(u.anonymousId);
      for (const m of u.messages) { msgs.add(m.messageId); messages++; }
    }
    expect(anon.size).toBe(20_000);
    expect(msgs.size).toBe(messages);
  });
});
