import type { Json } from '@strata/core';
import type { Condition, Explanation } from '@strata/core';
import { AppError, compileConditionSql, explanationLines, parseCondition, referencedSegments, validationError, isoTime as iso } from '@strata/core';
import { buildTemplate, LIFECYCLE_SET_ID, lifecycleStages, type JsonObject } from '@strata/core';
import type { SegmentRow, SqlStore } from '@strata/store';
import type { Clock } from './clock.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { newId } from './ids.ts';
import type { LiveEngine } from './live-engine.ts';
import { HIGH_OVERLAP_JACCARD, type HygieneService, type SegmentWarning } from './hygiene-service.ts';
import type { MembershipService } from './membership-service.ts';

export interface Segment {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly condition: Json | null;
  readonly include: string[];
  readonly exclude: string[];
  readonly template: string | null;
  readonly params: Json | null;
  readonly size: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** On create and update: duplicate, contradiction, empty and overlap advice (never a refusal). */
  readonly warnings?: SegmentWarning[];
}

export interface SegmentInput {
  readonly name: string;
  readonly description?: string;
  readonly condition: Json | null;
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
}

export interface SegmentPatch {
  readonly name?: string;
  readonly description?: string;
  readonly condition?: Json | null;
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
}

export interface MemberView {
  readonly userId: string | null;
  readonly anonymousId: string | null;
  readonly since: string | null;
  /** Listed members only: on the include list (added by hand). */
  readonly manual?: boolean;
}

/** `addMembers`' answer: the segment, and the ids for which a profile was created. */
export interface AddMembersResult extends Segment {
  readonly created: string[];
}

/**
 * The refusal of ids never seen (a typo would otherwise become a new profile): 409, one issue
 * per occurrence at its `/userIds/<i>`, the message listing the first few.
 */
export function unseenIdsError(userIds: readonly string[], unseen: readonly string[]): AppError {
  const set = new Set(unseen);
  const issues = userIds.flatMap((u, i) => (set.has(u) ? [{ path: `/userIds/${i}`, message: `no user was ever seen with id "${u}"` }] : []));
  const shown = unseen.slice(0, 10).map((u) => `"${u}"`).join(', ') + (unseen.length > 10 ? ` and ${unseen.length - 10} more` : '');
  return new AppError({
    code: 'CONFLICT',
    message: `${unseen.length === 1 ? '1 id was' : `${unseen.length} ids were`} never seen: ${shown}; nothing was added. Check the ids, or send "createMissing": true to create a profile for each`,
    issues,
  });
}

/** A previewed member with why it matched: the leaf lines and the explanation tree. */
export interface SampleView extends MemberView {
  readonly why: string[];
  readonly explanation: Explanation | null;
}

export interface PreviewView {
  readonly count: number;
  readonly total: number;
  readonly sample: SampleView[];
  readonly warnings: SegmentWarning[];
}

export interface HistoryView {
  readonly segmentId: string;
  readonly segmentName: string | null;
  readonly userId: string | null;
  readonly anonymousId: string | null;
  readonly kind: 'entered' | 'exited';
  readonly at: string;
  readonly reason: string;
}


/** What targets a segment, in words ("mission \"Welcome\" (mis_…)"); empty when nothing does. */
export type DeleteGuard = (tx: SqlStore, projectId: string, segmentId: string) => Promise<string[]>;

/** Segment definitions, previews and manual membership (the domain side of /api/segments). */
export class SegmentService {
  constructor(
    private readonly store: SqlStore,
    private readonly membership: MembershipService,
    private readonly engine: LiveEngine,
    private readonly clock: Clock,
    private readonly hygiene: HygieneService,
    /** The most segments a project may hold (STRATA_MAX_SEGMENTS). */
    private readonly maxSegments: number = DEFAULT_MAX_SEGMENTS,
  ) {}

  private readonly guards: DeleteGuard[] = [];

