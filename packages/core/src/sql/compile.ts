import { sql, type RawBuilder, type SqlBool } from 'kysely';
import type { Agg, Condition, EventPath, Predicate, ProfilePath, Test, WhereClause, Window } from '../ast.ts';
import { assertNever } from '../ast.ts';
import { EVENT_OWN_CONTEXT_KEYS } from '../data.ts';
import { compilePredicate } from '../evaluate.ts';
import { foldCase, isNumericString } from '../values.ts';
import type { Sql, SqlDialect, SqlView } from './dialect.ts';

/** What a compiled condition may reference; tables are `profiles p`, `events`, `segment_includes`, `segment_excludes`. */
export interface SqlCompileOptions {
  readonly dialect: SqlDialect;
  readonly projectId: string;
  /** Evaluation time, epoch ms. */
  readonly now: number;
  /** The stored definition of a referenced segment (undefined when it no longer exists). */
  readonly resolveSegment: (id: string) => { readonly condition: Condition | null } | undefined;
  /** Alias of the profiles table in the enclosing query (default `p`). */
  readonly profileAlias?: string;
}

const q = (s: string) => sql.raw(s);

/**
 * Compiles a condition to a SQL boolean over one row of `profiles` (never NULL), for the
 * given dialect and instant. Behavioural leaves become set membership tests
 * (`p.id IN (SELECT profile_id … GROUP BY … HAVING …)`), which a store evaluates once per
 * query rather than once per profile.
 */
export function compileConditionSql(c: Condition, opts: SqlCompileOptions): RawBuilder<SqlBool> {
  return new SqlCompiler(opts).condition(c) as RawBuilder<SqlBool>;
}

class SqlCompiler {
  private readonly d: SqlDialect;
  private readonly p: string;
  constructor(private readonly o: SqlCompileOptions) {
    this.d = o.dialect;
    this.p = o.profileAlias ?? 'p';
  }

  condition(c: Condition): Sql {
    const d = this.d;
    switch (c.kind) {
      case 'all':
        return c.children.length === 0 ? d.true : sql`(${sql.join(c.children.map((x) => this.condition(x)), sql` AND `)})`;
      case 'any':
        return c.children.length === 0 ? d.false : sql`(${sql.join(c.children.map((x) => this.condition(x)), sql` OR `)})`;
      case 'not':
        return sql`(NOT ${this.condition(c.child)})`;
      case 'attr':
        return this.predicate(c.predicate, this.profileView(c.path));
      case 'event':
        return this.eventLeaf(c.name, c.where, c.window, c.agg, c.cmp);
      case 'sequence':
        return this.sequence(c);
      case 'segment':
        return this.segmentRef(c.id);
      case 'bucket': {
        const p = this.p;
        const b = d.bucket(c.salt, q(`COALESCE(${p}.user_id, ${p}.anonymous_id)`));
        return sql`COALESCE(${b} >= ${d.num(c.from)} AND ${b} < ${d.num(c.to)}, ${d.false})`;
      }
      default:
        return assertNever(c);
    }
  }

  private column(expr: string, type: 'str' | 'num' | 'bool', nullable: boolean): SqlView {
    const e = q(expr);
    return {
      str: type === 'str' ? e : null,
      num: type === 'num' ? e : null,
      bool: type === 'bool' ? e : null,
      exists: nullable ? q(`(${expr} IS NOT NULL)`) : this.d.true,
      elements: null,
    };
  }

  private profileView(path: ProfilePath): SqlView {
    const p = this.p;
    if (path.kind === 'json') return this.d.json(q(`${p}.${path.root}`), path.keys);
    switch (path.field) {
      case 'userId': return this.column(`${p}.user_id`, 'str', true);
      case 'anonymousId': return this.column(`${p}.anonymous_id`, 'str', true);
      case 'known': return this.column(`(${p}.user_id IS NOT NULL)`, 'bool', false);
      case 'firstSeen': return this.column(`${p}.first_seen`, 'num', true);
      case 'lastSeen': return this.column(`${p}.last_seen`, 'num', true);
      case 'labels': return this.d.json(q(`${p}.labels`), []);
    }
  }

