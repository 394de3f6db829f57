import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Json, JsonObject, LeafTable } from '@strata/core';
import { compileViewSegment, parseCondition } from '@strata/core';
import type { EngineProfile, SegmentRow } from '@strata/store';
import { LiveEngine } from '../live-engine.ts';
import { ProfileState, sameJson, SlotColumns } from './project-state.ts';
import { NO_KEYS, Parts, StringColumn } from './profile-table.ts';
import { SlotIndex } from './slot-index.ts';

describe('records by slot', () => {
  it('a string column reads back every string as written (Latin-1 as bytes, wider ones whole, null), across replacements and packing', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(40), fc.option(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('', 'é', '\u{1F600}', '\ud800'))), fc.boolean()), { maxLength: 300 }), (ops) => {
      const col = new StringColumn();
      col.resize(41);
      const want = new Map<number, string | null>();
      for (const [slot, s, pack] of ops) {
        col.set(slot, s);
        want.set(slot, s);
        if (pack) col.pack();
        for (const [k, v] of want) { expect(col.get(k)).toBe(v); expect(col.equals(k, v)).toBe(true); }
      }
      for (let slot = 0; slot <= 40; slot++) if (!want.has(slot)) expect(col.get(slot)).toBeNull();
    }));
  });

  it('parts equal by value are one object; parts differing in a key share the others\' values; -0 is never made 0', () => {
    const parts = new Parts();
    const a = parts.code({ plan: 'pro', location: { country: 'FR', city: 'Lyon' } });
    const b = parts.code({ plan: 'pro', location: { country: 'FR', city: 'Lyon' } });
    const c = parts.code({ plan: 'free', location: { country: 'FR', city: 'Lyon' } });
    const d = parts.code({ location: { country: 'FR', city: 'Lyon' }, plan: 'pro' });
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(d).not.toBe(a);
    expect(parts.value(d)).toEqual({ location: { country: 'FR', city: 'Lyon' }, plan: 'pro' });
    expect(Object.keys(parts.value(d) as JsonObject)).toEqual(['location', 'plan']);
    expect((parts.value(c) as JsonObject).location).toBe((parts.value(a) as JsonObject).location);
    expect(parts.code(parts.value(a) as JsonObject)).toBe(a);
    expect(parts.code(NO_KEYS)).toBe(-1);
    expect(parts.value(-1)).toBe(NO_KEYS);
    const neg = parts.code({ n: -0 }), zero = parts.code({ n: 0 });
    expect(neg).not.toBe(zero);
    expect(Object.is((parts.value(neg) as JsonObject).n, -0)).toBe(true);
    expect(parts.code({ n: -0 })).not.toBe(neg);
    const l1 = parts.code(['vip', 'beta']), l2 = parts.code(['vip', 'beta']);
    expect(l2).toBe(l1);
    expect(parts.value(l1)).toEqual(['vip', 'beta']);
    // Started again from the parts still held: their codes are rewritten, the values read the same.
    const held = Int32Array.from([a, c, l1]);
    parts.restart([held], [0, 2]);
    expect(parts.value(held[0]!)).toEqual({ plan: 'pro', location: { country: 'FR', city: 'Lyon' } });
    expect(parts.value(held[2]!)).toEqual(['vip', 'beta']);
    expect(parts.size).toBe(2);
  });

  it('the slot index finds what a Map finds, through sets, overwrites and deletes', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('set', 'delete'), fc.oneof(fc.integer({ min: 0, max: 200 }), fc.constantFrom(2 ** 40, 2 ** 40 + 1, 2 ** 53 - 1, 4294967296 + 7)), fc.nat()), { maxLength: 500 }), (ops) => {
      const index = new SlotIndex(), map = new Map<number, number>();
      for (const [op, id, slot] of ops) {
        if (op === 'set') { index.set(id, slot); map.set(id, slot); } else expect(index.delete(id)).toBe(map.delete(id));
        expect(index.size).toBe(map.size);
      }
      for (let id = 0; id <= 200; id++) expect(index.get(id)).toBe(map.get(id));
      for (const [id, slot] of map) expect(index.get(id)).toBe(slot);
    }));
  });

  it('a record comes back from the engine as it was kept: ids, times, the parts segments read, a key that is not the id', () => {
    const row = (id: string, condition: Json): SegmentRow => ({ id, projectId: 'p', name: id, description: '', condition: condition as SegmentRow['condition'], template: null, params: null, createdAt: 0, updatedAt: 0 });
    const engine = new LiveEngine(null as never, { now: () => 1000 });
    const people: EngineProfile[] = [
      { id: 1, key: '1', userId: 'ünïcödé \u{1F600}', anonymousId: 'a1', traits: { plan: 'pro', age: 3 }, context: { locale: 'fr' }, labels: ['vip'], firstSeen: 5, lastSeen: 900 },
      { id: 2, key: 'k2', userId: null, anonymousId: null, traits: {}, context: {}, labels: [], firstSeen: null, lastSeen: null },
    ];
    engine.hydrate('p', [row('pro', { attr: 'traits.plan', op: 'eq', value: 'pro' })], people.map((profile) => ({ profile, events: [] })), 1000);
    expect(engine.record('p', 1)).toEqual({ ...people[0], traits: { plan: 'pro' }, context: {} });
    expect(engine.record('p', 2)).toEqual(people[1]);
    expect(engine.record('p', 3)).toBeUndefined();
    expect(engine.segmentsOf('p', 1)).toEqual(['pro']);
  });
});

