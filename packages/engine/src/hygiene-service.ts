import type { Condition, Explanation } from '@strata/core';
import { AppError, canonicalKey, referencedSegments, explainCondition, explainSegment, explanationLines, findContradiction, validationError } from '@strata/core';
import type { ExplainResolver } from '@strata/core';
import type { SegmentRow, SqlStore } from '@strata/store';
import type { Clock } from './clock.ts';
import type { LiveEngine, Tally } from './live-engine.ts';
import type { MembershipService, ParsedSegment } from './membership-service.ts';

export type WarningCode = 'DUPLICATE' | 'CONTRADICTION' | 'EMPTY' | 'SUBSET' | 'HIGH_OVERLAP';

/** A segment-hygiene warning: advice on create, update and preview, never a refusal. */
export interface SegmentWarning {
  readonly code: WarningCode;
  readonly message: string;
  /** The other segments concerned (DUPLICATE, SUBSET, HIGH_OVERLAP; referenced ones for CONTRADICTION). */
  readonly segmentIds: string[];
  /** CONTRADICTION: JSON Pointers of the parts of the condition that conflict. */
  readonly paths?: string[];
  /** SUBSET, HIGH_OVERLAP: shared members / members of either. */
  readonly jaccard?: number;
}

/** Jaccard at or above which two segments are reported as overlapping (issue: ≥ 0.9). */
export const HIGH_OVERLAP_JACCARD = 0.9;
/** At most this many SUBSET / HIGH_OVERLAP warnings, the closest pairs first. */
const MAX_OVERLAP_WARNINGS = 10;
export const MAX_OVERLAP_SEGMENTS = 50;

export interface OverlapResult {
  readonly segments: { id: string; name: string; size: number }[];
  /** intersections[i][j]: members of both segments i and j (the diagonal: sizes). */
  readonly intersections: number[][];
  readonly pairs: { a: string; b: string; intersection: number; jaccard: number }[];
}

export interface ExplainView {
  readonly segmentId: string;
  readonly segmentName: string;
  readonly userId: string | null;
  readonly anonymousId: string | null;
  readonly member: boolean;
  readonly since: string | null;
  readonly reason: 'excluded' | 'included' | 'condition' | 'no condition';
  readonly text: string;
  readonly at: string;
  readonly why: string[];
  readonly explanation: Explanation | null;
}

const jaccard = (inter: number, a: number, b: number) => (a + b - inter === 0 ? 0 : inter / (a + b - inter));
const round = (x: number) => Math.round(x * 10000) / 10000;
/** A segment in a warning's message, by name (its id is in the warning's `segmentIds`). */
const quote = (r: SegmentRow) => `"${r.name}"`;

interface Analysis {
  readonly parsedOf: (id: string) => ParsedSegment | undefined;
  readonly inline: (id: string) => Condition | null;
  /** The saved segments other than `selfId` whose condition has this canonical key, in `rows` order. */
  readonly sameKey: (key: string, selfId: string | undefined) => SegmentRow[];
  /** Every segment the given one references or is referenced by, directly or not. */
  readonly related: (id: string) => Set<string>;
  /** The rows that share members with a tally's matches, in rows order. */
  readonly sharing: (tally: Tally) => SegmentRow[];
}

/** The rows last analysed, by id, position and canonical key (key number → rows in order), and those referencing others. */
interface RowIndex {
  readonly rows: readonly SegmentRow[];
  readonly byId: Map<string, SegmentRow>;
  readonly pos: Map<string, number>;
  readonly buckets: Map<number, SegmentRow[]>;
  readonly referencing: (readonly [string, readonly string[]])[];
  /** The reference graph of `referencing` when it had `size` rows. */
  graph?: { size: number; related: (id: string) => Set<string> };
}

/**
 * A saved segment's canonical key, kept while it holds: the segment is at the same version
 * (updatedAt) and so is every segment its key inlined, each with or without manual lists as
 * then. `refs`: the segments its condition references directly.
 */
interface KeyEntry {
  readonly updatedAt: number;
  /** The key's number in the project's KeyCache.ids (-1: no condition): a comparison of keys is one of numbers. */
  readonly key: number;
  readonly deps: readonly (readonly [id: string, updatedAt: number, manual: boolean])[];
  readonly refs: readonly string[];
}

