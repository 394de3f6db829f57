import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AppError, isoTime } from '@strata/core';
import { newKeyValue, type KeyRow, type SqlStore } from '@strata/store';
import type { Credentials } from '../auth.ts';
import type { AppContext } from '../context.ts';
import { IdParams, errors } from '../schemas.ts';

const KeyKindSchema = Type.Union([Type.Literal('admin'), Type.Literal('write'), Type.Literal('server')], {
  description: 'admin: the whole admin API of the project; write: ingest and the public SDK API (public: it ships in web pages); server: a trusted back end — points adjustments and mission completion only (docs/security.md)',
});
export const KeySchema = Type.Object({
  id: Type.String(),
  kind: KeyKindSchema,
  label: Type.String(),
  prefix: Type.String({ description: 'The first characters of the value, to recognise it; never the value' }),
  createdAt: Type.String({ format: 'date-time' }),
  rotatedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  current: Type.Optional(Type.Boolean({ description: 'In a list: true for the key this request was made with' })),
}, { $id: 'Key' });
const KeyWithValue = Type.Object({
  ...KeySchema.properties,
  value: Type.String({ description: 'The key itself: shown in this answer only (admin tokens and server keys are stored as hashes)' }),
});
const KeyCreate = Type.Object({
  kind: KeyKindSchema,
  label: Type.Optional(Type.String({ maxLength: 100, description: 'What the key is for ("checkout back end", "iOS app")' })),
}, { additionalProperties: false });

export const keyView = (k: KeyRow) => ({
  id: k.id, kind: k.kind as 'admin' | 'write' | 'server', label: k.label, prefix: k.prefix, createdAt: isoTime(k.createdAt)!, rotatedAt: isoTime(k.rotatedAt),
});

/**
 * /api/keys (Bearer admin token): the project's admin tokens, write keys and server keys —
 * created (the value in that answer only), listed (prefix, never the value), rotated and revoked.
 * Every change clears the credential cache: a revoked or rotated value stops working at once.
 */
export async function keyRoutes(app: FastifyInstance, ctx: AppContext & { creds: Credentials }): Promise<void> {
  const tags = { tags: ['keys'], security: [{ adminToken: [] }] };
  const keyOf = async (store: SqlStore, projectId: string, id: string): Promise<KeyRow> => {
    const k = await store.keys.get(projectId, id);
    if (!k) throw new AppError({ code: 'NOT_FOUND', message: `no key with id "${id}"` });
    return k;
  };

  app.get('/api/keys', {
    schema: { ...tags, summary: "The project's keys: kind, label, prefix and dates (never a value)", response: { 200: Type.Object({ keys: Type.Array(KeySchema) }), ...errors(401, 403) } },
  }, async (req) => ({ keys: (await ctx.store.keys.list(req.project.id)).map((k) => ({ ...keyView(k), current: k.id === req.key.id })) }));

  app.post<{ Body: Static<typeof KeyCreate> }>('/api/keys', {
    schema: { ...tags, summary: 'Create a key (its value is in this answer only)', body: KeyCreate, response: { 201: KeyWithValue, ...errors(400, 401, 403) } },
  }, async (req, reply) => {
    const value = newKeyValue(req.body.kind);
    const k = await ctx.store.keys.insert({ projectId: req.project.id, kind: req.body.kind, label: req.body.label ?? '', value, now: ctx.clock.now() });
    ctx.creds.clear();
    return reply.status(201).send({ ...keyView(k), value });
  });

  app.post<{ Params: Static<typeof IdParams> }>('/api/keys/:id/rotate', {
    schema: { ...tags, summary: 'Give a key a new value (in this answer only); the old value stops working at once', params: IdParams, response: { 200: KeyWithValue, ...errors(401, 403, 404) } },
  }, async (req) => {
    const k = await keyOf(ctx.store, req.project.id, req.params.id);
    const value = newKeyValue(k.kind);
    const rotated = await ctx.store.keys.rotate(k.id, value, ctx.clock.now());
    ctx.creds.clear();
    // Revoked between the look-up and the rotation: gone, as a later look-up would have said.
    if (!rotated) throw new AppError({ code: 'NOT_FOUND', message: `no key with id "${k.id}" (it was revoked)` });
    return { ...keyView(rotated), value };
  });

  app.delete<{ Params: Static<typeof IdParams> }>('/api/keys/:id', {
    schema: { ...tags, summary: 'Revoke a key: it stops working at once (the last admin token cannot be revoked: 409)', params: IdParams, response: { 204: Type.Null(), ...errors(401, 403, 404, 409) } },
  }, async (req, reply) => {
    await ctx.store.transaction(async (tx) => {
      // PostgreSQL: two revocations at once take turns on the project's row, so they cannot both see a second admin token.
      await tx.lockProject(req.project.id);
      const k = await keyOf(tx, req.project.id, req.params.id);
      if (k.kind === 'admin' && (await tx.keys.count(req.project.id, 'admin')) <= 1) {
        throw new AppError({ code: 'CONFLICT', message: 'this is the project\'s last admin token: revoking it would lock everyone out of the project; create another admin token first' });
      }
      await tx.keys.delete(k.id);
    });
    ctx.creds.clear();
    return reply.status(204).send();
  });
}
