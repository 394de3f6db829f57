import type { FastifyRequest } from 'fastify';
import { AppError } from '@strata/core';
import type { Project, SqlStore } from '@strata/store';

/** A short-lived cache of credential → project, so a request costs no lookup when hot. */
export class Credentials {
  private readonly cache = new Map<string, { project: Project | null; until: number }>();
  constructor(private readonly store: SqlStore, private readonly ttlMs = 10_000) {}

  private async cached(key: string, load: () => Promise<Project | null>): Promise<Project | null> {
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.project;
    const project = await load();
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(key, { project, until: now + this.ttlMs });
    return project;
  }

  /** Forgets every cached project (after a change of settings; other instances see it within the TTL). */
  clear(): void {
    this.cache.clear();
  }

  writeKeyProject(key: string): Promise<Project | null> {
    return this.cached(`w:${key}`, () => this.store.projectByWriteKey(key));
  }

  adminProject(token: string): Promise<Project | null> {
    return this.cached(`a:${token}`, () => this.store.projectByAdminToken(token));
  }
}

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
  const project = await creds.writeKeyProject(key);
  if (!project) throw new AppError({ code: 'UNAUTHORIZED', message: 'unknown write key' });
  return project;
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

/** The project of an admin request's Bearer token: 401 without one or for an unknown one, 403 for a write key. */
export async function requireAdmin(req: FastifyRequest, creds: Credentials): Promise<Project> {
  const auth = req.headers.authorization;
  if (!auth?.startsWith('Bearer ')) throw new AppError({ code: 'UNAUTHORIZED', message: 'send the admin token as "Authorization: Bearer <token>"' });
  const token = auth.slice(7).trim();
  const project = await creds.adminProject(token);
  if (project) return project;
  if (await creds.writeKeyProject(token)) throw new AppError({ code: 'FORBIDDEN', message: 'a write key can only send events; the admin API needs the admin token' });
  throw new AppError({ code: 'UNAUTHORIZED', message: 'unknown admin token' });
}
