import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { NATS_URL, natsRelay, natsUnavailable, testPrefixes } from '../testing/nats.ts';
import { leaseBucket } from './nats-common.ts';
import { startPartitionLeases, type PartitionLeases } from './partition-leases.ts';

const unavailable = await natsUnavailable();
if (unavailable !== null) console.warn(`skipping the partition lease tests: ${unavailable}`);

/** Short leases so that expiry is seen within a test; refreshes every 400 ms, a lease counts as ours 900 ms past its refresh. */
const TTL = 1200;
const PARTITIONS = 8;

/** A prefix of its own for each test, whose lease bucket is deleted at the end. */
const prefixes = testPrefixes('l');
const newPrefix = prefixes.next;

/**
 * Every worker's onAcquired / onLost, checked as they come: a partition is never acquired while
 * another worker has it and has not yet said it lost it.
 */
class Ownership {
  readonly holder = new Map<number, string>();
  readonly overlaps: string[] = [];
  readonly events: { at: number; worker: string; p: number; kind: 'acquired' | 'lost' }[] = [];

  callbacks(worker: string) {
    return {
      onAcquired: (p: number) => {
        const other = this.holder.get(p);
        if (other !== undefined) this.overlaps.push(`${worker} acquired ${p} while ${other} held it`);
        this.holder.set(p, worker);
        this.events.push({ at: performance.now(), worker, p, kind: 'acquired' });
      },
      onLost: (p: number) => {
        if (this.holder.get(p) === worker) this.holder.delete(p);
        this.events.push({ at: performance.now(), worker, p, kind: 'lost' });
      },
    };
  }

  heldBy(worker: string): number[] {
    return [...this.holder].filter(([, w]) => w === worker).map(([p]) => p).sort((a, b) => a - b);
  }
}

