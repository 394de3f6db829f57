import { isoTime as iso } from './values.ts';
import type { Agg, Condition, EventNode, EventPath, Predicate, ProfilePath, SequenceNode, Test, Window } from './ast.ts';
import { assertNever } from './ast.ts';
import { bucketOf } from './bucket.ts';
import type { EventRecord, Json, ProfileRecord } from './data.ts';
import { isDerivedEvent } from './data.ts';
import { DAY_MS, HOUR_MS, MINUTE_MS } from './duration.ts';
import { aggregator, compileCondition, compilePredicate, eventGetter, profileGetter, windowTest } from './evaluate.ts';

/**
 * Why a condition holds or not for one profile at one instant: the tree of the condition, each
 * node with its value, and each leaf with the value it saw ("`$pageview` where properties.path
 * = "/pricing": 7 in the last 30 days (needs ≥ 5)").
 */
export interface Explanation {
  /** JSON Pointer of the node in the condition as written ("" for the root). */
  readonly path: string;
  readonly kind: Condition['kind'];
  readonly result: boolean;
  /** One line in words: what was tested, what was seen, and what was needed. */
  readonly text: string;
  /** The value the leaf saw (an attribute's value, an aggregate, a bucket); absent on groups. */
  readonly observed?: Json;
  readonly children?: readonly Explanation[];
}

/** What explain needs to know about a segment a condition references. */
export interface ReferencedSegment {
  readonly name: string;
  readonly condition: Condition | null;
  /** The profile is on the segment's manual include / exclude list. */
  readonly included: boolean;
  readonly excluded: boolean;
}

export type ExplainResolver = (id: string) => ReferencedSegment | undefined;

/** Explains a condition for a profile with all its events at `now`. */
export function explainCondition(c: Condition, profile: ProfileRecord, events: readonly EventRecord[], now: number, resolve: ExplainResolver = () => undefined): Explanation {
  return new Explainer(profile, events, now, resolve).node(c, '', 0);
}

/** Explains a segment's membership: its manual lists first, then its condition. */
export function explainSegment(s: ReferencedSegment, profile: ProfileRecord, events: readonly EventRecord[], now: number, resolve: ExplainResolver = () => undefined): { member: boolean; reason: 'excluded' | 'included' | 'condition' | 'no condition'; text: string; condition: Explanation | null } {
  const cond = s.condition ? explainCondition(s.condition, profile, events, now, resolve) : null;
  if (s.excluded) return { member: false, reason: 'excluded', text: `removed from "${s.name}" by hand (on its exclude list)`, condition: cond };
  if (s.included) return { member: true, reason: 'included', text: `added to "${s.name}" by hand (on its include list)`, condition: cond };
  if (!cond) return { member: false, reason: 'no condition', text: `"${s.name}" is a static list and the user is not on it`, condition: null };
  return { member: cond.result, reason: 'condition', text: cond.result ? `the condition of "${s.name}" holds` : `the condition of "${s.name}" does not hold`, condition: cond };
}

/** The leaf lines of an explanation, in condition order (for a compact "why"). */
export function explanationLines(e: Explanation): string[] {
  const line = `${e.result ? '✓' : '✗'} ${e.text}`;
  if (!e.children || e.kind === 'segment') return [line];
  if (e.kind === 'not') {
    // The negation decides the mark: a leaf under it is said in one line ("✓ not: … does not
    // hold"), a group under it is that line followed by its own lines, indented.
    const inner = e.children[0]!;
    return inner.children && inner.kind !== 'segment' ? [line, ...explanationLines(inner).map((l) => `  ${l}`)] : [line];
  }
  return e.children.flatMap(explanationLines);
}

/** Nesting depth of referenced segments an explanation opens (references cannot cycle; this bounds the size). */
const MAX_REF_DEPTH = 4;

