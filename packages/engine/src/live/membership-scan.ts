/**
 * Scans over a project's membership bits (see project-state.ts), for reads: a profile's
 * segments, a segment's members, a preview's tally, every segment's size, what a segment shares
 * with the others, pairwise overlaps and the close pairs behind the hygiene warnings. Each takes
 * the project's state (undefined when it is not loaded) and reads it only, except the segment
 * sizes it counts once and keeps (`ps.sizes`).
 */
import type { Condition } from '@strata/core';
import { compileViewSegment, conditionReads, popcount32 } from '@strata/core';
import type { EngineProfile } from '@strata/store';
import { plainRecord } from './profile-table.ts';
import { evaluateBulk, positionsOf } from './bulk-eval.ts';
import { projectionKey, recordKeys, type ProfileState, type ProjectState } from './project-state.ts';

/**
 * How a preview or a segment's re-evaluation decides members over all profiles: in bulk over
 * the project's columns (bulk-eval.ts), or per profile with the view evaluator (the same
 * members; kept as the benchmarks' baseline and the tests' reference).
 */
export type Evaluation = 'bulk' | 'per-profile';

/** Ids of the segments a profile is in now (from memory). */
export function segmentsOf(ps: ProjectState | undefined, profileId: number): string[] {
  if (!ps) return [];
  const p = ps.profiles.get(profileId);
  if (!p) return [];
  const out: string[] = [];
  const { data, words } = ps.bits, base = p.slot * words;
  for (let w = 0; w < words; w++) {
    let x = data[base + w]!;
    while (x !== 0) {
      const b = 31 - Math.clz32(x & -x);
      out.push(ps.list[w * 32 + b]!.row.id);
      x &= x - 1;
    }
  }
  return out;
}

/** A profile's segments with their names, in the store's order of segments (created, then id), not the engine's evaluation order. */
export function segmentsInStoreOrder(ps: ProjectState | undefined, profileId: number): { id: string; name: string }[] {
  const ids = segmentsOf(ps, profileId);
  if (!ps || ids.length === 0) return [];
  const member = new Set(ids);
  return ps.rows.filter((r) => member.has(r.id)).map((r) => ({ id: r.id, name: r.name }));
}

/** Members of a segment in memory (profile ids; a scan of every profile). */
export function members(ps: ProjectState | undefined, segmentId: string): Set<number> {
  const s = ps?.segments.get(segmentId);
  const out = new Set<number>();
  if (!ps || !s) return out;
  const { data, words } = ps.bits, ids = ps.cols.records.ids;
  const w0 = s.idx >>> 5, b0 = 1 << (s.idx & 31);
  for (const slot of ps.profiles.slots()) if ((data[slot * words + w0]! & b0) !== 0) out.add(ids[slot]!);
  return out;
}

/**
 * A preview from engine state, when every event name and property the condition reads is
 * already kept (a condition over live leaves); null when the store must answer. The members
 * are decided in bulk over the columns unless `how` says per profile.
 */
export function preview(ps: ProjectState | undefined, condition: Condition, now: number, sampleSize: number, how: Evaluation = 'bulk'): Tally | null {
  if (!ps) return null;
  const reads = conditionReads(condition);
  for (const [n, paths] of reads.paths) {
    const have = ps.tracked.get(n);
    const need = projectionKey(paths);
    if (!have || [...need.props].some((k) => !have.props.has(k)) || [...need.ctx].some((k) => !have.ctx.has(k))) return null;
  }
  for (const id of reads.segments) if (!ps.segments.has(id)) return null;
  const keys = { traits: new Set<string>(), context: new Set<string>() };
  recordKeys(condition, keys);
  if ([...keys.traits].some((k) => !ps.keep.traits.has(k)) || [...keys.context].some((k) => !ps.keep.context.has(k))) return null;
  if (how === 'bulk') {
    const pos = positionsOf(ps);
    return tallyBits(ps, pos.slots, evaluateBulk(ps, pos, condition, now), sampleSize);
  }
  const view = compileViewSegment(condition, new Set(), new Set(), (id) => ps.segments.get(id)?.view);
  return tally(ps, (p) => view.test(p, now), sampleSize);
}

