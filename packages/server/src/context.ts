import type { Clock, DestinationDispatcher, ImportService, DestinationService, ExportService, ExperienceService, HygieneService, InsightsService, IngestService, MissionService, PointsService, RewardService, TargetingService, LiveEngine, MembershipService, SegmentService, WebhookDispatcher, WebhookService } from '@strata/engine';
import type { DefinitionFollower, DefinitionsWatch, ExperimentService, UserDataService } from '@strata/engine';
import type { KeyRow, Project, SqlStore, WriterLease } from '@strata/store';
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
  /** Rewards (the bonus shop): definitions, code pools, redemption. */
  readonly rewards: RewardService;
  readonly experiences: ExperienceService;
  readonly insights: InsightsService;
  /** What a user is targeted with (missions, rewards, experiences, points). */
  readonly targeting: TargetingService;
  /**
   * On a process of the api role: the project's definitions counter, read before each targeting
   * answer and each admin read, so that the copies of missions, rewards and experiences kept here
   * are dropped once another process changed them. null on a process of the all role, which makes the changes.
   */
  readonly definitions: DefinitionsWatch | null;
  /**
   * On a process of the all role beside processes of the api role (the log on NATS): applies the
   * segment changes they record and hears of their other definition changes (definition-follower.ts).
   */
  readonly definitionFollower: DefinitionFollower | null;
  /** Missions (quests): definitions and live progress. */
  readonly missions: MissionService;
  /** A/B experiments: arms as segments, results with statistics. */
  readonly experiments: ExperimentService;
  readonly ingest: IngestService;
  readonly webhooks: WebhookService;
  /** Sends the webhook outbox; started by `strata serve`, run by hand in tests. */
  readonly dispatcher: WebhookDispatcher;
  /** Outbound sync destinations (docs/export.md). */
  readonly destinations: DestinationService;
  /** Sends the destinations' outbox rows in batches; started by `strata serve`, run by hand in tests. */
  readonly destinationDispatcher: DestinationDispatcher;
  /** Segment export (CSV / NDJSON streams). */
  readonly exports: ExportService;
  /** Imports of users, events and segment members (docs/import.md). */
  readonly imports: ImportService;
  /** A user's data as a whole: export and erasure (docs/privacy.md). */
  readonly userData: UserDataService;
  /**
   * The store's writer lease, held by `strata serve` for the life of the process (one writer per
   * database: store/src/writer-lease.ts) and released by `stopContext`; absent in tests, whose
   * stores live in their own process.
   */
  readonly writerLease?: WriterLease;
}

declare module 'fastify' {
  interface FastifyRequest {
    project: Project;
    /** The key that authenticated an admin-scope request (admin token or server key). */
    key: KeyRow;
  }
  interface FastifyContextConfig {
    /** The route also takes a server key (docs/security.md): only points adjustments and mission completion. */
    serverKey?: boolean;
  }
}