  /** Registers what else may target a segment (missions, rewards, experiences, experiments): deleting it is refused while any does. */
  guardDeletion(guard: DeleteGuard): void {
    this.guards.push(guard);
  }

  private async view(store: SqlStore, row: SegmentRow, size?: number): Promise<Segment> {
    const manual = await store.manualIds(row.projectId, row.id);
    return {
      id: row.id, name: row.name, description: row.description, condition: row.condition,
      include: manual.include, exclude: manual.exclude, template: row.template, params: row.params,
      size: size ?? (await store.segmentSize(row.projectId, row.id)),
      createdAt: iso(row.createdAt), updatedAt: iso(row.updatedAt),
    };
  }

  private validate(rows: readonly SegmentRow[], condition: Json | null, selfId?: string): Condition | null {
    if (condition === null) return null;
    // Only a condition that references segments needs them by id.
    let byId: Map<string, Json | null> | undefined;
    const r = parseCondition(condition, { segmentCondition: (id) => (byId ??= new Map(rows.map((x) => [x.id, x.condition]))).get(id), ...(selfId ? { selfId } : {}) });
    if (!r.ok) throw validationError('the condition is not valid', r.issues, '/condition');
    return r.value;
  }

  /** The warnings of a saved segment (after the engine has its new membership). */
  private async savedWarnings(tx: SqlStore, projectId: string, row: SegmentRow, condition: Condition | null): Promise<SegmentWarning[]> {
    // The engine's rows once it has the change: the hygiene checks index them once, then only what is added.
    const all = await this.engine.segmentRows(tx, projectId);
    // Only the close segments can be a SUBSET or HIGH_OVERLAP: the others are not looked at.
    return this.hygiene.savedWarnings(projectId, all, condition, row.id, this.engine.overlapWith(projectId, row.id, HIGH_OVERLAP_JACCARD));
  }

  /** Refuses segments beyond the project's limit (STRATA_MAX_SEGMENTS, docs/reference.md §5). */
  private checkLimit(rows: readonly SegmentRow[], adding: number): void {
    if (rows.length + adding <= this.maxSegments) return;
    throw new AppError({
      code: 'LIMIT_REACHED',
      message: `this project has ${rows.length} segments and may hold at most ${this.maxSegments} (STRATA_MAX_SEGMENTS)${adding > 1 ? `: ${adding} more do not fit` : ''}; delete segments that are no longer used, or raise STRATA_MAX_SEGMENTS`,
    });
  }

  /** Refuses a name another segment has: among `rows`, or, given the project (loaded by segmentRows), by the engine's index of its names. */
  private checkName(rows: readonly SegmentRow[], name: string, selfId?: string, projectId?: string): void {
    // Where no engine holds the project (the api role), the rows read in the transaction are all there is.
    const indexed = projectId !== undefined && this.engine.holds(projectId);
    const named = indexed ? this.engine.segmentNamed(projectId, name) : rows.find((s) => s.name === name && s.id !== selfId);
    const clash = named && named.id !== selfId ? named : undefined;
    if (clash) throw new AppError({ code: 'CONFLICT', message: `a segment named "${name}" already exists (${clash.id})` });
  }

  private async profileIdsFor(store: SqlStore, projectId: string, userIds: readonly string[]): Promise<number[]> {
    const map = await store.ensureKnownProfiles(projectId, userIds, this.clock.now());
    return userIds.map((u) => map.get(u)!);
  }

  async create(projectId: string, input: SegmentInput, extra: { template?: string; params?: Json } = {}): Promise<Segment> {
    return this.applied(projectId, await this.engine.write(async (tx) => {
      const rows = await this.engine.segmentRows(tx, projectId);
      this.checkLimit(rows, 1);
      const condition = this.validate(rows, input.condition);
      this.checkName(rows, input.name, undefined, projectId);
      const now = this.clock.now();
      const row: SegmentRow = {
        id: newId('seg'), projectId, name: input.name, description: input.description ?? '', condition: input.condition,
        template: extra.template ?? null, params: (extra.params as SegmentRow['params']) ?? null, createdAt: now, updatedAt: now,
      };
      await tx.insertSegment(row);
      if (input.include?.length || input.exclude?.length) {
        await tx.replaceManual(projectId, row.id, await this.profileIdsFor(tx, projectId, input.include ?? []), await this.profileIdsFor(tx, projectId, input.exclude ?? []));
      }
      await this.engine.segmentsChanged(tx, projectId, [row.id], now);
      return { ...(await this.view(tx, row)), warnings: await this.savedWarnings(tx, projectId, row, condition) };
    }));
  }

