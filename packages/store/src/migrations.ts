import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { DAY_MS } from '@strata/core';
import { randomBytes } from 'node:crypto';
import { newKeyId, hashToken, tokenPrefix } from './key-store.ts';
import type { Database } from './schema.ts';

export type StoreDialect = 'sqlite' | 'postgres';

/** DDL that differs by dialect: column types and the SQL functions conditions compile to. */
const types = (d: StoreDialect) => ({
  json: d === 'sqlite' ? 'TEXT' : 'JSONB',
  id: d === 'sqlite' ? 'INTEGER PRIMARY KEY' : 'BIGSERIAL PRIMARY KEY',
  ref: d === 'sqlite' ? 'INTEGER' : 'BIGINT',
  ms: d === 'sqlite' ? 'INTEGER' : 'BIGINT',
  bool: d === 'sqlite' ? 'INTEGER' : 'BOOLEAN',
  emptyObject: d === 'sqlite' ? `'{}'` : `'{}'::jsonb`,
  emptyArray: d === 'sqlite' ? `'[]'` : `'[]'::jsonb`,
});

function initial(d: StoreDialect): string[] {
  const t = types(d);
  return [
    `CREATE TABLE projects (
      id TEXT PRIMARY KEY, name TEXT NOT NULL, write_key TEXT NOT NULL UNIQUE,
      admin_token_hash TEXT NOT NULL UNIQUE, settings ${t.json} NOT NULL DEFAULT ${t.emptyObject}, created_at ${t.ms} NOT NULL)`,
    `CREATE TABLE profiles (
      id ${t.id}, project_id TEXT NOT NULL, user_id TEXT, anonymous_id TEXT,
      traits ${t.json} NOT NULL DEFAULT ${t.emptyObject}, traits_at ${t.json} NOT NULL DEFAULT ${t.emptyObject},
      context ${t.json} NOT NULL DEFAULT ${t.emptyObject},
      context_at ${t.ms}, labels ${t.json} NOT NULL DEFAULT ${t.emptyArray},
      first_seen ${t.ms}, last_seen ${t.ms}, created_at ${t.ms} NOT NULL, updated_at ${t.ms} NOT NULL)`,
    `CREATE INDEX profiles_project ON profiles (project_id, id)`,
    `CREATE TABLE profile_keys (
      project_id TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, profile_id ${t.ref} NOT NULL,
      PRIMARY KEY (project_id, kind, key))`,
    `CREATE INDEX profile_keys_profile ON profile_keys (project_id, profile_id)`,
    `CREATE TABLE events (
      id ${t.id}, project_id TEXT NOT NULL, profile_id ${t.ref} NOT NULL, message_id TEXT,
      type TEXT NOT NULL, name TEXT NOT NULL, derived ${t.bool} NOT NULL,
      properties ${t.json} NOT NULL, context_id ${t.ref} NOT NULL, context_own ${t.json} NOT NULL, ts ${t.ms} NOT NULL, received_at ${t.ms} NOT NULL)`,
    `CREATE TABLE contexts (id ${t.id}, project_id TEXT NOT NULL, hash TEXT NOT NULL, json ${t.json} NOT NULL)`,
    `CREATE UNIQUE INDEX contexts_hash ON contexts (project_id, hash)`,
    `CREATE UNIQUE INDEX events_message ON events (project_id, message_id)`,
    `CREATE INDEX events_profile ON events (project_id, profile_id, ts)`,
    `CREATE INDEX events_name ON events (project_id, name, ts, profile_id)`,
    `CREATE TABLE segments (
      id TEXT NOT NULL, project_id TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
      condition ${t.json}, template TEXT, params ${t.json}, created_at ${t.ms} NOT NULL, updated_at ${t.ms} NOT NULL,
      PRIMARY KEY (project_id, id))`,
    `CREATE TABLE segment_includes (project_id TEXT NOT NULL, segment_id TEXT NOT NULL, profile_id ${t.ref} NOT NULL,
      PRIMARY KEY (project_id, segment_id, profile_id))`,
    `CREATE TABLE segment_excludes (project_id TEXT NOT NULL, segment_id TEXT NOT NULL, profile_id ${t.ref} NOT NULL,
      PRIMARY KEY (project_id, segment_id, profile_id))`,
    `CREATE TABLE memberships (project_id TEXT NOT NULL, segment_id TEXT NOT NULL, profile_id ${t.ref} NOT NULL, since ${t.ms} NOT NULL,
      PRIMARY KEY (project_id, segment_id, profile_id))`,
    `CREATE INDEX memberships_profile ON memberships (project_id, profile_id)`,
    `CREATE TABLE ingest_rejections (id ${t.id}, project_id TEXT NOT NULL, received_at ${t.ms} NOT NULL,
      item_index INTEGER NOT NULL, message TEXT NOT NULL, payload TEXT NOT NULL)`,
    `CREATE INDEX ingest_rejections_project ON ingest_rejections (project_id, id)`,
    ...(d === 'postgres' ? POSTGRES_FUNCTIONS : []),
  ];
}