/** Which segments reference which: `related(id)` is every segment `id` references or is referenced by, directly or not. */
function referenceGraph(refsOf: Iterable<readonly [string, readonly string[]]>): { related: (id: string) => Set<string> } {
  const down = new Map<string, readonly string[]>(), up = new Map<string, string[]>();
  for (const [id, refs] of refsOf) {
    if (refs.length === 0) continue;
    down.set(id, refs);
    for (const r of refs) up.set(r, [...(up.get(r) ?? []), id]);
  }
  const reach = (from: string, next: ReadonlyMap<string, readonly string[]>) => {
    const seen = new Set<string>();
    const stack = [from];
    while (stack.length) for (const n of next.get(stack.pop()!) ?? []) if (!seen.has(n)) { seen.add(n); stack.push(n); }
    return seen;
  };
  return { related: (id) => new Set([...reach(id, down), ...reach(id, up)]) };
}

/**
 * Segment hygiene: duplicate and contradiction warnings from the condition alone, empty /
 * subset / overlap warnings from membership now, pairwise overlap, and explanations of why a
 * user is or is not in a segment.
 */
export class HygieneService {
  constructor(
    private readonly store: SqlStore,
    private readonly membership: MembershipService,
    private readonly engine: LiveEngine,
    private readonly clock: Clock,
  ) {}

  /** Canonical keys of saved segments, per project: by segment id (see KeyEntry), each distinct key's number, and the last rows indexed. */
  private readonly keys = new Map<string, { entries: Map<string, KeyEntry>; ids: Map<string, number>; index: RowIndex | null }>();

  /**
   * What the static checks need about the saved segments: parsed conditions, the inliner,
   * canonical keys, and the rows by key. Only what a check asks for is parsed; a key is computed
   * again only when its segment or one it inlines changed; and the rows are indexed by key
   * once: when `rows` extends the rows indexed last (the same row objects first, as the engine's
   * rows are after a segment is added), only the new rows are indexed. A check against n
   * segments then costs the new rows and the segments with the same key, not n canonicalizations.
   */
  private analysis(projectId: string, rows: readonly SegmentRow[]): Analysis {
    let cache = this.keys.get(projectId);
    if (!cache || cache.entries.size > 2 * rows.length + 1000) this.keys.set(projectId, (cache = { entries: new Map(), ids: new Map(), index: null }));
    const { entries, ids } = cache;
    const last = cache.index;
    const extend = last !== null && last.rows.length > 0 && rows.length >= last.rows.length
      && rows[0] === last.rows[0] && rows[last.rows.length - 1] === last.rows[last.rows.length - 1];
    const index: RowIndex = extend ? { ...last, rows } : { rows, byId: new Map(), pos: new Map(), buckets: new Map(), referencing: [] };
    const from = extend ? last.rows.length : 0;
    for (let i = from; i < rows.length; i++) { index.byId.set(rows[i]!.id, rows[i]!); index.pos.set(rows[i]!.id, i); }
    cache.index = index;
    const rowOf = (id: string) => index.byId.get(id);
    const parsedOf = (id: string) => {
      const row = rowOf(id);
      return row ? this.membership.parseOne(projectId, row, (x) => rowOf(x)?.condition ?? null) : undefined;
    };
    const inline = (id: string) => (this.engine.hasManualLists(projectId, id) ? null : parsedOf(id)?.condition ?? null);
    const number = (key: string) => ids.get(key) ?? (ids.set(key, ids.size), ids.size - 1);
    // The version of a segment a key inlined: the engine's (a look-up) when it holds the project, else the rows'.
    const versionOf = (id: string) => (this.engine.segmentRow(projectId, id) ?? rowOf(id))?.updatedAt ?? -1;
    const depsHold = (e: KeyEntry) => e.deps.every(([id, at, manual]) => versionOf(id) === at && this.engine.hasManualLists(projectId, id) === manual);
    const entryOf = (row: SegmentRow): KeyEntry => {
      const hit = entries.get(row.id);
      if (hit !== undefined && hit.updatedAt === row.updatedAt && (hit.deps.length === 0 || depsHold(hit))) return hit;
      const c = this.membership.parseOne(projectId, row, (x) => rowOf(x)?.condition ?? null).condition;
      const deps = new Map<string, readonly [string, number, boolean]>();
      const key = c ? number(canonicalKey(c, (id) => {
        if (!deps.has(id)) deps.set(id, [id, versionOf(id), this.engine.hasManualLists(projectId, id)]);
        return inline(id);
      })) : -1;
      const e: KeyEntry = { updatedAt: row.updatedAt, key, deps: [...deps.values()], refs: c ? referencedSegments(c) : [] };
      entries.set(row.id, e);
      return e;
    };
    for (let i = from; i < rows.length; i++) {
      const r = rows[i]!, e = entryOf(r);
      const bucket = index.buckets.get(e.key);
      if (bucket) bucket.push(r); else index.buckets.set(e.key, [r]);
      if (e.refs.length) index.referencing.push([r.id, e.refs]);
    }
    const sameKey = (key: string, selfId: string | undefined) => (index.buckets.get(number(key)) ?? []).filter((r) => r.id !== selfId);
    // The reference graph is kept with the index until a row that references others is added.
    const related = (id: string) => {
      if (index.graph?.size !== index.referencing.length) index.graph = { size: index.referencing.length, ...referenceGraph(index.referencing) };
      return index.graph.related(id);
    };
    // The rows sharing members with a tally's matches, in rows order (the others share none).
    const sharing = (tally: Tally) => {
      const at: number[] = [];
      for (const [id, n] of tally.shared) { const i = n > 0 ? index.pos.get(id) : undefined; if (i !== undefined) at.push(i); }
      return at.sort((x, y) => x - y).map((i) => rows[i]!);
    };
    return { parsedOf, inline, sameKey, related, sharing };
  }

