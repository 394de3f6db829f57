import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type Json } from '@strata/core';
import { AuditStore, DestinationStore, WebhookStore, erasedUserRef, tokenPrefix, type AuditEntry, type SqlStore } from '@strata/store';
import type { AppContext } from './context.ts';

/**
 * The audit log of admin changes (docs/api.md, "Audit log"). One mechanism for every route: the
 * table AUDITED below declares, per admin route that changes something, its resource type, its
 * action and how to read the resource; the admin scope's hooks (`auditHooks`) read the resource
 * before the handler runs and again once it has succeeded, and record one row before the answer
 * is sent. A request that fails (4xx, 5xx) records nothing. Erasures are the exception to
 * "before/after": see AUDITED['DELETE /api/users/:id'] and docs/privacy.md.
 */

/** Reads a resource as the audit log keeps it (null: it does not exist); never secrets. */
export type AuditReader = (ctx: AppContext, projectId: string, id: string) => Promise<Json | null>;

export interface AuditSpec {
  readonly resourceType: string;
  readonly action: string;
  /** The resource id (default: the `:id` of the path). */
  readonly id?: (req: FastifyRequest) => string;
  /** A create: the id is the answer's `id` and there is nothing before. */
  readonly created?: boolean;
  /** Whether this request is a change at all (default: yes), e.g. not an import's dry run. */
  readonly when?: (req: FastifyRequest) => boolean;
  /** How to read the resource before and after; without it, before/after come from `snapshot`. */
  readonly read?: AuditReader;
  /** Snapshots not read from the store: an erasure's, or a create whose state is its answer. */
  readonly snapshot?: (req: FastifyRequest, answer: unknown) => { before: Json | null; after: Json | null };
}

/** A short one-way fingerprint of a secret: shows that it changed, never what it is. */
export const secretFingerprint = (secret: string | null | undefined): string | null =>
  secret ? `sha256:${createHash('sha256').update(secret).digest('hex').slice(0, 12)}` : null;

/** A service's view, or null when it answers NOT_FOUND. */
async function orNull<T>(read: () => Promise<T>): Promise<T | null> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof AppError && e.code === 'NOT_FOUND') return null;
    throw e;
  }
}

const asJson = (v: unknown): Json => JSON.parse(JSON.stringify(v)) as Json;

/** Drops what changes without an admin doing anything (sizes, warnings) from a view. */
function without(v: object | null, keys: readonly string[]): Json | null {
  if (v === null) return null;
  const out: Record<string, unknown> = { ...v };
  for (const k of keys) delete out[k];
  return asJson(out);
}

const readers = {
  segment: async (ctx, p, id) => without(await orNull(() => ctx.segments.get(p, id)), ['size', 'warnings']),
  mission: async (ctx, p, id) => asJson(await orNull(() => ctx.missions.get(p, id))),
  reward: async (ctx, p, id) => asJson(await orNull(() => ctx.rewards.get(p, id))),
  experience: async (ctx, p, id) => asJson(await orNull(() => ctx.experiences.get(p, id))),
  experiment: async (ctx, p, id) => asJson(await orNull(() => ctx.experiments.get(p, id))),
  webhook: async (ctx, p, id) => {
    const view = await orNull(() => ctx.webhooks.get(p, id));
    if (!view) return null;
    const row = await new WebhookStore(ctx.store).getWebhook(p, id);
    return asJson({ ...view, secretFingerprint: secretFingerprint(row?.secret) });
  },
  destination: async (ctx, p, id) => {
    const d = await orNull(() => ctx.destinations.get(p, id));
    if (!d) return null;
    const row = await new DestinationStore(ctx.store).get(p, id);
    const { secret: _secret, writeKey: _writeKey, ...view } = d;
    return asJson({ ...view, secretFingerprint: secretFingerprint(row?.secret), writeKeyFingerprint: secretFingerprint(row?.writeKey) });
  },
  settings: async (ctx, p) => {
    const project = await ctx.store.getProject(p);
    if (!project) return null;
    const iv = project.settings.identityVerification;
    return asJson({
      name: project.name,
      identityVerification: { enabled: iv?.enabled ?? false, secretFingerprint: secretFingerprint(iv?.secret) },
      publicSegments: project.settings.publicSegments ?? 'verified',
    });
  },
  userLabels: async (ctx, p, id) => {
    const profile = await ctx.store.findProfile(p, id);
    return profile ? { labels: [...profile.labels] } : null;
  },
  points: async (ctx, p, id) => {
    const page = await orNull(() => ctx.points.get(p, id, 1, null));
    return page ? { balance: page.balance } : null;
  },
} satisfies Record<string, AuditReader>;