/**
 * What a saved segment shares with every other: its size, and for each segment that shares
 * members with it, its size and how many (a scan of the members' bits; sizes are kept);
 * null when the project or segment is not loaded. With `minJaccard`, only the close segments
 * are given (as closePairs): one holds all of the other, or their Jaccard is at least
 * `minJaccard` (0.0001 below included, as callers round to 4 places).
 */
export function overlapWith(ps: ProjectState | undefined, segmentId: string, minJaccard = 0): Tally | null {
  const s = ps?.segments.get(segmentId);
  if (!ps || !s) return null;
  const sizes = segmentSizes(ps);
  const w0 = s.idx >>> 5, b0 = 1 << (s.idx & 31);
  const common = new Float64Array(ps.list.length);
  let count = 0;
  const { data, words } = ps.bits;
  for (const slot of ps.profiles.slots()) {
    const base = slot * words;
    if ((data[base + w0]! & b0) === 0) continue;
    count++;
    for (let w = 0; w < words; w++) {
      let x = data[base + w]!;
      while (x !== 0) {
        common[w * 32 + 31 - Math.clz32(x & -x)]!++;
        x &= x - 1;
      }
    }
  }
  const floor = minJaccard - 1e-4;
  const sized = new Map<string, number>(), shared = new Map<string, number>();
  for (let i = 0; i < common.length; i++) {
    const inter = common[i]!, size = sizes[i]!;
    if (inter === 0) continue;
    if (minJaccard > 0 && inter !== count && inter !== size && inter / (count + size - inter) < floor) continue;
    const id = ps.list[i]!.row.id;
    sized.set(id, size);
    shared.set(id, inter);
  }
  return { count, total: ps.profiles.size, sample: [], sizes: sized, shared };
}

/** Every segment's size by position: counted from the bits once, then kept as evaluate() flips them. */
function segmentSizes(ps: ProjectState): Float64Array {
  if (ps.sizes && ps.sizes.length === ps.list.length) return ps.sizes;
  const sizes = new Float64Array(ps.list.length);
  const { data, words } = ps.bits;
  for (const slot of ps.profiles.slots()) countBits(data, slot * words, words, sizes);
  return (ps.sizes = sizes);
}

/** Adds one profile's membership bits (`words` words from `base`) to per-segment counts. */
function countBits(data: Uint32Array, base: number, words: number, into: Float64Array): void {
  for (let w = 0; w < words; w++) {
    let x = data[base + w]!;
    while (x !== 0) {
      into[w * 32 + 31 - Math.clz32(x & -x)]!++;
      x &= x - 1;
    }
  }
}

/** Every segment's size, from the membership bits (one scan of the profiles); null when the project is not loaded. */
export function sizes(ps: ProjectState | undefined): ReadonlyMap<string, number> | null {
  return ps ? tally(ps, () => false, 0).sizes : null;
}

/**
 * The tally of the profiles whose bits are set in `bits` (bit i: the profile at slot `slots[i]`,
 * bulk-eval.ts's positions): the kept segment sizes, and the matches' own membership bits only.
 */
