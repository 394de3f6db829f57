import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { validationError, type Issue } from '@strata/core';
import type { MetricInput } from '@strata/engine';
import type { AppContext } from '../context.ts';
import { IdParams, Nullable, errors, maxLength } from '../schemas.ts';

const Status = Type.Union([Type.Literal('draft'), Type.Literal('running'), Type.Literal('stopped')]);
const ArmKey = Type.String({ minLength: 1, maxLength: 64, description: 'Letters, digits, "_", "-", "."; unique within the experiment' });
const ArmName = Type.String({ minLength: 1, maxLength: 100 });
const Weight = Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000, description: 'Relative: arms get ceil(10000 × cumulative share) bucket boundaries' });
const NullableId = Nullable(Type.String({ minLength: 1, ...maxLength('MAX_ID_LENGTH') }), 'Who takes part (a segment id); absent or null: everyone');

const ExperimentCreate = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 150 }),
  description: Type.Optional(Type.String({ ...maxLength('MAX_DESCRIPTION_LENGTH') })),
  audienceSegmentId: Type.Optional(NullableId),
  salt: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Hashing seed (GrowthBook\'s experiment key); defaults to the experiment id' })),
  arms: Type.Array(Type.Object({ key: ArmKey, name: Type.Optional(ArmName), weight: Weight }, { additionalProperties: false }), { minItems: 2, maxItems: 20 }),
  control: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Key of the control arm; the first arm by default' })),
  status: Type.Optional(Type.Union([Type.Literal('draft'), Type.Literal('running')], { default: 'draft' })),
}, { additionalProperties: false });

const ExperimentPatchBody = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 150 })),
  description: Type.Optional(Type.String({ ...maxLength('MAX_DESCRIPTION_LENGTH') })),
  status: Type.Optional(Status),
  control: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  arms: Type.Optional(Type.Array(Type.Object({ key: ArmKey, name: Type.Optional(ArmName), weight: Type.Optional(Weight) }, { additionalProperties: false }), { minItems: 1, maxItems: 20, description: 'By key: names at any time; weights only while a draft (409 otherwise)' })),
  audienceSegmentId: Type.Optional(NullableId),
  salt: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
}, { additionalProperties: false });

const ExperimentSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  audienceSegmentId: Type.Union([Type.String(), Type.Null()]),
  salt: Type.String(),
  control: Type.String(),
  status: Status,
  arms: Type.Array(Type.Object({
    key: Type.String(), name: Type.String(), weight: Type.Number(),
    segmentId: Type.String({ description: 'The arm\'s segment: target missions, rewards and experiences at it' }),
    from: Type.Integer({ description: 'First bucket (inclusive)' }), to: Type.Integer({ description: 'Last bucket + 1' }),
    share: Type.Number(), size: Type.Integer({ description: 'Current members' }),
  })),
  startedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  stoppedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
}, { $id: 'Experiment' });

const METRICS = ['event', 'mission_participation', 'mission_completion', 'reward_redemption'] as const;

const ResultsQuery = Type.Object({
  metric: Type.Union(METRICS.map((m) => Type.Literal(m)), { description: 'What a conversion is' }),
  event: Type.Optional(Type.String({ minLength: 1, ...maxLength('MAX_EVENT_NAME_LENGTH'), description: 'metric=event: the event name ("*": any event the user caused)' })),
  missionId: Type.Optional(Type.String({ minLength: 1, ...maxLength('MAX_ID_LENGTH'), description: 'metric=mission_participation | mission_completion' })),
  rewardId: Type.Optional(Type.String({ minLength: 1, ...maxLength('MAX_ID_LENGTH'), description: 'metric=reward_redemption' })),
  days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, description: 'Count conversions within this many days of first exposure; absent: any time after it' })),
}, { additionalProperties: false });


const ResultsSchema = Type.Object({
  experimentId: Type.String(),
  status: Status,
  metric: Type.Object({
    kind: Type.Union(METRICS.map((m) => Type.Literal(m))),
    event: Type.Optional(Type.String()), missionId: Type.Optional(Type.String()), rewardId: Type.Optional(Type.String()),
    days: Type.Union([Type.Integer(), Type.Null()]),
  }),
  computedAt: Type.String({ format: 'date-time' }),
  control: Type.String(),
  arms: Type.Array(Type.Object({
    key: Type.String(), name: Type.String(), segmentId: Type.String(), control: Type.Boolean(), expectedShare: Type.Number(),
    users: Type.Integer({ description: 'Profiles exposed to this arm (and no other)' }), conversions: Type.Integer(), rate: Nullable(Type.Number()),
    vsControl: Type.Union([Type.Object({
      absoluteLift: Type.Number({ description: 'rate − control rate' }),
      relativeLift: Type.Union([Type.Number(), Type.Null()], { description: '(rate − control rate) / control rate; null when the control rate is 0' }),
      ci95: Type.Object({ lower: Type.Number(), upper: Type.Number() }, { description: '95% interval of the absolute lift (unpooled standard error)' }),
      standardError: Type.Number(),
      z: Type.Union([Type.Number(), Type.Null()]),
      pValue: Type.Number({ description: 'Two-sided, two-proportion z-test with the pooled standard error' }),
    }), Type.Null()]),
  })),
  excludedUsers: Type.Integer({ description: 'Profiles exposed to more than one arm, left out of all' }),
  srm: Type.Object({
    chiSquare: Type.Number(), df: Type.Integer(), pValue: Nullable(Type.Number()), threshold: Type.Number(),
    expected: Type.Array(Type.Number()), mismatch: Type.Boolean(),
  }, { description: 'Sample ratio mismatch: chi-square goodness of fit of users per arm against the arms\' shares' }),
  warnings: Type.Array(Type.Object({ code: Type.String(), message: Type.String() })),
});