  async update(projectId: string, id: string, patch: SegmentPatch): Promise<Segment> {
    return this.applied(projectId, await this.engine.write(async (tx) => {
      const row = await this.require(tx, projectId, id);
      const rows = await this.engine.segmentRows(tx, projectId);
      const condition = patch.condition !== undefined ? this.validate(rows, patch.condition, id) : this.membership.parseSegments(projectId, rows).get(id)?.condition ?? null;
      if (patch.name !== undefined) this.checkName(rows, patch.name, id, projectId);
      const now = Math.max(this.clock.now(), row.updatedAt + 1);
      const next: SegmentRow = {
        ...row,
        name: patch.name ?? row.name,
        description: patch.description ?? row.description,
        condition: patch.condition !== undefined ? patch.condition : row.condition,
        updatedAt: now,
      };
      await tx.updateSegment(next);
      if (patch.include !== undefined || patch.exclude !== undefined) {
        // The list not being replaced is carried over as profile ids, never through user-facing ids.
        const current = await tx.manualProfileIds(projectId, id);
        await tx.replaceManual(projectId, id,
          patch.include !== undefined ? await this.profileIdsFor(tx, projectId, patch.include) : current.include,
          patch.exclude !== undefined ? await this.profileIdsFor(tx, projectId, patch.exclude) : current.exclude);
      }
      await this.engine.segmentsChanged(tx, projectId, [id], this.clock.now());
      return { ...(await this.view(tx, next)), warnings: await this.savedWarnings(tx, projectId, next, condition) };
    }));
  }

  async delete(projectId: string, id: string): Promise<void> {
    await this.engine.write(async (tx) => {
      const row = await this.require(tx, projectId, id);
      const users = (await tx.listSegments(projectId)).filter((s) => {
        if (s.id === id || s.condition === null) return false;
        const r = parseCondition(s.condition, { segmentCondition: () => null });
        return r.ok && referencedSegments(r.value).includes(id);
      });
      if (users.length) {
        throw new AppError({ code: 'CONFLICT', message: `segment "${row.name}" is used in the condition of ${users.map((u) => `segment "${u.name}"`).join(', ')}; change those first` });
      }
      const targeting: string[] = [];
      for (const guard of this.guards) targeting.push(...(await guard(tx, projectId, id)));
      if (targeting.length) throw new AppError({ code: 'CONFLICT', message: `segment "${row.name}" is targeted by ${targeting.join(', ')}; change those first` });
      await tx.deleteSegment(projectId, id);
      await this.engine.segmentsChanged(tx, projectId, [id], this.clock.now());
    });
    await this.engine.changesApplied();
  }

  /**
   * A changed segment as answered: where no engine runs (the api role), once the processes that
   * apply the log have applied the change (`LiveEngine.changesApplied`), with its size read then.
   */
  private async applied<T extends Segment>(projectId: string, seg: T): Promise<T> {
    if (!this.engine.holdsNoState) return seg;
    await this.engine.changesApplied();
    const size = await this.store.segmentSize(projectId, seg.id);
    if (!('warnings' in seg)) return { ...seg, size };
    // Its warnings again, those comparing members too, from the memberships the workers stored.
    const rows = await this.store.listSegments(projectId);
    const condition = this.membership.parseSegments(projectId, rows).get(seg.id)?.condition ?? null;
    const warnings = this.hygiene.savedWarnings(projectId, rows, condition, seg.id, await this.hygiene.storeOverlapWith(projectId, seg.id, HIGH_OVERLAP_JACCARD));
    return { ...seg, size, warnings };
  }

