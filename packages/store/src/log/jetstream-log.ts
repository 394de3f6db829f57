import { ConnectionError, headers, nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  jetstream, jetstreamManager, JetStreamApiError, RetentionPolicy, StorageType,
  type JetStreamClient, type JetStreamManager, type StreamConfig, type StreamInfo,
} from '@nats-io/jetstream';
import { AppError } from '@strata/core';
import type { EventLog, LoggedRecord, LogRead, LogRecord } from './event-log.ts';
import { ENCODING_HEADER, appendAttempt, decodeRecord, encodeRecord, recordMsgId } from './jetstream-record.ts';
import { PartitionReader } from './jetstream-reader.ts';
import { allPartitionsSubject, checkInt, checkName, connectNats, partitionOfSubject, partitionSubject, streamName } from './nats-common.ts';
import { checkStreamOwner, ownerInDescription, streamDescription, type StreamOwner } from './stream-owner.ts';

/**
 * The event log on NATS JetStream, for the distributed deployment: one file-backed stream per
 * prefix, one subject per partition, a record's position its stream sequence (so positions rise
 * across partitions, as the interface asks). docs/scale-out.md § The event log on NATS JetStream.
 */

export interface JetStreamLogOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`. */
  readonly url: string;
  /** Names the stream (`<PREFIX>_EVENTS`) and subjects (`<prefix>.events.<n>`): letters, digits, '-', '_'. */
  readonly prefix?: string;
  readonly partitions?: number;
  /**
   * How long JetStream remembers a record's id to drop a message re-sent within one append
   * (default 10 minutes: ids are drawn per call, `recordMsgId`, so seconds would do; longer costs
   * memory, as the server keeps every id of the window in a map).
   */
  readonly duplicateWindowMs?: number;
  /** How long an append waits for its PubAcks (and a read for the server) before it fails as unavailable (default 5 s). */
  readonly timeoutMs?: number;
  /** Stream replicas in a NATS cluster (default 1). */
  readonly replicas?: number;
  /**
   * The database the log is opened for (`streamOwnerOf`): written into a stream this makes, and a
   * stream made for another database is refused (stream-owner.ts). Unset (tests, tools): not checked.
   */
  readonly owner?: StreamOwner;
}

const DEFAULTS = { prefix: 'strata', partitions: 16, duplicateWindowMs: 10 * 60_000, timeoutMs: 5000, replicas: 1 };

/** JetStream's code for "stream name already in use" (another process created it first). */
const STREAM_NAME_IN_USE = 10058;

export async function openJetStreamLog(options: JetStreamLogOptions): Promise<EventLog> {
  const o = { ...DEFAULTS, ...options };
  const prefix = checkName('the event log prefix', o.prefix);
  const partitions = checkInt('partitions', o.partitions, 1, 1024);
  checkInt('duplicateWindowMs', o.duplicateWindowMs, 1000, 7 * 24 * 3600_000);
  checkInt('timeoutMs', o.timeoutMs, 100, 600_000);
  checkInt('replicas', o.replicas, 1, 5);
  const nc = await connectNats(o.url, `strata-log-${prefix}`);
  try {
    const jsm = await jetstreamManager(nc, { timeout: o.timeoutMs });
    const stream = await ensureStream(jsm, prefix, partitions, o.duplicateWindowMs, o.replicas, o.owner);
    return new JetStreamLog(nc, jsm, jetstream(nc, { timeout: o.timeoutMs }), stream, prefix, partitions, o.timeoutMs);
  } catch (err) {
    await nc.close();
    throw err;
  }
}

/**
 * Creates the stream, or checks that the one there is this log's: the same subjects (so the same
 * partition count), on file, keeping messages until trimmed. Another partition count would send
 * profiles to other workers than the records already written; that is refused, never reused.
 * Only the duplicate window is brought in line, as it is a tuning.
 */
async function ensureStream(jsm: JetStreamManager, prefix: string, partitions: number, windowMs: number, replicas: number, owner?: StreamOwner): Promise<string> {
  const name = streamName(prefix);
  const subjects = Array.from({ length: partitions }, (_, p) => partitionSubject(prefix, p));
  const wanted: Partial<StreamConfig> & { name: string } = {
    name, subjects, storage: StorageType.File, retention: RetentionPolicy.Limits, num_replicas: replicas,
    duplicate_window: nanos(windowMs), description: streamDescription(partitions, owner?.id ?? null),
  };
  let info = await streamInfo(jsm, name);
  if (info === null) {
    try {
      info = await jsm.streams.add(wanted);
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === STREAM_NAME_IN_USE)) throw err;
      info = await jsm.streams.info(name);
    }
  }
  const c = info.config;
  if ([...c.subjects ?? []].sort().join(' ') !== [...subjects].sort().join(' ')) throw new Error(otherLayout(name, prefix, partitions, c.subjects ?? []));
  if (c.storage !== StorageType.File || c.retention !== RetentionPolicy.Limits) {
    throw new Error(`the NATS stream ${name} is not an event log (storage ${c.storage}, retention ${c.retention}; a log needs file storage and limits retention)`);
  }
  const adopt = owner !== undefined && checkStreamOwner(name, prefix, ownerInDescription(c.description), owner) === 'adopt';
  if (adopt || c.duplicate_window !== nanos(windowMs)) {
    await jsm.streams.update(name, { duplicate_window: nanos(windowMs), ...(adopt ? { description: streamDescription(partitions, owner.id) } : {}) });
  }
  return name;
}

/**
 * Why a stream of this log's name is not its layout, in the operator's terms: a prefix that
 * differs only in letter case (streams are named in upper case, subjects keep the case), another
 * partition count (the stream's, not its subject list), or subjects Strata never makes.
 */
function otherLayout(name: string, prefix: string, partitions: number, subjects: readonly string[]): string {
  const parsed = subjects.map((s) => /^([A-Za-z0-9_-]+)\.events\.(\d+)$/.exec(s));
  const prefixes = new Set(parsed.map((m) => m?.[1]));
  const theirs = parsed.every((m) => m !== null) && prefixes.size === 1 ? [...prefixes][0]! : null;
  const n = subjects.length;
  const layoutOk = theirs !== null && parsed.every((m) => Number(m![2]) < n);
  if (layoutOk && theirs !== prefix && theirs.toUpperCase() === prefix.toUpperCase()) {
    return `the NATS stream ${name} was made for the prefix "${theirs}", which differs from this log's prefix "${prefix}" only in letter case: `
      + `streams are named in upper case, so both prefixes name this stream, but their subjects differ. Use the prefix "${theirs}" exactly (STRATA_NATS_PREFIX), or a prefix of another name for another log`;
  }
  if (layoutOk && theirs === prefix) {
    return `the NATS stream ${name} was made with ${n} partition${n === 1 ? '' : 's'}, and this log has ${partitions}: profiles would go to other partitions than the records already written. `
      + `Start with STRATA_PARTITIONS=${n}, or, to change the count, use another STRATA_NATS_PREFIX (a new stream) once every record of this one is applied`;
  }
  return `the NATS stream ${name} exists with subjects that are not a Strata event log's (${subjects.slice(0, 3).join(' ') || 'none'}${n > 3 ? ' …' : ''}): it was made by something else; give this log another prefix`;
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | null> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.status === 404) return null;
    throw err;
  }
}

