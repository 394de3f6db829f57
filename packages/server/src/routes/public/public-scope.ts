import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import { writeKeyHooks, type Credentials } from '../../auth.ts';
import type { AppContext } from '../../context.ts';
import { registerRateLimit } from '../../rate-limit.ts';
import { checkDefinitions, waitForApplied } from '../../read-your-writes.ts';
import { ingestRoutes } from './ingest.ts';
import { publicRewardRoutes } from './rewards.ts';
import { publicTargetingRoutes } from './targeting.ts';

/**
 * The public API (write key): Segment-compatible ingest, /v1/targeting and reward redemption.
 * It is called from browsers, so CORS is open here, and only here.
 */
export async function publicRoutes(app: FastifyInstance, ctx: AppContext & { creds: Credentials }): Promise<void> {
  await app.register(cors, { origin: '*', methods: ['GET', 'POST', 'OPTIONS'], allowedHeaders: ['Content-Type', 'Authorization', 'X-Write-Key', 'Idempotency-Key', 'X-Retry-Count', 'Strata-Position'], exposedHeaders: ['Strata-Position'], maxAge: 86400 });
  // The write key is checked once for the scope, before validation: a caller without a valid
  // one learns nothing about the request's faults.
  const auth = writeKeyHooks(ctx.creds);
  app.addHook('onRequest', auth.onRequest);
  app.addHook('preValidation', auth.preValidation);
  // Per write key, after its check (STRATA_RATE_LIMIT_WRITE).
  await registerRateLimit(app, 'write', ctx.config.rateLimit.write);
  await app.register(async (s) => ingestRoutes(s, ctx));
  // What a client reads or redeems against includes what it was acknowledged (read-your-writes.ts).
  const applied = waitForApplied(ctx);
  const definitions = checkDefinitions(ctx);
  await app.register(async (s) => {
    s.addHook('preHandler', applied);
    if (definitions) s.addHook('preHandler', definitions);
    await publicTargetingRoutes(s, ctx);
  });
  // Redemption needs no engine: each of its steps holds against concurrent transactions (reward-service.ts), on an api process too.
  await app.register(async (s) => { s.addHook('preHandler', applied); await publicRewardRoutes(s, ctx); });
}
