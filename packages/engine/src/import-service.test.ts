import { describe, expect, it } from 'vitest';
import { cellValue } from './import-service.ts';

describe('cellValue', () => {
  it('infers numbers and booleans, keeps dates and zero-led codes as strings, and applies overrides', () => {
    expect(cellValue('42', 'auto')).toEqual({ ok: true, value: 42 });
    expect(cellValue('-1.5e3', 'auto')).toEqual({ ok: true, value: -1500 });
    expect(cellValue('true', 'auto')).toEqual({ ok: true, value: true });
    expect(cellValue('02134', 'auto')).toEqual({ ok: true, value: '02134' });
    expect(cellValue('2024-06-01', 'auto')).toEqual({ ok: true, value: '2024-06-01' });
    expect(cellValue('123456789012345678901', 'auto')).toEqual({ ok: true, value: '123456789012345678901' });
    expect(cellValue('42', 'string')).toEqual({ ok: true, value: '42' });
    expect(cellValue('yes', 'boolean')).toEqual({ ok: true, value: true });
    expect(cellValue('abc', 'number')).toEqual({ ok: false, reason: '"abc" is not a number' });
    expect(cellValue('2024-13-01', 'date').ok).toBe(false);
    expect(cellValue('{"a":1}', 'json')).toEqual({ ok: true, value: { a: 1 } });
  });
});
