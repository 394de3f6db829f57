import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { stringify } from 'csv-stringify/sync';
import type { ExportRecord } from '@strata/engine';
import type { AppContext } from '../context.ts';
import { IdParams, errors } from '../schemas.ts';

export const ExportQuery = Type.Object({
  format: Type.Optional(Type.Union([Type.Literal('csv'), Type.Literal('ndjson')], { default: 'csv' })),
  traits: Type.Optional(Type.String({ maxLength: 4000, description: 'Comma-separated top-level trait keys to add as columns, e.g. plan,country' })),
  labels: Type.Optional(Type.Boolean({ description: 'Add the labels column (CSV: labels joined by ";")' })),
  escapeFormulas: Type.Optional(Type.Boolean({ description: "CSV: prefix cells starting with = + - @ tab or CR with ' so spreadsheets do not run them (off by default: it changes the data)" })),
}, { additionalProperties: false });

const cell = (v: unknown): string | null => (v === null || v === undefined ? null : typeof v === 'string' ? v : JSON.stringify(v));

/** The CSV row of a record, in the header's order. */
function csvRow(r: ExportRecord, traits: readonly string[], labels: boolean): (string | null)[] {
  return [r.userId, r.anonymousId, r.since, ...traits.map((t) => cell(r.traits?.[t])), ...(labels ? [(r.labels ?? []).join(';')] : [])];
}

/** CSV text page by page: one csv-stringify call per page of rows, the header before the first. */
async function* csv(pages: AsyncIterable<ExportRecord[]>, traits: readonly string[], labels: boolean, escapeFormulas: boolean): AsyncGenerator<string> {
  const columns = ['userId', 'anonymousId', 'since', ...traits, ...(labels ? ['labels'] : [])];
  yield stringify([columns]);
  for await (const page of pages) yield stringify(page.map((r) => csvRow(r, traits, labels)), { escape_formulas: escapeFormulas });
}

async function* ndjson(pages: AsyncIterable<ExportRecord[]>): AsyncGenerator<string> {
  for await (const page of pages) yield page.map((r) => `${JSON.stringify(r)}\n`).join('');
}

/** GET /api/segments/:id/export: a segment's members, streamed (docs/export.md). */
export async function exportRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof ExportQuery> }>('/api/segments/:id/export', {
    schema: {
      tags: ['segments'], security: [{ adminToken: [] }], params: IdParams, querystring: ExportQuery,
      summary: 'Export members as CSV (userId, anonymousId, since, chosen traits, labels) or NDJSON, streamed by profile id',
      response: { 200: { description: 'text/csv or application/x-ndjson', type: 'string' }, ...errors(400, 401, 403, 404) },
    },
  }, async (req, reply) => {
    const format = req.query.format ?? 'csv';
    const traits = req.query.traits ? req.query.traits.split(',').map((t) => t.trim()) : [];
    const labels = req.query.labels ?? false;
    const records = await ctx.exports.prepare(req.project.id, req.params.id, { traits, labels });
    // Backpressure end to end: the next page is read only when the socket has taken the last one.
    const out = Readable.from(format === 'csv' ? csv(records, traits, labels, req.query.escapeFormulas ?? false) : ndjson(records), { objectMode: false });
    const name = `segment-${req.params.id}.${format === 'csv' ? 'csv' : 'ndjson'}`;
    return reply.header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
      .header('content-disposition', `attachment; filename="${name.replace(/[^A-Za-z0-9._-]/g, '_')}"`)
      .header('cache-control', 'no-store')
      .send(out);
  });
}
