import type {
  Agg, Condition, EventPath, Predicate, ProfileField, ProfilePath, Scalar, SequenceStep, Test,
  WhereClause, Window,
} from './ast.ts';
import { referencedSegments } from './ast.ts';
import { parseDuration } from './duration.ts';
import { limitText, MAX_CONDITION_DEPTH, MAX_CONDITION_NODES, MAX_CONDITION_STRING_LENGTH, MAX_EVENT_NAME_LENGTH, MAX_LIST_VALUES, MAX_PATH_KEYS, MAX_SEQUENCE_STEPS } from './limits.ts';
import { checkPattern, foldPattern } from './regex.ts';
import { isPlainObject, parseIsoTime, unstorableStrings } from './values.ts';

/** One fault, at a JSON Pointer into the condition. */
export interface Issue {
  readonly path: string;
  readonly message: string;
}

export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: readonly Issue[] };

export interface ParseContext {
  /**
   * The stored condition JSON of a segment (null for a static list), or undefined when no
   * such segment exists. Without it, every `{"segment": id}` is reported as unknown.
   */
  readonly segmentCondition?: (id: string) => unknown;
  /** The id of the segment being defined, so that a reference back to it is a cycle. */
  readonly selfId?: string;
}

/** Condition levels (root 0; each all/any/not adds one). At most 2 JSON levels each: json-depth.ts leaves room for the deepest. */
export const MAX_DEPTH = MAX_CONDITION_DEPTH;
export const MAX_NODES = MAX_CONDITION_NODES;
const MAX_STEPS = MAX_SEQUENCE_STEPS;
const MAX_LIST = MAX_LIST_VALUES;
const MAX_STRING = MAX_CONDITION_STRING_LENGTH;

const PROFILE_FIELDS: ReadonlySet<string> = new Set(['userId', 'anonymousId', 'known', 'firstSeen', 'lastSeen', 'labels']);
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'prototype', 'constructor']);

const OPS = {
  eq: ['eq', false], neq: ['eq', true], in: ['in', false], nin: ['in', true],
  gt: ['gt', false], gte: ['gte', false], lt: ['lt', false], lte: ['lte', false], between: ['between', false],
  contains: ['contains', false], not_contains: ['contains', true], starts_with: ['starts_with', false],
  ends_with: ['ends_with', false], matches: ['matches', false], exists: ['exists', false],
  not_exists: ['exists', true], before: ['before', false], after: ['after', false],
  within_last: ['within_last', false], more_than_ago: ['more_than_ago', false],
} as const satisfies Record<string, readonly [Test['op'], boolean]>;
export type Op = keyof typeof OPS;
export const OPERATORS = Object.keys(OPS) as Op[];
const STRING_OPS: ReadonlySet<string> = new Set(['contains', 'not_contains', 'starts_with', 'ends_with', 'matches']);
const AGG_FNS = ['count', 'sum', 'avg', 'min', 'max', 'distinctDays', 'firstAt', 'lastAt'] as const;

