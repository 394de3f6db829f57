import { open, type FileHandle } from 'node:fs/promises';
import type { Checkpointer } from './sqlite.ts';
import { sql, type Kysely, type RawBuilder, type SqlBool, type Transaction } from 'kysely';
import type { EventRecord, JsonObject, SqlDialect } from '@strata/core';
import { foldCaseTable, postgresDialect, sqliteDialect } from '@strata/core';
import { ContextIds, EventStore } from './event-store.ts';
import { IngestStore } from './ingest-store.ts';
import { KeyStore } from './key-store.ts';
import { MembershipStore } from './membership-store.ts';
import type { StoreDialect } from './migrations.ts';
import { migrate, pendingMigrations } from './migrations.ts';
import { ProfileStore, type NewProfile } from './profile-store.ts';
import { ProjectStore } from './project-store.ts';
import { RejectionStore } from './rejection-store.ts';
import type { Database } from './schema.ts';
import { SegmentStore } from './segment-store.ts';
import type { IngestItem, IngestOutcome, MembershipReason, Project, ProjectSettings, Rejection, SegmentRow } from './types.ts';
import { ProfileRecords } from './profile-records.ts';
import { VisitTimes } from './visit-store.ts';

/**
 * The one store implementation, over Kysely, for SQLite and PostgreSQL alike; what differs
 * between them is the SQL dialect hooks of core and the DDL in migrations.ts. It holds the
 * handle, the transaction and the state shared across transactions (stored context ids, kept
 * event times); each resource's queries live in its own store (`projects`, `profiles`,
 * `events`, `segments`, `memberships`, `rejections`, and ingest), bound to this handle, so a
 * transaction's `SqlStore` gives each of them over the transaction. The methods below them
 * are the store's public face, one call each into the resource's store.
 */
export class SqlStore {
  readonly sqlDialect: SqlDialect;
  /** The embedded store's WAL checkpointer thread (a SQLite file store opened by createStore), for /metrics. */
  walCheckpointer?: Checkpointer;
  /** The embedded event log's file, beside the database file (a SQLite file store opened by createStore); an in-memory store's log is in memory. */
  eventLogFile?: string;
  /**
   * A SQLite file store's database and WAL files (set by createStore): a transaction run with
   * `deferSync` commits without an fsync, and `syncCommitted` fsyncs these files afterwards.
   */
  syncFiles?: readonly string[];

  /**
   * Own event times of recently seen profiles, from which late events' visits are decided in
   * memory (visit-store.ts). Only on SQLite: the embedded store has one writer, this process,
   * and one transaction at a time; PostgreSQL may have other writers, so it reads windows.
   */
  readonly visitTimes: VisitTimes | null;
  /** Records of recently ingested profiles (profile-records.ts); only on SQLite, for the same reason. */
  readonly profileRecords: ProfileRecords | null;
  /** Stored context ids: the committed ones shared with every transaction, and this one's own. */
  readonly contexts: ContextIds;
  readonly projects: ProjectStore;
  readonly events: EventStore;
  readonly profiles: ProfileStore;
  readonly segments: SegmentStore;
  readonly memberships: MembershipStore;
  readonly rejections: RejectionStore;
  private readonly ingestStore: IngestStore;
  /** StoreHandle.dailyShard: set once by a process of the worker role, before it writes. */
  dailyShard = 0;

  constructor(
    readonly db: Kysely<Database>,
    readonly dialect: StoreDialect,
    private readonly onClose: () => Promise<void> = async () => db.destroy(),
    contexts?: ContextIds,
    visitTimes?: VisitTimes | null,
    profileRecords?: ProfileRecords | null,
  ) {
    this.sqlDialect = dialect === 'sqlite' ? sqliteDialect : postgresDialect;
    this.contexts = contexts ?? new ContextIds();
    this.visitTimes = visitTimes !== undefined ? visitTimes : dialect === 'sqlite' ? new VisitTimes() : null;
    this.profileRecords = profileRecords !== undefined ? profileRecords : dialect === 'sqlite' ? new ProfileRecords() : null;
    this.projects = new ProjectStore(this);
    this.events = new EventStore(this);
    this.profiles = new ProfileStore(this, this.events);
    this.segments = new SegmentStore(this);
    this.memberships = new MembershipStore(this);
    this.rejections = new RejectionStore(this);
    this.ingestStore = new IngestStore(this, this.events, this.profiles);
  }