  /** DUPLICATE and CONTRADICTION for a condition (of segment `selfId` when it is saved). */
  staticWarnings(projectId: string, rows: readonly SegmentRow[], condition: Condition | null, selfId?: string): SegmentWarning[] {
    return condition ? this.conditionWarnings(this.analysis(projectId, rows), rows, condition, selfId) : [];
  }

  /**
   * The warnings of a saved segment: DUPLICATE and CONTRADICTION from its condition, then EMPTY,
   * SUBSET and HIGH_OVERLAP from `tally` (its members against every segment's) when given.
   */
  savedWarnings(projectId: string, rows: readonly SegmentRow[], condition: Condition | null, selfId: string, tally: Tally | null): SegmentWarning[] {
    const a = this.analysis(projectId, rows);
    const found = condition ? this.conditionWarnings(a, rows, condition, selfId) : [];
    return tally ? [...found, ...this.membershipWarnings(a.sharing(tally), tally, selfId, found, a.related)] : found;
  }

  private conditionWarnings(a: Analysis, rows: readonly SegmentRow[], condition: Condition, selfId?: string): SegmentWarning[] {
    const out: SegmentWarning[] = [];
    const contradiction = findContradiction(condition, a.inline);
    if (contradiction) {
      out.push({ code: 'CONTRADICTION', message: `the condition can never be true: ${contradiction.message}`, segmentIds: [], paths: contradiction.paths });
    }
    const key = canonicalKey(condition, a.inline);
    const same = a.sameKey(key, selfId);
    if (same.length) {
      out.push({ code: 'DUPLICATE', message: `${same.map(quote).join(', ')} ${same.length === 1 ? 'has' : 'have'} an equivalent condition`, segmentIds: same.map((r) => r.id) });
    }
    return out;
  }

  /**
   * EMPTY, SUBSET and HIGH_OVERLAP from a scan of membership (`tally`: the members of the segment
   * or condition), against `rows` in their order (those sharing no member may be left out).
   */
  membershipWarnings(rows: readonly SegmentRow[], tally: Tally, selfId: string | undefined, skip: readonly SegmentWarning[], relatedOf?: (id: string) => Set<string>): SegmentWarning[] {
    const out: SegmentWarning[] = [];
    const a = tally.count;
    if (a === 0) {
      if (!skip.some((w) => w.code === 'CONTRADICTION')) out.push({ code: 'EMPTY', message: `no user matches now (of ${tally.total})`, segmentIds: [] });
      return out;
    }
    const flagged = new Set(skip.flatMap((w) => (w.code === 'DUPLICATE' ? w.segmentIds : [])));
    const related = selfId ? (relatedOf ?? this.analysis(rows[0]?.projectId ?? '', rows).related)(selfId) : new Set<string>();
    // The closest pairs first (a stable sort: ties in rows order); only those reported get their message.
    const found: { r: SegmentRow; inter: number; b: number; j: number; kind: 'same' | 'subset' | 'overlap' }[] = [];
    for (const r of rows) {
      const inter = tally.shared.get(r.id) ?? 0;
      if (inter === 0 || r.id === selfId || flagged.has(r.id)) continue;
      const b = tally.sizes.get(r.id) ?? 0;
      if (b === 0) continue;
      const j = round(jaccard(inter, a, b));
      if (inter === a && inter === b) found.push({ r, inter, b, j: 1, kind: 'same' });
      // A segment defined from another (a reference) is its subset by design: not reported.
      else if ((inter === a || inter === b) && !related.has(r.id)) found.push({ r, inter, b, j, kind: 'subset' });
      else if (j >= HIGH_OVERLAP_JACCARD) found.push({ r, inter, b, j, kind: 'overlap' });
    }
    found.sort((x, y) => y.j - x.j);
    return [...out, ...found.slice(0, MAX_OVERLAP_WARNINGS).map(({ r, inter, b, j, kind }): SegmentWarning => {
      if (kind === 'same') return { code: 'HIGH_OVERLAP', message: `${quote(r)} has exactly the same ${a} members now`, segmentIds: [r.id], jaccard: 1 };
      if (kind === 'subset') {
        return {
          code: 'SUBSET', jaccard: j, segmentIds: [r.id],
          message: inter === a ? `every member of this segment (${a}) is also in ${quote(r)} (${b})` : `every member of ${quote(r)} (${b}) is also in this segment (${a})`,
        };
      }
      return { code: 'HIGH_OVERLAP', message: `${inter} of the ${a + b - inter} members of this segment and ${quote(r)} are in both (Jaccard ${j})`, segmentIds: [r.id], jaccard: j };
    })];
  }

