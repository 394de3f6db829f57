import { randomBytes } from 'node:crypto';
import { HygieneService, IngestService, LiveEngine, PointsService, MembershipService, SegmentService, WebhookDispatcher, WebhookService, systemClock, type Clock } from '@strata/engine';
import type { SqlStore } from '@strata/store';
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
  const hygiene = new HygieneService(store, membership, engine, clock);
  return {
    config, store, clock, membership, engine, hygiene,
    points: new PointsService(store, engine, clock),
    segments: new SegmentService(store, membership, engine, clock, hygiene),
    ingest: new IngestService(engine, clock, { sessionTimeoutMs: config.sessionTimeoutMs, lingerMs: 2 }),
    webhooks,
    dispatcher: new WebhookDispatcher(store, clock),
  };
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
