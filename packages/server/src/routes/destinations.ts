import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { AppContext } from '../context.ts';
import { DeliverySchema, IdParams, MembersQuery, errors, maxLength } from '../schemas.ts';

const SegmentIds = Type.Union([Type.Array(Type.String({ minLength: 1, ...maxLength('MAX_ID_LENGTH') }), { maxItems: 1000 }), Type.Null()], { description: 'null or absent: every segment' });
const fields = {
  name: Type.String({ minLength: 1, ...maxLength('MAX_NAME_LENGTH') }),
  url: Type.String({ maxLength: 2048, description: 'http: the endpoint batches are POSTed to; segment: the API base (e.g. https://api.segment.io) or its /v1/batch' }),
  segmentIds: Type.Optional(SegmentIds),
  writeKey: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 512 }), Type.Null()], { description: 'segment kind: the source write key, sent as the Basic auth user' })),
  batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'Changes per request' })),
};
export const DestinationCreate = Type.Object({ ...fields, kind: Type.Union([Type.Literal('http'), Type.Literal('segment')]) }, { additionalProperties: false });
export const DestinationPatch = Type.Partial(Type.Object({ ...fields, segmentIds: SegmentIds, kind: Type.String() }), { additionalProperties: false });
const SyncSchema = Type.Object({
  status: Type.Union([Type.Literal('running'), Type.Literal('done')]),
  enqueued: Type.Integer({ description: 'Entries enqueued so far' }),
  startedAt: Type.String({ format: 'date-time' }), finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
export const DestinationSchema = Type.Object({
  id: Type.String(), name: Type.String(), kind: Type.String(), url: Type.String(), segmentIds: SegmentIds, batchSize: Type.Integer(),
  secret: Type.Optional(Type.String({ description: 'http kind: the signing secret (whsec_…); given by create, get and patch, not by the list' })),
  writeKey: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  sync: Type.Union([SyncSchema, Type.Null()], { description: 'The latest first sync or resync; it runs in the background (null: none)' }),
  createdAt: Type.String({ format: 'date-time' }), updatedAt: Type.String({ format: 'date-time' }),
});

/** One change as an http destination sends it (a Segment destination turns it into identify + track). */
export const DestinationChangeSchema = Type.Object({
  id: Type.String({ description: 'Stable per (change, destination): the same on every retry' }),
  segmentId: Type.String(), segmentName: Type.String(),
  userId: Type.Union([Type.String(), Type.Null()]), anonymousId: Type.Union([Type.String(), Type.Null()]),
  kind: Type.Union([Type.Literal('entered'), Type.Literal('exited')]),
  at: Type.String({ format: 'date-time' }), reason: Type.String({ description: 'as in membership history; "sync" for a first sync or resync' }),
});
const DestinationDeliveriesPage = Type.Object({
  deliveries: Type.Array(Type.Object({ ...DeliverySchema.properties, payload: DestinationChangeSchema })),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

/**
 * /api/destinations (Bearer admin token): external systems kept in step with segment
 * membership through the webhook outbox (docs/export.md).
 */
export async function destinationRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const tags = { tags: ['destinations'], security: [{ adminToken: [] }] };

  app.post<{ Body: Static<typeof DestinationCreate> }>('/api/destinations', {
    schema: { ...tags, summary: 'Create a destination; its first sync (the current members) starts in the background: `sync` shows its progress', body: DestinationCreate, response: { 201: DestinationSchema, ...errors(400, 401, 403) } },
  }, async (req, reply) => reply.status(201).send(await ctx.destinations.create(req.project.id, req.body)));

  app.get('/api/destinations', {
    schema: { ...tags, summary: 'List destinations (without secrets)', response: { 200: Type.Object({ destinations: Type.Array(DestinationSchema) }), ...errors(401, 403) } },
  }, async (req) => ({ destinations: await ctx.destinations.list(req.project.id) }));

  app.get<{ Params: Static<typeof IdParams> }>('/api/destinations/:id', {
    schema: { ...tags, summary: 'Get a destination, with its secret and write key', params: IdParams, response: { 200: DestinationSchema, ...errors(401, 403, 404) } },
  }, async (req) => ctx.destinations.get(req.project.id, req.params.id));

  app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof DestinationPatch> }>('/api/destinations/:id', {
    schema: { ...tags, summary: 'Change a destination (not its kind); segments added are not synced until POST …/resync', params: IdParams, body: DestinationPatch, response: { 200: DestinationSchema, ...errors(400, 401, 403, 404) } },
  }, async (req) => ctx.destinations.update(req.project.id, req.params.id, req.body));

  app.delete<{ Params: Static<typeof IdParams> }>('/api/destinations/:id', {
    schema: { ...tags, summary: 'Delete a destination; its pending messages and log go with it', params: IdParams, response: { 204: Type.Null(), ...errors(401, 403, 404) } },
  }, async (req, reply) => {
    await ctx.destinations.delete(req.project.id, req.params.id);
    return reply.status(204).send();
  });

  app.post<{ Params: Static<typeof IdParams> }>('/api/destinations/:id/resync', {
    schema: { ...tags, summary: 'Send the current members of its segments again, as entries, in the background (409 while a sync runs)', params: IdParams, response: { 202: Type.Object({ sync: SyncSchema }), ...errors(401, 403, 404, 409) } },
  }, async (req, reply) => reply.status(202).send(await ctx.destinations.resync(req.project.id, req.params.id)));

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof MembersQuery> }>('/api/destinations/:id/deliveries', {
    schema: { ...tags, summary: "A destination's messages (one per change) and their delivery state, newest first, by cursor", params: IdParams, querystring: MembersQuery, response: { 200: DestinationDeliveriesPage, ...errors(400, 401, 403, 404) } },
  }, async (req) => ctx.destinations.deliveries(req.project.id, req.params.id, req.query.limit ?? 100, req.query.cursor ?? null));
}
