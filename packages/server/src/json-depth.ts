import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { AppError, jsonDepthFault, limitText, MAX_JSON_DEPTH } from '@strata/core';

/** A value JSON parsing made: an array, or an object whose prototype is Object's (or none). */
function isJsonDocument(v: unknown): boolean {
  if (Array.isArray(v)) return true;
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

async function checkDepth(req: FastifyRequest): Promise<void> {
  // Only a parsed JSON document: an upload route's body is the request stream itself, an object
  // graph with cycles, which is read as rows by its own reader (whose lines are checked there).
  if (!isJsonDocument(req.body)) return;
  const fault = jsonDepthFault(req.body);
  if (fault) {
    throw new AppError({ code: 'VALIDATION_FAILED', message: `the request body: max nesting depth ${MAX_JSON_DEPTH} exceeded (${limitText('MAX_JSON_DEPTH')}) at ${fault.path}`, issues: [fault] });
  }
}

/**
 * Refuses a JSON body nested deeper than MAX_JSON_DEPTH with a 400 naming the limit and the
 * path, on every route (ingest, public and admin alike). JSON.parse itself does not recurse,
 * but handlers do (JSON.stringify, normalisation, SQLite's JSON functions), so the check is
 * the last pre-handler of each route: after authentication (a 401 still comes first, as for
 * any other fault of the body), before the handler. Added to the root before the route
 * scopes are registered, so it sees every route.
 */
export function limitJsonDepth(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const own = route.preHandler === undefined ? [] : Array.isArray(route.preHandler) ? route.preHandler : [route.preHandler];
    route.preHandler = [...own, checkDepth as preHandlerAsyncHookHandler];
  });
}