  private async require(store: SqlStore, projectId: string, id: string): Promise<SegmentRow> {
    const row = await store.getSegment(projectId, id);
    if (!row) throw new AppError({ code: 'NOT_FOUND', message: `no segment with id "${id}"` });
    return row;
  }

  async get(projectId: string, id: string): Promise<Segment> {
    return this.view(this.store, await this.require(this.store, projectId, id));
  }

  async list(projectId: string): Promise<Segment[]> {
    const rows = await this.store.listSegments(projectId);
    const sizes = await this.sizesOf(projectId, rows);
    return Promise.all(rows.map((r) => this.view(this.store, r, sizes.get(r.id) ?? 0)));
  }

  /** Every segment's size now, in list order: from the engine's bits when it holds the project (a scan of memory), else counted by the store. */
  async sizes(projectId: string): Promise<Map<string, number>> {
    return this.sizesOf(projectId, await this.store.listSegments(projectId));
  }

  private async sizesOf(projectId: string, rows: readonly SegmentRow[]): Promise<Map<string, number>> {
    const sizes = this.engine.sizes(projectId) ?? (await this.store.segmentSizes(projectId));
    return new Map(rows.map((r) => [r.id, sizes.get(r.id) ?? 0]));
  }

  /** Size, share and a sample of what a condition matches now, without saving anything. */
  async preview(projectId: string, condition: Json, sampleSize = 10): Promise<PreviewView> {
    const rows = await this.store.listSegments(projectId);
    const parsed = this.validate(rows, condition)!;
    const now = this.clock.now();
    const warnings = this.hygiene.staticWarnings(projectId, rows, parsed);
    // Over live leaves the engine's state answers (with overlap); over event names it does not
    // keep too, once it has read their window's events from the store in one scan (not every
    // event, for `*`: SQL is faster there); otherwise the store's SQL does.
    const live = this.engine.preview(projectId, parsed, now, sampleSize) ?? await this.engine.previewFromStore(projectId, parsed, now, sampleSize);
    let count: number, total: number, sample: { id: number; userId: string | null; anonymousId: string | null }[];
    if (live) {
      ({ count, total } = live);
      sample = live.sample;
      warnings.push(...this.hygiene.membershipWarnings(rows, live, undefined, warnings));
    } else {
      const segments = this.membership.parseSegments(projectId, rows);
      const where = compileConditionSql(parsed, { dialect: this.store.sqlDialect, projectId, now, resolveSegment: (id) => segments.get(id) });
      const found = await this.store.previewProfiles(projectId, where, sampleSize);
      ({ count } = found);
      sample = found.sample.map((s) => ({ ...s, id: s.profileId }));
      total = await this.store.countProfiles(projectId);
      // The warnings that compare members, from the store's rows: what the matches share with each saved segment.
      // Only the segments sharing a match are compared: their sizes alone are read.
      const shared = count ? await this.store.previewShared(projectId, where) : new Map<string, number>();
      const sizes = await this.store.segmentSizes(projectId, [...shared.keys()]);
      warnings.push(...this.hygiene.membershipWarnings(rows, { count, total, sample: [], sizes, shared }, undefined, warnings));
    }
    const why = await this.hygiene.explainProfiles(projectId, parsed, sample.map((s) => s.id), now);
    return {
      count, total, warnings,
      sample: sample.map((s) => {
        const e = why.get(s.id) ?? null;
        return { userId: s.userId, anonymousId: s.anonymousId, since: null, why: e ? explanationLines(e) : [], explanation: e };
      }),
    };
  }

  async members(projectId: string, id: string, limit: number, cursor: string | null): Promise<{ members: MemberView[]; nextCursor: string | null }> {
    await this.require(this.store, projectId, id);
    const rows = await this.store.listMembers(projectId, id, limit + 1, decodeCursor(cursor));
    const page = rows.slice(0, limit);
    const next = rows.length > limit ? encodeCursor(page[page.length - 1]!.profileId) : null;
    return { members: page.map((m) => ({ userId: m.userId, anonymousId: m.anonymousId, since: iso(m.since), manual: m.manual })), nextCursor: next };
  }

