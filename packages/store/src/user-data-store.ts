import { createHash } from 'node:crypto';
import { sql, type Kysely, type RawBuilder, type SqlBool } from 'kysely';
import { DAY_MS, type JsonObject } from '@strata/core';
import type { Database } from './schema.ts';
import type { SqlStore } from './sql-store.ts';
import type { HistoryEntry, MembershipReason, StoredEvent } from './types.ts';
import { chunks, readJson, sqlBool } from './util.ts';
import { AuditStore } from './audit-store.ts';

/** Everything stored about one profile, as the user-data export reads it. */
export interface UserRecords {
  readonly profile: {
    readonly id: number; readonly userId: string | null; readonly anonymousId: string | null;
    readonly traits: JsonObject; readonly traitsAt: Record<string, number>; readonly context: JsonObject; readonly contextAt: number | null;
    readonly labels: string[]; readonly firstSeen: number | null; readonly lastSeen: number | null; readonly createdAt: number; readonly updatedAt: number;
  };
  readonly keys: { readonly kind: 'userId' | 'anonymousId'; readonly id: string }[];
  /** Oldest first; derived events (visits, segment entries and exits, mission completions) included. */
  readonly events: StoredEvent[];
  readonly memberships: { readonly segmentId: string; readonly since: number }[];
  /** Oldest first. */
  readonly history: HistoryEntry[];
  readonly manualLists: { readonly segmentId: string; readonly list: 'include' | 'exclude' }[];
  readonly points: { readonly balance: number; readonly ledger: { id: number; kind: string; amount: number; balance: number; reason: string; ref: string | null; at: number }[] };
  readonly missionProgress: { missionId: string; startedAt: number; progress: number; completions: number; lastCompletedAt: number | null; updatedAt: number }[];
  readonly missionCompletions: { ref: string; missionId: string; n: number; at: number; points: number }[];
  readonly redemptions: { id: number; rewardId: string; code: string | null; cost: number; at: number; ref: string | null }[];
  /** Outbox rows (webhook and destination messages) naming one of the user's ids. */
  readonly outbox: { id: number; target: string; messageId: string; kind: string; status: string; createdAt: number; deliveredAt: number | null; payload: JsonObject }[];
  /** Ingestion warnings whose message or payload names one of the user's ids. */
  readonly ingestWarnings: { id: number; receivedAt: number; index: number; message: string; payload: string }[];
  /** Import bad rows whose reason names one of the user's ids. */
  readonly importBadRows: { importId: string; line: number; reason: string }[];
}

/** What an erasure removed (or, for import bad rows, redacted), table by table. */
export interface ErasureCounts {
  profiles: number;
  keys: number;
  /** Every event row, derived ones included. */
  events: number;
  /** Of `events`, the derived `$session` visits. */
  visits: number;
  /** Shared context rows no other event used any more. */
  contexts: number;
  memberships: number;
  membershipHistory: number;
  manualListEntries: number;
  pointsEntries: number;
  pointsBalances: number;
  missionProgress: number;
  missionCompletions: number;
  redemptions: number;
  /** Webhook and destination outbox rows naming the user, pending and sent alike. */
  outboxMessages: number;
  ingestWarnings: number;
  /** Import bad rows whose reason named the user: the row stays counted, its reason is replaced. */
  importBadRowsRedacted: number;
  /** Audit log rows that named one of the user's ids: the id is replaced (docs/privacy.md), the row stays. */
  auditEntriesRedacted: number;
  /** Ids whose hash now suppresses later ingest (0 without suppression). */
  suppressedIds: number;
}

/** The reason an import bad row gets when the one it had named an erased user. */
export const ERASED_REASON = 'reason removed: it named an erased user';

/** The one-way form in which a suppressed id is kept: SHA-256 hex of the project and the id. */
export const suppressionHash = (projectId: string, id: string): string => createHash('sha256').update(`${projectId}\u0000${id}`).digest('hex');

/** How the audit log names an erased user (never by the id): `sha256:` and the suppression hash. */
export const erasedUserRef = (projectId: string, id: string): string => `sha256:${suppressionHash(projectId, id)}`;

/**
 * The texts by which a diagnostic or outbox row names an id: as a JSON string (payloads) and
 * as a plain quoted value (reasons). Matching the quoted form keeps `u1` from matching `u10`.
 */
function needles(ids: readonly string[]): string[] {
  return [...new Set(ids.flatMap((id) => [JSON.stringify(id), `"${id}"`]))];
}

