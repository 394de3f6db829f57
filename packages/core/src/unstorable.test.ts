import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isUnstorableString, unstorableStrings } from './values.ts';

/** The rule as a regular expression: a NUL, or a surrogate without its partner. The one-pass check must agree with it. */
const byRegex = (s: string) => s.includes('\u0000') || /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

/** Strings built mostly of the code units that matter: NUL, high and low surrogates, and plain letters. */
const units = fc.array(fc.constantFrom(0, 0x41, 0xe9, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xd83d, 0xde00), { maxLength: 8 })
  .map((cs) => String.fromCharCode(...cs));

describe('unstorable strings', () => {
  it('finds NUL characters and unpaired surrogates, and passes pairs', () => {
    expect(isUnstorableString('plain é 😀')).toBe(false);
    expect(isUnstorableString('a\u0000b')).toBe(true);
    expect(isUnstorableString('\ud83d')).toBe(true);
    expect(isUnstorableString('\ude00x')).toBe(true);
    expect(isUnstorableString('\ud83d\ud83d\ude00')).toBe(true);
    expect(isUnstorableString('\ud83d\ude00\ude00')).toBe(true);
  });

  it('agrees with the rule written as a regular expression', () => {
    fc.assert(fc.property(fc.oneof(units, fc.string({ unit: 'binary' })), (s) => isUnstorableString(s) === byRegex(s)), { numRuns: 1000 });
  });

  it('names the JSON pointers of bad values and of values under bad keys, and nothing in a clean value', () => {
    expect(unstorableStrings({ a: 'ok', b: ['x', { c: 1 }] })).toEqual([]);
    const found = unstorableStrings({ ok: 'x', 'a/b': ['fine', 'bad\u0000'], ['k\ud800']: 'value', '~n': { deep: '\udc00' } });
    expect(found.sort()).toEqual(['/', '/a~1b/1', '/~0n/deep'].sort());
    expect(unstorableStrings('\u0000')).toEqual(['/']);
    expect(unstorableStrings({ a: '\u0000', b: '\u0000' }, 1)).toHaveLength(1);
  });
});
