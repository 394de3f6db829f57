import { jsonTooDeep, MAX_JSON_DEPTH } from '@strata/core';
import type { StoreDialect } from './migrations.ts';

/** Rows per multi-row statement. */
export const CHUNK = 500;

const multiRowTexts = new Map<string, string>();

/**
 * The text of a multi-row INSERT into `table` of `rows` rows (`tail` after the VALUES, e.g. an
 * ON CONFLICT clause), made once per dialect, table and row count: the same text lets SQLite
 * reuse its prepared statement, where a query builder would build each anew.
 */
export function multiRowInsert(dialect: StoreDialect, table: string, columns: readonly string[], rows: number, tail = ''): string {
  const key = `${dialect} ${table} (${columns.join(', ')}) ${rows} ${tail}`;
  let text = multiRowTexts.get(key);
  if (!text) {
    let n = 0;
    const ph = () => (dialect === 'postgres' ? `$${++n}` : '?');
    const tuples = Array.from({ length: rows }, () => `(${columns.map(ph).join(', ')})`).join(', ');
    text = `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples}${tail ? ` ${tail}` : ''}`;
    multiRowTexts.set(key, text);
  }
  return text;
}

/**
 * JSON columns are text on SQLite and jsonb (parsed by the driver) on PostgreSQL. A value
 * nested deeper than MAX_JSON_DEPTH cannot be written any more, but one stored before the
 * limit (or behind Strata's back) reads as missing, with a warning, so it cannot break the
 * reads of everyone else (docs/api.md, "Nesting depth").
 */
export const readJson = <T>(v: unknown, fallback: T): T => {
  if (v === null || v === undefined) return fallback;
  // A text shorter than 2 × (limit + 1) characters cannot nest past the limit: skip the walk.
  if (typeof v === 'string' && v.length < 2 * (MAX_JSON_DEPTH + 1)) return JSON.parse(v) as T;
  const value = typeof v === 'string' ? JSON.parse(v) : v;
  if (!jsonTooDeep(value)) return value as T;
  warnTooDeep(typeof v === 'string' ? v : JSON.stringify(jsonHead(value)));
  return fallback;
};

/**
 * A JSON column that may hold a bare string at its top (an experience's default payload): on
 * PostgreSQL the driver gives jsonb values parsed, so a string there is the value itself, not
 * text to parse (which `readJson` would take it for).
 */
export const readJsonValue = <T>(dialect: 'sqlite' | 'postgres', v: unknown, fallback: T): T =>
  dialect === 'postgres' && typeof v === 'string' ? (v as T) : readJson(v, fallback);

/** Heads of the too-deep values already reported: each is read on every preview, but said once. */
const reportedTooDeep = new Set<string>();

function warnTooDeep(text: string): void {
  const head = text.slice(0, 120);
  if (reportedTooDeep.has(head)) return;
  if (reportedTooDeep.size >= 1000) reportedTooDeep.clear();
  reportedTooDeep.add(head);
  console.warn(`strata: a stored JSON value nests deeper than ${MAX_JSON_DEPTH} levels and is read as missing: ${head}…`);
}

/** The top level of a value with its containers elided (a stringify that cannot recurse). */
function jsonHead(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((x) => (x !== null && typeof x === 'object' ? '…' : x));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, x !== null && typeof x === 'object' ? '…' : x]));
  return value;
}

/**
 * `xs` in chunks of `n`, the rest in chunks of descending powers of two (130 → 128 + 2): the
 * statements built from chunks then have one of a few row counts, so the same few texts come
 * back and their prepared statements are reused (a multi-row statement takes SQLite 6–40 µs a
 * row to prepare, more than running it).
 */
export function chunks<T>(xs: readonly T[], n = CHUNK): T[][] {
  const out: T[][] = [];
  let i = 0;
  for (; xs.length - i >= n; i += n) out.push(xs.slice(i, i + n));
  for (let size = 1 << Math.floor(Math.log2(Math.max(1, xs.length - i))); i < xs.length; size >>= 1) {
    if (xs.length - i >= size) {
      out.push(xs.slice(i, i + size));
      i += size;
    }
  }
  return out;
}

/** A boolean as the dialect's column takes it: 1/0 on SQLite, a boolean on PostgreSQL. */
export const sqlBool = (dialect: StoreDialect, b: boolean): boolean | number => (dialect === 'sqlite' ? (b ? 1 : 0) : b);
