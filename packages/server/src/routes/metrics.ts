import type { FastifyInstance } from 'fastify';
import { AppError } from '@strata/core';
import type { AppContext } from '../context.ts';
import { metricsAccess, type Metrics } from '../metrics.ts';

/** `GET /metrics`: Prometheus text format; access as metricsAccess says (docs/operations.md). */
export async function metricsRoutes(app: FastifyInstance, ctx: AppContext, metrics: Metrics): Promise<void> {
  app.get('/metrics', { schema: { hide: true } }, async (req, reply) => {
    const access = metricsAccess(req, ctx.config.metricsToken);
    if (access === 'unauthorized') throw new AppError({ code: 'UNAUTHORIZED', message: 'metrics need the bearer token STRATA_METRICS_TOKEN sets' });
    if (access === 'forbidden') throw new AppError({ code: 'FORBIDDEN', message: 'metrics are served to the loopback only unless STRATA_METRICS_TOKEN is set (a request through a proxy is not local)' });
    return reply.type(metrics.contentType).send(await metrics.text());
  });
}
