import { performance } from 'node:perf_hooks';
import { createInbox, nanos, TimeoutError, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, type JetStreamManager } from '@nats-io/jetstream';

/**
 * Reads one partition of the JetStream log in order, from any position, for `JetStreamLog.read`.
 *
 * Why an ephemeral pull consumer of our own and not a durable one: the reader's position lives in
 * the worker's database (that is where exactly-once comes from), so a durable consumer's server-side
 * position would be a second truth to reconcile after every crash or lease handover, and its acks
 * would be work for nothing. An ephemeral consumer with no acks, started at the position asked for
 * (`opt_start_seq`), costs one request to create and is kept while reads go on from where the last
 * one stopped; the server deletes it once it sits unused (`INACTIVE_MS`), and a read from anywhere
 * else makes a new one. It is the ordered consumer's idea (no acks, restart from the last stream
 * sequence seen on any gap), written out because the client's ordered consumer waits at least one
 * second per fetch, and `read` must answer at once when asked to (waitMs 0) and wait for the
 * first record only, not for a full batch.
 */

/** A consumer unused this long is deleted by the server (a reader that went away leaves nothing behind). */
const INACTIVE_MS = 60_000;

/**
 * A consumer unused this long is made anew before the next read rather than trusted: a pull to a
 * consumer the server has deleted gets no answer at all (only the read's timeout), so the reader
 * must not find out that way.
 */
const REUSE_MS = INACTIVE_MS / 2;

/** A message the consumer delivered, with what its reply subject says. */
export interface Delivered {
  readonly msg: Msg;
  /** The stream sequence: the record's position. */
  readonly seq: number;
  /** How many messages of the partition the consumer had left to deliver after this one. */
  readonly pending: number;
}

/** The consumer is gone or out of step (deleted, a gap in deliveries): make a new one and read again. */
class ConsumerLost extends Error {}

/**
 * The stream sequence, delivery sequence and pending count from a JetStream reply subject:
 * `$JS.ACK.<stream>.<consumer>.<count>.<sseq>.<dseq>.<ts>.<pending>`, or the longer form with a
 * domain and account hash after `ACK` (and a token at the end).
 */
function replyInfo(reply: string | undefined): { seq: number; dseq: number; pending: number } {
  const t = (reply ?? '').split('.');
  const o = t.length === 9 ? 0 : 2;
  if (t[0] !== '$JS' || t[1] !== 'ACK' || t.length < 9 + o) throw new ConsumerLost(`unexpected reply subject ${JSON.stringify(reply)}`);
  return { seq: Number(t[5 + o]), dseq: Number(t[6 + o]), pending: Number(t[8 + o]) };
}

export class PartitionReader {
  private consumer: string | null = null;
  /** The last stream sequence delivered (or the position the consumer started after). */
  private cursor = 0;
  /** No record of the partition lies in (cursor, covered]: a read from there is where the consumer is. */
  private covered = 0;
  /** The consumer's delivery sequence of the last message (deliveries are numbered 1, 2, …: a gap means a lost message). */
  private delivered = 0;
  /** performance.now() of the consumer's last use. */
  private usedAt = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly subject: string,
    /** How long past its own wait a pull may go unanswered before the read fails. */
    private readonly requestMs: number,
  ) {}

  /**
   * Up to `max` messages after `after`, waiting up to `waitMs` for the first; `drained` when the
   * consumer had nothing more to deliver at the end (so nothing of the partition was left that
   * the stream held when the read began).
   */
  async read(after: number, max: number, waitMs: number): Promise<{ got: Delivered[]; drained: boolean }> {
    for (let attempt = 0; ; attempt++) {
      try {
        const stale = performance.now() - this.usedAt > REUSE_MS;
        if (this.consumer === null || stale || after < this.cursor || after > this.covered) await this.restart(after);
        this.usedAt = performance.now();
        let got = await this.pull({ batch: max, no_wait: true }, 0);
        if (got.length === 0 && waitMs > 0) {
          got = await this.pull({ batch: 1, expires: nanos(waitMs) }, waitMs);
          if (got.length === 1 && max > 1 && got[0].pending > 0) got = got.concat(await this.pull({ batch: max - 1, no_wait: true }, 0));
        }
        const drained = got.length === 0 || got[got.length - 1].pending === 0;
        return { got, drained };
      } catch (err) {
        this.drop();
        // A pull to a consumer the server lost (restarted, or deleted it) is not answered at all: one more try, afresh.
        if ((err instanceof ConsumerLost || err instanceof TimeoutError) && attempt === 0) continue;
        throw err;
      }
    }
  }

  /** Records that no record of the partition lies in (cursor, upTo] (a drained read's `upTo`). */
  cover(upTo: number): void {
    if (this.consumer !== null && upTo > this.covered) this.covered = upTo;
  }

  /** Makes the next read start a new consumer: after a reconnection the server may have restarted and lost it. */
  forget(): void {
    this.drop();
  }

  /** Deletes the consumer (the server would anyway, once it sat unused). */
  async close(): Promise<void> {
    const name = this.consumer;
    this.consumer = null;
    if (name !== null) await this.jsm.consumers.delete(this.stream, name).catch(() => false);
  }

  private async restart(after: number): Promise<void> {
    this.drop();
    const info = await this.jsm.consumers.add(this.stream, {
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: after + 1,
      filter_subject: this.subject,
      mem_storage: true,
      inactive_threshold: nanos(INACTIVE_MS),
    });
    this.consumer = info.name;
    this.cursor = this.covered = after;
    this.delivered = 0;
  }

  /** Forgets the consumer (and deletes it, not waiting): its deliveries can no longer be trusted to follow on. */
  private drop(): void {
    if (this.consumer !== null) this.jsm.consumers.delete(this.stream, this.consumer).catch(() => false);
    this.consumer = null;
  }

  /**
   * One pull request: the messages it delivers, until the batch is full or the server says there
   * is nothing (more) now (404, or 408 when a waiting pull expires).
   */
  private async pull(request: { batch: number; no_wait?: boolean; expires?: number }, waitMs: number): Promise<Delivered[]> {
    const inbox = createInbox();
    const sub = this.nc.subscribe(inbox);
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; sub.unsubscribe(); }, waitMs + this.requestMs);
    const got: Delivered[] = [];
    try {
      this.nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${this.stream}.${this.consumer}`, JSON.stringify(request), { reply: inbox });
      for await (const msg of sub) {
        const code = msg.headers?.code ?? 0;
        if (code === 404 || code === 408) break;
        if (code === 100) continue;
        if (code === 409 || code === 503) throw new ConsumerLost(`${code} ${msg.headers?.description ?? ''}`);
        if (code !== 0) throw new Error(`JetStream refused the read of ${this.subject}: ${code} ${msg.headers?.description ?? ''}`);
        const { seq, dseq, pending } = replyInfo(msg.reply);
        if (dseq !== this.delivered + 1) throw new ConsumerLost(`delivery ${dseq} after ${this.delivered}`);
        this.delivered = dseq;
        this.cursor = this.covered = seq;
        got.push({ msg, seq, pending });
        if (got.length === request.batch) break;
      }
    } finally {
      clearTimeout(timer);
      sub.unsubscribe();
    }
    if (timedOut) throw new TimeoutError();
    return got;
  }
}