  private eventView(path: EventPath, e: string): SqlView {
    if (path.kind === 'json') {
      // An event's context is stored in two parts: its own keys (page, campaign, referrer)
      // with the event, the rest once per distinct value in `contexts`.
      const column = path.root === 'properties' ? q(`${e}.properties`)
        : EVENT_OWN_CONTEXT_KEYS.has(path.keys[0]!) ? q(`${e}.context_own`)
        : q(`(SELECT c.json FROM contexts c WHERE c.id = ${e}.context_id)`);
      return this.d.json(column, path.keys);
    }
    return path.field === 'event' ? this.column(`${e}.name`, 'str', false) : this.column(`${e}.ts`, 'num', false);
  }

  /** A predicate over a view: never NULL. */
  predicate(pred: Predicate, v: SqlView): Sql {
    let positive: Sql;
    if (pred.test.op === 'exists') {
      positive = v.exists;
    } else {
      const scalar = this.coalesce(this.test(pred.test, pred.ignoreCase, v));
      // On an array, `contains` tests membership (docs/reference.md §3): an element equal to the value.
      const elementTest: Test = pred.test.op === 'contains' ? { op: 'eq', value: pred.test.value } : pred.test;
      positive = v.elements
        ? sql`(${scalar} OR EXISTS (SELECT 1 FROM ${v.elements.from} WHERE ${this.coalesce(this.test(elementTest, pred.ignoreCase, v.elements.view))}))`
        : scalar;
    }
    return pred.negated ? sql`(NOT ${positive})` : positive;
  }

  private coalesce(x: Sql | null): Sql {
    return x === null ? this.d.false : sql`COALESCE(${x}, ${this.d.false})`;
  }

  private or(parts: (Sql | null)[]): Sql | null {
    const xs = parts.filter((x): x is Sql => x !== null).map((x) => this.coalesce(x));
    if (xs.length === 0) return null;
    return xs.length === 1 ? xs[0]! : sql`(${sql.join(xs, sql` OR `)})`;
  }

  private numberOf(v: SqlView): Sql | null {
    if (v.num && v.str) return sql`COALESCE(${v.num}, ${this.d.numeric(v.str)})`;
    if (v.num) return v.num;
    if (v.str) return this.d.numeric(v.str);
    return null;
  }

  private timeOf(v: SqlView): Sql | null {
    if (v.num && v.str) return sql`COALESCE(${v.num}, ${this.d.time(v.str)})`;
    if (v.num) return v.num;
    if (v.str) return this.d.time(v.str);
    return null;
  }

  /** compare(v, x) `op` per docs/conditions.md, for a string or number operand. */
  private order(v: SqlView, op: '<' | '<=' | '>' | '>=' | '=', x: string | number, ic: boolean): Sql | null {
    const d = this.d;
    if (typeof x === 'number') {
      const n = this.numberOf(v);
      return n && sql`(${n} ${q(op)} ${d.num(x)})`;
    }
    const s = v.str && (ic ? d.compareText(d.lower(v.str), op, d.text(foldCase(x))) : d.compareText(v.str, op, d.text(x)));
    const n = v.num && isNumericString(x) ? sql`(${v.num} ${q(op)} ${d.num(Number(x))})` : null;
    return this.or([s, n]);
  }

