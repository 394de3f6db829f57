import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import { Credentials } from './auth.ts';
import type { AppContext } from './context.ts';
import { errorBody, errorHandler } from './errors.ts';
import { limitJsonDepth } from './json-depth.ts';
import { createLogger, logRequests, requestId } from './logging.ts';
import { countRequests, Metrics } from './metrics.ts';
import { adminRoutes } from './routes/admin-scope.ts';
import { healthRoutes, refuseUntilReady } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { projectRoutes } from './routes/projects.ts';
import { publicRoutes } from './routes/public/public-scope.ts';
import { uiRoutes } from './routes/ui.ts';
import { ErrorSchema } from './schemas.ts';
import { requestValidatorCompiler } from './validation.ts';

export interface AppOptions {
  /** Where the JSON log lines go (default: stdout), at the level of `ctx.config.logLevel`. */
  readonly logStream?: DestinationStream;
  /** Where the built admin UI and browser SDK are (default: packages/web/dist, packages/sdk/dist). */
  readonly dirs?: { readonly ui: string; readonly sdk: string };
}

/** Builds the HTTP app over a context; `app.inject()` tests it without a socket. */
export async function buildApp(ctx: AppContext, opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: createLogger(ctx.config.logLevel, opts.logStream),
    // A line per request only at `debug` (logRequests); every 5xx is logged at `error`.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestId,
    bodyLimit: 1024 * 1024,
    // X-Forwarded-For names the client only behind a proxy the operator declared (STRATA_TRUST_PROXY).
    trustProxy: typeof ctx.config.trustProxy === 'boolean' ? ctx.config.trustProxy : [...ctx.config.trustProxy],
  });
  app.setValidatorCompiler(requestValidatorCompiler());
  // Many clients send `Content-Type: application/json` on every call, DELETE included: a body that
  // is not there is no body (a route that needs one says so through its schema), not bad JSON.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => (body === '' ? done(null, undefined) : json(req, body as string, done)));
  const creds = new Credentials(ctx.store);
  app.setErrorHandler(errorHandler);
  logRequests(app);
  const metrics = new Metrics(ctx);
  countRequests(app, metrics);
  limitJsonDepth(app);
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
          adminToken: { type: 'http', scheme: 'bearer', description: 'An admin token of a project' },
          serverKey: { type: 'http', scheme: 'bearer', description: 'A server key of a project: points adjustments and mission completion only (docs/security.md)' },
          rootToken: { type: 'http', scheme: 'bearer', description: "The server's root token (STRATA_ROOT_TOKEN): projects only" },
          writeKeyBasic: { type: 'http', scheme: 'basic', description: 'The write key as user name, empty password' },
          writeKeyHeader: { type: 'apiKey', in: 'header', name: 'X-Write-Key' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await healthRoutes(app, ctx);
  await metricsRoutes(app, ctx, metrics);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const withCreds = { ...ctx, creds };
  // While the engine loads its projects at start, the APIs answer 503 STARTING (health, metrics, docs and the UI serve).
  const untilReady = refuseUntilReady(ctx);
  await app.register(async (scope) => { scope.addHook('onRequest', untilReady); await publicRoutes(scope, withCreds); });
  await app.register(async (scope) => { scope.addHook('onRequest', untilReady); await adminRoutes(scope, withCreds); });
  await app.register(async (scope) => { scope.addHook('onRequest', untilReady); await projectRoutes(scope, withCreds); });
  return app;
}
