import { randomBytes } from 'node:crypto';
import { ExperienceService, HygieneService, InsightsService, IngestService, LiveEngine, MissionService, PointsService, RewardService, TargetingService, MembershipService, SegmentService, WebhookDispatcher, WebhookService, systemClock, type Clock } from '@strata/engine';
import { ExperimentService } from '@strata/engine';
import { DestinationDispatcher, DestinationService, ExportService } from '@strata/engine';
import { SuppressionList, UserDataService } from '@strata/engine';
import { ExperimentStore, MissionStore, RewardStore, type SqlStore } from '@strata/store';
import type { Config } from './config.ts';
import type { AppContext } from './context.ts';

export const DEFAULT_PROJECT = 'default';

/** Wires the services over a store. */
export function createContext(store: SqlStore, config: Config, clock: Clock = systemClock): AppContext {
  const membership = new MembershipService();
  const engine = new LiveEngine(store, clock);
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
  const rewards = new RewardService(store, engine, points, clock);
  const missions = new MissionService(store, engine, points, clock);
  const suppressions = new SuppressionList();
  const ingest = new IngestService(engine, clock, { sessionTimeoutMs: config.sessionTimeoutMs, lingerMs: 2, suppressions });
  // Missions progress, complete and pay in the transaction that stores the events.
  ingest.onIngested((tx, projectId, outcome, now) => missions.onIngested(tx, projectId, outcome, now));
  const segments = new SegmentService(store, membership, engine, clock, hygiene);
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
    targeting: new TargetingService(store, engine, clock, experiences, { rewards, missions }),
    segments,
    experiments: new ExperimentService(store, segments, engine, clock),
    ingest,
    missions,
    webhooks,
    dispatcher: new WebhookDispatcher(store, clock),
    destinations,
    destinationDispatcher: new DestinationDispatcher(store, clock),
    exports: new ExportService(store),
    userData: new UserDataService(store, engine, clock, suppressions),
  };
}

/**
 * Stops the services of a context after its HTTP server has closed, in order: the outbox
 * senders, background syncs (they resume at the next start), the ingest queue (everything
 * acknowledged is committed), the engine, then the store (unless `closeStore: false`, as a
 * test that restarts over the same database does).
 */
export async function stopContext(ctx: AppContext, opts: { closeStore?: boolean } = {}): Promise<void> {
  await ctx.dispatcher.stop();
  await ctx.destinationDispatcher.stop();
  await ctx.destinations.stop();
  await ctx.ingest.drain();
  await ctx.engine.stop();
  if (opts.closeStore !== false) await ctx.store.close();
}

export interface Bootstrapped {
  /** Credentials generated at this start (print them once); null when configured or existing. */
  readonly generated: { adminToken?: string; writeKey?: string } | null;
}

const secret = (prefix: string) => `${prefix}_${randomBytes(24).toString('base64url')}`;

/**
 * Makes sure the default project exists. Configured credentials (STRATA_ADMIN_TOKEN,
 * STRATA_WRITE_KEY) are applied at every start; missing ones are generated on the first.
 */
export async function ensureDefaultProject(store: SqlStore, config: Config, now: number): Promise<Bootstrapped> {
  const existing = await store.getProject(DEFAULT_PROJECT);
  if (existing) {
    await store.setProjectCredentials(DEFAULT_PROJECT, { ...(config.writeKey ? { writeKey: config.writeKey } : {}), ...(config.adminToken ? { adminToken: config.adminToken } : {}) });
    return { generated: null };
  }
  const adminToken = config.adminToken ?? secret('sta');
  const writeKey = config.writeKey ?? secret('stw');
  await store.createProject({ id: DEFAULT_PROJECT, name: 'Default project', writeKey, adminToken, now });
  const generated: { adminToken?: string; writeKey?: string } = {};
  if (!config.adminToken) generated.adminToken = adminToken;
  if (!config.writeKey) generated.writeKey = writeKey;
  return { generated: Object.keys(generated).length ? generated : null };
}
