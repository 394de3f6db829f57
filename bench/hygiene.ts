/**
 * Segment hygiene at scale, from the live engine's state: the preview a user sees while
 * editing (count, share, overlap warnings, 10 explained samples), the overlap of 50 segments,
 * the scan behind a saved segment's warnings, and the static checks (duplicate, contradiction)
 * against 200 segments. Prints a table with each figure, its target, and a ratio against a
 * baseline run in this same process.
 * Run: npm run bench:hygiene [-- users]
 */
import { canonicalKey, explainCondition, findContradiction, parseCondition, type Condition } from '@strata/core';
import { generateUser } from '@strata/datagen';
import { LiveEngine } from '@strata/engine';
import { BENCH_DATA, benchPeople, benchRows } from './engine-data.ts';
import { bestOf, fmt, recordOf, table } from './lib.ts';
import { EMEA } from './segments.ts';

const users = Number(process.argv[2] ?? 1_000_000);
const END = Date.UTC(2024, 5, 15);
const DAY = 86_400_000;
const PROJECT = 'bench';
const now = END + DAY;
const rows = benchRows(PROJECT, END);

console.log(`loading ${users} users × ${rows.length} segments into the engine...`);
const engine = new LiveEngine(null as never, { now: () => now });
let t = performance.now();
engine.hydrate(PROJECT, rows, benchPeople(users, END), now);
console.log(`  loaded in ${((performance.now() - t) / 1000).toFixed(1)} s`);

// ---------------------------------------------------------------- preview while editing
const parse = (c: unknown): Condition => {
  const r = parseCondition(c, { segmentCondition: (id) => rows.find((x) => x.id === id)?.condition });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.value;
};
const editing = parse({ all: [{ event: 'purchase', window: { within: '30d' } }, { attr: 'context.location.country', op: 'in', value: EMEA }] });
const preview = bestOf(3, () => {
  const tally = engine.preview(PROJECT, editing, now, 10)!;
  // Why each sampled member matched: their events come from the store in Strata; here they are generated again.
  const why = tally.sample.map((p) => {
    const { profile, events } = recordOf(generateUser(BENCH_DATA(users, END), p.id - 1), String(p.id));
    return explainCondition(editing, profile, events, now);
  });
  return { tally, why };
});
if (preview.result.why.some((e) => !e.result)) throw new Error('an explained sample does not match');
// Baseline: the bare scan of the same profiles with a trivial test (a saved segment's bit).
const bare = bestOf(3, () => engine.overlapWith(PROJECT, rows[0]!.id)!);

// ---------------------------------------------------------------- overlap of 50 segments
const ids = rows.slice(0, 50).map((r) => r.id);
const overlap = bestOf(3, () => engine.overlap(PROJECT, ids)!);
// Baseline: for every profile, every pair of the 50 segments tested bit by bit (the same answer).
const naive = bestOf(1, () => {
  const m = ids.map(() => new Array<number>(ids.length).fill(0));
  const members = ids.map((id) => engine.members(PROJECT, id));
  for (let p = 1; p <= users; p++) {
    for (let a = 0; a < ids.length; a++) {
      if (!members[a]!.has(p)) continue;
      for (let b = a; b < ids.length; b++) if (members[b]!.has(p)) m[a]![b]!++;
    }
  }
  for (let a = 0; a < ids.length; a++) for (let b = 0; b < a; b++) m[a]![b] = m[b]![a]!;
  return m;
});
if (JSON.stringify(naive.result) !== JSON.stringify(overlap.result.intersections)) throw new Error('overlap disagrees with the naive count');

// ---------------------------------------------------------------- static checks against 200 segments
const parsed = rows.map((r) => (r.condition === null ? null : parse(r.condition)));
const byId = new Map(rows.map((r, i) => [r.id, parsed[i]!]));
const inline = (id: string) => byId.get(id) ?? null;
const statics = bestOf(5, () => {
  const mine = parse(rows[120]!.condition);
  const key = canonicalKey(mine, inline);
  const duplicates = parsed.filter((c) => c !== null && canonicalKey(c, inline) === key).length;
  return { duplicates, contradiction: findContradiction(mine, inline) };
});