/** The live engine: membership history, the engine's clock, webhooks and their durable outbox. */
function liveEngine(d: StoreDialect): string[] {
  const t = types(d);
  return [
    `CREATE TABLE membership_history (id ${t.id}, project_id TEXT NOT NULL, segment_id TEXT NOT NULL, profile_id ${t.ref} NOT NULL,
      kind TEXT NOT NULL, at ${t.ms} NOT NULL, reason TEXT NOT NULL)`,
    `CREATE INDEX membership_history_segment ON membership_history (project_id, segment_id, id)`,
    `CREATE INDEX membership_history_profile ON membership_history (project_id, profile_id, id)`,
    `CREATE TABLE engine_state (project_id TEXT PRIMARY KEY, clock ${t.ms} NOT NULL)`,
    `CREATE TABLE webhooks (id TEXT NOT NULL, project_id TEXT NOT NULL, url TEXT NOT NULL, secret TEXT NOT NULL,
      segment_ids ${t.json}, kinds ${t.json} NOT NULL, created_at ${t.ms} NOT NULL, PRIMARY KEY (project_id, id))`,
    `CREATE TABLE webhook_deliveries (id ${t.id}, project_id TEXT NOT NULL, webhook_id TEXT NOT NULL, message_id TEXT NOT NULL,
      kind TEXT NOT NULL, payload TEXT NOT NULL, created_at ${t.ms} NOT NULL, next_attempt_at ${t.ms} NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL, last_status INTEGER, last_error TEXT, delivered_at ${t.ms})`,
    `CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at)`,
    `CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (project_id, webhook_id, id)`,
  ];
}

/** Loyalty: the points ledger (append-only) and each user's balance, which can never go negative. */
function points(d: StoreDialect): string[] {
  const t = types(d);
  return [
    `CREATE TABLE points_ledger (id ${t.id}, project_id TEXT NOT NULL, profile_id ${t.ref} NOT NULL, kind TEXT NOT NULL,
      amount ${t.ms} NOT NULL, balance ${t.ms} NOT NULL, reason TEXT NOT NULL, ref TEXT, at ${t.ms} NOT NULL)`,
    `CREATE INDEX points_ledger_profile ON points_ledger (project_id, profile_id, id)`,
    // One entry per idempotency reference (a mission completion, a redemption): retries add nothing.
    `CREATE UNIQUE INDEX points_ledger_ref ON points_ledger (project_id, ref)`,
    `CREATE TABLE points_balances (project_id TEXT NOT NULL, profile_id ${t.ref} NOT NULL, balance ${t.ms} NOT NULL CHECK (balance >= 0),
      PRIMARY KEY (project_id, profile_id))`,
  ];
}

/**
 * Missions (quests), each user's progress on them and the completion log. `mission_progress`
 * is read by experiment metrics: keep its columns.
 */
function missions(d: StoreDialect): string[] {
  const t = types(d);
  const float = d === 'sqlite' ? 'REAL' : 'DOUBLE PRECISION';
  return [
    `CREATE TABLE missions (project_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
      segment_ids ${t.json} NOT NULL DEFAULT ${t.emptyArray}, active ${t.bool} NOT NULL, starts_at ${t.ms}, ends_at ${t.ms}, goal ${t.json} NOT NULL,
      points ${t.ms} NOT NULL CHECK (points >= 0), repeatable ${t.bool} NOT NULL, cooldown_ms ${t.ms} NOT NULL DEFAULT 0,
      created_at ${t.ms} NOT NULL, updated_at ${t.ms} NOT NULL, PRIMARY KEY (project_id, id))`,
    `CREATE TABLE mission_progress (project_id TEXT NOT NULL, mission_id TEXT NOT NULL, profile_id ${t.ref} NOT NULL, started_at ${t.ms} NOT NULL,
      progress ${float} NOT NULL, completions INTEGER NOT NULL DEFAULT 0, last_completed_at ${t.ms}, updated_at ${t.ms} NOT NULL,
      PRIMARY KEY (project_id, mission_id, profile_id))`,
    `CREATE INDEX mission_progress_profile ON mission_progress (project_id, profile_id)`,
    // One row per completion, keyed by the ref its points carry: a completion is recorded (and paid) once.
    `CREATE TABLE mission_completions (project_id TEXT NOT NULL, ref TEXT NOT NULL, mission_id TEXT NOT NULL, profile_id ${t.ref} NOT NULL,
      n INTEGER NOT NULL, at ${t.ms} NOT NULL, points ${t.ms} NOT NULL, PRIMARY KEY (project_id, ref))`,
    `CREATE INDEX mission_completions_mission ON mission_completions (project_id, mission_id, at)`,
    `CREATE INDEX mission_completions_profile ON mission_completions (project_id, profile_id)`,
  ];
}

