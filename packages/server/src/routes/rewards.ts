import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { AppError } from '@strata/core';
import { REWARD_TYPES } from '@strata/store';
import type { AppContext } from '../context.ts';
import { IdParams, MembersQuery, Nullable, errors, maxLength } from '../schemas.ts';


export const RewardTypeSchema = Type.Union(REWARD_TYPES.map((t) => Type.Literal(t)), { description: 'coupon and voucher hand out a code (from the pool, else generated); digital and physical items hand out a pool code when the reward has a pool' });

const RewardFields = {
  name: Type.String({ minLength: 1, ...maxLength('MAX_NAME_LENGTH') }),
  description: Type.String({ ...maxLength('MAX_DESCRIPTION_LENGTH') }),
  type: RewardTypeSchema,
  cost: Type.Integer({ minimum: 0, maximum: 1_000_000_000, description: 'Points a redemption costs' }),
  stock: Nullable(Type.Integer({ minimum: 0, maximum: 1_000_000_000 }), 'Units left; null: unlimited'),
  perUserLimit: Nullable(Type.Integer({ minimum: 1, maximum: 1_000_000 }), 'Redemptions per user; null: no limit'),
  segmentIds: Type.Array(Type.String({ minLength: 1, ...maxLength('MAX_ID_LENGTH') }), { maxItems: 100, description: 'Members of any of these segments may redeem; empty: everyone' }),
  active: Type.Boolean(),
  startsAt: Nullable(Type.String({ format: 'date-time' }), 'Redeemable from (inclusive); null: no start'),
  endsAt: Nullable(Type.String({ format: 'date-time' }), 'Redeemable until (exclusive); null: no end'),
};

export const RewardCreate = Type.Object({
  name: RewardFields.name,
  description: Type.Optional(RewardFields.description),
  type: RewardFields.type,
  cost: RewardFields.cost,
  stock: Type.Optional(RewardFields.stock),
  perUserLimit: Type.Optional(RewardFields.perUserLimit),
  segmentIds: Type.Optional(RewardFields.segmentIds),
  active: Type.Optional(Type.Boolean({ default: true })),
  startsAt: Type.Optional(RewardFields.startsAt),
  endsAt: Type.Optional(RewardFields.endsAt),
}, { additionalProperties: false });

export const RewardPatch = Type.Partial(Type.Object(RewardFields), { additionalProperties: false });

export const RewardSchema = Type.Object({
  id: Type.String(),
  ...RewardFields,
  codes: Type.Object({ total: Type.Integer(), available: Type.Integer() }, { description: 'The code pool: codes uploaded, and those not handed out yet' }),
  redemptions: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

export const RedemptionSchema = Type.Object({
  id: Type.Integer(),
  rewardId: Type.String(),
  rewardName: Nullable(Type.String(), 'null once the reward is deleted'),
  userId: Nullable(Type.String()),
  code: Nullable(Type.String(), 'The code handed out; null for an item without one'),
  cost: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  ref: Nullable(Type.String(), 'The idempotency key the request carried'),
});

export const RedeemResultSchema = Type.Object({
  redemption: RedemptionSchema,
  balance: Type.Integer({ minimum: 0, description: "The user's points balance after the redemption" }),
  duplicate: Type.Boolean({ description: 'true: this idempotency key was redeemed before; that redemption is answered again and nothing was charged' }),
});

const RedemptionsPage = Type.Object({ redemptions: Type.Array(RedemptionSchema), nextCursor: Nullable(Type.String()) });

const Codes = Type.Object({
  codes: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 10_000 }),
}, { additionalProperties: false });

const AdminRedeem = Type.Object({
  userId: Type.String({ minLength: 1, ...maxLength('MAX_ID_LENGTH') }),
  requestId: Type.Optional(Type.String({ minLength: 1, ...maxLength('MAX_REF_LENGTH'), description: 'Idempotency key (or the Idempotency-Key header)' })),
}, { additionalProperties: false });

/** The idempotency key of a redeem request: the Idempotency-Key header or `requestId` in the body (they must agree). */
export function idempotencyKeyOf(req: FastifyRequest, requestId: string | undefined): string | null {
  const h = req.headers['idempotency-key'];
  const header = typeof h === 'string' && h.length > 0 ? h : null;
  if (header !== null && header.length > 200) throw new AppError({ code: 'VALIDATION_FAILED', message: 'the Idempotency-Key header is at most 200 characters', issues: [{ path: '/headers/idempotency-key', message: 'at most 200 characters' }] });
  if (header !== null && requestId !== undefined && header !== requestId) {
    throw new AppError({ code: 'VALIDATION_FAILED', message: 'the Idempotency-Key header and requestId differ', issues: [{ path: '/requestId', message: 'differs from the Idempotency-Key header' }] });
  }
  return header ?? requestId ?? null;
}

