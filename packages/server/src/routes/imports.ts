import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { stringify } from 'csv-stringify/sync';
import type { BadRow } from '@strata/store';
import { AppError, type Issue } from '@strata/core';
import type { AppContext } from '../context.ts';
import { COLUMN_TYPES, importView, type ColumnType, type ImportFormat, type ImportOptions } from '@strata/engine';
import { uploadSource } from '../import/read-rows.ts';
import { IdParams, MembersQuery, errors, maxLength } from '../schemas.ts';

/** Body types read as a stream, and the file format each means. */
const FORMATS: Record<string, ImportFormat | null> = {
  'text/csv': 'csv', 'application/csv': 'csv', 'application/x-ndjson': 'ndjson', 'application/ndjson': 'ndjson', 'application/jsonl': 'ndjson',
  'application/x-jsonlines': 'ndjson', 'application/octet-stream': null, 'text/plain': null,
};

const BadRowSchema = Type.Object({ line: Type.Integer(), reason: Type.String() });
export const ImportSchema = Type.Object({
  id: Type.String(),
  kind: Type.Union([Type.Literal('users'), Type.Literal('events'), Type.Literal('segment')]),
  status: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('done'), Type.Literal('failed')]),
  dryRun: Type.Boolean(),
  rows: Type.Integer({ description: 'data rows read so far (a CSV header not counted)' }),
  ok: Type.Integer(),
  bad: Type.Integer(),
  badRows: Type.Array(BadRowSchema, { description: 'the first 1000 bad rows, by line (GET /api/imports/:id/bad-rows has them all)' }),
  badRowsOmitted: Type.Integer({ description: 'bad rows counted in `bad` but not listed inline' }),
  summary: Type.Record(Type.String(), Type.Unknown()),
  changes: Type.Object({ create: Type.Integer(), update: Type.Integer(), skip: Type.Integer() }, {
    description: 'what the import does — a dry run: would do — counted as the real run counts: users created/updated/unchanged, events stored/—/duplicates, segment members added/—/rows adding no one',
  }),
  error: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
});

/** Paged like members (limit 1–1000, default 100; an opaque cursor), or the whole list as CSV. */
const BadRowsQuery = Type.Object({
  ...MembersQuery.properties,
  // An enum rather than a union of literals: a wrong value is one issue ("must be equal to one of the allowed values").
  format: Type.Optional(Type.Unsafe<'json' | 'csv'>({ type: 'string', enum: ['json', 'csv'], description: 'csv: every bad row (after the cursor, if given) as a CSV download, line,reason; limit does not apply' })),
}, { additionalProperties: false });
const BadRowsPage = Type.Object({ badRows: Type.Array(BadRowSchema), nextCursor: Type.Union([Type.String(), Type.Null()]) });

/** CSV text page by page: the header, then one csv-stringify call per page of bad rows. */
async function* badRowsCsv(pages: AsyncIterable<BadRow[]>): AsyncGenerator<string> {
  yield stringify([['line', 'reason']]);
  for await (const page of pages) yield stringify(page.map((b) => [b.line, b.reason]));
}

const ImportQuery = Type.Object({
  kind: Type.Union([Type.Literal('users'), Type.Literal('events'), Type.Literal('segment')]),
  format: Type.Optional(Type.Union([Type.Literal('csv'), Type.Literal('ndjson')])),
  dryRun: Type.Optional(Type.Boolean()),
  userIdColumn: Type.Optional(Type.String({ minLength: 1, ...maxLength('MAX_KEY_LENGTH') })),
  labelsColumn: Type.Optional(Type.String({ minLength: 1, ...maxLength('MAX_KEY_LENGTH') })),
  types: Type.Optional(Type.String({ maxLength: 8192, description: 'column:type,… with type one of auto, string, number, boolean, date, json' })),
  segmentId: Type.Optional(Type.String({ minLength: 1, ...maxLength('MAX_ID_LENGTH') })),
  segmentName: Type.Optional(Type.String({ minLength: 1, ...maxLength('MAX_NAME_LENGTH') })),
});

function parseTypes(s: string | undefined): Record<string, ColumnType> {
  const out: Record<string, ColumnType> = {};
  if (!s) return out;
  const issues: Issue[] = [];
  for (const part of s.split(',')) {
    const i = part.lastIndexOf(':');
    const col = part.slice(0, i).trim(), type = part.slice(i + 1).trim() as ColumnType;
    if (i <= 0 || !COLUMN_TYPES.includes(type)) issues.push({ path: '/types', message: `"${part}" is not column:type with type one of ${COLUMN_TYPES.join(', ')}` });
    else out[col] = type;
  }
  if (issues.length) throw new AppError({ code: 'VALIDATION_FAILED', message: 'types is not valid', issues });
  return out;
}