/** Experiences: a key with variants targeted at segments (first matching by priority wins) and a default. */
function experiences(d: StoreDialect): string[] {
  const t = types(d);
  return [
    `CREATE TABLE experiences (id TEXT NOT NULL, project_id TEXT NOT NULL, key TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
      variants ${t.json} NOT NULL, default_payload ${t.json}, active ${t.bool} NOT NULL, created_at ${t.ms} NOT NULL, updated_at ${t.ms} NOT NULL,
      PRIMARY KEY (project_id, id))`,
    `CREATE UNIQUE INDEX experiences_key ON experiences (project_id, key)`,
  ];
}

/**
 * Rewards (the bonus shop): rewards targeted at segments, their code pools, and redemptions.
 * `reward_redemptions` is read by experiment metrics and insights: keep its columns.
 */
function rewards(d: StoreDialect): string[] {
  const t = types(d);
  return [
    `CREATE TABLE rewards (project_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
      type TEXT NOT NULL, cost INTEGER NOT NULL CHECK (cost >= 0), stock INTEGER CHECK (stock >= 0), per_user_limit INTEGER CHECK (per_user_limit >= 1),
      segment_ids ${t.json} NOT NULL DEFAULT ${t.emptyArray}, active ${t.bool} NOT NULL, starts_at ${t.ms}, ends_at ${t.ms},
      created_at ${t.ms} NOT NULL, updated_at ${t.ms} NOT NULL, PRIMARY KEY (project_id, id))`,
    // A code pool: redemption_id is null until the code is handed out.
    `CREATE TABLE reward_codes (id ${t.id}, project_id TEXT NOT NULL, reward_id TEXT NOT NULL, code TEXT NOT NULL,
      redemption_id ${t.ref}, created_at ${t.ms} NOT NULL)`,
    `CREATE UNIQUE INDEX reward_codes_code ON reward_codes (project_id, reward_id, code)`,
    `CREATE INDEX reward_codes_free ON reward_codes (project_id, reward_id, redemption_id, id)`,
    `CREATE TABLE reward_redemptions (id ${t.id}, project_id TEXT NOT NULL, reward_id TEXT NOT NULL, profile_id ${t.ref} NOT NULL,
      code TEXT, cost INTEGER NOT NULL, at ${t.ms} NOT NULL, ref TEXT)`,
    `CREATE INDEX reward_redemptions_profile ON reward_redemptions (project_id, profile_id)`,
    `CREATE INDEX reward_redemptions_reward ON reward_redemptions (project_id, reward_id)`,
  ];
}

/**
 * Experiments (A/B): the definition only. Each arm is an ordinary segment (`arms[].segmentId`,
 * template `experiment/<id>`); exposure is read from those segments' membership history.
 */
function experiments(d: StoreDialect): string[] {
  const t = types(d);
  return [
    `CREATE TABLE experiments (project_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
      audience_segment_id TEXT, salt TEXT NOT NULL, arms ${t.json} NOT NULL, control TEXT NOT NULL, status TEXT NOT NULL,
      started_at ${t.ms}, stopped_at ${t.ms}, created_at ${t.ms} NOT NULL, updated_at ${t.ms} NOT NULL, PRIMARY KEY (project_id, id))`,
    `CREATE UNIQUE INDEX experiments_name ON experiments (project_id, name)`,
  ];
}

/**
 * Profile ids are never used twice. A merge deletes the merged-away profile; SQLite's plain
 * INTEGER PRIMARY KEY would hand the highest deleted id to the next new profile, which would
 * then inherit what is keyed by that id elsewhere (mission refs, membership history).
 * AUTOINCREMENT never reuses. (PostgreSQL's sequences never did.)
 */
function profileIds(d: StoreDialect): string[] {
  if (d === 'postgres') return [];
  return [
    `CREATE TABLE profiles_v2 (
      id INTEGER PRIMARY KEY AUTOINCREMENT, project_id TEXT NOT NULL, user_id TEXT, anonymous_id TEXT,
      traits TEXT NOT NULL DEFAULT '{}', traits_at TEXT NOT NULL DEFAULT '{}', context TEXT NOT NULL DEFAULT '{}',
      context_at INTEGER, labels TEXT NOT NULL DEFAULT '[]', first_seen INTEGER, last_seen INTEGER,
      created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)`,
    `INSERT INTO profiles_v2 (id, project_id, user_id, anonymous_id, traits, traits_at, context, context_at, labels, first_seen, last_seen, created_at, updated_at)
      SELECT id, project_id, user_id, anonymous_id, traits, traits_at, context, context_at, labels, first_seen, last_seen, created_at, updated_at FROM profiles`,
    `DROP TABLE profiles`,
    `ALTER TABLE profiles_v2 RENAME TO profiles`,
    `CREATE INDEX profiles_project ON profiles (project_id, id)`,
  ];
}

