import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { LIMITS, type Json, type LimitName } from '@strata/core';

/**
 * `maxLength` from a limit of core/limits.ts, with the limit's name (`x-limit`), so that the 400
 * refusing a longer string names it (errors.ts). Spread into a string's options.
 */
export const maxLength = (name: LimitName) => ({ maxLength: LIMITS[name], 'x-limit': name });

/**
 * A request field that may be null: `{type: [T, "null"]}` rather than an anyOf, because with
 * type coercion on (app.ts) Ajv turns null into "" or 0 while it tries an anyOf's branches.
 */
export const Nullable = <T extends TSchema & { type: string }>(t: T, description?: string) =>
  Type.Unsafe<Static<T> | null>({ ...t, type: [t.type, 'null'], ...(description ? { description } : {}) });

/** The schemas that validate requests are the ones the OpenAPI document is generated from. */
export const ErrorSchema = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    issues: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
    requestId: Type.Optional(Type.String({ description: 'On a 5xx: the request id its log line carries' })),
  }),
}, { $id: 'Error' });

export const AnyObject = Type.Object({}, { additionalProperties: true });

export const ConditionSchema = Type.Unsafe<unknown>({
  type: ['object', 'null'],
  // Without it the response serialiser would write every condition as {}.
  additionalProperties: true,
  description: 'A condition of the Strata condition language (docs/reference.md §3, docs/conditions.md); validated with every fault reported by JSON path. null makes a static list.',
});

const UserIdList = Type.Array(Type.String({ minLength: 1, ...maxLength('MAX_ID_LENGTH') }), { maxItems: 10000 });

export const WarningSchema = Type.Object({
  code: Type.Union(['DUPLICATE', 'CONTRADICTION', 'EMPTY', 'SUBSET', 'HIGH_OVERLAP'].map((c) => Type.Literal(c))),
  message: Type.String(),
  segmentIds: Type.Array(Type.String()),
  paths: Type.Optional(Type.Array(Type.String(), { description: 'CONTRADICTION: JSON Pointers of the conflicting parts of the condition' })),
  jaccard: Type.Optional(Type.Number()),
}, { $id: 'SegmentWarning', description: 'Segment hygiene advice (docs/hygiene.md); never a refusal' });

/** An explanation tree (core/explain.ts): {path, kind, result, text, observed?, children?}. */
export const ExplanationSchema = Type.Unsafe<unknown>({
  type: ['object', 'null'],
  additionalProperties: true,
  description: 'Why the condition holds or not: {path, kind, result, text, observed?, children?}, one node per part of the condition',
});

export const SegmentSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  condition: ConditionSchema,
  include: Type.Array(Type.String()),
  exclude: Type.Array(Type.String()),
  template: Type.Union([Type.String(), Type.Null()]),
  params: Type.Union([AnyObject, Type.Null()]),
  size: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  warnings: Type.Optional(Type.Array(WarningSchema, { description: 'On create and update only' })),
}, { $id: 'Segment' });

/**
 * Either `{name, description?, condition}` or `{name?, description?, template, params?}` (docs/reference.md §4.2).
 * One object rather than a oneOf, so that faults get precise paths: segmentCreateFaults checks the form.
 */
export const SegmentCreate = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, ...maxLength('MAX_NAME_LENGTH'), description: 'Required with a condition; with a template it defaults to the template\'s name' })),
  description: Type.Optional(Type.String({ ...maxLength('MAX_DESCRIPTION_LENGTH') })),
  condition: Type.Optional(ConditionSchema),
  template: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'A template id (GET /api/templates); instead of a condition' })),
  params: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'Template parameters; missing ones take their defaults' })),
  include: Type.Optional(UserIdList),
  exclude: Type.Optional(UserIdList),
}, { additionalProperties: false, description: 'Either {name, description?, condition} or {name?, description?, template, params?}' });

/** What the JSON Schema of SegmentCreate leaves open: a condition or a template (not both, not neither), and a name with a condition. */
export function segmentCreateFaults(body: { name?: unknown; condition?: unknown; template?: unknown; params?: unknown }): { path: string; message: string }[] {
  const has = (k: 'condition' | 'template' | 'params') => body[k] !== undefined;
  if (has('condition') && has('template')) return [{ path: '/template', message: 'give either a condition or a template, not both' }];
  if (!has('condition') && !has('template')) return [{ path: '/condition', message: 'is required (or a template: {"template", "params"?})' }];
  if (has('condition') && has('params')) return [{ path: '/params', message: 'params go with a template, not with a condition' }];
  if (has('condition') && body.name === undefined) return [{ path: '/name', message: 'is required' }];
  return [];
}

