import type { FastifyInstance } from 'fastify';
import { AppError } from '@strata/core';
import { auditHooks } from '../audit.ts';
import { requireAdmin, type Credentials } from '../auth.ts';
import type { AppContext } from '../context.ts';
import { auditRoutes } from './audit.ts';
import { registerRateLimit } from '../rate-limit.ts';
import { checkDefinitions, waitForApplied } from '../read-your-writes.ts';
import { destinationRoutes } from './destinations.ts';
import { experienceRoutes } from './experiences.ts';
import { experimentRoutes } from './experiments.ts';
import { exportRoutes } from './export.ts';
import { hygieneRoutes } from './hygiene.ts';
import { importRoutes } from './imports.ts';
import { ingestWarningRoutes } from './ingest-warnings.ts';
import { insightRoutes } from './insights.ts';
import { keyRoutes } from './keys.ts';
import { missionRoutes } from './missions.ts';
import { pointsRoutes } from './points.ts';
import { rewardRoutes } from './rewards.ts';
import { segmentRoutes } from './segments.ts';
import { settingsRoutes } from './settings.ts';
import { templateRoutes } from './templates.ts';
import { userDataRoutes } from './user-data.ts';
import { userRoutes } from './users.ts';
import { webhookRoutes } from './webhooks.ts';

type AdminRoutes = (app: FastifyInstance, ctx: AppContext & { creds: Credentials }) => Promise<void>;

/** One file per resource; each is its own plugin (its own content-type parsers) inside the admin scope. */
const RESOURCES: readonly AdminRoutes[] = [
  segmentRoutes, userRoutes, ingestWarningRoutes, webhookRoutes, destinationRoutes, exportRoutes, templateRoutes, hygieneRoutes,
  pointsRoutes, missionRoutes, rewardRoutes, experienceRoutes, settingsRoutes, insightRoutes, experimentRoutes, importRoutes, userDataRoutes, auditRoutes, keyRoutes,
];

/**
 * The changes a process of the api role makes (docs/scale-out.md § Admin changes): definitions of
 * segments, missions, rewards, experiences and webhooks, and segments' manual lists, written to the
 * store with what the processes applying the log need to hear of them (a segment change, a
 * definitions counter moved on); and keys and settings, which only ingest and the API read (other
 * processes see them within their credential cache's 10 s). The others need an engine that holds
 * the profiles (421 WRONG_ROLE).
 */
export const API_ROLE_CHANGES: ReadonlySet<string> = new Set([
  'POST /api/segments', 'PATCH /api/segments/:id', 'DELETE /api/segments/:id', 'POST /api/segments/lifecycle',
  'POST /api/segments/:id/members', 'DELETE /api/segments/:id/members/:userId',
  'POST /api/missions', 'PATCH /api/missions/:id', 'DELETE /api/missions/:id',
  'POST /api/rewards', 'PATCH /api/rewards/:id', 'DELETE /api/rewards/:id', 'POST /api/rewards/:id/codes',
  'POST /api/experiences', 'PATCH /api/experiences/:id', 'DELETE /api/experiences/:id',
  'POST /api/webhooks', 'POST /api/webhooks/:id/rotate-secret', 'POST /api/webhooks/:id/test', 'DELETE /api/webhooks/:id',
  'POST /api/keys', 'POST /api/keys/:id/rotate', 'DELETE /api/keys/:id', 'PATCH /api/settings',
  'POST /api/users/:id/points', 'POST /api/rewards/:id/redeem', 'POST /api/users/:id/labels',
  'POST /api/experiments', 'PATCH /api/experiments/:id', 'DELETE /api/experiments/:id',
  // Reads sent as a POST: the store's SQL answers them where the engine's memory is not at hand.
  'POST /api/segments/preview', 'POST /api/segments/overlap',
]);

/**
 * The admin API (Bearer admin token; a server key on the few routes whose config says
 * `serverKey: true`): the token is checked here, once for every route of the scope, so no
 * route file can forget it.
 *
 * On a process of the api role (`apiRole`) the reads (GET) are served from the store (those that
 * would need the engine's memory are refused by the engine, which holds none there), and the
 * changes of API_ROLE_CHANGES; any other is refused with 421 WRONG_ROLE before the token is checked.
 */
export async function adminRoutes(app: FastifyInstance, ctx: AppContext & { creds: Credentials }, opts: { apiRole?: boolean } = {}): Promise<void> {
  if (opts.apiRole) {
    app.addHook('onRequest', async (req) => {
      if (req.method === 'GET' || req.method === 'HEAD' || API_ROLE_CHANGES.has(`${req.method} ${req.routeOptions.url ?? ''}`)) return;
      throw new AppError({ code: 'WRONG_ROLE', message: 'this change (or a read sent as a POST) is served by the all role' });
    });
  }
  // onRequest: before the body is parsed or anything validated, so a caller without the token
  // hears 401, never the schema's complaints.
  app.addHook('onRequest', async (req) => {
    const { project, key } = await requireAdmin(req, ctx.creds, req.routeOptions.config.serverKey === true);
    req.project = project;
    req.key = key;
  });
  // Every change a route of AUDITED (audit.ts) makes leaves one row in the audit log.
  auditHooks(app, ctx);
  // Per admin token, after its check (STRATA_RATE_LIMIT_ADMIN).
  await registerRateLimit(app, 'admin', ctx.config.rateLimit.admin);
  // Every admin read and write sees the events acknowledged before it (read-your-writes.ts).
  app.addHook('preHandler', waitForApplied(ctx));
  // On a process of the api role, and the definitions changed before it (a user's missions read the cached ones).
  const definitions = checkDefinitions(ctx);
  if (definitions) app.addHook('preHandler', definitions);
  for (const routes of RESOURCES) await app.register(async (scope) => routes(scope, ctx));
}
