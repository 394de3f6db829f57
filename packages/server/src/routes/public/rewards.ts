import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AppError, isPlainObject, MAX_REDEEM_BODY_BYTES } from '@strata/core';
import type { AppContext } from '../../context.ts';
import { readBodiesAsJson } from './json-body.ts';
import { verifyUserHash } from '../../identity.ts';
import { IdParams, errors, maxLength } from '../../schemas.ts';
import { RedeemResultSchema, idempotencyKeyOf } from '../rewards.ts';

const MAX_BODY = MAX_REDEEM_BODY_BYTES;

const PublicRedeem = Type.Object({
  userId: Type.String({ minLength: 1, ...maxLength('MAX_ID_LENGTH'), description: 'The signed-in user; anonymous users cannot redeem' }),
  userHash: Type.Optional(Type.String({ maxLength: 128, description: 'hex(HMAC-SHA256(secret, userId)); required where the project enables identity verification' })),
  requestId: Type.Optional(Type.String({ minLength: 1, ...maxLength('MAX_REF_LENGTH'), description: 'Idempotency key (or the Idempotency-Key header): a retry answers the same redemption' })),
  writeKey: Type.Optional(Type.String({ ...maxLength('MAX_ID_LENGTH') })),
}, { additionalProperties: false });

/**
 * The public SDK's redemption (write key; any content type read as JSON, as the ingest
 * routes). Registered inside the public scope (public-scope.ts), whose CORS (open, `Idempotency-Key`
 * allowed) covers it.
 */
export async function publicRewardRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  readBodiesAsJson(app, MAX_BODY);
  // After the scope's write-key check (401 before any 400), the one refusal the schema cannot word.
  app.addHook('preValidation', async (req) => {
    const body = req.body;
    if (isPlainObject(body) && body.userId === undefined && body.anonymousId !== undefined) {
      throw new AppError({ code: 'VALIDATION_FAILED', message: 'anonymous users cannot redeem: identify the user and send their userId', issues: [{ path: '/userId', message: 'is required (an anonymousId cannot redeem)' }] });
    }
  });

  const path = '/v1/rewards/:id/redeem';
  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof PublicRedeem> }>(path, {
    schema: {
      tags: ['sdk'], security: [{ writeKeyBasic: [] }, { writeKeyHeader: [] }],
      summary: 'Redeem a reward for the signed-in user (write key); 409 names the check that failed',
      description: 'Checks, in order: active (REWARD_INACTIVE), validity dates (OUTSIDE_DATES), target segments (NOT_IN_SEGMENT), per-user limit (LIMIT_REACHED), stock and code pool (OUT_OF_STOCK), balance (INSUFFICIENT_POINTS). Where identity verification is on, userHash is required (401 without it or when wrong). Anonymous users cannot redeem (400).',
      params: IdParams, body: PublicRedeem,
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ ...maxLength('MAX_REF_LENGTH') })) }),
      response: { 200: RedeemResultSchema, ...errors(400, 401, 404, 409) },
    },
  }, async (req) => {
    // Settings read afresh: turning verification on takes effect at once, whatever the credential cache holds.
    const project = (await ctx.store.getProject(req.project.id)) ?? req.project;
    verifyUserHash(project, req.body.userId, req.body.userHash);
    return ctx.rewards.redeem(project.id, req.params.id, req.body.userId, { ref: idempotencyKeyOf(req, req.body.requestId) });
  });
}
