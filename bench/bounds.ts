/**
 * The cost of the regular-expression and JSON-depth bounds (docs/conditions.md, docs/api.md).
 * Regex: the costliest accepted pattern on long values through compileMatcher (which reads the
 * first 1,000 characters), against the same RE2 program reading the whole value, as before
 * the bound. Depth: the walk every stored document read now makes, against the JSON.parse
 * it follows. Run: npm run bench:bounds
 */
import { RE2JS } from 're2js';
import { compileMatcher, jsonTooDeep } from '@strata/core';
import { bestOf, table } from './lib.ts';

const WORST_ACCEPTED = '((a?){1,10}){1,9}$';
const bounded = compileMatcher(WORST_ACCEPTED, false);
const whole = RE2JS.compile(WORST_ACCEPTED, RE2JS.DOTALL);
const rows: (string | number)[][] = [['measure', 'ms (best of 5)', 'vs baseline']];
for (const length of [16_000, 30_000]) {
  const value = 'a'.repeat(length);
  const before = bestOf(5, () => whole.matcher(value).find());
  const after = bestOf(5, () => bounded(value));
  rows.push([`${WORST_ACCEPTED} on ${length} chars, whole value (baseline)`, before.ms, '1.00×']);
  rows.push([`  the same, first 1,000 characters (compileMatcher)`, after.ms, `${(after.ms / before.ms).toFixed(3)}×`]);
}

const docs = Array.from({ length: 200_000 }, (_, i) => JSON.stringify({ path: `/p/${i}`, ref: 'x', n: i, ctx: { a: 1, b: [1, 2, 3] }, title: 'A page title of some length '.repeat(5) }));
const parsed = docs.map((d) => JSON.parse(d) as unknown);
const parse = bestOf(5, () => docs.reduce((n, d) => n + (JSON.parse(d) as { n: number }).n, 0));
const walk = bestOf(5, () => parsed.reduce((n: number, v) => n + (jsonTooDeep(v) ? 1 : 0), 0));
rows.push([`JSON.parse of ${docs.length} stored documents (~${docs[0]!.length} chars; baseline)`, parse.ms, '1.00×']);
rows.push(['  the depth walk after it (jsonTooDeep)', walk.ms, `${(walk.ms / parse.ms).toFixed(2)}×`]);
table(rows);