describe.skipIf(unavailable !== null)('partition leases on NATS KV', () => {
  let admin: NatsConnection;
  let jsm: JetStreamManager;
  const running: PartitionLeases[] = [];
  beforeAll(async () => {
    admin = await connect({ servers: NATS_URL });
    jsm = await jetstreamManager(admin);
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((l) => l.stop()));
  });
  afterAll(async () => {
    for (const p of prefixes.used) await jsm.streams.delete(`KV_${leaseBucket(p)}`).catch(() => false);
    await admin.close();
  });

  async function start(prefix: string, workerId: string, own: Ownership, url = NATS_URL): Promise<PartitionLeases> {
    const leases = await startPartitionLeases({ url, prefix, partitions: PARTITIONS, workerId, ttlMs: TTL, ...own.callbacks(workerId) });
    running.push(leases);
    return leases;
  }

  const all = Array.from({ length: PARTITIONS }, (_, p) => p);

  it('gives every partition to a worker alone, and owned() agrees with the callbacks', async () => {
    const own = new Ownership();
    const a = await start(newPrefix(), 'a', own);
    expect([...a.owned()].sort((x, y) => x - y)).toEqual(all);
    expect(own.heldBy('a')).toEqual(all);
  });

  it('splits the partitions fairly when a second worker comes, then hands a stopped worker\'s over at once', async () => {
    const prefix = newPrefix();
    const own = new Ownership();
    const a = await start(prefix, 'a', own);
    const b = await start(prefix, 'b', own);
    await vi.waitFor(() => {
      expect(a.owned().size).toBe(PARTITIONS / 2);
      expect(b.owned().size).toBe(PARTITIONS / 2);
    }, { timeout: 3 * TTL, interval: 50 });
    expect([...a.owned(), ...b.owned()].sort((x, y) => x - y)).toEqual(all);

    const stopped = performance.now();
    await b.stop();
    expect(b.owned().size).toBe(0);
    // Released keys and the notice on NATS: well before a lease would have expired.
    await vi.waitFor(() => expect(a.owned().size).toBe(PARTITIONS), { timeout: TTL, interval: 20 });
    // Waiting out the TTL would take at least 2/3 of it (the last refresh is at most TTL/3 old).
    expect(performance.now() - stopped).toBeLessThan(TTL * 0.6);
    expect(own.overlaps).toEqual([]);
  });

  it('moves a killed worker\'s partitions within about the TTL, the dead one letting go before anyone takes them', async () => {
    const prefix = newPrefix();
    const own = new Ownership();
    const relay = await natsRelay();
    const errors: unknown[] = [];
    const a = await start(prefix, 'a', own);
    const b = await startPartitionLeases({ url: relay.url, prefix, partitions: PARTITIONS, workerId: 'b', ttlMs: TTL, ...own.callbacks('b'), onError: (e) => errors.push(e) });
    running.push(b);
    await vi.waitFor(() => expect(b.owned().size).toBe(PARTITIONS / 2), { timeout: 3 * TTL, interval: 50 });
    const hadB = [...b.owned()];

    const killed = performance.now();
    await relay.cut();
    await vi.waitFor(() => expect(a.owned().size).toBe(PARTITIONS), { timeout: 3 * TTL, interval: 20 });
    const moved = performance.now() - killed;
    // Expiry (≤ TTL after b's last refresh) plus at most one tick of a (TTL/3), with room for a busy machine.
    expect(moved).toBeLessThan(2.5 * TTL);
    expect(b.owned().size).toBe(0);
    expect(errors.length).toBeGreaterThan(0);
    for (const p of hadB) {
      const lost = own.events.find((e) => e.worker === 'b' && e.p === p && e.kind === 'lost' && e.at >= killed);
      const taken = own.events.find((e) => e.worker === 'a' && e.p === p && e.kind === 'acquired' && e.at >= killed);
      expect(lost && taken && lost.at < taken.at).toBe(true);
    }
    expect(own.overlaps).toEqual([]);
  });

  it('never has two owners of a partition through workers coming, stopping and dying', async () => {
    const prefix = newPrefix();
    const own = new Ownership();
    const relays = await Promise.all([natsRelay(), natsRelay()]);
    const workers = new Map<string, PartitionLeases>();
    const add = async (id: string, url = NATS_URL) => {
      workers.set(id, await startPartitionLeases({ url, prefix, partitions: PARTITIONS, workerId: id, ttlMs: TTL, ...own.callbacks(id), onError: () => undefined }));
      running.push(workers.get(id) as PartitionLeases);
    };
    const settle = () => new Promise((r) => setTimeout(r, TTL));
    await add('a');
    await add('b', relays[0].url);
    await add('c');
    await settle();
    await add('d', relays[1].url);
    await relays[0].cut();
    await settle();
    await workers.get('c')?.stop();
    await add('e');
    await relays[1].cut();
    // The living (a, e) come to hold everything, each its fair share, and no partition ever had two owners.
    await vi.waitFor(() => {
      const living = ['a', 'e'].map((id) => [...(workers.get(id) as PartitionLeases).owned()]);
      expect(living.map((o) => o.length)).toEqual([PARTITIONS / 2, PARTITIONS / 2]);
      expect(living.flat().sort((x, y) => x - y)).toEqual(all);
    }, { timeout: 5 * TTL, interval: 50 });
    expect(own.overlaps).toEqual([]);
  });

  it('refuses a bad worker id, and a TTL other than the bucket\'s', async () => {
    const prefix = newPrefix();
    const own = new Ownership();
    await expect(startPartitionLeases({ url: NATS_URL, prefix, partitions: 4, workerId: 'a.b', ...own.callbacks('x') })).rejects.toThrow(/worker id must be/);
    await start(prefix, 'a', own);
    await expect(startPartitionLeases({ url: NATS_URL, prefix, partitions: PARTITIONS, workerId: 'b', ttlMs: 3000, ...own.callbacks('b') }))
      .rejects.toThrow(/has a TTL of 1200 ms, not 3000/);
  });
});
