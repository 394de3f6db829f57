import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { AppContext } from '../context.ts';
import { ExplainResult, OverlapBody, OverlapResult, errors, maxLength } from '../schemas.ts';

/** Segment hygiene (Bearer admin token): pairwise overlap of segments, and why a user is or is not in one. */
export async function hygieneRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const security = [{ adminToken: [] }];

  app.post<{ Body: Static<typeof OverlapBody> }>('/api/segments/overlap', {
    schema: { tags: ['segments'], security, summary: 'Pairwise intersection sizes and Jaccard of 2 to 50 segments', body: OverlapBody, response: { 200: OverlapResult, ...errors(400, 401, 403) } },
  }, async (req) => ctx.hygiene.overlap(req.project.id, req.body.ids));

  const ExplainParams = Type.Object({ id: Type.String({ minLength: 1, ...maxLength('MAX_ID_LENGTH') }), segmentId: Type.String({ minLength: 1, ...maxLength('MAX_ID_LENGTH') }) });
  app.get<{ Params: Static<typeof ExplainParams> }>('/api/users/:id/segments/:segmentId/explain', {
    schema: { tags: ['users'], security, summary: 'Why a user is or is not in a segment now: each part of the condition with the value it saw', params: ExplainParams, response: { 200: ExplainResult, ...errors(401, 403, 404) } },
  }, async (req) => ctx.hygiene.explain(req.project.id, req.params.id, req.params.segmentId));
}
