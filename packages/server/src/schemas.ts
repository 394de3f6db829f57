import { Type, type TSchema } from '@sinclair/typebox';

/** The schemas that validate requests are the ones the OpenAPI document is generated from. */
export const ErrorSchema = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    issues: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  }),
}, { $id: 'Error' });

export const AnyObject = Type.Object({}, { additionalProperties: true });

export const ConditionSchema = Type.Unsafe<unknown>({
  type: ['object', 'null'],
  // Without it the response serialiser would write every condition as {}.
  additionalProperties: true,
  description: 'A condition of the Strata condition language (SPEC §3, docs/conditions.md); validated with every fault reported by JSON path. null makes a static list.',
});

const UserIdList = Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 10000 });

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
}, { $id: 'Segment' });

export const SegmentCreate = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  condition: ConditionSchema,
  include: Type.Optional(UserIdList),
  exclude: Type.Optional(UserIdList),
}, { additionalProperties: false });

export const SegmentPatch = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
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

export const PreviewResult = Type.Object({ count: Type.Integer(), total: Type.Integer(), sample: Type.Array(MemberSchema) });

export const MembersQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  cursor: Type.Optional(Type.String({ maxLength: 100 })),
}, { additionalProperties: false });

export const MembersPage = Type.Object({ members: Type.Array(MemberSchema), nextCursor: Type.Union([Type.String(), Type.Null()]) });

export const AddMembers = Type.Object({ userIds: Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { minItems: 1, maxItems: 10000 }) }, { additionalProperties: false });

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) });
export const MemberParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }), userId: Type.String({ minLength: 1, maxLength: 256 }) });

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
  secret: Type.Optional(Type.String({ description: 'The signing secret (whsec_…); given by create and get, not by the list' })),
  createdAt: Type.String({ format: 'date-time' }),
}, { $id: 'Webhook' });

export const WebhookCreate = Type.Object({
  url: Type.String({ minLength: 1, maxLength: 2048, description: 'An absolute http:// or https:// URL' }),
  segmentIds: Type.Optional(Type.Union([Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 1000 }), Type.Null()], { description: 'Segments whose changes are sent; null or absent: every segment' })),
  kinds: Type.Optional(Type.Array(Type.String({ maxLength: 100 }), { maxItems: 10, description: '"segment.entered" and/or "segment.exited"; absent: both' })),
}, { additionalProperties: false });

/** The body Strata POSTs (Standard Webhooks shape). */
export const WebhookPayloadSchema = Type.Object({
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
});

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
