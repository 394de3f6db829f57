import { Worker } from 'node:worker_threads';
import type { EventLog, LoggedRecord, LogRead, LogRecord } from './event-log.ts';
import { AppendSignal } from './append-signal.ts';
import { decodeRecordBody, encodeRecordBody } from './record-codec.ts';

interface Answer { id: number; ok: boolean; error?: string; code?: string; [k: string]: unknown }
interface Row { position: number; projectId: string; partition: number; receivedAt: number; payload: string }

/** An error of the log's thread, with SQLite's code kept (so `storeUnavailableReason` reads it). */
function logError(a: Answer): Error {
  const e = new Error(`event log: ${a.error ?? 'failed'}`) as Error & { code?: string };
  if (a.code) e.code = a.code;
  return e;
}

/**
 * The embedded event log: a SQLite file of its own beside the store's (`strata-log.db`, or in
 * memory for an in-memory store), written by a thread of its own (`sqlite-log-worker.cjs`) with
 * `synchronous = FULL`, so an append resolves only once its records are on the disk and the
 * event loop never waits for that fsync. One process appends and reads it (the writer lease
 * makes sure), so appends are kept in order here and a reader waiting for records is woken by
 * the appends of this process.
 */
export class SqliteEventLog implements EventLog {
  readonly kind = 'sqlite';
  readonly partitions: number;
  private readonly worker: Worker;
  private next = 1;
  private readonly calls = new Map<number, { resolve(a: Answer): void; reject(e: Error): void }>();
  private readonly opened: Promise<void>;
  private failed: Error | null = null;
  private closed = false;
  private closing = false;
  /** Readers waiting for a record (`read` with `waitMs`): woken by the next append. */
  private readonly appended = new AppendSignal();

  constructor(readonly filename: string, partitions = 1) {
    this.partitions = partitions;
    this.worker = new Worker(new URL('./sqlite-log-worker.cjs', import.meta.url), { workerData: { filename } });
    this.worker.unref();
    this.opened = new Promise<void>((resolve, reject) => {
      this.calls.set(0, { resolve: (a) => (a.ok ? resolve() : reject(logError(a))), reject });
    });
    this.opened.catch(() => undefined);
    this.worker.on('message', (a: Answer) => {
      const call = this.calls.get(a.id);
      if (!call) return;
      this.calls.delete(a.id);
      call.resolve(a);
    });
    const fail = (e: Error) => {
      this.failed = e;
      for (const c of this.calls.values()) c.reject(e);
      this.calls.clear();
    };
    this.worker.on('error', (e) => fail(new Error(`event log thread failed: ${e.message}`)));
    this.worker.on('exit', (code) => { if (!this.closing) fail(new Error(`event log thread exited (${code})`)); });
  }

  private async call(op: string, args: Record<string, unknown> = {}): Promise<Answer> {
    await this.opened;
    if (this.failed) throw this.failed;
    if (this.closed) throw new Error('event log: closed');
    const id = this.next++;
    const answer = await new Promise<Answer>((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, ...args });
    });
    if (!answer.ok) throw logError(answer);
    return answer;
  }

  async append(records: readonly LogRecord[]): Promise<number[]> {
    const rows = records.map((r) => ({ projectId: r.projectId, partition: r.partition, receivedAt: r.receivedAt, payload: encodeRecordBody(r) }));
    const { positions } = await this.call('append', { rows });
    this.appended.notify();
    return positions as number[];
  }

  async read(partition: number, after: number, max: number, waitMs: number): Promise<LogRead> {
    return this.readFrom(partition, after, max, waitMs);
  }

  async readAll(after: number, max: number, waitMs: number): Promise<LogRead> {
    return this.readFrom(null, after, max, waitMs);
  }

  /** One partition's records, or (null) every partition's, in position order. */
  private async readFrom(partition: number | null, after: number, max: number, waitMs: number): Promise<LogRead> {
    let a = await this.call('read', { partition, after, max });
    if ((a.rows as Row[]).length === 0 && waitMs > 0) {
      await this.appended.wait(waitMs);
      a = await this.call('read', { partition, after, max });
    }
    const rows = a.rows as Row[];
    const records: LoggedRecord[] = rows.map((r) => ({ position: r.position, projectId: r.projectId, partition: r.partition, receivedAt: r.receivedAt, ...decodeRecordBody(r.payload) }));
    const last = rows.length ? rows[rows.length - 1]!.position : after;
    // Fewer than asked: the partition holds nothing more up to the head read in the same step.
    const upTo = rows.length < max ? Math.max(last, a.head as number) : last;
    return { records, upTo };
  }

  async trim(partition: number, position: number): Promise<void> {
    await this.call('trim', { partition, position });
  }

  async trimAll(position: number): Promise<void> {
    await this.call('trim', { partition: null, position });
  }

  async head(): Promise<number> {
    return (await this.call('head')).head as number;
  }

  async forgetTrimmed(): Promise<void> {
    const { checkpoint } = await this.call('forgetTrimmed') as { checkpoint?: { busy: number } };
    if (checkpoint?.busy) throw new Error('event log: its WAL could not be emptied (busy)');
  }

  async continueAfter(position: number): Promise<void> {
    await this.call('continueAfter', { position });
  }

  async close(): Promise<void> {
    if (this.closed || this.closing) return;
    this.closing = true;
    try {
      await this.call('close');
    } catch {
      // Failed or never opened: nothing to close.
    }
    this.closed = true;
    this.appended.notify();
    await this.worker.terminate();
  }
}
