import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AppError, type Json, isoTime as iso } from '@strata/core';
import type { StoredProfile } from '@strata/store';
import { requireAdmin, type Credentials } from '../auth.ts';
import type { AppContext } from '../context.ts';
import { segmentCreateFaults } from '../schemas.ts';
import {
  AddMembers, AddMembersResult, EventSchema, IdParams, LabelsBody, MemberParams, MembersPage, MembersQuery, PreviewBody, PreviewResult,
  ProfileSchema, SegmentCreate, SegmentPatch, SegmentSchema, UserSegment, WarningSchema, errors,
} from '../schemas.ts';


/** The admin API of SPEC §4.2 (Bearer admin token). */
export async function adminRoutes(app: FastifyInstance, ctx: AppContext & { creds: Credentials }): Promise<void> {
  app.addHook('preHandler', async (req) => {
    req.project = await requireAdmin(req, ctx.creds);
  });
  const security = [{ adminToken: [] }];
  const seg = { tags: ['segments'], security };
  const users = { tags: ['users'], security };

  app.post<{ Body: Static<typeof SegmentCreate> }>('/api/segments', {
    schema: { ...seg, summary: 'Create a segment, from a condition or from a template (GET /api/templates)', body: SegmentCreate, response: { 201: SegmentSchema, ...errors(400, 401, 403, 409) } },
  }, async (req, reply) => {
    const faults = segmentCreateFaults(req.body);
    if (faults.length) throw new AppError({ code: 'VALIDATION_FAILED', message: `the request body is not valid: ${faults.map((f) => `${f.path} ${f.message}`).join('; ')}`, issues: faults });
    const { template, params, condition, name, ...rest } = req.body;
    const s = template !== undefined
      ? await ctx.segments.createFromTemplate(req.project.id, { ...rest, template, params, name })
      : await ctx.segments.create(req.project.id, { ...rest, name: name!, condition: condition as Json | null });
    return reply.status(201).send(s);
  });

  app.get('/api/segments', {
    schema: { ...seg, summary: 'List segments', response: { 200: Type.Object({ segments: Type.Array(SegmentSchema) }), ...errors(401, 403) } },
  }, async (req) => ({ segments: await ctx.segments.list(req.project.id) }));

  app.get('/api/segments/warnings', {
    schema: {
      ...seg, summary: 'Every segment\'s hygiene warnings now (duplicate, contradiction, empty, subset, high overlap), by the rules of create and update',
      response: { 200: Type.Object({ segments: Type.Array(Type.Object({ id: Type.String(), warnings: Type.Array(WarningSchema) })) }), ...errors(401, 403, 503) },
    },
  }, async (req) => ({ segments: await ctx.hygiene.listWarnings(req.project.id) }));

  const SizesQuery = Type.Object({ days: Type.Optional(Type.Integer({ minimum: 1, maximum: 366, default: 30 })) }, { additionalProperties: false });
  app.get<{ Querystring: Static<typeof SizesQuery> }>('/api/segments/sizes', {
    schema: {
      ...seg, summary: 'Every segment\'s size now and at the end of each of the last `days` UTC days (sparklines), in one read', querystring: SizesQuery,
      response: {
        200: Type.Object({
          days: Type.Integer(), from: Type.String({ format: 'date-time' }), to: Type.String({ format: 'date-time' }), dates: Type.Array(Type.String({ format: 'date' })),
          segments: Type.Array(Type.Object({ id: Type.String(), size: Type.Integer(), sizes: Type.Array(Type.Integer()) })),
        }),
        ...errors(400, 401, 403),
      },
    },
  }, async (req) => ctx.insights.sizesOverTime(req.project.id, req.query.days ?? 30, await ctx.segments.sizes(req.project.id)));

  app.post<{ Body: Static<typeof PreviewBody> }>('/api/segments/preview', {
    schema: { ...seg, summary: 'Size and sample of a condition, without saving', body: PreviewBody, response: { 200: PreviewResult, ...errors(400, 401, 403) } },
  }, async (req) => ctx.segments.preview(req.project.id, req.body.condition as Json));

  app.get<{ Params: Static<typeof IdParams> }>('/api/segments/:id', {
    schema: { ...seg, summary: 'Get a segment', params: IdParams, response: { 200: SegmentSchema, ...errors(401, 403, 404) } },
  }, async (req) => ctx.segments.get(req.project.id, req.params.id));

  app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof SegmentPatch> }>('/api/segments/:id', {
    schema: { ...seg, summary: 'Change a segment (membership is recomputed when the definition changes)', params: IdParams, body: SegmentPatch, response: { 200: SegmentSchema, ...errors(400, 401, 403, 404, 409) } },
  }, async (req) => ctx.segments.update(req.project.id, req.params.id, { ...req.body, condition: req.body.condition as Json | null | undefined }));

  app.delete<{ Params: Static<typeof IdParams> }>('/api/segments/:id', {
    schema: { ...seg, summary: 'Delete a segment', params: IdParams, response: { 204: Type.Null(), ...errors(401, 403, 404, 409) } },
  }, async (req, reply) => {
    await ctx.segments.delete(req.project.id, req.params.id);
    return reply.status(204).send();
  });

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof MembersQuery> }>('/api/segments/:id/members', {
    schema: { ...seg, summary: 'Members, by cursor', params: IdParams, querystring: MembersQuery, response: { 200: MembersPage, ...errors(400, 401, 403, 404) } },
  }, async (req) => ctx.segments.members(req.project.id, req.params.id, req.query.limit ?? 100, req.query.cursor ?? null));

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof AddMembers> }>('/api/segments/:id/members', {
    schema: { ...seg, summary: 'Add users by id (manual include); ids never seen are refused with 409 unless createMissing', params: IdParams, body: AddMembers, response: { 200: AddMembersResult, ...errors(400, 401, 403, 404, 409) } },
  }, async (req) => ctx.segments.addMembers(req.project.id, req.params.id, req.body.userIds, { createMissing: req.body.createMissing ?? false }));

  app.delete<{ Params: Static<typeof MemberParams> }>('/api/segments/:id/members/:userId', {
    schema: { ...seg, summary: 'Remove a user (drops an include; excludes a condition match)', params: MemberParams, response: { 204: Type.Null(), ...errors(401, 403, 404) } },
  }, async (req, reply) => {
    await ctx.segments.removeMember(req.project.id, req.params.id, req.params.userId);
    return reply.status(204).send();
  });

  const HistoryPage = Type.Object({
    history: Type.Array(Type.Object({
      segmentId: Type.String(), segmentName: Type.Union([Type.String(), Type.Null()]),
      userId: Type.Union([Type.String(), Type.Null()]), anonymousId: Type.Union([Type.String(), Type.Null()]),
      kind: Type.Union([Type.Literal('entered'), Type.Literal('exited')]), at: Type.String({ format: 'date-time' }),
      reason: Type.Union(['event', 'time', 'manual', 'definition', 'merge'].map((r) => Type.Literal(r))),
    })),
    nextCursor: Type.Union([Type.String(), Type.Null()]),
  });

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof MembersQuery> }>('/api/segments/:id/history', {
    schema: { ...seg, summary: 'Entries and exits of a segment, newest first, with their time and reason', params: IdParams, querystring: MembersQuery, response: { 200: HistoryPage, ...errors(400, 401, 403, 404) } },
  }, async (req) => ctx.segments.history(req.project.id, { segmentId: req.params.id }, req.query.limit ?? 100, req.query.cursor ?? null));

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
    return ctx.engine.write(async (tx) => {
      const p = await tx.findProfile(projectId, req.params.id);
      if (!p) throw new AppError({ code: 'NOT_FOUND', message: `no user with userId or anonymousId "${req.params.id}"` });
      const now = ctx.clock.now();
      const labels = await tx.updateLabels(projectId, p.id, req.body.add ?? [], req.body.remove ?? [], now);
      await ctx.engine.profilesChanged(tx, projectId, [p.id], now, 'manual');
      return { labels };
    });
  });

  app.get<{ Querystring: { limit?: number } }>('/api/ingest/warnings', {
    schema: { tags: ['ingest'], security, summary: 'Batch items that were rejected (ingestion warnings), newest first', querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ total: Type.Integer(), warnings: Type.Array(Type.Object({ receivedAt: Type.String({ format: 'date-time' }), index: Type.Integer(), message: Type.String(), payload: Type.String() })) }), ...errors(400, 401, 403) } },
  }, async (req) => {
    const rows = await ctx.store.listRejections(req.project.id, req.query.limit ?? 100);
    return { total: await ctx.store.countRejections(req.project.id), warnings: rows.map((r) => ({ receivedAt: iso(r.receivedAt), index: r.index, message: r.message, payload: r.payload })) };
  });
}
