import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { AppContext } from '../context.ts';
import { IdParams, Payload, errors, maxLength } from '../schemas.ts';

const VariantIn = Type.Object({
  key: Type.String({ minLength: 1, maxLength: 100 }),
  name: Type.Optional(Type.String({ ...maxLength('MAX_NAME_LENGTH') })),
  payload: Payload,
  segmentIds: Type.Optional(Type.Array(Type.String({ minLength: 1, ...maxLength('MAX_ID_LENGTH') }), { maxItems: 100, description: 'Members of any of these segments qualify; none: everyone' })),
  priority: Type.Optional(Type.Integer({ description: 'Lower first; default: the position in the list' })),
}, { additionalProperties: false });
const ExperienceCreate = Type.Object({
  key: Type.String({ minLength: 1, maxLength: 100 }),
  name: Type.String({ minLength: 1, ...maxLength('MAX_NAME_LENGTH') }),
  description: Type.Optional(Type.String({ ...maxLength('MAX_DESCRIPTION_LENGTH') })),
  variants: Type.Array(VariantIn, { minItems: 1, maxItems: 50 }),
  defaultPayload: Type.Optional(Type.Union([Payload, Type.Null()], { description: 'For users who match no variant; null: not shown' })),
  active: Type.Optional(Type.Boolean({ default: true })),
}, { additionalProperties: false });
const ExperiencePatch = Type.Partial(ExperienceCreate, { additionalProperties: false });
const ExperienceSchema = Type.Object({
  id: Type.String(), key: Type.String(), name: Type.String(), description: Type.String(),
  variants: Type.Array(Type.Object({ key: Type.String(), name: Type.String(), payload: Payload, segmentIds: Type.Array(Type.String()), priority: Type.Integer() })),
  defaultPayload: Type.Union([Payload, Type.Null()]), active: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }), updatedAt: Type.String({ format: 'date-time' }),
});

/** /api/experiences (Bearer admin token, checked by the admin scope): keys with variants targeted at segments. */
export async function experienceRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const tags = { tags: ['experiences'], security: [{ adminToken: [] }] };

  app.post<{ Body: Static<typeof ExperienceCreate> }>('/api/experiences', {
    schema: { ...tags, summary: 'Create an experience (a key with variants targeted at segments, and a default)', body: ExperienceCreate, response: { 201: ExperienceSchema, ...errors(400, 401, 403, 409) } },
  }, async (req, reply) => reply.status(201).send(await ctx.experiences.create(req.project.id, req.body)));
  app.get('/api/experiences', {
    schema: { ...tags, summary: 'List experiences', response: { 200: Type.Object({ experiences: Type.Array(ExperienceSchema) }), ...errors(401, 403) } },
  }, async (req) => ({ experiences: await ctx.experiences.list(req.project.id) }));
  app.get<{ Params: Static<typeof IdParams> }>('/api/experiences/:id', {
    schema: { ...tags, summary: 'Get an experience', params: IdParams, response: { 200: ExperienceSchema, ...errors(401, 403, 404) } },
  }, async (req) => ctx.experiences.get(req.project.id, req.params.id));
  app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof ExperiencePatch> }>('/api/experiences/:id', {
    schema: { ...tags, summary: 'Change an experience', params: IdParams, body: ExperiencePatch, response: { 200: ExperienceSchema, ...errors(400, 401, 403, 404, 409) } },
  }, async (req) => ctx.experiences.update(req.project.id, req.params.id, req.body));
  app.delete<{ Params: Static<typeof IdParams> }>('/api/experiences/:id', {
    schema: { ...tags, summary: 'Delete an experience', params: IdParams, response: { 204: Type.Null(), ...errors(401, 403, 404) } },
  }, async (req, reply) => {
    await ctx.experiences.delete(req.project.id, req.params.id);
    return reply.status(204).send();
  });
}
