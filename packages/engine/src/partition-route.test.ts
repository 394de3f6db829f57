import { describe, expect, it } from 'vitest';
import { partitionOf, type IngestItem, type ProfileRef } from '@strata/store';
import { homePartition, RouteKeys, routeItems } from './partition-route.ts';

/**
 * Routing a record's items on a worker that owns some partitions (docs/scale-out.md § Merges
 * across partitions): which items are applied here, forwarded, or take a profile over, as
 * identity resolution (IngestStore.resolve) will decide once they are applied.
 */

const P = 4;
const HERE = 0;
const owns = (p: number) => p === HERE;
/** An id whose partition is (`here`) or is not this worker's. */
const id = (prefix: string, here: boolean): string => {
  for (let i = 0; ; i++) if (owns(partitionOf(`${prefix}${i}`, P)) === here) return `${prefix}${i}`;
};
let n = 0;
const item = (ids: Partial<Pick<IngestItem, 'userId' | 'anonymousId' | 'previousId' | 'type'>>): IngestItem => ({
  messageId: `m${++n}`, type: 'track', name: 'view', userId: null, anonymousId: null, previousId: null, properties: {}, context: {}, traits: null, timestamp: n, receivedAt: n, ...ids,
});
const keys = (entries: [string, ProfileRef][]) => new RouteKeys(new Map(entries));

describe('routeItems', () => {
  it('forwards an event of an anonymous id merged into a profile homed elsewhere, to that profile\'s partition', () => {
    const a = id('a', true), u = id('u', false);
    const pu: ProfileRef = { id: 7, userId: u, anonymousId: a };
    const r = routeItems([item({ anonymousId: a })], keys([[`a:${a}`, pu], [`u:${u}`, pu]]), owns, P);
    expect(r.own).toEqual([]);
    expect([...r.forward]).toEqual([[homePartition(pu, P), [expect.objectContaining({ anonymousId: a })]]]);
    expect(r.claims.size).toBe(0);
  });

  it('takes over an anonymous profile homed elsewhere that an identify here gives a userId, claiming its partition', () => {
    const u = id('u', true), a = id('a', false);
    const pa: ProfileRef = { id: 3, userId: null, anonymousId: a };
    const r = routeItems([item({ type: 'identify', userId: u, anonymousId: a })], keys([[`a:${a}`, pa]]), owns, P);
    expect(r.own).toHaveLength(1);
    expect(r.adopt).toEqual([pa]);
    expect([...r.claims]).toEqual([partitionOf(a, P)]);
  });

  it('applies a visitor\'s anonymous events sent with their identify where the identify goes, claiming the anonymous id\'s partition for its first key', () => {
    const u = id('u', true), a = id('a', false);
    const r = routeItems([item({ anonymousId: a }), item({ anonymousId: a }), item({ type: 'identify', userId: u, anonymousId: a })], keys([]), owns, P);
    expect(r.own).toHaveLength(3);
    expect(r.forward.size).toBe(0);
    expect(r.adopt).toEqual([]);
    expect([...r.claims]).toEqual([partitionOf(a, P)]);
  });

  it('merges into a profile here without claiming anything when both ids are already this worker\'s', () => {
    const u = id('u', true), a = id('a', true);
    const pu: ProfileRef = { id: 1, userId: u, anonymousId: null }, pa: ProfileRef = { id: 2, userId: null, anonymousId: a };
    const k = keys([[`u:${u}`, pu], [`a:${a}`, pa]]);
    const r = routeItems([item({ type: 'identify', userId: u, anonymousId: a }), item({ anonymousId: a })], k, owns, P);
    expect(r.own).toHaveLength(2);
    expect(r.adopt).toEqual([]);
    expect(r.claims.size).toBe(0);
    // The keys follow the merge: the anonymous id names the survivor for the records after this one.
    expect(k.get(`a:${a}`)).toBe(pu);
  });

  it('forwards an alias onto a user homed elsewhere, and the events after it that end in that user', () => {
    const old = id('old', true), v = id('v', false);
    const pold: ProfileRef = { id: 4, userId: old, anonymousId: null }, pv: ProfileRef = { id: 5, userId: v, anonymousId: null };
    const r = routeItems([item({ type: 'alias', userId: v, previousId: old }), item({ userId: old })], keys([[`u:${old}`, pold], [`u:${v}`, pv]]), owns, P);
    expect(r.own).toEqual([]);
    expect([...r.forward.keys()]).toEqual([partitionOf(v, P)]);
    expect(r.forward.get(partitionOf(v, P))).toHaveLength(2);
    expect(r.adopt).toEqual([]);
  });

  it('leaves a known user\'s profile alone when their anonymous id is used by another known user', () => {
    const u = id('u', true), a = id('a', false), w = id('w', false);
    const pw: ProfileRef = { id: 9, userId: w, anonymousId: a };
    const r = routeItems([item({ type: 'identify', userId: u, anonymousId: a })], keys([[`a:${a}`, pw], [`u:${w}`, pw]]), owns, P);
    // A new profile for u, here; w's profile is neither merged nor taken.
    expect(r.own).toHaveLength(1);
    expect(r.adopt).toEqual([]);
    expect(r.claims.size).toBe(0);
  });

  it('leaves out of the keys what a forwarded item would have done: the items after it resolve as they will here', () => {
    const z = id('z', true), v = id('v', false), a = id('a', false);
    const pv: ProfileRef = { id: 6, userId: v, anonymousId: null };
    const k = keys([[`u:${v}`, pv]]);
    const r = routeItems([item({ userId: z }), item({ userId: v, anonymousId: a }), item({ userId: z, anonymousId: a })], k, owns, P);
    // v's item goes to v's worker; here a is still nobody's, so z's item gives it its first key, in a's partition.
    expect(r.forward.get(partitionOf(v, P))).toEqual([expect.objectContaining({ userId: v })]);
    expect(r.own.map((i) => i.userId)).toEqual([z, z]);
    expect([...r.claims]).toEqual([partitionOf(a, P)]);
    expect(k.get(`a:${a}`)?.userId).toBe(z);
  });
});