/**
 * /api/imports (Bearer admin token): the request body is the file itself, streamed (text/csv or
 * application/x-ndjson), options in the query string. The answer (201) comes when the import is
 * done; meanwhile GET /api/imports/:id (or the list) shows its progress.
 */
export async function importRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const imports = ctx.imports;
  // The body is handed over unread: the import reads it as it arrives (no body limit, no buffering).
  app.addContentTypeParser(Object.keys(FORMATS), (_req, payload, done) => done(null, payload));
  const tags = { tags: ['imports'], security: [{ adminToken: [] }] };

  app.post<{ Querystring: Static<typeof ImportQuery> }>('/api/imports', {
    schema: {
      ...tags, summary: 'Import users, events or segment members from a CSV or NDJSON body', querystring: ImportQuery,
      description: 'The body is the file (Content-Type text/csv or application/x-ndjson), read as it streams in. Answers 201 with the finished job; GET /api/imports/:id shows progress meanwhile. See docs/import.md.',
      response: { 201: ImportSchema, ...errors(400, 401, 403, 404) },
    },
  }, async (req, reply) => {
    const q = req.query;
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const format = q.format ?? FORMATS[type] ?? null;
    if (format === null || !(type in FORMATS)) {
      throw new AppError({ code: 'VALIDATION_FAILED', message: `send the file as the body with Content-Type text/csv or application/x-ndjson (or application/octet-stream with ?format=csv|ndjson); got "${type || 'none'}"` });
    }
    if (q.kind === 'users' && format !== 'csv') throw new AppError({ code: 'VALIDATION_FAILED', message: 'a users import is CSV (Content-Type text/csv)' });
    const opts: ImportOptions = {
      kind: q.kind, format, dryRun: q.dryRun ?? false, types: parseTypes(q.types),
      ...(q.userIdColumn ? { userIdColumn: q.userIdColumn } : {}), ...(q.labelsColumn ? { labelsColumn: q.labelsColumn } : {}),
      ...(q.segmentId ? { segmentId: q.segmentId } : {}), ...(q.segmentName ? { segmentName: q.segmentName } : {}),
    };
    const job = await imports.run(req.project.id, uploadSource(req.body as Readable, format), opts);
    if (job.status === 'failed' && job.rows === 0 && job.error) {
      // Nothing was read: a bad header or option. Answer 400, the job stays on record as failed.
      throw new AppError({ code: 'VALIDATION_FAILED', message: `${job.error} (import ${job.id})` });
    }
    return reply.status(201).send(importView(job));
  });

  app.get<{ Querystring: { limit?: number } }>('/api/imports', {
    schema: { ...tags, summary: 'Import jobs, newest first', querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })) }), response: { 200: Type.Object({ imports: Type.Array(ImportSchema) }), ...errors(401, 403) } },
  }, async (req) => ({ imports: (await imports.list(req.project.id, req.query.limit ?? 20)).map(importView) }));

  app.get<{ Params: Static<typeof IdParams> }>('/api/imports/:id', {
    schema: { ...tags, summary: 'An import job: status, progress and its report of bad rows', params: IdParams, response: { 200: ImportSchema, ...errors(401, 403, 404) } },
  }, async (req) => importView(await imports.get(req.project.id, req.params.id)));

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof BadRowsQuery> }>('/api/imports/:id/bad-rows', {
    schema: {
      ...tags, summary: "Every bad row of an import, in line order: by cursor, or all of them as CSV (format=csv)", params: IdParams, querystring: BadRowsQuery,
      response: { 200: { description: 'a page of bad rows (JSON), or with format=csv all of them (text/csv)', content: { 'application/json': { schema: BadRowsPage }, 'text/csv': { schema: { type: 'string', description: 'line,reason — every bad row' } } } }, ...errors(400, 401, 403, 404) },
    },
  }, async (req, reply) => {
    const { id } = req.params;
    if (req.query.format !== 'csv') return imports.badRows(req.project.id, id, req.query.limit ?? 100, req.query.cursor ?? null);
    const pages = await imports.allBadRows(req.project.id, id, req.query.cursor ?? null);
    // Backpressure end to end: the next page is read only when the socket has taken the last one.
    return reply.header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="${`${id}-bad-rows.csv`.replace(/[^A-Za-z0-9._-]/g, '_')}"`)
      .header('cache-control', 'no-store')
      .send(Readable.from(badRowsCsv(pages), { objectMode: false }));
  });
}
