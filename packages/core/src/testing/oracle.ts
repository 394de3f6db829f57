/**
 * The naive test oracle: docs/conditions.md transcribed as directly as possible.
 *
 * It interprets the wire JSON of a condition (assumed valid: it does not validate),
 * recursively, with no parsing step, no indexes and no cleverness, so that a reader can
 * check it against the doc line by line. The fast evaluator and the SQL compilers are
 * compared against it by the fixture tests and the property tests; when they disagree,
 * the doc decides who is wrong. It is test-only code: clarity over speed.
 */
import { RE2JS } from 're2js';
import {
  isDerivedEvent,
  type EventRecord,
  type Json,
  type JsonObject,
  type ProfileRecord,
  type SegmentDefinition,
} from '../data.ts';
import { MATCH_INPUT_LIMIT } from '../regex.ts';

type Segments = Readonly<Record<string, SegmentDefinition>>;

/** The value read at a path: any JSON value, or `undefined` when absent. */
type Value = Json | undefined;

type Scalar = string | number | boolean;

type Order = '<' | '=' | '>' | 'incomparable';

const DAY_MS = 86_400_000;

/** Cap on the nodes a sequence search may visit: the oracle fails loudly rather than hang. */
const SEQUENCE_SEARCH_CAP = 2_000_000;

// ---------------------------------------------------------------------------------------
// Public entry points

/** True when `profile` (with its `events`) satisfies `condition` at time `now` (epoch ms). */
export function oracleMatches(
  condition: Json,
  profile: ProfileRecord,
  events: readonly EventRecord[],
  segments: Segments,
  now: number,
): boolean {
  const c = condition as JsonObject;

  if ('all' in c) {
    const children = c.all as Json[];
    for (const child of children) {
      if (!oracleMatches(child, profile, events, segments, now)) return false;
    }
    return true;
  }
  if ('any' in c) {
    const children = c.any as Json[];
    for (const child of children) {
      if (oracleMatches(child, profile, events, segments, now)) return true;
    }
    return false;
  }
  if ('not' in c) {
    return !oracleMatches(c.not as Json, profile, events, segments, now);
  }
  if ('attr' in c) {
    const value = readProfilePath(profile, c.attr as string);
    return applyOperator(value, c, now);
  }
  if ('sequence' in c) {
    return sequenceHolds(c, events, now);
  }
  if ('event' in c) {
    return eventLeafHolds(c, events, now);
  }
  if ('segment' in c) {
    return isSegmentMember(c.segment as string, profile, events, segments, now);
  }
  if ('bucket' in c) {
    const b = c.bucket as JsonObject;
    const id = profile.userId ?? profile.anonymousId;
    if (id === null) return false;
    const bucket = bucketOf(b.salt as string, id);
    return (b.from as number) <= bucket && bucket < (b.to as number);
  }
  // Not a condition the doc knows; valid input never gets here.
  return false;
}

/** The sorted keys of the profiles that satisfy `condition` at `now`. */
export function oracleMembers(
  condition: Json,
  profiles: readonly { readonly profile: ProfileRecord; readonly events: readonly EventRecord[] }[],
  segments: Segments,
  now: number,
): string[] {
  const keys: string[] = [];
  for (const { profile, events } of profiles) {
    if (oracleMatches(condition, profile, events, segments, now)) keys.push(profile.key);
  }
  return keys.sort();
}

// ---------------------------------------------------------------------------------------
// Segment references and buckets

function isSegmentMember(
  id: string,
  profile: ProfileRecord,
  events: readonly EventRecord[],
  segments: Segments,
  now: number,
): boolean {
  const segment = Object.prototype.hasOwnProperty.call(segments, id) ? segments[id] : undefined;
  if (segment === undefined) return false; // unknown ids are rejected at validation
  const byCondition =
    segment.condition !== null && oracleMatches(segment.condition, profile, events, segments, now);
  const included = segment.include.includes(profile.key);
  const excluded = segment.exclude.includes(profile.key);
  return (byCondition || included) && !excluded;
}

/** 32-bit FNV-1a over the UTF-16 code units of `s` (GrowthBook's v2 hash building block). */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The bucket (0..9999) of `id` under `salt`. */
export function bucketOf(salt: string, id: string): number {
  return fnv1a32(String(fnv1a32(salt + id))) % 10000;
}

// ---------------------------------------------------------------------------------------
// Paths

/** Walks `path` (segments split on '.') through JSON objects only. */
function walk(start: Value, segments: readonly string[]): Value {
  let current: Value = start;
  for (const segment of segments) {
    if (current === undefined || current === null) return undefined;
    if (typeof current !== 'object' || Array.isArray(current)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(current, segment)) return undefined;
    current = current[segment];
  }
  return current;
}

