import type { ApiView } from './api-view.ts';
import type { Json } from '@strata/core';
import { AppError, limitText, MAX_PAYLOAD_BYTES, validationError, isoTime as iso } from '@strata/core';
import { ExperienceStore, type ExperienceRow, type ExperienceVariant, type SqlStore } from '@strata/store';
import type { Clock } from './clock.ts';
import type { LiveEngine } from './live-engine.ts';
import { newId } from './ids.ts';

export interface ExperienceInput {
  readonly key: string;
  readonly name: string;
  readonly description?: string;
  readonly variants: readonly { key: string; name?: string; payload: Json; segmentIds?: readonly string[]; priority?: number }[];
  readonly defaultPayload?: Json | null;
  readonly active?: boolean;
}

export type ExperiencePatch = Partial<ExperienceInput>;

export type ExperienceView = ApiView<ExperienceRow, 'createdAt' | 'updatedAt'>;

/** What one user gets of an experience: the winning variant's key ("default" for the default) and payload. */
export interface ExperienceForUser {
  readonly key: string;
  readonly variant: string;
  readonly payload: Json;
}

const MAX_PAYLOAD = MAX_PAYLOAD_BYTES;
const KEY = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;
const view = (r: ExperienceRow): ExperienceView => ({
  id: r.id, key: r.key, name: r.name, description: r.description, variants: r.variants, defaultPayload: r.defaultPayload,
  active: r.active, createdAt: iso(r.createdAt), updatedAt: iso(r.updatedAt),
});

/**
 * Experiences (personalisation): a key with variants, each a JSON payload for members of its
 * segments, in priority order; the first variant a user qualifies for wins, else the default
 * (none: not shown). Definitions are cached per project for the targeting API and dropped on
 * every change made here.
 */
export class ExperienceService {
  /** The read in flight or done, so that a change made meanwhile (which deletes it) is never overwritten by older rows. */
  private readonly cache = new Map<string, Promise<ExperienceRow[]>>();
  constructor(
    private readonly store: SqlStore,
    private readonly engine: LiveEngine,
    private readonly clock: Clock,
  ) {}

  /**
   * A write through the engine's writer (so segment deletion cannot interleave) that moves the
   * project's definitions counter on in its transaction, then the cache is dropped.
   */
  private async writing<T>(projectId: string, fn: (tx: SqlStore) => Promise<T>): Promise<T> {
    try {
      return await this.engine.write(async (tx) => {
        const out = await fn(tx);
        await tx.bumpDefinitions(projectId);
        return out;
      });
    } finally {
      this.forget(projectId);
    }
  }

  /** Forgets the project's experiences (a change, or one made by another process). */
  forget(projectId: string): void {
    this.cache.delete(projectId);
  }

  private async check(tx: SqlStore, projectId: string, e: ExperienceInput, selfId?: string): Promise<void> {
    const issues: { path: string; message: string }[] = [];
    if (!KEY.test(e.key)) issues.push({ path: '/key', message: 'a key is 1-100 letters, digits, _ . : - (starting with a letter or digit)' });
    const segments = new Set((await tx.listSegments(projectId)).map((s) => s.id));
    const keys = new Set<string>();
    e.variants.forEach((v, i) => {
      if (!KEY.test(v.key) || v.key === 'default') issues.push({ path: `/variants/${i}/key`, message: 'a variant key is 1-100 letters, digits, _ . : - and not "default"' });
      else if (keys.has(v.key)) issues.push({ path: `/variants/${i}/key`, message: `variant key "${v.key}" is used twice` });
      keys.add(v.key);
      (v.segmentIds ?? []).forEach((id, j) => { if (!segments.has(id)) issues.push({ path: `/variants/${i}/segmentIds/${j}`, message: `unknown segment id "${id}"` }); });
      if (JSON.stringify(v.payload ?? null).length > MAX_PAYLOAD) issues.push({ path: `/variants/${i}/payload`, message: `a payload is at most 32 KB of JSON (${limitText('MAX_PAYLOAD_BYTES')})` });
    });
    if (e.defaultPayload !== undefined && JSON.stringify(e.defaultPayload).length > MAX_PAYLOAD) issues.push({ path: '/defaultPayload', message: `a payload is at most 32 KB of JSON (${limitText('MAX_PAYLOAD_BYTES')})` });
    if (issues.length) throw validationError('the experience is not valid', issues);
    const clash = (await new ExperienceStore(tx).list(projectId)).find((x) => x.key === e.key && x.id !== selfId);
    if (clash) throw new AppError({ code: 'CONFLICT', message: `an experience with key "${e.key}" already exists (${clash.id})` });
  }

