import type { FastifyInstance } from 'fastify';
import { AppError, jsonDepthFault, MAX_JSON_DEPTH } from '@strata/core';

/**
 * Refuses a JSON body nested deeper than MAX_JSON_DEPTH with a 400 naming the limit and the
 * path, for every route (ingest, public and admin alike). JSON.parse itself does not recurse,
 * but handlers do (JSON.stringify, normalisation, SQLite's JSON functions), so the check runs
 * as the first pre-handler, before any of them. Added to the root before the route scopes
 * are registered, so each of them inherits it.
 */
export function limitJsonDepth(app: FastifyInstance): void {
  app.addHook('preHandler', async (req) => {
    const fault = jsonDepthFault(req.body);
    if (fault) {
      throw new AppError({ code: 'VALIDATION_FAILED', message: `the request body: max nesting depth ${MAX_JSON_DEPTH} exceeded at ${fault.path}`, issues: [fault] });
    }
  });
}