  /**
   * `in` as one SQL `IN` per type (each face of the value read once), not an OR of `eq`s —
   * the same answers as `eq` on each element: strings compare as strings (folded with
   * ignoreCase), a number or a numeric-string operand compares numerically with a number.
   */
  private inList(values: readonly (string | number | boolean)[], ic: boolean, v: SqlView): Sql | null {
    const d = this.d;
    const strings = values.filter((x): x is string => typeof x === 'string');
    const numbers = values.filter((x): x is number => typeof x === 'number');
    const bools = values.filter((x): x is boolean => typeof x === 'boolean');
    const list = (xs: Sql[]) => sql.join(xs);
    const parts: (Sql | null)[] = [];
    if (strings.length && v.str) {
      parts.push(ic
        ? sql`(${d.lower(v.str)} IN (${list([...new Set(strings.map(foldCase))].map((x) => d.text(x)))}))`
        : sql`(${v.str} IN (${list([...new Set(strings)].map((x) => d.text(x)))}))`);
    }
    const forNumbers = [...new Set([...numbers, ...strings.filter(isNumericString).map(Number)])];
    if (forNumbers.length && v.num) parts.push(sql`(${v.num} IN (${list(forNumbers.map((x) => d.num(x)))}))`);
    if (numbers.length && v.str) parts.push(sql`(${d.numeric(v.str)} IN (${list([...new Set(numbers)].map((x) => d.num(x)))}))`);
    if (bools.length && v.bool) parts.push(sql`(${v.bool} IN (${list([...new Set(bools)].map((x) => d.bool(x)))}))`);
    return this.or(parts);
  }

  private test(t: Test, ic: boolean, v: SqlView): Sql | null {
    const d = this.d;
    switch (t.op) {
      case 'exists':
        return v.exists;
      case 'eq':
        if (typeof t.value === 'boolean') return v.bool && sql`(${v.bool} = ${d.bool(t.value)})`;
        return this.order(v, '=', t.value, ic);
      case 'in':
        return this.inList(t.values, ic, v);
      case 'gt': return this.order(v, '>', t.value, ic);
      case 'gte': return this.order(v, '>=', t.value, ic);
      case 'lt': return this.order(v, '<', t.value, ic);
      case 'lte': return this.order(v, '<=', t.value, ic);
      case 'between': {
        const lo = this.order(v, '>=', t.lo, ic), hi = this.order(v, '<=', t.hi, ic);
        return lo && hi && sql`(${this.coalesce(lo)} AND ${this.coalesce(hi)})`;
      }
      case 'contains': case 'starts_with': case 'ends_with': {
        if (!v.str) return null;
        const s = ic ? d.lower(v.str) : v.str;
        const x = d.text(ic ? foldCase(t.value) : t.value);
        return t.op === 'contains' ? d.contains(s, x) : t.op === 'starts_with' ? d.startsWith(s, x) : d.endsWith(s, x);
      }
      case 'matches':
        return v.str && d.regexp(v.str, t.pattern, ic);
      case 'before': case 'after': {
        const tm = this.timeOf(v);
        return tm && sql`(${tm} ${q(t.op === 'before' ? '<' : '>')} ${d.num(t.time)})`;
      }
      case 'within_last': {
        const tm = this.timeOf(v);
        return tm && sql`(${tm} > ${d.num(this.o.now - t.ms)} AND ${tm} <= ${d.num(this.o.now)})`;
      }
      case 'more_than_ago': {
        const tm = this.timeOf(v);
        return tm && sql`(${tm} <= ${d.num(this.o.now - t.ms)})`;
      }
      default:
        return assertNever(t);
    }
  }

  private eventFilter(name: string | null, where: readonly WhereClause[], window: Window, e: string): Sql[] {
    const d = this.d;
    const parts: Sql[] = [name === null ? sql`${q(e)}.derived = ${d.false}` : sql`${q(e)}.name = ${d.text(name)}`];
    const now = this.o.now;
    // Each lower bound on the time is also given as the bound the store's events-by-name index
    // seeks on (`seenFrom`), which changes no result.
    if (window.kind === 'relative') {
      parts.push(d.seenFrom(e, now - window.fromMs), sql`${q(e)}.ts > ${d.num(now - window.fromMs)}`, sql`${q(e)}.ts <= ${d.num(now - window.toMs)}`);
    } else if (window.kind === 'absolute') {
      if (window.after !== null) parts.push(d.seenFrom(e, window.after), sql`${q(e)}.ts >= ${d.num(window.after)}`);
      if (window.before !== null) parts.push(sql`${q(e)}.ts < ${d.num(window.before)}`);
    }
    for (const w of where) parts.push(this.predicate(w.predicate, this.eventView(w.path, e)));
    return parts;
  }