  /**
   * The warnings of every saved segment as they stand now (the segment list): DUPLICATE and
   * CONTRADICTION from the conditions, EMPTY, SUBSET and HIGH_OVERLAP from the close pairs of
   * the engine's membership (LiveEngine.closePairs). The same rules as on save, against every
   * other segment.
   */
  async listWarnings(projectId: string): Promise<{ id: string; warnings: SegmentWarning[] }[]> {
    const rows = await this.store.listSegments(projectId);
    let close = this.engine.closePairs(projectId, HIGH_OVERLAP_JACCARD);
    if (!close) {
      await this.engine.load(projectId);
      close = this.engine.closePairs(projectId, HIGH_OVERLAP_JACCARD);
    }
    if (!close) throw new AppError({ code: 'STORE_UNAVAILABLE', message: 'membership is not loaded yet; try again' });
    const { ids, total } = close;
    const a = this.analysis(projectId, rows);
    const sizes = new Map(ids.map((id, i) => [id, close.sizes[i]!]));
    // Only close pairs can give SUBSET or HIGH_OVERLAP: the others count as sharing nobody.
    const shared = new Map<string, Map<string, number>>();
    const share = (x: string, y: string, n: number) => (shared.get(x) ?? shared.set(x, new Map()).get(x)!).set(y, n);
    for (const [i, j, inter] of close.pairs) {
      share(ids[i]!, ids[j]!, inter);
      share(ids[j]!, ids[i]!, inter);
    }
    return rows.map((r) => {
      const condition = a.parsedOf(r.id)?.condition ?? null;
      const own = condition ? this.conditionWarnings(a, rows, condition, r.id) : [];
      const tally: Tally = { count: sizes.get(r.id) ?? 0, total, sample: [], sizes, shared: shared.get(r.id) ?? new Map() };
      return { id: r.id, warnings: [...own, ...this.membershipWarnings(a.sharing(tally), tally, r.id, own, a.related)] };
    });
  }

  /** Pairwise intersections of segments (LiveEngine.overlap) from the stored memberships. */
  private async storeOverlap(projectId: string, ids: readonly string[]): Promise<{ sizes: number[]; intersections: number[][] }> {
    const shared = await this.store.segmentsShared(projectId, ids);
    const intersections = ids.map((a) => ids.map((b) => shared.get(a)?.get(b) ?? 0));
    return { sizes: intersections.map((row, i) => row[i]!), intersections };
  }

  /**
   * What a saved segment shares with every other (LiveEngine.overlapWith, with the same cut at
   * `minJaccard`), from the stored memberships: its warnings where no engine holds the project.
   */
  async storeOverlapWith(projectId: string, segmentId: string, minJaccard: number): Promise<Tally> {
    const common = await this.store.segmentSharedWith(projectId, segmentId);
    const all = await this.store.segmentSizes(projectId, [...common.keys()]);
    const count = common.get(segmentId) ?? 0;
    const floor = minJaccard - 1e-4;
    const sizes = new Map<string, number>(), shared = new Map<string, number>();
    for (const [id, inter] of common) {
      const size = all.get(id) ?? 0;
      if (minJaccard > 0 && inter !== count && inter !== size && inter / (count + size - inter) < floor) continue;
      sizes.set(id, size);
      shared.set(id, inter);
    }
    return { count, total: await this.store.countProfiles(projectId), sample: [], sizes, shared };
  }