export const SegmentPatch = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, ...maxLength('MAX_NAME_LENGTH') })),
  description: Type.Optional(Type.String({ ...maxLength('MAX_DESCRIPTION_LENGTH') })),
  condition: Type.Optional(ConditionSchema),
  include: Type.Optional(UserIdList),
  exclude: Type.Optional(UserIdList),
}, { additionalProperties: false });

export const MemberSchema = Type.Object({
  userId: Type.Union([Type.String(), Type.Null()]),
  anonymousId: Type.Union([Type.String(), Type.Null()]),
  since: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

export const PreviewBody = Type.Object({ condition: Type.Unsafe<unknown>({ type: 'object', description: ConditionSchema.description }) }, { additionalProperties: false });

export const PreviewResult = Type.Object({
  count: Type.Integer(),
  total: Type.Integer(),
  sample: Type.Array(Type.Object({
    ...MemberSchema.properties,
    why: Type.Array(Type.String(), { description: 'One line per leaf: what it tested, what it saw, what it needed' }),
    explanation: ExplanationSchema,
  })),
  warnings: Type.Array(WarningSchema),
});

export const OverlapBody = Type.Object({
  ids: Type.Array(Type.String({ minLength: 1, ...maxLength('MAX_ID_LENGTH') }), { minItems: 2, maxItems: 50 }),
}, { additionalProperties: false });

export const OverlapResult = Type.Object({
  segments: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), size: Type.Integer() })),
  intersections: Type.Array(Type.Array(Type.Integer()), { description: 'intersections[i][j]: members of both segments i and j; the diagonal holds the sizes' }),
  pairs: Type.Array(Type.Object({ a: Type.String(), b: Type.String(), intersection: Type.Integer(), jaccard: Type.Number() })),
});

export const ExplainResult = Type.Object({
  segmentId: Type.String(),
  segmentName: Type.String(),
  userId: Type.Union([Type.String(), Type.Null()]),
  anonymousId: Type.Union([Type.String(), Type.Null()]),
  member: Type.Boolean(),
  since: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  reason: Type.Union(['excluded', 'included', 'condition', 'no condition'].map((r) => Type.Literal(r))),
  text: Type.String(),
  at: Type.String({ format: 'date-time' }),
  why: Type.Array(Type.String()),
  explanation: ExplanationSchema,
});

export const MembersQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  cursor: Type.Optional(Type.String({ maxLength: 100 })),
}, { additionalProperties: false });

export const MembersPage = Type.Object({
  members: Type.Array(Type.Object({ ...MemberSchema.properties, manual: Type.Boolean({ description: 'Added by hand (on the include list)' }) })),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

export const AddMembers = Type.Object({
  userIds: Type.Array(Type.String({ minLength: 1, ...maxLength('MAX_ID_LENGTH') }), { minItems: 1, maxItems: 10000 }),
  createMissing: Type.Optional(Type.Boolean({ description: 'Create a known profile for each id never seen; without it such ids are refused (409, nothing added)' })),
}, { additionalProperties: false });

export const AddMembersResult = Type.Object({
  ...SegmentSchema.properties,
  created: Type.Array(Type.String(), { description: 'Ids that named no profile: a profile was created for each (createMissing)' }),
});

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, ...maxLength('MAX_ID_LENGTH') }) });
export const MemberParams = Type.Object({ id: Type.String({ minLength: 1, ...maxLength('MAX_ID_LENGTH') }), userId: Type.String({ minLength: 1, ...maxLength('MAX_ID_LENGTH') }) });

export const UserSegment = Type.Object({ id: Type.String(), name: Type.String(), since: Type.String({ format: 'date-time' }) });

export const ProfileSchema = Type.Object({
  userId: Type.Union([Type.String(), Type.Null()]),
  anonymousId: Type.Union([Type.String(), Type.Null()]),
  anonymousIds: Type.Array(Type.String()),
  traits: AnyObject,
  context: AnyObject,
  labels: Type.Array(Type.String()),
  firstSeen: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  lastSeen: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  segments: Type.Array(UserSegment),
});

export const LabelsBody = Type.Object({
  add: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 100 })),
  remove: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 100 })),
}, { additionalProperties: false });

export const EventSchema = Type.Object({
  messageId: Type.Union([Type.String(), Type.Null()]),
  type: Type.String(),
  event: Type.String(),
  properties: AnyObject,
  context: AnyObject,
  timestamp: Type.String({ format: 'date-time' }),
  receivedAt: Type.String({ format: 'date-time' }),
});

export const IngestAnswer = Type.Object({
  success: Type.Boolean(),
  /** The log position of the request's events (read-your-writes.ts). */
  position: Type.Integer({ minimum: 0 }),
  rejected: Type.Optional(Type.Array(Type.Object({ index: Type.Integer(), message: Type.String() }))),
});

