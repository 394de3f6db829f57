import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AppError } from '@strata/core';
import type { AppContext } from '../context.ts';
import { IdParams, errors } from '../schemas.ts';

const Insights = Type.Object({
  segmentId: Type.String(), name: Type.String(), days: Type.Integer(),
  from: Type.String({ format: 'date-time' }), to: Type.String({ format: 'date-time' }), size: Type.Integer(),
  series: Type.Array(Type.Object({ date: Type.String({ format: 'date' }), size: Type.Integer(), entered: Type.Integer(), exited: Type.Integer() })),
  missions: Type.Object({ participants: Type.Integer(), participationRate: Type.Number(), completers: Type.Integer(), completionRate: Type.Number(), completions: Type.Integer() }),
  rewards: Type.Object({ redemptions: Type.Integer(), redeemers: Type.Integer() }),
  points: Type.Object({ earned: Type.Integer(), spent: Type.Integer() }),
  topEvents: Type.Array(Type.Object({ name: Type.String(), count: Type.Integer(), users: Type.Integer() })),
});
const Days = Type.Integer({ minimum: 1, maximum: 366, default: 30 });

/** Per-segment insights (Bearer admin token). */
export async function insightRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const tags = { tags: ['insights'], security: [{ adminToken: [] }] };
  const Query = Type.Object({ days: Type.Optional(Days) }, { additionalProperties: false });

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof Query> }>('/api/segments/:id/insights', {
    schema: { ...tags, summary: 'Size per day, entries and exits, mission participation and completion, redemptions, points, top events of a segment', params: IdParams, querystring: Query, response: { 200: Insights, ...errors(400, 401, 403, 404) } },
  }, async (req) => ctx.insights.segment(req.project.id, req.params.id, req.query.days ?? 30));

  const Names = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })) }, { additionalProperties: false });
  const EventName = Type.Object({ name: Type.String(), derived: Type.Boolean({ description: 'made by Strata ($segment_entered, $mission_completed, …), not sent' }), count: Type.Integer(), lastAt: Type.String({ format: 'date-time' }) });
  app.get<{ Querystring: Static<typeof Names> }>('/api/events', {
    schema: { ...tags, summary: 'The event names this project has received, most frequent first, with their counts (for pickers)', querystring: Names, response: { 200: Type.Object({ events: Type.Array(EventName) }), ...errors(400, 401, 403) } },
  }, async (req) => ({ events: await ctx.insights.eventNames(req.project.id, req.query.limit ?? 200) }));

  const Compare = Type.Object({ ids: Type.String({ minLength: 1, maxLength: 2000, description: 'Comma-separated segment ids (up to 20)' }), days: Type.Optional(Days) }, { additionalProperties: false });
  app.get<{ Querystring: Static<typeof Compare> }>('/api/insights/compare', {
    schema: { ...tags, summary: 'Insights of several segments side by side', querystring: Compare, response: { 200: Type.Object({ segments: Type.Array(Insights) }), ...errors(400, 401, 403, 404) } },
  }, async (req) => {
    const ids = [...new Set(req.query.ids.split(',').map((s) => s.trim()).filter(Boolean))];
    if (ids.length === 0 || ids.length > 20) throw new AppError({ code: 'VALIDATION_FAILED', message: 'give 1 to 20 segment ids', issues: [{ path: '/querystring/ids', message: 'give 1 to 20 comma-separated segment ids' }] });
    return { segments: await ctx.insights.compare(req.project.id, ids, req.query.days ?? 30) };
  });
}