  private variants(e: ExperienceInput): ExperienceVariant[] {
    return e.variants.map((v, i) => ({ key: v.key, name: v.name ?? v.key, payload: v.payload ?? null, segmentIds: [...(v.segmentIds ?? [])], priority: v.priority ?? i }));
  }

  async create(projectId: string, e: ExperienceInput): Promise<ExperienceView> {
    return this.writing(projectId, async (tx) => {
      await this.check(tx, projectId, e);
      const now = this.clock.now();
      const row: ExperienceRow = {
        id: newId('exp'), projectId, key: e.key, name: e.name, description: e.description ?? '', variants: this.variants(e),
        defaultPayload: e.defaultPayload ?? null, active: e.active ?? true, createdAt: now, updatedAt: now,
      };
      await new ExperienceStore(tx).insert(row);
      return view(row);
    });
  }

  private async require(store: SqlStore, projectId: string, id: string): Promise<ExperienceRow> {
    const row = await new ExperienceStore(store).get(projectId, id);
    if (!row) throw new AppError({ code: 'NOT_FOUND', message: `no experience with id "${id}"` });
    return row;
  }

  async update(projectId: string, id: string, patch: ExperiencePatch): Promise<ExperienceView> {
    return this.writing(projectId, async (tx) => {
      const row = await this.require(tx, projectId, id);
      const merged: ExperienceInput = {
        key: patch.key ?? row.key, name: patch.name ?? row.name, description: patch.description ?? row.description,
        variants: patch.variants ?? row.variants, defaultPayload: patch.defaultPayload !== undefined ? patch.defaultPayload : row.defaultPayload,
        active: patch.active ?? row.active,
      };
      await this.check(tx, projectId, merged, id);
      const next: ExperienceRow = { ...row, ...merged, description: merged.description ?? '', variants: this.variants(merged), defaultPayload: merged.defaultPayload ?? null, active: merged.active ?? true, updatedAt: Math.max(this.clock.now(), row.updatedAt + 1) };
      await new ExperienceStore(tx).update(next);
      return view(next);
    });
  }

  async delete(projectId: string, id: string): Promise<void> {
    await this.writing(projectId, async (tx) => {
      await this.require(tx, projectId, id);
      await new ExperienceStore(tx).delete(projectId, id);
    });
  }

  async get(projectId: string, id: string): Promise<ExperienceView> {
    return view(await this.require(this.store, projectId, id));
  }

  async list(projectId: string): Promise<ExperienceView[]> {
    return (await new ExperienceStore(this.store).list(projectId)).map(view);
  }

  /** The experiences that target a segment, in words (SegmentService refuses to delete it while any does). */
  async targeting(tx: SqlStore, projectId: string, segmentId: string): Promise<string[]> {
    return (await new ExperienceStore(tx).list(projectId))
      .filter((e) => e.variants.some((v) => v.segmentIds.includes(segmentId)))
      .map((e) => `experience "${e.key}" (${e.id})`);
  }

  private cached(projectId: string): Promise<ExperienceRow[]> {
    let rows = this.cache.get(projectId);
    if (!rows) {
      rows = new ExperienceStore(this.store).list(projectId);
      rows.catch(() => this.cache.delete(projectId));
      this.cache.set(projectId, rows);
    }
    return rows;
  }

  /** The active experiences for a user in these segments: per key, the first qualifying variant by priority, else the default. */
  async forUser(projectId: string, segmentIds: ReadonlySet<string>): Promise<ExperienceForUser[]> {
    const out: ExperienceForUser[] = [];
    for (const e of await this.cached(projectId)) {
      if (!e.active) continue;
      const v = [...e.variants].sort((a, b) => a.priority - b.priority).find((x) => x.segmentIds.length === 0 || x.segmentIds.some((s) => segmentIds.has(s)));
      if (v) out.push({ key: e.key, variant: v.key, payload: v.payload });
      else if (e.defaultPayload !== null) out.push({ key: e.key, variant: 'default', payload: e.defaultPayload });
    }
    return out;
  }
}