/** Error responses every admin route may give. */
export const errors = (...codes: number[]): Record<number, TSchema> =>
  Object.fromEntries(codes.map((c) => [c, Type.Ref('Error')]));

export const WebhookSchema = Type.Object({
  id: Type.String(),
  url: Type.String(),
  segmentIds: Type.Union([Type.Array(Type.String()), Type.Null()], { description: 'null: every segment' }),
  kinds: Type.Array(Type.String()),
  secret: Type.Optional(Type.String({ description: 'The signing secret (whsec_…); shown once: by create, and by rotate-secret for the new one' })),
  createdAt: Type.String({ format: 'date-time' }),
}, { $id: 'Webhook' });

export const WebhookCreate = Type.Object({
  url: Type.String({ minLength: 1, maxLength: 2048, description: 'An absolute http:// or https:// URL' }),
  segmentIds: Type.Optional(Type.Union([Type.Array(Type.String({ minLength: 1, ...maxLength('MAX_ID_LENGTH') }), { maxItems: 1000 }), Type.Null()], { description: 'Segments whose changes are sent; null or absent: every segment' })),
  kinds: Type.Optional(Type.Array(Type.String({ maxLength: 100 }), { maxItems: 10, description: '"segment.entered" and/or "segment.exited"; absent: both' })),
}, { additionalProperties: false });

/** The body Strata POSTs (Standard Webhooks shape): a membership change, or a test message. */
export const WebhookPayloadSchema = Type.Union([
  Type.Object({
    type: Type.String({ description: 'segment.entered or segment.exited' }),
    timestamp: Type.String({ format: 'date-time' }),
    data: Type.Object({
      segmentId: Type.String(),
      segmentName: Type.String(),
      userId: Type.Union([Type.String(), Type.Null()]),
      anonymousId: Type.Union([Type.String(), Type.Null()]),
      reason: Type.String(),
      at: Type.String({ format: 'date-time' }),
    }),
  }),
  Type.Object({
    type: Type.Literal('webhook.test', { description: 'POST /api/webhooks/:id/test' }),
    timestamp: Type.String({ format: 'date-time' }),
    data: Type.Object({ webhookId: Type.String(), message: Type.String(), at: Type.String({ format: 'date-time' }) }),
  }),
]);

export const DeliverySchema = Type.Object({
  id: Type.Integer(),
  messageId: Type.String({ description: 'Sent as webhook-id; the same on every retry' }),
  kind: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
  attempts: Type.Integer(),
  lastStatus: Type.Union([Type.Integer(), Type.Null()], { description: "HTTP status of the last attempt; null when there was no answer (or no attempt)" }),
  lastError: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  nextAttemptAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'null once delivered or failed' }),
  deliveredAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  payload: WebhookPayloadSchema,
});

export const DeliveriesPage = Type.Object({ deliveries: Type.Array(DeliverySchema), nextCursor: Type.Union([Type.String(), Type.Null()]) });

/** A page of membership history: of a segment (/api/segments/:id/history) or of a user (/api/users/:id/history). */
export const HistoryPage = Type.Object({
  history: Type.Array(Type.Object({
    segmentId: Type.String(), segmentName: Type.Union([Type.String(), Type.Null()]),
    userId: Type.Union([Type.String(), Type.Null()]), anonymousId: Type.Union([Type.String(), Type.Null()]),
    kind: Type.Union([Type.Literal('entered'), Type.Literal('exited')]), at: Type.String({ format: 'date-time' }),
    reason: Type.Union(['event', 'time', 'manual', 'definition', 'merge'].map((r) => Type.Literal(r))),
  })),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

/** Any JSON: what an app renders for an experience's variant. */
export const Payload = Type.Unsafe<Json>({ description: 'Any JSON: what the app renders for this variant' });

const Anything = Type.Unsafe<Json>({ type: 'object', additionalProperties: true });
/** What a user may see now: GET /api/users/:id/targeting and the public /v1/targeting. */
export const TargetingSchema = Type.Object({
  userId: Type.Union([Type.String(), Type.Null()]),
  anonymousId: Type.Union([Type.String(), Type.Null()]),
  known: Type.Boolean({ description: 'false: Strata has not seen this user; what targets everyone is returned' }),
  segments: Type.Union([Type.Array(Type.Object({ id: Type.String(), name: Type.String() })), Type.Null()], {
    description: "The user's segments. Always given to the admin API; on /v1/targeting null unless the project's publicSegments allows it (default: only with identity verification)",
  }),
  points: Type.Integer(),
  missions: Type.Array(Anything),
  rewards: Type.Array(Anything),
  experiences: Type.Array(Type.Object({ key: Type.String(), variant: Type.String(), payload: Payload })),
});
