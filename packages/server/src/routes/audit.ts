import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { decodeCursor, encodeCursor } from '@strata/engine';
import { AuditStore, erasedUserRef } from '@strata/store';
import type { AppContext } from '../context.ts';
import { errors } from '../schemas.ts';

const AuditQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  cursor: Type.Optional(Type.String({ maxLength: 100 })),
  resourceType: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'segment, mission, reward, experience, experiment, webhook, destination, settings, user, points, import, segment-set, key, project' })),
  resourceId: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'A resource id; a user id also finds the erasure of that user (kept as its hash)' })),
}, { additionalProperties: false });

const Snapshot = Type.Unknown({ description: 'The resource as JSON, or null (it did not exist / no longer exists)' });
const AuditEntrySchema = Type.Object({
  id: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  credential: Type.String({ description: "The first characters of the credential used (never the credential)" }),
  action: Type.String({ description: 'create, update, delete, or the route\'s own (add-members, remove-member, adjust, erase, rotate-secret, …)' }),
  resourceType: Type.String(),
  resourceId: Type.String({ description: 'For an erased user: "sha256:" and a hash of project and id, never the id' }),
  before: Snapshot,
  after: Snapshot,
});

/** GET /api/audit (Bearer admin token): the project's admin changes, newest first, by cursor. */
export async function auditRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.get<{ Querystring: Static<typeof AuditQuery> }>('/api/audit', {
    schema: {
      tags: ['audit'], security: [{ adminToken: [] }], summary: 'The audit log: every admin change of this project, newest first, by cursor; filter by resource type and id',
      querystring: AuditQuery,
      response: { 200: Type.Object({ entries: Type.Array(AuditEntrySchema), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...errors(400, 401, 403) },
    },
  }, async (req) => {
    const { limit = 100, cursor, resourceType, resourceId } = req.query;
    const projectId = req.project.id;
    const rows = await new AuditStore(ctx.store).list(projectId, {
      ...(resourceType !== undefined ? { resourceType } : {}),
      ...(resourceId !== undefined ? { resourceIds: [resourceId, erasedUserRef(projectId, resourceId)] } : {}),
    }, limit + 1, decodeCursor(cursor ?? null));
    const page = rows.slice(0, limit);
    return {
      entries: page.map((r) => ({
        id: r.id, at: new Date(r.at).toISOString(), credential: r.credential, action: r.action, resourceType: r.resourceType, resourceId: r.resourceId, before: r.before, after: r.after,
      })),
      nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1]!.id) : null,
    };
  });
}
