import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { lifecycleSetView, listTemplates } from '@strata/core';
import type { AppContext } from '../context.ts';
import { ConditionSchema, SegmentSchema, errors } from '../schemas.ts';

const TemplateParamSchema = Type.Object({
  name: Type.String(),
  label: Type.String(),
  type: Type.Union(['string', 'number', 'integer', 'duration', 'string[]', 'date', 'enum'].map((t) => Type.Literal(t))),
  description: Type.Optional(Type.String()),
  default: Type.Unknown({ description: 'The value used when the parameter is not given' }),
  min: Type.Optional(Type.Union([Type.Number(), Type.String()], { description: 'number / integer: a number; duration: a Duration' })),
  max: Type.Optional(Type.Union([Type.Number(), Type.String()])),
  minLength: Type.Optional(Type.Integer()),
  maxLength: Type.Optional(Type.Integer()),
  pattern: Type.Optional(Type.String({ description: 'A regular expression the value must match' })),
  minItems: Type.Optional(Type.Integer()),
  maxItems: Type.Optional(Type.Integer()),
  itemPattern: Type.Optional(Type.String({ description: 'A regular expression every item must match' })),
  options: Type.Optional(Type.Array(Type.String(), { description: 'enum: the allowed values' })),
});

const TemplateSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  suggestedUse: Type.String({ description: 'What the segment is good for in an engagement program' }),
  recommended: Type.Boolean(),
  category: Type.String(),
  params: Type.Array(TemplateParamSchema),
  condition: ConditionSchema,
}, { description: 'A segment template; condition is what the defaults produce' });

const TemplateSetSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  suggestedUse: Type.String(),
  params: Type.Array(TemplateParamSchema),
  stages: Type.Array(Type.Object({ key: Type.String(), name: Type.String() })),
}, { description: 'Templates that make several segments together (POST /api/segments/lifecycle)' });

const TemplatesList = Type.Object({ templates: Type.Array(TemplateSchema), sets: Type.Array(TemplateSetSchema) });

const LifecycleBody = Type.Object({
  params: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'activeWindow (default 7d), gap (default 30d)' })),
  namePrefix: Type.Optional(Type.String({ maxLength: 100, description: 'Prefix of the four names; default "Lifecycle: "' })),
}, { additionalProperties: false });

/** Segment templates (docs/templates.md): the catalogue, and the lifecycle stages set (Bearer admin token). */
export async function templateRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const tags = { tags: ['segments'], security: [{ adminToken: [] }] };

  app.get('/api/templates', {
    schema: { ...tags, summary: 'Segment templates with their parameters and default conditions', response: { 200: TemplatesList, ...errors(401, 403) } },
  }, async () => {
    const now = ctx.clock.now();
    return { templates: listTemplates(now), sets: [lifecycleSetView(now)] };
  });

  app.post<{ Body: Static<typeof LifecycleBody> }>('/api/segments/lifecycle', {
    schema: {
      ...tags, summary: 'Create the lifecycle stages New, Resurrected, Active and Inactive in one transaction (every user with activity is in exactly one)',
      body: LifecycleBody, response: { 201: Type.Object({ segments: Type.Array(SegmentSchema) }), ...errors(400, 401, 403, 409) },
    },
  }, async (req, reply) => {
    const segments = await ctx.segments.createLifecycle(req.project.id, req.body);
    return reply.status(201).send({ segments });
  });
}
