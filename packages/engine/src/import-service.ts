import { createHash, randomBytes } from 'node:crypto';
import sjson from 'secure-json-parse';
import { AppError, isPlainObject, limitText, MAX_ID_LENGTH, parseTimestamp, type ImportChangeCounts, type Issue, type Json, type JsonObject, isoTime as iso } from '@strata/core';
import { ImportStore, type BadRow, type ImportKind, type ImportRow, type IngestItem, type SqlStore, type UserPlan, type UserUpsert } from '@strata/store';
import type { Clock } from './clock.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import type { IngestService } from './ingest-service.ts';
import type { LiveEngine } from './live-engine.ts';
import type { SegmentService } from './segment-service.ts';

export type ImportFormat = 'csv' | 'ndjson';

/** One row of a file: its first line (1-based) and its cells (CSV) or text (NDJSON), or why it cannot be read. */
export type FileRow =
  | { readonly line: number; readonly cells: readonly string[]; readonly text?: undefined; readonly error?: undefined }
  | { readonly line: number; readonly text: string; readonly cells?: undefined; readonly error?: undefined }
  | { readonly line: number; readonly error: string; readonly cells?: undefined; readonly text?: undefined };

/**
 * A file as an import reads it: its rows, a group at a time, read by whoever receives the bytes
 * (the server reads an upload with csv-parse or line by line).
 */
export interface ImportSource {
  readonly rows: AsyncIterable<readonly FileRow[]>;
  /** Why the file stopped short of its end (the upload failed or the client went away), else null: rows that stop early look like a whole file. */
  failure(): string | null;
}

/** Validates one Segment-spec message of an events import: the very check ingest applies (it lives with the HTTP layer). */
export type NormalizeMessage = (raw: JsonObject, receivedAt: number) => { ok: true; item: IngestItem } | { ok: false; issues: readonly Issue[] };

/** What an import writes through: the live engine (users), group-commit ingest (events) and segments (members). */
export interface ImportDeps {
  readonly store: SqlStore;
  readonly clock: Clock;
  readonly engine: LiveEngine;
  readonly ingest: IngestService;
  readonly segments: SegmentService;
  readonly normalize: NormalizeMessage;
}
export type ColumnType = 'auto' | 'string' | 'number' | 'boolean' | 'date' | 'json';
export const COLUMN_TYPES: readonly ColumnType[] = ['auto', 'string', 'number', 'boolean', 'date', 'json'];

export interface ImportOptions {
  readonly kind: ImportKind;
  readonly format: ImportFormat;
  readonly dryRun: boolean;
  /** users/segment: the column holding the userId (default: userId, user_id or id, whichever the header has). */
  readonly userIdColumn?: string;
  /** users: the column of `;`-separated labels (default: labels, if present). */
  readonly labelsColumn?: string;
  /** users (and events' properties.* columns): per-column type overrides; others are inferred. */
  readonly types?: Readonly<Record<string, ColumnType>>;
  /** segment: add to this existing segment. */
  readonly segmentId?: string;
  /** segment: add to the segment of this name, creating a static one when there is none. */
  readonly segmentName?: string;
}

/** Rows written per transaction: membership follows each batch in the same transaction. */
export const BATCH_ROWS = 2000;
/**
 * Users per transaction of a users import: fewer commits (each an fsync) for the bulk upsert;
 * a transaction of 5000 holds the engine's writer for about 0.1 s, which concurrent ingest waits.
 */
export const USER_BATCH_ROWS = 5000;
/** Bad rows listed inline in the job (`badRows`); all of them are stored in `import_bad_rows`. */
export const MAX_BAD_DETAILS = 1000;
/**
 * New bad rows held before the job's progress is saved with them (besides the save about twice a
 * second): what a job holds in memory stays bounded however many rows of a file are bad.
 */
