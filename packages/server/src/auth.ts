import type { FastifyRequest } from 'fastify';
import { AppError } from '@strata/core';
import { hashToken, type KeyKind, type KeyRow, type Project, type SqlStore } from '@strata/store';

/** A credential and, for a project's key, its project. */
export interface Credential {
  readonly key: KeyRow;
  /** Null for the root token. */
  readonly project: Project | null;
}

/**
 * A short-lived cache of credential value → key and project, so a request costs no look-up when
 * hot. Any change of keys or settings in this process clears it (`clear`), so a revoked or rotated
 * key stops working here at once; other instances of a shared store see it within the TTL.
 */
export class Credentials {
  private readonly cache = new Map<string, { found: Credential | null; until: number }>();
  /** Bumped by `clear`: a look-up that began before a change is not cached after it. */
  private generation = 0;
  constructor(
    private readonly store: SqlStore,
    private readonly ttlMs = 10_000,
    /**
     * The kinds of key kept; the others are looked up on every request. A process of the api role
     * keeps write keys only (ingest's hot path): keys are revoked and rotated on another process,
     * and an admin token revoked there must not read here for another 10 s.
     */
    private readonly cachedKinds: ReadonlySet<KeyKind> | null = null,
  ) {}

  /** The key of this value, by its hash (KeyStore.find), cached. */
  async find(value: string): Promise<Credential | null> {
    const now = Date.now();
    const hash = hashToken(value);
    const hit = this.cache.get(hash);
    if (hit && hit.until > now) return hit.found;
    const gen = this.generation;
    const key = await this.store.keys.find(value);
    const project = key?.projectId ? await this.store.getProject(key.projectId) : null;
    const found = key && (key.projectId === null || project) ? { key, project } : null;
    if (gen !== this.generation) return found;
    if (this.cachedKinds && !(found && this.cachedKinds.has(found.key.kind))) return found;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, { found, until: now + this.ttlMs });
    return found;
  }

  /** Forgets every cached credential (after a change of keys or settings). */
  clear(): void {
    this.generation++;
    this.cache.clear();
  }
}

/** What a kind of key is, to name it in a refusal. */
export const KIND_NAME: Record<KeyKind, string> = { admin: 'an admin token', write: 'a write key', server: 'a server key', root: 'the root token' };

/** The write key a request carries outside its body: Basic auth user, `X-Write-Key`, or (a GET, which has no body) `?writeKey=`. */
export function headerWriteKey(req: FastifyRequest): string | null {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Basic ')) {
    const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
    const user = decoded.includes(':') ? decoded.slice(0, decoded.indexOf(':')) : decoded;
    if (user) return user;
  }
  const header = req.headers['x-write-key'];
  if (typeof header === 'string' && header) return header;
  const query = req.method === 'GET' ? (req.query as { writeKey?: unknown } | undefined)?.writeKey : undefined;
  if (typeof query === 'string' && query) return query;
  return null;
}

/** The write key of a public request: outside the body (headerWriteKey), else `writeKey` in the body. */
export function writeKeyOf(req: FastifyRequest): string | null {
  const key = headerWriteKey(req);
  if (key !== null) return key;
  const body = req.body as { writeKey?: unknown } | undefined;
  if (body && typeof body === 'object' && typeof body.writeKey === 'string' && body.writeKey) return body.writeKey;
  return null;
}

const NO_WRITE_KEY = 'no write key: send it as the Basic auth user name, an X-Write-Key header or "writeKey" in the body';

async function projectOfWriteKey(key: string, creds: Credentials): Promise<Project> {
  const found = await creds.find(key);
  if (!found) throw new AppError({ code: 'UNAUTHORIZED', message: 'unknown write key' });
  if (found.key.kind !== 'write') {
    throw new AppError({ code: 'FORBIDDEN', message: `this is ${KIND_NAME[found.key.kind]}, not a write key: the public API (/v1) takes a write key` });
  }
  return found.project!;
}

