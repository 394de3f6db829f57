/**
 * Segment templates (docs/templates.md, docs/reference.md §4.2): ready-made conditions with typed, validated parameters,
 * and the lifecycle-stages set, whose four segments partition every user with activity.
 * docs/templates.md is the catalogue and records the decisions taken here.
 */
import { isoTime as iso } from './values.ts';
import type { Json } from './data.ts';
import { DAY_MS, parseDuration } from './duration.ts';
import { parseCondition, type Issue, type Result } from './parse.ts';
import { checkPattern } from './regex.ts';
import { CHINA_COUNTRIES, EMEA_COUNTRIES, UK_COUNTRIES, US_COUNTRIES } from './regions.ts';
import { isPlainObject, parseIsoTime } from './values.ts';

export * from './regions.ts';

export type TemplateCategory = 'identity' | 'lifecycle' | 'behaviour' | 'region' | 'technology' | 'visits' | 'acquisition';

export type ParamValue = string | number | readonly string[];

interface ParamBase {
  /** Key in `params`. */
  readonly name: string;
  /** Form label. */
  readonly label: string;
  readonly description?: string;
}

/** A template parameter: its type, default and constraints (all JSON). */
export type TemplateParam = ParamBase & (
  | { readonly type: 'string'; readonly default: string; readonly minLength: number; readonly maxLength: number; readonly pattern?: string }
  | { readonly type: 'number' | 'integer'; readonly default: number; readonly min?: number; readonly max?: number }
  | { readonly type: 'duration'; readonly default: string; readonly min?: string; readonly max?: string }
  | { readonly type: 'string[]'; readonly default: readonly string[]; readonly minItems: number; readonly maxItems: number; readonly itemPattern?: string }
  | { readonly type: 'date'; readonly default: string }
  | { readonly type: 'enum'; readonly default: string; readonly options: readonly string[] }
);

/** A parameter as defined here: its default may depend on the date, and it may carry an extra check. */
type ParamDef = DistributiveWithout<TemplateParam, 'default'> & {
  readonly default: ParamValue | ((now: number) => ParamValue);
  /** A further check of a well-typed value: a message, or null. */
  readonly check?: (value: ParamValue) => string | null;
};
type DistributiveWithout<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Validated parameter values, read by name. */
class Values {
  constructor(readonly raw: Readonly<Record<string, ParamValue>>) {}
  str(k: string): string {
    const v = this.raw[k];
    if (typeof v !== 'string') throw new Error(`template parameter ${k} is not a string`);
    return v;
  }
  num(k: string): number {
    const v = this.raw[k];
    if (typeof v !== 'number') throw new Error(`template parameter ${k} is not a number`);
    return v;
  }
  list(k: string): string[] {
    const v = this.raw[k];
    if (!Array.isArray(v)) throw new Error(`template parameter ${k} is not a list`);
    return [...v];
  }
  ms(k: string): number {
    return parseDuration(this.str(k))!;
  }
}

interface TemplateDef {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly suggestedUse: string;
  readonly recommended: boolean;
  readonly category: TemplateCategory;
  readonly params: readonly ParamDef[];
  /** Checks between parameters, as issues at `/params/<name>`. */
  readonly check?: (v: Values) => Issue[];
  readonly condition: (v: Values) => Json;
}

/** What `GET /api/templates` lists. */
export interface TemplateView {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly suggestedUse: string;
  readonly recommended: boolean;
  readonly category: TemplateCategory;
  readonly params: readonly TemplateParam[];
  /** The condition the defaults produce. */
  readonly condition: Json;
}

export interface BuiltTemplate {
  readonly condition: Json;
  /** Every parameter, defaults filled in. */
  readonly params: { readonly [name: string]: Json };
  readonly name: string;
  readonly description: string;
}

// ------------------------------------------------------------------ durations and checks

const UNITS: readonly (readonly [string, number])[] = [['d', DAY_MS], ['h', 3_600_000], ['m', 60_000]];