// ---------------------------------------------------------------- the segment list: every segment's warnings
// The close pairs of all 200 segments (one holds the other, or Jaccard ≥ 0.9), checked against the
// 50-segment overlap, and the static checks of every condition (each key once, a contradiction search each).
const listed = bestOf(3, () => {
  const close = engine.closePairs(PROJECT, 0.9)!;
  const keys = new Map(parsed.map((c, i) => [rows[i]!.id, c === null ? null : canonicalKey(c, inline)]));
  const contradictions = parsed.filter((c) => c !== null && findContradiction(c, inline) !== null).length;
  const duplicates = rows.filter((r) => keys.get(r.id) !== null && rows.some((o) => o.id !== r.id && keys.get(o.id) === keys.get(r.id))).length;
  return { close, contradictions, duplicates };
});
{
  const { ids: all, pairs } = listed.result.close;
  const found = new Map(pairs.map(([i, j, inter]) => [`${all[i]} ${all[j]}`, inter]));
  let checked = 0;
  ids.forEach((a, i) => ids.forEach((b, j) => {
    if (all.indexOf(a) >= all.indexOf(b)) return;
    const inter = overlap.result.intersections[i]![j]!, sa = overlap.result.sizes[i]!, sb = overlap.result.sizes[j]!;
    const close = sa > 0 && sb > 0 && (inter === Math.min(sa, sb) || inter / (sa + sb - inter) >= 0.9 - 1e-4);
    if (close !== found.has(`${a} ${b}`) || (close && found.get(`${a} ${b}`) !== inter)) throw new Error(`close pairs disagree with the overlap of 50 at ${a} ${b}`);
    checked++;
  }));
  console.log(`  close pairs: ${pairs.length} of ${all.length * (all.length - 1) / 2}; ${checked} pairs checked against the overlap of 50`);
}

const os = await import('node:os');
console.log(`\nmachine: ${os.cpus()[0]?.model ?? '?'} (${os.cpus().length} cores), Node ${process.version}`);
console.log(`${users} profiles, ${rows.length} segments\n`);
const verdict = (result: number, target: number | string): string => (typeof target !== 'number' ? '' : result <= target ? 'met' : `missed ${(result / target).toFixed(1)}×`);
const out: [string, number, number | string, string, string][] = [
  ['preview: count, share, overlap with 200 segments, 10 explained samples (ms)', preview.ms, 1000, `bare scan of the same profiles: ${bare.ms.toFixed(0)} ms`, `${(preview.ms / bare.ms).toFixed(1)}×`],
  ['overlap of 50 segments, all pairs (ms)', overlap.ms, 1000, `every pair tested per profile: ${naive.ms.toFixed(0)} ms`, `${(naive.ms / overlap.ms).toFixed(1)}× faster`],
  ['warnings of a saved segment: overlap scan (ms)', bare.ms, '-', '', ''],
  ['segment list: warnings of all 200 segments, close pairs + static checks (ms)', listed.ms, 1000, `overlap of 50 segments: ${overlap.ms.toFixed(0)} ms`, `${(listed.ms / overlap.ms).toFixed(1)}×`],
  ['duplicate + contradiction check against 200 segments (ms)', statics.ms, '-', '', ''],
];
table([['measure', 'result', 'target', 'vs target', 'baseline (same process)', 'ratio'], ...out.map(([m, r, tg, b, ratio]) => [m, r, tg, verdict(r, tg), b, ratio])]);
console.log(`\n(preview count ${fmt(preview.result.tally.count)} of ${fmt(preview.result.tally.total)}; overlap sizes ${overlap.result.sizes.slice(0, 5).join(', ')}, …; duplicates found ${statics.result.duplicates})`);
