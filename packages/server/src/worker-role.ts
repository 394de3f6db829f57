import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { DestinationDispatcher, DestinationService, engineMemberships, followDefinitions, type DefinitionFollower, LiveEngine, MissionService, ownedProfiles, PartitionWorker, PointsService, SuppressionList, WebhookDispatcher, WebhookService, type Clock } from '@strata/engine';
import { appliedEverywhere, LEASE_TTL_MS, startPartitionLeases, type EventLog, type PartitionLeases, type SqlStore } from '@strata/store';
import type { Config } from './config.ts';

/**
 * A process of the worker role (docs/scale-out.md § Workers): it leases partitions of the event log
 * on NATS (partition-leases.ts), applies them to PostgreSQL with an engine that holds only the
 * profiles of its partitions (`PartitionWorker`), runs their time transitions, and — while it holds
 * partition 0 — sends the webhook and destination outbox. When its leases change, it stops applying
 * and starts again over the partitions it holds then, reading their profiles from the store.
 */
export interface WorkerRole {
  /** The partitions applied now, and why applying stalls (null: it does not). */
  status(): { readonly partitions: readonly number[]; readonly ready: boolean; readonly stalled: string | null };
  /** Releases the leases (others take the partitions at once) and stops after the transaction under way. */
  stop(): Promise<void>;
}

/** How long lease changes are gathered before the worker starts again over its new partitions (ms). */
const SETTLE_MS = 100;

interface Running {
  readonly owned: readonly number[];
  readonly engine: LiveEngine;
  readonly worker: PartitionWorker;
  readonly follower: DefinitionFollower;
  readonly outbox: readonly { stop(): Promise<void> }[];
  ready: boolean;
}

export async function startWorkerRole(store: SqlStore, config: Config, log: EventLog, clock: Clock): Promise<WorkerRole> {
  if (log.kind !== 'jetstream' || !config.eventLog.natsUrl) throw new Error('a process of the worker role needs the event log on NATS JetStream (STRATA_NATS_URL)');
  const workerId = `${hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40)}-${process.pid}-${randomBytes(3).toString('hex')}`;
  let running: Running | null = null;
  let chain: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  /** Each start over the partitions claims them under a token of its own (PartitionWorkerOptions.owner). */
  let starts = 0;

  /** Starts again over the partitions held now, once changes have settled. */
  const reconfigure = () => {
    if (timer !== null || stopped) return;
    timer = setTimeout(() => {
      timer = null;
      chain = chain.then(rebuild).catch((err: unknown) => console.error(`strata: the worker could not start over its partitions: ${(err as Error)?.stack ?? String(err)}`));
    }, SETTLE_MS);
  };

  const halt = async () => {
    const r = running;
    running = null;
    if (!r) return;
    // The follower first: a transaction of its own, once the worker has stopped, would write in partitions no longer held.
    await r.follower.stop();
    await r.worker.stop();
    for (const o of r.outbox) await o.stop();
    await r.engine.stop();
  };

  const rebuild = async () => {
    const owned = [...leases.owned()].sort((a, b) => a - b);
    if (running && owned.join() === running.owned.join()) return;
    await halt();
    if (stopped || owned.length === 0) return;
    const engine = new LiveEngine(store, clock, [], { owns: ownedProfiles(new Set(owned), log.partitions) });
    // The same hooks as on a process of the all role (bootstrap.ts): outbox rows and mission progress in the transaction that applies the events.
    const webhooks = new WebhookService(store, clock);
    engine.onChanges(async (tx, projectId, changes) => { await webhooks.enqueue(tx, projectId, changes); });
    const destinations = new DestinationService(store, clock, { write: (fn) => engine.write(fn) });
    engine.onChanges((tx, projectId, changes) => destinations.enqueue(tx, projectId, changes).then(() => undefined));
    const points = new PointsService(store, engine, clock);
    const missions = new MissionService(store, engine, points, clock, config.sessionTimeoutMs, engineMemberships(engine, store));
    const worker = new PartitionWorker({
      engine, sessionTimeoutMs: config.sessionTimeoutMs, suppressions: new SuppressionList(store, 5_000),
      listeners: [(tx, projectId, outcome, now, changes) => missions.onIngested(tx, projectId, outcome, now, changes)],
      isolation: (tx, projectId, now) => missions.isolation(tx, projectId, now),
    }, log, store, { owned, owner: `${workerId}.${++starts}`, onTaken: () => taken(r) });
    // Segment changes made on processes of the api role, applied to the profiles held here; mission and webhook changes, heard (after the worker's
    // locks). The holder of partition 0 deletes the changes every partition has applied.
    const follower = followDefinitions(engine, store, owned, [(p) => missions.forget(p), (p) => webhooks.forget(p)], owned.includes(0) ? { trimFor: log.partitions } : {});
    const outbox: { start(): void; stop(): Promise<void> }[] = owned.includes(0) ? [new WebhookDispatcher(store, clock), new DestinationDispatcher(store, clock), trimmer(store, log)] : [];
    const r: Running = { owned, engine, worker, follower, outbox, ready: false };
    running = r;
    try {
      await worker.start();
    } catch (err) {
      // PostgreSQL unreachable or restarting while the worker claimed its partitions: it starts over in a second, not never.
      console.error(`strata: the worker could not start over partitions ${owned.join(', ')} (${(err as Error)?.message ?? String(err)}); trying again`);
      startOverAfter(r, 1_000);
      return;
    }
    // Stopped meanwhile (a lease lost while it started): its engine must not start ticking.
    if (running !== r) return;
    // Time stands at the stored clocks until what the partitions hold is applied, each record at its receipt.
    const caughtUp = worker.drain(Number.MAX_SAFE_INTEGER).catch(() => undefined);
    engine.holdClock(caughtUp);
    void engine.start().catch((err: unknown) => console.error(`strata: the worker's engine could not load: ${(err as Error)?.message ?? String(err)}`));
    for (const o of outbox) o.start();
    void caughtUp.then(() => { r.ready = true; });
    console.log(`strata: worker ${workerId} applies partitions ${owned.join(', ')}${owned.includes(0) ? ' and sends the outbox' : ''}`);
  };

  /**
   * Another worker claimed partitions this one was applying: its lease lapsed without its knowing
   * (a long pause), or the other's did. It stops, and starts again over what its leases say after
   * a lease's lifetime — by then a lapsed lease is known as lost here, and a worker that claimed
   * with a lapsed one has stopped — claiming them again if they are still its own.
   */
  const taken = (r: Running) => startOverAfter(r, LEASE_TTL_MS);

  /** Stops `r` (unless it is no longer the one running), then starts over its leases' partitions after `ms`. */
  const startOverAfter = (r: Running, ms: number) => {
    chain = chain.then(async () => {
      if (running !== r) return;
      await halt();
      await new Promise((done) => setTimeout(done, ms));
    }).then(reconfigure).catch((err: unknown) => console.error(`strata: the worker could not stop: ${(err as Error)?.stack ?? String(err)}`));
  };

  const leases: PartitionLeases = await startPartitionLeases({
    url: config.eventLog.natsUrl, prefix: config.eventLog.prefix, partitions: log.partitions, workerId,
    onAcquired: reconfigure,
    // A lost lease: stop applying at once (before anyone else can take the partition: not after a start under way), then start over the rest.
    // A partition given up is freed for the others only once the transaction under way has committed.
    onLost: () => halt().then(reconfigure),
    onError: (err) => console.error(`strata: partition leases: ${(err as Error)?.message ?? String(err)}`),
  });
  reconfigure();

  return {
    status: () => ({ partitions: running?.owned ?? [], ready: running?.ready ?? false, stalled: running?.worker.stalled ?? null }),
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      await chain;
      await halt();
      await leases.stop();
    },
  };
}