/** A Duration string for a whole number of minutes, in the largest unit that divides it. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of UNITS) if (ms % size === 0 && ms / size <= 999_999) return `${ms / size}${unit}`;
  throw new RangeError(`${ms} ms is not a whole number of minutes up to 999999 days`);
}

const EVENT_NAME = /^.{1,200}$/su;
/** A dot path into traits or properties, written the way conditions take it. */
const KEY_PATH = '^[A-Za-z0-9_$-]+(\\.[A-Za-z0-9_$-]+){0,7}$';
const FORBIDDEN_KEYS = new Set(['__proto__', 'prototype', 'constructor']);
const checkKeyPath = (v: ParamValue) =>
  String(v).split('.').some((k) => FORBIDDEN_KEYS.has(k)) ? `"${String(v)}" is not allowed in a path` : null;
const checkRegex = (v: ParamValue) => {
  const fault = checkPattern(String(v));
  return fault ? `unsupported regular expression: ${fault}` : null;
};

const MAX_WINDOW = '3650d';
const duration = (name: string, label: string, dflt: string, description?: string): ParamDef =>
  ({ name, label, type: 'duration', default: dflt, min: '1m', max: MAX_WINDOW, ...(description ? { description } : {}) });
const eventName = (name: string, label: string, dflt: string): ParamDef =>
  ({ name, label, type: 'string', default: dflt, minLength: 1, maxLength: 200 });
const integer = (name: string, label: string, dflt: number, min: number, max: number, description?: string): ParamDef =>
  ({ name, label, type: 'integer', default: dflt, min, max, ...(description ? { description } : {}) });

/** A `within` window is the last `window`; it can hold events on at most this many UTC days. */
const maxDaysIn = (windowMs: number) => Math.ceil(windowMs / DAY_MS) + 1;

// ------------------------------------------------------------------ the conditions

const DEFAULT_CONVERSIONS = ['signed_up', 'login', 'purchase', 'inquiry'];

/** Known: has a userId, or performed a conversion event. */
const knownCondition = (v: Values): Json => ({
  any: [{ attr: 'known', op: 'eq', value: true }, ...v.list('conversionEvents').map((e): Json => ({ event: e }))],
});

/** The exact complement of knownCondition (De Morgan, with `neq` true on a missing value). */
const anonymousCondition = (v: Values): Json => ({
  all: [
    { attr: 'known', op: 'neq', value: true },
    ...v.list('conversionEvents').map((e): Json => ({ event: e, cmp: { op: 'eq', value: 0 } })),
  ],
});

const all = (...children: Json[]): Json => ({ all: children });
const any = (...children: Json[]): Json => ({ any: children });

const newCondition = (window: string): Json => ({ attr: 'firstSeen', op: 'within_last', value: window });
const activeWithin = (window: string): Json => ({ event: '*', window: { within: window } });
const inactiveWithin = (window: string): Json => ({ event: '*', window: { within: window }, cmp: { op: 'eq', value: 0 } });

/** The resurrected form of docs/templates.md: active in the window, silent for `gap` before it, seen before that. */
const resurrectedParts = (window: string, windowMs: number, gapMs: number): Json[] => {
  const before = formatDuration(windowMs + gapMs);
  return [
    activeWithin(window),
    { event: '*', window: { from: before, to: window }, cmp: { op: 'eq', value: 0 } },
    { attr: 'firstSeen', op: 'more_than_ago', value: before },
  ];
};

const countriesParam = (dflt: readonly string[], label: string): ParamDef => ({
  name: 'countries', label, type: 'string[]', default: dflt, minItems: 1, maxItems: 300, itemPattern: '^[A-Za-z]{2}$',
  description: 'ISO 3166-1 alpha-2 codes, matched against context.location.country without regard to case',
});
const regionCondition = (v: Values): Json => ({ attr: 'context.location.country', op: 'in', value: v.list('countries'), ignoreCase: true });


