import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { AppContext } from '../context.ts';
import { IdParams, MembersQuery, errors, maxLength } from '../schemas.ts';

export const PointsEntrySchema = Type.Object({
  id: Type.Integer(),
  kind: Type.Union(['earn', 'spend', 'adjust', 'expire'].map((k) => Type.Literal(k))),
  amount: Type.Integer(),
  balance: Type.Integer({ minimum: 0 }),
  reason: Type.String(),
  ref: Type.Union([Type.String(), Type.Null()]),
  at: Type.String({ format: 'date-time' }),
});

const Adjust = Type.Object({
  amount: Type.Integer({ minimum: -1_000_000_000, maximum: 1_000_000_000, description: 'Signed: positive adds, negative removes' }),
  reason: Type.String({ minLength: 1, maxLength: 500 }),
  kind: Type.Optional(Type.Union([Type.Literal('adjust'), Type.Literal('earn'), Type.Literal('expire')], { default: 'adjust' })),
  ref: Type.Optional(Type.String({ minLength: 1, ...maxLength('MAX_REF_LENGTH'), description: 'Idempotency key: a second call with the same ref changes nothing' })),
}, { additionalProperties: false });

/** Points of a user (Bearer admin token): balance and ledger, and adjustments (also with a server key). */
export async function pointsRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const tags = { tags: ['points'], security: [{ adminToken: [] }] };

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof MembersQuery> }>('/api/users/:id/points', {
    schema: { ...tags, summary: "A user's points balance and ledger, newest first", params: IdParams, querystring: MembersQuery,
      response: { 200: Type.Object({ balance: Type.Integer(), entries: Type.Array(PointsEntrySchema), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...errors(400, 401, 403, 404) } },
  }, async (req) => ctx.points.get(req.project.id, req.params.id, req.query.limit ?? 100, req.query.cursor ?? null));

  // A trusted back end may adjust points with a server key (docs/security.md).
  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof Adjust> }>('/api/users/:id/points', {
    config: { serverKey: true },
    schema: { ...tags, security: [{ adminToken: [] }, { serverKey: [] }], summary: 'Adjust a user\'s points (never below zero: 409 INSUFFICIENT_POINTS)', params: IdParams, body: Adjust,
      response: { 200: Type.Object({ balance: Type.Integer(), entry: PointsEntrySchema, duplicate: Type.Boolean() }), ...errors(400, 401, 403, 404, 409) } },
  }, async (req) => ctx.points.adjust(req.project.id, req.params.id, req.body));
}
