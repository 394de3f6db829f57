import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Json } from '@strata/core';
import { testBackends } from '@strata/store/testing';
import { startTestApp, type TestApp } from './test-app.ts';

const backends = await testBackends();
const T0 = Date.UTC(2024, 5, 15, 12);
const DAY = 86_400_000;
const at = (ms: number) => new Date(ms).toISOString();

/** 20 known users: score 1..20; plan pro for 1-2, vip for 3, free otherwise; u1..u5 viewed /pricing (u1 seven times). */
function people(): Json[] {
  const batch: Json[] = [];
  for (let i = 1; i <= 20; i++) {
    const plan = i <= 2 ? 'pro' : i === 3 ? 'vip' : 'free';
    batch.push({ type: 'identify', userId: `u${i}`, traits: { score: i, plan }, timestamp: at(T0 - 10 * DAY), messageId: `id-${i}` });
    const views = i === 1 ? 7 : i <= 5 ? 1 : 0;
    for (let k = 0; k < views; k++) batch.push({ type: 'page', userId: `u${i}`, properties: { path: '/pricing' }, timestamp: at(T0 - DAY - k * 60_000), messageId: `pv-${i}-${k}` });
  }
  return batch;
}

type Warning = { code: string; message: string; segmentIds: string[]; paths?: string[]; jaccard?: number };
const codes = (ws: Warning[]) => ws.map((w) => w.code).sort();

