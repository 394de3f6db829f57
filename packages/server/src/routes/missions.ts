import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { Json } from '@strata/core';
import type { AppContext } from '../context.ts';
import { IdParams, MembersQuery, Nullable, errors, maxLength } from '../schemas.ts';

const DateTime = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

/** Validated by the mission service (every fault reported at /goal/...): one object, so that paths stay precise. */
export const GoalSchema = Type.Unsafe<Json>({
  type: 'object',
  additionalProperties: true,
  description: 'What the user must do, over their events after their start (docs/missions.md). One of: '
    + '{"kind":"count","event","where"?,"target","within"?} (event count ≥ target); '
    + '{"kind":"distinctDays","event","where"?,"target","within"?} (distinct UTC days with the event ≥ target); '
    + '{"kind":"streak","event","where"?,"days","within"?} (the event on `days` consecutive UTC days); '
    + '{"kind":"sum","event","where"?,"prop","target","within"?} (sum of a numeric property ≥ target). '
    + '`event` is a name or "*" (any event the user causes); `where` is a list of {attr, op, value} as in conditions; `within` a Duration ("7d").',
  examples: [{ kind: 'streak', event: '$session', days: 5 }, { kind: 'sum', event: 'purchase', prop: 'properties.revenue', target: 100, within: '30d' }],
});

export const MissionSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  segmentIds: Type.Array(Type.String(), { description: 'A user qualifies if in any; empty: everyone' }),
  active: Type.Boolean(),
  startsAt: DateTime,
  endsAt: DateTime,
  goal: GoalSchema,
  points: Type.Integer({ minimum: 0 }),
  repeatable: Type.Boolean(),
  cooldown: Type.Union([Type.String(), Type.Null()], { description: 'Repeatable: the wait after a completion before events count again' }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

const fields = {
  name: Type.String({ minLength: 1, ...maxLength('MAX_NAME_LENGTH') }),
  description: Type.String({ ...maxLength('MAX_DESCRIPTION_LENGTH') }),
  segmentIds: Type.Array(Type.String({ minLength: 1, ...maxLength('MAX_ID_LENGTH') }), { maxItems: 100, description: 'Target segments: a user qualifies if in any; empty or absent: everyone' }),
  active: Type.Boolean({ description: 'The Active toggle (default true)' }),
  startsAt: Nullable(Type.String({ maxLength: 64 }), 'ISO date-time; null or absent: from creation'),
  endsAt: Nullable(Type.String({ maxLength: 64 }), 'ISO date-time (exclusive); null or absent: no end'),
  goal: GoalSchema,
  points: Type.Integer({ minimum: 0, maximum: 1_000_000_000, description: 'Points awarded per completion' }),
  repeatable: Type.Boolean({ description: 'false (default): once per user' }),
  cooldown: Nullable(Type.String({ maxLength: 20 }), 'Repeatable only: a Duration ("1d") after each completion before events count again'),
};

export const MissionCreate = Type.Object({
  name: fields.name, description: Type.Optional(fields.description), segmentIds: Type.Optional(fields.segmentIds), active: Type.Optional(fields.active),
  startsAt: Type.Optional(fields.startsAt), endsAt: Type.Optional(fields.endsAt), goal: fields.goal, points: fields.points,
  repeatable: Type.Optional(fields.repeatable), cooldown: Type.Optional(fields.cooldown),
}, { additionalProperties: false });

export const MissionPatch = Type.Partial(Type.Object(fields), { additionalProperties: false, description: 'Any fields of a mission; {"active": false} is the toggle' });

export const MissionProgressSchema = Type.Object({
  current: Type.Number({ description: 'The current attempt: events counted, distinct days, current streak or sum' }),
  target: Type.Number(),
  completions: Type.Integer(),
  completed: Type.Boolean({ description: 'Completed at least once' }),
  startedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: "The user's first counted event; null before they take part" }),
  lastCompletedAt: DateTime,
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'Goals with `within`: when the current attempt closes' }),
  expired: Type.Boolean({ description: 'Once-only with `within`: the window closed before the goal was met' }),
  availableAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'Repeatable, in its cooldown: when events count again' }),
});

export const MissionForUserSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  points: Type.Integer(),
  goal: GoalSchema,
  repeatable: Type.Boolean(),
  progress: MissionProgressSchema,
});

const UserMission = Type.Object({
  ...MissionForUserSchema.properties,
  active: Type.Boolean(),
  eligible: Type.Boolean({ description: 'Active, in its dates, and the user is in a target segment, has started and not finished it, or is in a visit that began in a target segment: they can progress and complete (docs/missions.md, "Who may take part")' }),
});

