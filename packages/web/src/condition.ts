/**
 * Helpers over the condition language's JSON (docs/reference.md §3) for the visual builder. The builder
 * edits the wire JSON itself (not a parsed AST), so the JSON view round-trips exactly:
 * whatever the builder does not know is kept as it is.
 */
import type { Json } from './types.ts';

export type Obj = { [k: string]: Json };
export type Kind = 'all' | 'any' | 'not' | 'attr' | 'event' | 'sequence' | 'segment' | 'bucket' | 'unknown';

export const KINDS: { kind: Exclude<Kind, 'unknown'>; label: string }[] = [
  { kind: 'attr', label: 'Attribute' },
  { kind: 'event', label: 'Event' },
  { kind: 'sequence', label: 'Sequence of events' },
  { kind: 'segment', label: 'In segment' },
  { kind: 'bucket', label: 'Random bucket' },
  { kind: 'all', label: 'All of (AND)' },
  { kind: 'any', label: 'Any of (OR)' },
  { kind: 'not', label: 'Not' },
];

export const OPS = ['eq', 'neq', 'in', 'nin', 'gt', 'gte', 'lt', 'lte', 'between', 'contains', 'not_contains', 'starts_with', 'ends_with', 'matches', 'exists', 'not_exists', 'before', 'after', 'within_last', 'more_than_ago'] as const;
export type Op = (typeof OPS)[number];
export const CMP_OPS: Op[] = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'between', 'in', 'nin', 'exists', 'not_exists', 'before', 'after', 'within_last', 'more_than_ago'];
export const AGG_FNS = ['count', 'sum', 'avg', 'min', 'max', 'distinctDays', 'firstAt', 'lastAt'] as const;
export const STRING_OPS: Op[] = ['eq', 'neq', 'in', 'nin', 'contains', 'not_contains', 'starts_with', 'ends_with', 'matches'];

export const OP_LABELS: Record<Op, string> = {
  eq: '=', neq: '≠', in: 'is one of', nin: 'is none of', gt: '>', gte: '≥', lt: '<', lte: '≤', between: 'between',
  contains: 'contains', not_contains: 'does not contain', starts_with: 'starts with', ends_with: 'ends with', matches: 'matches regex',
  exists: 'exists', not_exists: 'does not exist', before: 'before', after: 'after', within_last: 'within last', more_than_ago: 'more than … ago',
};

export const PROFILE_PATHS = ['userId', 'anonymousId', 'known', 'firstSeen', 'lastSeen', 'labels', 'traits.', 'context.device.type', 'context.locale', 'context.location.country', 'context.os.name', 'context.timezone'];
export const EVENT_PATHS = ['properties.', 'context.', 'event', 'timestamp'];

export function isObj(v: Json | undefined): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Which node of the language a JSON value is (by its distinguishing key). */
export function kindOf(c: Json): Kind {
  if (!isObj(c)) return 'unknown';
  for (const k of ['all', 'any', 'not', 'attr', 'sequence', 'segment', 'bucket'] as const) if (k in c) return k;
  if ('event' in c) return 'event';
  return 'unknown';
}

/** A fresh node of a kind, valid as it stands where possible. */
export function defaultOf(kind: Exclude<Kind, 'unknown'>): Obj {
  switch (kind) {
    case 'all': return { all: [] };
    case 'any': return { any: [] };
    case 'not': return { not: { attr: 'known', op: 'eq', value: true } };
    case 'attr': return { attr: 'traits.plan', op: 'eq', value: '' };
    case 'event': return { event: '$pageview', window: { within: '30d' } };
    case 'sequence': return { sequence: [{ event: 'add_to_cart' }, { event: 'purchase' }], window: { within: '7d' } };
    case 'segment': return { segment: '' };
    case 'bucket': return { bucket: { salt: 'experiment', from: 0, to: 5000 } };
  }
}

export function opTakesNoValue(op: string): boolean {
  return op === 'exists' || op === 'not_exists';
}

/** The text an input shows for an operand. Lists are comma-separated; other non-strings are JSON. */
export function valueToText(op: string, value: Json | undefined): string {
  if (value === undefined) return '';
  if ((op === 'in' || op === 'nin' || op === 'between') && Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ');
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

function scalar(text: string): Json {
  const t = text.trim();
  if (t === '') return '';
  if (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(t)) return Number(t);
  if (t === 'true') return true;
  if (t === 'false') return false;
  if (t === 'null') return null;
  return text;
}

/**
 * The operand for an operator from what was typed: numbers and booleans become JSON values,
 * `in`/`nin`/`between` take comma-separated lists; durations and dates stay strings.
 */
export function textToValue(op: string, text: string): Json {
  if (op === 'in' || op === 'nin' || op === 'between') return text.split(',').map((s) => s.trim()).filter((s) => s !== '').map(scalar);
  if (op === 'within_last' || op === 'more_than_ago' || op === 'before' || op === 'after') return text.trim();
  if (STRING_OPS.includes(op as Op) && op !== 'eq' && op !== 'neq') return text;
  return scalar(text);
}

/** Sets or drops the value of an attr/cmp node when its operator changes. */
export function withOp(node: Obj, op: string): Obj {
  const next: Obj = { ...node, op };
  if (opTakesNoValue(op)) {
    delete next.value;
    return next;
  }
  const old = node.value;
  const text = valueToText(String(node.op ?? ''), old);
  next.value = textToValue(op, text);
  return next;
}

/** Replaces the child at `index` of an array (immutably). */
export function replaceAt<T>(xs: readonly T[], index: number, value: T): T[] {
  return xs.map((x, i) => (i === index ? value : x));
}

export function removeAt<T>(xs: readonly T[], index: number): T[] {
  return xs.filter((_, i) => i !== index);
}

/** Parses the JSON view. Returns the value, or the parse error's message. */
export function parseJson(text: string): { ok: true; value: Json } | { ok: false; error: string } {
  try {
    const value = JSON.parse(text) as Json;
    if (!isObj(value)) return { ok: false, error: 'a condition is a JSON object' };
    return { ok: true, value };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

/**
 * True when a JSON Pointer (into the condition as sent) names this node, or a part of it that is
 * not itself a node (`/all/0/op`, `/all/0/where/1/value`): warnings name nodes, 400 issues name fields.
 */
export function pathHighlighted(paths: readonly string[], path: string): boolean {
  return paths.some((p) => {
    if (p === path || (path === '' && p === '/')) return true;
    if (!p.startsWith(`${path}/`)) return false;
    return !/^(all|any|not)(\/|$)/.test(p.slice(path.length + 1));
  });
}
