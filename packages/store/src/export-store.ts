import type { JsonObject } from '@strata/core';
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { SqlStore } from './sql-store.ts';
import { readJson } from './util.ts';

/** One member of a segment as an export writes it. */
export interface ExportMember {
  readonly profileId: number;
  readonly userId: string | null;
  readonly anonymousId: string | null;
  readonly since: number;
  /** The profile's traits; null unless asked for. */
  readonly traits: JsonObject | null;
  /** The profile's labels; null unless asked for. */
  readonly labels: string[] | null;
}

/** Members of a segment page by page, by profile id (keyset): a page costs the same at any depth. */
export class ExportStore {
  private readonly db: Kysely<Database>;
  constructor(store: SqlStore) {
    this.db = store.db;
  }

  async page(projectId: string, segmentId: string, afterProfileId: number, limit: number, want: { traits: boolean; labels: boolean }): Promise<ExportMember[]> {
    let q = this.db.selectFrom('memberships as m').innerJoin('profiles as p', 'p.id', 'm.profile_id')
      .select(['m.profile_id', 'm.since', 'p.user_id', 'p.anonymous_id'])
      .where('m.project_id', '=', projectId).where('m.segment_id', '=', segmentId).where('m.profile_id', '>', afterProfileId);
    if (want.traits) q = q.select('p.traits');
    if (want.labels) q = q.select('p.labels');
    const rows = await q.orderBy('m.profile_id').limit(limit).execute();
    return rows.map((r) => {
      const x = r as typeof r & { traits?: unknown; labels?: unknown };
      return {
        profileId: Number(r.profile_id), userId: r.user_id, anonymousId: r.anonymous_id, since: Number(r.since),
        traits: want.traits ? readJson<JsonObject>(x.traits, {} as JsonObject) : null,
        labels: want.labels ? readJson<string[]>(x.labels, []) : null,
      };
    });
  }
}