function readProfilePath(profile: ProfileRecord, path: string): Value {
  const [root, ...rest] = path.split('.');
  switch (root) {
    case 'userId':
      return rest.length === 0 ? profile.userId : undefined;
    case 'anonymousId':
      return rest.length === 0 ? profile.anonymousId : undefined;
    case 'known':
      return rest.length === 0 ? profile.userId !== null : undefined;
    case 'firstSeen':
      return rest.length === 0 ? profile.firstSeen : undefined;
    case 'lastSeen':
      return rest.length === 0 ? profile.lastSeen : undefined;
    case 'labels':
      // A path through an array is missing.
      return rest.length === 0 ? [...profile.labels] : undefined;
    case 'traits':
      return walk(profile.traits, rest);
    case 'context':
      return walk(profile.context, rest);
    default:
      return undefined;
  }
}

function readEventPath(event: EventRecord, path: string): Value {
  const [root, ...rest] = path.split('.');
  switch (root) {
    case 'event':
      return rest.length === 0 ? event.name : undefined;
    case 'timestamp':
      return rest.length === 0 ? event.timestamp : undefined;
    case 'properties':
      return walk(event.properties, rest);
    case 'context':
      return walk(event.context, rest);
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------
// Values

function isMissing(v: Value): boolean {
  return v === undefined || v === null || (Array.isArray(v) && v.length === 0);
}

function isScalar(v: Value): v is Scalar {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

const NUMERIC_STRING = /^-?[0-9]+(\.[0-9]+)?$/;

/** A number, or a numeric string's number; otherwise undefined. */
function asNumber(v: Value): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.length <= 300 && NUMERIC_STRING.test(v)) return Number(v);
  return undefined;
}

/** Code-point order of two strings (not UTF-16 code-unit order). */
function compareCodePoints(a: string, b: string): '<' | '=' | '>' {
  const as = Array.from(a);
  const bs = Array.from(b);
  const n = Math.min(as.length, bs.length);
  for (let i = 0; i < n; i++) {
    const x = as[i].codePointAt(0)!;
    const y = bs[i].codePointAt(0)!;
    if (x < y) return '<';
    if (x > y) return '>';
  }
  if (as.length < bs.length) return '<';
  if (as.length > bs.length) return '>';
  return '=';
}

/** compare(v, x) of the doc: v from the data, x from the condition. */
function compare(v: Scalar, x: Scalar, ignoreCase: boolean): Order {
  if (typeof v === 'number' || typeof x === 'number') {
    const a = asNumber(v);
    const b = asNumber(x);
    if (a === undefined || b === undefined) return 'incomparable';
    if (a < b) return '<';
    if (a > b) return '>';
    return '=';
  }
  if (typeof v === 'string' && typeof x === 'string') {
    return ignoreCase
      ? compareCodePoints(naiveFold(v), naiveFold(x))
      : compareCodePoints(v, x);
  }
  if (typeof v === 'boolean' && typeof x === 'boolean') {
    return v === x ? '=' : 'incomparable';
  }
  return 'incomparable';
}

const pad = (digits: string | undefined): number =>
  digits === undefined ? 0 : Number(digits.padEnd(3, '0'));

/** `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM[:SS[.s{1,3}]]` with an optional `Z` / `±HH:MM` on the time forms. */
const ISO_TIME =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,3}))?)?(Z|([+-])([0-9]{2}):([0-9]{2}))?)?$/;

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

/**
 * Epoch ms of an ISO string in one of the doc's forms, or undefined. Impossible calendar
 * values (month 13, 31 June, 24:00, offset minutes ≥ 60) are not time values.
 */
export function parseIsoTime(s: string): number | undefined {
  const m = ISO_TIME.exec(s);
  if (m === null) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const millis = pad(m[7]);
  if (year < 1 || month < 1 || month > 12) return undefined;
  if (day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (m[9] !== undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  // Date.UTC maps years 0..99 to 1900..1999; setUTCFullYear does not.
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, millis);
  return d.getTime() - offsetMinutes * 60_000;
}

/** A time value of the doc: a number (epoch ms) or an ISO string in an allowed form. */
function asTime(v: Value): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return parseIsoTime(v);
  return undefined;
}

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: DAY_MS, w: 7 * DAY_MS };

