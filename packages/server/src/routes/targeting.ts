import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AppError, type Json } from '@strata/core';
import type { Project } from '@strata/store';
import { requireAdmin, requireWriteKey, type Credentials } from '../auth.ts';
import type { AppContext } from '../context.ts';
import { verifyUserHash } from '../identity.ts';
import { IdParams, errors } from '../schemas.ts';

const Payload = Type.Unsafe<Json>({ description: 'Any JSON: what the app renders for this variant' });
const VariantIn = Type.Object({
  key: Type.String({ minLength: 1, maxLength: 100 }),
  name: Type.Optional(Type.String({ maxLength: 200 })),
  payload: Payload,
  segmentIds: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 100, description: 'Members of any of these segments qualify; none: everyone' })),
  priority: Type.Optional(Type.Integer({ description: 'Lower first; default: the position in the list' })),
}, { additionalProperties: false });
const ExperienceCreate = Type.Object({
  key: Type.String({ minLength: 1, maxLength: 100 }),
  name: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
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

const Anything = Type.Unsafe<Json>({ type: 'object', additionalProperties: true });
export const TargetingSchema = Type.Object({
  userId: Type.Union([Type.String(), Type.Null()]),
  anonymousId: Type.Union([Type.String(), Type.Null()]),
  known: Type.Boolean({ description: 'false: Strata has not seen this user; what targets everyone is returned' }),
  segments: Type.Array(Type.Object({ id: Type.String(), name: Type.String() })),
  points: Type.Integer(),
  missions: Type.Array(Anything),
  rewards: Type.Array(Anything),
  experiences: Type.Array(Type.Object({ key: Type.String(), variant: Type.String(), payload: Payload })),
});

const Settings = Type.Object({
  projectId: Type.String(), name: Type.String(), writeKey: Type.String(),
  identityVerification: Type.Object({ enabled: Type.Boolean(), secret: Type.Union([Type.String(), Type.Null()]) }),
});
const SettingsPatch = Type.Object({
  identityVerification: Type.Optional(Type.Object({
    enabled: Type.Boolean(),
    rotateSecret: Type.Optional(Type.Boolean({ description: 'Make a new secret (every userHash computed with the old one stops working)' })),
  }, { additionalProperties: false })),
}, { additionalProperties: false });

/** Experiences, a user's targeting and project settings (Bearer admin token). */
export async function experienceRoutes(app: FastifyInstance, ctx: AppContext & { creds: Credentials }): Promise<void> {
  app.addHook('preHandler', async (req) => {
    req.project = await requireAdmin(req, ctx.creds);
  });
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

  app.get<{ Params: Static<typeof IdParams> }>('/api/users/:id/targeting', {
    schema: { tags: ['users'], security: tags.security, summary: 'What a user (userId or anonymousId) is targeted with now: missions with progress, rewards, experiences, points', params: IdParams, response: { 200: TargetingSchema, ...errors(401, 403, 404) } },
  }, async (req) => {
    const view = await ctx.targeting.forUser(req.project.id, { userId: req.params.id });
    if (!view.known) throw new AppError({ code: 'NOT_FOUND', message: `no user with userId or anonymousId "${req.params.id}"` });
    return view;
  });

  const settingsView = (p: Project) => ({
    projectId: p.id, name: p.name, writeKey: p.writeKey,
    identityVerification: { enabled: p.settings.identityVerification?.enabled ?? false, secret: p.settings.identityVerification?.secret ?? null },
  });
  app.get('/api/settings', {
    schema: { tags: ['settings'], security: tags.security, summary: 'Project settings: write key and identity verification', response: { 200: Settings, ...errors(401, 403) } },
  }, async (req) => settingsView((await ctx.store.getProject(req.project.id))!));
  app.patch<{ Body: Static<typeof SettingsPatch> }>('/api/settings', {
    schema: { tags: ['settings'], security: tags.security, summary: 'Turn identity verification on or off, or rotate its secret', body: SettingsPatch, response: { 200: Settings, ...errors(400, 401, 403) } },
  }, async (req) => {
    const p = (await ctx.store.getProject(req.project.id))!;
    const iv = req.body.identityVerification;
    if (iv) {
      const secret = iv.rotateSecret || !p.settings.identityVerification?.secret ? randomBytes(32).toString('hex') : p.settings.identityVerification.secret;
      await ctx.store.setProjectSettings(p.id, { ...p.settings, identityVerification: { enabled: iv.enabled, secret } });
      ctx.creds.clear();
    }
    return settingsView((await ctx.store.getProject(p.id))!);
  });
}

const TargetingQuery = Type.Object({
  userId: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  anonymousId: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  userHash: Type.Optional(Type.String({ maxLength: 128 })),
  writeKey: Type.Optional(Type.String({ maxLength: 256 })),
}, { additionalProperties: false });

/** The public SDK API (SPEC §4.3, write key; CORS: see publicRoutes in app.ts): what a user may see now. */
export async function publicTargetingRoutes(app: FastifyInstance, ctx: AppContext & { creds: Credentials }): Promise<void> {
  app.get<{ Querystring: Static<typeof TargetingQuery> }>('/v1/targeting', {
    // The credential first: a caller without one learns nothing about the query's faults.
    preValidation: async (req) => {
      const q = req.query as { writeKey?: unknown };
      if (typeof q.writeKey === 'string' && !req.headers['x-write-key'] && !req.headers.authorization) req.headers['x-write-key'] = q.writeKey;
      req.project = await requireWriteKey(req, ctx.creds);
    },
    schema: {
      tags: ['sdk'], security: [{ writeKeyBasic: [] }, { writeKeyHeader: [] }],
      summary: 'Missions (with progress), rewards and experiences for a user; userHash required where identity verification is on',
      querystring: TargetingQuery, response: { 200: TargetingSchema, ...errors(400, 401) },
    },
  }, async (req) => {
    const q = req.query;
    const project = req.project;
    if (!q.userId && !q.anonymousId) throw new AppError({ code: 'VALIDATION_FAILED', message: 'give userId or anonymousId', issues: [{ path: '/querystring/userId', message: 'userId or anonymousId is required' }] });
    verifyUserHash(project, q.userId, q.userHash);
    return ctx.targeting.forUser(project.id, q.userId ? { userId: q.userId } : { anonymousId: q.anonymousId! });
  });
}