/**
 * A user's data across every table that holds it (docs/privacy.md): read for an export,
 * removed for an erasure. Construct it over a transaction's store so that an erasure is
 * all-or-nothing with the engine forgetting the profile.
 */
export class UserDataStore {
  private readonly db: Kysely<Database>;
  constructor(private readonly store: SqlStore) {
    this.db = store.db;
  }

  /** `column` contains `text` (no LIKE: ids may hold % and _). */
  private contains(column: string, text: string): RawBuilder<SqlBool> {
    return this.store.dialect === 'sqlite' ? sql<SqlBool>`instr(${sql.ref(column)}, ${text}) > 0` : sql<SqlBool>`strpos(${sql.ref(column)}, ${text}) > 0`;
  }

  private anyContains(columns: readonly string[], texts: readonly string[]): RawBuilder<SqlBool> {
    const parts = columns.flatMap((c) => texts.map((t) => this.contains(c, t)));
    return parts.length ? sql<SqlBool>`(${sql.join(parts, sql` OR `)})` : sql<SqlBool>`${this.store.sqlDialect.false}`;
  }

  /** Every id the profile is known by: its userId and every anonymousId (keys and the profile row). */
  async idsOf(projectId: string, profileId: number): Promise<string[]> {
    const keys = await this.db.selectFrom('profile_keys').select('key').where('project_id', '=', projectId).where('profile_id', '=', profileId).execute();
    const p = await this.db.selectFrom('profiles').select(['user_id', 'anonymous_id']).where('project_id', '=', projectId).where('id', '=', profileId).executeTakeFirst();
    return [...new Set([...keys.map((k) => k.key), p?.user_id, p?.anonymous_id].filter((x): x is string => typeof x === 'string'))];
  }

  /** Outbox rows whose payload names one of the ids by the fields both webhooks and destinations write. */
  private outboxWhere(projectId: string, ids: readonly string[]) {
    const texts = ids.flatMap((id) => [`"userId":${JSON.stringify(id)}`, `"anonymousId":${JSON.stringify(id)}`]);
    return this.db.selectFrom('webhook_deliveries').where('project_id', '=', projectId).where(this.anyContains(['payload'], texts));
  }

  private warningsWhere(projectId: string, ids: readonly string[]) {
    return this.db.selectFrom('ingest_rejections').where('project_id', '=', projectId).where(this.anyContains(['payload', 'message'], needles(ids)));
  }

  private badRowsWhere(projectId: string, ids: readonly string[]) {
    return this.db.selectFrom('import_bad_rows').where('project_id', '=', projectId).where(this.anyContains(['reason'], needles(ids)));
  }

  /**
   * Makes the caller's transaction read one snapshot throughout (PostgreSQL's default reads a new
   * one per statement; a SQLite transaction already reads one). Must be its first statement.
   */
  async snapshot(): Promise<void> {
    if (this.store.dialect === 'postgres') await sql`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`.execute(this.db);
  }