  /** The migrations the database has not run (a process that does not migrate checks that there are none). */
  async pendingMigrations(): Promise<string[]> {
    return pendingMigrations(this.db, this.dialect);
  }

  async migrate(): Promise<void> {
    await migrate(this.db, this.dialect);
    if (this.dialect === 'postgres') {
      // Case folding must be exactly core's (foldCase): a per-character table made from the
      // running JavaScript, replaced at every start so it follows the Unicode version in use.
      const { from, to } = foldCaseTable();
      const lit = (x: string) => `'${x.replace(/'/g, "''")}'`;
      // translate() scans its table for each character: ASCII text (one byte a character) gets the short one.
      await sql.raw(`CREATE OR REPLACE FUNCTION strata_lower(s text) RETURNS text LANGUAGE sql IMMUTABLE AS $fold$
        SELECT CASE WHEN octet_length(s) = length(s) THEN translate(s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
          ELSE translate(s, ${lit(from)}, ${lit(to)}) END $fold$`).execute(this.db);
    }
  }

  async close(): Promise<void> {
    await this.onClose();
  }

  /**
   * Runs `fn` in one transaction; nothing it wrote is visible, or acknowledged, before it commits.
   * With `deferSync`, a SQLite file store commits without waiting for the disk (synchronous=NORMAL
   * for this transaction alone): the commit survives the process being killed, not a power cut,
   * until `syncCommitted` has run. For writes whose source stays durable elsewhere until then (the
   * event log's records, trimmed only after `syncCommitted`); every other commit is fsynced.
   */
  async transaction<T>(fn: (tx: SqlStore) => Promise<T>, opts: { readonly deferSync?: boolean } = {}): Promise<T> {
    if ((this.db as Transaction<Database>).isTransaction) return fn(this);
    const contexts = this.contexts.forTransaction();
    const run = (db: Kysely<Database>) => db.transaction().execute((trx) => {
      const tx = new SqlStore(trx, this.dialect, async () => undefined, contexts, this.visitTimes, this.profileRecords);
      tx.dailyShard = this.dailyShard;
      return fn(tx);
    });
    let out: T;
    try {
      // SQLite refuses to change the safety level inside a transaction: set around it, on the one connection held throughout.
      out = opts.deferSync && this.syncFiles
        ? await this.db.connection().execute(async (conn) => {
          await sql`PRAGMA synchronous = NORMAL`.execute(conn);
          try {
            return await run(conn);
          } finally {
            await sql`PRAGMA synchronous = FULL`.execute(conn);
          }
        })
        : await run(this.db);
    } catch (e) {
      // The kept event times and records may hold what was rolled back: they are read again as needed.
      this.visitTimes?.clear();
      this.profileRecords?.clear();
      throw e;
    }
    contexts.commit();
    return out;
  }