/** A leaf as two statements: what was seen ("purchase count is 0") and what it tests ("purchase count ≥ 1"). */
interface Statement {
  readonly seen: string;
  readonly claim: string;
}

/**
 * A `not` node in words, led by what decides it: "not: purchase count is 0 all time, so
 * 'purchase count ≥ 1 all time' does not hold" (so a member who matched because of the negation
 * reads why it held, not a failed leaf).
 */
function negationText(inner: Explanation, leaf: Statement | undefined): string {
  const verdict = inner.result ? 'holds' : 'does not hold';
  if (leaf) return `not: ${leaf.seen}, so '${leaf.claim}' ${verdict}`;
  return `not: the inner condition (${inner.text}) ${verdict}`;
}

class Explainer {
  /** The statements of the leaves explained so far, for the `not` above them. */
  readonly statements = new WeakMap<Explanation, Statement>();

  constructor(
    private readonly profile: ProfileRecord,
    private readonly events: readonly EventRecord[],
    private readonly now: number,
    private readonly resolve: ExplainResolver,
  ) {}

  node(c: Condition, path: string, depth: number): Explanation {
    switch (c.kind) {
      case 'all': case 'any': {
        const children = c.children.map((x, i) => this.node(x, `${path}/${c.kind}/${i}`, depth));
        const held = children.filter((x) => x.result).length;
        const result = c.kind === 'all' ? held === children.length : held > 0;
        const text = children.length === 0
          ? (c.kind === 'all' ? 'all of nothing: always true' : 'any of nothing: always false')
          : `${c.kind} of ${children.length}: ${held} hold${held === 1 ? 's' : ''}`;
        return { path, kind: c.kind, result, text, children };
      }
      case 'not': {
        const child = this.node(c.child, `${path}/not`, depth);
        return { path, kind: 'not', result: !child.result, text: negationText(child, this.statements.get(child)), children: [child] };
      }
      case 'attr': {
        const v = profileGetter(c.path)(this.profile);
        const result = compilePredicate(c.predicate)(v, this.now);
        const seen = `${profilePathText(c.path)} is ${valueText(v, c.path.kind === 'field' && (c.path.field === 'firstSeen' || c.path.field === 'lastSeen'))}`;
        return this.said({ path, kind: 'attr', result, text: `${seen} (needs ${predicateText(c.predicate)})`, observed: toJson(v) }, seen, `${profilePathText(c.path)} ${predicateText(c.predicate)}`);
      }
      case 'event':
        return this.event(c, path);
      case 'sequence':
        return this.sequence(c, path);
      case 'segment': {
        const s = this.resolve(c.id);
        if (!s) return this.said({ path, kind: 'segment', result: false, text: `member of segment ${c.id}: no (the segment does not exist)` }, `segment ${c.id} does not exist`, `member of segment ${c.id}`);
        const said = (e: Explanation) => this.said(e, `the user is ${e.result ? '' : 'not '}a member of "${s.name}"`, `member of "${s.name}"`);
        if (depth >= MAX_REF_DEPTH) {
          // Beyond the bound, the membership is still exact; only its reasons are not opened.
          const member = !s.excluded && (s.included || (s.condition !== null && compileCondition(s.condition, this.refEvaluator())(this.profile, this.events, this.now)));
          return said({ path, kind: 'segment', result: member, text: `member of "${s.name}": ${member ? 'yes' : 'no'}` });
        }
        const inner = s.condition ? new Explainer(this.profile, this.events, this.now, this.resolve).node(s.condition, '', depth + 1) : null;
        const member = !s.excluded && (s.included || (inner?.result ?? false));
        const why = s.excluded ? ' (excluded by hand)' : s.included ? ' (included by hand)' : '';
        return said({ path, kind: 'segment', result: member, text: `member of "${s.name}": ${member ? 'yes' : 'no'}${why}`, ...(inner ? { children: [inner] } : {}) });
      }
      case 'bucket': {
        const id = this.profile.userId ?? this.profile.anonymousId;
        const b = id === null ? null : bucketOf(c.salt, id);
        const result = b !== null && b >= c.from && b < c.to;
        const seen = `bucket of "${c.salt}" is ${b ?? 'none (no id)'}`;
        return this.said({ path, kind: 'bucket', result, text: `${seen} (needs ${c.from} ≤ bucket < ${c.to})`, observed: b }, seen, `${c.from} ≤ bucket of "${c.salt}" < ${c.to}`);
      }
      default:
        return assertNever(c);
    }
  }

