import { DefinitionsWatch, followDefinitions, waitForSegmentChanges, engineMemberships, storeMemberships, ExperienceService, HygieneService, InsightsService, IngestService, LiveEngine, MissionService, PointsService, RewardService, TargetingService, MembershipService, SegmentService, WebhookDispatcher, WebhookService, systemClock, type Clock } from '@strata/engine';
import { ExperimentService } from '@strata/engine';
import { DestinationDispatcher, DestinationService, ExportService, ImportService, SuppressionList, UserDataService } from '@strata/engine';
import { allPartitions, readableEverywhere, ExperimentStore, MissionStore, openEventLog, RewardStore, type EventLog, type SqlStore, type WriterLease } from '@strata/store';
import type { Config } from './config.ts';
import type { AppContext } from './context.ts';
import { normalizeMessage } from './ingest/normalize.ts';

export { DEFAULT_PROJECT, ensureDefaultProject, credentialLines, type Bootstrapped, type CredentialOutcome } from './credentials.ts';

export { openConfiguredLog } from './event-log.ts';

/** How long a process of the api role waits for a segment change to be applied before it answers anyway (ms). */
const CHANGE_WAIT_MS = 10_000;

/**
 * Wires the services over a store (with the writer lease `strata serve` holds on it, which
 * `stopContext` releases) and an event log: the one `openConfiguredLog` opened, else the store's
 * embedded log. `stopContext` closes the log.
 */
