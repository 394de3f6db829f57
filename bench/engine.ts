/**
 * The live engine in process at scale: generated users (10 events each on average) × 200
 * segments (bench/segments.ts), one core. Prints a table with each figure, its target, and a
 * ratio against a baseline run in this same process.
 * Run: npm run bench:engine [-- users]
 * BENCH_PHASE=load: only load the users and report what the process holds then (the engine's
 * bytes and the process's RSS against the 12 GB bound at 10M profiles), then stop.
 */
import type { EventRecord } from '@strata/core';
import { compileSegment, isDerivedEvent, parseCondition, type Evaluator } from '@strata/core';
import { generateUsers } from '@strata/datagen';
import { LiveEngine } from '@strata/engine';
import type { EngineEvent, EngineProfile, IngestOutcome, SegmentRow } from '@strata/store';
import { benchPeople, benchRows } from './engine-data.ts';
import { EMEA } from './segments.ts';
import { fmt, pct, table, toEvent } from './lib.ts';

const users = Number(process.argv[2] ?? 1_000_000);
const END = Date.UTC(2024, 5, 15);
const DAY = 86_400_000;
const PROJECT = 'bench';

const gc = () => (globalThis as { gc?: () => void }).gc?.();
const rows = benchRows(PROJECT, END);

// ---------------------------------------------------------------- load
/** The one event name no bench segment reads, kept aside for the backfill of a new segment. */
const NEW_NAME = 'search';
const stash: EngineEvent[] = [];
const loadOnly = process.env.BENCH_PHASE === 'load';
if (process.env.BENCH_PHASE !== undefined && !loadOnly) throw new Error(`BENCH_PHASE must be load or unset, got ${process.env.BENCH_PHASE}`);
// Kept aside in a pass of their own before the heap is measured: held during the load, these
// events (each with its own properties and context objects) were counted as the engine's.
if (!loadOnly) for (const _ of benchPeople(users, END, (e, profileId) => { if (e.name === NEW_NAME) stash.push({ ...e, profileId }); }));
let totalEvents = 0;
const people = () => benchPeople(users, END, () => { totalEvents++; });

console.log(`loading ${users} users × ${rows.length} segments into the engine...`);
gc();
/** The JavaScript heap and the typed arrays' buffers (held outside it): the engine's event columns are the latter. */
const held = () => { const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; };
const heap0 = held();
const engine = new LiveEngine(null as never, { now: () => END });
let t = performance.now();
engine.hydrate(PROJECT, rows, people(), END);
const loadMs = performance.now() - t;
gc();
// What the heap holds now is the engine's (the stash was held before heap0 was read).
const heapEngine = held() - heap0;
const rss = process.memoryUsage().rss;
console.log(`  loaded ${totalEvents} events in ${(loadMs / 1000).toFixed(1)} s; heap ${(heapEngine / 2 ** 20).toFixed(0)} MiB, rss ${(rss / 2 ** 20).toFixed(0)} MiB`);

if (loadOnly) {
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  const mib = (b: number) => b / 2 ** 20;
  const RSS_BOUND = 12 * 2 ** 30;
  console.log(`\nmachine: ${(await import('node:os')).cpus()[0]?.model ?? '?'}, Node ${process.version}; ${users} profiles, ${totalEvents} events, ${rows.length} segments\n`);
  table([
    ['measure', 'result', 'target', 'vs target'],
    ['load (s)', loadMs / 1000, '-', ''],
    ['heap + typed arrays held by the engine (MiB)', mib(heapEngine), '-', ''],
    ['bytes per profile', heapEngine / users, 600, heapEngine / users <= 600 ? 'met' : `missed ${(heapEngine / users / 600).toFixed(2)}×`],
    ['bytes per event', heapEngine / totalEvents, '-', ''],
    ['process: V8 heap used (MiB)', mib(heapUsed), '-', ''],
    ['process: typed arrays outside the heap (MiB)', mib(arrayBuffers), '-', ''],
    ['process RSS after the load (MiB)', mib(rss), mib(RSS_BOUND), rss <= RSS_BOUND ? 'met' : `missed ${(rss / RSS_BOUND).toFixed(2)}×`],
  ]);
  process.exit(0);
}

