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

/** The write key of an ingest request: Basic auth user, `X-Write-Key`, or `writeKey` in the body. */
export function writeKeyOf(req: FastifyRequest): string | null {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Basic ')) {
    const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
    const user = decoded.includes(':') ? decoded.slice(0, decoded.indexOf(':')) : decoded;
    if (user) return user;
  }
  const header = req.headers['x-write-key'];
  if (typeof header === 'string' && header) return header;
  const body = req.body as { writeKey?: unknown } | undefined;
  if (body && typeof body === 'object' && typeof body.writeKey === 'string' && body.writeKey) return body.writeKey;
  return null;
}

export async function requireWriteKey(req: FastifyRequest, creds: Credentials): Promise<Project> {
  const key = writeKeyOf(req);
  if (!key) throw new AppError({ code: 'UNAUTHORIZED', message: 'no write key: send it as the Basic auth user name, an X-Write-Key header or "writeKey" in the body' });
  const project = await creds.writeKeyProject(key);
  if (!project) throw new AppError({ code: 'UNAUTHORIZED', message: 'unknown write key' });
  return project;
}

export async function requireAdmin(req: FastifyRequest, creds: Credentials): Promise<Project> {
  const auth = req.headers.authorization;
  if (!auth?.startsWith('Bearer ')) throw new AppError({ code: 'UNAUTHORIZED', message: 'send the admin token as "Authorization: Bearer <token>"' });
  const token = auth.slice(7).trim();
  const project = await creds.adminProject(token);
  if (project) return project;
  if (await creds.writeKeyProject(token)) throw new AppError({ code: 'FORBIDDEN', message: 'a write key can only send events; the admin API needs the admin token' });
  throw new AppError({ code: 'UNAUTHORIZED', message: 'unknown admin token' });
}
