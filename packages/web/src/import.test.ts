import { describe, expect, it } from 'vitest';
import { csvHeader, formatOf, importQuery, type ImportOptions } from './pages/import.tsx';

const base: ImportOptions = { kind: 'users', format: 'csv', userIdColumn: '', labelsColumn: '', types: {}, segmentMode: 'name', segmentName: '', segmentId: '' };

describe('import page helpers', () => {
  it('reads the format from the file name, then its type', () => {
    expect(formatOf('users.CSV')).toBe('csv');
    expect(formatOf('events.ndjson')).toBe('ndjson');
    expect(formatOf('events.jsonl')).toBe('ndjson');
    expect(formatOf('blob', 'application/x-ndjson')).toBe('ndjson');
    expect(formatOf('blob')).toBeNull();
  });

  it('splits a CSV header with quotes, a BOM and CRLF', () => {
    expect(csvHeader('\uFEFFuserId,"full, name","say ""hi""",age\r')).toEqual(['userId', 'full, name', 'say "hi"', 'age']);
  });

  it('builds the query of POST /api/imports with only the options of the kind', () => {
    expect(importQuery({ ...base, types: { age: 'number', name: 'auto', zip: 'string' }, userIdColumn: 'id', labelsColumn: 'tags' }, true))
      .toBe('?kind=users&format=csv&dryRun=true&userIdColumn=id&labelsColumn=tags&types=age%3Anumber%2Czip%3Astring');
    expect(importQuery({ ...base, kind: 'events', format: 'ndjson', userIdColumn: 'id', types: { a: 'number' } }, false)).toBe('?kind=events&format=ndjson');
    expect(importQuery({ ...base, kind: 'segment', segmentName: ' VIPs ', segmentId: 'seg_1', types: { a: 'number' } }, false)).toBe('?kind=segment&format=csv&segmentName=VIPs');
    expect(importQuery({ ...base, kind: 'segment', segmentMode: 'id', segmentName: 'x', segmentId: 'seg_1' }, false)).toBe('?kind=segment&format=csv&segmentId=seg_1');
  });
});
