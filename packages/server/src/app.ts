import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import { AppError, limitText, MAX_BODY_BYTES, MAX_ID_LENGTH } from '@strata/core';
import { Credentials } from './auth.ts';
import type { AppContext } from './context.ts';
import { errorBody, errorHandler, STATUS, wrongRole } from './errors.ts';
import { limitJsonDepth } from './json-depth.ts';
import { createLogger, logRequests, requestId } from './logging.ts';
import { watchHeap } from './heap-watch.ts';
import { countRequests, Metrics } from './metrics.ts';
import { adminRoutes } from './routes/admin-scope.ts';
import { healthRoutes, refuseUntilReady } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { projectRoutes } from './routes/projects.ts';
import { publicRoutes } from './routes/public/public-scope.ts';
import { waitForApplied } from './read-your-writes.ts';
import { registerRateLimit } from './rate-limit.ts';
import { uiRoutes } from './routes/ui.ts';
import { ErrorSchema } from './schemas.ts';
import { requestValidatorCompiler } from './validation.ts';

export interface AppOptions {
  /** Where the JSON log lines go (default: stdout), at the level of `ctx.config.logLevel`. */
  readonly logStream?: DestinationStream;
  /** Where the built admin UI and browser SDK are (default: packages/web/dist, packages/sdk/dist). */
  readonly dirs?: { readonly ui: string; readonly sdk: string };
}

/** The longest path parameter the router takes as sent: an id of MAX_ID_LENGTH code points, each up to 12 characters percent-encoded. */
const MAX_PARAM_CHARS = 12 * MAX_ID_LENGTH;

/** Builds the HTTP app over a context; `app.inject()` tests it without a socket. */
export async function buildApp(ctx: AppContext, opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: createLogger(ctx.config.logLevel, opts.logStream),
    // A line per request only at `debug` (logRequests); every 5xx is logged at `error`.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestId,
    bodyLimit: MAX_BODY_BYTES,
    // A path parameter as sent (percent-encoded: up to 12 characters per code point) may be as
    // long as an id of MAX_ID_LENGTH, so that the schema refuses a longer one naming the limit;
    // the router's default (100) answered 414 to ids of 101 to 256 characters.
    routerOptions: { maxParamLength: MAX_PARAM_CHARS },
    // The router's own refusals, in Strata's error shape like every other 400.
    frameworkErrors: (err, req, reply) => {
      if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
        const message = `longer than ${MAX_PARAM_CHARS} characters as sent (percent-encoded; the ${limitText('MAX_ID_LENGTH')} code points)`;
        return errorHandler(new AppError({ code: 'VALIDATION_FAILED', message: `a path parameter is ${message}`, issues: [{ path: '/params', message }] }), req, reply);
      }
      if (err.code === 'FST_ERR_BAD_URL') {
        const message = 'is not valid percent-encoded UTF-8';
        return errorHandler(new AppError({ code: 'VALIDATION_FAILED', message: `a path parameter ${message}`, issues: [{ path: '/params', message }] }), req, reply);
      }
      return errorHandler(err, req, reply);
    },
    // X-Forwarded-For names the client only behind a proxy the operator declared (STRATA_TRUST_PROXY).
    trustProxy: typeof ctx.config.trustProxy === 'boolean' ? ctx.config.trustProxy : [...ctx.config.trustProxy],
  });
  app.setValidatorCompiler(requestValidatorCompiler());
  // Many clients send `Content-Type: application/json` on every call, DELETE included: a body that
  // is not there is no body (a route that needs one says so through its schema), not bad JSON.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => (body === '' ? done(null, undefined) : json(req, body as string, done)));
  const apiRole = ctx.config.role === 'api';
  const creds = new Credentials(ctx.store, undefined, apiRole ? new Set(['write']) : null);
  app.setErrorHandler(errorHandler);
  logRequests(app);
  const metrics = new Metrics(ctx);
  countRequests(app, metrics);
  const heap = watchHeap(app.log, () => ctx.engine.stats().profiles);
  app.addHook('onClose', async () => heap.stop());
  limitJsonDepth(app);
  // A process of the api role serves no admin UI: the UI's calls are the admin API's.
  const page = apiRole ? null : await uiRoutes(app, opts.dirs);
  app.setNotFoundHandler((req, reply) => {
    if (page?.(req, reply)) return;
    const path = req.url.split('?')[0];
    if (apiRole) {
      // Every route but ingest and health is another role's: say where to send it rather than "no route".
      void reply.status(STATUS.WRONG_ROLE).send(errorBody('WRONG_ROLE', wrongRole(req.method, path)));
      return;
    }
    void reply.status(404).send(errorBody('NOT_FOUND', `no route ${req.method} ${path}`));
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
  if (apiRole) {
    // Ingest (appended to the log on NATS, applied by the processes that apply it), targeting, redemption and the admin API's
    // reads and the changes of API_ROLE_CHANGES, answered from PostgreSQL (docs/scale-out.md § Roles); the rest is the all role's.
    await app.register(async (scope) => publicRoutes(scope, withCreds));
    await app.register(async (scope) => adminRoutes(scope, withCreds, { apiRole: true }));
    await app.register(async (scope) => rootRoutes(scope, withCreds, { apiRole: true }));
    return app;
  }
  // While the engine loads its projects at start, the APIs answer 503 STARTING (health, metrics, docs and the UI serve).
  const untilReady = refuseUntilReady(ctx);
  await app.register(async (scope) => { scope.addHook('onRequest', untilReady); await publicRoutes(scope, withCreds); });
  await app.register(async (scope) => { scope.addHook('onRequest', untilReady); await adminRoutes(scope, withCreds); });
  await app.register(async (scope) => {
    scope.addHook('onRequest', untilReady);
    await rootRoutes(scope, withCreds);
  });
  return app;
}

/** The root token's routes (/api/projects), with its rate budget, after the events acknowledged before each request. */
async function rootRoutes(scope: FastifyInstance, ctx: AppContext & { creds: Credentials }, opts: { apiRole?: boolean } = {}): Promise<void> {
  // The root token's budget, like an admin token's (STRATA_RATE_LIMIT_ADMIN).
  await registerRateLimit(scope, 'admin', ctx.config.rateLimit.admin);
  // A project's deletion, like every admin change, comes after the events acknowledged before it.
  scope.addHook('preHandler', waitForApplied(ctx));
  await projectRoutes(scope, ctx, opts);
}