/** The Christmas season running now or, before November, last year's: 1 November to 1 January. */
export function christmasSeason(now: number): { after: string; before: string } {
  const year = new Date(now).getUTCFullYear();
  const y = now >= Date.UTC(year, 10, 1) ? year : year - 1;
  return { after: iso(Date.UTC(y, 10, 1)), before: iso(Date.UTC(y + 1, 0, 1)) };
}

const TEMPLATES: readonly TemplateDef[] = [
  {
    id: 'anonymous', name: 'Anonymous users', category: 'identity', recommended: true,
    description: 'Users without a userId who have not performed any conversion event (sign-up, login, purchase, inquiry) yet. The exact complement of Known users.',
    suggestedUse: 'sign-up incentives: a first-visit bonus for creating an account',
    params: [{ name: 'conversionEvents', label: 'Conversion events', type: 'string[]', default: DEFAULT_CONVERSIONS, minItems: 1, maxItems: 50, itemPattern: EVENT_NAME.source }],
    condition: anonymousCondition,
  },
  {
    id: 'known', name: 'Known users', category: 'identity', recommended: true,
    description: 'Users with a userId, or who performed a conversion event (sign-up, login, purchase, inquiry). The exact complement of Anonymous users.',
    suggestedUse: 'member missions and bonus-shop rewards for account holders',
    params: [{ name: 'conversionEvents', label: 'Conversion events', type: 'string[]', default: DEFAULT_CONVERSIONS, minItems: 1, maxItems: 50, itemPattern: EVENT_NAME.source }],
    condition: knownCondition,
  },
  {
    id: 'loyal', name: 'Loyal users', category: 'lifecycle', recommended: true,
    description: 'Users who purchased at least 3 times in 90 days, or were active on at least 10 distinct days in the last 30.',
    suggestedUse: 'loyalty tiers: exclusive bonus-shop rewards, streak missions and VIP experiences',
    params: [
      eventName('purchaseEvent', 'Purchase event', 'purchase'),
      integer('minPurchases', 'Purchases at least', 3, 1, 100_000),
      duration('purchaseWindow', 'Purchases within', '90d'),
      integer('minActiveDays', 'Active days at least', 10, 1, 3651, 'Distinct UTC days with any event of the user'),
      duration('activeDaysWindow', 'Active days within', '30d'),
    ],
    check: (v) => v.num('minActiveDays') > maxDaysIn(v.ms('activeDaysWindow'))
      ? [{ path: '/params/minActiveDays', message: `${v.num('minActiveDays')} active days can never fit in ${v.str('activeDaysWindow')} (at most ${maxDaysIn(v.ms('activeDaysWindow'))})` }]
      : [],
    condition: (v) => any(
      { event: v.str('purchaseEvent'), window: { within: v.str('purchaseWindow') }, cmp: { op: 'gte', value: v.num('minPurchases') } },
      { event: '*', window: { within: v.str('activeDaysWindow') }, agg: { fn: 'distinctDays' }, cmp: { op: 'gte', value: v.num('minActiveDays') } },
    ),
  },
  {
    id: 'new', name: 'New users', category: 'lifecycle', recommended: false,
    description: 'Users first seen within the last 7 days.',
    suggestedUse: 'welcome quests with quick wins',
    params: [duration('window', 'First seen within', '7d')],
    condition: (v) => newCondition(v.str('window')),
  },
  {
    id: 'active', name: 'Active users', category: 'lifecycle', recommended: false,
    description: 'Users with any activity within the last 7 days, except New users.',
    suggestedUse: 'streak missions and weekly challenges',
    params: [duration('activeWindow', 'Active within', '7d'), duration('newWindow', 'Not first seen within (New)', '7d')],
    condition: (v) => ({ all: [activeWithin(v.str('activeWindow')), { not: newCondition(v.str('newWindow')) }] }),
  },
  {
    id: 'resurrected', name: 'Resurrected users', category: 'lifecycle', recommended: false,
    description: 'Users active within the last 7 days after at least 30 days without any activity.',
    suggestedUse: 'a welcome-back bonus and a short re-onboarding mission',
    params: [duration('activeWindow', 'Active within', '7d'), duration('gap', 'After an inactive gap of', '30d')],
    condition: (v) => ({ all: resurrectedParts(v.str('activeWindow'), v.ms('activeWindow'), v.ms('gap')) }),
  },
  {
    id: 'churned', name: 'Churned users', category: 'lifecycle', recommended: false,
    description: 'Users who were active once and have had no activity for 30 days.',
    suggestedUse: 'win-back offers: bonus points or a reward for coming back',
    params: [duration('inactivity', 'No activity for', '30d')],
    condition: (v) => ({ all: [{ attr: 'firstSeen', op: 'exists' }, inactiveWithin(v.str('inactivity'))] }),
  },
  {
    id: 'vip', name: 'VIP users', category: 'lifecycle', recommended: false,
    description: 'Users on a VIP plan (a trait), or whose purchases add up to at least 500 in revenue.',
    suggestedUse: 'premium bonus-shop rewards, early access and exclusive experiences',
    params: [
      { name: 'planTrait', label: 'Plan trait', type: 'string', default: 'plan', minLength: 1, maxLength: 200, pattern: KEY_PATH, check: checkKeyPath, description: 'Path under traits, e.g. plan or subscription.tier' },
      { name: 'planValues', label: 'VIP plan values', type: 'string[]', default: ['vip'], minItems: 1, maxItems: 100 },
      eventName('purchaseEvent', 'Purchase event', 'purchase'),
      { name: 'revenueProperty', label: 'Revenue property', type: 'string', default: 'revenue', minLength: 1, maxLength: 200, pattern: KEY_PATH, check: checkKeyPath, description: 'Path under the purchase event\'s properties' },
      { name: 'minRevenue', label: 'Total revenue at least', type: 'number', default: 500, min: 0, max: 1e12 },
    ],
    condition: (v) => any(
      { attr: `traits.${v.str('planTrait')}`, op: 'in', value: v.list('planValues') },
      { event: v.str('purchaseEvent'), agg: { fn: 'sum', prop: `properties.${v.str('revenueProperty')}` }, cmp: { op: 'gte', value: v.num('minRevenue') } },
    ),
  },
  {
    id: 'high-frequency-visitor', name: 'High-frequency visitors', category: 'behaviour', recommended: false,
    description: 'Users who viewed a page (by default /pricing) 5 or more times in 30 days.',
    suggestedUse: 'an experience on the page they keep coming back to, e.g. a pricing offer or a trial mission',
    params: [
      { name: 'path', label: 'Page path', type: 'string', default: '/pricing', minLength: 1, maxLength: 1000, pattern: '^/' },
      integer('minViews', 'Views at least', 5, 1, 100_000),
      duration('window', 'Within', '30d'),
    ],
    condition: (v) => ({
      event: '$pageview', where: [{ attr: 'properties.path', op: 'eq', value: v.str('path') }],
      window: { within: v.str('window') }, cmp: { op: 'gte', value: v.num('minViews') },
    }),
  },
  {
    id: 'cart-abandonment', name: 'Cart abandoners', category: 'behaviour', recommended: false,
    description: 'Users who added to cart within the last 7 days and did not purchase within the same 7 days.',
    suggestedUse: 'a checkout mission with a time-limited reward',
    params: [eventName('cartEvent', 'Add-to-cart event', 'add_to_cart'), eventName('purchaseEvent', 'Purchase event', 'purchase'), duration('window', 'Within', '7d')],
    condition: (v) => all(
      { event: v.str('cartEvent'), window: { within: v.str('window') } },
      { not: { event: v.str('purchaseEvent'), window: { within: v.str('window') } } },
    ),
  },
  {
    id: 'seasonal-interest', name: 'Seasonal product interest', category: 'behaviour', recommended: false,
    description: 'Users who viewed a seasonal page (path matching a pattern, by default the Christmas pages) within a date range, by default the current or last Christmas season (1 November to 1 January).',
    suggestedUse: 'seasonal quests and themed bonus-shop items',
    params: [
      { name: 'pathPattern', label: 'Page path pattern (regular expression)', type: 'string', default: '^/seasonal/christmas', minLength: 1, maxLength: 256, check: checkRegex },
      { name: 'after', label: 'From (inclusive)', type: 'date', default: (now) => christmasSeason(now).after },
      { name: 'before', label: 'Until (exclusive)', type: 'date', default: (now) => christmasSeason(now).before },
    ],
    check: (v) => parseIsoTime(v.str('after')) >= parseIsoTime(v.str('before'))
      ? [{ path: '/params/before', message: `"before" (${v.str('before')}) must be later than "after" (${v.str('after')})` }]
      : [],
    condition: (v) => ({
      event: '$pageview', where: [{ attr: 'properties.path', op: 'matches', value: v.str('pathPattern') }],
      window: { after: v.str('after'), before: v.str('before') },
    }),
  },
  {
    id: 'region-emea', name: 'Region: EMEA', category: 'region', recommended: false,
    description: 'Users located in Europe, the Middle East or Africa (with the Caucasus and Central Asia), by the country of their latest event.',
    suggestedUse: 'regional rewards, languages, currencies and legal terms',
    params: [countriesParam(EMEA_COUNTRIES, 'EMEA countries')],
    condition: regionCondition,
  },
  {
    id: 'region-china', name: 'Region: China', category: 'region', recommended: false,
    description: 'Users located in mainland China (CN), by the country of their latest event.',
    suggestedUse: 'China-specific missions, rewards and payment options',
    params: [countriesParam(CHINA_COUNTRIES, 'Countries')],
    condition: regionCondition,
  },
  {
    id: 'region-uk', name: 'Region: UK', category: 'region', recommended: false,
    description: 'Users located in the United Kingdom (GB), by the country of their latest event.',
    suggestedUse: 'UK rewards priced in GBP and UK-only experiences',
    params: [countriesParam(UK_COUNTRIES, 'Countries')],
    condition: regionCondition,
  },
  {
    id: 'region-us', name: 'Region: US', category: 'region', recommended: false,
    description: 'Users located in the United States (US), by the country of their latest event.',
    suggestedUse: 'US rewards, holidays and partner offers',
    params: [countriesParam(US_COUNTRIES, 'Countries')],
    condition: regionCondition,
  },
  {
    id: 'device-type', name: 'Device type', category: 'technology', recommended: false,
    description: 'Users who had a visit on a mobile phone (or tablet, or desktop) within the last 30 days.',
    suggestedUse: 'app-download missions for mobile web visitors; device-specific experiences',
    params: [{ name: 'deviceType', label: 'Device type', type: 'enum', default: 'mobile', options: ['mobile', 'tablet', 'desktop'] }, duration('window', 'Visited within', '30d')],
    condition: (v) => ({
      event: '$session', where: [{ attr: 'properties.deviceType', op: 'eq', value: v.str('deviceType') }], window: { within: v.str('window') },
    }),
  },
  {
    id: 'system-language', name: 'System language', category: 'technology', recommended: false,
    description: 'Users whose device language (the locale of their latest event) is a given language, e.g. en for en, en-US and en_GB.',
    suggestedUse: 'localised missions, rewards and experiences',
    params: [{ name: 'language', label: 'Language (ISO 639 code)', type: 'string', default: 'en', minLength: 2, maxLength: 3, pattern: '^[A-Za-z]{2,3}$' }],
    condition: (v) => ({ attr: 'context.locale', op: 'matches', value: `^${v.str('language').toLowerCase()}([-_]|$)`, ignoreCase: true }),
  },
  {
    id: 'new-visitor', name: 'New visitors', category: 'visits', recommended: false,
    description: 'Users with exactly one visit so far (fewer than minVisits; the complement of Returning visitors among users with a visit).',
    suggestedUse: 'a first-visit onboarding experience',
    params: [integer('minVisits', 'Visits that make a returning visitor', 2, 2, 100_000)],
    condition: (v) => ({ event: '$session', cmp: { op: 'between', value: [1, v.num('minVisits') - 1] } }),
  },
  {
    id: 'returning-visitor', name: 'Returning visitors', category: 'visits', recommended: false,
    description: 'Users with at least two visits so far.',
    suggestedUse: 'return-visit streak missions',
    params: [integer('minVisits', 'Visits at least', 2, 2, 100_000)],
    condition: (v) => ({ event: '$session', cmp: { op: 'gte', value: v.num('minVisits') } }),
  },
  {
    id: 'campaign-source', name: 'Campaign source', category: 'acquisition', recommended: false,
    description: 'Users who had a visit from a campaign source (utm_source, any case) within the last 30 days.',
    suggestedUse: 'experiences matching the campaign\'s promise; partner rewards',
    params: [{ name: 'source', label: 'utm_source', type: 'string', default: 'google', minLength: 1, maxLength: 200 }, duration('window', 'Visited within', '30d')],
    condition: (v) => ({
      event: '$session', where: [{ attr: 'properties.utm_source', op: 'eq', value: v.str('source'), ignoreCase: true }], window: { within: v.str('window') },
    }),
  },
];

