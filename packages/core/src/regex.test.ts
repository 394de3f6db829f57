import { RE2JS } from 're2js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseCondition } from './parse.ts';
import { checkPattern, compileMatcher, MATCH_INPUT_LIMIT, matchInput, MAX_PROGRAM_SIZE } from './regex.ts';

// The pattern of the stall report: 5,202 instructions, 3 s on a 16,000-character value before the bounds.
const STALL = '((a?){1,10}){1,100}$';
// The same shape cut to just under the program bound: the costliest kind of pattern still accepted.
const WORST_ACCEPTED = '((a?){1,10}){1,9}$';

const programSize = (p: string) => RE2JS.compile(p, RE2JS.DOTALL).programSize();

describe('regular-expression bounds', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('refuses a pattern whose program is over the bound, naming the size', () => {
    expect(programSize(STALL)).toBeGreaterThan(MAX_PROGRAM_SIZE);
    expect(checkPattern(STALL)).toMatch(/compiles to 5202 instructions, more than the limit of 500/);
    expect(checkPattern(WORST_ACCEPTED)).toBeNull();
    expect(programSize(WORST_ACCEPTED)).toBeGreaterThan(MAX_PROGRAM_SIZE * 0.9);
  });

  it('reports the refusal as a validation fault at the JSON path of the pattern', () => {
    const r = parseCondition({ all: [{ attr: 'traits.plan', op: 'eq', value: 'pro' }, { event: 'Viewed', where: [{ attr: 'properties.path', op: 'matches', value: STALL }] }] });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues).toEqual([{ path: '/all/1/where/0/value', message: expect.stringMatching(/5202 instructions/) }]);
  });

  it('refuses it with ignoreCase too, at the same path', () => {
    const r = parseCondition({ attr: 'traits.s', op: 'matches', value: STALL, ignoreCase: true });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues.map((i) => i.path)).toContain('/value');
  });

  it('will not compile an over-bound pattern that skipped validation', () => {
    expect(() => compileMatcher(STALL, false)).toThrow(/more than the limit/);
    expect(() => compileMatcher(STALL, true)).toThrow(/more than the limit/);
  });

  it.each([16_000, 30_000])('reads only the first MATCH_INPUT_LIMIT characters of a %i-character value (work is bounded)', (length) => {
    const seen: number[] = [];
    const original = RE2JS.prototype.matcher;
    vi.spyOn(RE2JS.prototype, 'matcher').mockImplementation(function (this: RE2JS, input) {
      seen.push(typeof input === 'string' ? input.length : -1);
      return original.call(this, input);
    });
    for (const ic of [false, true]) {
      const m = compileMatcher(WORST_ACCEPTED, ic);
      expect(m('a'.repeat(length))).toBe(true);
    }
    expect(seen).toEqual([MATCH_INPUT_LIMIT, MATCH_INPUT_LIMIT]);
    // About one step per instruction per character: this is the most one evaluation may do.
    expect(programSize(WORST_ACCEPTED) * Math.max(...seen)).toBeLessThanOrEqual(MAX_PROGRAM_SIZE * MATCH_INPUT_LIMIT);
  });

  it('evaluates the costliest accepted pattern on a 30,000-character value quickly (a generous wall-clock check)', () => {
    const m = compileMatcher(WORST_ACCEPTED, false);
    const value = 'a'.repeat(30_000);
    m(value); // the first run pays for the JIT, not for matching
    // The fastest of a few runs, so a busy machine does not fail it; idle it is under 10 ms, and
    // reading the whole value (as before the input limit) took over 300 ms.
    let best = Infinity;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      m(value);
      best = Math.min(best, performance.now() - t0);
    }
    expect(best).toBeLessThan(100);
  });

  it('cuts at code points and never splits a surrogate pair', () => {
    const face = '😀';
    expect(matchInput('x'.repeat(MATCH_INPUT_LIMIT))).toHaveLength(MATCH_INPUT_LIMIT);
    expect(Array.from(matchInput(face.repeat(MATCH_INPUT_LIMIT + 5)))).toHaveLength(MATCH_INPUT_LIMIT);
    const mixed = matchInput('x' + face.repeat(MATCH_INPUT_LIMIT));
    expect(mixed.endsWith(face)).toBe(true);
    expect(Array.from(mixed)).toHaveLength(MATCH_INPUT_LIMIT);
  });
});
