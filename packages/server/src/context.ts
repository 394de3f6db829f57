import type { Clock, IngestService, MembershipService, SegmentService } from '@strata/engine';
import type { Project, SqlStore } from '@strata/store';
import type { Config } from './config.ts';

/** Everything the HTTP layer talks to; built once at start (or per test). */
export interface AppContext {
  readonly config: Config;
  readonly store: SqlStore;
  readonly clock: Clock;
  readonly membership: MembershipService;
  readonly segments: SegmentService;
  readonly ingest: IngestService;
}

declare module 'fastify' {
  interface FastifyRequest {
    project: Project;
  }
}
