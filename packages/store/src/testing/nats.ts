import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { streamName } from '../log/nats-common.ts';

/** The NATS server the event log and lease tests run against (.ci/run starts one when it can). */
export const NATS_URL = process.env.STRATA_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

/**
 * Prefixes for tests on one NATS server: `next()` gives a prefix no other test or run shares
 * (the process id, a count, random bytes), and `used` lists them for the clean-up at the end.
 */
export function testPrefixes(tag: string): { next(): string; readonly used: readonly string[] } {
  const used: string[] = [];
  return {
    used,
    next: () => {
      const p = `${tag}${process.pid}_${used.length + 1}_${randomBytes(3).toString('hex')}`;
      used.push(p);
      return p;
    },
  };
}

/** Deletes the event-log streams of the given prefixes (those a test or benchmark made), on a connection of its own; a stream already gone is fine. */
export async function deleteEventStreams(prefixes: readonly string[], url = NATS_URL): Promise<void> {
  const nc = await connect({ servers: url, timeout: 5000 });
  try {
    const jsm = await jetstreamManager(nc);
    for (const p of prefixes) await jsm.streams.delete(streamName(p)).catch(() => false);
  } finally {
    await nc.close();
  }
}

/** Why the NATS tests cannot run (no server, or one without JetStream), or null when they can. */
export async function natsUnavailable(url = NATS_URL): Promise<string | null> {
  let nc;
  try {
    nc = await connect({ servers: url, timeout: 2000, reconnect: false });
  } catch (err) {
    return `no NATS server at ${url} (${(err as Error).message})`;
  }
  try {
    await jetstreamManager(nc);
    return null;
  } catch (err) {
    return `the NATS server at ${url} has no JetStream (${(err as Error).message})`;
  } finally {
    await nc.close();
  }
}

/**
 * A TCP relay in front of NATS, for tests of a server that goes away: clients connect to `url`;
 * `cut()` drops every connection through it and refuses new ones (NATS down), `stall()` keeps the
 * connections open but passes nothing on (NATS not answering).
 */
export interface NatsRelay {
  readonly url: string;
  cut(): Promise<void>;
  stall(): void;
}

export async function natsRelay(target = NATS_URL): Promise<NatsRelay> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<net.Socket>();
  let stalled = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(from);
      from.on('data', (chunk) => { if (!stalled) to.write(chunk); });
      from.on('error', () => to.destroy());
      from.on('close', () => { sockets.delete(from); to.destroy(); });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: relayPort } = server.address() as net.AddressInfo;
  return {
    url: `nats://127.0.0.1:${relayPort}`,
    cut: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
    stall: () => { stalled = true; },
  };
}
