import { createReadStream, statSync } from 'node:fs';
import { describeChanges, type ImportChangeCounts } from '@strata/core';
import { Readable, Transform } from 'node:stream';
import { parseCommandLine, UsageError } from './usage.ts';

export const IMPORT_USAGE = `usage: strata import FILE --kind users|events|segment [options]
  --dry-run                 write nothing: report what the import would do (would create N,
                            update M, skip K: counted as the real run counts) and its bad rows
  --format csv|ndjson       default: from the file name (.csv, .ndjson/.jsonl)
  --user-id-column NAME     users/segment: the userId column (default userId, user_id or id)
  --labels-column NAME      users: the ;-separated labels column (default labels)
  --types COL:TYPE,...      column type overrides: auto, string, number, boolean, date, json
  --segment NAME            segment: add to the segment of this name (created, static, if none)
  --segment-id ID           segment: add to this existing segment
Talks to a running server: STRATA_URL (default http://127.0.0.1:4000), STRATA_ADMIN_TOKEN.`;

const fmtN = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : String(Math.round(n)));
const fmtT = (s: number) => (!Number.isFinite(s) ? '--:--' : `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}`);

/**
 * The progress line: bytes sent of the file's size (the server reads at its own pace, so what
 * is sent is about what is imported), rows counted by newlines, rows/s and the ETA from the byte rate.
 */
export function progressLine(sent: number, total: number, rows: number, seconds: number, width = 24): string {
  const f = total > 0 ? Math.min(1, sent / total) : 0;
  const bar = '█'.repeat(Math.round(f * width)).padEnd(width, '░');
  const rate = seconds > 0 ? rows / seconds : 0;
  const eta = f > 0 && seconds > 0 ? (seconds / f) * (1 - f) : Infinity;
  return `${bar} ${(f * 100).toFixed(0).padStart(3)}%  ${fmtN(rows)} rows  ${fmtN(rate)} rows/s  ETA ${fmtT(eta)}`;
}

/** Bad rows the report prints; the rest are a download away. */
export const BAD_ROWS_SHOWN = 50;

/**
 * The report's bad rows: the first BAD_ROWS_SHOWN, then how many more there are and the command
 * that downloads all of them as CSV (GET /api/imports/:id/bad-rows?format=csv; the token stays in
 * the environment, not in the printed command).
 */
export function badRowsReport(job: { id: string; bad: number; badRows: readonly { line: number; reason: string }[] }, base: string): string[] {
  const shown = job.badRows.slice(0, BAD_ROWS_SHOWN);
  const out = shown.map((b) => `  line ${b.line}: ${b.reason}`);
  const more = job.bad - shown.length;
  if (more > 0) {
    const url = `${base}/api/imports/${encodeURIComponent(job.id)}/bad-rows?format=csv`;
    out.push(`  … and ${more} more bad row${more === 1 ? '' : 's'}. All ${job.bad} as CSV (line,reason):`);
    out.push(`  curl -fsS -H "authorization: Bearer $STRATA_ADMIN_TOKEN" -o ${job.id}-bad-rows.csv '${url}'`);
  }
  return out;
}

/** `strata import FILE …`: streams the file to POST /api/imports and shows progress on stderr. */
export async function runImport(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine({
    args: argv, allowPositionals: true,
    options: {
      kind: { type: 'string' }, 'dry-run': { type: 'boolean' }, format: { type: 'string' }, 'user-id-column': { type: 'string' },
      'labels-column': { type: 'string' }, types: { type: 'string' }, segment: { type: 'string' }, 'segment-id': { type: 'string' },
    },
  });
  const file = positionals[0];
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'give the FILE to import' : `one FILE at a time, got ${positionals.length}: ${positionals.join(' ')}`);
  if (!values.kind) throw new UsageError('give the --kind of the file: users, events or segment');
  const format = values.format ?? (/\.(nd)?jsonl?$|\.ndjson$/i.test(file) ? 'ndjson' : 'csv');
  const q = new URLSearchParams({ kind: values.kind, format });
  if (values['dry-run']) q.set('dryRun', 'true');
  if (values['user-id-column']) q.set('userIdColumn', values['user-id-column']);
  if (values['labels-column']) q.set('labelsColumn', values['labels-column']);
  if (values.types) q.set('types', values.types);
  if (values.segment) q.set('segmentName', values.segment);
  if (values['segment-id']) q.set('segmentId', values['segment-id']);
  const base = (process.env.STRATA_URL ?? 'http://127.0.0.1:4000').replace(/\/$/, '');
  const token = process.env.STRATA_ADMIN_TOKEN;
  if (!token) throw new UsageError('set STRATA_ADMIN_TOKEN (the admin token of the project)');

  const total = statSync(file).size;
  let sent = 0, rows = 0;
  const started = Date.now();
  const tty = process.stderr.isTTY;
  const draw = (end = false) => {
    const line = progressLine(sent, total, rows, (Date.now() - started) / 1000);
    if (tty) process.stderr.write(`\r${line}${end ? '\n' : ''}`);
    else if (end) process.stderr.write(`${line}\n`);
  };
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      sent += chunk.length;
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) rows++;
      done(null, chunk);
    },
  });
  const timer = setInterval(draw, 200);
  const body = Readable.toWeb(createReadStream(file).pipe(count)) as ReadableStream<Uint8Array>;
  let res: Response;
  try {
    res = await fetch(`${base}/api/imports?${q}`, {
      method: 'POST', body, duplex: 'half',
      headers: { authorization: `Bearer ${token}`, 'content-type': format === 'csv' ? 'text/csv' : 'application/x-ndjson' },
    } as RequestInit & { duplex: 'half' });
  } finally {
    clearInterval(timer);
  }
  draw(true);
  const answer = (await res.json()) as { error?: { message: string }; id: string; status: string; rows: number; ok: number; bad: number; badRows: { line: number; reason: string }[]; badRowsOmitted: number; summary: object; changes: ImportChangeCounts };
  if (!res.ok) { console.error(`strata import: ${res.status} ${answer.error?.message ?? ''}`); return 1; }
  const secs = (Date.now() - started) / 1000;
  console.log(`import ${answer.id}: ${answer.status}${values['dry-run'] ? ' (dry run)' : ''} — ${answer.rows} rows, ${answer.ok} ok, ${answer.bad} bad, in ${secs.toFixed(1)} s (${fmtN(answer.rows / secs)} rows/s)`);
  console.log(`  ${describeChanges(answer.changes, values['dry-run'] === true)}${values['dry-run'] ? ' (nothing was written)' : ''}`);
  console.log(`  ${JSON.stringify(answer.summary)}`);
  for (const line of badRowsReport(answer, base)) console.log(line);
  return answer.status === 'done' ? 0 : 1;
}