export const BAD_ROWS_PER_SAVE = 5000;
/** Bad rows read per query when they are streamed as CSV. */
const BAD_ROWS_PAGE = 1000;
const MAX_ID = MAX_ID_LENGTH;
const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** A cell's inferred value: a boolean, a plain decimal number (at most 17 characters), else the string. */
function autoValue(raw: string): Json {
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (raw.length <= 17 && NUMBER.test(raw)) {
    const n = Number(raw);
    if (Number.isFinite(n)) return n;
  }
  return raw;
}

/** A cell's value: inferred (numbers, booleans; dates stay strings) or as its column's override says. */
export function cellValue(raw: string, type: ColumnType): { ok: true; value: Json } | { ok: false; reason: string } {
  switch (type) {
    case 'string': return { ok: true, value: raw };
    case 'auto': return { ok: true, value: autoValue(raw) };
    case 'number': {
      const v = Number(raw);
      return NUMBER.test(raw.trim()) && Number.isFinite(v) ? { ok: true, value: v } : { ok: false, reason: `"${raw}" is not a number` };
    }
    case 'boolean': {
      const l = raw.trim().toLowerCase();
      if (['true', '1', 'yes'].includes(l)) return { ok: true, value: true };
      if (['false', '0', 'no'].includes(l)) return { ok: true, value: false };
      return { ok: false, reason: `"${raw}" is not a boolean (true/false, 1/0, yes/no)` };
    }
    case 'date':
      return Number.isFinite(parseTimestamp(raw.trim())) ? { ok: true, value: raw.trim() } : { ok: false, reason: `"${raw}" is not an ISO 8601 date` };
    case 'json':
      try { return { ok: true, value: JSON.parse(raw) as Json }; } catch { return { ok: false, reason: `"${raw.slice(0, 40)}" is not JSON` }; }
  }
}

/** The labels of a `;`-separated cell, trimmed, empty ones dropped. */
function labelsOf(cell: string): string[] {
  if (cell.indexOf(';') < 0) { const l = cell.trim(); return l === '' ? [] : [l]; }
  return cell.split(';').map((l) => l.trim()).filter((l) => l !== '');
}

/**
 * An NDJSON line, parsed as the ingest parses bodies: `__proto__` and `constructor` keys removed.
 * A key can only spell either name with those very letters or with `\u` escapes, so a line
 * holding neither name nor any `\u` (nor a BOM, which it strips) is plain JSON.parse (secure-json-parse scans every line
 * with two regular expressions, most of the parse's cost).
 */
const parseLine = (text: string): unknown =>
  text.includes('__proto__') || text.includes('constructor') || text.includes('\\u') || text.charCodeAt(0) === 0xfeff
    ? sjson.parse(text, undefined, { protoAction: 'remove', constructorAction: 'remove' })
    : JSON.parse(text);

/** Ids never seen listed in a segment import's summary (`newUserIds`); `newUsers` counts them all. */
export const MAX_NEW_IDS_LISTED = 1000;

/**
 * Counts (and lists the first MAX_NEW_IDS_LISTED of) the ids of a segment import that name no
 * profile: those a real run creates. A dry run writes nothing, so an id new in one batch is still
 * new in the next: it remembers the ids counted to count each once.
 */
function newIdsTally(summary: Record<string, unknown>, dryRun: boolean): { count(ids: readonly string[]): void } {
  const listed: string[] = [];
  const counted = dryRun ? new Set<string>() : null;
  summary.newUsers = 0;
  summary.newUserIds = listed;
  return {
    count(ids) {
      for (const id of ids) {
        if (counted) { if (counted.has(id)) continue; counted.add(id); }
        summary.newUsers = (summary.newUsers as number) + 1;
        if (listed.length < MAX_NEW_IDS_LISTED) listed.push(id);
      }
    },
  };
}

