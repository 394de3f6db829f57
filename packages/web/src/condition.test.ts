import { describe, expect, it } from 'vitest';
import { KINDS, defaultOf, kindOf, parseJson, pathHighlighted, textToValue, valueToText, withOp } from './condition.ts';
import { match } from './router.ts';
import { toCsv } from './ui.tsx';
import { paramFault } from './params-form.tsx';
import { sdkScriptTag, sdkSnippet } from './pages/settings.tsx';

describe('condition helpers', () => {
  it('tells every kind of condition (docs/reference.md §3) by its key, and makes a default of each', () => {
    expect(KINDS.map((k) => k.kind).sort()).toEqual(['all', 'any', 'attr', 'bucket', 'event', 'not', 'segment', 'sequence']);
    for (const { kind } of KINDS) expect(kindOf(defaultOf(kind))).toBe(kind);
    expect(kindOf({ event: 'x', where: [] })).toBe('event');
    expect(kindOf({ foo: 1 })).toBe('unknown');
    expect(kindOf([1])).toBe('unknown');
  });

  it('turns typed text into operands by operator and back', () => {
    expect(textToValue('eq', '5')).toBe(5);
    expect(textToValue('eq', 'true')).toBe(true);
    expect(textToValue('eq', 'vip')).toBe('vip');
    expect(textToValue('contains', '42')).toBe('42');
    expect(textToValue('in', 'a, 2, b')).toEqual(['a', 2, 'b']);
    expect(textToValue('between', '1,10')).toEqual([1, 10]);
    expect(textToValue('within_last', ' 7d ')).toBe('7d');
    for (const [op, v] of [['in', ['a', 2]], ['eq', 3], ['eq', 'x'], ['between', [1, 5]]] as const) expect(textToValue(op, valueToText(op, v as never))).toEqual(v);
  });

  it('drops the value for exists and keeps what it can on an operator change', () => {
    expect(withOp({ attr: 'a', op: 'eq', value: 1 }, 'exists')).toEqual({ attr: 'a', op: 'exists' });
    expect(withOp({ attr: 'a', op: 'eq', value: 'x' }, 'in')).toEqual({ attr: 'a', op: 'in', value: ['x'] });
  });

  it('parses the JSON view and refuses what is not an object', () => {
    expect(parseJson('{"all":[]}')).toEqual({ ok: true, value: { all: [] } });
    expect(parseJson('[1]').ok).toBe(false);
    expect(parseJson('{').ok).toBe(false);
  });

  it('highlights the nodes a warning names', () => {
    expect(pathHighlighted(['/all/0', '/all/2'], '/all/2')).toBe(true);
    expect(pathHighlighted(['/all/0'], '/all/1')).toBe(false);
    expect(pathHighlighted(['/'], '')).toBe(true);
    // A 400's issue names a field of a node: the node is marked, not its parents.
    expect(pathHighlighted(['/all/0/where/1/op'], '/all/0')).toBe(true);
    expect(pathHighlighted(['/all/0/where/1/op'], '')).toBe(false);
    expect(pathHighlighted(['/any/1/not/op'], '/any/1')).toBe(false);
    expect(pathHighlighted(['/any/1/not/op'], '/any/1/not')).toBe(true);
  });
});

describe('router, CSV and template params', () => {
  it('matches paths with params', () => {
    expect(match('/segments/:id', '/segments/seg%201')).toEqual({ id: 'seg 1' });
    expect(match('/segments/:id', '/segments/a/edit')).toBeNull();
    expect(match('/users', '/users/?x=1')).toEqual({});
  });

  it('quotes CSV cells that need it', () => {
    expect(toCsv([['a', 'b'], ['x,y', null], ['say "hi"', 3]])).toBe('a,b\r\n"x,y",\r\n"say ""hi""",3\r\n');
  });

  it('checks params against their type and constraints', () => {
    expect(paramFault({ name: 'n', label: 'n', type: 'integer', default: 5, min: 1, max: 10 }, 11)).toMatch(/at most 10/);
    expect(paramFault({ name: 'n', label: 'n', type: 'integer', default: 5 }, 1.5)).toMatch(/whole/);
    expect(paramFault({ name: 'd', label: 'd', type: 'duration', default: '30d', min: '1d' }, '12h')).toMatch(/at least 1d/);
    expect(paramFault({ name: 'd', label: 'd', type: 'duration', default: '30d' }, 'soon')).toMatch(/duration/);
    expect(paramFault({ name: 'l', label: 'l', type: 'string[]', default: [], minItems: 1, itemPattern: '^[A-Z]{2}$' }, ['GB', 'x'])).toMatch(/"x"/);
    expect(paramFault({ name: 'e', label: 'e', type: 'enum', default: 'a', options: ['a', 'b'] }, 'c')).toMatch(/one of/);
    expect(paramFault({ name: 's', label: 's', type: 'string', default: '', pattern: '^/' }, '/ok')).toBeNull();
  });
});

describe('the SDK install snippet', () => {
  it('loads /sdk/strata.min.js from this server with the write key', () => {
    const s = sdkSnippet('https://strata.example.com', 'stw_1');
    expect(s).toContain('"/sdk/strata.min.js"');
    expect(s).toContain('(window,document,"https://strata.example.com","stw_1")');
    expect(sdkScriptTag('https://s.example', 'stw_1')).toBe('<script async src="https://s.example/sdk/strata.min.js" data-write-key="stw_1"></script>');
  });
});
