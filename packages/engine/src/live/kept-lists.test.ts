import { describe, expect, it } from 'vitest';
import type { EventRecord, Json } from '@strata/core';
import type { EngineEvent, EngineProfile, SegmentRow } from '@strata/store';
import { LiveEngine } from '../live-engine.ts';

const P = 'p';
const NOW = Date.UTC(2024, 0, 10);
const row = (id: string, condition: Json): SegmentRow => ({ id, projectId: P, name: id, description: '', condition: condition as SegmentRow['condition'], template: null, params: null, createdAt: 0, updatedAt: 0 });
const profile = (id: number): EngineProfile => ({ id, key: String(id), userId: null, anonymousId: `a${id}`, traits: {}, context: {}, labels: [], firstSeen: null, lastSeen: null });
const ev = (name: string, t: number, properties: Record<string, Json> = {}): EventRecord => ({ name, timestamp: t, properties, context: {} });

// Each list keeps only the keys read from it; a sequence with a "*" step reads its named steps' events from the "*" list.
const SEQ: Json = { sequence: [{ event: 'view', where: [{ attr: 'properties.path', op: 'eq', value: '/x' }] }, { event: '*' }] };
const people = () => [
  { profile: profile(1), events: [ev('view', NOW - 3000, { path: '/x' }), ev('buy', NOW - 1000)] },
  { profile: profile(2), events: [ev('view', NOW - 3000, { path: '/y' }), ev('buy', NOW - 1000)] },
];

describe('kept event lists', () => {
  it('a sequence with a "*" step tests its named steps on the "*" list with their properties kept there', () => {
    const engine = new LiveEngine(null as never, { now: () => NOW });
    engine.hydrate(P, [row('seq', SEQ)], people(), NOW);
    expect(engine.segmentsOf(P, 1)).toEqual(['seq']);
    expect(engine.segmentsOf(P, 2)).toEqual([]);
  });

  it('the same when the sequence comes after the lists were kept for other segments (backfilled lists)', () => {
    const engine = new LiveEngine(null as never, { now: () => NOW });
    engine.hydrate(P, [row('any', { event: '*' })], people(), NOW);
    const events: EngineEvent[] = people().flatMap(({ profile: p, events: es }) => es.map((e) => ({ ...e, profileId: p.id })));
    const changes = engine.redefineInMemory(P, [row('any', { event: '*' }), row('seq', SEQ)], ['seq'], NOW, events);
    expect(changes.map((c) => [c.segmentId, c.profileId, c.kind])).toEqual([['seq', 1, 'entered']]);
  });
});