const BY_ID = new Map(TEMPLATES.map((t) => [t.id, t]));

// ------------------------------------------------------------------ parameters

const defaultOf = (p: ParamDef, now: number): ParamValue => (typeof p.default === 'function' ? p.default(now) : p.default);

function paramView(p: ParamDef, now: number): TemplateParam {
  const { check: _check, default: _d, ...rest } = p;
  const d = defaultOf(p, now);
  return { ...rest, default: Array.isArray(d) ? [...d] : d } as TemplateParam;
}

/** A fault of one value, or null. */
type Fault = { readonly at?: number; readonly message: string } | null;

function paramFault(p: ParamDef, v: unknown): Fault {
  switch (p.type) {
    case 'string': {
      if (typeof v !== 'string') return { message: 'expected a string' };
      if (v.length < p.minLength || v.length > p.maxLength) return { message: `expected ${p.minLength} to ${p.maxLength} characters` };
      if (p.pattern !== undefined && !new RegExp(p.pattern, 'su').test(v)) return { message: `must match ${p.pattern}` };
      return null;
    }
    case 'number':
    case 'integer': {
      if (typeof v !== 'number' || !Number.isFinite(v)) return { message: 'expected a number' };
      if (p.type === 'integer' && !Number.isInteger(v)) return { message: 'expected a whole number' };
      if (p.min !== undefined && v < p.min) return { message: `must be at least ${p.min}` };
      if (p.max !== undefined && v > p.max) return { message: `must be at most ${p.max}` };
      return null;
    }
    case 'duration': {
      const ms = parseDuration(v);
      if (ms === null) return { message: `expected a duration such as "30d" (a whole number 1-999999 and a unit m, h, d or w), got ${JSON.stringify(v)}` };
      if (p.min !== undefined && ms < parseDuration(p.min)!) return { message: `must be at least ${p.min}` };
      if (p.max !== undefined && ms > parseDuration(p.max)!) return { message: `must be at most ${p.max}` };
      return null;
    }
    case 'string[]': {
      if (!Array.isArray(v)) return { message: 'expected an array of strings' };
      if (v.length < p.minItems || v.length > p.maxItems) return { message: `expected ${p.minItems} to ${p.maxItems} items` };
      const re = p.itemPattern !== undefined ? new RegExp(p.itemPattern, 'su') : null;
      for (let i = 0; i < v.length; i++) {
        const x: unknown = v[i];
        if (typeof x !== 'string' || x.length === 0 || x.length > 1000) return { at: i, message: 'expected a non-empty string' };
        if (re && !re.test(x)) return { at: i, message: `must match ${p.itemPattern}` };
      }
      return null;
    }
    case 'date':
      return typeof v === 'string' && !Number.isNaN(parseIsoTime(v)) ? null : { message: 'expected an ISO date-time such as "2024-11-01T00:00:00Z"' };
    case 'enum':
      return typeof v === 'string' && p.options.includes(v) ? null : { message: `expected one of ${p.options.join(', ')}` };
  }
}

