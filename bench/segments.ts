/** A realistic mix of segments (attribute, behavioural with windows, aggregates, sequences, nested) for benchmarks. */
export const EMEA = ['GB', 'DE', 'FR', 'ES', 'IT', 'NL', 'SE', 'PL', 'AE', 'SA', 'ZA', 'NG', 'EG', 'TR', 'BE', 'CH', 'AT', 'DK', 'NO', 'IE'];

export const BENCH_SEGMENTS: { name: string; condition: unknown; ref?: [string, string] }[] = [
  { name: 'VIP plan', condition: { attr: 'traits.plan', op: 'eq', value: 'vip' } },
  { name: 'EMEA', condition: { attr: 'context.location.country', op: 'in', value: EMEA } },
  { name: 'Mobile', condition: { attr: 'context.device.type', op: 'eq', value: 'mobile' } },
  { name: 'English', condition: { attr: 'context.locale', op: 'starts_with', value: 'en' } },
  { name: 'Known', condition: { attr: 'known', op: 'eq', value: true } },
  { name: 'Opted in', condition: { attr: 'traits.marketingOptIn', op: 'eq', value: true } },
  { name: 'iOS', condition: { attr: 'context.os.name', op: 'eq', value: 'iOS' } },
  { name: 'Not US or CN', condition: { attr: 'context.location.country', op: 'nin', value: ['US', 'CN'] } },
  { name: 'Pricing 5+ in 30d', condition: { event: '$pageview', where: [{ attr: 'properties.path', op: 'eq', value: '/pricing' }], window: { within: '30d' }, cmp: { op: 'gte', value: 5 } } },
  { name: 'Cart abandonment', condition: { all: [{ event: 'add_to_cart', window: { within: '7d' } }, { not: { event: 'purchase', window: { within: '7d' } } }] } },
  { name: 'Revenue 500+', condition: { event: 'purchase', agg: { fn: 'sum', prop: 'properties.revenue' }, cmp: { op: 'gte', value: 500 } } },
  { name: 'Active 7d', condition: { event: '*', window: { within: '7d' } } },
  { name: 'Churned', condition: { all: [{ attr: 'known', op: 'eq', value: true }, { event: '*', window: { within: '30d' }, cmp: { op: 'eq', value: 0 } }] } },
  { name: 'Buyer 3+ in 90d', condition: { event: 'purchase', window: { within: '90d' }, cmp: { op: 'gte', value: 3 } } },
  { name: '3+ active days in 30d', condition: { event: '*', window: { within: '30d' }, agg: { fn: 'distinctDays' }, cmp: { op: 'gte', value: 3 } } },
  { name: 'Login in 7d', condition: { event: 'login', window: { within: '7d' } } },
  { name: 'Cart then purchase within 1h', condition: { sequence: [{ event: 'add_to_cart' }, { event: 'purchase' }], maxGap: '1h' } },
  { name: 'Pricing then signup', condition: { sequence: [{ event: '$pageview', where: [{ attr: 'properties.path', op: 'eq', value: '/pricing' }] }, { event: 'signed_up' }], window: { within: '30d' } } },
  { name: 'Mobile VIP', condition: null, ref: ['VIP plan', 'Mobile'] },
  { name: 'Active, not abandoning', condition: null, ref: ['Active 7d', 'Cart abandonment'] },
];

/** Resolves the nested segments once the ones they reference have ids. */
export function nestedCondition(s: (typeof BENCH_SEGMENTS)[number], idOf: Map<string, string>): unknown {
  if (!s.ref) return s.condition;
  const [a, b] = s.ref;
  return s.name === 'Mobile VIP'
    ? { all: [{ segment: idOf.get(a) }, { segment: idOf.get(b) }] }
    : { all: [{ segment: idOf.get(a) }, { not: { segment: idOf.get(b) } }] };
}

/**
 * 200 segments: the 20 above in ten variants each (other plans, countries, thresholds,
 * windows, paths), nested ones referencing their own variant. Ids are `s<variant>_<index>`.
 */
export function benchSegments200(): { id: string; name: string; condition: unknown }[] {
  const plans = ['vip', 'pro', 'basic', 'free'];
  const windows = ['7d', '14d', '30d', '60d', '90d', '3d', '21d', '45d', '10d', '1d'];
  const paths = ['/pricing', '/products', '/cart', '/checkout', '/blog', '/seasonal/christmas', '/seasonal/summer-sale', '/search', '/contact', '/account'];
  const out: { id: string; name: string; condition: unknown }[] = [];
  for (let v = 0; v < 10; v++) {
    const ids = new Map<string, string>();
    BENCH_SEGMENTS.forEach((s, i) => ids.set(s.name, `s${v}_${i}`));
    const vary = (c: unknown): unknown => JSON.parse(JSON.stringify(c), (k, x) => {
      if (k === 'within') return windows[v];
      if (x === 'vip') return plans[v % 4];
      if (x === '/pricing') return paths[v];
      if (k === 'value' && typeof x === 'number' && x >= 3) return x + v;
      if (k === 'value' && Array.isArray(x) && x.length === EMEA.length) return EMEA.slice(v, v + 10);
      return x;
    });
    BENCH_SEGMENTS.forEach((s, i) => out.push({ id: `s${v}_${i}`, name: `${s.name} #${v}`, condition: vary(nestedCondition(s, ids)) }));
  }
  return out;
}
