import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { MAX_BODY_BYTES } from '@strata/core';
import { Credentials } from './auth.ts';
import type { AppContext } from './context.ts';
import { errorBody, errorHandler } from './errors.ts';
import { limitJsonDepth } from './json-depth.ts';
import { adminRoutes } from './routes/admin-scope.ts';
import { publicRoutes } from './routes/public/public-scope.ts';
import { uiRoutes } from './routes/ui.ts';
import { ErrorSchema } from './schemas.ts';
import { requestValidatorCompiler } from './validation.ts';

export interface AppOptions {
  readonly logger?: boolean;
  /** Where the built admin UI and browser SDK are (default: packages/web/dist, packages/sdk/dist). */
  readonly dirs?: { readonly ui: string; readonly sdk: string };
}

/** Builds the HTTP app over a context; `app.inject()` tests it without a socket. */
export async function buildApp(ctx: AppContext, opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: MAX_BODY_BYTES,
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
  await app.register(async (scope) => publicRoutes(scope, withCreds));
  await app.register(async (scope) => adminRoutes(scope, withCreds));
  return app;
}
