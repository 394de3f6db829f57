import type { StoreHandle } from './store-handle.ts';
import type { Rejection } from './types.ts';
import { chunks } from './util.ts';

/** An item ingest refused, as kept for the project's ingestion warnings. */
export interface RejectionRow {
  id: number;
  receivedAt: number;
  index: number;
  message: string;
  payload: string;
}

/** The items ingest refused (`ingest_rejections`): what the admin sees as ingestion warnings. */
export class RejectionStore {
  constructor(private readonly store: StoreHandle) {}

  /** Records a request's refused items; each payload is kept to its first 2,000 characters. */
  async record(projectId: string, receivedAt: number, rejections: readonly Rejection[]): Promise<void> {
    for (const c of chunks(rejections)) {
      await this.store.db.insertInto('ingest_rejections').values(c.map((r) => ({
        project_id: projectId, received_at: receivedAt, item_index: r.index, message: r.message, payload: r.payload.slice(0, 2000),
      }))).execute();
    }
  }

  /** The latest refused items, newest first. */
  async list(projectId: string, limit: number): Promise<RejectionRow[]> {
    const rows = await this.store.db.selectFrom('ingest_rejections').selectAll().where('project_id', '=', projectId).orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => ({ id: Number(r.id), receivedAt: r.received_at, index: r.item_index, message: r.message, payload: r.payload }));
  }

  async count(projectId: string): Promise<number> {
    const r = await this.store.db.selectFrom('ingest_rejections').select((eb) => eb.fn.countAll<number>().as('n')).where('project_id', '=', projectId).executeTakeFirst();
    return Number(r?.n ?? 0);
  }
}