const ProgressPage = Type.Object({
  progress: Type.Array(Type.Object({
    userId: Type.Union([Type.String(), Type.Null()]),
    anonymousId: Type.Union([Type.String(), Type.Null()]),
    current: Type.Number(),
    target: Type.Number(),
    completions: Type.Integer(),
    completed: Type.Boolean(),
    startedAt: Type.String({ format: 'date-time' }),
    lastCompletedAt: DateTime,
    updatedAt: Type.String({ format: 'date-time' }),
  })),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

/** /api/missions (Bearer admin token): missions targeted at segments, and users' progress on them. */
export async function missionRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const tags = { tags: ['missions'], security: [{ adminToken: [] }] };

  app.post<{ Body: Static<typeof MissionCreate> }>('/api/missions', {
    schema: { ...tags, summary: 'Create a mission (a goal that cannot be met is refused with 400 at its path)', body: MissionCreate, response: { 201: MissionSchema, ...errors(400, 401, 403) } },
  }, async (req, reply) => reply.status(201).send(await ctx.missions.create(req.project.id, req.body)));

  app.get('/api/missions', {
    schema: { ...tags, summary: 'List missions', response: { 200: Type.Object({ missions: Type.Array(MissionSchema) }), ...errors(401, 403) } },
  }, async (req) => ({ missions: await ctx.missions.list(req.project.id) }));

  app.get<{ Params: Static<typeof IdParams> }>('/api/missions/:id', {
    schema: { ...tags, summary: 'Get a mission', params: IdParams, response: { 200: MissionSchema, ...errors(401, 403, 404) } },
  }, async (req) => ctx.missions.get(req.project.id, req.params.id));

  app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof MissionPatch> }>('/api/missions/:id', {
    schema: { ...tags, summary: 'Change a mission ({"active": false} switches it off: no progress, no completion)', params: IdParams, body: MissionPatch, response: { 200: MissionSchema, ...errors(400, 401, 403, 404) } },
  }, async (req) => ctx.missions.update(req.project.id, req.params.id, req.body));

  app.delete<{ Params: Static<typeof IdParams> }>('/api/missions/:id', {
    schema: { ...tags, summary: 'Delete a mission and its progress (points already awarded stay)', params: IdParams, response: { 204: Type.Null(), ...errors(401, 403, 404) } },
  }, async (req, reply) => {
    await ctx.missions.delete(req.project.id, req.params.id);
    return reply.status(204).send();
  });

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof MembersQuery> }>('/api/missions/:id/progress', {
    schema: { ...tags, summary: "Each participant's progress (as of their last counted event), by cursor", params: IdParams, querystring: MembersQuery, response: { 200: ProgressPage, ...errors(400, 401, 403, 404) } },
  }, async (req) => ctx.missions.progress(req.project.id, req.params.id, req.query.limit ?? 100, req.query.cursor ?? null));

  app.get<{ Params: Static<typeof IdParams> }>('/api/users/:id/missions', {
    schema: { ...tags, summary: "A user's missions with their progress: those they can take part in now, and those they took part in", params: IdParams, response: { 200: Type.Object({ missions: Type.Array(UserMission) }), ...errors(401, 403, 404) } },
  }, async (req) => ({ missions: await ctx.missions.userMissions(req.project.id, req.params.id) }));

  // A trusted back end (an admin token or a server key) marks a mission complete for a user.
  app.post<{ Params: Static<typeof CompleteParams>; Body: Static<typeof CompleteBody> }>('/api/users/:id/missions/:missionId/complete', {
    config: { serverKey: true },
    schema: {
      tags: ['missions'], security: [{ adminToken: [] }, { serverKey: [] }],
      summary: 'Complete a mission for a user, from a trusted back end: recorded, paid and announced ($mission_completed) as one reached by events',
      params: CompleteParams, body: CompleteBody,
      response: { 200: Type.Object({ missionId: Type.String(), completion: Type.Integer(), points: Type.Integer(), at: Type.String({ format: 'date-time' }), duplicate: Type.Boolean() }), ...errors(400, 401, 403, 404, 409) },
    },
  }, async (req) => ctx.missions.complete(req.project.id, req.params.id, req.params.missionId, req.body ?? {}));
}

const CompleteParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }), missionId: Type.String({ minLength: 1, maxLength: 256 }) });
const CompleteBody = Type.Union([Type.Object({
  ref: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Idempotency key: a second call with the same ref changes nothing' })),
}, { additionalProperties: false }), Type.Null()]);
