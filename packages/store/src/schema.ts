import type { Generated } from 'kysely';

/**
 * Tables, as Kysely sees them. Every table is keyed by project, and every per-person table
 * by project and profile, so that a later scale-out can partition by either.
 * Times are epoch milliseconds. JSON columns hold text on SQLite and jsonb on PostgreSQL;
 * the store reads them through `readJson` either way.
 */
export interface Database {
  projects: {
    id: string;
    name: string;
    settings: unknown;
    created_at: number;
  };
  /** Credentials (0017; docs/security.md): the SHA-256 of each value, never an admin, server or root secret itself. */
  api_keys: {
    id: string;
    /** Null for the root token (the server's, not a project's). */
    project_id: string | null;
    kind: string;
    label: string;
    hash: string;
    /** The value's first characters (tokenPrefix), to name it in lists and start-up lines. */
    prefix: string;
    /** A write key's value (public by design); null for every other kind. */
    value: string | null;
    created_at: number;
    rotated_at: number | null;
  };
  profiles: {
    id: Generated<number>;
    project_id: string;
    user_id: string | null;
    anonymous_id: string | null;
    traits: unknown;
    /** Event time of the latest write of each trait key: traits merge last-write-wins by event time. */
    traits_at: unknown;
    context: unknown;
    context_at: number | null;
    labels: unknown;
    first_seen: number | null;
    last_seen: number | null;
    created_at: number;
    updated_at: number;
  };
  profile_keys: {
    project_id: string;
    kind: 'u' | 'a';
    key: string;
    profile_id: number;
  };
  events: {
    id: Generated<number>;
    project_id: string;
    profile_id: number;
    message_id: string | null;
    type: string;
    name: string;
    derived: boolean | number;
    properties: unknown;
    /** The shared part of the event's context (see EVENT_OWN_CONTEXT_KEYS): each distinct one is stored once. */
    context_id: number;
    /** The event's own part of its context (page, campaign, referrer). */
    context_own: unknown;
    ts: number;
    received_at: number;
  };
  contexts: {
    id: Generated<number>;
    project_id: string;
    hash: string;
    json: unknown;
  };
  segments: {
    id: string;
    project_id: string;
    name: string;
    description: string;
    condition: unknown;
    template: string | null;
    params: unknown;
    created_at: number;
    updated_at: number;
  };
  segment_includes: { project_id: string; segment_id: string; profile_id: number };
  segment_excludes: { project_id: string; segment_id: string; profile_id: number };
  memberships: { project_id: string; segment_id: string; profile_id: number; since: number };
  ingest_rejections: {
    id: Generated<number>;
    project_id: string;
    received_at: number;
    item_index: number;
    message: string;
    payload: string;
  };
  membership_history: {
    id: Generated<number>;
    project_id: string;
    segment_id: string;
    profile_id: number;
    kind: 'entered' | 'exited';
    at: number;
    /** What caused the change: event, time, manual, definition, merge. */
    reason: string;
  };
  /** Entries and exits per segment and UTC day (day = floor(at / 86,400,000)), kept with membership_history. */
  segment_daily: { project_id: string; segment_id: string; day: number; entered: number; exited: number; shard: number };
  /** The instant up to which the engine has applied everything (events and time) for a project. */
  engine_state: { project_id: string; clock: number };
  points_ledger: {
    id: Generated<number>; project_id: string; profile_id: number; kind: string; amount: number; balance: number;
    reason: string; ref: string | null; at: number;
  };
  points_balances: { project_id: string; profile_id: number; balance: number };
  missions: {
    project_id: string; id: string; name: string; description: string;
    /** JSON array of segment ids; empty: everyone. */
    segment_ids: unknown;
    active: boolean | number; starts_at: number | null; ends_at: number | null;
    /** The goal JSON ({kind, event, where?, target | days, prop?, within?}). */
    goal: unknown;
    points: number; repeatable: boolean | number; cooldown_ms: number; created_at: number; updated_at: number;
  };
  /** One row per (mission, user) once the user has taken part; experiment metrics read it. */
  mission_progress: {
    project_id: string; mission_id: string; profile_id: number; started_at: number; progress: number; completions: number;
    last_completed_at: number | null; updated_at: number;
    /** Start of the current attempt; null: a repeatable mission's next attempt has not begun. */
    attempt_at: number | null;
  };
  /** One row per completion; `ref` (`mission:<id>:<profile>:<n>`) is the points ledger's idempotency ref too. */
  mission_completions: { project_id: string; ref: string; mission_id: string; profile_id: number; n: number; at: number; points: number };
  rewards: {
    project_id: string; id: string; name: string; description: string; type: string; cost: number;
    /** null: unlimited. */
    stock: number | null;
    /** null: no limit per user. */
    per_user_limit: number | null;
    /** JSON array of segment ids; empty: everyone. */
    segment_ids: unknown;
    active: boolean | number; starts_at: number | null; ends_at: number | null; created_at: number; updated_at: number;
  };
  /** A reward's code pool: a code is handed out once, to the redemption that claimed it. */
  reward_codes: { id: Generated<number>; project_id: string; reward_id: string; code: string; redemption_id: number | null; created_at: number };
  /** One row per redemption (experiment metrics and insights read it). `ref`: the client's idempotency key. */
  reward_redemptions: { id: Generated<number>; project_id: string; reward_id: string; profile_id: number; code: string | null; cost: number; at: number; ref: string | null };
  experiences: {
    id: string; project_id: string; key: string; name: string; description: string; variants: string | unknown;
    default_payload: string | unknown | null; active: number | boolean; created_at: number; updated_at: number;
  };
  /** A/B experiments; `arms` is JSON [{key, name, weight, segmentId, from, to}] (docs/experiments.md). */
  experiments: {
    project_id: string; id: string; name: string; description: string; audience_segment_id: string | null; salt: string;
    arms: unknown; control: string; status: 'draft' | 'running' | 'stopped';
    started_at: number | null; stopped_at: number | null; created_at: number; updated_at: number;
  };
  webhooks: {
    id: string;
    project_id: string;
    url: string;
    secret: string;
    /** null: every segment. */
    segment_ids: unknown;
    /** Event kinds delivered, e.g. ["segment.entered", "segment.exited"]. */
    kinds: unknown;
    created_at: number;
  };
  /** Outbound sync targets (docs/export.md); their outbox rows are in webhook_deliveries. */
  destinations: {
    id: string; project_id: string; name: string; kind: string; url: string; secret: string; write_key: string | null;
    /** null: every segment. */
    segment_ids: unknown; batch_size: number; created_at: number; updated_at: number;
    /** The first sync or resync (DestinationSync as JSON); null: never synced. */
    sync: unknown;
  };
  /** The durable outbox: one row per (webhook, message), written with the change it reports. */
  webhook_deliveries: {
    id: Generated<number>;
    project_id: string;
    webhook_id: string;
    /** Stable id sent as `webhook-id`: the same on every retry, for receivers to de-duplicate. */
    message_id: string;
    kind: string;
    payload: string;
    created_at: number;
    next_attempt_at: number;
    attempts: number;
    status: 'pending' | 'delivered' | 'failed';
    last_status: number | null;
    last_error: string | null;
    delivered_at: number | null;
  };
  /** Import jobs (docs/import.md). */
  imports: {
    project_id: string;
    id: string;
    kind: string;
    status: string;
    dry_run: number | boolean;
    rows: number;
    ok: number;
    bad: number;
    /** [{line, reason}], the first 1000 (all of them are in import_bad_rows). */
    bad_rows: unknown;
    summary: unknown;
    error: string | null;
    created_at: number;
    updated_at: number;
    finished_at: number | null;
  };
  /** Ids erased with suppression, as SHA-256 hex of `<project>\u0000<id>` (docs/privacy.md): never the id itself. */
  suppressions: { project_id: string; id_hash: string; created_at: number };
  /** Every bad row of an import job (docs/import.md), by line. */
  import_bad_rows: {
    project_id: string;
    import_id: string;
    line: number;
    reason: string;
  };
  /** Admin changes (docs/api.md, "Audit log"): the credential's prefix, never the credential; JSON snapshots before and after. */
  audit_log: {
    id: Generated<number>;
    project_id: string;
    at: number;
    credential: string;
    action: string;
    resource_type: string;
    resource_id: string;
    before_json: unknown;
    after_json: unknown;
  };
  /**
   * Who writes this database (writer-lease.ts): one row, `name` 'writer', while a `strata serve` holds
   * the lease; the refusal of a second process names its pid, host and start.
   */
  writer_lease: {
    name: string;
    holder_id: string;
    pid: number;
    hostname: string;
    /** The holder's boot and pid namespace (`<boot id>/<pid namespace>`; null where the system does not say): its pid means something only where both are ours. */
    host_id: string | null;
    /** SQLite: the database file the row was written in (`<device>:<inode>`), so that a copy of the file (a backup) does not carry a live-looking lease along. */
    db_file: string | null;
    started_at: number;
    heartbeat_at: number;
  };
  /**
   * How far the membership workers have applied the event log, per partition (log/positions.ts):
   * written in the same transaction as what applying the records wrote, so a restart resumes
   * exactly after the last record applied.
   */
  log_positions: {
    partition: number;
    position: number;
    /** The last segment change (`segment_changes.seq`) applied to the partition's profiles (migration 0027). */
    segment_changes: Generated<number>;
    /** How far reads may take the partition as applied (null: its position); below it while events forwarded from it wait in other partitions (migration 0027). */
    readable: number | null;
    /** The token of the worker that claimed the partition last (null: none has); a worker whose token is gone writes nothing more (migration 0028). */
    owner: Generated<string | null>;
  };
  /** Segment changes made by processes of the api role, for the processes that apply the log (migration 0027). */
  segment_changes: {
    seq: Generated<number>;
    project_id: string;
    segment_ids: unknown;
    /** 'definition', 'manual' (profiles added to an include list) or 'unlist' (a profile taken out of a segment by hand). */
    reason: string;
    profile_ids: unknown;
    /** When it was recorded: read by nothing (a change is applied at the applying engine's own instant); written so that processes of the version before migration 0028 run beside. */
    at: number;
    /** What a change needs beyond segment and profile ids (a user's labels changed: the user and the labels), or null (migration 0028). */
    detail: unknown;
  };
  /** SQLite only: the last id given to rows of a table whose ids must never be given twice (migration 0023). */
  id_sequences: {
    name: string;
    last: number;
  };
  /** Per project, a counter every change to missions, rewards or experiences moves on, in its transaction (migration 0024). */
  definition_versions: {
    project_id: string;
    version: number;
  };
  /** Profiles taken over by another partition's worker (migration 0025): their old worker drops them. */
  profile_moves: {
    id: Generated<number>;
    project_id: string;
    from_partition: number;
    profile_id: number;
  };
  /** The database's identity (one row, made by its migration): what a NATS event log stream is tied to (log/stream-owner.ts). */
  store_identity: {
    singleton: number;
    id: string;
  };
  /** The embedded event log on PostgreSQL (log/sql-log.ts): acknowledged requests not yet trimmed. */
  event_log: {
    position: Generated<number>;
    project_id: string;
    partition: number;
    received_at: number;
    payload: string;
  };
}