/** A line that cannot be read: a 400 when it is a CSV file's header (nothing after it could be read right), else a bad row. */
function badLine(opts: { format?: string }, line: number, error: string, job: { rows: number; reject(line: number, reason: string): void }): void {
  if (line === 1 && opts.format === 'csv') throw new AppError({ code: 'VALIDATION_FAILED', message: `the header line is not valid CSV: ${error}`, issues: [{ path: '/body/1', message: error }] });
  job.rows++;
  job.reject(line, error);
}

/** The JSON object on an NDJSON line, or undefined once the line is rejected (`what`: what each line must be). */
function lineObject(job: { reject(line: number, reason: string): void }, line: number, text: string, what: string): JsonObject | undefined {
  let raw: unknown;
  try { raw = parseLine(text); } catch (e) { job.reject(line, `not valid JSON: ${(e as Error).message}`); return undefined; }
  if (!isPlainObject(raw)) { job.reject(line, `each line must be ${what}`); return undefined; }
  return raw as JsonObject;
}

/** Column names become object keys (traits, properties): refuse the ones that would reach a prototype. */
function checkedHeader(cells: readonly string[]): string[] {
  const columns = cells.map((c) => c.trim());
  const bad = columns.find((c) => /(^|\.)(__proto__|constructor|prototype)$/.test(c));
  if (bad !== undefined) throw new AppError({ code: 'VALIDATION_FAILED', message: `the header names column "${bad}", which cannot be a trait or property name` });
  return columns;
}

/** The job as the API shows it. */
export interface ImportView {
  readonly id: string;
  readonly kind: ImportKind;
  readonly status: ImportRow['status'];
  readonly dryRun: boolean;
  readonly rows: number;
  readonly ok: number;
  readonly bad: number;
  readonly badRows: readonly BadRow[];
  /** Bad rows counted in `bad` but not listed inline (past the first 1000; GET /api/imports/:id/bad-rows has them all). */
  readonly badRowsOmitted: number;
  readonly summary: JsonObject;
  /** The summary as what the import does — or, dry, would do: see importChanges. */
  readonly changes: ImportChanges;
  readonly error: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly finishedAt: string | null;
}

/** Rows that create something, change something, or change nothing (bad rows are counted apart). */
export type ImportChanges = ImportChangeCounts;

/**
 * One wording for every kind ("would create N, update M, skip K" for a dry run): users created,
 * updated, unchanged; events stored, —, duplicates; segment members added, —, rows that added no
 * one. A dry run counts them exactly as the real run would (same comparison, batch by batch).
 */
export function importChanges(kind: ImportKind, summary: JsonObject, ok: number): ImportChanges {
  const n = (k: string) => (typeof summary[k] === 'number' ? summary[k] : 0);
  if (kind === 'users') return { create: n('created'), update: n('updated'), skip: n('unchanged') };
  if (kind === 'events') return { create: n('stored'), update: 0, skip: n('duplicates') };
  return { create: n('added'), update: 0, skip: Math.max(0, ok - n('added')) };
}

let seq = 0;
/** Job ids sort by creation (wall time, then a counter), so that the list is newest first even within one clock tick. */
const jobId = () => `imp_${Date.now().toString(36).padStart(9, '0')}${(seq++ % 1296).toString(36).padStart(2, '0')}${randomBytes(4).toString('hex')}`;

export function importView(j: ImportRow): ImportView {
  return {
    id: j.id, kind: j.kind, status: j.status, dryRun: j.dryRun, rows: j.rows, ok: j.ok, bad: j.bad, badRows: j.badRows,
    badRowsOmitted: j.bad - j.badRows.length, summary: j.summary, changes: importChanges(j.kind, j.summary, j.ok), error: j.error, createdAt: iso(j.createdAt), updatedAt: iso(j.updatedAt),
    finishedAt: j.finishedAt === null ? null : iso(j.finishedAt),
  };
}

