import { randomBytes } from 'node:crypto';
import type { Json } from '@strata/core';
import { AppError, compileConditionSql, parseCondition, referencedSegments, validationError } from '@strata/core';
import type { SegmentRow, SqlStore } from '@strata/store';
import type { Clock } from './clock.ts';
import type { LiveEngine } from './live-engine.ts';
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

const iso = (ms: number) => new Date(ms).toISOString();

/** Page cursors: an opaque base64url form of the last row's numeric key. */
export const encodeCursor = (n: number): string => Buffer.from(String(n)).toString('base64url');

export function decodeCursor(cursor: string | null): number | null {
  if (cursor === null) return null;
  const decoded = /^[A-Za-z0-9_-]{1,40}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const n = /^\d{1,15}$/.test(decoded) ? Number(decoded) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw new AppError({ code: 'VALIDATION_FAILED', message: 'cursor is not one this API returned', issues: [{ path: '/cursor', message: 'invalid cursor' }] });
  return n;
}
export const newId = (prefix: string) => `${prefix}_${randomBytes(8).toString('hex')}`;

/** Segment definitions, previews and manual membership (the domain side of /api/segments). */
export class SegmentService {
  constructor(
    private readonly store: SqlStore,
    private readonly membership: MembershipService,
    private readonly engine: LiveEngine,
    private readonly clock: Clock,
  ) {}

  private async view(store: SqlStore, row: SegmentRow, size?: number): Promise<Segment> {
    const manual = await store.manualIds(row.projectId, row.id);
    return {
      id: row.id, name: row.name, description: row.description, condition: row.condition,
      include: manual.include, exclude: manual.exclude, template: row.template, params: row.params,
      size: size ?? (await store.segmentSize(row.projectId, row.id)),
      createdAt: iso(row.createdAt), updatedAt: iso(row.updatedAt),
    };
  }

  private validate(rows: readonly SegmentRow[], condition: Json | null, selfId?: string): void {
    if (condition === null) return;
    const byId = new Map(rows.map((r) => [r.id, r.condition]));
    const r = parseCondition(condition, { segmentCondition: (id) => byId.get(id), ...(selfId ? { selfId } : {}) });
    if (!r.ok) throw validationError('the condition is not valid', r.issues, '/condition');
  }

  private checkName(rows: readonly SegmentRow[], name: string, selfId?: string): void {
    const clash = rows.find((s) => s.name === name && s.id !== selfId);
    if (clash) throw new AppError({ code: 'CONFLICT', message: `a segment named "${name}" already exists (${clash.id})` });
  }

  private async profileIdsFor(store: SqlStore, projectId: string, userIds: readonly string[]): Promise<number[]> {
    const map = await store.ensureKnownProfiles(projectId, userIds, this.clock.now());
    return userIds.map((u) => map.get(u)!);
  }

  async create(projectId: string, input: SegmentInput, extra: { template?: string; params?: Json } = {}): Promise<Segment> {
    return this.engine.write(async (tx) => {
      const rows = await tx.listSegments(projectId);
      this.validate(rows, input.condition);
      this.checkName(rows, input.name);
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
      return this.view(tx, row);
    });
  }

  async update(projectId: string, id: string, patch: SegmentPatch): Promise<Segment> {
    return this.engine.write(async (tx) => {
      const row = await this.require(tx, projectId, id);
      const rows = await tx.listSegments(projectId);
      if (patch.condition !== undefined) this.validate(rows, patch.condition, id);
      if (patch.name !== undefined) this.checkName(rows, patch.name, id);
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
      return this.view(tx, next);
    });
  }

  async delete(projectId: string, id: string): Promise<void> {
    await this.engine.write(async (tx) => {
      await this.require(tx, projectId, id);
      const users = (await tx.listSegments(projectId)).filter((s) => {
        if (s.id === id || s.condition === null) return false;
        const r = parseCondition(s.condition, { segmentCondition: () => null });
        return r.ok && referencedSegments(r.value).includes(id);
      });
      if (users.length) {
        throw new AppError({ code: 'CONFLICT', message: `segment ${id} is referenced by ${users.map((u) => `"${u.name}" (${u.id})`).join(', ')}; change those first` });
      }
      await tx.deleteSegment(projectId, id);
      await this.engine.segmentsChanged(tx, projectId, [id], this.clock.now());
    });
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
    const sizes = await this.store.segmentSizes(projectId);
    return Promise.all(rows.map((r) => this.view(this.store, r, sizes.get(r.id) ?? 0)));
  }

  /** Size, share and a sample of what a condition matches now, without saving anything. */
  async preview(projectId: string, condition: Json, sampleSize = 10): Promise<{ count: number; total: number; sample: MemberView[] }> {
    const rows = await this.store.listSegments(projectId);
    const byId = new Map(rows.map((r) => [r.id, r.condition]));
    const r = parseCondition(condition, { segmentCondition: (id) => byId.get(id) });
    if (!r.ok) throw validationError('the condition is not valid', r.issues, '/condition');
    const now = this.clock.now();
    // Over live leaves the engine's state answers; otherwise the store does.
    const live = this.engine.preview(projectId, r.value, now, sampleSize);
    if (live) return { count: live.count, total: live.total, sample: live.sample.map((s) => ({ userId: s.userId, anonymousId: s.anonymousId, since: null })) };
    const segments = this.membership.parseSegments(projectId, rows);
    const where = compileConditionSql(r.value, { dialect: this.store.sqlDialect, projectId, now, resolveSegment: (id) => segments.get(id) });
    const { count, sample } = await this.store.previewProfiles(projectId, where, sampleSize);
    const total = await this.store.countProfiles(projectId);
    return { count, total, sample: sample.map((s) => ({ userId: s.userId, anonymousId: s.anonymousId, since: null })) };
  }

  async members(projectId: string, id: string, limit: number, cursor: string | null): Promise<{ members: MemberView[]; nextCursor: string | null }> {
    await this.require(this.store, projectId, id);
    const rows = await this.store.listMembers(projectId, id, limit + 1, decodeCursor(cursor));
    const page = rows.slice(0, limit);
    const next = rows.length > limit ? encodeCursor(page[page.length - 1]!.profileId) : null;
    return { members: page.map((m) => ({ userId: m.userId, anonymousId: m.anonymousId, since: iso(m.since) })), nextCursor: next };
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

  /** Adds users by id to a segment's include list, creating profiles for ids not seen yet. */
  async addMembers(projectId: string, id: string, userIds: readonly string[]): Promise<Segment> {
    return this.engine.write(async (tx) => {
      const row = await this.require(tx, projectId, id);
      const ids = await this.profileIdsFor(tx, projectId, userIds);
      await tx.include(projectId, id, ids);
      await this.engine.segmentsChanged(tx, projectId, [id], this.clock.now(), 'manual', ids);
      return this.view(tx, row);
    });
  }

  /** Takes a user out: removes an include, and excludes them when the condition still matches. */
  async removeMember(projectId: string, id: string, userId: string): Promise<void> {
    await this.engine.write(async (tx) => {
      await this.require(tx, projectId, id);
      const profile = await tx.findProfile(projectId, userId);
      if (!profile) throw new AppError({ code: 'NOT_FOUND', message: `no user with id "${userId}"` });
      const now = this.clock.now();
      const matches = await this.engine.conditionHolds(tx, projectId, id, profile.id, now);
      await tx.removeManual(projectId, id, profile.id, matches);
      await this.engine.segmentsChanged(tx, projectId, [id], now, 'manual', [profile.id]);
    });
  }

}
