import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { AppContext } from '../context.ts';
import { DeliveriesPage, DeliverySchema, IdParams, MembersQuery, WebhookCreate, WebhookSchema, errors } from '../schemas.ts';

/**
 * /api/webhooks (Bearer admin token): endpoints that receive segment entries and exits,
 * and their delivery logs. The signing secret is shown once: by create, and by rotate-secret
 * for the new one; never by get or the list.
 */
export async function webhookRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const hooks = { tags: ['webhooks'], security: [{ adminToken: [] }] };

  app.post<{ Body: Static<typeof WebhookCreate> }>('/api/webhooks', {
    schema: { ...hooks, summary: 'Create a webhook (the answer carries its signing secret)', body: WebhookCreate, response: { 201: WebhookSchema, ...errors(400, 401, 403) } },
  }, async (req, reply) => reply.status(201).send(await ctx.webhooks.create(req.project.id, req.body)));

  app.get('/api/webhooks', {
    schema: { ...hooks, summary: 'List webhooks (without secrets)', response: { 200: Type.Object({ webhooks: Type.Array(WebhookSchema) }), ...errors(401, 403) } },
  }, async (req) => ({ webhooks: await ctx.webhooks.list(req.project.id) }));

  app.get<{ Params: Static<typeof IdParams> }>('/api/webhooks/:id', {
    schema: { ...hooks, summary: 'Get a webhook (without its secret: that is shown once, at creation)', params: IdParams, response: { 200: WebhookSchema, ...errors(401, 403, 404) } },
  }, async (req) => ctx.webhooks.get(req.project.id, req.params.id));

  app.post<{ Params: Static<typeof IdParams> }>('/api/webhooks/:id/rotate-secret', {
    schema: { ...hooks, summary: 'Give a webhook a new signing secret (in this answer only); every attempt from now on is signed with it', params: IdParams, response: { 200: WebhookSchema, ...errors(401, 403, 404) } },
  }, async (req) => ctx.webhooks.rotateSecret(req.project.id, req.params.id));

  app.post<{ Params: Static<typeof IdParams> }>('/api/webhooks/:id/test', {
    schema: { ...hooks, summary: 'Queue a signed test message (type webhook.test) through the outbox; the answer is its delivery, which the log follows', params: IdParams, response: { 202: DeliverySchema, ...errors(401, 403, 404) } },
  }, async (req, reply) => reply.status(202).send(await ctx.webhooks.sendTest(req.project.id, req.params.id)));

  app.delete<{ Params: Static<typeof IdParams> }>('/api/webhooks/:id', {
    schema: { ...hooks, summary: 'Delete a webhook; its pending messages and its log go with it', params: IdParams, response: { 204: Type.Null(), ...errors(401, 403, 404) } },
  }, async (req, reply) => {
    await ctx.webhooks.delete(req.project.id, req.params.id);
    return reply.status(204).send();
  });

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof MembersQuery> }>('/api/webhooks/:id/deliveries', {
    schema: { ...hooks, summary: "A webhook's messages and their delivery state, newest first, by cursor", params: IdParams, querystring: MembersQuery, response: { 200: DeliveriesPage, ...errors(400, 401, 403, 404) } },
  }, async (req) => ctx.webhooks.deliveries(req.project.id, req.params.id, req.query.limit ?? 100, req.query.cursor ?? null));
}