  /**
   * Makes every commit so far durable, those of `deferSync` transactions too: fsyncs the SQLite
   * file store's WAL and database file, off the event loop (fsync covers all that was written to a
   * file, through any descriptor). Nothing to do on PostgreSQL or in memory, whose commits are as
   * durable as they will be.
   */
  async syncCommitted(): Promise<void> {
    for (const file of this.syncFiles ?? []) {
      let fh: FileHandle;
      try {
        fh = await open(file, 'r+');
      } catch (e) {
        // No WAL file: the last connection closed after a full checkpoint, which synced the database.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
  }

  /**
   * Drops deleted context ids from the context caches (an erasure deleted their rows): a later
   * event with the same context must store it again, not point at a row that is gone.
   */
  forgetContexts(ids: ReadonlySet<number>): void {
    this.contexts.forget(ids);
  }


  /** The credentials (docs/security.md). */
  get keys(): KeyStore {
    return new KeyStore(this.db);
  }

  // ---------------------------------------------------------------- projects (project-store.ts)

  /** A project with its first admin token and write key, in one transaction. */
  async createProject(p: { id: string; name: string; writeKey?: string; adminToken?: string; now: number }): Promise<{ project: Project; adminToken: string; writeKey: string }> {
    return this.transaction((tx) => tx.projects.create(p));
  }

  getProject(id: string) { return this.projects.get(id); }
  listProjects() { return this.projects.list(); }
  projectIds() { return this.projects.ids(); }
  setProjectSettings(id: string, settings: ProjectSettings) { return this.projects.setSettings(id, settings); }
  lockProject(id: string) { return this.projects.lock(id); }
  deleteProjectData(projectId: string) { return this.projects.deleteData(projectId); }
  definitionsStamp(projectId: string) { return this.projects.definitionsStamp(projectId); }
  bumpDefinitions(projectId: string) { return this.projects.bumpDefinitions(projectId); }
  definitionVersions() { return this.projects.definitionVersions(); }
  engineClock(projectId: string) { return this.projects.engineClock(projectId); }
  setEngineClock(projectId: string, clock: number) { return this.projects.setEngineClock(projectId, clock); }

  // ---------------------------------------------------------------- ingest (ingest-store.ts, rejection-store.ts)

  ingest(projectId: string, items: readonly IngestItem[], sessionTimeoutMs: number): Promise<IngestOutcome> { return this.ingestStore.ingest(projectId, items, sessionTimeoutMs); }
  /** Within a transaction: reads once which of these messageIds are stored, for the `ingest` calls that follow in it (IngestStore.expectMessageIds). */
  expectMessageIds(projectId: string, messageIds: Iterable<string>): Promise<void> { return this.ingestStore.expectMessageIds(projectId, messageIds); }
  recordRejections(projectId: string, receivedAt: number, rejections: readonly Rejection[]) { return this.rejections.record(projectId, receivedAt, rejections); }
  listRejections(projectId: string, limit: number) { return this.rejections.list(projectId, limit); }
  countRejections(projectId: string) { return this.rejections.count(projectId); }

  // ---------------------------------------------------------------- profiles and events (profile-store.ts, event-store.ts)

  findProfile(projectId: string, id: string) { return this.profiles.find(projectId, id); }
  profileKey(projectId: string, id: string, lock = false) { return this.profiles.key(projectId, id, lock); }
  profileIdsOf(projectId: string, id: string) { return this.profiles.idsOf(projectId, id); }
  profileLastSeen(projectId: string, profileId: number) { return this.profiles.lastSeen(projectId, profileId); }
  getProfiles(projectId: string, ids: readonly number[]) { return this.profiles.get(projectId, ids); }
  profilesWithEvents(projectId: string, ids: readonly number[]) { return this.profiles.withEvents(projectId, ids); }
  profileIdsByKey(projectId: string, ids: readonly string[]) { return this.profiles.idsByKey(projectId, ids); }
  unseenIds(projectId: string, ids: readonly string[]) { return this.profiles.unseenIds(projectId, ids); }
  ensureKnownProfiles(projectId: string, userIds: readonly string[], now: number) { return this.profiles.ensureKnown(projectId, userIds, now); }
  updateLabels(projectId: string, profileId: number, add: readonly string[], remove: readonly string[], now: number) { return this.profiles.updateLabels(projectId, profileId, add, remove, now); }
  insertProfile(projectId: string, p: NewProfile, events: readonly EventRecord[], now: number) { return this.profiles.insert(projectId, p, events, now); }
  countProfiles(projectId: string, where?: RawBuilder<SqlBool>) { return this.profiles.count(projectId, where); }
  previewProfiles(projectId: string, where: RawBuilder<SqlBool>, limit: number) { return this.profiles.preview(projectId, where, limit); }
  previewShared(projectId: string, where: RawBuilder<SqlBool>) { return this.profiles.previewShared(projectId, where); }
  profileIds(projectId: string) { return this.profiles.ids(projectId); }
  matchingIds(projectId: string, where: RawBuilder<SqlBool>) { return this.profiles.matchingIds(projectId, where); }
  scanProfiles(projectId: string, afterId: number, limit: number, ids?: readonly number[]) { return this.profiles.scan(projectId, afterId, limit, ids); }
  profileEvents(projectId: string, profileId: number, limit: number, beforeId?: number) { return this.events.profileEvents(projectId, profileId, limit, beforeId); }
  scanEvents(projectId: string, filter: Parameters<EventStore['scan']>[1], afterId: number, limit: number) { return this.events.scan(projectId, filter, afterId, limit); }
  scanEventColumns(projectId: string, filter: Parameters<EventStore['scanColumns']>[1], keys: readonly string[], afterId: number, limit: number) { return this.events.scanColumns(projectId, filter, keys, afterId, limit); }
  storedMessageIds(projectId: string, messageIds: Iterable<string>, into?: Set<string>) { return this.events.storedMessageIds(projectId, messageIds, into); }
  insertDerivedEvents(projectId: string, rows: readonly { profileId: number; name: string; properties: JsonObject; timestamp: number }[], derivedAt: number) { return this.events.insertDerived(projectId, rows, derivedAt); }

  // ---------------------------------------------------------------- segments (segment-store.ts)

  insertSegment(s: SegmentRow) { return this.segments.insert(s); }
  updateSegment(s: SegmentRow) { return this.segments.update(s); }
  deleteSegment(projectId: string, id: string) { return this.segments.delete(projectId, id); }
  getSegment(projectId: string, id: string) { return this.segments.get(projectId, id); }
  listSegments(projectId: string) { return this.segments.list(projectId); }
  manualListsFor(projectId: string, profileIds: readonly number[]) { return this.segments.manualListsFor(projectId, profileIds); }
  allManualLists(projectId: string) { return this.segments.allManualLists(projectId); }
  replaceManual(projectId: string, segmentId: string, include: readonly number[], exclude: readonly number[]) { return this.segments.replaceManual(projectId, segmentId, include, exclude); }
  manualIds(projectId: string, segmentId: string) { return this.segments.manualIds(projectId, segmentId); }
  manualProfileIds(projectId: string, segmentId: string) { return this.segments.manualProfileIds(projectId, segmentId); }
  include(projectId: string, segmentId: string, profileIds: readonly number[]) { return this.segments.include(projectId, segmentId, profileIds); }
  removeManual(projectId: string, segmentId: string, profileId: number, exclude: boolean) { return this.segments.removeManual(projectId, segmentId, profileId, exclude); }
  included(projectId: string, segmentId: string, profileId: number) { return this.segments.included(projectId, segmentId, profileId); }
  memberPredicate(projectId: string, segmentId: string, condition: RawBuilder<SqlBool> | null) { return this.segments.memberPredicate(projectId, segmentId, condition); }

  // ---------------------------------------------------------------- memberships and history (membership-store.ts)

  membershipsOf(projectId: string, profileIds: readonly number[]) { return this.memberships.membershipsOf(projectId, profileIds); }
  applyMembershipChanges(projectId: string, adds: readonly { segmentId: string; profileId: number; since: number }[], removes: readonly { segmentId: string; profileId: number }[]) { return this.memberships.applyChanges(projectId, adds, removes); }
  listMembers(projectId: string, segmentId: string, limit: number, afterProfileId: number | null) { return this.memberships.listMembers(projectId, segmentId, limit, afterProfileId); }
  segmentSizes(projectId: string, ids?: readonly string[]) { return this.memberships.sizes(projectId, ids); }
  segmentsShared(projectId: string, ids: readonly string[]) { return this.memberships.shared(projectId, ids); }
  segmentSharedWith(projectId: string, segmentId: string) { return this.memberships.sharedWith(projectId, segmentId); }
  segmentSize(projectId: string, segmentId: string) { return this.memberships.size(projectId, segmentId); }
  profileSegments(projectId: string, profileId: number) { return this.memberships.profileSegments(projectId, profileId); }
  segmentsInOrder(projectId: string, profileId: number) { return this.memberships.segmentsInOrder(projectId, profileId); }
  allMemberships(projectId: string) { return this.memberships.all(projectId); }
  recordHistory(projectId: string, rows: readonly { segmentId: string; profileId: number; kind: 'entered' | 'exited'; at: number; reason: MembershipReason }[]) { return this.memberships.recordHistory(projectId, rows); }
  history(projectId: string, by: { segmentId: string } | { profileId: number }, limit: number, beforeId: number | null) { return this.memberships.history(projectId, by, limit, beforeId); }
}
