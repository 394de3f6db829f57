import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EventRecord, JsonObject } from './data.ts';
import { EventLists, ListLoader, sliceReader, type EventSlice } from './event-lists.ts';

const LISTS = ['a', 'b', null] as const;
const KEEP = new Set(['x', 'y']);

/** What a slim copy of the event kept (the engine's former lists): the keys asked for, as `k in o` found them. */
const slim = (e: EventRecord): EventRecord => {
  const properties: Record<string, unknown> = {};
  for (const k of KEEP) if (k in e.properties) properties[k] = e.properties[k];
  return { name: e.name, timestamp: e.timestamp, properties: properties as JsonObject, context: {} };
};

/** A slice's rows as records: name, time, and every column's value that is not absent. */
const read = (s: EventSlice): EventRecord[] => Array.from({ length: s.length }, (_, i) => {
  const properties: Record<string, unknown> = {}, context: Record<string, unknown> = {};
  for (const c of s.group.cols) {
    const v = c.dict.values[c.codes[s.start + i]!];
    if (v !== undefined) (c.root === 'properties' ? properties : context)[c.key] = v;
  }
  return { name: s.name(i), timestamp: s.time(i), properties: properties as JsonObject, context: context as JsonObject };
});

type Op =
  | { kind: 'add'; slot: number; list: 0 | 1 | 2; t: number; x: unknown; y: unknown }
  | { kind: 'remove'; slot: number; list: 0 | 1 | 2; pick: number }
  | { kind: 'clear'; slot: number; list: 0 | 1 | 2 }
  | { kind: 'release'; slot: number }
  | { kind: 'compact' };

const value = fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: 3 }), fc.constantFrom('p', 'q'), fc.constant({ k: 1 }), fc.constant([1, 2]));
const list = fc.constantFrom(0 as const, 1 as const, 2 as const);
const slot = fc.integer({ min: 0, max: 5 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('add' as const), slot, list, t: fc.integer({ min: 0, max: 20 }), x: value, y: value }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), slot, list, pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const), slot, list }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), slot }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const) }) },
);