export function createContext(store: SqlStore, config: Config, clock: Clock = systemClock, opts: { writerLease?: WriterLease; log?: EventLog } = {}): AppContext {
  const membership = new MembershipService();
  const apiRole = config.role === 'api';
  const log = opts.log ?? openEventLog(store);
  // A process of the api role applies nothing and loads no project: its engine refuses to (WRONG_ROLE). The segment
  // changes it makes are recorded for the processes that apply the log, and answered once they have (definition-follower.ts).
  const engine = new LiveEngine(store, clock, [], apiRole ? { holdsNoState: true, changesApplied: () => waitForSegmentChanges(store, log.partitions, CHANGE_WAIT_MS) } : {});
  // Targeting reads segments from the engine's memory, or on the api role from the store's rows (docs/scale-out.md § Roles).
  const memberships = apiRole ? storeMemberships(store) : engineMemberships(engine, store);
  const webhooks = new WebhookService(store, clock);
  // Outbox rows are written in the transaction that records the changes they report.
  engine.onChanges(async (tx, projectId, changes) => {
    await webhooks.enqueue(tx, projectId, changes);
  });
  // A first sync's pages take the engine's writer: no membership change commits between a page's read and its rows.
  const destinations = new DestinationService(store, clock, { write: (fn) => engine.write(fn) });
  engine.onChanges((tx, projectId, changes) => destinations.enqueue(tx, projectId, changes).then(() => undefined));
  const hygiene = new HygieneService(store, membership, engine, clock);
  const experiences = new ExperienceService(store, engine, clock);
  const points = new PointsService(store, engine, clock);
  const rewards = new RewardService(store, engine, points, clock, memberships);
  const missions = new MissionService(store, engine, points, clock, config.sessionTimeoutMs, memberships);
  // A process of the api role never erases: it learns of another process's erasures by reading again, within 5 s.
  const suppressions = new SuppressionList(store, apiRole ? 5_000 : Number.POSITIVE_INFINITY);
  // Acknowledged requests go to the event log first; the membership worker applies them from there (docs/architecture.md).
  // Its hooks (missions) are added below, in the same turn: the worker applies nothing before the next.
  // On NATS other processes (the api role) append to the log too: the worker applies what the log holds, not what this process appended.
  // A process of the api role appends only; it learns what is applied from the store's positions.
  const ingest = new IngestService(engine, {
    sessionTimeoutMs: config.sessionTimeoutMs, lingerMs: 2, storeIp: config.storeIp, suppressions, log,
    follow: log.kind === 'jetstream', apply: !apiRole,
    // Applied up to where every partition is readable: the workers of the partitions (or the one process that follows them all) record each.
    readApplied: () => readableEverywhere(store, log.partitions),
  });
  // Missions progress, complete and pay in the transaction that stores the events.
  ingest.onIngested((tx, projectId, outcome, now, changes) => missions.onIngested(tx, projectId, outcome, now, changes));
  ingest.applyAlone((tx, projectId, now) => missions.isolation(tx, projectId, now));
  // On the api role the definitions change on the all process: their counter is read before each read (checkDefinitions).
  const definitions = apiRole ? new DefinitionsWatch(store, [(p) => missions.forget(p), (p) => rewards.forget(p), (p) => experiences.forget(p)]) : null;
  // Beside processes of the api role (the log on NATS), the changes they make to definitions are heard here.
  const definitionFollower = !apiRole && log.kind === 'jetstream'
    ? followDefinitions(engine, store, allPartitions(log.partitions), [(p) => missions.forget(p), (p) => rewards.forget(p), (p) => experiences.forget(p), (p) => webhooks.forget(p)], { trimFor: log.partitions })
    : null;
  const segments = new SegmentService(store, membership, engine, clock, hygiene, config.maxSegments);
  // A segment that something targets cannot be deleted (409 naming what does).
  segments.guardDeletion((tx, projectId, id) => experiences.targeting(tx, projectId, id));
  segments.guardDeletion(async (tx, projectId, id) => (await new MissionStore(tx).list(projectId)).filter((m) => m.segmentIds.includes(id)).map((m) => `mission "${m.name}" (${m.id})`));
  segments.guardDeletion(async (tx, projectId, id) => (await new RewardStore(tx).list(projectId)).filter((r) => r.segmentIds.includes(id)).map((r) => `reward "${r.name}" (${r.id})`));
  segments.guardDeletion(async (tx, projectId, id) => (await new ExperimentStore(tx).list(projectId))
    .filter((e) => e.audienceSegmentId === id || e.arms.some((a) => a.segmentId === id)).map((e) => `experiment "${e.name}" (${e.id})`));
  return {
    config, store, clock, membership, engine, hygiene,
    points,
    rewards,
    experiences,
    insights: new InsightsService(store, clock),
    targeting: new TargetingService(store, memberships, clock, experiences, { rewards, missions }),
    definitions,
    definitionFollower,
    segments,
    experiments: new ExperimentService(store, segments, engine, clock),
    ingest,
    missions,
    webhooks,
    dispatcher: new WebhookDispatcher(store, clock),
    destinations,
    destinationDispatcher: new DestinationDispatcher(store, clock),
    exports: new ExportService(store),
    // An imported event passes the ingest's own validation (no request address: no geolocation).
    imports: new ImportService({ store, clock, engine, ingest, segments, // As at HTTP ingest: the country of context.ip is added, then the address goes (unless STRATA_STORE_IP).
    normalize: (raw, receivedAt) => normalizeMessage(raw, null, receivedAt, undefined, { requestIp: null, storeIp: config.storeIp }) }),
    userData: new UserDataService(store, engine, clock, suppressions, () => ingest.forgetApplied()),
    ...(opts.writerLease ? { writerLease: opts.writerLease } : {}),
  };
}

/**
 * Stops the services of a context after its HTTP server has closed, in order: the outbox
 * senders, background syncs (they resume at the next start), the ingest pipeline (requests being
 * appended are answered; what is acknowledged and not applied in a few seconds stays in the log for the next start), the engine, the writer lease (nothing writes any more), then the
 * store (unless `closeStore: false`, as a test that restarts over the same database does).
 */
export async function stopContext(ctx: AppContext, opts: { closeStore?: boolean } = {}): Promise<void> {
  await ctx.dispatcher.stop();
  await ctx.destinationDispatcher.stop();
  await ctx.destinations.stop();
  await ctx.ingest.stop();
  await ctx.definitionFollower?.stop();
  await ctx.engine.stop();
  await ctx.writerLease?.release();
  if (opts.closeStore !== false) await ctx.store.close();
}