/** Import jobs: status, progress and the report of bad rows (the first 1000; `bad` counts all). */
function imports(d: StoreDialect): string[] {
  const t = types(d);
  return [
    `CREATE TABLE imports (project_id TEXT NOT NULL, id TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL, dry_run ${t.bool} NOT NULL,
      rows ${t.ms} NOT NULL DEFAULT 0, ok ${t.ms} NOT NULL DEFAULT 0, bad ${t.ms} NOT NULL DEFAULT 0, bad_rows ${t.json} NOT NULL DEFAULT ${t.emptyArray},
      summary ${t.json} NOT NULL DEFAULT ${t.emptyObject}, error TEXT, created_at ${t.ms} NOT NULL, updated_at ${t.ms} NOT NULL, finished_at ${t.ms},
      PRIMARY KEY (project_id, id))`,
  ];
}

/**
 * Every bad row of an import job, keyed by its line: the job's `bad` counts exactly these (they are
 * written in the transaction of the progress update that counts them); `imports.bad_rows` keeps the first 1000 inline.
 */
function importBadRows(d: StoreDialect): string[] {
  const t = types(d);
  return [
    // SQLite: WITHOUT ROWID, the rows live in the primary key's b-tree (one b-tree to write, not a table and its index).
    `CREATE TABLE import_bad_rows (project_id TEXT NOT NULL, import_id TEXT NOT NULL, line ${t.ms} NOT NULL, reason TEXT NOT NULL,
      PRIMARY KEY (project_id, import_id, line))${d === 'sqlite' ? ' WITHOUT ROWID' : ''}`,
  ];
}

/**
 * The first characters of the admin token, kept beside its hash so that a start can say which
 * token is in force without the token itself (NULL for a token stored before this column).
 */
function adminTokenPrefix(): string[] {
  return ['ALTER TABLE projects ADD COLUMN admin_token_prefix TEXT'];
}

/**
 * PostgreSQL versions of the helpers that SQLite gets as registered JavaScript functions
 * (sqlite.ts). Each matches core's JavaScript exactly (values.ts, bucket.ts) and never raises.
 */
const POSTGRES_FUNCTIONS = [
  `CREATE OR REPLACE FUNCTION strata_num(s text) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
     SELECT CASE WHEN length(s) <= 300 AND s ~ '^-?[0-9]+(\\.[0-9]+)?$' THEN s::float8 END $$`,
  `CREATE OR REPLACE FUNCTION strata_time(s text) RETURNS float8 LANGUAGE plpgsql IMMUTABLE AS $$
   DECLARE m text[]; ms numeric; off int := 0;
   BEGIN
     IF s IS NULL THEN RETURN NULL; END IF;
     m := regexp_match(s, '^(\\d{4})-(\\d{2})-(\\d{2})(?:T(\\d{2}):(\\d{2})(?::(\\d{2})(?:\\.(\\d{1,3}))?)?(Z|[+-]\\d{2}:\\d{2})?)?$');
     IF m IS NULL OR m[1]::int < 1 THEN RETURN NULL; END IF;
     IF coalesce(m[4], '0')::int > 23 OR coalesce(m[5], '0')::int > 59 OR coalesce(m[6], '0')::int > 59 THEN RETURN NULL; END IF;
     ms := extract(epoch FROM make_timestamp(m[1]::int, m[2]::int, m[3]::int, coalesce(m[4], '0')::int, coalesce(m[5], '0')::int,
             coalesce(m[6], '0')::float8 + coalesce(rpad(m[7], 3, '0'), '0')::float8 / 1000)) * 1000;
     IF m[8] IS NOT NULL AND m[8] <> 'Z' THEN
       IF substr(m[8], 2, 2)::int > 23 OR substr(m[8], 5, 2)::int > 59 THEN RETURN NULL; END IF;
       off := (substr(m[8], 2, 2)::int * 60 + substr(m[8], 5, 2)::int) * (CASE WHEN left(m[8], 1) = '-' THEN -1 ELSE 1 END);
     END IF;
     RETURN round(ms) - off * 60000;
   EXCEPTION WHEN others THEN RETURN NULL;
   END $$`,
  `CREATE OR REPLACE FUNCTION strata_fnv1a32(s text) RETURNS bigint LANGUAGE plpgsql IMMUTABLE STRICT AS $$
   DECLARE h bigint := 2166136261; c int;
   BEGIN
     FOR i IN 1..length(s) LOOP
       c := ascii(substr(s, i, 1));
       IF c > 65535 THEN
         c := c - 65536;
         h := ((h # (55296 + (c >> 10))) * 16777619) & 4294967295;
         h := ((h # (56320 + (c & 1023))) * 16777619) & 4294967295;
       ELSE
         h := ((h # c) * 16777619) & 4294967295;
       END IF;
     END LOOP;
     RETURN h;
   END $$`,
  `CREATE OR REPLACE FUNCTION strata_float(n numeric) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
     SELECT CASE WHEN n IS NULL THEN NULL WHEN n > 1.7976931348623157e308 THEN 'Infinity'::float8
       WHEN n < -1.7976931348623157e308 THEN '-Infinity'::float8 ELSE n::float8 END $$`,
  `CREATE OR REPLACE FUNCTION strata_bucket(salt text, id text) RETURNS int LANGUAGE sql IMMUTABLE STRICT AS $$
     SELECT (strata_fnv1a32(strata_fnv1a32(salt || id)::text) % 10000)::int $$`,
];