  /** Everything held about a profile; call it in a transaction that began with `snapshot()`. */
  async collect(projectId: string, profileId: number): Promise<UserRecords | null> {
    const db = this.db;
    const p = await db.selectFrom('profiles').selectAll().where('project_id', '=', projectId).where('id', '=', profileId).executeTakeFirst();
    if (!p) return null;
    const ids = await this.idsOf(projectId, profileId);
    const keys = await db.selectFrom('profile_keys').select(['kind', 'key']).where('project_id', '=', projectId).where('profile_id', '=', profileId).orderBy('kind', 'desc').orderBy('key').execute();
    // By the (project, profile, ts) index, oldest first: one person's events, in one read.
    const rows = await db.selectFrom('events as e').innerJoin('contexts as c', 'c.id', 'e.context_id')
      .select(['e.id', 'e.type', 'e.message_id', 'e.name', 'e.ts', 'e.received_at', 'e.properties', 'e.context_own', 'c.json as shared'])
      .where('e.project_id', '=', projectId).where('e.profile_id', '=', profileId).orderBy('e.ts').orderBy('e.id').execute();
    const events: StoredEvent[] = rows.map((e) => ({
      id: Number(e.id), type: e.type, messageId: e.message_id, name: e.name, timestamp: Number(e.ts), receivedAt: Number(e.received_at),
      properties: readJson(e.properties, {}), context: { ...readJson<JsonObject>(e.shared, {}), ...readJson<JsonObject>(e.context_own, {}) },
    }));
    const history = await db.selectFrom('membership_history').select(['id', 'segment_id', 'kind', 'at', 'reason']).where('project_id', '=', projectId).where('profile_id', '=', profileId).orderBy('id').execute();
    const manual: { segmentId: string; list: 'include' | 'exclude' }[] = [];
    for (const [table, list] of [['segment_includes', 'include'], ['segment_excludes', 'exclude']] as const) {
      for (const r of await db.selectFrom(table).select('segment_id').where('project_id', '=', projectId).where('profile_id', '=', profileId).orderBy('segment_id').execute()) manual.push({ segmentId: r.segment_id, list });
    }
    const balance = await db.selectFrom('points_balances').select('balance').where('project_id', '=', projectId).where('profile_id', '=', profileId).executeTakeFirst();
    const ledger = await db.selectFrom('points_ledger').selectAll().where('project_id', '=', projectId).where('profile_id', '=', profileId).orderBy('id').execute();
    const progress = await db.selectFrom('mission_progress').selectAll().where('project_id', '=', projectId).where('profile_id', '=', profileId).orderBy('mission_id').execute();
    const completions = await db.selectFrom('mission_completions').selectAll().where('project_id', '=', projectId).where('profile_id', '=', profileId).orderBy('at').orderBy('ref').execute();
    const redemptions = await db.selectFrom('reward_redemptions').selectAll().where('project_id', '=', projectId).where('profile_id', '=', profileId).orderBy('id').execute();
    const memberships = await db.selectFrom('memberships').select(['segment_id', 'since']).where('project_id', '=', projectId).where('profile_id', '=', profileId).orderBy('since').orderBy('segment_id').execute();
    const outbox = ids.length ? await this.outboxWhere(projectId, ids).selectAll().orderBy('id').execute() : [];
    const warnings = ids.length ? await this.warningsWhere(projectId, ids).selectAll().orderBy('id').execute() : [];
    const badRows = ids.length ? await this.badRowsWhere(projectId, ids).selectAll().orderBy('import_id').orderBy('line').execute() : [];
    return {
      profile: {
        id: Number(p.id), userId: p.user_id, anonymousId: p.anonymous_id, traits: readJson(p.traits, {}), traitsAt: readJson(p.traits_at, {}),
        context: readJson(p.context, {}), contextAt: p.context_at === null ? null : Number(p.context_at), labels: readJson(p.labels, []),
        firstSeen: p.first_seen === null ? null : Number(p.first_seen), lastSeen: p.last_seen === null ? null : Number(p.last_seen),
        createdAt: Number(p.created_at), updatedAt: Number(p.updated_at),
      },
      keys: keys.map((k) => ({ kind: k.kind === 'u' ? 'userId' as const : 'anonymousId' as const, id: k.key })),
      events,
      memberships: memberships.map((m) => ({ segmentId: m.segment_id, since: Number(m.since) })),
      history: history.map((h) => ({ id: Number(h.id), segmentId: h.segment_id, profileId, kind: h.kind as 'entered' | 'exited', at: Number(h.at), reason: h.reason as MembershipReason })),
      manualLists: manual,
      points: {
        balance: Number(balance?.balance ?? 0),
        ledger: ledger.map((e) => ({ id: Number(e.id), kind: e.kind, amount: Number(e.amount), balance: Number(e.balance), reason: e.reason, ref: e.ref, at: Number(e.at) })),
      },
      missionProgress: progress.map((r) => ({
        missionId: r.mission_id, startedAt: Number(r.started_at), progress: Number(r.progress), completions: Number(r.completions),
        lastCompletedAt: r.last_completed_at === null ? null : Number(r.last_completed_at), updatedAt: Number(r.updated_at),
      })),
      missionCompletions: completions.map((c) => ({ ref: c.ref, missionId: c.mission_id, n: Number(c.n), at: Number(c.at), points: Number(c.points) })),
      redemptions: redemptions.map((r) => ({ id: Number(r.id), rewardId: r.reward_id, code: r.code, cost: Number(r.cost), at: Number(r.at), ref: r.ref })),
      outbox: outbox.map((o) => ({
        id: Number(o.id), target: o.webhook_id, messageId: o.message_id, kind: o.kind, status: o.status, createdAt: Number(o.created_at),
        deliveredAt: o.delivered_at === null ? null : Number(o.delivered_at), payload: readJson<JsonObject>(o.payload, {}),
      })),
      ingestWarnings: warnings.map((w) => ({ id: Number(w.id), receivedAt: Number(w.received_at), index: Number(w.item_index), message: w.message, payload: w.payload })),
      importBadRows: badRows.map((b) => ({ importId: b.import_id, line: Number(b.line), reason: b.reason })),
    };
  }