/** Validates `input` against the definitions; every fault at `/params/<name>`. */
function validateParams(defs: readonly ParamDef[], input: unknown, now: number, owner: string): Result<Values> {
  if (input === undefined || input === null) input = {};
  if (!isPlainObject(input)) return { ok: false, issues: [{ path: '/params', message: 'expected an object of parameters' }] };
  const issues: Issue[] = [];
  const known = new Set(defs.map((d) => d.name));
  for (const k of Object.keys(input)) {
    if (!known.has(k)) issues.push({ path: `/params/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, message: `unknown parameter "${k}" (${owner} takes ${defs.map((d) => d.name).join(', ')})` });
  }
  const out: Record<string, ParamValue> = {};
  for (const d of defs) {
    const given = input[d.name] !== undefined;
    const value: unknown = given ? input[d.name] : defaultOf(d, now);
    let fault = paramFault(d, value);
    if (!fault && d.check) {
      const message = d.check(value as ParamValue);
      if (message) fault = { message };
    }
    if (fault) issues.push({ path: `/params/${d.name}${fault.at !== undefined ? `/${fault.at}` : ''}`, message: fault.message });
    else out[d.name] = Array.isArray(value) ? [...(value as string[])] : (value as ParamValue);
  }
  return issues.length ? { ok: false, issues } : { ok: true, value: new Values(out) };
}

const jsonParams = (v: Values): { [name: string]: Json } =>
  Object.fromEntries(Object.entries(v.raw).map(([k, x]) => [k, Array.isArray(x) ? [...x] : (x as Json)]));

// ------------------------------------------------------------------ public entry points

/** Ids of every template, in catalogue order. */
export const TEMPLATE_IDS: readonly string[] = TEMPLATES.map((t) => t.id);

/** The catalogue as `GET /api/templates` gives it; date-dependent defaults are computed from `now`. */
export function listTemplates(now: number): TemplateView[] {
  return TEMPLATES.map((t) => {
    const built = buildTemplate(t.id, {}, now);
    if (!built.ok) throw new Error(`template ${t.id}: its defaults are not valid: ${JSON.stringify(built.issues)}`);
    return {
      id: t.id, name: t.name, description: t.description, suggestedUse: t.suggestedUse, recommended: t.recommended,
      category: t.category, params: t.params.map((p) => paramView(p, now)), condition: built.value.condition,
    };
  });
}

/**
 * The condition of template `id` with `params` (missing ones take their defaults). Faults are
 * issues at `/template` or `/params/<name>`; never throws.
 */
export function buildTemplate(id: unknown, params: unknown, now: number): Result<BuiltTemplate> {
  const t = typeof id === 'string' ? BY_ID.get(id) : undefined;
  if (!t) return { ok: false, issues: [{ path: '/template', message: `unknown template ${JSON.stringify(id)}; expected one of ${TEMPLATE_IDS.join(', ')}` }] };
  const values = validateParams(t.params, params, now, `template "${t.id}"`);
  if (!values.ok) return values;
  const cross = t.check?.(values.value) ?? [];
  if (cross.length) return { ok: false, issues: cross };
  const condition = t.condition(values.value);
  // The parameters are checked above; this catches what only the whole condition shows (e.g. strings no store can keep).
  const parsed = parseCondition(condition);
  if (!parsed.ok) return { ok: false, issues: parsed.issues.map((i) => ({ path: '/params', message: `the resulting condition is not valid at ${i.path}: ${i.message}` })) };
  return { ok: true, value: { condition, params: jsonParams(values.value), name: t.name, description: t.description } };
}

// ------------------------------------------------------------------ the lifecycle stages set

export type LifecycleStageKey = 'new' | 'resurrected' | 'active' | 'inactive';
/** Creation order: each stage refers only to stages before it. Also the precedence order. */
export const LIFECYCLE_STAGE_KEYS: readonly LifecycleStageKey[] = ['new', 'resurrected', 'active', 'inactive'];
export const LIFECYCLE_SET_ID = 'lifecycle-stages';

export interface LifecycleStage {
  readonly key: LifecycleStageKey;
  readonly name: string;
  readonly description: string;
  readonly condition: Json;
}

const LIFECYCLE_PARAMS: readonly ParamDef[] = [
  duration('activeWindow', 'Active / new within', '7d', 'New: first seen within it; Active and Resurrected: active within it; Inactive: not active within it'),
  duration('gap', 'Resurrected after an inactive gap of', '30d'),
];

const STAGE_TEXT: Record<LifecycleStageKey, readonly [name: string, description: (w: string, g: string) => string]> = {
  new: ['New', (w) => `First seen within the last ${w}.`],
  resurrected: ['Resurrected', (w, g) => `Not New; active within the last ${w} after at least ${g} without activity, and first seen before that gap.`],
  active: ['Active', (w) => `Active within the last ${w}; neither New nor Resurrected.`],
  // Not "Churned": that is the churned template's name, whose default threshold (30 days) is far longer than W's.
  inactive: ['Inactive', (w) => `Seen before, not New, and no activity within the last ${w}.`],
};

/** The set as `GET /api/templates` lists it (under `sets`). */
export function lifecycleSetView(now: number) {
  return {
    id: LIFECYCLE_SET_ID,
    name: 'Lifecycle stages',
    description: 'Four segments, New, Resurrected, Active and Inactive, such that every user with activity is in exactly one (precedence New > Resurrected > Active > Inactive).',
    suggestedUse: 'one mission or reward track per stage: welcome quests, welcome-back bonuses, streaks, nudges to come back',
    params: LIFECYCLE_PARAMS.map((p) => paramView(p, now)),
    stages: LIFECYCLE_STAGE_KEYS.map((key) => ({ key, name: STAGE_TEXT[key][0] })),
  };
}

/**
 * The four stage segments, in creation order, for segment ids chosen by the caller. Each stage
 * after New refers to the stages that take precedence over it, so that every user with
 * activity (firstSeen exists) is in exactly one of them — whatever New's condition is changed to.
 */
export function lifecycleStages(params: unknown, ids: Readonly<Record<LifecycleStageKey, string>>, now = 0): Result<{ params: { [name: string]: Json }; stages: LifecycleStage[] }> {
  const values = validateParams(LIFECYCLE_PARAMS, params, now, 'the lifecycle stages');
  if (!values.ok) return values;
  const v = values.value;
  const w = v.str('activeWindow');
  const notNew: Json = { not: { segment: ids.new } };
  const conditions: Record<LifecycleStageKey, Json> = {
    new: newCondition(w),
    resurrected: { all: [notNew, ...resurrectedParts(w, v.ms('activeWindow'), v.ms('gap'))] },
    active: { all: [activeWithin(w), notNew, { not: { segment: ids.resurrected } }] },
    inactive: { all: [{ attr: 'firstSeen', op: 'exists' }, notNew, inactiveWithin(w)] },
  };
  const stages = LIFECYCLE_STAGE_KEYS.map((key): LifecycleStage => ({
    key, name: STAGE_TEXT[key][0], description: STAGE_TEXT[key][1](w, v.str('gap')), condition: conditions[key],
  }));
  const defined = new Map<string, Json>();
  for (const s of stages) {
    const r = parseCondition(s.condition, { segmentCondition: (id) => defined.get(id), selfId: ids[s.key] });
    if (!r.ok) return { ok: false, issues: r.issues.map((i) => ({ path: '/params', message: `stage ${s.name}: the resulting condition is not valid at ${i.path}: ${i.message}` })) };
    defined.set(ids[s.key], s.condition);
  }
  return { ok: true, value: { params: jsonParams(v), stages } };
}
