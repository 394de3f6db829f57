import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluateColumns, hasBit, ProfileColumns } from './columns.ts';
import { isDerivedEvent } from './data.ts';
import { EventColumns } from './event-columns.ts';
import { EventLists } from './event-lists.ts';
import { evaluateListLeaf } from './list-leaves.ts';
import { compileSegment, type Evaluator } from './evaluate.ts';
import { parseCondition } from './parse.ts';
import type { GeneratedCase } from './testing/arbitraries.ts';
import { parseWithSegments } from './testing/evaluate-case.ts';
import { arbCase, evaluatorMembers, loadFixtureCases, oracleMembers } from './testing/index.ts';

const fixtures = await loadFixtureCases();

describe('fixture cases: the compiled evaluator', () => {
  it('has the cases the issue asks for', () => {
    expect(fixtures.cases.length).toBeGreaterThanOrEqual(150);
  });
  it.each(fixtures.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(evaluatorMembers(c.condition, c.profiles, c.segments, c.now)).toEqual(c.expected);
  });
});

/** A case's segments compiled on first use, as the bulk evaluators resolve a segment reference. */
function segmentResolver(segments: GeneratedCase['segments']): (id: string) => Evaluator | undefined {
  const compiled = new Map<string, Evaluator>();
  const resolve = (id: string): Evaluator | undefined => {
    const def = segments[id];
    if (!def) return undefined;
    if (!compiled.has(id)) compiled.set(id, compileSegment(def.condition === null ? null : parseWithSegments(def.condition, segments), new Set(def.include), new Set(def.exclude), resolve));
    return compiled.get(id);
  };
  return resolve;
}

/**
 * Members by the bulk column evaluator (the same semantics, evaluated for all profiles at once);
 * with `eventColumns`, its behavioural leaves read the events from columns (event-columns.ts).
 */
function columnMembers(c: Pick<GeneratedCase, 'condition' | 'segments' | 'profiles' | 'now'>, eventColumns = false): string[] {
  const resolve = segmentResolver(c.segments);
  const cols = new ProfileColumns(c.profiles.map((p) => p.profile));
  const condition = parseWithSegments(c.condition, c.segments);
  const events = (i: number) => c.profiles[i]!.events;
  const columns = eventColumns ? EventColumns.of([condition], c.profiles.length, events) : undefined;
  const bits = evaluateColumns(condition, cols, c.now, { events, resolve, eventColumns: columns });
  return c.profiles.filter((_, i) => hasBit(bits, i)).map((p) => p.profile.key).sort();
}

/**
 * Members by the bulk column evaluator with its behavioural leaves read in place from event
 * lists, as the live engine keeps them (list-leaves.ts): every profile a slot, every event in
 * its name's list and, when not derived, in the `*` list, every key kept. The profiles' slots
 * are given in reverse, so that position and slot differ. Attribute leaves under `all` are
 * tested on the profiles left in, one by one (`sparse`), rather than from their columns.
 */
function listMembers(c: Pick<GeneratedCase, 'condition' | 'segments' | 'profiles' | 'now'>): string[] {
  const resolve = segmentResolver(c.segments);
  const lists = new EventLists();
  const n = c.profiles.length;
  const slots = new Int32Array(n);
  for (let i = n - 1; i >= 0; i--) {
    const slot = (slots[i] = lists.newSlot());
    for (const e of c.profiles[i]!.events) {
      lists.add(slot, e.name, e, null, null);
      if (!isDerivedEvent(e.name)) lists.add(slot, null, e, null, null);
    }
  }
  const cols = new ProfileColumns(c.profiles.map((p) => p.profile));
  const condition = parseWithSegments(c.condition, c.segments);
  const events = (i: number) => c.profiles[i]!.events;
  // Attribute leaves under `all` are tested on the profiles their siblings leave in (sparse: always), not from columns.
  const bits = evaluateColumns(condition, cols, c.now, { events, resolve, sparse: 2, leaf: (node) => (node.kind === 'event' ? evaluateListLeaf(node, lists, slots, c.now) : undefined) });
  return c.profiles.filter((_, i) => hasBit(bits, i)).map((p) => p.profile.key).sort();
}

describe('fixture cases: the bulk column evaluator', () => {
  it.each(fixtures.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(columnMembers(c)).toEqual(c.expected);
  });
});

describe('fixture cases: the bulk column evaluator with events in columns', () => {
  it.each(fixtures.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(columnMembers(c, true)).toEqual(c.expected);
  });
});

describe('fixture cases: the bulk column evaluator with events read in place from event lists', () => {
  it.each(fixtures.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(listMembers(c)).toEqual(c.expected);
  });
});

describe('fixture cases: validation reports every fault with its path', () => {
  const invalid = fixtures.invalid as { name: string; condition: unknown; segments?: Record<string, { condition: unknown }>; paths: string[] }[];
  it.each(invalid.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const segs = c.segments ?? {};
    const r = parseCondition(c.condition, { segmentCondition: (id) => (id in segs ? segs[id]!.condition ?? null : undefined) });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const paths = r.issues.map((i) => i.path);
    for (const p of c.paths) expect(paths, JSON.stringify(r.issues)).toContain(p);
    for (const i of r.issues) expect(i.message.length).toBeGreaterThan(5);
  });
});

describe('property: the compiled and the bulk column evaluators (events in lists, in columns and in event lists) agree with the naive oracle', () => {
  it('on random conditions and data', () => {
    fc.assert(
      fc.property(arbCase, (c) => {
        const got = evaluatorMembers(c.condition, c.profiles, c.segments, c.now);
        const want = oracleMembers(c.condition, c.profiles, c.segments, c.now);
        expect(got).toEqual(want);
        expect(columnMembers(c)).toEqual(want);
        expect(columnMembers(c, true)).toEqual(want);
        expect(listMembers(c)).toEqual(want);
      }),
      { numRuns: Number(process.env.STRATA_PROPERTY_RUNS ?? 3000) },
    );
  });
});
