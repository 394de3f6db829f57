import { performance } from 'node:perf_hooks';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { checkInt, checkName, connectNats, leaseBucket, leaseChangedSubject } from './nats-common.ts';

/**
 * Which membership worker reads which partitions of the event log: leases in a NATS KV bucket
 * (`<prefix>_leases`) whose entries expire after a TTL unless refreshed. docs/scale-out.md § Leases.
 *
 * - `p.<n>` holds the id of the worker that owns partition n. It is taken with `create` (refused
 *   while anyone holds it) and refreshed every TTL/3 with `update` against the revision we wrote
 *   (refused if it is no longer ours).
 * - `w.<id>` says a worker is alive; each worker takes at most ceil(partitions / live workers) and
 *   releases its surplus when more workers appear, the partitions it would be assigned by a
 *   round-robin over the sorted worker ids first kept, others' first released.
 * - A lease is released by deleting exactly the message we wrote (its revision), which leaves no
 *   tombstone and cannot remove anyone else's lease; a core NATS message on
 *   `<prefix>.leases.changed` then makes the others look at once rather than at their next tick.
 *
 * Never two owners: a lease counts as ours only until (the time we *sent* the create or last
 * successful update) + TTL − TTL/4, measured on this process's monotonic clock. The server
 * cannot expire the entry before TTL after it stored it, which is after we sent, so onLost fires
 * before anyone else can create the key. (A process stalled past that margin — a long GC pause —
 * would learn late; the store fences it: the next holder's claim makes its transactions fail,
 * log/positions.ts `claimPartitions`.)
 */

/** How long a lease outlives its holder's last refresh unless told otherwise (ms). */
export const LEASE_TTL_MS = 6000;

export interface PartitionLeaseOptions {
  /** NATS server URL(s); or `connection`, which the leases then use and leave open. */
  readonly url?: string;
  readonly connection?: NatsConnection;
  /** Names the bucket and subjects, as the event log's prefix does (default 'strata'). */
  readonly prefix?: string;
  readonly partitions: number;
  /** This worker's id: letters, digits, '-', '_'; unique among the live workers. */
  readonly workerId: string;
  /** How long a lease outlives its holder's last refresh (default 6 s); every worker of a prefix must use the same. */
  readonly ttlMs?: number;
  /** The partition is this worker's: start reading it. */
  onAcquired(partition: number): void;
  /**
   * The partition is no longer this worker's: stop at once (called before anyone else can take it).
   * A partition given up by this worker (a surplus when others arrive, or `stop`) is freed for the
   * others only once the promise returned settles: the worker finishes what it was writing first.
   */
  onLost(partition: number): void | Promise<void>;
  /** A refresh or look that failed (NATS unreachable, …); the leases carry on. */
  onError?(err: unknown): void;
}

export interface PartitionLeases {
  /** The partitions this worker holds now. */
  owned(): ReadonlySet<number>;
  /** Releases every lease at once (after onLost for each) so others take them without waiting out the TTL. */
  stop(): Promise<void>;
}

export async function startPartitionLeases(o: PartitionLeaseOptions): Promise<PartitionLeases> {
  const prefix = checkName('the lease prefix', o.prefix ?? 'strata');
  const workerId = checkName('the worker id', o.workerId);
  const partitions = checkInt('partitions', o.partitions, 1, 1024);
  const ttlMs = checkInt('ttlMs', o.ttlMs ?? LEASE_TTL_MS, 500, 600_000);
  if ((o.url === undefined) === (o.connection === undefined)) throw new TypeError('partition leases need either a NATS url or a connection');
  const nc = o.connection ?? await connectNats(o.url as string, `strata-leases-${workerId}`);
  try {
    const timeout = Math.min(5000, Math.round(ttlMs / 3));
    const bucket = leaseBucket(prefix);
    const kv = await new Kvm(jetstream(nc, { timeout })).create(bucket, { ttl: ttlMs, history: 1, storage: StorageType.File });
    const status = await kv.status();
    if (status.ttl !== ttlMs) {
      throw new Error(`the lease bucket ${bucket} has a TTL of ${status.ttl} ms, not ${ttlMs}: every worker of a deployment must use the same lease TTL`);
    }
    const leases = new Leases(nc, o.connection === undefined, kv, await jetstreamManager(nc, { timeout }), status.streamInfo.config.name,
      `$KV.${bucket}.`, leaseChangedSubject(prefix), partitions, workerId, ttlMs, o);
    await leases.start();
    return leases;
  } catch (err) {
    if (o.connection === undefined) await nc.close();
    throw err;
  }
}

interface Held {
  revision: number;
  /** performance.now() after which the lease no longer counts as ours. */
  deadline: number;
}

