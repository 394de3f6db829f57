import { sql, type RawBuilder } from 'kysely';
import { foldPattern, MATCH_INPUT_LIMIT, toPostgresPattern } from '../regex.ts';

export type Sql = RawBuilder<unknown>;

/**
 * The typed faces of one value in SQL. Each expression is NULL unless the value has that
 * type, so an operator is compiled once against this shape whatever the value's source
 * (a JSON path, a plain column, an aggregate, an array element).
 */
export interface SqlView {
  readonly str: Sql | null;
  readonly num: Sql | null;
  readonly bool: Sql | null;
  /** True (never NULL) when the value is not missing. */
  readonly exists: Sql;
  /** When the value may be a JSON array: a FROM item over its elements (alias `x`) and the element view. */
  readonly elements: { readonly from: Sql; readonly view: SqlView } | null;
}

/**
 * What differs between SQLite and PostgreSQL, as small hooks (the shape of Kysely's
 * dialect adapters): JSON access, text helpers and the functions Strata registers or
 * creates in each store (strata_num, strata_time, strata_bucket, strata_lower, strata_regexp).
 */
export interface SqlDialect {
  readonly name: 'sqlite' | 'postgres';
  readonly true: Sql;
  readonly false: Sql;
  /** The view of a JSON value at `keys` below a JSON column (keys may be empty: the column itself). */
  json(column: Sql, keys: readonly string[]): SqlView;
  /** A bound text parameter. */
  text(value: string): Sql;
  /** A bound numeric (double precision) parameter. */
  num(value: number): Sql;
  /** A bound boolean, as the dialect compares it. */
  bool(value: boolean): Sql;
  /** Number of a numeric string, or NULL. */
  numeric(str: Sql): Sql;
  /** Epoch ms of a time-value string, or NULL. */
  time(str: Sql): Sql;
  /** Lower-case exactly as core's foldCase. */
  lower(str: Sql): Sql;
  /** Code-point order comparison of two text expressions. */
  compareText(a: Sql, op: '<' | '<=' | '>' | '>=' | '=', b: Sql): Sql;
  contains(str: Sql, part: Sql): Sql;
  startsWith(str: Sql, part: Sql): Sql;
  endsWith(str: Sql, part: Sql): Sql;
  regexp(str: Sql, pattern: string, ignoreCase: boolean): Sql;
  /** GrowthBook v2 bucket (0..9999) of `id` under `salt`. */
  bucket(salt: string, id: Sql): Sql;
  /** floor(ms / 86400000) as an integer day number. */
  day(ms: Sql): Sql;
  /**
   * A bound the store's events-by-name index seeks on, true of every event (of `table`, an alias,
   * or the unqualified `events`) whose time is at or after `ms`, and of some earlier ones: its key
   * is the later of the event's time and its arrival (store migration 0021). Narrows a read
   * bounded below by time without changing its rows.
   */
  seenFrom(table: string | null, ms: number): Sql;
  /** Sum of a numeric expression over a group: 0 over no rows, never an overflow error (±Infinity instead). */
  sum(x: Sql): Sql;
  /** Average over a group: NULL over no rows, never an overflow error. */
  avg(x: Sql): Sql;
}

const q = (s: string) => sql.raw(s);

export const sqliteDialect: SqlDialect = {
  name: 'sqlite',
  true: q('1'),
  false: q('0'),
  json(stored, keys) {
    // A document SQLite cannot parse (nested past its 1,000 levels: stored before Strata's
    // depth limit) is missing, instead of failing the whole query with "malformed JSON".
    const column = sql`(CASE WHEN json_valid(${stored}) THEN ${stored} END)`;
    // Keys never hold '"' or '\\' (parse.ts rejects them), so quoting each label is enough.
    const path = sql`${keys.length === 0 ? '$' : '$' + keys.map((k) => `."${k}"`).join('')}`;
    const type = sql`json_type(${column}, ${path})`;
    const val = sql`json_extract(${column}, ${path})`;
    return {
      str: sql`(CASE WHEN ${type} = 'text' THEN ${val} END)`,
      num: sql`(CASE WHEN ${type} IN ('integer', 'real') THEN ${val} END)`,
      bool: sql`(CASE ${type} WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)`,
      exists: sql`(COALESCE(${type} NOT IN ('null', 'array'), 0) OR COALESCE(json_array_length(${column}, ${path}), 0) > 0)`,
      elements: {
        from: sql`json_each(CASE WHEN ${type} = 'array' THEN ${column} END, ${path}) AS x`,
        view: {
          str: q(`(CASE WHEN x.type = 'text' THEN x.value END)`),
          num: q(`(CASE WHEN x.type IN ('integer', 'real') THEN x.value END)`),
          bool: q(`(CASE x.type WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)`),
          exists: q(`(x.type <> 'null')`),
          elements: null,
        },
      },
    };
  },
  text: (v) => sql`${v}`,
  num: (v) => sql`${v}`,
  bool: (v) => q(v ? '1' : '0'),
  numeric: (s) => sql`strata_num(${s})`,
  time: (s) => sql`strata_time(${s})`,
  lower: (s) => sql`strata_lower(${s})`,
  compareText: (a, op, b) => sql`(${a} ${q(op)} ${b})`,
  contains: (s, p) => sql`(instr(${s}, ${p}) > 0)`,
  startsWith: (s, p) => sql`(substr(${s}, 1, length(${p})) = ${p})`,
  endsWith: (s, p) => sql`(${s} IS NOT NULL AND (length(${p}) = 0 OR substr(${s}, -length(${p})) = ${p}))`,
  regexp: (s, pattern, ic) => sql`strata_regexp(${pattern}, ${ic ? 1 : 0}, ${s})`,
  bucket: (salt, id) => sql`strata_bucket(${salt}, ${id})`,
  day: (ms) => sql`CAST(floor(${ms} / 86400000.0) AS INTEGER)`,
  // The index's expression exactly as migration 0021 writes it (SQLite matches it by shape).
  seenFrom: (t, ms) => sql`max(${q(t ? `${t}.ts` : 'ts')}, ${q(t ? `${t}.received_at` : 'received_at')}) >= ${Math.floor(ms)}`,
  sum: (x) => sql`total(${x})`,
  avg: (x) => sql`avg(${x})`,
};