const escapePointer = (k: string | number) => String(k).replace(/~/g, '~0').replace(/\//g, '~1');

class Parser {
  readonly issues: Issue[] = [];
  /** Referenced segment ids, with the path of their first reference. */
  readonly refs = new Map<string, string>();
  nodes = 0;
  constructor(private readonly ctx: ParseContext) {}

  fail(path: string, message: string): null {
    this.issues.push({ path: path || '/', message });
    return null;
  }

  keys(obj: Record<string, unknown>, path: string, allowed: readonly string[]): void {
    for (const k of Object.keys(obj)) {
      if (!allowed.includes(k)) this.fail(`${path}/${escapePointer(k)}`, `unknown key "${k}" (allowed here: ${allowed.join(', ')})`);
    }
  }

  condition(input: unknown, path: string, depth: number): Condition | null {
    if (++this.nodes > MAX_NODES) return this.nodes === MAX_NODES + 1 ? this.fail(path, `a condition may have at most ${MAX_NODES} nodes (${limitText('MAX_CONDITION_NODES')})`) : null;
    if (depth > MAX_DEPTH) return this.fail(path, `conditions may nest at most ${MAX_DEPTH} levels (${limitText('MAX_CONDITION_DEPTH')})`);
    if (!isPlainObject(input)) return this.fail(path, 'expected a condition object');
    if ('all' in input || 'any' in input) {
      const kind = 'all' in input ? 'all' : 'any';
      this.keys(input, path, [kind]);
      const list = input[kind];
      if (!Array.isArray(list)) return this.fail(`${path}/${kind}`, `"${kind}" takes an array of conditions`);
      const children = list.map((c, i) => this.condition(c, `${path}/${kind}/${i}`, depth + 1));
      return children.every((c): c is Condition => c !== null) ? { kind, children } : null;
    }
    if ('not' in input) {
      this.keys(input, path, ['not']);
      const child = this.condition(input.not, `${path}/not`, depth + 1);
      return child && { kind: 'not', child };
    }
    if ('attr' in input) {
      this.keys(input, path, ['attr', 'op', 'value', 'ignoreCase']);
      const p = this.profilePath(input.attr, `${path}/attr`);
      const predicate = this.predicate(input, path, false);
      return p && predicate && { kind: 'attr', path: p, predicate };
    }
    if ('event' in input) {
      this.keys(input, path, ['event', 'where', 'window', 'agg', 'cmp']);
      const name = this.eventName(input.event, `${path}/event`);
      const where = this.where(input.where, `${path}/where`);
      const window = this.window(input.window, `${path}/window`);
      const agg = this.agg(input.agg, `${path}/agg`);
      const cmp = input.cmp === undefined
        ? { test: { op: 'gte', value: 1 }, negated: false, ignoreCase: false } satisfies Predicate
        : this.cmp(input.cmp, `${path}/cmp`);
      if (name === undefined || !where || !window || !agg || !cmp) return null;
      return { kind: 'event', name, where, window, agg, cmp };
    }
    if ('sequence' in input) {
      this.keys(input, path, ['sequence', 'window', 'maxGap']);
      const steps = this.steps(input.sequence, `${path}/sequence`);
      const window = this.window(input.window, `${path}/window`);
      let maxGapMs: number | null = null;
      if (input.maxGap !== undefined) {
        maxGapMs = parseDuration(input.maxGap);
        if (maxGapMs === null) this.fail(`${path}/maxGap`, durationMessage(input.maxGap));
      }
      if (!steps || !window || (input.maxGap !== undefined && maxGapMs === null)) return null;
      return { kind: 'sequence', steps, window, maxGapMs };
    }
    if ('segment' in input) {
      this.keys(input, path, ['segment']);
      const id = input.segment;
      if (typeof id !== 'string' || id === '') return this.fail(`${path}/segment`, 'expected a segment id (string)');
      if (this.ctx.selfId !== undefined && id === this.ctx.selfId) return this.fail(`${path}/segment`, `a segment cannot reference itself ("${id}")`);
      if (this.ctx.segmentCondition?.(id) === undefined) return this.fail(`${path}/segment`, `unknown segment id "${id}"`);
      if (!this.refs.has(id)) this.refs.set(id, `${path}/segment`);
      return { kind: 'segment', id };
    }
    if ('bucket' in input) {
      this.keys(input, path, ['bucket']);
      const b = input.bucket;
      if (!isPlainObject(b)) return this.fail(`${path}/bucket`, 'expected {"salt", "from", "to"}');
      this.keys(b, `${path}/bucket`, ['salt', 'from', 'to']);
      const before = this.issues.length;
      if (typeof b.salt !== 'string' || b.salt.length > MAX_STRING) this.fail(`${path}/bucket/salt`, `salt must be a string of at most ${MAX_STRING} characters (${limitText('MAX_CONDITION_STRING_LENGTH')})`);
      for (const k of ['from', 'to'] as const) {
        const v = b[k];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 10000) this.fail(`${path}/bucket/${k}`, `${k} must be an integer from 0 to 10000`);
      }
      if (this.issues.length > before) return null;
      const from = b.from as number, to = b.to as number;
      if (from >= to) return this.fail(`${path}/bucket`, `from (${from}) must be less than to (${to})`);
      return { kind: 'bucket', salt: b.salt as string, from, to };
    }
    const keys = Object.keys(input);
    return this.fail(path, keys.length === 0
      ? 'empty condition: expected one of all, any, not, attr, event, sequence, segment, bucket'
      : `unknown condition kind (keys: ${keys.join(', ')}); expected one of all, any, not, attr, event, sequence, segment, bucket`);
  }

  profilePath(input: unknown, path: string): ProfilePath | null {
    if (typeof input !== 'string') return this.fail(path, 'expected a profile path such as "traits.plan"');
    if (PROFILE_FIELDS.has(input)) return { kind: 'field', field: input as ProfileField };
    const [root, ...keys] = input.split('.');
    if (root === 'traits' || root === 'context') {
      return this.jsonKeys(keys, input, path) ? { kind: 'json', root, keys } : null;
    }
    return this.fail(path, `unknown profile path "${input}": use userId, anonymousId, known, firstSeen, lastSeen, labels, traits.<path> or context.<path>`);
  }

  eventPath(input: unknown, path: string): EventPath | null {
    if (typeof input !== 'string') return this.fail(path, 'expected an event path such as "properties.path"');
    if (input === 'event' || input === 'timestamp') return { kind: 'field', field: input };
    const [root, ...keys] = input.split('.');
    if (root === 'properties' || root === 'context') {
      return this.jsonKeys(keys, input, path) ? { kind: 'json', root, keys } : null;
    }
    return this.fail(path, `unknown event path "${input}": use event, timestamp, properties.<path> or context.<path>`);
  }

  jsonKeys(keys: string[], full: string, path: string): boolean {
    if (keys.length === 0) return !this.fail(path, `"${full}" needs a sub path, e.g. "${full}.name"`);
    if (keys.length > MAX_PATH_KEYS) return !this.fail(path, `"${full}" is deeper than ${MAX_PATH_KEYS} keys (${limitText('MAX_PATH_KEYS')})`);
    if (keys.some((k) => k === '')) return !this.fail(path, `"${full}" has an empty path segment`);
    const bad = keys.find((k) => FORBIDDEN_KEYS.has(k));
    if (bad) return !this.fail(path, `"${bad}" is not allowed in a path`);
    if (keys.some((k) => /["\\\u0000-\u001f]/.test(k))) return !this.fail(path, `"${full}": path segments may not contain quotes, backslashes or control characters`);
    return true;
  }

  eventName(input: unknown, path: string): string | null | undefined {
    if (typeof input !== 'string' || input === '' || input.length > MAX_EVENT_NAME_LENGTH) {
      this.fail(path, typeof input === 'string' && input !== ''
        ? `an event name has at most ${MAX_EVENT_NAME_LENGTH} characters (${limitText('MAX_EVENT_NAME_LENGTH')})`
        : 'expected an event name (non-empty string, or "*" for any event)');
      return undefined;
    }
    return input === '*' ? null : input;
  }

  predicate(input: Record<string, unknown>, path: string, isCmp: boolean): Predicate | null {
    const op = input.op;
    if (typeof op !== 'string' || !(op in OPS)) {
      return this.fail(`${path}/op`, `unknown operator ${JSON.stringify(op)}; expected one of ${OPERATORS.join(', ')}`);
    }
    if (isCmp && STRING_OPS.has(op)) return this.fail(`${path}/op`, `"${op}" cannot compare an aggregate; use a comparison operator`);
    let ignoreCase = false;
    if (input.ignoreCase !== undefined) {
      if (typeof input.ignoreCase !== 'boolean') this.fail(`${path}/ignoreCase`, 'ignoreCase must be a boolean');
      else ignoreCase = input.ignoreCase;
    }
    const [base, negated] = OPS[op as Op];
    const test = this.test(base, op, input.value, 'value' in input, `${path}/value`);
    if (test?.op === 'matches' && ignoreCase) {
      const fault = checkPattern(foldPattern(test.pattern));
      if (fault) return this.fail(`${path}/value`, `with ignoreCase the pattern is matched lower-cased, and then: ${fault}`);
    }
    return test && { test, negated, ignoreCase };
  }

  test(base: Test['op'], op: string, v: unknown, present: boolean, path: string): Test | null {
    const scalar = (x: unknown): x is Scalar =>
      (typeof x === 'string' && x.length <= MAX_STRING) || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x));
    const orderable = (x: unknown): x is string | number =>
      (typeof x === 'string' && x.length <= MAX_STRING) || (typeof x === 'number' && Number.isFinite(x));
    const tooLong = `a string compared by a condition has at most ${MAX_STRING} characters (${limitText('MAX_CONDITION_STRING_LENGTH')})`;
    if (typeof v === 'string' && v.length > MAX_STRING && base !== 'matches') return this.fail(path, tooLong);
    switch (base) {
      case 'exists':
        return present ? this.fail(path, `"${op}" takes no value`) : { op: base };
      case 'eq':
        return scalar(v) ? { op: base, value: v } : this.fail(path, `"${op}" needs a string, number or boolean value`);
      case 'in': {
        if (!Array.isArray(v) || v.length === 0 || v.length > MAX_LIST) return this.fail(path, `"${op}" needs a non-empty array of at most ${MAX_LIST} values (${limitText('MAX_LIST_VALUES')})`);
        const bad = v.findIndex((x) => !scalar(x));
        if (bad >= 0) return this.fail(`${path}/${bad}`, typeof v[bad] === 'string' ? tooLong : 'list values must be strings, numbers or booleans');
        return { op: base, values: v as Scalar[] };
      }
      case 'gt': case 'gte': case 'lt': case 'lte':
        return orderable(v) ? { op: base, value: v } : this.fail(path, `"${op}" needs a number or string value`);
      case 'between':
        if (!Array.isArray(v) || v.length !== 2) return this.fail(path, '"between" needs [low, high]');
        if (!orderable(v[0]) || !orderable(v[1])) return this.fail(path, '"between" bounds must be numbers or strings');
        return { op: base, lo: v[0], hi: v[1] };
      case 'contains': case 'starts_with': case 'ends_with':
        return typeof v === 'string' && v.length <= MAX_STRING ? { op: base, value: v } : this.fail(path, `"${op}" needs a string value`);
      case 'matches': {
        if (typeof v !== 'string') return this.fail(path, '"matches" needs a regular expression string');
        const fault = checkPattern(v);
        return fault ? this.fail(path, `unsupported regular expression: ${fault}`) : { op: base, pattern: v };
      }
      case 'before': case 'after': {
        const t = typeof v === 'string' ? parseIsoTime(v) : Number.NaN;
        return Number.isNaN(t) ? this.fail(path, `"${op}" needs an ISO date-time such as "2024-06-01T00:00:00Z"`) : { op: base, time: t };
      }
      case 'within_last': case 'more_than_ago': {
        const ms = parseDuration(v);
        return ms === null ? this.fail(path, durationMessage(v)) : { op: base, ms };
      }
    }
  }

  where(input: unknown, path: string): WhereClause[] | null {
    if (input === undefined) return [];
    if (!Array.isArray(input)) return this.fail(path, '"where" takes an array of {attr, op, value}');
    const out: WhereClause[] = [];
    let ok = true;
    input.forEach((w, i) => {
      const p = `${path}/${i}`;
      if (!isPlainObject(w)) { ok = !!this.fail(p, 'expected {attr, op, value}'); return; }
      this.keys(w, p, ['attr', 'op', 'value', 'ignoreCase']);
      const ep = this.eventPath(w.attr, `${p}/attr`);
      const pred = this.predicate(w, p, false);
      if (ep && pred) out.push({ path: ep, predicate: pred });
      else ok = false;
    });
    return ok ? out : null;
  }

  window(input: unknown, path: string): Window | null {
    if (input === undefined) return { kind: 'all' };
    if (!isPlainObject(input)) return this.fail(path, 'expected {"within"}, {"from", "to"} or {"after", "before"}');
    if ('within' in input) {
      this.keys(input, path, ['within']);
      const ms = parseDuration(input.within);
      return ms === null ? this.fail(`${path}/within`, durationMessage(input.within)) : { kind: 'relative', fromMs: ms, toMs: 0 };
    }
    if ('from' in input || 'to' in input) {
      this.keys(input, path, ['from', 'to']);
      const from = parseDuration(input.from);
      const to = parseDuration(input.to);
      if (from === null) this.fail(`${path}/from`, durationMessage(input.from));
      if (to === null) this.fail(`${path}/to`, durationMessage(input.to));
      if (from === null || to === null) return null;
      if (from <= to) return this.fail(`${path}/from`, `"from" (${input.from}) must be longer ago than "to" (${input.to})`);
      return { kind: 'relative', fromMs: from, toMs: to };
    }
    if ('after' in input || 'before' in input) {
      this.keys(input, path, ['after', 'before']);
      const t = (k: 'after' | 'before') => {
        if (input[k] === undefined) return null;
        const v = typeof input[k] === 'string' ? parseIsoTime(input[k] as string) : Number.NaN;
        if (Number.isNaN(v)) { this.fail(`${path}/${k}`, `"${k}" needs an ISO date-time`); return Number.NaN; }
        return v;
      };
      const after = t('after'), before = t('before');
      if (Number.isNaN(after) || Number.isNaN(before)) return null;
      if (after !== null && before !== null && after >= before) return this.fail(`${path}/after`, '"after" must be earlier than "before"');
      return { kind: 'absolute', after, before };
    }
    return this.fail(path, 'expected {"within"}, {"from", "to"} or {"after", "before"}');
  }

  agg(input: unknown, path: string): Agg | null {
    if (input === undefined) return { fn: 'count' };
    if (!isPlainObject(input)) return this.fail(path, 'expected {"fn", "prop"?}');
    const fn = input.fn;
    if (typeof fn !== 'string' || !(AGG_FNS as readonly string[]).includes(fn)) {
      return this.fail(`${path}/fn`, `unknown aggregate ${JSON.stringify(fn)}; expected one of ${AGG_FNS.join(', ')}`);
    }
    if (fn === 'sum' || fn === 'avg' || fn === 'min' || fn === 'max') {
      this.keys(input, path, ['fn', 'prop']);
      if (input.prop === undefined) return this.fail(`${path}/prop`, `"${fn}" needs "prop", e.g. "properties.revenue"`);
      const prop = this.eventPath(input.prop, `${path}/prop`);
      if (prop && prop.kind === 'field') return this.fail(`${path}/prop`, `"${fn}" needs a properties.<path> or context.<path>`);
      return prop && { fn, prop };
    }
    this.keys(input, path, ['fn']);
    return { fn: fn as 'count' | 'distinctDays' | 'firstAt' | 'lastAt' };
  }

  cmp(input: unknown, path: string): Predicate | null {
    if (!isPlainObject(input)) return this.fail(path, 'expected {"op", "value"}');
    this.keys(input, path, ['op', 'value']);
    return this.predicate(input, path, true);
  }

  steps(input: unknown, path: string): SequenceStep[] | null {
    if (!Array.isArray(input) || input.length === 0 || input.length > MAX_STEPS) {
      return this.fail(path, `"sequence" takes 1 to ${MAX_STEPS} steps (${limitText('MAX_SEQUENCE_STEPS')})`);
    }
    const out: SequenceStep[] = [];
    let ok = true;
    input.forEach((s, i) => {
      const p = `${path}/${i}`;
      if (!isPlainObject(s)) { ok = !!this.fail(p, 'expected {"event", "where"?}'); return; }
      this.keys(s, p, ['event', 'where']);
      const name = this.eventName(s.event, `${p}/event`);
      const where = this.where(s.where, `${p}/where`);
      if (name === undefined || !where) ok = false;
      else out.push({ name, where });
    });
    return ok ? out : null;
  }
}

function durationMessage(v: unknown): string {
  return `expected a duration such as "30d" (a whole number 1-999999 and a unit m, h, d or w), got ${JSON.stringify(v)}`;
}

/** Parses and validates a condition, returning every fault with its JSON path. Never throws. */
export function parseCondition(input: unknown, ctx: ParseContext = {}): Result<Condition> {
  // NUL characters (PostgreSQL refuses them, SQLite cuts text at them) and unpaired
  // surrogates (not Unicode text) cannot mean the same in every store.
  const unstorable = unstorableStrings(input);
  if (unstorable.length) return { ok: false, issues: unstorable.map((path) => ({ path, message: 'strings may not contain NUL characters or unpaired surrogates' })) };
  const p = new Parser(ctx);
  const value = p.condition(input, '', 0);
  if (p.issues.length === 0 && p.refs.size > 0 && ctx.segmentCondition) {
    for (const [id, path] of p.refs) {
      const cycle = findCycle(id, [...p.refs.keys()], ctx.selfId, ctx.segmentCondition);
      if (cycle) {
        p.fail(path, `reference cycle: ${cycle.join(' → ')}`);
        break;
      }
    }
  }
  if (p.issues.length > 0 || !value) return { ok: false, issues: p.issues };
  return { ok: true, value };
}

/**
 * Finds a cycle reachable through the reference `first` of the condition being parsed
 * (whose own references are `own`; it is segment `self` when that is given).
 */
function findCycle(first: string, own: string[], self: string | undefined, get: (id: string) => unknown): string[] | null {
  const refsOf = (id: string): string[] => {
    if (id === self) return own;
    const raw = get(id);
    if (raw === null || raw === undefined) return [];
    // Parse without the cycle check (that is what is being done here); unknown ids simply end the walk.
    const p = new Parser({ segmentCondition: (x) => (x === self ? null : get(x)) });
    const parsed = p.condition(raw, '', 0);
    return parsed ? referencedSegments(parsed) : [];
  };
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  if (self !== undefined) { state.set(self, 1); stack.push(self); }
  const visit = (id: string): string[] | null => {
    if (state.get(id) === 2) return null;
    if (state.get(id) === 1) return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 1);
    stack.push(id);
    for (const r of refsOf(id)) {
      const c = visit(r);
      if (c) return c;
    }
    stack.pop();
    state.set(id, 2);
    return null;
  };
  return visit(first);
}

