import { sql } from 'kysely';
import type { StoreHandle } from '../store-handle.ts';
import type { EventLog, LoggedRecord, LogRead, LogRecord } from './event-log.ts';
import { AppendSignal } from './append-signal.ts';
import { decodeRecordBody, encodeRecordBody } from './record-codec.ts';

/**
 * The embedded event log on PostgreSQL: a table of the store's own database (`event_log`), so
 * that a Strata on `DATABASE_URL` keeps what it acknowledged in the system of record, not on the
 * local disk of a machine that may be replaced. An append is one INSERT committed before it
 * resolves. Positions come from the table's sequence; appends are made one at a time (the
 * ingest appender waits for each) by the one process that holds the writer lease, so a position
 * is never committed after a greater one and a reader never skips a record.
 */
export class SqlEventLog implements EventLog {
  readonly kind = 'postgres';
  readonly partitions = 1;
  /** Readers waiting for a record (`read` with `waitMs`): woken by the next append. */
  private readonly appended = new AppendSignal();

  constructor(private readonly h: StoreHandle) {
    if (h.dialect !== 'postgres') throw new Error('SqlEventLog is the PostgreSQL log; the SQLite store keeps its log in a file (SqliteEventLog)');
  }

  async append(records: readonly LogRecord[]): Promise<number[]> {
    if (records.length === 0) return [];
    const rows = await this.h.db.insertInto('event_log').values(records.map((r) => ({
      project_id: r.projectId, partition: r.partition, received_at: r.receivedAt, payload: encodeRecordBody(r),
    }))).returning('position').execute();
    this.appended.notify();
    return rows.map((r) => Number(r.position)).sort((a, b) => a - b);
  }

  async read(partition: number, after: number, max: number, waitMs: number): Promise<LogRead> {
    return this.readFrom(partition, after, max, waitMs);
  }

  async readAll(after: number, max: number, waitMs: number): Promise<LogRead> {
    return this.readFrom(null, after, max, waitMs);
  }

  /** One partition's records, or (null) every partition's, in position order. */
  private async readFrom(partition: number | null, after: number, max: number, waitMs: number): Promise<LogRead> {
    let out = await this.readOnce(partition, after, max);
    if (out.records.length === 0 && waitMs > 0) {
      await this.appended.wait(waitMs);
      out = await this.readOnce(partition, after, max);
    }
    return out;
  }

  private async readOnce(partition: number | null, after: number, max: number): Promise<LogRead> {
    // The greatest committed position first: every record at or before it is committed (appends
    // are one at a time), so none of them can still appear behind what this read returns.
    const top = await this.h.db.selectFrom('event_log').select((eb) => eb.fn.max('position').as('top')).executeTakeFirst();
    const head = Number(top?.top ?? 0);
    let query = this.h.db.selectFrom('event_log').selectAll();
    if (partition !== null) query = query.where('partition', '=', partition);
    const rows = await query.where('position', '>', after).where('position', '<=', head)
      .orderBy('position').limit(max).execute();
    const records: LoggedRecord[] = rows.map((r) => ({
      position: Number(r.position), projectId: r.project_id, partition: r.partition, receivedAt: Number(r.received_at), ...decodeRecordBody(r.payload),
    }));
    const last = records.length ? records[records.length - 1]!.position : after;
    return { records, upTo: records.length < max ? Math.max(last, head) : last };
  }

  async trim(partition: number, position: number): Promise<void> {
    await this.h.db.deleteFrom('event_log').where('partition', '=', partition).where('position', '<=', position).execute();
  }

  async trimAll(position: number): Promise<void> {
    await this.h.db.deleteFrom('event_log').where('position', '<=', position).execute();
  }

  async head(): Promise<number> {
    // The sequence, not max(position): trimming every record must not take the head back.
    const r = await sql<{ head: string | number }>`SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS head FROM event_log_position_seq`.execute(this.h.db);
    return Number(r.rows[0]?.head ?? 0);
  }

  /** The deleted rows are the store's dead tuples like any other erased row's (docs/privacy.md on VACUUM). */
  async forgetTrimmed(): Promise<void> {}

  async continueAfter(position: number): Promise<void> {
    if ((await this.head()) < position) await sql`SELECT setval('event_log_position_seq', ${position})`.execute(this.h.db);
  }

  async close(): Promise<void> {
    this.appended.notify();
  }
}

/**
 * How many records the PostgreSQL embedded log (`event_log`) holds that the store has not
 * applied: a start on another log (NATS) would never read them, so it is refused while any wait.
 */
export async function unappliedInTable(h: StoreHandle): Promise<number> {
  if (h.dialect !== 'postgres') return 0;
  const row = await h.db.selectFrom('event_log as e')
    .leftJoin('log_positions as p', 'p.partition', 'e.partition')
    .where((eb) => eb('e.position', '>', eb.fn.coalesce('p.position', sql<number>`0`)))
    .select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirst();
  return Number(row?.n ?? 0);
}