// ---------------------------------------------------------------- ingest with live membership
const NEW_EVENTS = Math.min(500_000, users * 2);
const BATCH = 100;
const fresh: EngineEvent[] = [];
for (const u of generateUsers({ seed: 2, users, end: END + DAY, days: 1, eventsPerUser: 3 })) {
  for (const m of u.messages) fresh.push({ ...toEvent(m), profileId: u.index + 1 });
  if (fresh.length >= NEW_EVENTS) break;
}
// Spread the profiles: a batch holds events of many people, as an HTTP batch from many browsers does.
fresh.sort((a, b) => a.timestamp - b.timestamp);
/** The records a store would return for a batch's profiles: the engine's own, with firstSeen/lastSeen moved. */
const latest = new Map<number, EngineProfile>();
const outcomeOf = (batch: EngineEvent[], engine: LiveEngine): IngestOutcome => {
  const touched = new Set<number>();
  for (const e of batch) {
    touched.add(e.profileId);
    const r = latest.get(e.profileId) ?? engine.record(PROJECT, e.profileId)!;
    latest.set(e.profileId, isDerivedEvent(e.name) ? r : { ...r, firstSeen: Math.min(r.firstSeen ?? Infinity, e.timestamp), lastSeen: Math.max(r.lastSeen ?? -Infinity, e.timestamp) });
  }
  const records = [...touched].map((id) => latest.get(id)!);
  latest.clear();
  return { stored: batch.length, duplicates: 0, touched, merges: [], records, events: batch, reload: new Set() };
};

let changes = 0;
const latencies: number[] = [];
t = performance.now();
for (let i = 0; i < fresh.length; i += BATCH) {
  const batch = fresh.slice(i, i + BATCH);
  const s = performance.now();
  changes += engine.applyInMemory(PROJECT, outcomeOf(batch, engine), batch[batch.length - 1]!.timestamp).length;
  latencies.push(performance.now() - s);
}
const ingestMs = performance.now() - t;
const engineRate = (fresh.length / ingestMs) * 1000;

// Baseline, same process: the core issue's approach — every segment re-evaluated with the
// compiled closures over all of a touched profile's events — on a subset small enough to keep
// every event in memory, against the engine on the same subset.
const SUB = Math.min(20_000, users);
const subEvents = new Map<number, EventRecord[]>();
let sid = 0;
for (const u of generateUsers({ seed: 1, users: SUB, end: END, days: 90, eventsPerUser: 10 })) subEvents.set(++sid, u.messages.map(toEvent));
const subFresh = fresh.filter((e) => e.profileId <= SUB).slice(0, 50_000);
const compiled = new Map<string, Evaluator>();
const parsedRows = new Map(rows.map((r) => [r.id, parseCondition(r.condition, { segmentCondition: (id) => rows.find((x) => x.id === id)?.condition })]));
const resolve = (id: string): Evaluator | undefined => {
  let f = compiled.get(id);
  if (!f) { const p = parsedRows.get(id)!; f = compileSegment(p.ok ? p.value : null, new Set(), new Set(), resolve); compiled.set(id, f); }
  return f;
};
const evaluators = rows.map((r) => resolve(r.id)!);
const baseMembers = new Map<number, Set<number>>();
t = performance.now();
let baseChanges = 0;
for (let i = 0; i < subFresh.length; i += BATCH) {
  const batch = subFresh.slice(i, i + BATCH);
  const now = batch[batch.length - 1]!.timestamp;
  const touched = new Set<number>();
  for (const e of batch) { subEvents.get(e.profileId)!.push(e); touched.add(e.profileId); }
  for (const id of touched) {
    const events = subEvents.get(id)!;
    const profile = engine.record(PROJECT, id)!;
    let mine = baseMembers.get(id);
    if (!mine) baseMembers.set(id, (mine = new Set()));
    evaluators.forEach((f, k) => { const m = f(profile, events, now); if (m !== mine!.has(k)) { baseChanges++; if (m) mine!.add(k); else mine!.delete(k); } });
  }
}
const baseMs = performance.now() - t;
const baseRate = (subFresh.length / baseMs) * 1000;
// The engine on the same subset (a second engine, loaded with the subset only).
const subEngine = new LiveEngine(null as never, { now: () => END });
let k2 = 0;
subEngine.hydrate(PROJECT, rows, (function* () {
  for (const u of generateUsers({ seed: 1, users: SUB, end: END, days: 90, eventsPerUser: 10 })) {
    k2++;
    yield { profile: engine.record(PROJECT, k2)!, events: u.messages.map(toEvent) };
  }
})(), END);
t = performance.now();
for (let i = 0; i < subFresh.length; i += BATCH) {
  const batch = subFresh.slice(i, i + BATCH);
  subEngine.applyInMemory(PROJECT, outcomeOf(batch, subEngine), batch[batch.length - 1]!.timestamp);
}
const subEngineRate = (subFresh.length / (performance.now() - t)) * 1000;

