import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Where `npm install` builds the admin UI (packages/web) and the browser SDK (packages/sdk). */
export const UI_DIR = fileURLToPath(new URL('../../../web/dist', import.meta.url));
export const SDK_DIR = fileURLToPath(new URL('../../../sdk/dist', import.meta.url));

/** Paths the API owns: never answered with the admin UI's page. */
const API = /^\/(api|v1|docs|openapi\.json|sdk)(\/|$|\?)/;

/**
 * The admin UI at `/` and the browser SDK at `/sdk/`. Returns the fallback for client-side
 * routes (`/segments/seg_…`: any other GET that accepts HTML gets the app's page, which then
 * reads the path), or null when the UI is not built — then `/` says how to build it.
 */
export async function uiRoutes(app: FastifyInstance, dirs = { ui: UI_DIR, sdk: SDK_DIR }): Promise<((req: FastifyRequest, reply: FastifyReply) => boolean) | null> {
  if (existsSync(dirs.sdk)) {
    await app.register(async (scope) => {
      await scope.register(fastifyStatic, { root: dirs.sdk, prefix: '/sdk/', decorateReply: false, maxAge: '1h', setHeaders: (res) => { res.header('Access-Control-Allow-Origin', '*'); } });
    });
  }
  if (!existsSync(`${dirs.ui}/index.html`)) {
    app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.type('text/html').send(
      '<!doctype html><title>Strata</title><p>The admin UI is not built. Run <code>npm install</code> (it builds <code>packages/web</code>), then restart. The API is at <a href="/docs">/docs</a>.</p>'));
    return null;
  }
  await app.register(fastifyStatic, { root: dirs.ui, prefix: '/', wildcard: false, index: ['index.html'] });
  return (req, reply) => {
    if (req.method !== 'GET' || API.test(req.url) || !(req.headers.accept ?? '').includes('text/html')) return false;
    void reply.sendFile('index.html');
    return true;
  };
}
