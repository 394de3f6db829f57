import { Readable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FileRow } from '@strata/engine';
import { readCsv, readNdjson, uploadSource } from './read-rows.ts';

const all = async (gen: AsyncGenerator<FileRow[]>) => { const out: FileRow[] = []; for await (const rows of gen) out.push(...rows); return out.sort((a, b) => a.line - b.line); };
const csv = (text: string, chunk = 7) => all(readCsv(Readable.from(Array.from({ length: Math.ceil(text.length / chunk) }, (_, i) => text.slice(i * chunk, (i + 1) * chunk)))));

describe('readCsv', () => {
  it('reads quoted fields (commas, doubled quotes, line breaks), CRLF and a BOM, with the line each record starts on', async () => {
    const rows = await csv('\uFEFFid,note\r\na,"x, ""y"""\r\nb,"two\r\nlines"\r\n\r\nc,plain\r\n');
    expect(rows).toEqual([
      { line: 1, cells: ['id', 'note'] }, { line: 2, cells: ['a', 'x, "y"'] }, { line: 3, cells: ['b', 'two\nlines'] }, { line: 6, cells: ['c', 'plain'] },
    ]);
  });

  it('reports malformed quotes on their line and goes on with the next rows', async () => {
    const rows = await csv('id,v\n"a"x,1\nb"c,2\nd,3\n"e,4\nf,5\ng,6\n');
    expect(rows.map((r) => [r.line, r.cells ?? r.error])).toEqual([
      [1, ['id', 'v']],
      [2, 'malformed quotes: a closing quote must end the field (found "x" after it)'],
      [3, 'malformed quotes: a quote inside an unquoted field (quote the whole field and double the quote)'],
      [4, ['d', '3']],
      // An opening quote never closed: that line is bad, the ones after it are read again.
      [5, 'malformed quotes: a quoted field is not closed by the end of the file'],
      [6, ['f', '5']],
      [7, ['g', '6']],
    ]);
  });
});

describe('readCsv against csv-parse', () => {
  it('gives the cells csv-parse gives for any file of well-formed records (quotes, doubled quotes, commas, line breaks, empty cells)', async () => {
    const char = fc.constantFrom('a', 'b', ' ', ',', '"', '\n', 'é', '😀', '\t', ';');
    const cell = fc.tuple(fc.array(char, { maxLength: 6 }).map((cs) => cs.join('')), fc.boolean()).map(([v, quoted]) => {
      // A value holding a comma, quote or line break must be quoted; others may be.
      return quoted || /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
    });
    // Records that are not blank lines (a blank line is skipped by both).
    const rec = fc.array(cell, { minLength: 1, maxLength: 6 }).map((cells) => cells.join(',')).filter((r) => r !== '');
    await fc.assert(fc.asyncProperty(fc.array(rec, { minLength: 1, maxLength: 30 }), async (records) => {
      const file = records.join('\n');
      const rows = await all(readCsv(Readable.from([file])));
      expect(rows.map((r) => r.cells)).toEqual(parse(file, { relax_column_count: true }));
    }), { numRuns: 300 });
  });
});

describe('readNdjson', () => {
  it('gives each non-blank line with its number', async () => {
    const rows = await all(readNdjson(Readable.from(['{"a":1}\n\n{"b"', ':2}\n'])));
    expect(rows).toEqual([{ line: 1, text: '{"a":1}' }, { line: 3, text: '{"b":2}' }]);
  });
});

describe('uploadSource', () => {
  const drain = async (rows: AsyncIterable<readonly FileRow[]>) => { let n = 0; for await (const g of rows) n += g.length; return n; };

  it('reads a whole upload with no failure', async () => {
    const src = uploadSource(Readable.from(['id,plan\nu1,gold\n']), 'csv');
    expect(await drain(src.rows)).toBe(2);
    expect(src.failure()).toBeNull();
  });

  it('says so when the body ended before its end (an HTTP body not complete), once the rows are read', async () => {
    const body = Object.assign(Readable.from(['{"a":1}\n']), { complete: false });
    const src = uploadSource(body, 'ndjson');
    expect(await drain(src.rows)).toBe(1);
    expect(src.failure()).toBe('the upload ended before the end of the file');
  });

  it('says so when the client went away', async () => {
    const body = Readable.from(['{"a":1}\n']);
    const src = uploadSource(body, 'ndjson');
    body.emit('aborted');
    await drain(src.rows);
    expect(src.failure()).toBe('the upload ended before the end of the file (the client went away)');
  });
});