  /**
   * Removes every row that holds the profile's data, in the caller's transaction (the engine
   * forgets the profile in the same one). Memberships it still held are counted as exits of
   * today in `segment_daily`, so that the size series stays true without a history row naming
   * it; past days' counts stay as they are (aggregates, no personal data). A reward code handed
   * to one of its redemptions stays taken: it never returns to the pool.
   */
  async erase(projectId: string, profileId: number, now: number, opts: { suppress: boolean }): Promise<ErasureCounts | null> {
    const db = this.db;
    const exists = await db.selectFrom('profiles').select('id').where('project_id', '=', projectId).where('id', '=', profileId).executeTakeFirst();
    if (!exists) return null;
    const ids = await this.idsOf(projectId, profileId);
    const n = (r: { numDeletedRows: bigint } | { numUpdatedRows: bigint }) => Number('numDeletedRows' in r ? r.numDeletedRows : r.numUpdatedRows);
    const del = async (table: 'profile_keys' | 'memberships' | 'membership_history' | 'segment_includes' | 'segment_excludes' | 'points_ledger' | 'points_balances' | 'mission_progress' | 'mission_completions' | 'reward_redemptions' | 'events') =>
      n(await db.deleteFrom(table).where('project_id', '=', projectId).where('profile_id', '=', profileId).executeTakeFirst());

    const held = await db.selectFrom('memberships').select('segment_id').where('project_id', '=', projectId).where('profile_id', '=', profileId).execute();
    if (held.length) {
      const day = Math.floor(now / DAY_MS);
      for (const c of chunks(held)) {
        await db.insertInto('segment_daily').values(c.map((m) => ({ project_id: projectId, segment_id: m.segment_id, day, entered: 0, exited: 1, shard: 0 })))
          .onConflict((oc) => oc.columns(['project_id', 'segment_id', 'day', 'shard']).doUpdateSet((eb) => ({ exited: eb('segment_daily.exited', '+', eb.ref('excluded.exited')) }))).execute();
      }
    }

    const contextIds = (await db.selectFrom('events').select('context_id').distinct().where('project_id', '=', projectId).where('profile_id', '=', profileId).execute()).map((r) => Number(r.context_id));
    const visits = await db.selectFrom('events').select((eb) => eb.fn.countAll<number>().as('n')).where('project_id', '=', projectId).where('profile_id', '=', profileId)
      .where('name', '=', '$session').where('derived', '=', sqlBool(this.store.dialect, true)).executeTakeFirst();
    const visitCount = Number(visits?.n ?? 0);
    const counts: ErasureCounts = {
      profiles: 0, keys: await del('profile_keys'), events: await del('events'), visits: visitCount, contexts: 0,
      memberships: await del('memberships'), membershipHistory: await del('membership_history'),
      manualListEntries: (await del('segment_includes')) + (await del('segment_excludes')),
      pointsEntries: await del('points_ledger'), pointsBalances: await del('points_balances'),
      missionProgress: await del('mission_progress'), missionCompletions: await del('mission_completions'),
      redemptions: await del('reward_redemptions'),
      outboxMessages: 0, ingestWarnings: 0, importBadRowsRedacted: 0, auditEntriesRedacted: 0, suppressedIds: 0,
    };
    counts.profiles = n(await db.deleteFrom('profiles').where('project_id', '=', projectId).where('id', '=', profileId).executeTakeFirst());
    // Its own event times are no longer what the store holds (and SQLite may give its id to a new profile).
    this.store.visitTimes?.forget(projectId, profileId);
    this.store.profileRecords?.forget(projectId, profileId);
    counts.contexts = await this.dropUnusedContexts(projectId, contextIds);

    if (ids.length) {
      counts.outboxMessages = n(await db.deleteFrom('webhook_deliveries').where('project_id', '=', projectId)
        .where('id', 'in', this.outboxWhere(projectId, ids).select('id')).executeTakeFirst());
      counts.ingestWarnings = n(await db.deleteFrom('ingest_rejections').where('project_id', '=', projectId)
        .where('id', 'in', this.warningsWhere(projectId, ids).select('id')).executeTakeFirst());
      counts.importBadRowsRedacted = await this.redactImports(projectId, ids);
      counts.auditEntriesRedacted = await new AuditStore(this.store).forgetIds(projectId, ids, (id) => erasedUserRef(projectId, id));
      if (opts.suppress) counts.suppressedIds = await this.suppress(projectId, ids, now);
    }
    return counts;
  }

