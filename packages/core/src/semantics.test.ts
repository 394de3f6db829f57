import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCondition } from './parse.ts';
import { arbCase, evaluatorMembers, loadFixtureCases, oracleMembers } from './testing/index.ts';

const fixtures = await loadFixtureCases();

describe('fixture cases: the compiled evaluator', () => {
  it('has the cases the issue asks for', () => {
    expect(fixtures.cases.length).toBeGreaterThanOrEqual(150);
  });
  it.each(fixtures.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(evaluatorMembers(c.condition, c.profiles, c.segments, c.now)).toEqual(c.expected);
  });
});

describe('fixture cases: validation reports every fault with its path', () => {
  const invalid = fixtures.invalid as { name: string; condition: unknown; segments?: Record<string, { condition: unknown }>; paths: string[] }[];
  it.each(invalid.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const segs = c.segments ?? {};
    const r = parseCondition(c.condition, { segmentCondition: (id) => (id in segs ? segs[id]!.condition ?? null : undefined) });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const paths = r.issues.map((i) => i.path);
    for (const p of c.paths) expect(paths, JSON.stringify(r.issues)).toContain(p);
    for (const i of r.issues) expect(i.message.length).toBeGreaterThan(5);
  });
});

describe('property: the compiled evaluator agrees with the naive oracle', () => {
  it('on random conditions and data', () => {
    fc.assert(
      fc.property(arbCase, (c) => {
        const got = evaluatorMembers(c.condition, c.profiles, c.segments, c.now);
        const want = oracleMembers(c.condition, c.profiles, c.segments, c.now);
        expect(got).toEqual(want);
      }),
      { numRuns: Number(process.env.STRATA_PROPERTY_RUNS ?? 3000) },
    );
  });
});