export async function requireWriteKey(req: FastifyRequest, creds: Credentials): Promise<Project> {
  const key = writeKeyOf(req);
  if (!key) throw new AppError({ code: 'UNAUTHORIZED', message: NO_WRITE_KEY });
  return projectOfWriteKey(key, creds);
}

/**
 * The write-key check of the public scope, before anything of the request is read: a key
 * outside the body is checked at once (onRequest, before the body is parsed or validated);
 * a request without one gets its body parsed (a body that cannot be parsed then answers 401:
 * see `bodyParseError`) and its `writeKey` checked before validation (preValidation).
 */
export function writeKeyHooks(creds: Credentials) {
  return {
    onRequest: async (req: FastifyRequest): Promise<void> => {
      if (req.method === 'OPTIONS') return;
      const key = headerWriteKey(req);
      if (key !== null) req.project = await projectOfWriteKey(key, creds);
    },
    preValidation: async (req: FastifyRequest): Promise<void> => {
      if (req.method === 'OPTIONS' || req.project) return;
      req.project = await requireWriteKey(req, creds);
    },
  };
}

/**
 * The error for a public body that is not JSON: a 400 for a caller already known by a key
 * outside the body, else a 401 — the key could have been in the body, and a caller without
 * a credential learns nothing about the request's faults.
 */
export function bodyParseError(req: FastifyRequest, e: Error): AppError {
  if (req.project) return new AppError({ code: 'VALIDATION_FAILED', message: `the request body is not valid JSON: ${e.message}` });
  return new AppError({ code: 'UNAUTHORIZED', message: `${NO_WRITE_KEY} (the body is not valid JSON, so no key could be read from it)` });
}

/** The Bearer token of a request; 401 without one. */
function bearer(req: FastifyRequest, what: string): string {
  const auth = req.headers.authorization;
  if (!auth?.startsWith('Bearer ')) throw new AppError({ code: 'UNAUTHORIZED', message: `send ${what} as "Authorization: Bearer <token>"` });
  return auth.slice(7).trim();
}

/**
 * The project of an admin request's Bearer token (docs/security.md, "Who may call what"): 401
 * without one or for an unknown one; an admin token may call every admin route; a server key
 * only the routes that allow it (`serverKey`), 403 on the others; a write key or the root
 * token never, 403 naming why.
 */
export async function requireAdmin(req: FastifyRequest, creds: Credentials, serverKey: boolean): Promise<{ project: Project; key: KeyRow }> {
  const found = await creds.find(bearer(req, 'the admin token'));
  if (!found) throw new AppError({ code: 'UNAUTHORIZED', message: 'unknown admin token' });
  const { key, project } = found;
  if (key.kind === 'admin' || (key.kind === 'server' && serverKey)) return { project: project!, key };
  if (key.kind === 'write') {
    throw new AppError({ code: 'FORBIDDEN', message: `a write key can only send events and call the public SDK API: it is public (it ships in web pages), so it can never act as an admin token or a server key; ${serverKey ? 'this route takes an admin token or a server key' : 'the admin API needs an admin token'}` });
  }
  if (key.kind === 'server') {
    throw new AppError({ code: 'FORBIDDEN', message: `a server key may only adjust points (POST /api/users/:id/points) and complete missions (POST /api/users/:id/missions/:missionId/complete); ${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]} needs an admin token` });
  }
  throw new AppError({ code: 'FORBIDDEN', message: 'the root token manages projects (/api/projects) only; a project\'s admin API needs one of its admin tokens' });
}

/** The root token of a request to /api/projects: 401 without one or for an unknown one, 403 for any other kind of key. */
export async function requireRoot(req: FastifyRequest, creds: Credentials): Promise<KeyRow> {
  const found = await creds.find(bearer(req, 'the root token'));
  if (!found) throw new AppError({ code: 'UNAUTHORIZED', message: 'unknown root token' });
  if (found.key.kind !== 'root') throw new AppError({ code: 'FORBIDDEN', message: `this is ${KIND_NAME[found.key.kind]}: projects are created, listed and deleted with the server's root token (STRATA_ROOT_TOKEN)` });
  return found.key;
}