  /** Deletes the given contexts that no event of the project uses any more; the store forgets their ids. */
  private async dropUnusedContexts(projectId: string, ids: readonly number[]): Promise<number> {
    let dropped = 0;
    for (const c of chunks([...ids])) {
      const used = new Set((await this.db.selectFrom('events').select('context_id').distinct().where('project_id', '=', projectId).where('context_id', 'in', c).execute()).map((r) => Number(r.context_id)));
      const unused = c.filter((id) => !used.has(id));
      if (unused.length === 0) continue;
      dropped += Number((await this.db.deleteFrom('contexts').where('project_id', '=', projectId).where('id', 'in', unused).executeTakeFirst()).numDeletedRows);
      this.store.forgetContexts(new Set(unused));
    }
    return dropped;
  }

  /**
   * Replaces the reasons of import bad rows that name one of the ids (in `import_bad_rows` and in
   * the first rows kept inline on the job): the line stays counted as bad, so `bad` stays true.
   */
  private async redactImports(projectId: string, ids: readonly string[]): Promise<number> {
    const texts = needles(ids);
    const named = (reason: string) => texts.some((t) => reason.includes(t));
    const r = await this.db.updateTable('import_bad_rows').set({ reason: ERASED_REASON }).where('project_id', '=', projectId)
      .where(this.anyContains(['reason'], texts)).executeTakeFirst();
    for (const job of await this.db.selectFrom('imports').select(['id', 'bad_rows']).where('project_id', '=', projectId).where('bad', '>', 0).execute()) {
      const rows = readJson<{ line: number; reason: string }[]>(job.bad_rows, []);
      if (!rows.some((b) => named(b.reason))) continue;
      const next = rows.map((b) => (named(b.reason) ? { ...b, reason: ERASED_REASON } : b));
      await this.db.updateTable('imports').set({ bad_rows: JSON.stringify(next) }).where('project_id', '=', projectId).where('id', '=', job.id).execute();
    }
    return Number(r.numUpdatedRows);
  }

  /**
   * After an erasure has committed: on SQLite, the WAL still holds the pages as they were before
   * it; a TRUNCATE checkpoint writes the zeroed pages into the database file and empties the WAL.
   * (PostgreSQL: see docs/privacy.md on VACUUM.) Run on the store, outside any transaction.
   */
  async checkpoint(): Promise<void> {
    if (this.store.dialect !== 'sqlite') return;
    // The store's checkpointer thread (sqlite.ts) may hold the checkpoint lock for a moment: SQLite
    // then answers busy = 1 at once instead of waiting, and the WAL is not emptied. Try again
    // until it is, for up to 5 s, then fail (the caller says so; the next checkpoint writes the same pages).
    const until = Date.now() + 5000;
    for (;;) {
      const [r] = (await sql<{ busy: number; log: number; checkpointed: number }>`PRAGMA wal_checkpoint(TRUNCATE)`.execute(this.db)).rows;
      if (!r || r.busy === 0) return;
      if (Date.now() > until) throw new Error(`the WAL checkpoint stayed busy for 5 s (${r.checkpointed} of ${r.log} frames written)`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Keeps the hashes of the ids (never the ids); returns how many were new. */
  async suppress(projectId: string, ids: readonly string[], now: number): Promise<number> {
    let added = 0;
    for (const c of chunks([...new Set(ids)])) {
      const r = await this.db.insertInto('suppressions').values(c.map((id) => ({ project_id: projectId, id_hash: suppressionHash(projectId, id), created_at: now })))
        .onConflict((oc) => oc.doNothing()).executeTakeFirst();
      added += Number(r.numInsertedOrUpdatedRows ?? 0);
    }
    return added;
  }

  /** Whether the project has suppressed any id at all (ingest skips the lookup when not). */
  async hasSuppressions(projectId: string): Promise<boolean> {
    return (await this.db.selectFrom('suppressions').select('id_hash').where('project_id', '=', projectId).limit(1).executeTakeFirst()) !== undefined;
  }

  /** Which of the ids are suppressed. */
  async suppressedAmong(projectId: string, ids: readonly string[]): Promise<Set<string>> {
    const byHash = new Map([...new Set(ids)].map((id) => [suppressionHash(projectId, id), id]));
    const out = new Set<string>();
    for (const c of chunks([...byHash.keys()])) {
      for (const r of await this.db.selectFrom('suppressions').select('id_hash').where('project_id', '=', projectId).where('id_hash', 'in', c).execute()) out.add(byHash.get(r.id_hash)!);
    }
    return out;
  }
}