/** The query of GET /api/experiments/:id/results as a metric: each metric takes its own parameters and no other. */
export function metricFromQuery(q: Static<typeof ResultsQuery>): MetricInput {
  const need = { event: ['event'], mission_participation: ['missionId'], mission_completion: ['missionId'], reward_redemption: ['rewardId'] }[q.metric];
  const issues: Issue[] = [];
  for (const k of ['event', 'missionId', 'rewardId'] as const) {
    if (need.includes(k) && q[k] === undefined) issues.push({ path: `/querystring/${k}`, message: `is required with metric=${q.metric}` });
    if (!need.includes(k) && q[k] !== undefined) issues.push({ path: `/querystring/${k}`, message: `does not go with metric=${q.metric}` });
  }
  if (issues.length) throw validationError(`the metric is not valid: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, issues);
  const days = q.days === undefined ? {} : { days: q.days };
  switch (q.metric) {
    case 'event': return { metric: 'event', event: q.event!, ...days };
    case 'mission_participation':
    case 'mission_completion': return { metric: q.metric, missionId: q.missionId!, ...days };
    case 'reward_redemption': return { metric: 'reward_redemption', rewardId: q.rewardId!, ...days };
  }
}

/** /api/experiments (Bearer admin token): A/B experiments over segments, and their results (docs/experiments.md). */
export async function experimentRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const tags = { tags: ['experiments'], security: [{ adminToken: [] }] };

  app.post<{ Body: Static<typeof ExperimentCreate> }>('/api/experiments', {
    schema: { ...tags, summary: 'Create an experiment: one segment per arm (audience ∩ a range of GrowthBook v2 buckets), in one transaction', body: ExperimentCreate, response: { 201: ExperimentSchema, ...errors(400, 401, 403, 409) } },
  }, async (req, reply) => reply.status(201).send(await ctx.experiments.create(req.project.id, req.body)));

  app.get('/api/experiments', {
    schema: { ...tags, summary: 'List experiments', response: { 200: Type.Object({ experiments: Type.Array(ExperimentSchema) }), ...errors(401, 403) } },
  }, async (req) => ({ experiments: await ctx.experiments.list(req.project.id) }));

  app.get<{ Params: Static<typeof IdParams> }>('/api/experiments/:id', {
    schema: { ...tags, summary: 'Get an experiment', params: IdParams, response: { 200: ExperimentSchema, ...errors(401, 403, 404) } },
  }, async (req) => ctx.experiments.get(req.project.id, req.params.id));

  app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof ExperimentPatchBody> }>('/api/experiments/:id', {
    schema: { ...tags, summary: 'Change an experiment: start or stop it, rename it or its arms; weights, audience and salt only while a draft', params: IdParams, body: ExperimentPatchBody, response: { 200: ExperimentSchema, ...errors(400, 401, 403, 404, 409) } },
  }, async (req) => ctx.experiments.update(req.project.id, req.params.id, req.body));

  app.delete<{ Params: Static<typeof IdParams> }>('/api/experiments/:id', {
    schema: { ...tags, summary: 'Delete an experiment (not while running); its arm segments are kept', params: IdParams, response: { 204: Type.Null(), ...errors(401, 403, 404, 409) } },
  }, async (req, reply) => {
    await ctx.experiments.delete(req.project.id, req.params.id);
    return reply.status(204).send();
  });

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof ResultsQuery> }>('/api/experiments/:id/results', {
    schema: { ...tags, summary: 'Results per arm for a metric: users, conversions, rate, lift against control with 95% CI and p-value, and the sample ratio mismatch check', params: IdParams, querystring: ResultsQuery, response: { 200: ResultsSchema, ...errors(400, 401, 403, 404) } },
  }, async (req) => ctx.experiments.results(req.project.id, req.params.id, metricFromQuery(req.query)));
}