// ---------------------------------------------------------------- which segments is user X in
const lookups: number[] = [];
let found = 0;
for (let i = 0; i < 100_000; i++) {
  const id = 1 + ((i * 7919) % users);
  const s = performance.now();
  found += engine.segmentsOf(PROJECT, id).length;
  lookups.push(performance.now() - s);
}

// ---------------------------------------------------------------- preview over live leaves
const liveCondition = parseCondition({ all: [{ event: 'purchase', window: { within: '30d' } }, { attr: 'context.location.country', op: 'in', value: EMEA }] });
if (!liveCondition.ok) throw new Error('bad preview condition');
const now = END + DAY;
/** A preview, in bulk over the columns or per profile (the baseline: the path before bulk evaluation). */
const previewRun = (how: 'bulk' | 'per-profile') => {
  const s = performance.now();
  const count = engine.preview(PROJECT, liveCondition.value, now, 10, how)!.count;
  return { ms: performance.now() - s, count };
};
// The two alternate, three times each; the first bulk one also takes the profiles' order (kept after).
const previewBase = { ms: Infinity, count: -1 }, previewNew = { ms: Infinity, count: -1 };
let previewFirstMs = 0;
for (let i = 0; i < 3; i++) {
  const a = previewRun('per-profile'), b = previewRun('bulk');
  if (i === 0) previewFirstMs = b.ms;
  previewBase.ms = Math.min(previewBase.ms, a.ms);
  previewNew.ms = Math.min(previewNew.ms, b.ms);
  previewBase.count = a.count;
  previewNew.count = b.count;
}
if (previewNew.count !== previewBase.count) throw new Error(`bulk preview disagrees with the per-profile one: ${previewNew.count} vs ${previewBase.count}`);
const previewMs = previewNew.ms, previewCount = previewNew.count;

// ---------------------------------------------------------------- backfill of a new behavioural segment
const newRow: SegmentRow = { ...rows[0]!, id: 'new', name: 'Searched in 30d', condition: { event: NEW_NAME, where: [{ attr: 'properties.query', op: 'exists' }], window: { within: '30d' }, cmp: { op: 'gte', value: 1 } } };
// The baseline: the same backfill with its list filled event by event and the members decided
// per profile (the path before bulk loading and evaluation). Each run creates the segment,
// which reads its events, then drops it again (its list stays, no longer kept up to date, and
// is read again by the next run); the two paths alternate, twice each, the best of each kept.
const backfillRun = (how: 'bulk' | 'per-profile') => {
  gc();
  const s = performance.now();
  const n = engine.redefineInMemory(PROJECT, [...rows, newRow], ['new'], now, stash, how).length;
  const ms = performance.now() - s;
  engine.redefineInMemory(PROJECT, rows, ['new'], now, []);
  return { ms, n };
};
let backfillBaseMs = Infinity, backfillMs = Infinity, backfillBaseChanges = -1, backfillChanges = -1;
for (let i = 0; i < 2; i++) {
  const a = backfillRun('per-profile'), b = backfillRun('bulk');
  backfillBaseMs = Math.min(backfillBaseMs, a.ms);
  backfillMs = Math.min(backfillMs, b.ms);
  backfillBaseChanges = a.n;
  backfillChanges = b.n;
}
if (backfillChanges !== backfillBaseChanges) throw new Error(`bulk backfill disagrees with the per-profile one: ${backfillChanges} vs ${backfillBaseChanges}`);
// Leave the segment in place, as the backfill leaves it, for what follows (the timer's wake-ups).
engine.redefineInMemory(PROJECT, [...rows, newRow], ['new'], now, stash);
// Baseline: a hand-written pass over the same events counting the same thing (what a columnar scan does).
t = performance.now();
const hit = new Set<number>();
for (const e of stash) if (e.timestamp > now - 30 * DAY && e.timestamp <= now && (e.properties as { query?: unknown }).query != null) hit.add(e.profileId);
const handMs = performance.now() - t;