const fromAnswer = (_req: FastifyRequest, answer: unknown) => ({ before: null, after: asJson(answer) });
const answerId = (answer: unknown): string | null => {
  const id = (answer as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? id : null;
};
const param = (name: string) => (req: FastifyRequest): string => (req.params as Record<string, string>)[name]!;
const crud = (resourceType: string, read: AuditReader, base: string, ops: readonly ('create' | 'update' | 'delete')[] = ['create', 'update', 'delete']): Record<string, AuditSpec> => ({
  ...(ops.includes('create') ? { [`POST ${base}`]: { resourceType, action: 'create', read, created: true } } : {}),
  ...(ops.includes('update') ? { [`PATCH ${base}/:id`]: { resourceType, action: 'update', read } } : {}),
  ...(ops.includes('delete') ? { [`DELETE ${base}/:id`]: { resourceType, action: 'delete', read } } : {}),
});

/**
 * Every admin route that changes something, by "METHOD /path" as registered. A non-GET admin
 * route must be here or in NOT_CHANGES (audit.test.ts checks it), so no new one goes unrecorded.
 */
export const AUDITED: Readonly<Record<string, AuditSpec>> = {
  ...crud('segment', readers.segment, '/api/segments'),
  'POST /api/segments/lifecycle': { resourceType: 'segment-set', action: 'create', id: () => 'lifecycle', snapshot: (req, a) => ({ before: null, after: asJson((a as { segments: object[] }).segments.map((s) => without(s, ['size', 'warnings']))) }) },
  'POST /api/segments/:id/members': { resourceType: 'segment', action: 'add-members', read: readers.segment },
  'DELETE /api/segments/:id/members/:userId': { resourceType: 'segment', action: 'remove-member', read: readers.segment },
  ...crud('mission', readers.mission, '/api/missions'),
  ...crud('reward', readers.reward, '/api/rewards'),
  'POST /api/rewards/:id/codes': { resourceType: 'reward', action: 'add-codes', read: readers.reward },
  'POST /api/rewards/:id/redeem': { resourceType: 'reward', action: 'redeem', read: readers.reward },
  ...crud('experience', readers.experience, '/api/experiences'),
  ...crud('experiment', readers.experiment, '/api/experiments'),
  ...crud('webhook', readers.webhook, '/api/webhooks', ['create', 'delete']),
  'POST /api/webhooks/:id/rotate-secret': { resourceType: 'webhook', action: 'rotate-secret', read: readers.webhook },
  ...crud('destination', readers.destination, '/api/destinations'),
  'POST /api/destinations/:id/resync': { resourceType: 'destination', action: 'resync', read: readers.destination },
  'PATCH /api/settings': { resourceType: 'settings', action: 'update', id: (req) => req.project.id, read: readers.settings },
  'POST /api/users/:id/labels': { resourceType: 'user', action: 'update-labels', read: readers.userLabels },
  'POST /api/users/:id/points': { resourceType: 'points', action: 'adjust', read: readers.points },
  'POST /api/imports': { resourceType: 'import', action: 'import', created: true, when: (req) => (req.query as { dryRun?: boolean }).dryRun !== true, snapshot: fromAnswer },
  // Erasure keeps no data of the person: the id only as erasedUserRef (a hash), and the fact (docs/privacy.md).
  'DELETE /api/users/:id': {
    resourceType: 'user', action: 'erase', id: (req) => erasedUserRef(req.project.id, param('id')(req)),
    snapshot: (req) => ({ before: null, after: { erased: true, suppressLater: (req.query as { suppress?: boolean }).suppress === true } }),
  },
};

/** Admin routes other than GET that change nothing an admin configures (reads with a body, a test send). */
export const NOT_CHANGES: ReadonlySet<string> = new Set(['POST /api/segments/preview', 'POST /api/segments/overlap', 'POST /api/webhooks/:id/test']);

/** The credential as the log names it: the Bearer token's prefix (tokenPrefix), never the token. */
export function credentialOf(req: FastifyRequest): string {
  const auth = req.headers.authorization ?? '';
  return auth.startsWith('Bearer ') ? tokenPrefix(auth.slice(7).trim()) : 'unknown';
}

/**
 * Records one change: the function for code outside the route table (API key management, say),
 * called in the change's transaction (pass `tx`) or right after it succeeds.
 */
export async function recordAudit(store: SqlStore, entry: AuditEntry): Promise<number> {
  return new AuditStore(store).record(entry);
}

interface Pending {
  readonly spec: AuditSpec;
  /** null for a create, until its answer names it. */
  readonly id: string | null;
  readonly before: Json | null;
}

const pending = new WeakMap<FastifyRequest, Pending>();

function specOf(req: FastifyRequest): AuditSpec | undefined {
  const key = `${req.method} ${req.routeOptions.url ?? ''}`;
  const spec = AUDITED[key];
  return spec && (spec.when?.(req) ?? true) ? spec : undefined;
}

function parseAnswer(payload: unknown): unknown {
  if (typeof payload !== 'string' || payload === '') return null;
  try {
    return JSON.parse(payload);
  } catch {
    return null;
  }
}

/**
 * Adds the audit hooks to the admin scope: `preHandler` (after auth and validation) reads the
 * resource as it is; `onSend` of a 2xx answer reads it again and writes the row, before the
 * answer leaves. A failure to write the row answers 500: a change is never acknowledged unrecorded.
 */
export function auditHooks(app: FastifyInstance, ctx: AppContext): void {
  app.addHook('preHandler', async (req) => {
    const spec = specOf(req);
    if (!spec) return;
    const id = spec.created ? null : (spec.id ?? param('id'))(req);
    const before = spec.read && id !== null ? await spec.read(ctx, req.project.id, id) : null;
    pending.set(req, { spec, id, before });
  });
  app.addHook('onSend', async (req: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const p = pending.get(req);
    if (!p) return payload;
    pending.delete(req);
    if (reply.statusCode < 200 || reply.statusCode >= 300) return payload;
    const answer = p.spec.created || p.spec.snapshot ? parseAnswer(payload) : null;
    const id = p.id ?? answerId(answer);
    if (id === null) throw new AppError({ code: 'INTERNAL', message: `the audit log could not name the resource of ${req.method} ${req.routeOptions.url}` });
    const { before, after } = p.spec.snapshot
      ? p.spec.snapshot(req, answer)
      : { before: p.before, after: p.spec.read ? await p.spec.read(ctx, req.project.id, id) : null };
    await recordAudit(ctx.store, {
      projectId: req.project.id, at: ctx.clock.now(), credential: credentialOf(req), action: p.spec.action,
      resourceType: p.spec.resourceType, resourceId: id, before, after,
    });
    return payload;
  });
}
