import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AppError } from '@strata/core';
import type { AppContext } from '../../context.ts';
import { segmentsDisclosed, verifyUserHash } from '../../identity.ts';
import { TargetingSchema, errors, maxLength } from '../../schemas.ts';

const TargetingQuery = Type.Object({
  userId: Type.Optional(Type.String({ minLength: 1, ...maxLength('MAX_ID_LENGTH') })),
  anonymousId: Type.Optional(Type.String({ minLength: 1, ...maxLength('MAX_ID_LENGTH') })),
  userHash: Type.Optional(Type.String({ maxLength: 128 })),
  writeKey: Type.Optional(Type.String({ ...maxLength('MAX_ID_LENGTH') })),
}, { additionalProperties: false });

/** The public SDK API (write key; CORS: see publicRoutes in public-scope.ts): what a user may see now. */
export async function publicTargetingRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.get<{ Querystring: Static<typeof TargetingQuery> }>('/v1/targeting', {
    schema: {
      tags: ['sdk'], security: [{ writeKeyBasic: [] }, { writeKeyHeader: [] }],
      summary: 'Missions (with progress), rewards and experiences for a user; userHash required where identity verification is on',
      querystring: TargetingQuery, response: { 200: TargetingSchema, ...errors(400, 401) },
    },
  }, async (req) => {
    const q = req.query;
    const project = req.project;
    if (!q.userId && !q.anonymousId) throw new AppError({ code: 'VALIDATION_FAILED', message: 'give userId or anonymousId', issues: [{ path: '/querystring/userId', message: 'userId or anonymousId is required' }] });
    verifyUserHash(project, q.userId, q.userHash);
    return ctx.targeting.forUser(project.id, q.userId ? { userId: q.userId } : { anonymousId: q.anonymousId! }, { withSegments: segmentsDisclosed(project) });
  });
}