  private aggregate(agg: Agg): Sql {
    const d = this.d;
    switch (agg.fn) {
      case 'count': return sql`count(*)`;
      case 'distinctDays': return sql`count(DISTINCT ${d.day(q('e.ts'))})`;
      case 'firstAt': return sql`min(e.ts)`;
      case 'lastAt': return sql`max(e.ts)`;
      default: {
        const n = this.numberOf(this.eventView(agg.prop, 'e'))!;
        return agg.fn === 'sum' ? d.sum(n) : agg.fn === 'avg' ? d.avg(n) : sql`${q(agg.fn)}(${n})`;
      }
    }
  }

  private eventLeaf(name: string | null, where: readonly WhereClause[], window: Window, agg: Agg, cmp: Predicate): Sql {
    const d = this.d;
    const value = this.aggregate(agg);
    const having = this.predicate(cmp, { str: null, num: value, bool: null, exists: sql`(${value} IS NOT NULL)`, elements: null });
    const zero = agg.fn === 'count' || agg.fn === 'distinctDays' || agg.fn === 'sum' ? 0 : undefined;
    // A profile without matching events never appears in the grouped set: decide it by the
    // aggregate's zero value, so the set is either the profiles that pass or those that fail.
    const zeroPasses = compilePredicate(cmp)(zero, this.o.now);
    const filter = sql.join(this.eventFilter(name, where, window, 'e'), sql` AND `);
    const groups = sql`SELECT e.profile_id FROM events e WHERE e.project_id = ${d.text(this.o.projectId)} AND ${filter} GROUP BY e.profile_id`;
    const id = q(`${this.p}.id`);
    return zeroPasses
      ? sql`(${id} NOT IN (${groups} HAVING NOT ${having}))`
      : sql`(${id} IN (${groups} HAVING ${having}))`;
  }

  private sequence(c: Extract<Condition, { kind: 'sequence' }>): Sql {
    const d = this.d;
    const from: Sql[] = [sql`events e0`];
    const where: Sql[] = [sql`e0.project_id = ${d.text(this.o.projectId)}`];
    c.steps.forEach((s, i) => {
      const e = `e${i}`;
      if (i > 0) {
        const prev = `e${i - 1}`;
        const on = [q(`${e}.project_id = ${prev}.project_id AND ${e}.profile_id = ${prev}.profile_id AND ${e}.ts > ${prev}.ts`)];
        if (c.maxGapMs !== null) on.push(sql`${q(e)}.ts - ${q(prev)}.ts <= ${d.num(c.maxGapMs)}`);
        from.push(sql`JOIN events ${q(e)} ON ${sql.join(on, sql` AND `)}`);
      }
      where.push(...this.eventFilter(s.name, s.where, c.window, e));
    });
    return sql`(${q(`${this.p}.id`)} IN (SELECT e0.profile_id FROM ${sql.join(from, sql` `)} WHERE ${sql.join(where, sql` AND `)}))`;
  }

  private segmentRef(id: string): Sql {
    const seg = this.o.resolveSegment(id);
    if (!seg) return this.d.false;
    const d = this.d;
    const pid = q(`${this.p}.id`);
    const project = d.text(this.o.projectId);
    const cond = seg.condition ? this.condition(seg.condition) : d.false;
    return sql`((${cond} OR ${pid} IN (SELECT i.profile_id FROM segment_includes i WHERE i.project_id = ${project} AND i.segment_id = ${d.text(id)})) AND ${pid} NOT IN (SELECT x.profile_id FROM segment_excludes x WHERE x.project_id = ${project} AND x.segment_id = ${d.text(id)}))`;
  }
}