export const postgresDialect: SqlDialect = {
  name: 'postgres',
  true: q('TRUE'),
  false: q('FALSE'),
  json(column, keys) {
    // Chained `->` with text keys: unlike `#>`, a key never indexes into an array.
    let v: Sql = column;
    keys.forEach((k, i) => {
      v = i === 0 ? sql`(${v} -> ${k}::text)` : sql`(CASE WHEN jsonb_typeof(${v}) = 'object' THEN ${v} -> ${k}::text END)`;
    });
    return pgView(v, true);
  },
  text: (v) => sql`${v}::text`,
  num: (v) => sql`${v}::float8`,
  bool: (v) => q(v ? 'TRUE' : 'FALSE'),
  numeric: (s) => sql`strata_num(${s})`,
  time: (s) => sql`strata_time(${s})`,
  lower: (s) => sql`strata_lower(${s})`,
  compareText: (a, op, b) => sql`(${a} COLLATE "C" ${q(op)} ${b})`,
  contains: (s, p) => sql`(strpos(${s}, ${p}) > 0)`,
  startsWith: (s, p) => sql`starts_with(${s}, ${p})`,
  endsWith: (s, p) => sql`(right(${s}, length(${p})) = ${p})`,
  // left() counts characters (code points), as matchInput does: a pattern reads the first MATCH_INPUT_LIMIT of them.
  regexp: (s, pattern, ic) => (ic
    ? sql`(strata_lower(left(${s}, ${q(String(MATCH_INPUT_LIMIT))})) ~ ${toPostgresPattern(foldPattern(pattern))}::text)`
    : sql`(left(${s}, ${q(String(MATCH_INPUT_LIMIT))}) ~ ${toPostgresPattern(pattern)}::text)`),
  bucket: (salt, id) => sql`strata_bucket(${salt}::text, ${id})`,
  day: (ms) => sql`floor(${ms} / 86400000.0)::bigint`,
  // A bigint bound: compared with a float8 the index could not seek.
  seenFrom: (t, ms) => sql`greatest(${q(t ? `${t}.ts` : 'ts')}, ${q(t ? `${t}.received_at` : 'received_at')}) >= ${Math.floor(ms)}::int8`,
  sum: (x) => sql`strata_float(COALESCE(sum((${x})::numeric), 0))`,
  avg: (x) => sql`strata_float(avg((${x})::numeric))`,
};

function pgView(v: Sql, withElements: boolean): SqlView {
  const type = sql`jsonb_typeof(${v})`;
  return {
    str: sql`(CASE WHEN ${type} = 'string' THEN ${v} #>> '{}' END)`,
    num: sql`(CASE WHEN ${type} = 'number' THEN (${v})::float8 END)`,
    bool: sql`(CASE WHEN ${type} = 'boolean' THEN (${v})::boolean END)`,
    exists: withElements
      ? sql`COALESCE(${type} NOT IN ('null', 'array') OR (${type} = 'array' AND jsonb_array_length(${v}) > 0), FALSE)`
      : sql`COALESCE(${type} <> 'null', FALSE)`,
    elements: withElements
      ? { from: sql`jsonb_array_elements(CASE WHEN ${type} = 'array' THEN ${v} END) AS x(v)`, view: pgView(q('x.v'), false) }
      : null,
  };
}
