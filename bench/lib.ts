import type { EventRecord, JsonObject, ProfileRecord } from '@strata/core';
import { isDerivedEvent } from '@strata/core';
import { generateUsers, type GenerateOptions } from '@strata/datagen';

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

/** Profiles (and optionally their events) as Strata would hold them, built from generated users. */
export function generatedProfiles(opts: GenerateOptions, withEvents: boolean): { profile: ProfileRecord; events: EventRecord[] }[] {
  const out: { profile: ProfileRecord; events: EventRecord[] }[] = [];
  for (const u of generateUsers(opts)) {
    const traits: JsonObject = {};
    let context: JsonObject = {};
    let first: number | null = null, last: number | null = null;
    const events: EventRecord[] = [];
    for (const m of u.messages) {
      const t = Date.parse(m.timestamp);
      if (m.traits) Object.assign(traits, m.traits);
      context = m.context as JsonObject;
      const name = m.type === 'track' ? m.event! : m.type === 'page' ? '$pageview' : m.type === 'screen' ? '$screen' : '$identify';
      if (!isDerivedEvent(name)) { first = first === null ? t : Math.min(first, t); last = last === null ? t : Math.max(last, t); }
      if (withEvents) events.push({ name, timestamp: t, properties: (m.properties ?? m.traits ?? {}) as JsonObject, context: m.context as JsonObject });
    }
    out.push({
      profile: { key: String(u.index), userId: u.userId, anonymousId: u.anonymousId, traits, context, labels: [], firstSeen: first, lastSeen: last },
      events,
    });
  }
  return out;
}
