/** Words for the hygiene messages: operators, windows, events and count ranges as a user reads them. */
import type { Test, Window } from '../ast.ts';
import type { CanonicalAgg, CanonicalWhere } from './canonical.ts';
import type { CountSet } from './value-sets.ts';

const DAY = 86_400_000, HOUR = 3_600_000, MINUTE = 60_000;

export function durationWords(ms: number): string {
  const [n, unit] = ms % DAY === 0 ? [ms / DAY, 'day'] : ms % HOUR === 0 ? [ms / HOUR, 'hour'] : [ms / MINUTE, 'minute'];
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

const iso = (t: number): string => {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString();
};

export const valueWords = (v: unknown): string => JSON.stringify(v);

/** "in the last 7 days", "between 37 days and 7 days ago", "since …"; empty for all time. */
export function windowWords(w: Window): string {
  switch (w.kind) {
    case 'all': return '';
    case 'relative':
      return w.toMs === 0 ? `in the last ${durationWords(w.fromMs)}` : `between ${durationWords(w.fromMs)} and ${durationWords(w.toMs)} ago`;
    case 'absolute':
      if (w.after !== null && w.before !== null) return `from ${iso(w.after)} to before ${iso(w.before)}`;
      return w.after !== null ? `since ${iso(w.after)}` : `before ${iso(w.before!)}`;
  }
}

/** A verb phrase for a test: "equal \"pro\"", "be ≥ 5", "be within the last 7 days", "be missing". */
export function testPhrase(test: Test, ic: boolean, negated: boolean): string {
  const icw = ic ? ' (ignoring case)' : '';
  switch (test.op) {
    case 'eq': return `${negated ? 'differ from' : 'equal'} ${valueWords(test.value)}${icw}`;
    case 'in': return `be ${negated ? 'none' : 'one'} of ${valueWords(test.values)}${icw}`;
    case 'exists': return negated ? 'be missing' : 'exist';
    case 'contains': return `${negated ? 'not ' : ''}contain ${valueWords(test.value)}${icw}`;
    default: {
      const p = positivePhrase(test) + icw;
      return negated ? `not ${p}` : p;
    }
  }
}

function positivePhrase(test: Test): string {
  switch (test.op) {
    case 'gt': return `be > ${valueWords(test.value)}`;
    case 'gte': return `be ≥ ${valueWords(test.value)}`;
    case 'lt': return `be < ${valueWords(test.value)}`;
    case 'lte': return `be ≤ ${valueWords(test.value)}`;
    case 'between': return `be between ${valueWords(test.lo)} and ${valueWords(test.hi)}`;
    case 'starts_with': return `start with ${valueWords(test.value)}`;
    case 'ends_with': return `end with ${valueWords(test.value)}`;
    case 'matches': return `match /${test.pattern}/`;
    case 'before': return `be before ${iso(test.time)}`;
    case 'after': return `be after ${iso(test.time)}`;
    case 'within_last': return `be within the last ${durationWords(test.ms)}`;
    case 'more_than_ago': return `be more than ${durationWords(test.ms)} ago`;
    case 'eq': return `equal ${valueWords(test.value)}`;
    case 'in': return `be one of ${valueWords(test.values)}`;
    case 'contains': return `contain ${valueWords(test.value)}`;
    case 'exists': return 'exist';
  }
}

/** "cannot A and B", saying "be" once when both phrases start with it; "equal both x and y" for two equalities. */
export function cannotBoth(subject: string, a: string, b: string): string {
  if (a.startsWith('equal ') && b.startsWith('equal ')) return `${subject} cannot equal both ${a.slice(6)} and ${b.slice(6)}`;
  if (a.startsWith('be ') && b.startsWith('be ')) return `${subject} cannot ${a} and ${b.slice(3)}`;
  return `${subject} cannot ${a} and ${b}`;
}

/** A where clause in short: `properties.path = "/pricing"`. */
export function clauseWords(w: CanonicalWhere): string {
  const v = (x: unknown) => valueWords(x);
  const t = w.test;
  const ic = w.ignoreCase ? ' (ignoring case)' : '';
  switch (t.op) {
    case 'eq': return `${w.path} ${w.negated ? '≠' : '='} ${v(t.value)}${ic}`;
    case 'in': return `${w.path} ${w.negated ? 'not in' : 'in'} ${v(t.values)}${ic}`;
    case 'exists': return `${w.path} ${w.negated ? 'is missing' : 'exists'}`;
    case 'contains': return `${w.path} ${w.negated ? 'does not contain' : 'contains'} ${v(t.value)}${ic}`;
    default: {
      const p = positiveClause(t);
      return `${w.negated ? 'not ' : ''}${w.path} ${p}${ic}`;
    }
  }
}

function positiveClause(t: Test): string {
  switch (t.op) {
    case 'gt': return `> ${valueWords(t.value)}`;
    case 'gte': return `≥ ${valueWords(t.value)}`;
    case 'lt': return `< ${valueWords(t.value)}`;
    case 'lte': return `≤ ${valueWords(t.value)}`;
    case 'between': return `between ${valueWords(t.lo)} and ${valueWords(t.hi)}`;
    case 'starts_with': return `starts with ${valueWords(t.value)}`;
    case 'ends_with': return `ends with ${valueWords(t.value)}`;
    case 'matches': return `matches /${t.pattern}/`;
    case 'before': return `before ${iso(t.time)}`;
    case 'after': return `after ${iso(t.time)}`;
    case 'within_last': return `within the last ${durationWords(t.ms)}`;
    case 'more_than_ago': return `more than ${durationWords(t.ms)} ago`;
    case 'eq': return `= ${valueWords(t.value)}`;
    case 'in': return `in ${valueWords(t.values)}`;
    case 'contains': return `contains ${valueWords(t.value)}`;
    case 'exists': return 'exists';
  }
}

/** A positive test on a subject in short: `traits.plan = "pro"`, `firstSeen within the last 7 days`. */
export const literalWords = (subject: string, t: Test, ic: boolean): string =>
  clauseWords({ path: subject, test: t, ignoreCase: ic, negated: false });

/** "purchase where properties.x = 5 in the last 7 days". */
export function eventWords(name: string | null, where: readonly CanonicalWhere[], window: Window): string {
  const parts = [name === null ? 'any event' : name];
  if (where.length) parts.push(`where ${where.map(clauseWords).join(' and ')}`);
  const w = windowWords(window);
  if (w) parts.push(w);
  return parts.join(' ');
}

export function aggWords(agg: CanonicalAgg, events: string): string {
  switch (agg.fn) {
    case 'count': return `count of ${events}`;
    case 'distinctDays': return `distinct days of ${events}`;
    case 'firstAt': return `first time of ${events}`;
    case 'lastAt': return `last time of ${events}`;
    default: return `${agg.fn} of ${agg.prop} over ${events}`;
  }
}

/** "≥ 5", "= 0", "between 1 and 3", "in {0, 2–4}". */
export function countSetWords(set: CountSet): string {
  if (set.length === 0) return 'nothing';
  const one = ([lo, hi]: readonly [number, number | null]): string =>
    hi === null ? `≥ ${lo}` : lo === hi ? `= ${lo}` : lo === 0 ? `≤ ${hi}` : `between ${lo} and ${hi}`;
  if (set.length === 1) return one(set[0]!);
  return `in {${set.map(([lo, hi]) => (hi === null ? `${lo}+` : lo === hi ? `${lo}` : `${lo}–${hi}`)).join(', ')}}`;
}
