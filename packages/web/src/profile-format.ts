/** How a profile's values and events read on its page: plain values, dotted keys, a few key properties per event. */
import type { Json } from './types.ts';

/** A leaf value as text: strings as they are (no quotes), numbers and booleans as written, null as "null". */
export function plain(v: Json): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object')) return v.map((x) => plain(x)).join(', ');
  return JSON.stringify(v);
}

/**
 * An object's values as `[dotted key, plain text]` rows: nested objects are opened
 * (`page.path`, `campaign.source`), lists of scalars are joined; empty objects and lists show as "—".
 */
export function flatten(value: { readonly [k: string]: Json }, prefix = ''): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(value)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const inner = flatten(v, key);
      if (inner.length) out.push(...inner);
      else out.push([key, '—']);
    } else if (Array.isArray(v) && v.length === 0) out.push([key, '—']);
    else out.push([key, plain(v)]);
  }
  return out;
}

/** Properties worth a glance, in this order when present; then the other scalar ones. */
const KEY_PROPERTIES = ['path', 'url', 'title', 'name', 'segmentName', 'reason', 'product_id', 'sku', 'total', 'revenue', 'value', 'currency', 'landingPage', 'referrerHost', 'utm_source', 'deviceType', 'country'];

/** Up to `max` of an event's properties as `[key, text]` for its timeline row (long values cut). */
export function keyProperties(props: Json, max = 4): [string, string][] {
  if (props === null || typeof props !== 'object' || Array.isArray(props)) return [];
  const rows = flatten(props).filter(([, v]) => v !== '—');
  const rank = (k: string) => { const i = KEY_PROPERTIES.indexOf(k); return i < 0 ? KEY_PROPERTIES.length : i; };
  return rows
    .map((r, i) => ({ r, i }))
    .sort((a, b) => rank(a.r[0]) - rank(b.r[0]) || a.i - b.i)
    .slice(0, max)
    .map(({ r: [k, v] }) => [k, v.length > 60 ? `${v.slice(0, 59)}…` : v]);
}
