import type { StoreHandle } from '../store-handle.ts';

/** How far a partition of the event log is applied (0: nothing yet). */
export async function appliedPosition(h: StoreHandle, partition: number): Promise<number> {
  const row = await h.db.selectFrom('log_positions').select('position').where('partition', '=', partition).executeTakeFirst();
  return row ? Number(row.position) : 0;
}

/** Records that a partition is applied up to `position`: in the transaction that wrote what those records caused. */
export async function setAppliedPosition(h: StoreHandle, partition: number, position: number): Promise<void> {
  await h.db.insertInto('log_positions').values({ partition, position })
    .onConflict((oc) => oc.column('partition').doUpdateSet({ position }))
    .execute();
}
