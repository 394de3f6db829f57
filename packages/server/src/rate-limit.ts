import { createHash } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '@strata/core';
import { writeKeyOf } from './auth.ts';

export type RateLimitKind = 'write' | 'admin';

const SETTINGS: Record<RateLimitKind, { env: string; credential: string }> = {
  write: { env: 'STRATA_RATE_LIMIT_WRITE', credential: 'write key' },
  admin: { env: 'STRATA_RATE_LIMIT_ADMIN', credential: 'admin token' },
};

/** The credential string a request presents: the write key (public) or the Bearer token (admin). */
function credentialOf(kind: RateLimitKind, req: FastifyRequest): string | null {
  if (kind === 'write') return writeKeyOf(req);
  const auth = req.headers.authorization;
  return auth?.startsWith('Bearer ') ? auth.slice(7).trim() : null;
}

/**
 * Limits a scope's requests to `perMinute` per credential (@fastify/rate-limit, in the memory
 * of this instance): keyed by a hash of the credential string the request presents — a write
 * key, or an admin token — not by its address (a write key is shared by every browser of a
 * site, and proxies hide addresses) and not by its project (one project may have several keys).
 * The check runs after the scope's authentication, so only a valid credential spends its budget.
 * Past the limit: 429 RATE_LIMITED with Retry-After (seconds) and X-RateLimit-* headers.
 * `perMinute` 0: no limit. Register it in the scope before its routes.
 */
export async function registerRateLimit(app: FastifyInstance, kind: RateLimitKind, perMinute: number): Promise<void> {
  if (perMinute <= 0) return;
  const { env, credential } = SETTINGS[kind];
  await app.register(rateLimit, {
    global: true,
    max: perMinute,
    timeWindow: 60_000,
    // The public scope reads a write key from the body too, checked in preValidation (auth.ts).
    hook: kind === 'write' ? 'preValidation' : 'onRequest',
    keyGenerator: (req) => {
      const c = credentialOf(kind, req);
      // Authentication has refused requests without one; a key for the type checker's sake.
      return `${kind}:${c === null ? 'none' : createHash('sha256').update(c).digest('base64url')}`;
    },
    errorResponseBuilder: (_req, ctx) => new AppError({
      code: 'RATE_LIMITED',
      message: `rate limit ${env} = ${ctx.max} requests per minute per ${credential} reached; retry in ${Math.max(1, Math.ceil(ctx.ttl / 1000))} s`,
    }),
  });
}