describe('a view\'s kept slices', () => {
  it('a view reads what the lists hold after every change, made through it or another view of any slot (additions, removals, packing, moves)', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('add' as const), slot: fc.nat(3), name: fc.constantFrom('a', 'b', null), t: fc.nat(50), via: fc.boolean() }),
      fc.record({ k: fc.constant('remove' as const), slot: fc.nat(3), name: fc.constantFrom('a', 'b', null), t: fc.nat(50) }),
      fc.record({ k: fc.constant('forget' as const), slot: fc.nat(3), name: fc.constantFrom('a', 'b', null, undefined) }),
      fc.record({ k: fc.constantFrom('pack' as const, 'newSlot' as const) }),
      fc.record({ k: fc.constant('move' as const), slot: fc.nat(3) }),
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
      const cols = new SlotColumns();
      for (let i = 0; i < 4; i++) cols.newSlot();
      const held = new ProfileState(0, cols);
      const none = new Set<string>();
      const times = (p: ProfileState, name: string | null) => { const s = p.events(name); return Array.from({ length: s.length }, (_, i) => s.time(i)); };
      for (const o of ops) {
        // Read first, so that the view holds slices from before the change.
        for (const n of ['a', 'b', null]) held.events(n);
        if (o.k === 'add') (o.via && o.slot === held.slot ? held : new ProfileState(o.slot, cols)).add(o.name, { name: o.name ?? 'x', timestamp: o.t, properties: {}, context: {} }, none, none);
        else if (o.k === 'remove') new ProfileState(o.slot, cols).remove(o.name, o.t);
        else if (o.k === 'forget') new ProfileState(o.slot, cols).forget(o.name);
        else if (o.k === 'pack') cols.pack();
        else if (o.k === 'newSlot') cols.newSlot();
        else if (o.k === 'move') held.moveTo(o.slot);
        for (const n of ['a', 'b', null]) expect(times(held, n)).toEqual(times(new ProfileState(held.slot, cols), n));
      }
    }));
  });
});

describe('kept parts compared before interning', () => {
  it('sameJson holds for a copy, and only for values of the same JSON in the same key order, numbers by Object.is', () => {
    fc.assert(fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
      expect(sameJson(a, structuredClone(a))).toBe(true);
      if (sameJson(a, b)) { expect(JSON.stringify(a)).toBe(JSON.stringify(b)); expect(isDeepStrictEqual(a, b)).toBe(true); }
    }));
    expect(sameJson({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(false);
    expect(sameJson({ n: 0 }, { n: -0 })).toBe(false);
    expect(sameJson(['x'], { 0: 'x' })).toBe(false);
    expect(sameJson({ a: [1, { c: null }] }, { a: [1, { c: null }] })).toBe(true);
  });
});

describe('event leaves shared by segments', () => {
  it('leaves equal but for their comparison are one, and each answers from the events its view holds now, after every addition', () => {
    const parse = (c: unknown) => { const p = parseCondition(c); if (!p.ok) throw new Error('bad condition'); return p.value; };
    const leaves: LeafTable = new Map();
    const at = (min: number) => compileViewSegment(parse({ event: 'buy', window: { within: '7d' }, cmp: { op: 'gte', value: min } }), new Set(), new Set(), undefined, leaves);
    const one = at(1), two = at(2), neg = compileViewSegment(parse({ event: 'buy', window: { within: '7d' }, cmp: { op: 'gte', value: -0 } }), new Set(), new Set(), undefined, leaves);
    expect(leaves.size).toBe(1);
    const cols = new SlotColumns();
    const p = new ProfileState(cols.newSlot(), cols);
    const now = 10 * 86_400_000;
    const none = new Set<string>();
    expect([one.test(p, now), two.test(p, now), neg.test(p, now)]).toEqual([false, false, true]);
    for (const [t, want] of [[now - 1, [true, false]], [now - 8 * 86_400_000, [true, false]], [now - 2, [true, true]]] as const) {
      p.add('buy', { name: 'buy', timestamp: t, properties: {}, context: {} }, none, none);
      expect([one.test(p, now), two.test(p, now)]).toEqual(want);
    }
    // A later instant: the events leave the window.
    expect([one.test(p, now + 7 * 86_400_000), two.test(p, now + 7 * 86_400_000)]).toEqual([false, false]);
  });
});