// ---------------------------------------------------------------- time transitions
const sweeps: { label: string; ms: number; changes: number }[] = [];
let clock = END + DAY;
// The engine's timer runs every second; here, sixty 1-minute batches (a coarser cadence, so more work per batch).
const minutes: number[] = [];
let minuteChanges = 0;
for (let i = 0; i < 60; i++) {
  clock += 60_000;
  const s = performance.now();
  const cs = engine.advanceInMemory(PROJECT, clock);
  minuteChanges += cs.length;
  minutes.push(performance.now() - s);
}
sweeps.push({ label: 'timer batch of 1 minute, worst of 60', ms: Math.max(...minutes), changes: minuteChanges });
for (const [label, step] of [['catch-up after 1 day down', DAY], ['catch-up after 7 days down', 7 * DAY]] as const) {
  clock += step;
  const s = performance.now();
  const n = engine.advanceInMemory(PROJECT, clock).length;
  sweeps.push({ label, ms: performance.now() - s, changes: n });
}

console.log(`\nmachine: ${(await import('node:os')).cpus()[0]?.model ?? '?'} (${(await import('node:os')).cpus().length} cores), Node ${process.version}`);
console.log(`${users} profiles, ${totalEvents} events loaded, ${rows.length} segments; ${fresh.length} new events in batches of ${BATCH}\n`);
/** "met", or by how much the target is missed (higher-is-better figures are marked with `up`). */
const verdict = (result: number, target: number | string, up = false): string =>
  typeof target !== 'number' ? '' : (up ? result >= target : result <= target) ? 'met' : `missed ${(up ? target / result : result / target).toFixed(1)}×`;
const rowsOut: [string, number, number | string, string, string, boolean?][] = [
  ['engine ingest with live membership (events/s)', engineRate, 50_000, `closures, all segments, all events: ${fmt(baseRate)}/s on ${SUB} users (engine there: ${fmt(subEngineRate)}/s)`, `${(subEngineRate / baseRate).toFixed(1)}×`, true],
  ['event → membership decided, per batch of 100: p50 (ms)', pct(latencies, 50), '-', '', ''],
  ['event → membership decided, per batch of 100: p99 (ms)', pct(latencies, 99), 50, '', ''],
  ['which segments is user X in: p99 (ms)', pct(lookups, 99), 1, '', ''],
  ['heap + typed arrays held by the engine (MiB)', heapEngine / 2 ** 20, 2048, '', ''],
  ['bytes per profile', heapEngine / users, 600, '', ''],
  ['preview over live leaves, in bulk, best of 3 (ms)', previewMs, 50, `per profile: ${previewBase.ms.toFixed(1)} ms (bulk's first, taking the order: ${previewFirstMs.toFixed(1)} ms)`, `${(previewBase.ms / previewMs).toFixed(1)}× faster`],
  [`backfill of a new behavioural segment (${stash.length} "${NEW_NAME}" events of ${totalEvents}), in bulk, best of 2 (ms)`, backfillMs, 1000, `per profile: ${backfillBaseMs.toFixed(0)} ms; hand-written pass: ${handMs.toFixed(0)} ms`, `${(backfillBaseMs / backfillMs).toFixed(1)}× faster; ${(backfillMs / handMs).toFixed(1)}× the pass`],
  ...sweeps.map((s, i) => [`time transitions, ${s.label} (ms; ${s.changes} changes)`, s.ms, i === 0 ? (1000 * users) / 1_000_000 : '-', '', ''] as [string, number, number | string, string, string]),
];
table([
  ['measure', 'result', 'target', 'vs target', 'baseline (same process)', 'ratio'],
  ...rowsOut.map(([m, r, t, b, ratio, up]) => [m, r, t, verdict(r, t, up), b, ratio]),
]);
console.log(`\n(membership changes during ingest: ${changes}; baseline changes: ${baseChanges}; preview count ${previewCount}; backfill changes ${backfillChanges} vs ${hit.size} by hand; lookups found ${found})`);
if (backfillChanges !== hit.size) throw new Error(`backfill disagrees with the hand-written pass: ${backfillChanges} vs ${hit.size}`);