class Leases implements PartitionLeases {
  private readonly held = new Map<number, Held>();
  private announced = 0;
  private stopped = false;
  private running: Promise<void> | null = null;
  private again = false;
  private ticker: NodeJS.Timeout | undefined;
  private expiry: NodeJS.Timeout | undefined;
  private sub: Subscription | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly ownsConnection: boolean,
    private readonly kv: KV,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly keyPrefix: string,
    private readonly changed: string,
    private readonly partitions: number,
    private readonly workerId: string,
    private readonly ttlMs: number,
    private readonly o: PartitionLeaseOptions,
  ) {}

  owned(): ReadonlySet<number> {
    return new Set(this.held.keys());
  }

  async start(): Promise<void> {
    this.sub = this.nc.subscribe(this.changed, { callback: (_err, msg) => { if (msg.string() !== this.workerId) this.schedule(); } });
    this.ticker = setInterval(() => this.schedule(), Math.round(this.ttlMs / 3));
    this.schedule();
    await this.running;
    this.nc.publish(this.changed, this.workerId);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.ticker);
    clearTimeout(this.expiry);
    this.sub?.unsubscribe();
    while (this.running) await this.running;
    const revisions = [...this.held.values()].map((h) => h.revision);
    for (const p of [...this.held.keys()]) await this.lose(p);
    if (this.announced) revisions.push(this.announced);
    await Promise.all(revisions.map((r) => this.erase(r)));
    if (this.nc.isClosed()) return;
    try {
      this.nc.publish(this.changed, this.workerId);
      if (this.ownsConnection) await this.nc.drain();
    } catch {
      // NATS is gone: the keys expire by themselves; stopping must still succeed.
      if (this.ownsConnection) await this.nc.close();
    }
  }

  /** Runs a tick now, or once more after the one under way. */
  private schedule(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.tick();
        } catch (err) {
          this.o.onError?.(err);
        }
      } while (this.again && !this.stopped);
      this.running = null;
    })();
  }

  /** Refreshes what we hold, says we are alive, then releases a surplus or takes free partitions up to our share. */
  private async tick(): Promise<void> {
    await Promise.all([...this.held].map(([p, lease]) => this.refresh(p, lease)));
    this.armExpiry();
    this.announced = await this.kv.put(`w.${this.workerId}`, this.workerId);
    if (this.stopped) return;
    const subjects = Object.keys((await this.jsm.streams.info(this.stream, { subjects_filter: '>' })).state.subjects ?? {});
    const keys = subjects.map((s) => s.slice(this.keyPrefix.length));
    const workers = [...new Set([this.workerId, ...keys.filter((k) => k.startsWith('w.')).map((k) => k.slice(2))])].sort();
    const taken = new Set(keys.filter((k) => k.startsWith('p.')).map((k) => Number(k.slice(2))));
    const share = Math.ceil(this.partitions / workers.length);
    const mine = (p: number) => workers[p % workers.length] === this.workerId;
    if (this.held.size > share) {
      const surplus = [...this.held.keys()].sort((a, b) => Number(mine(a)) - Number(mine(b)) || b - a).slice(0, this.held.size - share);
      for (const p of surplus) await this.release(p);
      this.nc.publish(this.changed, this.workerId);
      return;
    }
    const free = Array.from({ length: this.partitions }, (_, p) => p)
      .filter((p) => !taken.has(p) && !this.held.has(p))
      .sort((a, b) => Number(mine(b)) - Number(mine(a)) || a - b);
    for (const p of free) {
      if (this.held.size >= share || this.stopped) break;
      await this.acquire(p);
    }
  }

  private async refresh(p: number, lease: Held): Promise<void> {
    const sent = performance.now();
    try {
      const revision = await this.kv.update(`p.${p}`, this.workerId, lease.revision);
      if (this.held.get(p) !== lease) return;
      lease.revision = revision;
      lease.deadline = sent + this.ttlMs - this.ttlMs / 4;
    } catch (err) {
      // Someone else's now (ours expired): gone. Otherwise (NATS slow or away) keep it until its deadline.
      if (isWrongSequence(err)) void this.lose(p);
      else this.o.onError?.(err);
    }
  }

  private async acquire(p: number): Promise<void> {
    const sent = performance.now();
    try {
      const revision = await this.kv.create(`p.${p}`, this.workerId);
      if (this.stopped) {
        await this.erase(revision);
        return;
      }
      this.held.set(p, { revision, deadline: sent + this.ttlMs - this.ttlMs / 4 });
      this.armExpiry();
      void this.call(this.o.onAcquired, p);
    } catch (err) {
      if (!isWrongSequence(err)) this.o.onError?.(err);
    }
  }

  /** Stops using the partition, then frees its key for others. */
  private async release(p: number): Promise<void> {
    const lease = this.held.get(p);
    if (lease === undefined) return;
    await this.lose(p);
    await this.erase(lease.revision);
  }

  /** Deletes the one message we wrote, if it is still there (else it was replaced or expired: nothing to do). */
  private async erase(revision: number): Promise<void> {
    await this.jsm.streams.deleteMessage(this.stream, revision, false).catch(() => false);
  }

  /** Tells the worker it lost `p`; resolves once the worker says it has stopped writing it. */
  private async lose(p: number): Promise<void> {
    if (this.held.delete(p)) await this.call(this.o.onLost, p);
  }

  private async call(fn: (p: number) => void | Promise<void>, p: number): Promise<void> {
    try {
      await fn(p);
    } catch (err) {
      this.o.onError?.(err);
    }
  }

  /** Wakes at the earliest deadline and gives up every lease whose refresh did not come in time. */
  private armExpiry(): void {
    clearTimeout(this.expiry);
    if (this.held.size === 0 || this.stopped) return;
    const first = Math.min(...[...this.held.values()].map((h) => h.deadline));
    this.expiry = setTimeout(() => {
      const now = performance.now();
      // Expired: the worker is told at once, and nothing waits for it (others may take the partition soon).
      for (const [p, lease] of this.held) if (lease.deadline <= now) void this.lose(p);
      this.armExpiry();
    }, Math.max(0, first - performance.now()));
  }
}

function isWrongSequence(err: unknown): boolean {
  return err instanceof JetStreamApiError
    && (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}
