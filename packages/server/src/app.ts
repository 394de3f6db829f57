import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { Credentials } from './auth.ts';
import type { AppContext } from './context.ts';
import { errorBody, errorHandler } from './errors.ts';
import { adminRoutes } from './routes/admin.ts';
import { hygieneRoutes } from './routes/hygiene.ts';
import { insightRoutes } from './routes/insights.ts';
import { pointsRoutes } from './routes/points.ts';
import { uiRoutes } from './routes/ui.ts';
import { missionRoutes } from './routes/missions.ts';
import { publicRewardRoutes } from './routes/public-rewards.ts';
import { rewardRoutes } from './routes/rewards.ts';
import { experienceRoutes, publicTargetingRoutes } from './routes/targeting.ts';
import { ingestRoutes } from './routes/ingest.ts';
import { templateRoutes } from './routes/templates.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { destinationRoutes } from './routes/destinations.ts';
import { exportRoutes } from './routes/export.ts';
import { experimentRoutes } from './routes/experiments.ts';
import { importRoutes } from './routes/imports.ts';
import { ErrorSchema } from './schemas.ts';

export interface AppOptions {
  readonly logger?: boolean;
  /** Where the built admin UI and browser SDK are (default: packages/web/dist, packages/sdk/dist). */
  readonly dirs?: { readonly ui: string; readonly sdk: string };
}

/** Builds the HTTP app over a context; `app.inject()` tests it without a socket. */
export async function buildApp(ctx: AppContext, opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: 1024 * 1024,
    // X-Forwarded-For names the client only behind a proxy the operator declared (STRATA_TRUST_PROXY).
    trustProxy: typeof ctx.config.trustProxy === 'boolean' ? ctx.config.trustProxy : [...ctx.config.trustProxy],
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: true, useDefaults: true } },
  });
  // Many clients send `Content-Type: application/json` on every call, DELETE included: a body that
  // is not there is no body (a route that needs one says so through its schema), not bad JSON.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => (body === '' ? done(null, undefined) : json(req, body as string, done)));
  const creds = new Credentials(ctx.store);
  app.setErrorHandler(errorHandler);
  const page = await uiRoutes(app, opts.dirs);
  app.setNotFoundHandler((req, reply) => {
    if (page?.(req, reply)) return;
    void reply.status(404).send(errorBody('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
  });
  app.addSchema(ErrorSchema);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Strata API', version: '0.1.0', description: 'Segment-compatible ingest, segments and membership. Conditions: docs/conditions.md.' },
      components: {
        securitySchemes: {
          adminToken: { type: 'http', scheme: 'bearer', description: 'The admin token of a project' },
          writeKeyBasic: { type: 'http', scheme: 'basic', description: 'The write key as user name, empty password' },
          writeKeyHeader: { type: 'apiKey', in: 'header', name: 'X-Write-Key' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.get('/api/health', { schema: { tags: ['meta'], summary: 'Liveness', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({ status: 'ok' as const }));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const withCreds = { ...ctx, creds };
  // The public API (write key) is called from browsers: CORS is open there, and only there.
  await app.register(async (scope) => {
    await scope.register(cors, { origin: '*', methods: ['GET', 'POST', 'OPTIONS'], allowedHeaders: ['Content-Type', 'Authorization', 'X-Write-Key', 'Idempotency-Key', 'X-Retry-Count'], maxAge: 86400 });
    await scope.register(async (s) => ingestRoutes(s, withCreds));
    await scope.register(async (s) => publicTargetingRoutes(s, withCreds));
    await scope.register(async (s) => publicRewardRoutes(s, withCreds));
  });
  await app.register(async (scope) => adminRoutes(scope, withCreds));
  await app.register(async (scope) => webhookRoutes(scope, withCreds));
  await app.register(async (scope) => destinationRoutes(scope, withCreds));
  await app.register(async (scope) => exportRoutes(scope, withCreds));
  await app.register(async (scope) => templateRoutes(scope, withCreds));
  await app.register(async (scope) => hygieneRoutes(scope, withCreds));
  await app.register(async (scope) => pointsRoutes(scope, withCreds));
  await app.register(async (scope) => missionRoutes(scope, withCreds));
  await app.register(async (scope) => rewardRoutes(scope, withCreds));
  await app.register(async (scope) => experienceRoutes(scope, withCreds));
  await app.register(async (scope) => insightRoutes(scope, withCreds));
  await app.register(async (scope) => experimentRoutes(scope, withCreds));
  await app.register(async (scope) => importRoutes(scope, withCreds));
  return app;
}