describe('event lists in columns', () => {
  it('property: hold what per-profile arrays of slim copies hold, through appends, late inserts, removals, clears and compaction', () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      const lists = new EventLists();
      const slots = Array.from({ length: 6 }, () => lists.newSlot());
      const model = new Map<string, EventRecord[]>();
      const key = (s: number, l: string | null) => `${s}/${l}`;
      for (const o of ops) {
        if (o.kind === 'add') {
          const props: Record<string, unknown> = {};
          if (o.x !== undefined) props.x = o.x;
          if (o.y !== undefined) props.y = o.y;
          props.z = 'not kept';
          const l = LISTS[o.list];
          // A named list holds events of its name; `*` of any.
          const e: EventRecord = { name: l ?? `n${o.t % 3}`, timestamp: o.t, properties: props as JsonObject, context: { c: 1 } };
          lists.add(slots[o.slot]!, l, e, KEEP, new Set());
          const m = model.get(key(o.slot, l)) ?? [];
          let i = m.length;
          while (i > 0 && m[i - 1]!.timestamp > e.timestamp) i--;
          m.splice(i, 0, slim(e));
          model.set(key(o.slot, l), m);
        } else if (o.kind === 'remove') {
          const l = LISTS[o.list];
          const m = model.get(key(o.slot, l)) ?? [];
          const t = m.length ? m[o.pick % m.length]!.timestamp : -1;
          const i = m.findLastIndex((e) => e.timestamp === t);
          expect(lists.remove(slots[o.slot]!, l, t)).toBe(i !== -1);
          if (i !== -1) m.splice(i, 1);
        } else if (o.kind === 'clear') {
          lists.clear(slots[o.slot]!, LISTS[o.list]);
          model.delete(key(o.slot, LISTS[o.list]));
        } else if (o.kind === 'release') {
          lists.release(slots[o.slot]!);
          for (const l of LISTS) model.delete(key(o.slot, l));
        } else lists.compact();
      }
      expect(lists.rows).toBe([...model.values()].reduce((n, m) => n + m.length, 0));
      for (let s = 0; s < slots.length; s++) {
        for (const l of LISTS) {
          const got = lists.list(slots[s]!, l);
          expect(read(got)).toEqual(model.get(key(s, l)) ?? []);
          const x = sliceReader({ kind: 'json', root: 'properties', keys: ['x'] });
          const xk = sliceReader({ kind: 'json', root: 'properties', keys: ['x', 'k'] });
          const name = sliceReader({ kind: 'field', field: 'event' });
          (model.get(key(s, l)) ?? []).forEach((e, i) => {
            expect(x(got, i)).toEqual(e.properties.x);
            expect(xk(got, i)).toEqual((e.properties.x as { k?: unknown } | undefined)?.k);
            expect(name(got, i)).toBe(e.name);
            expect(got.time(i)).toBe(e.timestamp);
          });
        }
      }
    }), { numRuns: 300 });
  });

  it('property: a list loaded at once (rows in any order, values or their JSON) holds what adding its events one by one holds, and takes more after', () => {
    const row = fc.record({ slot, named: fc.boolean(), t: fc.integer({ min: 0, max: 20 }), x: value, y: value });
    fc.assert(fc.property(fc.array(row, { maxLength: 80 }), fc.boolean(), row, (rows, asJson, after) => {
      const event = (r: typeof after): EventRecord => {
        const props: Record<string, unknown> = { z: 'not kept' };
        if (r.x !== undefined) props.x = r.x;
        if (r.y !== undefined) props.y = r.y;
        return { name: r.named ? 'a' : `n${r.t % 3}`, timestamp: r.t, properties: props as JsonObject, context: {} };
      };
      const one = new EventLists(), all = new EventLists();
      const slots = Array.from({ length: 6 }, () => [one.newSlot(), all.newSlot()] as const);
      // Another list's rows first, so that the dictionaries hold codes already.
      one.add(slots[0]![0], 'b', event({ ...after, x: 'p' }), KEEP, new Set());
      all.add(slots[0]![1], 'b', event({ ...after, x: 'p' }), KEEP, new Set());
      const loaders = new Map<string | null, ListLoader>([['a', new ListLoader(all, 'a', KEEP, new Set())], [null, new ListLoader(all, null, KEEP, new Set())]]);
      for (const r of rows) {
        const e = event(r);
        for (const l of e.name === 'a' ? ['a', null] : [null]) {
          one.add(slots[r.slot]![0], l, e, KEEP, new Set());
          const loader = loaders.get(l)!;
          if (!asJson) { loader.add(slots[r.slot]![1], e); continue; }
          loader.row(slots[r.slot]![1], e.timestamp, e.name);
          loader.keys.forEach((k, i) => loader.json(i, k.key in e.properties ? JSON.stringify(e.properties[k.key]) : null));
        }
      }
      for (const loader of loaders.values()) loader.finish();
      const same = () => {
        for (const [a, b] of slots) for (const l of ['a', 'b', null]) expect(read(all.list(b, l))).toEqual(read(one.list(a, l)));
      };
      same();
      expect(all.rows).toBe(one.rows);
      const e = event({ ...after, named: true });
      for (const l of ['a', null]) { one.add(slots[after.slot]![0], l, e, KEEP, new Set()); all.add(slots[after.slot]![1], l, e, KEEP, new Set()); }
      same();
      expect(all.rows).toBe(one.rows);
      expect(all.rows).toBe(1 + rows.length + rows.filter((r) => r.named).length + 2);
    }), { numRuns: 300 });
  });

  it('keeps every own key when given no key set, and nothing of a key it was not asked for', () => {
    const lists = new EventLists();
    const s = lists.newSlot();
    lists.add(s, 'a', { name: 'a', timestamp: 1, properties: { p: 'x', q: [1] }, context: { c: { d: 2 } } }, null, null);
    lists.add(s, 'a', { name: 'a', timestamp: 2, properties: { p: 'y', q: 3 }, context: {} }, new Set(['q']), new Set());
    expect(read(lists.list(s, 'a'))).toEqual([
      { name: 'a', timestamp: 1, properties: { p: 'x', q: [1] }, context: { c: { d: 2 } } },
      { name: 'a', timestamp: 2, properties: { q: 3 }, context: {} },
    ]);
  });
});
