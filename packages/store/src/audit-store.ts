import { sql, type RawBuilder, type SqlBool } from 'kysely';
import type { Json } from '@strata/core';
import type { StoreHandle } from './store-handle.ts';
import { readJson } from './util.ts';

/** One admin change as it is recorded (docs/api.md, "Audit log"). */
export interface AuditEntry {
  readonly projectId: string;
  /** Epoch milliseconds. */
  readonly at: number;
  /** What names the credential without giving it away: its prefix (tokenPrefix), never the secret. */
  readonly credential: string;
  /** create, update, delete, or the route's own verb (erase, adjust-points, add-members, …). */
  readonly action: string;
  readonly resourceType: string;
  readonly resourceId: string;
  /** The resource before the change (null: it did not exist). */
  readonly before: Json | null;
  /** The resource after the change (null: it no longer exists). */
  readonly after: Json | null;
}

export interface AuditRow extends AuditEntry {
  readonly id: number;
}

export interface AuditFilter {
  readonly resourceType?: string;
  /** Any of these resource ids (an id and its erasure hash, say). */
  readonly resourceIds?: readonly string[];
}

/** What an erased user's id becomes inside older audit snapshots. */
export const ERASED_ID = '[erased user]';

/**
 * The audit log. Construct it over a store or a transaction's store (`new AuditStore(tx)`) to
 * write the row with the rest of that transaction. Every read is keyed by project.
 */
export class AuditStore {
  constructor(private readonly store: StoreHandle) {}

  private json(v: Json | null): string | null {
    return v === null ? null : JSON.stringify(v);
  }

  async record(e: AuditEntry): Promise<number> {
    const r = await this.store.db.insertInto('audit_log').values({
      project_id: e.projectId, at: e.at, credential: e.credential, action: e.action, resource_type: e.resourceType, resource_id: e.resourceId,
      before_json: this.json(e.before), after_json: this.json(e.after),
    }).returning('id').executeTakeFirstOrThrow();
    return Number(r.id);
  }

  /** Newest first: up to `limit` rows with an id below `beforeId` (null: from the newest). */
  async list(projectId: string, filter: AuditFilter, limit: number, beforeId: number | null): Promise<AuditRow[]> {
    let q = this.store.db.selectFrom('audit_log').selectAll().where('project_id', '=', projectId);
    if (filter.resourceType !== undefined) q = q.where('resource_type', '=', filter.resourceType);
    if (filter.resourceIds !== undefined) q = q.where('resource_id', 'in', filter.resourceIds.length ? [...filter.resourceIds] : ['']);
    if (beforeId !== null) q = q.where('id', '<', beforeId);
    const rows = await q.orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => ({
      id: Number(r.id), projectId: r.project_id, at: Number(r.at), credential: r.credential, action: r.action, resourceType: r.resource_type, resourceId: r.resource_id,
      before: readJson<Json | null>(r.before_json, null), after: readJson<Json | null>(r.after_json, null),
    }));
  }

  private contains(column: 'before_json' | 'after_json' | 'resource_id', text: string): RawBuilder<SqlBool> {
    return this.store.dialect === 'sqlite' ? sql<SqlBool>`instr(${sql.ref(column)}, ${text}) > 0` : sql<SqlBool>`strpos(${sql.ref(column)}::text, ${text}) > 0`;
  }

  /**
   * For an erasure, in its transaction: rows that name one of the ids (as their resource id, as a
   * string of a snapshot such as a segment's include list, or quoted inside a text such as an
   * import's bad-row reason) get `hashOf(id)` as resource id, and ERASED_ID in place of the id
   * inside the snapshots. Answers how many rows changed.
   */
  async forgetIds(projectId: string, ids: readonly string[], hashOf: (id: string) => string): Promise<number> {
    if (ids.length === 0) return 0;
    const set = new Set(ids);
    // As stored: a whole JSON string, and a quoted id inside a JSON string (escaped quotes).
    const stored = ids.flatMap((id) => [JSON.stringify(id), JSON.stringify(JSON.stringify(id)).slice(1, -1)]);
    const named = sql<SqlBool>`(${sql.join([
      sql`resource_id IN (${sql.join(ids.map((id) => sql`${id}`))})`,
      ...stored.flatMap((t) => [this.contains('before_json', t), this.contains('after_json', t)]),
    ], sql` OR `)})`;
    const rows = await this.store.db.selectFrom('audit_log').select(['id', 'resource_id', 'before_json', 'after_json']).where('project_id', '=', projectId).where(named).execute();
    const quoted = ids.flatMap((id) => [`"${id}"`, JSON.stringify(id)]);
    const scrubText = (v: string): string => (set.has(v) ? ERASED_ID : quoted.reduce((s, q) => s.split(q).join(`"${ERASED_ID}"`), v));
    const scrub = (v: unknown): unknown => {
      if (typeof v === 'string') return scrubText(v);
      if (Array.isArray(v)) return v.map(scrub);
      if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [scrubText(k), scrub(x)]));
      return v;
    };
    for (const r of rows) {
      await this.store.db.updateTable('audit_log').set({
        resource_id: set.has(r.resource_id) ? hashOf(r.resource_id) : r.resource_id,
        before_json: this.json(scrub(readJson<Json | null>(r.before_json, null)) as Json | null),
        after_json: this.json(scrub(readJson<Json | null>(r.after_json, null)) as Json | null),
      }).where('project_id', '=', projectId).where('id', '=', r.id).execute();
    }
    return rows.length;
  }
}