/** How long `close` waits for the connection to drain before it closes it outright (ms). */
const CLOSE_MS = 2_000;

class JetStreamLog implements EventLog {
  readonly kind = 'jetstream';
  private readonly readers = new Map<number, PartitionReader>();
  /** False while the connection is down: appends then fail at once instead of waiting out their timeout. */
  private connected = true;

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    private readonly stream: string,
    private readonly prefix: string,
    readonly partitions: number,
    private readonly timeoutMs: number,
  ) {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') this.connected = false;
        else if (s.type === 'reconnect') {
          this.connected = true;
          for (const r of this.readers.values()) r.forget();
        }
      }
    })();
  }

  /**
   * Publishes every record at once and waits for all the PubAcks: one round trip for the lot.
   * Each call is a new attempt with ids of its own (`recordMsgId`): JetStream keeps once only what
   * this call itself sends twice, so every position it answers is a message this call wrote.
   */
  async append(records: readonly LogRecord[]): Promise<number[]> {
    for (const r of records) checkInt('a record\'s partition', r.partition, 0, this.partitions - 1);
    if (records.length === 0) return [];
    if (!this.connected) throw new ConnectionError('disconnected from NATS (reconnecting)');
    const limit = this.nc.info?.max_payload ?? 1024 * 1024;
    const encoded = await Promise.all(records.map(encodeRecord));
    // All checked before any is sent: a request too large for NATS is refused whole. A margin for the headers.
    for (const { body } of encoded) {
      if (body.length > limit - 512) {
        throw new AppError({ code: 'PAYLOAD_TOO_LARGE', message: `a request's events for one partition are ${body.length} bytes once encoded, more than the event log's NATS server takes in one message (max_payload ${limit}); send smaller batches` });
      }
    }
    const attempt = appendAttempt();
    const acks = await Promise.allSettled(records.map((r, i) => {
      const h = headers();
      if (encoded[i].gzipped) h.set(ENCODING_HEADER, 'gzip');
      return this.js.publish(partitionSubject(this.prefix, r.partition), encoded[i].body, { msgID: recordMsgId(r, attempt, i), headers: h, timeout: this.timeoutMs });
    }));
    const failed = acks.find((a): a is PromiseRejectedResult => a.status === 'rejected');
    if (failed) {
      // The call is refused whole: the records it did store are deleted again (best effort: a
      // record whose PubAck was lost, or a delete NATS cannot take now, stays, and is applied
      // like any record; docs/scale-out.md § Appends and the duplicate window).
      const stored = acks.flatMap((a) => (a.status === 'fulfilled' ? [a.value.seq] : []));
      await Promise.allSettled(stored.map((seq) => this.jsm.streams.deleteMessage(this.stream, seq, false)));
      throw failed.reason;
    }
    return acks.map((a) => (a as PromiseFulfilledResult<{ seq: number }>).value.seq);
  }

  /**
   * `upTo`: the last record's position, or, when the partition had nothing more to give, the
   * stream's last sequence read before the pull (every record of the partition up to it was in
   * the stream when the consumer said it had delivered all).
   */
  async read(partition: number, after: number, max: number, waitMs: number): Promise<LogRead> {
    checkInt('partition', partition, 0, this.partitions - 1);
    return this.readFrom(partition, after, max, waitMs);
  }

  /** Every partition at once: a consumer of the whole stream delivers its messages in sequence order, which is position order. */
  async readAll(after: number, max: number, waitMs: number): Promise<LogRead> {
    return this.readFrom(null, after, max, waitMs);
  }

  private async readFrom(partition: number | null, after: number, max: number, waitMs: number): Promise<LogRead> {
    checkInt('after', after, 0, Number.MAX_SAFE_INTEGER);
    checkInt('max', max, 1, 100_000);
    checkInt('waitMs', waitMs, 0, 600_000);
    const last = (await this.jsm.streams.info(this.stream)).state.last_seq;
    if (after > last) {
      // Sequences never go back in a stream (trimming keeps them): this one was deleted and made again.
      throw new Error(`a read of ${this.stream} after position ${after}, which the stream has not reached (its last is ${last}): `
        + 'the stream was deleted and created again, and positions recorded against the old one would skip records of the new one');
    }
    const reader = this.reader(partition);
    const { got, drained } = await reader.read(after, max, waitMs);
    const records: LoggedRecord[] = [];
    for (const d of got) {
      const where = `message ${d.seq} of ${this.stream}`;
      const record = await decodeRecord(d.msg.data, d.msg.headers?.get(ENCODING_HEADER) === 'gzip', where);
      if (record.partition !== (partition ?? partitionOfSubject(d.msg.subject))) throw new Error(`${where} says partition ${record.partition} but is on ${d.msg.subject}`);
      records.push({ ...record, position: d.seq });
    }
    const lastRead = records.length ? records[records.length - 1].position : after;
    const upTo = drained && (await this.nothingAfter(partition, lastRead)) ? Math.max(lastRead, last) : lastRead;
    if (upTo > lastRead) reader.cover(upTo);
    return { records, upTo };
  }

  /**
   * Whether the stream holds no record of the partition (null: of any) after `position`, asked of
   * the stream's store itself. A consumer's "nothing more" is not enough: its count of what is left
   * can lag behind a message just stored (seen under load: a read said drained while a record below
   * the head it had read was still to come).
   */
  private async nothingAfter(partition: number | null, position: number): Promise<boolean> {
    if (partition !== null) {
      try {
        const m = await this.jsm.streams.getMessage(this.stream, { last_by_subj: partitionSubject(this.prefix, partition) });
        return m === null || m.seq <= position;
      } catch (err) {
        if (err instanceof JetStreamApiError && err.status === 404) return true;
        throw err;
      }
    }
    return (await this.lastPresent()) <= position;
  }

  /**
   * The stream's last sequence, less those at its end that were deleted — the records of an append
   * that failed, deleted again (`append`): the last position that holds, or held before a trim, a
   * record that may have been acknowledged. Readers waiting for the head must not wait for positions
   * that no record will ever fill.
   */
  private async lastPresent(): Promise<number> {
    const { state } = await this.jsm.streams.info(this.stream, { deleted_details: true });
    if (!state.num_deleted) return state.last_seq;
    const deleted = new Set(state.deleted ?? []);
    let seq = state.last_seq;
    while (seq >= state.first_seq && deleted.has(seq)) seq--;
    return seq;
  }

  /** Purges the partition's subject below position + 1 (JetStream's purge keeps the sequence it is given). */
  async trim(partition: number, position: number): Promise<void> {
    checkInt('partition', partition, 0, this.partitions - 1);
    checkInt('position', position, 0, Number.MAX_SAFE_INTEGER);
    if (position === 0) return;
    await this.jsm.streams.purge(this.stream, { filter: partitionSubject(this.prefix, partition), seq: position + 1 });
  }

  /**
   * Purges the whole stream below position + 1. Not a purge per subject: on a NATS 2.9 server, a
   * purge with a subject filter moves every consumer of the stream up to the first message left
   * on that subject, so a reader of the whole stream (`readAll`) would skip the other partitions'
   * records in between.
   */
  async trimAll(position: number): Promise<void> {
    checkInt('position', position, 0, Number.MAX_SAFE_INTEGER);
    if (position === 0) return;
    await this.jsm.streams.purge(this.stream, { seq: position + 1 });
  }

  /**
   * A stream newer than the store's position (made anew): an empty stream's next sequence is moved
   * past it by a purge to that sequence. A stream that still holds records behind the store's
   * position is not the one the store was written from, and is refused.
   */
  async continueAfter(position: number): Promise<void> {
    const { state } = await this.jsm.streams.info(this.stream);
    if (state.last_seq >= position) return;
    if (state.messages > 0) throw new Error(`the event log stream ${this.stream} ends at ${state.last_seq} with records the store has not applied, yet the store has applied up to ${position}: it is not the stream this store was written from`);
    await this.jsm.streams.purge(this.stream, { seq: position + 1 });
  }

  /** A purge removes the messages from the stream's files (JetStream compacts its blocks itself): nothing more to do. */
  async forgetTrimmed(): Promise<void> {}

  /** The last position that holds (or held) a record: deleted records at the end of the stream do not count (`lastPresent`). */
  async head(): Promise<number> {
    return this.lastPresent();
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await Promise.all([...this.readers.values()].map((r) => r.close()));
    this.readers.clear();
    // A server that does not answer never completes a drain: a stop must not wait on it for ever.
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([this.nc.drain(), new Promise((_, reject) => { timer = setTimeout(reject, CLOSE_MS, new Error('drain timed out')); })]);
    } catch {
      // NATS is gone or not answering: nothing is left to flush (appends already failed); closing must still succeed.
      await this.nc.close();
    } finally {
      clearTimeout(timer);
    }
  }

  /** The reader of a partition, or (null) of the whole stream: every subject of the stream is a partition's. */
  private reader(partition: number | null): PartitionReader {
    const key = partition ?? -1;
    let r = this.readers.get(key);
    if (r === undefined) {
      r = new PartitionReader(this.nc, this.jsm, this.stream, partition === null ? allPartitionsSubject(this.prefix) : partitionSubject(this.prefix, partition), this.timeoutMs);
      this.readers.set(key, r);
    }
    return r;
  }
}
