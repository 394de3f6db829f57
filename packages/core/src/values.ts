import type { Json } from './data.ts';

const NUMERIC = /^-?[0-9]+(\.[0-9]+)?$/;

/** True for strings Strata reads as numbers: at most 300 characters of `^-?[0-9]+(\.[0-9]+)?$`. */
export const isNumericString = (s: string): boolean => s.length <= 300 && NUMERIC.test(s);

/** The number a scalar stands for, or NaN. */
export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.length <= 300 && NUMERIC.test(v)) return Number(v);
  return Number.NaN;
}

/** Code-point order of two strings (JavaScript's `<` compares UTF-16 units instead). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca === cb) continue;
    const sa = ca >= 0xd800 && ca <= 0xdfff;
    const sb = cb >= 0xd800 && cb <= 0xdfff;
    // A surrogate (astral code point) sorts above every BMP unit, whatever its raw value.
    if (sa !== sb) return sa ? 1 : -1;
    return ca < cb ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** compare() of docs/conditions.md: -1, 0, 1, or null when incomparable. */
export function compareScalars(v: unknown, x: unknown, ignoreCase = false): -1 | 0 | 1 | null {
  if (typeof v === 'number' || typeof x === 'number') {
    const a = toNumber(v);
    const b = toNumber(x);
    if (Number.isNaN(a) || Number.isNaN(b)) return null;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof v === 'string' && typeof x === 'string') {
    const c = ignoreCase ? compareCodePoints(foldCase(v), foldCase(x)) : compareCodePoints(v, x);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (typeof v === 'boolean' && typeof x === 'boolean') return v === x ? 0 : null;
  return null;
}

const TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/** An epoch-millisecond instant as an ISO 8601 UTC string (null stays null): how the API shows times. */
export function isoTime(ms: number): string;
export function isoTime(ms: number | null): string | null;
export function isoTime(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** Epoch ms of a strict ISO date-time string (see docs/conditions.md), or NaN. */
export function parseIsoTime(s: string): number {
  const m = TIME.exec(s);
  if (!m) return Number.NaN;
  const [, y, mo, d, h = '0', mi = '0', sec = '0', frac = '', off] = m;
  const year = Number(y), month = Number(mo), day = Number(d);
  const hour = Number(h), minute = Number(mi), second = Number(sec);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return Number.NaN;
  if (hour > 23 || minute > 59 || second > 59) return Number.NaN;
  let ms = Date.UTC(year, month - 1, day, hour, minute, second, Number(frac.padEnd(3, '0')));
  if (year < 100) ms = new Date(ms).setUTCFullYear(year);
  if (off && off !== 'Z') {
    const sign = off[0] === '-' ? -1 : 1;
    const oh = Number(off.slice(1, 3)), om = Number(off.slice(4, 6));
    if (oh > 23 || om > 59) return Number.NaN;
    ms -= sign * (oh * 60 + om) * 60_000;
  }
  return ms;
}

/** The ISO 8601 forms ingest and imports accept: a date, or a date-time with seconds, fractions to nanoseconds and an offset optional. */
const INGEST_TIME = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** Epoch ms of an ISO 8601 date-time (fractions to nanoseconds, offsets with or without a colon). */
export function parseTimestamp(v: string): number {
  const m = INGEST_TIME.exec(v);
  if (!m) return Number.NaN;
  const [, date, hm, sec, frac, off] = m;
  if (!hm && (sec || frac || off)) return Number.NaN;
  // Reuse core's strict calendar check on the canonical form (it refuses February 30 and the like).
  const offset = off === undefined || off === 'Z' ? 'Z' : off.includes(':') ? off : `${off.slice(0, 3)}:${off.slice(3)}`;
  return parseIsoTime(hm ? `${date}T${hm}:${sec ?? '00'}.${(frac ?? '').padEnd(3, '0').slice(0, 3)}${offset}` : date!);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** The epoch ms a value stands for as a time value (number or strict ISO string), or NaN. */
export function toTime(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return parseIsoTime(v);
  return Number.NaN;
}

/** Missing per docs/conditions.md: absent, null, or an empty array. */
export const isMissing = (v: unknown): boolean =>
  v === undefined || v === null || (Array.isArray(v) && v.length === 0);

export const isPlainObject = (v: unknown): v is Record<string, Json> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const folded = new Map<number, string>();

/** The lower-case form of one code point when it is a single code point, else the code point itself. */
function lowerCodePoint(cp: number): string {
  let f = folded.get(cp);
  if (f === undefined) {
    const ch = String.fromCodePoint(cp);
    const l = ch.toLowerCase();
    f = [...l].length === 1 ? l : ch;
    folded.set(cp, f);
  }
  return f;
}

/**
 * What `ignoreCase` compares: each code point lowered on its own (JavaScript's lower-case form
 * when that is one code point; İ and the like stay as they are; no final-sigma rule), so that
 * every store can do the very same with a per-character table.
 */
export function foldCase(s: string): string {
  // ASCII only (the common case): toLowerCase is already per character.
  if (/^[\x00-\x7f]*$/.test(s)) return s.toLowerCase();
  let out = '';
  for (const ch of s) out += lowerCodePoint(ch.codePointAt(0)!);
  return out;
}

let table: { from: string; to: string } | undefined;

/** Every code point that foldCase changes, with its lower-case form (for stores that need a table). */
export function foldCaseTable(): { from: string; to: string } {
  if (table) return table;
  let from = '', to = '';
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const l = lowerCodePoint(cp);
    if (l !== String.fromCodePoint(cp)) { from += String.fromCodePoint(cp); to += l; }
  }
  folded.clear();
  return (table = { from, to });
}

/**
 * True for a string no store can keep or compare alike: a NUL character or an unpaired surrogate.
 * One pass over the code units (every string of every ingested message comes through here).
 */
export function isUnstorableString(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) return true;
    if (c < 0xd800 || c > 0xdfff) continue;
    // A high surrogate with its low one is a pair (skipped together); any other surrogate is alone.
    if (c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) { i++; continue; }
    }
    return true;
  }
  return false;
}

/** Whether any string (value or key) in a JSON value is unstorable: `unstorableStrings`' first walk, which keeps no paths. */
function hasUnstorableString(root: unknown): boolean {
  const stack: unknown[] = [root];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (isUnstorableString(v)) return true;
    } else if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
    } else if (isPlainObject(v)) {
      for (const k of Object.keys(v)) {
        if (isUnstorableString(k)) return true;
        stack.push(v[k]);
      }
    }
  }
  return false;
}

/**
 * JSON Pointers of the strings (values or keys) in a JSON value that no store can keep, at
 * most `limit` of them. Iterative, so deep nesting cannot overflow the stack.
 */
export function unstorableStrings(root: unknown, limit = 20): string[] {
  // Nearly every value holds none: only one that does pays for the paths.
  if (!hasUnstorableString(root)) return [];
  const found: string[] = [];
  const stack: [unknown, string][] = [[root, '']];
  while (stack.length && found.length < limit) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (isUnstorableString(v)) found.push(path || '/');
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => stack.push([x, `${path}/${i}`]));
    } else if (isPlainObject(v)) {
      for (const [k, x] of Object.entries(v)) {
        if (isUnstorableString(k)) found.push(path || '/');
        else stack.push([x, `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`]);
      }
    }
  }
  return found;
}
