import { describe, expect, it } from 'vitest';
import { compileCondition, type Evaluator } from './evaluate.ts';
import { parseCondition } from './parse.ts';
import type { Json } from './data.ts';
import {
  buildTemplate, CHINA_COUNTRIES, christmasSeason, EMEA_COUNTRIES, formatDuration, lifecycleSetView, lifecycleStages,
  listTemplates, TEMPLATE_IDS, UK_COUNTRIES, US_COUNTRIES,
} from './templates.ts';

const NOW = Date.UTC(2024, 5, 15, 12);
const regionName = new Intl.DisplayNames(['en'], { type: 'region' });

// Written out here rather than imported, so that the lists in regions.ts are checked against a second source.
const EU_27 = ['AT', 'BE', 'BG', 'HR', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR', 'DE', 'GR', 'HU', 'IE', 'IT', 'LV', 'LT', 'LU', 'MT', 'NL', 'PL', 'PT', 'RO', 'SK', 'SI', 'ES', 'SE'];
const AFRICA_UN = [
  'DZ', 'AO', 'BJ', 'BW', 'BF', 'BI', 'CV', 'CM', 'CF', 'TD', 'KM', 'CG', 'CD', 'CI', 'DJ', 'EG', 'GQ', 'ER', 'SZ', 'ET', 'GA', 'GM',
  'GH', 'GN', 'GW', 'KE', 'LS', 'LR', 'LY', 'MG', 'MW', 'ML', 'MR', 'MU', 'MA', 'MZ', 'NA', 'NE', 'NG', 'RW', 'ST', 'SN', 'SC', 'SL',
  'SO', 'ZA', 'SS', 'SD', 'TZ', 'TG', 'TN', 'UG', 'ZM', 'ZW',
];
const paths = (r: { ok: boolean; issues?: readonly { path: string }[] }) => (r.ok ? [] : r.issues!.map((i) => i.path));

describe('template catalogue', () => {
  const list = listTemplates(NOW);

  it('lists every template with a default condition that parses', () => {
    expect(list.map((t) => t.id)).toEqual([...TEMPLATE_IDS]);
    expect(new Set(TEMPLATE_IDS).size).toBe(TEMPLATE_IDS.length);
    for (const t of list) {
      const r = parseCondition(t.condition);
      expect(r.ok, `${t.id}: ${JSON.stringify(r.ok ? null : r.issues)}`).toBe(true);
      expect(t.name.length).toBeGreaterThan(0);
      expect(t.description.length).toBeGreaterThan(0);
      expect(t.suggestedUse.length).toBeGreaterThan(0);
      // The view is plain JSON: what goes over the wire comes back the same.
      expect(JSON.parse(JSON.stringify(t))).toEqual(t);
      for (const p of t.params) expect(p).not.toHaveProperty('check');
    }
  });

  it('covers the brief: identity, lifecycle, behaviour, regions, device, language, visits, campaign', () => {
    for (const id of ['anonymous', 'known', 'loyal', 'new', 'active', 'resurrected', 'churned', 'vip', 'high-frequency-visitor',
      'cart-abandonment', 'seasonal-interest', 'region-emea', 'region-china', 'region-uk', 'region-us', 'device-type',
      'system-language', 'new-visitor', 'returning-visitor', 'campaign-source']) {
      expect(TEMPLATE_IDS).toContain(id);
    }
  });

  it('recommends exactly three: Anonymous, Known and Loyal', () => {
    expect(list.filter((t) => t.recommended).map((t) => t.id).sort()).toEqual(['anonymous', 'known', 'loyal']);
  });

  it('builds each template from its defaults the same as the list shows, and every variant parses', () => {
    for (const t of list) {
      const b = buildTemplate(t.id, {}, NOW);
      expect(b.ok).toBe(true);
      if (!b.ok) continue;
      expect(b.value.condition).toEqual(t.condition);
      expect(b.value.name).toBe(t.name);
      expect(Object.keys(b.value.params).sort()).toEqual(t.params.map((p) => p.name).sort());
      for (const p of t.params) expect(b.value.params[p.name]).toEqual(p.default);
    }
    for (const deviceType of ['mobile', 'tablet', 'desktop']) {
      const b = buildTemplate('device-type', { deviceType, window: '12h' }, NOW);
      expect(b.ok && parseCondition(b.value.condition).ok).toBe(true);
    }
  });

  it('fills defaults around the given params and puts the params into the condition', () => {
    const b = buildTemplate('high-frequency-visitor', { path: '/blog', minViews: 3 }, NOW);
    expect(b.ok && b.value.params).toEqual({ path: '/blog', minViews: 3, window: '30d' });
    expect(b.ok && b.value.condition).toEqual({
      event: '$pageview', where: [{ attr: 'properties.path', op: 'eq', value: '/blog' }], window: { within: '30d' }, cmp: { op: 'gte', value: 3 },
    });
    const r = buildTemplate('resurrected', { activeWindow: '12h', gap: '2w' }, NOW);
    expect(r.ok && r.value.condition).toEqual({
      all: [
        { event: '*', window: { within: '12h' } },
        { event: '*', window: { from: '348h', to: '12h' }, cmp: { op: 'eq', value: 0 } },
        { attr: 'firstSeen', op: 'more_than_ago', value: '348h' },
      ],
    });
    const lang = buildTemplate('system-language', { language: 'DE' }, NOW);
    expect(lang.ok && lang.value.condition).toEqual({ attr: 'context.locale', op: 'matches', value: '^de([-_]|$)', ignoreCase: true });
  });

  it('reports parameter faults at /params/<name> and unknown templates at /template', () => {
    expect(paths(buildTemplate('nope', {}, NOW))).toEqual(['/template']);
    expect(paths(buildTemplate(42, {}, NOW))).toEqual(['/template']);
    expect(paths(buildTemplate('loyal', { minPurchases: 'three' }, NOW))).toEqual(['/params/minPurchases']);
    expect(paths(buildTemplate('loyal', { minPurchases: 2.5 }, NOW))).toEqual(['/params/minPurchases']);
    expect(paths(buildTemplate('loyal', { minPurchases: 0 }, NOW))).toEqual(['/params/minPurchases']);
    expect(paths(buildTemplate('loyal', { colour: 'red', purchaseWindow: '3y' }, NOW))).toEqual(['/params/colour', '/params/purchaseWindow']);
    expect(paths(buildTemplate('loyal', { minActiveDays: 40 }, NOW))).toEqual(['/params/minActiveDays']);
    expect(paths(buildTemplate('loyal', [], NOW))).toEqual(['/params']);
    expect(paths(buildTemplate('region-uk', { countries: ['GB', 'United Kingdom'] }, NOW))).toEqual(['/params/countries/1']);
    expect(paths(buildTemplate('region-uk', { countries: [] }, NOW))).toEqual(['/params/countries']);
    expect(paths(buildTemplate('region-uk', { countries: 'GB' }, NOW))).toEqual(['/params/countries']);
    expect(paths(buildTemplate('device-type', { deviceType: 'watch' }, NOW))).toEqual(['/params/deviceType']);
    expect(paths(buildTemplate('system-language', { language: 'e' }, NOW))).toEqual(['/params/language']);
    expect(paths(buildTemplate('system-language', { language: 'en-US' }, NOW))).toEqual(['/params/language']);
    expect(paths(buildTemplate('seasonal-interest', { pathPattern: '(a+)+\\' }, NOW))).toEqual(['/params/pathPattern']);
    expect(paths(buildTemplate('seasonal-interest', { after: 'yesterday' }, NOW))).toEqual(['/params/after']);
    expect(paths(buildTemplate('seasonal-interest', { after: '2024-02-01T00:00:00Z', before: '2024-01-01T00:00:00Z' }, NOW))).toEqual(['/params/before']);
    expect(paths(buildTemplate('vip', { planTrait: 'a..b' }, NOW))).toEqual(['/params/planTrait']);
    expect(paths(buildTemplate('vip', { planTrait: '__proto__' }, NOW))).toEqual(['/params/planTrait']);
    expect(paths(buildTemplate('new-visitor', { minVisits: 1 }, NOW))).toEqual(['/params/minVisits']);
    expect(paths(buildTemplate('anonymous', { conversionEvents: ['login', 'a\u0000b'] }, NOW))).toEqual(['/params']);
    // The messages say what is wrong.
    const bad = buildTemplate('loyal', { minPurchases: 'three', colour: 1 }, NOW);
    expect(bad.ok ? [] : bad.issues.map((i) => i.message).join(' ')).toMatch(/unknown parameter "colour".*expected a number/);
  });

  it('derives the seasonal default range from now: the current or last Christmas season', () => {
    expect(christmasSeason(Date.UTC(2024, 5, 15))).toEqual({ after: '2023-11-01T00:00:00.000Z', before: '2024-01-01T00:00:00.000Z' });
    expect(christmasSeason(Date.UTC(2024, 11, 15))).toEqual({ after: '2024-11-01T00:00:00.000Z', before: '2025-01-01T00:00:00.000Z' });
    expect(christmasSeason(Date.UTC(2024, 10, 1))).toEqual({ after: '2024-11-01T00:00:00.000Z', before: '2025-01-01T00:00:00.000Z' });
    const dec = listTemplates(Date.UTC(2024, 11, 15)).find((t) => t.id === 'seasonal-interest')!;
    expect(dec.params.find((p) => p.name === 'after')!.default).toBe('2024-11-01T00:00:00.000Z');
    expect(dec.condition).toMatchObject({ window: { after: '2024-11-01T00:00:00.000Z', before: '2025-01-01T00:00:00.000Z' } });
  });

  it('formats summed windows as valid durations', () => {
    expect(formatDuration(37 * 86_400_000)).toBe('37d');
    expect(formatDuration(36 * 3_600_000)).toBe('36h');
    expect(formatDuration(90 * 60_000)).toBe('90m');
  });
});

describe('identity templates', () => {
  const profile = (userId: string | null) => ({ key: 'k', userId, anonymousId: 'a', traits: {}, context: {}, labels: [], firstSeen: NOW - 1000, lastSeen: NOW - 1000 });
  const ev = (name: string) => ({ name, timestamp: NOW - 1000, properties: {}, context: {} });

  it('makes Anonymous and Known exact complements, for the same params', () => {
    for (const params of [{}, { conversionEvents: ['add_to_cart'] }]) {
      const a = buildTemplate('anonymous', params, NOW);
      const k = buildTemplate('known', params, NOW);
      if (!a.ok || !k.ok) throw new Error('should build');
      const an = parseCondition(a.value.condition), kn = parseCondition(k.value.condition);
      if (!an.ok || !kn.ok) throw new Error('should parse');
      const cases = [
        { p: profile(null), e: [] }, { p: profile('u1'), e: [] }, { p: profile(null), e: [ev('login')] },
        { p: profile(null), e: [ev('add_to_cart')] }, { p: profile(null), e: [ev('$pageview')] }, { p: profile('u2'), e: [ev('purchase')] },
      ];
      let anonymous = 0;
      for (const c of cases) {
        const isA = compileCondition(an.value)(c.p, c.e, NOW);
        const isK = compileCondition(kn.value)(c.p, c.e, NOW);
        expect(isA).toBe(!isK);
        if (isA) anonymous++;
      }
      expect(anonymous).toBeGreaterThan(0);
      expect(anonymous).toBeLessThan(cases.length);
    }
  });
});

describe('region lists', () => {
  it('names only real ISO 3166-1 regions, without duplicates', () => {
    for (const list of [EMEA_COUNTRIES, UK_COUNTRIES, CHINA_COUNTRIES, US_COUNTRIES]) {
      expect(new Set(list).size).toBe(list.length);
      for (const code of list) {
        expect(code).toMatch(/^[A-Z]{2}$/);
        const name = regionName.of(code);
        expect(name, code).not.toBe(code);
        expect(name, code).not.toBe('Unknown Region');
      }
    }
  });

  it('puts all of Europe, the Middle East and Africa into EMEA', () => {
    const emea = new Set(EMEA_COUNTRIES);
    for (const c of EU_27) expect(emea.has(c), c).toBe(true);
    expect(AFRICA_UN.length).toBe(54);
    for (const c of AFRICA_UN) expect(emea.has(c), c).toBe(true);
    for (const c of ['GB', 'CH', 'NO', 'IS', 'LI', 'TR', 'IL', 'SA', 'AE', 'QA', 'IR', 'RU', 'UA', 'AD', 'MC', 'SM', 'VA',
      'AX', 'FO', 'GI', 'GG', 'IM', 'JE', 'SJ', 'EH', 'RE', 'YT', 'SH', 'AM', 'AZ', 'GE']) {
      expect(emea.has(c), c).toBe(true);
    }
    // …and nothing from the Americas or Asia-Pacific.
    for (const c of ['US', 'CA', 'BR', 'MX', 'CN', 'HK', 'TW', 'JP', 'KR', 'IN', 'PK', 'AU', 'NZ', 'SG', 'GP', 'MQ', 'GF']) {
      expect(emea.has(c), c).toBe(false);
    }
  });

  it('keeps the US, China and the UK apart', () => {
    expect(UK_COUNTRIES).toEqual(['GB']);
    expect(CHINA_COUNTRIES).toEqual(['CN']);
    expect(US_COUNTRIES).toContain('US');
    const lists = { US: US_COUNTRIES, CN: CHINA_COUNTRIES, GB: UK_COUNTRIES };
    for (const [code, list] of Object.entries(lists)) {
      for (const [other, otherList] of Object.entries(lists)) if (other !== code) expect(otherList).not.toContain(code);
      expect(list).toContain(code);
    }
  });
});

describe('lifecycle stages set', () => {
  const ids = { new: 'seg_new', resurrected: 'seg_res', active: 'seg_act', inactive: 'seg_ina' };
  const DAY = 86_400_000;

  it('builds four stages in precedence order whose conditions parse against the ones before', () => {
    const r = lifecycleStages({}, ids);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.value.stages.map((s) => s.name)).toEqual(['New', 'Resurrected', 'Active', 'Inactive']);
    expect(r.value.params).toEqual({ activeWindow: '7d', gap: '30d' });
    const seen = new Map<string, Json>();
    for (const s of r.value.stages) {
      expect(parseCondition(s.condition, { segmentCondition: (id) => seen.get(id) }).ok).toBe(true);
      seen.set(ids[s.key], s.condition);
    }
    expect(lifecycleSetView(NOW).stages.map((s) => s.key)).toEqual(['new', 'resurrected', 'active', 'inactive']);
  });

  it('shares a name with a standalone template only where both mean the same window', () => {
    const set = lifecycleSetView(NOW);
    const w = set.params.find((p) => p.name === 'activeWindow')!.default;
    // The churned template waits 30 days by default, the set's last stage only W (7 days): two names.
    expect(listTemplates(NOW).find((t) => t.id === 'churned')!.params.find((p) => p.name === 'inactivity')!.default).not.toEqual(w);
    for (const s of set.stages) {
      const namesake = listTemplates(NOW).find((t) => t.name === `${s.name} users`);
      if (!namesake) continue;
      expect(namesake.id, s.name).toBe(s.key);
      for (const p of namesake.params.filter((x) => x.type === 'duration' && x.name !== 'gap')) expect(p.default, `${namesake.id}.${p.name}`).toEqual(w);
    }
  });

  it('validates its params with paths', () => {
    expect(paths(lifecycleStages({ activeWindow: 'week' }, ids))).toEqual(['/params/activeWindow']);
    expect(paths(lifecycleStages({ gap: '30d', other: 1 }, ids))).toEqual(['/params/other']);
  });

  it('puts every user with activity in exactly one stage (in-memory evaluation over edge cases)', () => {
    const r = lifecycleStages({}, ids);
    if (!r.ok) throw new Error('should build');
    const compiled = new Map<string, Evaluator>();
    const defs = new Map<string, Json>();
    for (const s of r.value.stages) {
      const p = parseCondition(s.condition, { segmentCondition: (id) => defs.get(id) });
      if (!p.ok) throw new Error('should parse');
      compiled.set(ids[s.key], compileCondition(p.value, (id) => compiled.get(id)));
      defs.set(ids[s.key], s.condition);
    }
    // Activity patterns around the window edges: each is a list of event ages in days.
    const histories = [[0], [6.9], [7], [7.1], [8, 1], [40, 2], [37, 3], [36.9, 3], [37.1, 3], [50, 20, 1], [60], [31], [45, 30], [2, 1, 0.5], [10, 9]];
    const byStage = new Map<string, number>();
    for (const ages of histories) {
      const events = ages.map((a) => ({ name: 'x', timestamp: NOW - a * DAY, properties: {}, context: {} }));
      const times = events.map((e) => e.timestamp);
      const profile = { key: 'k', userId: 'u', anonymousId: null, traits: {}, context: {}, labels: [], firstSeen: Math.min(...times), lastSeen: Math.max(...times) };
      const inStages = r.value.stages.filter((s) => compiled.get(ids[s.key])!(profile, events, NOW)).map((s) => s.name);
      expect(inStages.length, `ages ${ages.join(',')}: ${inStages.join(', ')}`).toBe(1);
      byStage.set(inStages[0]!, (byStage.get(inStages[0]!) ?? 0) + 1);
    }
    // The histories reach every stage, so the check above is not vacuous.
    expect([...byStage.keys()].sort()).toEqual(['Active', 'Inactive', 'New', 'Resurrected']);
  });
});
