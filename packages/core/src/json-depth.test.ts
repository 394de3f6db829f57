import { describe, expect, it } from 'vitest';
import { jsonDepthFault, jsonTooDeep, MAX_JSON_DEPTH } from './json-depth.ts';
import { MAX_DEPTH, parseCondition } from './parse.ts';

const nested = (levels: number, leaf: unknown = 1): unknown => {
  let v = leaf;
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
};

describe('JSON nesting depth', () => {
  it('counts `{}` as one level and allows exactly the limit', () => {
    expect(jsonTooDeep({}, 1)).toBe(false);
    expect(jsonTooDeep({ a: [] }, 1)).toBe(true);
    expect(jsonTooDeep(nested(MAX_JSON_DEPTH))).toBe(false);
    expect(jsonTooDeep(nested(MAX_JSON_DEPTH + 1))).toBe(true);
    expect(jsonTooDeep('[[[[', 1)).toBe(false);
  });

  it('names the JSON pointer where the limit is passed, escaping ~ and /', () => {
    const v = { ok: { x: 1 }, 'a/b': [{ '~k': { deeper: {} } }] };
    expect(jsonDepthFault(v, 3)).toEqual({ path: '/a~1b/0/~0k', message: 'max nesting depth 3 exceeded' });
    expect(jsonDepthFault(v, 5)).toBeNull();
  });

  it('checks a value nested a million levels without recursion', () => {
    const text = '['.repeat(1_000_000) + ']'.repeat(1_000_000);
    const v = JSON.parse(text);
    expect(() => JSON.stringify(v)).toThrow(RangeError); // what a recursive walk would meet
    const fault = jsonDepthFault(v);
    expect(fault?.path.split('/')).toHaveLength(MAX_JSON_DEPTH + 1);
  });

  it('leaves room for the deepest valid condition inside a request body', () => {
    let c: unknown = { event: 'E', where: [{ attr: 'properties.a', op: 'in', value: ['x'] }] };
    for (let i = 0; i < MAX_DEPTH; i++) c = { all: [c] };
    expect(parseCondition(c).ok).toBe(true);
    expect(jsonTooDeep({ segments: [{ condition: c }] })).toBe(false);
    expect(parseCondition({ all: [c] }).ok).toBe(false); // the condition's own rule refuses one more level
  });
});