export function tallyBits(ps: ProjectState, slots: Int32Array, bits: Uint32Array, sampleSize: number): Tally {
  const sizes = segmentSizes(ps);
  const n = ps.list.length;
  const common = new Float64Array(n);
  let count = 0;
  const sample: EngineProfile[] = [];
  const { data, words } = ps.bits;
  const view = ps.profiles.cursor();
  for (let k = 0; k < bits.length; k++) {
    let m = bits[k]!;
    while (m !== 0) {
      const slot = slots[k * 32 + 31 - Math.clz32(m & -m)]!;
      m &= m - 1;
      count++;
      if (sample.length < sampleSize) {
        view.moveTo(slot);
        sample.push(plainRecord(view));
      }
      countBits(data, slot * words, words, common);
    }
  }
  const sized = new Map<string, number>(), shared = new Map<string, number>();
  for (let i = 0; i < n; i++) { sized.set(ps.list[i]!.row.id, sizes[i]!); shared.set(ps.list[i]!.row.id, common[i]!); }
  return { count, total: ps.profiles.size, sample, sizes: sized, shared };
}

/** One scan: who matches, and per segment its size and how many of the matches it holds. */
function tally(ps: ProjectState, match: (p: ProfileState) => boolean, sampleSize: number): Tally {
  const n = ps.list.length;
  const size = new Float64Array(n), common = new Float64Array(n);
  let count = 0;
  const sample: EngineProfile[] = [];
  const { data, words } = ps.bits;
  // One view, moved from slot to slot (match and plainRecord keep nothing of it).
  const p = ps.profiles.cursor();
  const ids = ps.cols.records.ids, end = ps.cols.slots;
  for (let slot = 0; slot < end; slot++) {
    if (ids[slot] !== ids[slot]) continue; // a slot no profile holds any more (NaN id)
    p.moveTo(slot);
    const hit = match(p);
    if (hit) {
      count++;
      if (sample.length < sampleSize) sample.push(plainRecord(p));
    }
    const base = p.slot * words;
    for (let w = 0; w < words; w++) {
      let x = data[base + w]!;
      while (x !== 0) {
        const i = w * 32 + 31 - Math.clz32(x & -x);
        size[i]!++;
        if (hit) common[i]!++;
        x &= x - 1;
      }
    }
  }
  const sizes = new Map<string, number>(), shared = new Map<string, number>();
  for (let i = 0; i < n; i++) { sizes.set(ps.list[i]!.row.id, size[i]!); shared.set(ps.list[i]!.row.id, common[i]!); }
  return { count, total: ps.profiles.size, sample, sizes, shared };
}

/**
 * Pairwise intersections of up to 52 segments (by id, in the order given) from engine state.
 * Profiles are grouped by which of the segments they are in (a bit signature), so the cost is
 * one pass over the profiles plus, per distinct signature, its pairs.
 */
export function overlap(ps: ProjectState | undefined, ids: readonly string[]): { sizes: number[]; intersections: number[][] } | null {
  if (!ps || ids.length > 52) return null;
  const idxs = ids.map((id) => ps.segments.get(id)?.idx);
  if (idxs.some((i) => i === undefined)) return null;
  const word = (idxs as number[]).map((i) => i >>> 5), bit = (idxs as number[]).map((i) => 1 << (i & 31));
  const k = ids.length;
  const signatures = new Map<number, number>();
  const { data, words } = ps.bits;
  for (const slot of ps.profiles.slots()) {
    const base = slot * words;
    let sig = 0;
    for (let j = 0, weight = 1; j < k; j++, weight *= 2) if ((data[base + word[j]!]! & bit[j]!) !== 0) sig += weight;
    if (sig !== 0) signatures.set(sig, (signatures.get(sig) ?? 0) + 1);
  }
  const groups: [number[], number][] = [];
  for (const [sig, n] of signatures) {
    const members: number[] = [];
    for (let j = 0, rest = sig; rest > 0; j++, rest = Math.floor(rest / 2)) if (rest % 2 === 1) members.push(j);
    groups.push([members, n]);
  }
  const m = pairMatrix(groups, k);
  return { sizes: m.map((row, i) => row[i]!), intersections: m };
}