/** Milliseconds of a duration such as "30d" (assumed valid). */
export function durationMs(d: string): number {
  const m = /^([1-9][0-9]{0,5})([mhdw])$/.exec(d);
  if (m === null) throw new Error(`oracle: not a duration: ${JSON.stringify(d)}`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

// ---------------------------------------------------------------------------------------
// Operators

const NEGATIONS: Record<string, string> = {
  neq: 'eq',
  nin: 'in',
  not_contains: 'contains',
  not_exists: 'exists',
};

/** Applies the operator of `c` (`op`, `value`, `ignoreCase`) to a value read from the data. */
function applyOperator(value: Value, c: JsonObject, now: number): boolean {
  const op = c.op as string;
  const operand = c.value as Value;
  const ignoreCase = c.ignoreCase === true;
  const positive = NEGATIONS[op];
  if (positive !== undefined) return !positivelyHolds(positive, value, operand, ignoreCase, now);
  return positivelyHolds(op, value, operand, ignoreCase, now);
}

function positivelyHolds(
  op: string,
  value: Value,
  operand: Value,
  ignoreCase: boolean,
  now: number,
): boolean {
  if (isMissing(value)) return false;
  if (op === 'exists') return true;
  if (Array.isArray(value)) {
    // On an array, `contains` is membership: some element equals the value.
    const elementOp = op === 'contains' ? 'eq' : op;
    for (const element of value) {
      if (isScalar(element) && scalarHolds(elementOp, element, operand, ignoreCase, now)) return true;
    }
    return false;
  }
  if (!isScalar(value)) return false; // an object: only `exists`
  return scalarHolds(op, value, operand, ignoreCase, now);
}

function scalarHolds(
  op: string,
  v: Scalar,
  x: Value,
  ignoreCase: boolean,
  now: number,
): boolean {
  const lower = (s: string): string => (ignoreCase ? naiveFold(s) : s);
  switch (op) {
    case 'eq':
      return compare(v, x as Scalar, ignoreCase) === '=';
    case 'in':
      for (const element of x as Scalar[]) {
        if (compare(v, element, ignoreCase) === '=') return true;
      }
      return false;
    case 'gt':
      return compare(v, x as Scalar, ignoreCase) === '>';
    case 'gte': {
      const o = compare(v, x as Scalar, ignoreCase);
      return o === '>' || o === '=';
    }
    case 'lt':
      return compare(v, x as Scalar, ignoreCase) === '<';
    case 'lte': {
      const o = compare(v, x as Scalar, ignoreCase);
      return o === '<' || o === '=';
    }
    case 'between': {
      const [lo, hi] = x as Scalar[];
      const a = compare(v, lo, ignoreCase);
      const b = compare(v, hi, ignoreCase);
      return (a === '>' || a === '=') && (b === '<' || b === '=');
    }
    case 'contains':
      return typeof v === 'string' && lower(v).includes(lower(x as string));
    case 'starts_with':
      return typeof v === 'string' && lower(v).startsWith(lower(x as string));
    case 'ends_with':
      return typeof v === 'string' && lower(v).endsWith(lower(x as string));
    case 'matches':
      return typeof v === 'string' && regexFinds(x as string, v, ignoreCase);
    case 'before': {
      const t = asTime(v);
      const limit = asTime(x);
      return t !== undefined && limit !== undefined && t < limit;
    }
    case 'after': {
      const t = asTime(v);
      const limit = asTime(x);
      return t !== undefined && limit !== undefined && t > limit;
    }
    case 'within_last': {
      const t = asTime(v);
      return t !== undefined && now - durationMs(x as string) < t && t <= now;
    }
    case 'more_than_ago': {
      const t = asTime(v);
      return t !== undefined && t <= now - durationMs(x as string);
    }
    default:
      return false; // unknown operators are rejected at validation
  }
}

const compiledPatterns = new Map<string, RE2JS>();

function regexFinds(pattern: string, s: string, ignoreCase: boolean): boolean {
  // ignoreCase: fold the text and the pattern's literal characters (not its escapes), then match exactly.
  if (ignoreCase) {
    const cps = Array.from(pattern);
    let folded = '';
    for (let i = 0; i < cps.length; i++) folded += cps[i] === '\\' ? cps[i]! + (cps[++i] ?? '') : naiveFold(cps[i]!);
    return regexFinds(folded, naiveFold(s), false);
  }
  // Only the first MATCH_INPUT_LIMIT code points are read, as if the value ended there.
  const cut = Array.from(s).slice(0, MATCH_INPUT_LIMIT).join('');
  if (cut !== s) return regexFinds(pattern, cut, false);
  const flags = RE2JS.DOTALL;
  const cacheKey = `${flags}/${pattern}`;
  let re = compiledPatterns.get(cacheKey);
  if (re === undefined) {
    re = RE2JS.compile(pattern, flags);
    compiledPatterns.set(cacheKey, re);
  }
  return re.matcher(s).find();
}

// ---------------------------------------------------------------------------------------
// Event leaves

function nameMatches(wanted: string, event: EventRecord): boolean {
  return wanted === '*' ? !isDerivedEvent(event.name) : event.name === wanted;
}

function whereHolds(where: Value, event: EventRecord, now: number): boolean {
  if (where === undefined) return true;
  for (const w of where as JsonObject[]) {
    if (!applyOperator(readEventPath(event, w.attr as string), w, now)) return false;
  }
  return true;
}

function inWindow(window: Value, t: number, now: number): boolean {
  if (window === undefined) return true;
  const w = window as JsonObject;
  if ('within' in w) {
    return now - durationMs(w.within as string) < t && t <= now;
  }
  if ('from' in w || 'to' in w) {
    return now - durationMs(w.from as string) < t && t <= now - durationMs(w.to as string);
  }
  if (w.after !== undefined && !(asTime(w.after)! <= t)) return false;
  if (w.before !== undefined && !(t < asTime(w.before)!)) return false;
  return true;
}

function eventLeafHolds(c: JsonObject, events: readonly EventRecord[], now: number): boolean {
  const selected = events.filter(
    (e) =>
      nameMatches(c.event as string, e) &&
      whereHolds(c.where, e, now) &&
      inWindow(c.window, e.timestamp, now),
  );
  const agg = (c.agg ?? { fn: 'count' }) as JsonObject;
  const cmp = (c.cmp ?? { op: 'gte', value: 1 }) as JsonObject;
  return applyOperator(aggregate(agg, selected), cmp, now);
}

function aggregate(agg: JsonObject, selected: readonly EventRecord[]): Value {
  const fn = agg.fn as string;
  switch (fn) {
    case 'count':
      return selected.length;
    case 'distinctDays':
      return new Set(selected.map((e) => Math.floor(e.timestamp / DAY_MS))).size;
    case 'firstAt':
      return selected.length === 0 ? undefined : Math.min(...selected.map((e) => e.timestamp));
    case 'lastAt':
      return selected.length === 0 ? undefined : Math.max(...selected.map((e) => e.timestamp));
    case 'sum':
    case 'avg':
    case 'min':
    case 'max': {
      // Only numbers and numeric strings count; arrays, objects and other strings are ignored.
      const numbers: number[] = [];
      for (const e of selected) {
        const n = asNumber(readEventPath(e, agg.prop as string));
        if (n !== undefined) numbers.push(n);
      }
      if (fn === 'sum') return numbers.reduce((a, b) => a + b, 0);
      if (numbers.length === 0) return undefined;
      if (fn === 'avg') return numbers.reduce((a, b) => a + b, 0) / numbers.length;
      if (fn === 'min') return Math.min(...numbers);
      return Math.max(...numbers);
    }
    default:
      return undefined; // unknown functions are rejected at validation
  }
}

// ---------------------------------------------------------------------------------------
// Sequences

function sequenceHolds(c: JsonObject, events: readonly EventRecord[], now: number): boolean {
  const steps = c.sequence as JsonObject[];
  const maxGap = c.maxGap === undefined ? undefined : durationMs(c.maxGap as string);
  // Per step, every event that could play it: right name, `where` holds, inside the window.
  const candidates = steps.map((step) =>
    events.filter(
      (e) =>
        nameMatches(step.event as string, e) &&
        whereHolds(step.where, e, now) &&
        inWindow(c.window, e.timestamp, now),
    ),
  );
  let visited = 0;
  // Whether steps k.. can be completed after an event at `previous` depends on nothing else,
  // so remembering failures keeps the brute force polynomial without changing its answer.
  const failed = new Set<string>();
  // Brute force: try every choice of an event for step k after the one chosen for step k-1.
  const search = (k: number, previous: number | undefined): boolean => {
    if (k === steps.length) return true;
    const memoKey = `${k}:${previous}`;
    if (failed.has(memoKey)) return false;
    for (const e of candidates[k]) {
      if (++visited > SEQUENCE_SEARCH_CAP) {
        throw new Error('oracle: sequence search too large for the naive oracle');
      }
      if (previous !== undefined) {
        if (!(previous < e.timestamp)) continue;
        if (maxGap !== undefined && e.timestamp - previous > maxGap) continue;
      }
      if (search(k + 1, e.timestamp)) return true;
    }
    failed.add(memoKey);
    return false;
  };
  return search(0, undefined);
}

/** ignoreCase per docs/conditions.md: each code point lowered alone, kept when its lower case is longer. */
function naiveFold(s: string): string {
  return Array.from(s, (ch) => {
    const l = ch.toLowerCase();
    return Array.from(l).length === 1 ? l : ch;
  }).join('');
}