  /** Pairwise intersections and Jaccard of up to 50 segments, from engine state. */
  async overlap(projectId: string, ids: readonly string[]): Promise<OverlapResult> {
    const issues: { path: string; message: string }[] = [];
    if (ids.length < 2 || ids.length > MAX_OVERLAP_SEGMENTS) issues.push({ path: '/ids', message: `give 2 to ${MAX_OVERLAP_SEGMENTS} segment ids` });
    const rows = new Map((await this.store.listSegments(projectId)).map((r) => [r.id, r]));
    const seen = new Set<string>();
    ids.forEach((id, i) => {
      if (seen.has(id)) issues.push({ path: `/ids/${i}`, message: `"${id}" is given twice` });
      else if (!rows.has(id)) issues.push({ path: `/ids/${i}`, message: `unknown segment id "${id}"` });
      seen.add(id);
    });
    if (issues.length) throw validationError('the overlap request is not valid', issues);
    // Where no engine holds the project (the api role), from the stored memberships.
    let m = this.engine.holdsNoState ? await this.storeOverlap(projectId, ids) : this.engine.overlap(projectId, ids);
    if (!m) {
      await this.engine.load(projectId);
      m = this.engine.overlap(projectId, ids);
    }
    if (!m) throw new AppError({ code: 'STORE_UNAVAILABLE', message: 'membership is not loaded yet; try again' });
    const pairs: OverlapResult['pairs'] = [];
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) {
        const inter = m.intersections[i]![j]!;
        pairs.push({ a: ids[i]!, b: ids[j]!, intersection: inter, jaccard: round(jaccard(inter, m.sizes[i]!, m.sizes[j]!)) });
      }
    }
    return { segments: ids.map((id, i) => ({ id, name: rows.get(id)!.name, size: m.sizes[i]! })), intersections: m.intersections, pairs };
  }

  /** Resolves referenced segments for explanations of one profile (manual lists included). */
  private async resolverFor(projectId: string, rows: readonly SegmentRow[], profileIds: readonly number[]): Promise<(profileId: number) => ExplainResolver> {
    const parsed = this.membership.parseSegments(projectId, rows);
    const manual = await this.store.manualListsFor(projectId, profileIds);
    return (profileId) => (id) => {
      const p = parsed.get(id);
      if (!p) return undefined;
      const m = manual.get(id);
      return { name: p.row.name, condition: p.condition, included: m?.include.has(profileId) ?? false, excluded: m?.exclude.has(profileId) ?? false };
    };
  }

  /** Why each of some profiles matches a condition now (previews' samples). */
  async explainProfiles(projectId: string, condition: Condition, profileIds: readonly number[], now: number): Promise<Map<number, Explanation>> {
    const out = new Map<number, Explanation>();
    if (profileIds.length === 0) return out;
    const rows = await this.store.listSegments(projectId);
    const resolverOf = await this.resolverFor(projectId, rows, profileIds);
    for (const { profile, events } of await this.store.profilesWithEvents(projectId, profileIds)) {
      out.set(profile.id, explainCondition(condition, profile, events, now, resolverOf(profile.id)));
    }
    return out;
  }

  /** Why a user (by userId or anonymousId) is or is not in a segment now. */
  async explain(projectId: string, userId: string, segmentId: string): Promise<ExplainView> {
    const rows = await this.store.listSegments(projectId);
    const row = rows.find((r) => r.id === segmentId);
    if (!row) throw new AppError({ code: 'NOT_FOUND', message: `no segment with id "${segmentId}"` });
    const found = await this.store.findProfile(projectId, userId);
    if (!found) throw new AppError({ code: 'NOT_FOUND', message: `no user with userId or anonymousId "${userId}"` });
    const now = this.clock.now();
    const resolve = (await this.resolverFor(projectId, rows, [found.id]))(found.id);
    const [{ profile, events }] = await this.store.profilesWithEvents(projectId, [found.id]) as [Awaited<ReturnType<SqlStore['profilesWithEvents']>>[number]];
    const e = explainSegment(resolve(segmentId)!, profile, events, now, resolve);
    const since = (await this.store.profileSegments(projectId, found.id)).find((s) => s.segmentId === segmentId)?.since ?? null;
    return {
      segmentId, segmentName: row.name, userId: profile.userId, anonymousId: profile.anonymousId,
      member: e.member, since: since === null ? null : new Date(since).toISOString(), reason: e.reason, text: e.text,
      at: new Date(now).toISOString(), why: e.condition ? explanationLines(e.condition) : [], explanation: e.condition,
    };
  }
}