/**
 * The start of each user's current attempt at a mission (docs/missions.md, "Who may take
 * part"): null while a repeatable mission's next attempt has not begun. Rows that exist already
 * keep counting as they did: from their start, unless the last attempt was completed with
 * nothing after it.
 */
function missionAttempts(d: StoreDialect): string[] {
  return [
    `ALTER TABLE mission_progress ADD COLUMN attempt_at ${types(d).ms}`,
    `UPDATE mission_progress SET attempt_at = started_at WHERE last_completed_at IS NULL OR progress > 0`,
  ];
}

/** Outbound sync destinations (their outbox is webhook_deliveries, keyed by destination id). */
function destinations(d: StoreDialect): string[] {
  const t = types(d);
  return [
    `CREATE TABLE destinations (id TEXT NOT NULL, project_id TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, url TEXT NOT NULL,
      secret TEXT NOT NULL, write_key TEXT, segment_ids ${t.json}, batch_size INTEGER NOT NULL, created_at ${t.ms} NOT NULL, updated_at ${t.ms} NOT NULL,
      PRIMARY KEY (project_id, id))`,
  ];
}

/** A destination's first sync runs as a job whose progress is stored with each page it enqueues. */
function destinationSync(d: StoreDialect): string[] {
  return [`ALTER TABLE destinations ADD COLUMN sync ${types(d).json}`];
}

/**
 * Entries and exits per segment and UTC day, kept with the history (same transaction) so that
 * size-over-time reads a few rows per segment instead of scanning its history; filled from the
 * history that already exists.
 */
function segmentDaily(d: StoreDialect): string[] {
  const t = types(d);
  return [
    `CREATE TABLE segment_daily (project_id TEXT NOT NULL, segment_id TEXT NOT NULL, day ${t.ms} NOT NULL,
      entered ${t.ms} NOT NULL, exited ${t.ms} NOT NULL, PRIMARY KEY (project_id, segment_id, day))`,
    `INSERT INTO segment_daily (project_id, segment_id, day, entered, exited)
      SELECT project_id, segment_id, at / ${DAY_MS}, sum(CASE WHEN kind = 'entered' THEN 1 ELSE 0 END), sum(CASE WHEN kind = 'exited' THEN 1 ELSE 0 END)
      FROM membership_history GROUP BY project_id, segment_id, at / ${DAY_MS}`,
  ];
}

/**
 * Ids erased with suppression: only a SHA-256 of (project, id) is kept, never the id, so ingest
 * can drop later messages naming it (docs/privacy.md).
 */
function suppressions(d: StoreDialect): string[] {
  return [
    `CREATE TABLE suppressions (project_id TEXT NOT NULL, id_hash TEXT NOT NULL, created_at ${types(d).ms} NOT NULL, PRIMARY KEY (project_id, id_hash))`,
  ];
}

/**
 * Events by their shared context: an erasure deletes the contexts only the erased person's events
 * used, and must find whether any other event uses one without scanning every event.
 */
function eventsByContext(): string[] {
  return ['CREATE INDEX events_context ON events (project_id, context_id)'];
}

/**
 * The audit log (docs/api.md, "Audit log"): one row per admin change, newest read first by id.
 * `credential` is the token's prefix (tokenPrefix), never the token; before/after are JSON snapshots.
 */
function auditLog(d: StoreDialect): string[] {
  const t = types(d);
  return [
    `CREATE TABLE audit_log (id ${t.id}, project_id TEXT NOT NULL, at ${t.ms} NOT NULL, credential TEXT NOT NULL, action TEXT NOT NULL,
      resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, before_json ${t.json}, after_json ${t.json})`,
    `CREATE INDEX audit_log_project ON audit_log (project_id, id)`,
    `CREATE INDEX audit_log_resource ON audit_log (project_id, resource_type, resource_id, id)`,
  ];
}

/**
 * The writer lease (writer-lease.ts): who writes this database, so that a second process can be
 * refused naming it. The lease is taken before migrations run (a refused start changes nothing), so
 * on a database migrated before 0019 the lease creates this table itself: IF NOT EXISTS, here and there.
 */
export function writerLeaseTable(d: StoreDialect): string {
  const t = types(d);
  return `CREATE TABLE IF NOT EXISTS writer_lease (name TEXT PRIMARY KEY, holder_id TEXT NOT NULL, pid INTEGER NOT NULL,
    hostname TEXT NOT NULL, host_id TEXT, db_file TEXT, started_at ${t.ms} NOT NULL, heartbeat_at ${t.ms} NOT NULL)`;
}

