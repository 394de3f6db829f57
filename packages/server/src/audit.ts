import { AsyncLocalStorage } from 'node:async_hooks';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { AppError, type Json } from '@strata/core';
import { AuditStore, erasedUserRef, tokenPrefix, type AuditEntry, type SqlStore } from '@strata/store';
import { readers, type AuditReader } from './audit-readers.ts';
import type { AppContext } from './context.ts';

export { secretFingerprint, type AuditReader } from './audit-readers.ts';

/**
 * The audit log of admin changes (docs/api.md, "Audit log"). One mechanism for every route: the
 * table AUDITED below declares, per admin route that changes something, its resource type, its
 * action and how to read the resource; `auditHooks` on the admin scope reads the resource before
 * the handler runs and writes one row per successful change:
 * - in the change's own transaction when the change goes through the live engine's writer
 *   (`engine.write`: segments, missions, rewards, experiences, experiments, labels, points,
 *   erasure) — the row commits with the change or not at all;
 * - otherwise (webhooks, destinations, settings, imports, and a create whose transaction does
 *   not answer its id) right after the change succeeded, before the answer is sent.
 * A request that fails (4xx, 5xx) records nothing. Erasures keep no data of the person: see
 * AUDITED['DELETE /api/users/:id'] and docs/privacy.md.
 */

export interface AuditSpec {
  readonly resourceType: string;
  readonly action: string;
  /** The resource id (default: the `:id` of the path). */
  readonly id?: (req: FastifyRequest) => string;
  /** A create: the id is the answer's `id` (or that of what its transaction answers) and there is nothing before. */
  readonly created?: boolean;
  /** Whether this request is a change at all (default: yes), e.g. not an import's dry run. */
  readonly when?: (req: FastifyRequest) => boolean;
  /** How to read the resource before and after; without it, before/after come from `snapshot`. */
  readonly read?: AuditReader;
  /**
   * Snapshots not read from the store: an erasure's, or a create whose state is its answer.
   * `answer` is null when the row is written in the change's transaction.
   */
  readonly snapshot?: (req: FastifyRequest, answer: unknown) => { before: Json | null; after: Json | null };
  /** With `snapshot`: the route's first engine write is the change (an erasure): its row is written in it. */
  readonly firstWrite?: boolean;
}

const asJson = (v: unknown): Json => JSON.parse(JSON.stringify(v)) as Json;

const fromAnswer = (_req: FastifyRequest, answer: unknown) => ({ before: null, after: asJson(answer) });
const withoutVolatile = (s: object) => {
  const { size: _size, warnings: _warnings, ...rest } = s as Record<string, unknown>;
  return asJson(rest);
};
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
  'POST /api/segments/lifecycle': { resourceType: 'segment-set', action: 'create', id: () => 'lifecycle', snapshot: (req, a) => ({ before: null, after: asJson((a as { segments: object[] }).segments.map(withoutVolatile)) }) },
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
  ...crud('key', readers.key, '/api/keys', ['create', 'delete']),
  'POST /api/keys/:id/rotate': { resourceType: 'key', action: 'rotate', read: readers.key },
  // A back end's completion of a mission for a user: the answer is what was recorded and paid.
  'POST /api/users/:id/missions/:missionId/complete': { resourceType: 'mission', action: 'complete', id: param('missionId'), snapshot: fromAnswer },
  'POST /api/imports': { resourceType: 'import', action: 'import', created: true, when: (req) => (req.query as { dryRun?: boolean }).dryRun !== true, snapshot: fromAnswer },
  // Erasure keeps no data of the person: the id only as erasedUserRef (a hash), and the fact (docs/privacy.md).
  'DELETE /api/users/:id': {
    resourceType: 'user', action: 'erase', id: (req) => erasedUserRef(req.project.id, param('id')(req)),
    snapshot: (req) => ({ before: null, after: { erased: true, suppressLater: (req.query as { suppress?: boolean }).suppress === true } }),
    firstWrite: true,
  },
};

/** Admin routes other than GET that change nothing an admin configures (reads with a body, a test send). */
export const NOT_CHANGES: ReadonlySet<string> = new Set(['POST /api/segments/preview', 'POST /api/segments/overlap', 'POST /api/webhooks/:id/test']);

/**
 * Changes of the root scope, outside any project: a project's creation is the first row of its
 * own log (routes/projects.ts writes it); its deletion removes its log with it, so the server's
 * log (a warning naming the project and the root token's prefix) keeps it.
 */
