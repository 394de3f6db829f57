import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { Credentials } from '../auth.ts';
import type { AppContext } from '../context.ts';
import { AnyObject, EventSchema, IdParams, errors } from '../schemas.ts';

const Time = Type.String({ format: 'date-time' });
const TimeOrNull = Type.Union([Time, Type.Null()]);
const Str = Type.String();
const StrOrNull = Type.Union([Str, Type.Null()]);

const EraseQuery = Type.Object({
  suppress: Type.Optional(Type.Boolean({ default: false, description: 'Also drop later ingest naming any of the user\'s ids (only a hash of each id is kept)' })),
}, { additionalProperties: false });

const Erased = Type.Object({
  erased: Type.Object({
    profiles: Type.Integer(), keys: Type.Integer(), events: Type.Integer(), visits: Type.Integer(), contexts: Type.Integer(),
    memberships: Type.Integer(), membershipHistory: Type.Integer(), manualListEntries: Type.Integer(),
    pointsEntries: Type.Integer(), pointsBalances: Type.Integer(), missionProgress: Type.Integer(), missionCompletions: Type.Integer(),
    redemptions: Type.Integer(), outboxMessages: Type.Integer(), ingestWarnings: Type.Integer(), importBadRowsRedacted: Type.Integer(), auditEntriesRedacted: Type.Integer(),
  }, { description: 'Rows removed per kind (import bad rows and audit entries: the id is replaced, the rows stay)' }),
  suppressed: Type.Integer({ description: 'Ids now suppressed at ingest (0 without suppress=true)' }),
});

const UserExport = Type.Object({
  exportedAt: Time,
  profile: Type.Object({
    userId: StrOrNull, anonymousId: StrOrNull, traits: AnyObject, traitsUpdatedAt: Type.Record(Str, Time), context: AnyObject, contextAt: TimeOrNull,
    labels: Type.Array(Str), firstSeen: TimeOrNull, lastSeen: TimeOrNull, createdAt: Time, updatedAt: Time,
  }),
  keys: Type.Array(Type.Object({ kind: Type.Union([Type.Literal('userId'), Type.Literal('anonymousId')]), id: Str })),
  events: Type.Array(EventSchema),
  visits: Type.Array(EventSchema, { description: 'The $session visits Strata derived from the events' }),
  memberships: Type.Array(Type.Object({ segmentId: Str, segmentName: StrOrNull, since: Time })),
  membershipHistory: Type.Array(Type.Object({ segmentId: Str, segmentName: StrOrNull, kind: Type.Union([Type.Literal('entered'), Type.Literal('exited')]), at: Time, reason: Str })),
  manualLists: Type.Array(Type.Object({ segmentId: Str, segmentName: StrOrNull, list: Type.Union([Type.Literal('include'), Type.Literal('exclude')]) })),
  points: Type.Object({ balance: Type.Integer(), ledger: Type.Array(Type.Object({ kind: Str, amount: Type.Integer(), balance: Type.Integer(), reason: Str, ref: StrOrNull, at: Time })) }),
  missions: Type.Object({
    progress: Type.Array(Type.Object({ missionId: Str, missionName: StrOrNull, startedAt: Time, progress: Type.Number(), completions: Type.Integer(), lastCompletedAt: TimeOrNull })),
    completions: Type.Array(Type.Object({ missionId: Str, missionName: StrOrNull, n: Type.Integer(), at: Time, points: Type.Integer() })),
  }),
  redemptions: Type.Array(Type.Object({ rewardId: Str, rewardName: StrOrNull, code: StrOrNull, cost: Type.Integer(), at: Time, ref: StrOrNull })),
  outbox: Type.Array(Type.Object({
    target: Type.String({ description: 'The webhook or destination id' }), messageId: Str, kind: Str, status: Str, createdAt: Time, deliveredAt: TimeOrNull, payload: AnyObject,
  }), { description: 'Webhook and destination messages naming the user, pending and sent' }),
  ingestWarnings: Type.Array(Type.Object({ receivedAt: Time, index: Type.Integer(), message: Str, payload: Str })),
  importBadRows: Type.Array(Type.Object({ importId: Str, line: Type.Integer(), reason: Str })),
});

/** A user's data as a whole (Bearer admin token): everything held, and erasure (docs/privacy.md). */
export async function userDataRoutes(app: FastifyInstance, ctx: AppContext & { creds: Credentials }): Promise<void> {
  const tags = { tags: ['users'], security: [{ adminToken: [] }] };

  app.get<{ Params: Static<typeof IdParams> }>('/api/users/:id/export', {
    schema: { ...tags, summary: 'Everything held about a user (by userId or anonymousId), as JSON', params: IdParams, response: { 200: UserExport, ...errors(401, 403, 404) } },
  }, async (req) => ctx.userData.export(req.project.id, req.params.id));

  app.delete<{ Params: Static<typeof IdParams>; Querystring: Static<typeof EraseQuery> }>('/api/users/:id', {
    schema: {
      ...tags, summary: 'Erase a user: every row about them and the engine\'s memory of them; answers what was removed', params: IdParams, querystring: EraseQuery,
      response: { 200: Erased, ...errors(400, 401, 403, 404) },
    },
  }, async (req) => {
    const { suppressedIds, ...erased } = await ctx.userData.erase(req.project.id, req.params.id, { suppress: req.query.suppress ?? false });
    return { erased, suppressed: suppressedIds };
  });
}