describe.each(backends.map((b) => [b.name, b] as const))('segment hygiene on %s', (_n, backend) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp(await backend.open(), T0);
    expect((await t.send('/v1/batch', { batch: people() })).status).toBe(200);
  });
  afterEach(async () => t.close());

  const create = async (name: string, condition: Json) => {
    const r = await t.admin('POST', '/api/segments', { name, condition });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body as { id: string; size: number; warnings: Warning[] };
  };
  const plan = (value: string) => ({ attr: 'traits.plan', op: 'eq', value });

  it('DUPLICATE: an equivalent condition, however it is written; not for a different one, nor for itself', async () => {
    const pro = await create('pro', plan('pro'));
    expect(pro.warnings).toEqual([]);
    const same = await create('pro again', { all: [{ all: [{ attr: 'traits.plan', op: 'in', value: ['pro'] }] }] });
    const dup = same.warnings.find((w) => w.code === 'DUPLICATE')!;
    expect(dup.segmentIds).toEqual([pro.id]);
    expect(dup.message).toContain('"pro"');
    // Same members but not an equivalent condition: overlap, not duplicate (and not both for one pair).
    const vip = await create('vip', plan('vip'));
    expect(codes(vip.warnings)).not.toContain('DUPLICATE');
    // A change of name only does not make a segment its own duplicate.
    const renamed = await t.admin('PATCH', `/api/segments/${pro.id}`, { name: 'pro users' });
    expect(renamed.body.warnings.filter((w: Warning) => w.code === 'DUPLICATE').flatMap((w: Warning) => w.segmentIds)).toEqual([same.id]);
    // A patch that makes a segment equivalent to another says so.
    const patched = await t.admin('PATCH', `/api/segments/${vip.id}`, { condition: { not: { attr: 'traits.plan', op: 'neq', value: 'pro' } } });
    expect(patched.body.warnings.find((w: Warning) => w.code === 'DUPLICATE')?.segmentIds.sort()).toEqual([pro.id, same.id].sort());
    // Previews are checked too.
    const preview = await t.admin('POST', '/api/segments/preview', { condition: plan('pro') });
    expect(preview.body.warnings.find((w: Warning) => w.code === 'DUPLICATE')?.segmentIds.length).toBe(3);
  });

  it('DUPLICATE follows a referenced segment when it changes: the segment referencing it is compared by its new condition', async () => {
    const vip = await create('vip', plan('vip'));
    const nested = await create('nested vip', { segment: vip.id });
    const dupIds = (w: Warning[]) => w.find((x) => x.code === 'DUPLICATE')?.segmentIds.sort() ?? [];
    expect(dupIds(nested.warnings)).toEqual([vip.id]);
    const again = await create('vip again', plan('vip'));
    expect(dupIds(again.warnings)).toEqual([vip.id, nested.id].sort());
    // "vip" now means basic: so does the segment referencing it.
    expect((await t.admin('PATCH', `/api/segments/${vip.id}`, { condition: plan('basic') })).status).toBe(200);
    expect(dupIds((await create('vip third', plan('vip'))).warnings)).toEqual([again.id]);
    expect(dupIds((await create('basic', plan('basic'))).warnings)).toEqual([vip.id, nested.id].sort());
    // A segment with users added by hand is more than its condition: the one referencing it is no longer a plain "basic".
    const someone = (await t.admin('GET', `/api/segments/${vip.id}/members`)).body.members[0]?.userId ?? 'u1';
    expect((await t.admin('POST', `/api/segments/${vip.id}/members`, { userIds: [someone] })).status).toBe(200);
    expect(dupIds((await create('basic again', plan('basic'))).warnings)).not.toContain(nested.id);
  });

  it('CONTRADICTION: names the conflicting parts; a satisfiable condition gets none', async () => {
    const bad = await create('never', { all: [plan('pro'), { attr: 'traits.score', op: 'gte', value: 1 }, plan('vip')] });
    const c = bad.warnings.find((w) => w.code === 'CONTRADICTION')!;
    expect(c.paths).toEqual(['/all/0', '/all/2']);
    expect(bad.size).toBe(0);
    expect(codes(bad.warnings)).not.toContain('EMPTY');
    const counts = await t.admin('POST', '/api/segments/preview', { condition: { all: [
      { event: '$pageview', window: { within: '30d' }, cmp: { op: 'gte', value: 5 } },
      { event: '$pageview', window: { within: '30d' }, cmp: { op: 'lte', value: 3 } }] } });
    expect(counts.body.warnings.map((w: Warning) => w.code)).toEqual(['CONTRADICTION']);
    const ok = await create('either', { any: [plan('pro'), plan('vip')] });
    expect(codes(ok.warnings)).not.toContain('CONTRADICTION');
  });

  it('EMPTY: valid but matching nobody now; not once someone matches', async () => {
    const none = await create('enterprise', plan('enterprise'));
    expect(none.warnings).toEqual([{ code: 'EMPTY', message: 'no user matches now (of 20)', segmentIds: [] }]);
    const some = await create('free', plan('free'));
    expect(codes(some.warnings)).not.toContain('EMPTY');
    const preview = await t.admin('POST', '/api/segments/preview', { condition: plan('team') });
    expect(codes(preview.body.warnings)).toEqual(['EMPTY']);
  });

  it('SUBSET and HIGH_OVERLAP by membership, the closest first; not for disjoint or referencing segments', async () => {
    const low = await create('score ≤ 19', { attr: 'traits.score', op: 'lte', value: 19 });
    expect(low.warnings).toEqual([]);
    // 2..20 against 1..19: 18 shared of 20 — Jaccard 0.9, neither inside the other.
    const high = await create('score ≥ 2', { attr: 'traits.score', op: 'gte', value: 2 });
    expect(high.warnings).toEqual([expect.objectContaining({ code: 'HIGH_OVERLAP', segmentIds: [low.id], jaccard: 0.9 })]);
    // 3..20: inside 2..20 (SUBSET); with 1..19 it shares 17 of 20 (0.85): not reported.
    const higher = await create('score ≥ 3', { attr: 'traits.score', op: 'gte', value: 3 });
    expect(higher.warnings.map((w) => [w.code, w.segmentIds])).toEqual([['SUBSET', [high.id]]]);
    expect(higher.warnings[0]!.message).toContain('every member of this segment (18)');
    // The other way round: the new segment holds all of an existing one.
    const top = await create('score ≥ 19', { attr: 'traits.score', op: 'gte', value: 19 });
    const wide = await create('score ≥ 18', { attr: 'traits.score', op: 'gte', value: 18 });
    expect(wide.warnings.find((w) => w.segmentIds[0] === top.id)?.message).toContain('is also in this segment');
    // Disjoint: nothing.
    const pro = await create('pro', plan('pro'));
    expect(pro.warnings.filter((w) => w.segmentIds.includes(top.id))).toEqual([]);
    // Defined from another segment: a subset by design, not reported.
    const proHigh = await create('pro and high', { all: [{ segment: pro.id }, { attr: 'traits.score', op: 'gte', value: 2 }] });
    expect(proHigh.warnings.filter((w) => w.code === 'SUBSET' && w.segmentIds.includes(pro.id))).toEqual([]);
  });

  it('the segment list\'s warnings: every kind, the same as saving each segment again says, and live as membership changes', async () => {
    const pro = await create('pro', plan('pro'));
    await create('pro again', { attr: 'traits.plan', op: 'in', value: ['pro'] });
    await create('never', { all: [plan('pro'), plan('vip')] });
    const enterprise = await create('enterprise', plan('enterprise'));
    await create('score ≤ 19', { attr: 'traits.score', op: 'lte', value: 19 });
    await create('score ≥ 2', { attr: 'traits.score', op: 'gte', value: 2 });
    await create('score ≥ 3', { attr: 'traits.score', op: 'gte', value: 3 });
    await create('pro and high', { all: [{ segment: pro.id }, { attr: 'traits.score', op: 'gte', value: 2 }] });
    const list = await t.admin('POST', '/api/segments', { name: 'hand-picked', condition: null });
    expect((await t.admin('POST', `/api/segments/${list.body.id}/members`, { userIds: ['u1', 'u2'] })).status).toBeLessThan(300);
    const listed = async () => {
      const r = await t.admin('GET', '/api/segments/warnings');
      expect(r.status).toBe(200);
      return new Map((r.body.segments as { id: string; warnings: Warning[] }[]).map((s) => [s.id, s.warnings]));
    };
    const byId = await listed();
    const segments = (await t.admin('GET', '/api/segments')).body.segments as { id: string; name: string }[];
    expect([...byId.keys()]).toEqual(segments.map((s) => s.id));
    for (const seg of segments) {
      const saved = await t.admin('PATCH', `/api/segments/${seg.id}`, { description: 'checked' });
      expect(byId.get(seg.id), seg.name).toEqual(saved.body.warnings);
    }
    expect(new Set([...byId.values()].flat().map((w) => w.code))).toEqual(new Set(['DUPLICATE', 'CONTRADICTION', 'EMPTY', 'SUBSET', 'HIGH_OVERLAP']));
    // The static list has the same members as "pro": reported both ways.
    expect(byId.get(list.body.id)!.map((w) => [w.code, w.segmentIds])).toContainEqual(['HIGH_OVERLAP', [pro.id]]);
    expect(byId.get(pro.id)!.map((w) => [w.code, w.segmentIds])).toContainEqual(['HIGH_OVERLAP', [list.body.id]]);
    expect(codes(byId.get(enterprise.id)!)).toEqual(['EMPTY']);
    // Someone becomes enterprise: the list no longer says EMPTY.
    expect((await t.send('/v1/identify', { userId: 'u20', traits: { plan: 'enterprise' } })).status).toBe(200);
    const after = (await listed()).get(enterprise.id)!;
    expect(codes(after)).not.toContain('EMPTY');
    expect(after.map((w) => w.code)).toContain('SUBSET');
  });

  it('previews explain why each sampled member matched', async () => {
    const r = await t.admin('POST', '/api/segments/preview', { condition: { all: [
      { event: '$pageview', where: [{ attr: 'properties.path', op: 'eq', value: '/pricing' }], window: { within: '30d' }, cmp: { op: 'gte', value: 5 } },
      { attr: 'traits.plan', op: 'in', value: ['pro', 'vip'] }] } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ count: 1, total: 20 });
    expect(r.body.sample).toEqual([expect.objectContaining({ userId: 'u1' })]);
    expect(r.body.sample[0].why).toEqual([
      '✓ $pageview count where properties.path = "/pricing": 7 in the last 30 days (needs ≥ 5)',
      '✓ traits.plan is "pro" (needs in ["pro", "vip"])',
    ]);
    expect(r.body.sample[0].explanation).toMatchObject({ kind: 'all', result: true, children: [{ path: '/all/0', observed: 7 }, { path: '/all/1', observed: 'pro' }] });
  });

  it('explains one user and any segment, member or not, and agrees with membership', async () => {
    const pricing = await create('pricing fans', { event: '$pageview', where: [{ attr: 'properties.path', op: 'eq', value: '/pricing' }], window: { within: '30d' }, cmp: { op: 'gte', value: 5 } });
    const pro = await create('pro', plan('pro'));
    const both = await create('pro fans', { all: [{ segment: pricing.id }, { segment: pro.id }] });
    const yes = await t.admin('GET', `/api/users/u1/segments/${both.id}/explain`);
    expect(yes.status).toBe(200);
    expect(yes.body).toMatchObject({ segmentId: both.id, segmentName: 'pro fans', userId: 'u1', member: true, reason: 'condition', at: at(T0) });
    expect(yes.body.since).toBe(at(T0));
    expect(yes.body.why).toEqual(['✓ member of "pricing fans": yes', '✓ member of "pro": yes']);
    const no = await t.admin('GET', `/api/users/u2/segments/${pricing.id}/explain`);
    expect(no.body).toMatchObject({ member: false, since: null, reason: 'condition' });
    expect(no.body.why).toEqual(['✗ $pageview count where properties.path = "/pricing": 1 in the last 30 days (needs ≥ 5)']);
    // Added by hand: the include list decides, and the condition is still shown.
    expect((await t.admin('POST', `/api/segments/${pricing.id}/members`, { userIds: ['u2'] })).status).toBe(200);
    const hand = await t.admin('GET', `/api/users/u2/segments/${pricing.id}/explain`);
    expect(hand.body).toMatchObject({ member: true, reason: 'included' });
    expect(hand.body.explanation.result).toBe(false);
    // Every user and segment: the explanation's verdict is the membership Strata keeps.
    for (let i = 1; i <= 20; i++) {
      const mine = new Set(((await t.admin('GET', `/api/users/u${i}/segments`)).body.segments as { id: string }[]).map((s) => s.id));
      for (const s of [pricing, pro, both]) expect((await t.admin('GET', `/api/users/u${i}/segments/${s.id}/explain`)).body.member, `u${i} in ${s.id}`).toBe(mine.has(s.id));
    }
    expect((await t.admin('GET', `/api/users/nobody/segments/${pro.id}/explain`)).status).toBe(404);
    expect((await t.admin('GET', '/api/users/u1/segments/seg_missing/explain')).body.error.message).toContain('seg_missing');
  });

  it('overlap: pairwise intersections and Jaccard; bad requests name the fault', async () => {
    const a = await create('score ≤ 10', { attr: 'traits.score', op: 'lte', value: 10 });
    const b = await create('score ≥ 6', { attr: 'traits.score', op: 'gte', value: 6 });
    const c = await create('pro', plan('pro'));
    const r = await t.admin('POST', '/api/segments/overlap', { ids: [a.id, b.id, c.id] });
    expect(r.status).toBe(200);
    expect(r.body.segments.map((s: { size: number }) => s.size)).toEqual([10, 15, 2]);
    expect(r.body.intersections).toEqual([[10, 5, 2], [5, 15, 0], [2, 0, 2]]);
    expect(r.body.pairs).toEqual([
      { a: a.id, b: b.id, intersection: 5, jaccard: 0.25 },
      { a: a.id, b: c.id, intersection: 2, jaccard: 0.2 },
      { a: b.id, b: c.id, intersection: 0, jaccard: 0 },
    ]);
    const unknown = await t.admin('POST', '/api/segments/overlap', { ids: [a.id, 'seg_nope'] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.issues).toEqual([{ path: '/ids/1', message: 'unknown segment id "seg_nope"' }]);
    expect((await t.admin('POST', '/api/segments/overlap', { ids: [a.id, a.id] })).body.error.issues[0].path).toBe('/ids/1');
    expect((await t.admin('POST', '/api/segments/overlap', { ids: [a.id] })).status).toBe(400);
    expect((await t.admin('POST', '/api/segments/overlap', { ids: Array.from({ length: 51 }, (_, i) => `s${i}`) })).status).toBe(400);
  });
});