export const SERVER_CHANGES: ReadonlySet<string> = new Set(['POST /api/projects', 'DELETE /api/projects/:id']);

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
  /** null for a create, until its transaction or its answer names it. */
  readonly id: string | null;
  readonly before: Json | null;
  readonly projectId: string;
  readonly credential: string;
  /** The row is written (in a transaction of the change). */
  written: boolean;
}

const pending = new WeakMap<FastifyRequest, Pending>();
/** The audited request a handler runs for, for the engine's before-commit hook. */
const current = new AsyncLocalStorage<{ req: FastifyRequest; ctx: AppContext }>();
const hooked = new WeakSet<object>();

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

const same = (a: Json | null, b: Json | null) => JSON.stringify(a) === JSON.stringify(b);

function entry(ctx: AppContext, p: Pending, id: string, before: Json | null, after: Json | null): AuditEntry {
  return { projectId: p.projectId, at: ctx.clock.now(), credential: p.credential, action: p.spec.action, resourceType: p.spec.resourceType, resourceId: id, before, after };
}

/**
 * At the end of an engine write made while an audited request's handler runs, in its
 * transaction: the row of the request, if this write is its change — the resource read through
 * the transaction differs from before (a write that changed something else, or nothing, is not
 * it), or, for an erasure, the first write. `out` is what the write answers (a create's id).
 */
async function inTransaction(tx: SqlStore, out: unknown): Promise<void> {
  const scope = current.getStore();
  const p = scope && pending.get(scope.req);
  if (!scope || !p || p.written) return;
  const { spec } = p;
  let row: AuditEntry | null = null;
  if (spec.snapshot) {
    if (!spec.firstWrite || p.id === null) return;
    const { before, after } = spec.snapshot(scope.req, null);
    row = entry(scope.ctx, p, p.id, before, after);
  } else if (spec.read) {
    const id = p.id ?? answerId(out);
    if (id === null) return;
    const after = await spec.read(tx, p.projectId, id);
    if (same(after, p.before) || (spec.created && after === null)) return;
    row = entry(scope.ctx, p, id, p.before, after);
  }
  if (!row) return;
  await recordAudit(tx, row);
  p.written = true;
}

/**
 * Adds the audit hooks to the admin scope: `preHandler` (after auth and validation) reads the
 * resource as it is; the handler runs with the request known to the engine's before-commit hook
 * (the row in the change's transaction); `onSend` of a 2xx answer writes the row if no
 * transaction did, before the answer leaves. A failure to write the row answers 500: a change is
 * never acknowledged unrecorded.
 */
export function auditHooks(app: FastifyInstance, ctx: AppContext): void {
  if (!hooked.has(ctx.engine)) {
    hooked.add(ctx.engine);
    ctx.engine.beforeCommit(inTransaction);
  }
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.some((m) => `${m} ${route.url}` in AUDITED)) return;
    const handler = route.handler as RouteHandlerMethod;
    route.handler = function audited(this: FastifyInstance, req, reply) {
      return current.run({ req, ctx }, () => handler.call(this, req, reply));
    };
  });
  app.addHook('preHandler', async (req) => {
    const spec = specOf(req);
    if (!spec) return;
    const id = spec.created ? null : (spec.id ?? param('id'))(req);
    const before = spec.read && id !== null ? await spec.read(ctx.store, req.project.id, id) : null;
    pending.set(req, { spec, id, before, projectId: req.project.id, credential: credentialOf(req), written: false });
  });
  app.addHook('onSend', async (req: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const p = pending.get(req);
    if (!p) return payload;
    pending.delete(req);
    if (p.written || reply.statusCode < 200 || reply.statusCode >= 300) return payload;
    const answer = p.spec.created || p.spec.snapshot ? parseAnswer(payload) : null;
    const id = p.id ?? answerId(answer);
    if (id === null) throw new AppError({ code: 'INTERNAL', message: `the audit log could not name the resource of ${req.method} ${req.routeOptions.url}` });
    const { before, after } = p.spec.snapshot
      ? p.spec.snapshot(req, answer)
      : { before: p.before, after: p.spec.read ? await p.spec.read(ctx.store, p.projectId, id) : null };
    await recordAudit(ctx.store, entry(ctx, p, id, before, after));
    return payload;
  });
}