  /** Entries and exits, newest first, of a segment or of a user (by userId or anonymousId). */
  async history(projectId: string, by: { segmentId: string } | { userId: string }, limit: number, cursor: string | null): Promise<{ history: HistoryView[]; nextCursor: string | null }> {
    let key: { segmentId: string } | { profileId: number };
    if ('segmentId' in by) {
      await this.require(this.store, projectId, by.segmentId);
      key = by;
    } else {
      const p = await this.store.findProfile(projectId, by.userId);
      if (!p) throw new AppError({ code: 'NOT_FOUND', message: `no user with userId or anonymousId "${by.userId}"` });
      key = { profileId: p.id };
    }
    const rows = await this.store.history(projectId, key, limit + 1, decodeCursor(cursor));
    const page = rows.slice(0, limit);
    const names = new Map((await this.store.listSegments(projectId)).map((r) => [r.id, r.name]));
    const people = new Map((await this.store.getProfiles(projectId, [...new Set(page.map((h) => h.profileId))])).map((p) => [p.id, p]));
    return {
      history: page.map((h) => ({
        segmentId: h.segmentId, segmentName: names.get(h.segmentId) ?? null,
        userId: people.get(h.profileId)?.userId ?? null, anonymousId: people.get(h.profileId)?.anonymousId ?? null,
        kind: h.kind, at: iso(h.at), reason: h.reason,
      })),
      nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1]!.id) : null,
    };
  }

  /**
   * Adds users by id to a segment's include list. Ids never seen (neither a userId nor an
   * anonymousId) are refused with 409 (`unseenIdsError`), nothing added, unless `createMissing`:
   * then a known profile is created for each, and `created` lists them.
   */
  async addMembers(projectId: string, id: string, userIds: readonly string[], opts: { createMissing?: boolean } = {}): Promise<AddMembersResult> {
    return this.applied(projectId, await this.engine.write(async (tx) => {
      const row = await this.require(tx, projectId, id);
      const unseen = await tx.unseenIds(projectId, userIds);
      if (unseen.length > 0 && !opts.createMissing) throw unseenIdsError(userIds, unseen);
      const ids = await this.profileIdsFor(tx, projectId, userIds);
      await tx.include(projectId, id, ids);
      await this.engine.segmentsChanged(tx, projectId, [id], this.clock.now(), 'manual', ids);
      return { ...(await this.view(tx, row)), created: unseen };
    }));
  }

  /** Takes a user out: removes an include, and excludes them when the condition still matches. */
  async removeMember(projectId: string, id: string, userId: string): Promise<void> {
    await this.engine.write(async (tx) => {
      await this.require(tx, projectId, id);
      const profile = await tx.findProfile(projectId, userId);
      if (!profile) throw new AppError({ code: 'NOT_FOUND', message: `no user with id "${userId}"` });
      const now = this.clock.now();
      await this.engine.unlist(tx, projectId, id, profile.id, now);
    });
    await this.engine.changesApplied();
  }

  // ---------------------------------------------------------------- templates (docs/templates.md)

  /**
   * Creates a segment from a template (docs/reference.md §4.2): the template's condition, and its name and
   * description unless given. The segment remembers the template and the params (defaults filled).
   * A name clash is a 409 like any other; the message says to pass a name.
   */
  async createFromTemplate(projectId: string, input: TemplateSegmentInput): Promise<Segment> {
    const built = buildTemplate(input.template, input.params, this.clock.now());
    if (!built.ok) throw validationError('the template or its parameters are not valid', built.issues);
    const t = built.value;
    try {
      return await this.create(projectId, {
        name: input.name ?? t.name, description: input.description ?? t.description, condition: t.condition,
        include: input.include, exclude: input.exclude,
      }, { template: input.template, params: t.params });
    } catch (e) {
      if (e instanceof AppError && e.code === 'CONFLICT' && input.name === undefined) {
        throw new AppError({ code: 'CONFLICT', message: `${e.message}; pass "name" to make another segment from template "${input.template}"`, cause: e });
      }
      throw e;
    }
  }

  /** Creates the lifecycle stages (New, Resurrected, Active, Inactive) together: all or none. */
  async createLifecycle(projectId: string, input: { params?: unknown; namePrefix?: string }): Promise<Segment[]> {
    const ids = { new: newId('seg'), resurrected: newId('seg'), active: newId('seg'), inactive: newId('seg') };
    const built = lifecycleStages(input.params, ids, this.clock.now());
    if (!built.ok) throw validationError('the lifecycle parameters are not valid', built.issues);
    const prefix = input.namePrefix ?? LIFECYCLE_NAME_PREFIX;
    return this.createSet(projectId, built.value.stages.map((s) => ({
      id: ids[s.key], name: prefix + s.name, description: s.description, condition: s.condition,
      template: `${LIFECYCLE_SET_ID}/${s.key}`, params: built.value.params,
    })));
  }

  /**
   * Creates several segments in one transaction, all or none. The caller picks the ids so that
   * an item may refer to the items before it; each condition is validated against the existing
   * segments and those earlier items, and membership is computed once, for all of them.
   * `within` runs last in the same transaction (e.g. an experiment saving its row with its arms).
   */
  async createSet(projectId: string, items: readonly SegmentSetItem[], within?: (tx: SqlStore, created: readonly Segment[]) => Promise<void>): Promise<Segment[]> {
    const made = await this.engine.write(async (tx) => {
      const rows = [...(await this.engine.segmentRows(tx, projectId))];
      this.checkLimit(rows, items.length);
      const now = this.clock.now();
      const created: SegmentRow[] = [];
      const conditions: (Condition | null)[] = [];
      for (const [i, item] of items.entries()) {
        try {
          conditions.push(this.validate(rows, item.condition, item.id));
        } catch (e) {
          if (e instanceof AppError && e.code === 'VALIDATION_FAILED') throw validationError(`segment ${i} (${item.name}): ${e.message}`, e.issues, `/segments/${i}`);
          throw e;
        }
        this.checkName(rows, item.name);
        if (rows.some((r) => r.id === item.id)) throw new AppError({ code: 'CONFLICT', message: `segment id ${item.id} is taken` });
        const row: SegmentRow = {
          id: item.id, projectId, name: item.name, description: item.description, condition: item.condition,
          template: item.template, params: item.params, createdAt: now, updatedAt: now,
        };
        await tx.insertSegment(row);
        rows.push(row);
        created.push(row);
      }
      await this.engine.segmentsChanged(tx, projectId, created.map((r) => r.id), now);
      const out: Segment[] = [];
      for (const [i, row] of created.entries()) out.push({ ...(await this.view(tx, row)), warnings: await this.savedWarnings(tx, projectId, row, conditions[i]!) });
      if (within) await within(tx, out);
      return out;
    });
    const out: Segment[] = [];
    for (const seg of made) out.push(await this.applied(projectId, seg));
    return out;
  }
}

/** `POST /api/segments` with a template instead of a condition. */
export interface TemplateSegmentInput {
  readonly template: string;
  readonly params?: unknown;
  readonly name?: string;
  readonly description?: string;
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
}

/** One segment of `createSet`, its id chosen by the caller. */
export interface SegmentSetItem {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly condition: Json | null;
  readonly template: string | null;
  readonly params: JsonObject | null;
}

/** The most segments a project may hold unless STRATA_MAX_SEGMENTS says otherwise. */
export const DEFAULT_MAX_SEGMENTS = 10_000;

/** Names of the lifecycle stage segments: this prefix and the stage ("Lifecycle: New"). */
export const LIFECYCLE_NAME_PREFIX = 'Lifecycle: ';