/** The mutable state of a running job. */
class Job {
  rows = 0;
  ok = 0;
  bad = 0;
  /** The first MAX_BAD_DETAILS bad rows, listed inline in the job. */
  badRows: BadRow[] = [];
  /** Bad rows not stored yet: written with the next progress save, in its transaction. */
  unsaved: BadRow[] = [];
  summary: Record<string, Json> = {};
  constructor(readonly row: ImportRow) {}
  reject(line: number, reason: string): void {
    this.bad++;
    const b = { line, reason };
    if (this.badRows.length < MAX_BAD_DETAILS) this.badRows.push(b);
    this.unsaved.push(b);
  }
  /** Saves the progress and the bad rows found since the last save, together (one transaction when there are any). */
  async save(store: ImportStore, j: ImportRow): Promise<void> {
    const bad = this.unsaved;
    this.unsaved = [];
    try {
      await store.save(j, bad);
    } catch (e) {
      this.unsaved = bad.concat(this.unsaved);
      throw e;
    }
  }
  snapshot(now: number, status: ImportRow['status'], error: string | null = null): ImportRow {
    const badRows = [...this.badRows].sort((a, b) => a.line - b.line);
    return { ...this.row, status, rows: this.rows, ok: this.ok, bad: this.bad, badRows, summary: { ...this.summary }, error, updatedAt: now, finishedAt: status === 'done' || status === 'failed' ? now : null };
  }
}

type RowHandler = (rows: readonly FileRow[], job: Job) => Promise<void>;

/**
 * Imports a file of users, events or segment members as it streams in (docs/import.md). Rows are
 * validated one by one; bad rows are reported with their line and reason and never stop the good
 * ones, which are written in batches (USER_BATCH_ROWS, BATCH_ROWS) through the live engine. Re-importing the same
 * file changes nothing: users are compared before they are written, events carry a messageId
 * (theirs, or a hash of the row), and segment includes are a set.
 */
export class ImportService {
  constructor(private readonly deps: ImportDeps) {}

  async get(projectId: string, id: string): Promise<ImportRow> {
    const j = await new ImportStore(this.deps.store).get(projectId, id);
    if (!j) throw new AppError({ code: 'NOT_FOUND', message: `no import with id "${id}"` });
    return j;
  }

  async list(projectId: string, limit: number): Promise<ImportRow[]> {
    return new ImportStore(this.deps.store).list(projectId, limit);
  }