/**
 * The pairs of segments of a project that are close: one holds all of the other, or their
 * Jaccard is at least `minJaccard` (the segment list's SUBSET and HIGH_OVERLAP warnings), with
 * their intersections; and every segment's size. Null when the project is not loaded.
 *
 * One pass turns the profiles' membership bits into a bitset per segment (bit i: the i-th
 * profile), keeping the indexes of its non-zero words. A pair is then tested over the smaller
 * segment's words only: the subset test stops at the first member outside the other, and
 * the intersection is counted only when the sizes allow the Jaccard (|A| ≥ j·|B|). Pairs
 * within 0.0001 below `minJaccard` are included too, as callers round the Jaccard to 4 places.
 */
export function closePairs(ps: ProjectState | undefined, minJaccard: number): { ids: string[]; sizes: number[]; pairs: [number, number, number][]; total: number } | null {
  if (!ps) return null;
  const n = ps.list.length;
  const words = (ps.profiles.size + 31) >>> 5;
  const sizes = new Array<number>(n).fill(0);
  const cols: (Uint32Array | undefined)[] = new Array(n);
  let pos = 0;
  const { data, words: rowWords } = ps.bits;
  for (const slot of ps.profiles.slots()) {
    const base = slot * rowWords, w = pos >>> 5, bit = 1 << (pos & 31);
    for (let k = 0; k < rowWords; k++) {
      let x = data[base + k]!;
      while (x !== 0) {
        const i = k * 32 + 31 - Math.clz32(x & -x);
        (cols[i] ??= new Uint32Array(words))[w]! |= bit;
        sizes[i]!++;
        x &= x - 1;
      }
    }
    pos++;
  }
  const nonZero = cols.map((c) => {
    if (!c) return new Uint32Array(0);
    const out: number[] = [];
    for (let w = 0; w < c.length; w++) if (c[w] !== 0) out.push(w);
    return Uint32Array.from(out);
  });
  const floor = minJaccard - 1e-4;
  const pairs: [number, number, number][] = [];
  for (let a = 0; a < n; a++) {
    if (sizes[a] === 0) continue;
    for (let b = a + 1; b < n; b++) {
      if (sizes[b] === 0) continue;
      const [small, large] = sizes[a]! <= sizes[b]! ? [a, b] : [b, a];
      const sc = cols[small]!, lc = cols[large]!, idx = nonZero[small]!;
      let subset = true;
      for (let k = 0; k < idx.length; k++) if ((sc[idx[k]!]! & ~lc[idx[k]!]!) !== 0) { subset = false; break; }
      if (subset) { pairs.push([a, b, sizes[small]!]); continue; }
      if (sizes[small]! < floor * sizes[large]!) continue;
      let inter = 0;
      for (let k = 0; k < idx.length; k++) inter += popcount32(sc[idx[k]!]! & lc[idx[k]!]!);
      if (inter / (sizes[a]! + sizes[b]! - inter) >= floor) pairs.push([a, b, inter]);
    }
  }
  return { ids: ps.list.map((s) => s.row.id), sizes, pairs, total: ps.profiles.size };
}

/** A symmetric k×k matrix of intersection sizes (the diagonal: sizes) from groups of profiles that share the same members list. */
function pairMatrix(groups: readonly (readonly [readonly number[], number])[], k: number): number[][] {
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (const [members, n] of groups) {
    for (let a = 0; a < members.length; a++) {
      const row = m[members[a]!]!;
      for (let b = a; b < members.length; b++) row[members[b]!]! += n;
    }
  }
  for (let a = 0; a < k; a++) for (let b = 0; b < a; b++) m[a]![b] = m[b]![a]!;
  return m;
}

/** Result of one scan of a project's profiles (see tally). */
export interface Tally {
  readonly count: number;
  readonly total: number;
  readonly sample: EngineProfile[];
  /** Size of every segment of the project (overlapWith: of every segment sharing a member with the matches; the others share none). */
  readonly sizes: ReadonlyMap<string, number>;
  /** Per segment, how many of the matching profiles it holds (overlapWith: only the non-zero counts). */
  readonly shared: ReadonlyMap<string, number>;
}