/**
 * Several keys per project (docs/security.md): `api_keys` holds every credential by the SHA-256
 * of its value. Each project's admin token (already a hash) and write key move into it as its
 * "start-up" keys, so that they keep working, and leave `projects`.
 */
function keys(d: StoreDialect): Migration {
  const t = types(d);
  return {
    async up(db) {
      await sql.raw(`CREATE TABLE api_keys (id TEXT PRIMARY KEY, project_id TEXT, kind TEXT NOT NULL, label TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL, value TEXT, created_at ${t.ms} NOT NULL, rotated_at ${t.ms})`).execute(db);
      await sql.raw('CREATE INDEX api_keys_project ON api_keys (project_id, kind)').execute(db);
      const projects = await sql<{ id: string; write_key: string; admin_token_hash: string; admin_token_prefix: string | null; created_at: number | string }>`
        SELECT id, write_key, admin_token_hash, admin_token_prefix, created_at FROM projects ORDER BY id`.execute(db);
      for (const p of projects.rows) {
        const at = Number(p.created_at);
        // An admin token that is also the write key (the previous version allowed STRATA_ADMIN_TOKEN = STRATA_WRITE_KEY)
        // stays a write key only: that value is public. The next start makes the default project an admin token (ensureDefaultProject).
        if (p.admin_token_hash !== hashToken(p.write_key)) {
          await sql`INSERT INTO api_keys (id, project_id, kind, label, hash, prefix, value, created_at, rotated_at)
            VALUES (${newKeyId()}, ${p.id}, 'admin', ${STARTUP_LABEL.admin}, ${p.admin_token_hash}, ${p.admin_token_prefix ?? '(set before prefixes were kept)'}, NULL, ${at}, NULL)`.execute(db);
        }
        await sql`INSERT INTO api_keys (id, project_id, kind, label, hash, prefix, value, created_at, rotated_at)
          VALUES (${newKeyId()}, ${p.id}, 'write', ${STARTUP_LABEL.write}, ${hashToken(p.write_key)}, ${tokenPrefix(p.write_key)}, ${p.write_key}, ${at}, NULL)`.execute(db);
      }
      if (d === 'postgres') {
        await sql.raw('ALTER TABLE projects DROP COLUMN write_key, DROP COLUMN admin_token_hash, DROP COLUMN admin_token_prefix').execute(db);
        return;
      }
      // SQLite cannot drop a UNIQUE column: the table is made anew.
      for (const s of [
        `CREATE TABLE projects_v2 (id TEXT PRIMARY KEY, name TEXT NOT NULL, settings TEXT NOT NULL DEFAULT '{}', created_at INTEGER NOT NULL)`,
        'INSERT INTO projects_v2 (id, name, settings, created_at) SELECT id, name, settings, created_at FROM projects',
        'DROP TABLE projects',
        'ALTER TABLE projects_v2 RENAME TO projects',
      ]) await sql.raw(s).execute(db);
    },
  };
}

/**
 * The event log's tables: how far it is applied (`log_positions`), and on PostgreSQL the log itself
 * (`event_log`; the embedded SQLite store keeps its log in a file of its own, log/sqlite-log.ts).
 */
function eventLog(d: StoreDialect): string[] {
  const t = types(d);
  return [
    `CREATE TABLE log_positions (partition INTEGER PRIMARY KEY, position ${t.ms} NOT NULL)`,
    // On SQLite it stays empty (the log is its own file), but exists so that a project's deletion names the same tables on both.
    `CREATE TABLE event_log (position ${t.id}, project_id TEXT NOT NULL, partition INTEGER NOT NULL,
      received_at ${t.ms} NOT NULL, payload TEXT NOT NULL)`,
    'CREATE INDEX event_log_partition ON event_log (partition, position)',
  ];
}

/**
 * Late events without random index writes (docs/architecture.md, "Events by name"). The index
 * that windowed reads take was keyed (project_id, name, ts, …): events that arrive out of time
 * order (an offline queue flushed, a backfill) each dirtied a random page of it, and ingest slowed
 * as the table grew. Its key is now the later of the event's time and its arrival — in arrival
 * order for late events, as the time is for live ones — then the time and the profile, so that
 * windowed counts still read the index alone (PostgreSQL: `received_at` included for that). The
 * key is never below the time, so a read bounded below by time seeks on it (`seenFrom` of the SQL
 * dialects, which must write the expression exactly as here).
 */
function eventsByArrival(d: StoreDialect): string[] {
  return [
    'DROP INDEX events_name',
    d === 'sqlite'
      ? 'CREATE INDEX events_name ON events (project_id, name, max(ts, received_at), ts, profile_id)'
      : 'CREATE INDEX events_name ON events (project_id, name, greatest(ts, received_at), ts, profile_id) INCLUDE (received_at)',
  ];
}