/** Rewards (the bonus shop), Bearer admin token: definitions, code pools, redemptions, redeeming for a user. */
export async function rewardRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const tags = { tags: ['rewards'], security: [{ adminToken: [] }] };
  const Reward = RewardSchema;

  app.post<{ Body: Static<typeof RewardCreate> }>('/api/rewards', {
    schema: { ...tags, summary: 'Create a reward', body: RewardCreate, response: { 201: Reward, ...errors(400, 401, 403) } },
  }, async (req, reply) => reply.status(201).send(await ctx.rewards.create(req.project.id, req.body)));

  app.get('/api/rewards', {
    schema: { ...tags, summary: 'List rewards', response: { 200: Type.Object({ rewards: Type.Array(Reward) }), ...errors(401, 403) } },
  }, async (req) => ({ rewards: await ctx.rewards.list(req.project.id) }));

  app.get<{ Params: Static<typeof IdParams> }>('/api/rewards/:id', {
    schema: { ...tags, summary: 'Get a reward', params: IdParams, response: { 200: Reward, ...errors(401, 403, 404) } },
  }, async (req) => ctx.rewards.get(req.project.id, req.params.id));

  app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof RewardPatch> }>('/api/rewards/:id', {
    schema: { ...tags, summary: 'Change a reward (e.g. restock, toggle active)', params: IdParams, body: RewardPatch, response: { 200: Reward, ...errors(400, 401, 403, 404) } },
  }, async (req) => ctx.rewards.update(req.project.id, req.params.id, req.body));

  app.delete<{ Params: Static<typeof IdParams> }>('/api/rewards/:id', {
    schema: { ...tags, summary: 'Delete a reward and its unused codes (its redemptions stay)', params: IdParams, response: { 204: Type.Null(), ...errors(401, 403, 404) } },
  }, async (req, reply) => {
    await ctx.rewards.delete(req.project.id, req.params.id);
    return reply.status(204).send();
  });

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof Codes> }>('/api/rewards/:id/codes', {
    schema: {
      ...tags, summary: "Upload codes to a reward's pool (each is handed out once; codes already in the pool are skipped)", params: IdParams, body: Codes,
      response: { 200: Type.Object({ added: Type.Integer(), duplicates: Type.Integer(), total: Type.Integer(), available: Type.Integer() }), ...errors(400, 401, 403, 404) },
    },
  }, async (req) => ctx.rewards.addCodes(req.project.id, req.params.id, req.body.codes));

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof MembersQuery> }>('/api/rewards/:id/redemptions', {
    schema: { ...tags, summary: "A reward's redemptions, newest first", params: IdParams, querystring: MembersQuery, response: { 200: RedemptionsPage, ...errors(400, 401, 403, 404) } },
  }, async (req) => ctx.rewards.redemptions(req.project.id, { rewardId: req.params.id }, req.query.limit ?? 100, req.query.cursor ?? null));

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof AdminRedeem> }>('/api/rewards/:id/redeem', {
    schema: {
      ...tags, summary: 'Redeem a reward for a user (the same checks as the SDK; 409 names the one that failed)', params: IdParams, body: AdminRedeem,
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ ...maxLength('MAX_REF_LENGTH') })) }),
      response: { 200: RedeemResultSchema, ...errors(400, 401, 403, 404, 409) },
    },
  }, async (req) => ctx.rewards.redeem(req.project.id, req.params.id, req.body.userId, { ref: idempotencyKeyOf(req, req.body.requestId) }));

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof MembersQuery> }>('/api/users/:id/redemptions', {
    schema: { tags: ['users'], security: tags.security, summary: "A user's redemptions (userId or anonymousId), newest first", params: IdParams, querystring: MembersQuery, response: { 200: RedemptionsPage, ...errors(400, 401, 403, 404) } },
  }, async (req) => ctx.rewards.redemptions(req.project.id, { userId: req.params.id }, req.query.limit ?? 100, req.query.cursor ?? null));
}
