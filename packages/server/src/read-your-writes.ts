import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '@strata/core';
import type { AppContext } from './context.ts';

/** Whether `p` settles within `ms`. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => { timer = setTimeout(r, ms, false); });
  try {
    return await Promise.race([p.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The header an ingest answer gives its log position in, and a read may name one with (docs/api.md § Ingest, read-your-writes). */
export const POSITION_HEADER = 'strata-position';

/**
 * A preHandler of every route that reads or writes state (the admin API, targeting, rewards):
 * it waits until every request acknowledged before this one arrived — and the position its
 * `Strata-Position` header names, acknowledged by this Strata — is applied, so that a client
 * reads what it was acknowledged. Past `readWaitMs` the request is refused with 503
 * NOT_YET_APPLIED rather than answered from a view that misses those events. The answer's
 * `Strata-Position` is the position its view includes.
 */
export function waitForApplied(ctx: AppContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const ingest = ctx.ingest;
    // Just after a start, what was acknowledged before it is known once the log's head is read.
    if (!ingest.hasHead && !(await within(ingest.headKnown, ctx.config.readWaitMs))) {
      throw new AppError({ code: 'NOT_YET_APPLIED', message: `the event log cannot be read back yet${ingest.stalled ? ` (${ingest.stalled})` : ''}: what was acknowledged before this start is not known; ask again in a moment` });
    }
    // Acknowledged by this process or, when others append to the log on NATS too, by any (the log's head).
    const target = await ingest.latest();
    const named = req.headers[POSITION_HEADER];
    if (named !== undefined) {
      const text = Array.isArray(named) ? named.join(',') : named;
      if (!/^\d{1,15}$/.test(text.trim())) {
        const message = 'must be a log position, a whole number as an ingest answer gives it';
        throw new AppError({ code: 'VALIDATION_FAILED', message: `the Strata-Position header ${message}`, issues: [{ path: '/headers/strata-position', message }] });
      }
      const position = Number(text.trim());
      if (position > target) {
        const message = `names position ${position}, but no request has been acknowledged past ${target}`;
        throw new AppError({ code: 'VALIDATION_FAILED', message: `the Strata-Position header ${message}`, issues: [{ path: '/headers/strata-position', message }] });
      }
    }
    if (target > ingest.applied && !(await ingest.waitApplied(target, ctx.config.readWaitMs))) {
      const why = ingest.stalled ? `the store is unavailable (${ingest.stalled})` : `${ingest.backlogItems} events wait before them`;
      throw new AppError({ code: 'NOT_YET_APPLIED', message: `events acknowledged up to log position ${target} are not applied yet (applied up to ${ingest.applied}; ${why}); ask again in a moment` });
    }
    void reply.header(POSITION_HEADER, String(ingest.applied));
  };
}

/**
 * A preHandler of the reads of a process of the api role (targeting, the admin API), after
 * `waitForApplied`: the project's definitions counter is read, and the copies of missions, rewards
 * and experiences kept here are dropped when another process changed them (DefinitionsWatch).
 * None on a process of the all role, which makes the changes itself.
 */
export function checkDefinitions(ctx: AppContext): ((req: FastifyRequest) => Promise<void>) | null {
  const definitions = ctx.definitions;
  return definitions ? async (req) => definitions.refresh(req.project.id) : null;
}
