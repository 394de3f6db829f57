import { describe, expect, it } from 'vitest';
import type { EventRecord, Json } from '@strata/core';
import type { EngineProfile, SegmentRow } from '@strata/store';
import { LiveEngine } from '../live-engine.ts';
import { orderBytes } from './bulk-eval.ts';
import type { ProjectState } from './project-state.ts';

const NOW = Date.UTC(2024, 5, 15, 12);
const HOUR = 3_600_000;

const segment = (id: string, condition: Json): SegmentRow => ({
  id, projectId: 'p', name: id, description: '', template: null, params: null, createdAt: NOW, updatedAt: NOW, condition: condition as never,
});
const SEGMENTS = [
  segment('s_pro', { attr: 'traits.plan', op: 'eq', value: 'pro' }),
  segment('s_opened', { event: 'opened', window: { within: '7d' } }),
  segment('s_big', { event: 'bought', where: [{ attr: 'properties.amount', op: 'gte', value: 100 }], window: { within: '30d' } }),
];

const profile = (id: number, plan: string): EngineProfile => ({
  id, key: String(id), userId: `user-${id}`, anonymousId: null, traits: { plan, ignored: 'x' }, context: {}, labels: [], firstSeen: NOW - HOUR, lastSeen: NOW - HOUR,
});
const event = (name: string, at: number, amount = 0): EventRecord => ({ name, timestamp: at, properties: { amount, other: 'not read' }, context: {} });

/**
 * Every typed array reachable from `root` (each buffer once), found by walking the object graph:
 * an independent count of what the engine's accounting sums part by part.
 */
function reachableBytes(root: unknown): number {
  const seen = new Set<unknown>(), buffers = new Set<ArrayBufferLike>();
  const stack: unknown[] = [root];
  while (stack.length) {
    const x = stack.pop();
    if (typeof x !== 'object' || x === null || seen.has(x)) continue;
    seen.add(x);
    if (ArrayBuffer.isView(x)) { buffers.add(x.buffer); continue; }
    if (x instanceof Map) { for (const [k, v] of x) stack.push(k, v); continue; }
    if (x instanceof Set) { for (const v of x) stack.push(v); continue; }
    for (const v of Object.values(x)) stack.push(v);
  }
  let n = 0;
  for (const b of buffers) n += b.byteLength;
  return n;
}

const stateOf = (engine: LiveEngine) => (engine as unknown as { projects: Map<string, ProjectState> }).projects.get('p')!;

describe('the engine\'s memory accounting', () => {
  it('counts profiles and the event rows segments read, and sums exactly the typed arrays its state holds', () => {
    const engine = new LiveEngine(null as never, { now: () => NOW });
    expect(engine.memory()).toEqual({ profiles: 0, events: 0, bytes: { events: 0, records: 0, index: 0, membership: 0, wakes: 0 }, columnBytes: 0 });

    // 40 profiles; "opened" and "bought" are kept (segments read them), "viewed" is not.
    const people = Array.from({ length: 40 }, (_, i) => ({
      profile: profile(i + 1, i % 2 ? 'pro' : 'free'),
      events: [event('opened', NOW - 2 * HOUR), event('viewed', NOW - 2 * HOUR), ...(i % 4 === 0 ? [event('bought', NOW - HOUR, 150)] : [])],
    }));
    engine.hydrate('p', SEGMENTS, people, NOW);
    const first = engine.memory();
    expect(first.profiles).toBe(40);
    expect(first.events).toBe(40 + 10);
    const ps = stateOf(engine);
    expect(first.columnBytes).toBe(reachableBytes(ps) + orderBytes(ps));
    expect(first.columnBytes).toBe(Object.values(first.bytes).reduce((a, b) => a + b, 0));
    for (const part of Object.values(first.bytes)) expect(part).toBeGreaterThan(0);

    // More profiles and events: every count grows by what was added.
    const more = Array.from({ length: 100 }, (_, i) => profile(1000 + i, 'pro'));
    const events = more.flatMap((p) => [event('opened', NOW + 1000, 0), event('bought', NOW + 1000, 5), event('viewed', NOW + 1000)].map((e) => ({ ...e, profileId: p.id })));
    engine.applyInMemory('p', { stored: events.length, duplicates: 0, touched: new Set(more.map((p) => p.id)), merges: [], records: more, events, reload: new Set() }, NOW + 1000);
    const second = engine.memory();
    expect(second.profiles).toBe(140);
    expect(second.events).toBe(50 + 200);
    expect(second.columnBytes).toBe(reachableBytes(ps) + orderBytes(ps));
    expect(second.bytes.events).toBeGreaterThan(first.bytes.events);
    expect(second.bytes.records).toBeGreaterThan(first.bytes.records);
    expect(second.bytes.membership).toBeGreaterThan(first.bytes.membership);
  });
});