  /** Membership of referenced segments as plain evaluators (for references past the depth bound). */
  private refEvaluator() {
    const resolve = this.resolve;
    const cache = new Map<string, ((p: ProfileRecord, e: readonly EventRecord[], n: number) => boolean) | undefined>();
    const get = (id: string): ((p: ProfileRecord, e: readonly EventRecord[], n: number) => boolean) | undefined => {
      if (cache.has(id)) return cache.get(id);
      const s = resolve(id);
      const f = !s ? undefined : s.excluded ? () => false : s.included ? () => true : s.condition ? compileCondition(s.condition, get) : () => false;
      cache.set(id, f);
      return f;
    };
    return get;
  }

  private matching(name: string | null, where: EventNode['where'], window: Window): EventRecord[] {
    const inWindow = windowTest(window);
    const clauses = where.map((w) => ({ get: eventGetter(w.path), test: compilePredicate(w.predicate) }));
    return this.events.filter((e) => (name === null ? !isDerivedEvent(e.name) : e.name === name)
      && inWindow(e.timestamp, this.now) && clauses.every((w) => w.test(w.get(e), this.now)));
  }

  private event(c: EventNode, path: string): Explanation {
    const acc = aggregator(c.agg);
    for (const e of this.matching(c.name, c.where, c.window)) acc.add(e);
    const v = acc.result();
    const result = compilePredicate(c.cmp)(v, this.now);
    const subject = `${aggText(c.agg, c.name)}${whereText(c.where)}`;
    const seen = v === undefined ? 'none' : c.agg.fn === 'firstAt' || c.agg.fn === 'lastAt' ? new Date(v).toISOString() : formatNumber(v);
    const window = windowText(c.window);
    return this.said({ path, kind: 'event', result, text: `${subject}: ${seen} ${window} (needs ${predicateText(c.cmp)})`, observed: v ?? null },
      `${subject} is ${seen} ${window}`, `${subject} ${predicateText(c.cmp)} ${window}`);
  }

  private sequence(c: SequenceNode, path: string): Explanation {
    const result = compileCondition(c)(this.profile, this.events, this.now);
    const steps = c.steps.map((s) => `${eventName(s.name)}${whereText(s.where)}`).join(' → ');
    const counts = c.steps.map((s) => this.matching(s.name, s.where, c.window).length);
    const gap = c.maxGapMs === null ? '' : `, each step within ${durationText(c.maxGapMs)} of the previous`;
    return this.said({
      path, kind: 'sequence', result,
      text: `sequence ${steps} ${windowText(c.window)}${gap}: ${result ? 'found in order' : 'not found in order'} (matching events per step: ${counts.join(', ')})`,
      observed: counts,
    }, `the sequence ${steps} was ${result ? '' : 'not '}found in order ${windowText(c.window)}${gap}`, `sequence ${steps} in order ${windowText(c.window)}${gap}`);
  }

  private said(e: Explanation, seen: string, claim: string): Explanation {
    this.statements.set(e, { seen, claim });
    return e;
  }
}

const eventName = (name: string | null) => (name === null ? 'any event' : name);

function aggText(agg: Agg, name: string | null): string {
  const n = eventName(name);
  switch (agg.fn) {
    case 'count': return `${n} count`;
    case 'distinctDays': return `${n} distinct days`;
    case 'firstAt': return `first ${n}`;
    case 'lastAt': return `last ${n}`;
    default: return `${agg.fn} of ${eventPathText(agg.prop)} over ${n}`;
  }
}

