import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { limitText, LIMITS } from '@strata/core';
import type { FileRow, ImportFormat, ImportSource } from '@strata/engine';


/** A quoted field may span lines; past this many, the quote is taken as never closed. */
const MAX_RECORD_LINES = LIMITS.MAX_RECORD_LINES;
/** Rows are handed on this many at a time, and quoted records given to csv-parse as many in one call (its per-call cost is 100 µs). */
const GROUP = 1000;

/**
 * Where a line leaves CSV quoting: 'closed' (the record ends here), 'open' (a quoted field goes on
 * to the next line), or the reason the record is malformed. `open` says whether the line starts inside a quoted field.
 */
function scanQuotes(line: string, open: boolean): 'closed' | 'open' | string {
  if (!open && line.indexOf('"') < 0) return 'closed';
  let inQuotes = open;
  let fieldStart = !open;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (inQuotes) {
      if (c !== 34) continue;
      if (line.charCodeAt(i + 1) === 34) { i++; continue; }
      const next = line.charCodeAt(i + 1);
      if (i + 1 < line.length && next !== 44) return `malformed quotes: a closing quote must end the field (found "${line[i + 1]}" after it)`;
      inQuotes = false;
      fieldStart = false;
    } else if (c === 44) {
      fieldStart = true;
    } else if (c === 34) {
      if (!fieldStart) return 'malformed quotes: a quote inside an unquoted field (quote the whole field and double the quote)';
      inQuotes = true;
    } else {
      fieldStart = false;
    }
  }
  return inQuotes ? 'open' : 'closed';
}

/**
 * Reads a CSV file row by row as it streams in. Records are split by a quote-aware pre-scan that
 * also rejects malformed quoting itself: csv-parse cannot re-synchronise after a malformed quote
 * (it reads on as if a quoted field were still open), and one bad row must never swallow the good
 * ones after it. The well-formed records are parsed by csv-parse, a group at a time; a record
 * with no quote character at all is its cells split on commas (RFC 4180 leaves nothing else to
 * decide there), which keeps plain files fast.
 */
export async function* readCsv(input: Readable): AsyncGenerator<FileRow[]> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  let out: FileRow[] = [];
  /** Well-formed records waiting for csv-parse, in file order with the plain rows around them. */
  let quoted: { at: number; line: number; text: string }[] = [];
  const record = (line: number, text: string): void => {
    if (text.indexOf('"') >= 0) quoted.push({ at: out.length, line, text });
    out.push({ line, cells: text.indexOf('"') >= 0 ? [] : text.split(',') });
  };
  /** Parses the waiting quoted records in one call and puts their cells in their rows. */
  const flush = (): void => {
    if (quoted.length === 0) return;
    const parsed = parse(quoted.map((q) => q.text).join('\n'), { relax_column_count: true, skip_empty_lines: false }) as string[][];
    if (parsed.length !== quoted.length) throw new Error(`csv-parse gave ${parsed.length} records for ${quoted.length} pre-scanned ones`);
    quoted.forEach((q, i) => { out[q.at] = { line: q.line, cells: parsed[i]! }; });
    quoted = [];
  };
  /** The lines of a record whose quoted field is still open, with their line numbers. */
  let pending: { text: string; n: number }[] | null = null;
  /**
   * Takes one physical line. A quoted field left open for MAX_RECORD_LINES lines (or to the end
   * of the file) is a malformed quote on its first line: that line is reported and the lines held
   * after it are read again as records of their own, so a stray quote costs one row, not the rest.
   */
  const take = (text: string, n: number): void => {
    if (pending) {
      pending.push({ text, n });
      const s = scanQuotes(text, true);
      if (s === 'open' && pending.length < MAX_RECORD_LINES) return;
      const held = pending;
      pending = null;
      if (s === 'closed') { record(held[0]!.n, held.map((l) => l.text).join('\n')); return; }
      giveUp(held, s === 'open' ? `malformed quotes: a quoted field is not closed within ${MAX_RECORD_LINES} lines (${limitText('MAX_RECORD_LINES')})` : s);
      return;
    }
    if (text.length === 0) return;
    const s = scanQuotes(text, false);
    if (s === 'closed') record(n, text);
    else if (s === 'open') pending = [{ text, n }];
    else out.push({ line: n, error: s });
  };
  const giveUp = (held: { text: string; n: number }[], reason: string): void => {
    out.push({ line: held[0]!.n, error: reason });
    for (const l of held.slice(1)) take(l.text, l.n);
  };
  for await (let line of lines) {
    n++;
    if (n === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    take(line, n);
    if (out.length >= GROUP) { flush(); const o = out; out = []; yield o; }
  }
  while (pending) {
    const held: { text: string; n: number }[] = pending;
    pending = null;
    giveUp(held, 'malformed quotes: a quoted field is not closed by the end of the file');
  }
  flush();
  if (out.length) yield out;
}

/** Reads NDJSON line by line (blank lines skipped); each row's text is parsed by its reader. */
export async function* readNdjson(input: Readable): AsyncGenerator<FileRow[]> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  let out: FileRow[] = [];
  for await (let line of lines) {
    n++;
    if (n === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (line.trim().length === 0) continue;
    out.push({ line: n, text: line });
    if (out.length >= GROUP) { yield out; out = []; }
  }
  if (out.length) yield out;
}

/**
 * An uploaded file as an import reads it: CSV or NDJSON rows from the streamed body, and whether
 * the upload stopped short. A stream cut short (the client went away, a failed socket) ends like
 * a whole one, so its events are the only sign.
 */
export function uploadSource(input: Readable, format: ImportFormat): ImportSource {
  let failure: string | null = null;
  input.once('aborted', () => { failure = 'the upload ended before the end of the file (the client went away)'; });
  input.once('error', (e: Error) => { failure = `the upload failed: ${e.message}`; });
  const read = format === 'csv' ? readCsv(input) : readNdjson(input);
  return {
    rows: (async function* rows() {
      yield* read;
      // An HTTP body read to its end says so (`complete`); a file stream has no such flag.
      if (failure === null && (input as Readable & { complete?: boolean }).complete === false) failure = 'the upload ended before the end of the file';
    })(),
    failure: () => failure,
  };
}