/**
 * The database's identity: a random id made once, by this migration, that the event log on NATS
 * writes into its stream when it makes it, so that a stream is never applied to another database
 * than its own (log/stream-owner.ts). One row, never changed.
 */
function storeIdentity(): string[] {
  return [
    'CREATE TABLE store_identity (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), id TEXT NOT NULL)',
    `INSERT INTO store_identity (singleton, id) VALUES (1, '${randomBytes(12).toString('base64url')}')`,
  ];
}

/**
 * History ids that are never given twice (SQLite). A history entry's id names the webhook and
 * destination messages of its change (`msg_<id>_<target>`, the `webhook-id` receivers de-duplicate
 * by), but SQLite gives a new row the highest rowid left plus one: once an erasure deleted the
 * entries holding the latest ids, the next changes took those ids again, and a receiver that had
 * seen them dropped the new messages. The last id given is kept here and rows are written with
 * theirs (`MembershipStore.recordHistory`). PostgreSQL's sequence never goes back: nothing to do.
 * Ids an erasure deleted before this migration left no trace: the count starts from the highest left.
 */
function historyIds(d: StoreDialect): string[] {
  if (d !== 'sqlite') return [];
  return [
    'CREATE TABLE id_sequences (name TEXT PRIMARY KEY, last INTEGER NOT NULL)',
    `INSERT INTO id_sequences (name, last) SELECT 'membership_history', COALESCE(MAX(id), 0) FROM membership_history`,
  ];
}

/**
 * A counter per project, moved on by every change to what targeting reads of its definitions —
 * missions, rewards (their stock and code pools too) and experiences — in the change's own
 * transaction, so that a process that keeps them in memory without making the changes (the api
 * role) knows with one read whether its copy is still the project's (with the project's creation
 * instant: a project deleted and made again under the same id counts from 0 again).
 */
function definitionVersions(d: StoreDialect): string[] {
  return [`CREATE TABLE definition_versions (project_id TEXT PRIMARY KEY, version ${types(d).ms} NOT NULL)`];
}

/**
 * The per-day counts kept per writer (`shard`: StoreHandle.dailyShard), so that workers applying
 * partitions at once do not wait on one another's row of a segment and day; reads sum the rows.
 */
function segmentDailyShards(d: StoreDialect): string[] {
  const t = types(d);
  if (d === 'postgres') {
    return [
      `ALTER TABLE segment_daily ADD COLUMN shard INTEGER NOT NULL DEFAULT 0`,
      `ALTER TABLE segment_daily DROP CONSTRAINT segment_daily_pkey`,
      `ALTER TABLE segment_daily ADD PRIMARY KEY (project_id, segment_id, day, shard)`,
    ];
  }
  return [
    `CREATE TABLE segment_daily_v2 (project_id TEXT NOT NULL, segment_id TEXT NOT NULL, day ${t.ms} NOT NULL,
      entered ${t.ms} NOT NULL, exited ${t.ms} NOT NULL, shard INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (project_id, segment_id, day, shard))`,
    `INSERT INTO segment_daily_v2 (project_id, segment_id, day, entered, exited, shard) SELECT project_id, segment_id, day, entered, exited, 0 FROM segment_daily`,
    `DROP TABLE segment_daily`,
    `ALTER TABLE segment_daily_v2 RENAME TO segment_daily`,
  ];
}

/**
 * Profiles a partition worker took over from another partition's worker (a merge of ids whose
 * partitions have different workers: docs/scale-out.md § Merges across partitions): the worker of
 * `from_partition` reads the rows after the last it saw at the start of each transaction, and drops
 * those profiles from its memory.
 */
function profileMoves(d: StoreDialect): string[] {
  const t = types(d);
  return [
    `CREATE TABLE profile_moves (id ${t.id}, project_id TEXT NOT NULL, from_partition INTEGER NOT NULL, profile_id ${t.ref} NOT NULL)`,
    `CREATE INDEX profile_moves_partition ON profile_moves (from_partition, id)`,
  ];
}

/**
 * Segment changes made by processes of the api role (migration 0027), which hold no engine: each
 * row says which segments changed (or whose manual lists did, for which profiles); the processes
 * that apply the log apply them in their own transactions and record, per partition, the last
 * change applied to its profiles (`log_positions.segment_changes`); and how far a partition is
 * readable (`log_positions.readable`, see log/positions.ts).
 */
function segmentChanges(d: StoreDialect): string[] {
  const t = types(d);
  return [
    `CREATE TABLE segment_changes (seq ${t.id}, project_id TEXT NOT NULL, segment_ids ${t.json} NOT NULL, reason TEXT NOT NULL,
      profile_ids ${t.json}, at ${t.ms} NOT NULL)`,
    `ALTER TABLE log_positions ADD COLUMN segment_changes ${t.ms} NOT NULL DEFAULT 0`,
    // How far a partition is readable (null: as far as it is applied): a worker holds it below a record whose items it forwarded until their partition has applied them.
    `ALTER TABLE log_positions ADD COLUMN readable ${t.ms}`,
  ];
}