function whereText(where: EventNode['where']): string {
  if (where.length === 0) return '';
  return ` where ${where.map((w) => `${eventPathText(w.path)} ${predicateText(w.predicate)}`).join(' and ')}`;
}

export function windowText(w: Window): string {
  switch (w.kind) {
    case 'all': return 'all time';
    case 'relative': return w.toMs === 0 ? `in the last ${durationText(w.fromMs)}` : `between ${durationText(w.fromMs)} and ${durationText(w.toMs)} ago`;
    case 'absolute':
      if (w.after !== null && w.before !== null) return `from ${iso(w.after)} until ${iso(w.before)}`;
      return w.after !== null ? `since ${iso(w.after)}` : `before ${iso(w.before!)}`;
  }
}

export function durationText(ms: number): string {
  const unit = (n: number, word: string) => `${formatNumber(n)} ${word}${n === 1 ? '' : 's'}`;
  if (ms % DAY_MS === 0) return unit(ms / DAY_MS, 'day');
  if (ms % HOUR_MS === 0) return unit(ms / HOUR_MS, 'hour');
  return unit(ms / MINUTE_MS, 'minute');
}


function profilePathText(p: ProfilePath): string {
  return p.kind === 'field' ? p.field : `${p.root}.${p.keys.join('.')}`;
}

function eventPathText(p: EventPath): string {
  return p.kind === 'field' ? p.field : `${p.root}.${p.keys.join('.')}`;
}

const SYMBOL: Partial<Record<Test['op'], [string, string]>> = {
  eq: ['=', '≠'], gt: ['>', 'not >'], gte: ['≥', 'not ≥'], lt: ['<', 'not <'], lte: ['≤', 'not ≤'],
  contains: ['contains', 'does not contain'], starts_with: ['starts with', 'does not start with'],
  ends_with: ['ends with', 'does not end with'], matches: ['matches', 'does not match'],
};

/** An operator application in words: "≥ 5", "in ["a", "b"]", "within the last 7 days", "missing". */
export function predicateText(p: Predicate): string {
  const t = p.test;
  const ic = p.ignoreCase ? ' (ignoring case)' : '';
  const not = p.negated;
  switch (t.op) {
    case 'exists': return not ? 'missing' : 'present';
    case 'in': return `${not ? 'not in' : 'in'} [${t.values.map((v) => JSON.stringify(v)).join(', ')}]${ic}`;
    case 'between': return `${not ? 'not between' : 'between'} ${JSON.stringify(t.lo)} and ${JSON.stringify(t.hi)}${ic}`;
    case 'matches': return `${not ? 'does not match' : 'matches'} /${t.pattern}/${ic}`;
    case 'before': case 'after': return `${not ? 'not ' : ''}${t.op} ${iso(t.time)}`;
    case 'within_last': return `${not ? 'not ' : ''}within the last ${durationText(t.ms)}`;
    case 'more_than_ago': return `${not ? 'not ' : ''}more than ${durationText(t.ms)} ago`;
    default: {
      const [pos, neg] = SYMBOL[t.op]!;
      return `${not ? neg : pos} ${JSON.stringify(t.value)}${ic}`;
    }
  }
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? n.toLocaleString('en-US') : String(Math.round(n * 1e6) / 1e6);
}

function valueText(v: unknown, time: boolean): string {
  if (v === undefined || v === null) return 'missing';
  if (time && typeof v === 'number') return iso(v);
  const s = JSON.stringify(v);
  return s.length > 120 ? `${s.slice(0, 117)}…` : s;
}

/** A value as JSON (functions and undefined become null; long strings are kept: the UI cuts them). */
function toJson(v: unknown): Json {
  if (v === undefined || typeof v === 'function') return null;
  return v as Json;
}