/**
 * The worker's HTTP surface on PORT: `/api/health` (alive, with its partitions) and
 * `/api/health/ready` (200 once it has caught up with its partitions' backlog); anything else 404.
 */
export function workerHealthServer(role: WorkerRole): Server {
  return createServer((req, res) => {
    const s = role.status();
    const path = (req.url ?? '').split('?')[0];
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'a process of the worker role answers GET /api/health and /api/health/ready only' } });
    if (path === '/api/health') return send(200, { status: 'ok', role: 'worker', partitions: s.partitions, stalled: s.stalled });
    if (path === '/api/health/ready') return send(s.ready ? 200 : 503, { status: s.ready ? 'ready' : 'starting', role: 'worker', partitions: s.partitions });
    return send(404, { error: { code: 'WRONG_ROLE', message: `this Strata process has the worker role (STRATA_ROLE=worker): it applies partitions of the event log and serves /api/health and /api/health/ready only; send ${path} to a process of the api or all role` } });
  });
}

/**
 * Trims the stream, once a second, up to where every partition is applied (the least of their
 * recorded positions): one purge of the whole stream below what any worker still reads, never a
 * purge of one partition's subject (which, on a NATS 2.9 server, moves the other partitions'
 * readers too: docs/scale-out.md § Following the log). Run by the worker holding partition 0.
 */
function trimmer(store: SqlStore, log: EventLog): { start(): void; stop(): Promise<void> } {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> = Promise.resolve();
  let trimmed = 0;
  const once = async () => {
    const all = await appliedEverywhere(store, log.partitions);
    if (all > trimmed) {
      await log.trimAll(all);
      trimmed = all;
    }
  };
  return {
    start() {
      timer = setInterval(() => { running = running.then(once).catch((err: unknown) => console.error(`strata: the event log could not be trimmed (it will be at the next chance): ${(err as Error)?.message ?? String(err)}`)); }, 1_000);
      timer.unref();
    },
    async stop() {
      if (timer !== null) clearInterval(timer);
      await running;
    },
  };
}