/**
 * Partition owners (migration 0028): the worker applying a partition writes a token of its own in
 * `log_positions.owner` when it starts, and every transaction of its checks the token is still
 * there, so that a worker whose lease has lapsed without its knowing writes nothing more
 * (log/positions.ts `claimPartitions`). A change recorded for the engines carries what it needs
 * beyond segment and profile ids (`segment_changes.detail`: a user's labels changed by hand).
 */
function partitionOwners(d: StoreDialect): string[] {
  return [
    'ALTER TABLE log_positions ADD COLUMN owner TEXT',
    `ALTER TABLE segment_changes ADD COLUMN detail ${types(d).json}`,
  ];
}

/** The labels of the keys a start makes from (or keeps for) STRATA_ADMIN_TOKEN / STRATA_WRITE_KEY. */
export const STARTUP_LABEL = { admin: 'start-up admin token', write: 'start-up write key' } as const;

export function migrationProvider(d: StoreDialect): MigrationProvider {
  const step = (stmts: string[]): Migration => ({
    async up(db) {
      for (const s of stmts) await sql.raw(s).execute(db);
    },
  });
  return { getMigrations: async () => ({ '0001_initial': step(initial(d)), '0002_live_engine': step(liveEngine(d)), '0003_points': step(points(d)), '0004_missions': step(missions(d)), '0005_rewards': step(rewards(d)), '0006_experiments': step(experiments(d)), '0007_experiences': step(experiences(d)), '0008_profile_ids': step(profileIds(d)), '0009_destinations': step(destinations(d)), '0009_imports': step(imports(d)), '0010_segment_daily': step(segmentDaily(d)), '0011_destination_sync': step(destinationSync(d)), '0012_import_bad_rows': step(importBadRows(d)), '0013_mission_attempts': step(missionAttempts(d)), '0014_admin_token_prefix': step(adminTokenPrefix()), '0015_suppressions': step(suppressions(d)), '0016_events_context': step(eventsByContext()), '0017_keys': keys(d), '0018_audit_log': step(auditLog(d)), '0019_writer_lease': step([writerLeaseTable(d)]), '0020_event_log': step(eventLog(d)), '0021_events_by_arrival': step(eventsByArrival(d)), '0022_store_identity': step(storeIdentity()), '0023_history_ids': step(historyIds(d)), '0024_definition_versions': step(definitionVersions(d)), '0025_profile_moves': step(profileMoves(d)), '0026_segment_daily_shards': step(segmentDailyShards(d)), '0027_segment_changes': step(segmentChanges(d)), '0028_partition_owners': step(partitionOwners(d)) }) };
}

/** The migrations this code has that the database has not run, by name (none: the schema is this code's). */
export async function pendingMigrations(db: Kysely<Database>, d: StoreDialect): Promise<string[]> {
  const schema = d === 'postgres' ? (await sql<{ s: string }>`SELECT current_schema() AS s`.execute(db)).rows[0]?.s : undefined;
  const migrator = new Migrator({
    db, provider: migrationProvider(d), migrationTableName: 'strata_migrations', migrationLockTableName: 'strata_migrations_lock',
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  return (await migrator.getMigrations()).filter((m) => m.executedAt === undefined).map((m) => m.name);
}

/**
 * Brings the schema up to date; safe to run at every start and from several instances (`strata serve`
 * runs it once it holds the writer lease: writer-lease.ts).
 */
export async function migrate(db: Kysely<Database>, d: StoreDialect): Promise<void> {
  // Kysely looks for its bookkeeping tables in every schema it can see: on PostgreSQL, name ours,
  // or those of another schema (another Strata's, a concurrent test's) are taken for ours.
  const schema = d === 'postgres' ? (await sql<{ s: string }>`SELECT current_schema() AS s`.execute(db)).rows[0]?.s : undefined;
  const migrator = new Migrator({
    db, provider: migrationProvider(d), migrationTableName: 'strata_migrations', migrationLockTableName: 'strata_migrations_lock',
    // Each migration creates tables of its own feature, so one added with a lower number later still applies.
    allowUnorderedMigrations: true,
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await migrator.migrateToLatest();
    if (!error) return;
    const failed = results?.find((r) => r.status === 'Error');
    // Before any migration ran, Kysely reads the tables of every schema it can see: one dropped meanwhile (another
    // Strata's, a concurrent test's) fails that read. Nothing was applied: it is read again.
    if (!failed && attempt < 5 && /does not exist/.test((error as Error).message ?? '')) {
      await new Promise((r) => setTimeout(r, 20 * attempt));
      continue;
    }
    throw new Error(`migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? String(error)}`, { cause: error });
  }
}
