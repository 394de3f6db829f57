import type { Clock, HygieneService, IngestService, PointsService, LiveEngine, MembershipService, SegmentService, WebhookDispatcher, WebhookService } from '@strata/engine';
import type { Project, SqlStore } from '@strata/store';
import type { Config } from './config.ts';

/** Everything the HTTP layer talks to; built once at start (or per test). */
export interface AppContext {
  readonly config: Config;
  readonly store: SqlStore;
  readonly clock: Clock;
  readonly membership: MembershipService;
  /** The live membership engine: every membership change goes through it. */
  readonly engine: LiveEngine;
  readonly segments: SegmentService;
  /** Warnings, overlap and explanations. */
  readonly hygiene: HygieneService;
  /** Points balances and ledger. */
  readonly points: PointsService;
  readonly ingest: IngestService;
  readonly webhooks: WebhookService;
  /** Sends the webhook outbox; started by `strata serve`, run by hand in tests. */
  readonly dispatcher: WebhookDispatcher;
}

declare module 'fastify' {
  interface FastifyRequest {
    project: Project;
  }
}
