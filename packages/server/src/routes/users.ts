import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AppError, isoTime as iso } from '@strata/core';
import { changeLabels } from '@strata/engine';
import type { StoredProfile } from '@strata/store';
import type { AppContext } from '../context.ts';
import { EventSchema, HistoryPage, IdParams, LabelsBody, MembersQuery, ProfileSchema, TargetingSchema, UserSegment, errors } from '../schemas.ts';

/** /api/users (Bearer admin token, checked by the admin scope): profiles, their segments, events, labels, history and targeting. */
export async function userRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const users = { tags: ['users'], security: [{ adminToken: [] }] };

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof MembersQuery> }>('/api/users/:id/history', {
    schema: { ...users, summary: "A user's segment entries and exits, newest first, with their time and reason", params: IdParams, querystring: MembersQuery, response: { 200: HistoryPage, ...errors(400, 401, 403, 404) } },
  }, async (req) => ctx.segments.history(req.project.id, { userId: req.params.id }, req.query.limit ?? 100, req.query.cursor ?? null));

  const findUser = async (projectId: string, id: string): Promise<StoredProfile> => {
    const p = await ctx.store.findProfile(projectId, id);
    if (!p) throw new AppError({ code: 'NOT_FOUND', message: `no user with userId or anonymousId "${id}"` });
    return p;
  };
  const segmentsOf = async (projectId: string, profileId: number) =>
    (await ctx.store.profileSegments(projectId, profileId)).map((s) => ({ id: s.segmentId, name: s.name, since: iso(s.since)! }));

  app.get<{ Params: Static<typeof IdParams> }>('/api/users/:id', {
    schema: { ...users, summary: 'A profile (by userId or anonymousId) with its segments', params: IdParams, response: { 200: ProfileSchema, ...errors(401, 403, 404) } },
  }, async (req) => {
    const p = await findUser(req.project.id, req.params.id);
    return {
      userId: p.userId, anonymousId: p.anonymousId, anonymousIds: [...p.anonymousIds], traits: p.traits, context: p.context,
      labels: [...p.labels], firstSeen: iso(p.firstSeen), lastSeen: iso(p.lastSeen), createdAt: iso(p.createdAt), updatedAt: iso(p.updatedAt),
      segments: await segmentsOf(req.project.id, p.id),
    };
  });

  app.get<{ Params: Static<typeof IdParams> }>('/api/users/:id/segments', {
    schema: { ...users, summary: "A user's segments, with the time each membership began", params: IdParams, response: { 200: Type.Object({ segments: Type.Array(UserSegment) }), ...errors(401, 403, 404) } },
  }, async (req) => ({ segments: await segmentsOf(req.project.id, (await findUser(req.project.id, req.params.id)).id) }));

  app.get<{ Params: Static<typeof IdParams>; Querystring: { limit?: number } }>('/api/users/:id/events', {
    schema: { ...users, summary: "A user's latest events, newest first", params: IdParams, querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) }, { additionalProperties: false }), response: { 200: Type.Object({ events: Type.Array(EventSchema) }), ...errors(400, 401, 403, 404) } },
  }, async (req) => {
    const p = await findUser(req.project.id, req.params.id);
    const events = await ctx.store.profileEvents(req.project.id, p.id, req.query.limit ?? 100);
    return { events: events.map((e) => ({ messageId: e.messageId, type: e.type, event: e.name, properties: e.properties, context: e.context, timestamp: iso(e.timestamp), receivedAt: iso(e.receivedAt) })) };
  });

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof LabelsBody> }>('/api/users/:id/labels', {
    schema: { ...users, summary: 'Add and remove user labels', params: IdParams, body: LabelsBody, response: { 200: Type.Object({ labels: Type.Array(Type.String()) }), ...errors(400, 401, 403, 404) } },
  }, async (req) => {
    const projectId = req.project.id;
    const labels = await ctx.engine.write(async (tx) => {
      if (!(await tx.findProfile(projectId, req.params.id))) throw new AppError({ code: 'NOT_FOUND', message: `no user with userId or anonymousId "${req.params.id}"` });
      return changeLabels(ctx.engine, tx, projectId, req.params.id, req.body.add ?? [], req.body.remove ?? [], ctx.clock.now());
    });
    if (labels !== null) return { labels };
    // Recorded on a process of the api role: answered once the engine holding the user has made it.
    await ctx.engine.changesApplied();
    return { labels: (await ctx.store.findProfile(projectId, req.params.id))?.labels ?? [] };
  });

  app.get<{ Params: Static<typeof IdParams> }>('/api/users/:id/targeting', {
    schema: { ...users, summary: 'What a user (userId or anonymousId) is targeted with now: missions with progress, rewards, experiences, points', params: IdParams, response: { 200: TargetingSchema, ...errors(401, 403, 404) } },
  }, async (req) => {
    const view = await ctx.targeting.forUser(req.project.id, { userId: req.params.id });
    if (!view.known) throw new AppError({ code: 'NOT_FOUND', message: `no user with userId or anonymousId "${req.params.id}"` });
    return view;
  });
}
