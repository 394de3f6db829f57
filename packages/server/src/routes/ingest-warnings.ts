import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { isoTime as iso } from '@strata/core';
import type { AppContext } from '../context.ts';
import { errors } from '../schemas.ts';

/** /api/ingest/warnings (Bearer admin token, checked by the admin scope): the batch items ingest rejected. */
export async function ingestWarningRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.get<{ Querystring: { limit?: number } }>('/api/ingest/warnings', {
    schema: { tags: ['ingest'], security: [{ adminToken: [] }], summary: 'Batch items that were rejected (ingestion warnings), newest first', querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ total: Type.Integer(), warnings: Type.Array(Type.Object({ receivedAt: Type.String({ format: 'date-time' }), index: Type.Integer(), message: Type.String(), payload: Type.String() })) }), ...errors(400, 401, 403) } },
  }, async (req) => {
    const rows = await ctx.store.listRejections(req.project.id, req.query.limit ?? 100);
    return { total: await ctx.store.countRejections(req.project.id), warnings: rows.map((r) => ({ receivedAt: iso(r.receivedAt), index: r.index, message: r.message, payload: r.payload })) };
  });
}