  /** A page of an import's bad rows in line order; the cursor is the last line of the page before. */
  async badRows(projectId: string, id: string, limit: number, cursor: string | null): Promise<{ badRows: BadRow[]; nextCursor: string | null }> {
    await this.get(projectId, id);
    const rows = await new ImportStore(this.deps.store).badRows(projectId, id, limit + 1, decodeCursor(cursor));
    const page = rows.slice(0, limit);
    return { badRows: page, nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1]!.line) : null };
  }

  /** Every bad row of an import (after the cursor's line, if given), page by page; 404 before the first page for an unknown import. */
  async allBadRows(projectId: string, id: string, cursor: string | null = null): Promise<AsyncIterable<BadRow[]>> {
    await this.get(projectId, id);
    const store = new ImportStore(this.deps.store);
    let after = decodeCursor(cursor);
    return (async function* pages() {
      for (;;) {
        const page = await store.badRows(projectId, id, BAD_ROWS_PAGE, after);
        if (page.length > 0) yield page;
        if (page.length < BAD_ROWS_PAGE) return;
        after = page[page.length - 1]!.line;
      }
    })();
  }

  /** Checks options that make the whole import impossible (answered before any row is read). */
  async check(projectId: string, opts: ImportOptions): Promise<void> {
    if (opts.kind === 'segment') {
      if (!opts.segmentId === !opts.segmentName) throw new AppError({ code: 'VALIDATION_FAILED', message: 'a segment import needs either segmentId (an existing segment) or segmentName', issues: [{ path: '/segmentId', message: 'give segmentId or segmentName' }] });
      if (opts.segmentId && !(await this.deps.store.getSegment(projectId, opts.segmentId))) throw new AppError({ code: 'NOT_FOUND', message: `no segment with id "${opts.segmentId}"` });
    }
  }

  /** Runs an import to its end; `onStart` sees the job as soon as it exists. Resolves with the final job. */
  async run(projectId: string, source: ImportSource, opts: ImportOptions, onStart?: (j: ImportRow) => void): Promise<ImportRow> {
    await this.check(projectId, opts);
    const store = new ImportStore(this.deps.store);
    const now = this.deps.clock.now();
    const job = new Job({
      projectId, id: jobId(), kind: opts.kind, status: 'running', dryRun: opts.dryRun, rows: 0, ok: 0, bad: 0,
      badRows: [], summary: {}, error: null, createdAt: now, updatedAt: now, finishedAt: null,
    });
    await store.insert(job.row);
    onStart?.(job.row);
    let lastSaved = Date.now();
    try {
      const handle = this.handler(projectId, opts, job);
      for await (const rows of source.rows) {
        await handle(rows, job);
        // Progress is saved about twice a second, and sooner when BAD_ROWS_PER_SAVE bad rows wait:
        // the bad rows go with the save that counts them, in one transaction (dry runs alike).
        if (Date.now() - lastSaved > 500 || job.unsaved.length >= BAD_ROWS_PER_SAVE) { await job.save(store, job.snapshot(this.deps.clock.now(), 'running')); lastSaved = Date.now(); }
      }
      // A file cut short ends its rows like a whole one: without this, the job would say done.
      const cut = source.failure();
      if (cut !== null) throw new Error(cut);
      await handle([], job);
      const done = job.snapshot(this.deps.clock.now(), 'done');
      await job.save(store, done);
      return done;
    } catch (e) {
      const failed = job.snapshot(this.deps.clock.now(), 'failed', source.failure() ?? (e as Error).message);
      // Should the bad rows not go in (the store failing), the job is still marked failed.
      await job.save(store, failed).catch(() => store.update(failed)).catch(() => undefined);
      return failed;
    }
  }

  /** The per-kind row handler; called with [] at the end to write what is left. */
  private handler(projectId: string, opts: ImportOptions, job: Job): RowHandler {
    if (opts.kind === 'users') return this.users(projectId, opts, job);
    if (opts.kind === 'events') return this.events(projectId, opts, job);
    return this.segment(projectId, opts, job);
  }

  /** Header handling shared by CSV kinds: the first row names the columns. */
  private header(opts: ImportOptions, want: 'users' | 'segment') {
    let columns: string[] | null = null;
    let idIndex = -1;
    return {
      get columns() { return columns; },
      get idIndex() { return idIndex; },
      /** Takes the header; throws when the id column is missing (the whole import cannot go on). */
      take(cells: readonly string[]): void {
        columns = checkedHeader(cells);
        const name = opts.userIdColumn ?? ['userId', 'user_id', 'id'].find((c) => columns!.includes(c));
        idIndex = name === undefined ? -1 : columns.indexOf(name);
        if (idIndex < 0) {
          throw new AppError({ code: 'VALIDATION_FAILED', message: opts.userIdColumn ? `the header has no column "${opts.userIdColumn}" (userIdColumn)` : `the header names no userId column (userId, user_id or id); name it with userIdColumn (${want} import)` });
        }
        for (const c of Object.keys(opts.types ?? {})) {
          if (!columns.includes(c)) throw new AppError({ code: 'VALIDATION_FAILED', message: `types names column "${c}", which the header does not have` });
        }
      },
    };
  }

  private users(projectId: string, opts: ImportOptions, job: Job): RowHandler {
    const head = this.header(opts, 'users');
    let batch: UserUpsert[] = [];
    let labelsIndex = -1;
    let traitCols: { index: number; name: string; type: ColumnType }[] = [];
    job.summary = { created: 0, updated: 0, unchanged: 0, membershipChanges: 0 };
    // A dry run counts with the real run's comparison, batch by batch, writing nothing (docs/import.md).
    const plan: UserPlan | null = opts.dryRun ? new Map() : null;
    const flush = async () => {
      if (batch.length === 0) return;
      const users = batch;
      batch = [];
      const now = this.deps.clock.now();
      if (plan) {
        const out = await new ImportStore(this.deps.store).upsertUsers(projectId, users, now, plan);
        const s = job.summary as Record<string, number>;
        s.created! += out.created; s.updated! += out.updated; s.unchanged! += out.unchanged;
        return;
      }
      await this.deps.engine.write(async (tx) => {
        const out = await new ImportStore(tx).upsertUsers(projectId, users, now);
        const changes = await this.deps.engine.applyIngest(tx, projectId, {
          stored: 0, duplicates: 0, touched: new Set(out.records.map((r) => r.id)), merges: [], records: out.records, events: [], reload: new Set(),
        }, now);
        const s = job.summary as Record<string, number>;
        s.created! += out.created; s.updated! += out.updated; s.unchanged! += out.unchanged; s.membershipChanges! += changes.length;
      });
    };
    return async (rows) => {
      if (opts.format !== 'csv') throw new AppError({ code: 'VALIDATION_FAILED', message: 'a users import is CSV' });
      for (const r of rows) {
        if (r.error !== undefined) { badLine(opts, r.line, r.error, job); continue; }
        const cells = r.cells!;
        if (head.columns === null) {
          head.take(cells);
          const cols = head.columns!;
          const labels = opts.labelsColumn ?? (cols.includes('labels') ? 'labels' : undefined);
          if (opts.labelsColumn && !cols.includes(opts.labelsColumn)) throw new AppError({ code: 'VALIDATION_FAILED', message: `the header has no column "${opts.labelsColumn}" (labelsColumn)` });
          labelsIndex = labels === undefined ? -1 : cols.indexOf(labels);
          traitCols = cols.map((name, index) => ({ index, name, type: opts.types?.[name] ?? 'auto' })).filter((c) => c.index !== head.idIndex && c.index !== labelsIndex && c.name !== '');
          continue;
        }
        job.rows++;
        const width = head.columns!.length;
        if (cells.length !== width) { job.reject(r.line, `${cells.length} columns; the header has ${width}`); continue; }
        const userId = cells[head.idIndex]!.trim();
        if (userId === '') { job.reject(r.line, `missing userId (column "${head.columns![head.idIndex]}" is empty)`); continue; }
        if (userId.length > MAX_ID) { job.reject(r.line, `userId is longer than ${MAX_ID} characters (${limitText('MAX_ID_LENGTH')})`); continue; }
        const traits: JsonObject = {};
        let reason: string | null = null;
        for (const c of traitCols) {
          const raw = cells[c.index]!;
          if (raw === '') continue;
          // Inferred cells (most of them) take the path that allocates no result object.
          if (c.type === 'auto') { traits[c.name] = autoValue(raw); continue; }
          const v = cellValue(raw, c.type);
          if (!v.ok) { reason = `column "${c.name}": ${v.reason}`; break; }
          traits[c.name] = v.value;
        }
        if (reason) { job.reject(r.line, reason); continue; }
        const labels = labelsIndex < 0 ? [] : labelsOf(cells[labelsIndex]!);
        job.ok++;
        batch.push({ userId, traits, labels });
        if (batch.length >= USER_BATCH_ROWS) await flush();
      }
      if (rows.length === 0) await flush();
    };
  }

  private events(projectId: string, opts: ImportOptions, job: Job): RowHandler {
    let columns: string[] | null = null;
    let batch: IngestItem[] = [];
    job.summary = { stored: 0, duplicates: 0 };
    // A dry run's message ids so far, and those of the store it met: what the real run would drop as duplicates.
    const seen: Set<string> | null = opts.dryRun ? new Set() : null;
    const receivedAt = this.deps.clock.now();
    const flush = async () => {
      if (batch.length === 0) return;
      const items = batch;
      batch = [];
      const s = job.summary as Record<string, number>;
      if (seen) {
        await this.deps.store.storedMessageIds(projectId, items.filter((i) => !seen.has(i.messageId)).map((i) => i.messageId), seen);
        for (const i of items) {
          if (seen.has(i.messageId)) s.duplicates!++;
          else { s.stored!++; seen.add(i.messageId); }
        }
        return;
      }
      const r = await this.deps.ingest.submitApplied(projectId, items, [], this.deps.clock.now());
      s.stored! += r.stored; s.duplicates! += r.duplicates;
    };
    const take = (line: number, raw: JsonObject, source: string) => {
      // Without a messageId, a hash of the row: the same row imported again is a duplicate.
      if (raw.messageId === undefined || raw.messageId === null) raw.messageId = `import-${createHash('sha1').update(source).digest('base64url')}`;
      if (raw.type === undefined && typeof raw.event === 'string') raw.type = 'track';
      const n = this.deps.normalize(raw, receivedAt);
      if (!n.ok) { job.reject(line, n.issues.map((i) => `${i.path} ${i.message}`).join('; ')); return; }
      job.ok++;
      batch.push(n.item);
    };
    return async (rows) => {
      for (const r of rows) {
        if (r.error !== undefined) { badLine(opts, r.line, r.error, job); continue; }
        if (r.text !== undefined) {
          job.rows++;
          const raw = lineObject(job, r.line, r.text, 'a JSON object (a Segment message)');
          if (raw) take(r.line, raw, r.text);
        } else {
          const cells = r.cells!;
          if (columns === null) {
            columns = checkedHeader(cells);
            if (!columns.includes('event') && !columns.includes('type')) throw new AppError({ code: 'VALIDATION_FAILED', message: 'an events CSV needs an "event" column (and userId or anonymousId, timestamp, properties or properties.* columns)' });
            continue;
          }
          job.rows++;
          if (cells.length !== columns.length) { job.reject(r.line, `${cells.length} columns; the header has ${columns.length}`); continue; }
          const raw: JsonObject = {};
          const props: JsonObject = {};
          let reason: string | null = null;
          for (let i = 0; i < columns.length; i++) {
            const name = columns[i]!, cell = cells[i]!;
            if (cell === '') continue;
            if (name === 'properties' || name === 'context') {
              let v: unknown;
              try { v = JSON.parse(cell); } catch { reason = `column "${name}" is not JSON`; break; }
              if (!isPlainObject(v)) { reason = `column "${name}" must be a JSON object`; break; }
              if (name === 'properties') Object.assign(props, v); else raw.context = v;
            } else if (name.startsWith('properties.')) {
              const v = cellValue(cell, opts.types?.[name] ?? 'auto');
              if (!v.ok) { reason = `column "${name}": ${v.reason}`; break; }
              props[name.slice('properties.'.length)] = v.value;
            } else if (['event', 'type', 'userId', 'anonymousId', 'timestamp', 'messageId'].includes(name)) {
              raw[name] = name === 'timestamp' && NUMBER.test(cell) ? Number(cell) : cell;
            }
          }
          if (reason) { job.reject(r.line, reason); continue; }
          raw.properties = props;
          take(r.line, raw, cells.join('\u0000'));
        }
        if (batch.length >= BATCH_ROWS) await flush();
      }
      if (rows.length === 0) await flush();
    };
  }

  /**
   * A segment import's dry run: counts, batch by batch, the members each batch would add as the
   * real run adds them (SegmentService.addMembers: ids resolved as userId, else anonymousId, a new
   * profile for an unknown one; the include list a set), with nothing written. Ids that would get
   * a new profile are remembered, so the same id in a later batch adds no one, as in the real run.
   * Also answers the batch's ids that name no profile (read in the same look-up).
   */
  private segmentDryRun(projectId: string, segmentId: string | null, segmentName: string | undefined): (ids: readonly string[]) => Promise<{ added: number; unseen: string[] }> {
    let include: Set<number> | null = null;
    const fresh = new Set<string>();
    return async (ids) => {
      if (include === null) {
        const id = segmentId ?? (await this.deps.store.listSegments(projectId)).find((s) => s.name === segmentName)?.id;
        include = new Set(id === undefined ? [] : (await this.deps.store.manualProfileIds(projectId, id)).include);
      }
      const known = await this.deps.store.profileIdsByKey(projectId, ids.filter((u) => !fresh.has(u)));
      let added = 0;
      const unseen: string[] = [];
      for (const u of ids) {
        const profile = known.get(u);
        if (profile === undefined) {
          unseen.push(u);
          if (!fresh.has(u)) { fresh.add(u); added++; }
        } else if (!include.has(profile)) {
          include.add(profile);
          added++;
        }
      }
      return { added, unseen };
    };
  }

  private segment(projectId: string, opts: ImportOptions, job: Job): RowHandler {
    const head = this.header(opts, 'segment');
    let batch: string[] = [];
    let segmentId = opts.segmentId ?? null;
    job.summary = { segmentId, segmentName: opts.segmentName ?? null, created: false, added: 0 };
    const target = async (): Promise<string | null> => {
      if (segmentId !== null) return segmentId;
      const existing = (await this.deps.store.listSegments(projectId)).find((s) => s.name === opts.segmentName);
      if (existing) segmentId = existing.id;
      else if (!opts.dryRun) { segmentId = (await this.deps.segments.create(projectId, { name: opts.segmentName!, description: 'imported list', condition: null })).id; job.summary.created = true; }
      job.summary.segmentId = segmentId;
      return segmentId;
    };
    const fresh = newIdsTally(job.summary, opts.dryRun);
    const dry = opts.dryRun ? this.segmentDryRun(projectId, segmentId, opts.segmentName) : null;
    const flush = async () => {
      if (batch.length === 0) return;
      const ids = [...new Set(batch)];
      batch = [];
      if (dry) {
        const { added, unseen } = await dry(ids);
        fresh.count(unseen);
        job.summary.added = (job.summary.added as number) + added;
        return;
      }
      const id = (await target())!;
      const before = await this.deps.store.manualProfileIds(projectId, id);
      // The file is the confirmation: its dry run listed the ids this creates.
      const seg = await this.deps.segments.addMembers(projectId, id, ids, { createMissing: true });
      fresh.count(seg.created);
      job.summary.added = (job.summary.added as number) + (seg.include.length - before.include.length);
      job.summary.size = seg.size;
    };
    const add = async (line: number, userId: unknown) => {
      const u = typeof userId === 'number' ? String(userId) : typeof userId === 'string' ? userId.trim() : '';
      if (u === '') { job.reject(line, 'missing userId'); return; }
      if (u.length > MAX_ID) { job.reject(line, `userId is longer than ${MAX_ID} characters (${limitText('MAX_ID_LENGTH')})`); return; }
      job.ok++;
      batch.push(u);
      if (batch.length >= BATCH_ROWS) await flush();
    };
    return async (rows) => {
      for (const r of rows) {
        if (r.error !== undefined) { badLine(opts, r.line, r.error, job); continue; }
        if (r.text !== undefined) {
          job.rows++;
          const raw = lineObject(job, r.line, r.text, 'a JSON object such as {"userId": "u1"}');
          if (raw) await add(r.line, raw[opts.userIdColumn ?? 'userId']);
          continue;
        }
        const cells = r.cells!;
        if (head.columns === null) { head.take(cells); continue; }
        job.rows++;
        if (cells.length !== head.columns.length) { job.reject(r.line, `${cells.length} columns; the header has ${head.columns.length}`); continue; }
        await add(r.line, cells[head.idIndex]);
      }
      if (rows.length === 0) {
        await flush();
        if (!opts.dryRun && segmentId === null && opts.segmentName) await target();
      }
    };
  }
}
