import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AppError, type Json } from '@strata/core';
import type { AppContext } from '../context.ts';
import {
  AddMembers, AddMembersResult, HistoryPage, IdParams, MemberParams, MembersPage, MembersQuery, PreviewBody, PreviewResult,
  SegmentCreate, SegmentPatch, SegmentSchema, WarningSchema, errors, segmentCreateFaults,
} from '../schemas.ts';

/** /api/segments (Bearer admin token, checked by the admin scope): definitions, preview, members, history. */
export async function segmentRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const seg = { tags: ['segments'], security: [{ adminToken: [] }] };

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

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof MembersQuery> }>('/api/segments/:id/history', {
    schema: { ...seg, summary: 'Entries and exits of a segment, newest first, with their time and reason', params: IdParams, querystring: MembersQuery, response: { 200: HistoryPage, ...errors(400, 401, 403, 404) } },
  }, async (req) => ctx.segments.history(req.project.id, { segmentId: req.params.id }, req.query.limit ?? 100, req.query.cursor ?? null));
}
