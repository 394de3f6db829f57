import { Worker } from 'node:worker_threads';
import type { EventRecord, JsonObject, ProfileRecord } from '@strata/core';
import { isDerivedEvent } from '@strata/core';
import { generateUsers, type GenerateOptions, type GeneratedUser, type SegmentMessage } from '@strata/datagen';

/** Best of `runs` timings (ms) of `fn`, after one warm-up run. */
export function bestOf<T>(runs: number, fn: () => T): { ms: number; result: T } {
  let result = fn();
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    result = fn();
    best = Math.min(best, performance.now() - t);
  }
  return { ms: best, result };
}

export async function bestOfAsync<T>(runs: number, fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
  let result = await fn();
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    result = await fn();
    best = Math.min(best, performance.now() - t);
  }
  return { ms: best, result };
}

/** The `p`th percentile (0–100) of `xs`, nearest rank below; `xs` is not reordered. */
export const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

/**
 * Starts a bench module (a path relative to bench/) in a worker thread, through tsx as the
 * benchmarks run: a load generator there has the machine's second core to itself.
 */
export function benchWorker(module: string, data: unknown): Worker {
  const href = new URL(module, import.meta.url).href;
  return new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(href)}); })`, { eval: true, workerData: data });
}

/** A bench worker's one answer; the worker is ended then (a client's kept-alive sockets would hold it). */
export async function workerAnswer<T>(w: Worker): Promise<T> {
  const r = await new Promise<T>((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
  await w.terminate();
  return r;
}

/** Prints rows as an aligned table. */
export function table(rows: (string | number)[][]): void {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  for (const [n, r] of cells.entries()) {
    console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
    if (n === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

export const fmt = (n: number): string =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : n >= 100 ? n.toFixed(0) : n.toFixed(2);

const nameOf = (m: SegmentMessage) => (m.type === 'track' ? m.event! : m.type === 'page' ? '$pageview' : m.type === 'screen' ? '$screen' : '$identify');

/** A generated message as the event Strata stores. */
export const toEvent = (m: SegmentMessage): EventRecord => ({ name: nameOf(m), timestamp: Date.parse(m.timestamp), properties: (m.properties ?? m.traits ?? {}) as JsonObject, context: m.context as JsonObject });

/** A generated user as Strata holds it: the merged record (traits, latest context, first/last seen) and its events. */
export function recordOf(u: GeneratedUser, key: string, withEvents = true): { profile: ProfileRecord; events: EventRecord[] } {
  const traits: JsonObject = {};
  let context: JsonObject = {};
  let first: number | null = null, last: number | null = null;
  const events: EventRecord[] = [];
  for (const m of u.messages) {
    const e = toEvent(m);
    if (m.traits) Object.assign(traits, m.traits);
    context = m.context as JsonObject;
    if (!isDerivedEvent(e.name)) { first = Math.min(first ?? Infinity, e.timestamp); last = Math.max(last ?? -Infinity, e.timestamp); }
    if (withEvents) events.push(e);
  }
  return { profile: { key, userId: u.userId, anonymousId: u.anonymousId, traits, context, labels: [], firstSeen: first, lastSeen: last }, events };
}

/** Profiles (and optionally their events) as Strata would hold them, built from generated users. */
export function generatedProfiles(opts: GenerateOptions, withEvents: boolean): { profile: ProfileRecord; events: EventRecord[] }[] {
  return [...generateUsers(opts)].map((u) => recordOf(u, String(u.index), withEvents));
}

/** One timed run: wall ms, CPU seconds of the process (all threads), RSS before it and its peak (sampled every 50 ms while it runs). */
export interface TimedRun { ms: number; cpu: number; peak: number; rssBefore: number }
export async function timedRun(fn: () => Promise<void>): Promise<TimedRun> {
  const rssBefore = process.memoryUsage().rss;
  let peak = rssBefore;
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 50);
  const c = process.cpuUsage();
  const t = performance.now();
  try {
    await fn();
  } finally {
    clearInterval(sampler);
  }
  const ms = performance.now() - t;
  const u = process.cpuUsage(c);
  return { ms, cpu: (u.user + u.system) / 1e6, peak: Math.max(peak, process.memoryUsage().rss), rssBefore };
}

/** A table row of a timed run against the baseline: seconds, items/s, ratio, CPU s, RSS before, peak RSS (MB). */
export function runRow(name: string, r: TimedRun, base: TimedRun, items: number): string[] {
  const mb = (b: number) => (b / 1024 / 1024).toFixed(0);
  return [name, (r.ms / 1000).toFixed(2), fmt(items / (r.ms / 1000)), (r.ms / base.ms).toFixed(2), r.cpu.toFixed(2), mb(r.rssBefore), mb(r.peak)];
}
