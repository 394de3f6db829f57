import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { AppError } from '@strata/core';
import type { AppContext } from '../context.ts';
import { loggedFailures } from '../errors.ts';

/**
 * Whether the engine is still loading the projects at start (or failed to, or is stopping):
 * null when it serves. An engine that was never started loads each project on first use, and serves.
 */
export function notReady(ctx: AppContext): { status: 'starting' | 'failed' | 'stopping'; loaded: number; total: number | null } | null {
  const s = ctx.engine.started;
  if (s.phase === 'ready' || s.phase === 'idle') return null;
  return { status: s.phase === 'loading' ? 'starting' : s.phase === 'failed' ? 'failed' : 'stopping', loaded: s.loaded, total: s.total };
}

/** An onRequest hook for the API scopes: while the engine loads, a 503 STARTING (with Retry-After) at once, before any credential is looked up. */
export function refuseUntilReady(ctx: AppContext) {
  return async (_req: FastifyRequest): Promise<void> => {
    const n = notReady(ctx);
    if (!n) return;
    const progress = n.total === null ? '' : ` (${n.loaded} of ${n.total} projects loaded)`;
    throw new AppError({
      code: 'STARTING',
      message: n.status === 'starting' ? `Strata is starting: the engine is loading its projects${progress}; send the request again in a moment` : `Strata is not serving: the engine is ${n.status === 'failed' ? 'not loaded (see the log)' : 'stopping'}`,
    });
  };
}

const Progress = Type.Object({ loaded: Type.Integer(), total: Type.Union([Type.Integer(), Type.Null()]) });

/**
 * Liveness (`/api/health`: the process answers) and readiness (`/api/health/ready`: 200 once
 * the engine has loaded every project, 503 until then) for load balancers and orchestrators.
 */
export async function healthRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.get('/api/health', { schema: { tags: ['meta'], summary: 'Liveness: the process answers (also while it is loading)', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({ status: 'ok' as const }));
  app.get('/api/health/ready', {
    schema: {
      tags: ['meta'],
      summary: 'Readiness: 200 once the engine has loaded every project; 503 while it loads (with the progress), if the load failed, or while stopping',
      response: {
        200: Type.Object({ status: Type.Literal('ready') }),
        503: Type.Object({ status: Type.Union([Type.Literal('starting'), Type.Literal('failed'), Type.Literal('stopping')]), projects: Progress }),
      },
    },
  }, async (req, reply) => {
    const n = notReady(ctx);
    if (!n) return { status: 'ready' as const };
    // A probe's answer, not a fault: not logged as a 5xx.
    loggedFailures.add(req);
    return reply.code(503).header('Retry-After', '1').send({ status: n.status, projects: { loaded: n.loaded, total: n.total } });
  });
}
