import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { ConditionNode } from './builder.tsx';
import type { Json } from './types.ts';

const render = (value: Json, highlights: string[] = []) =>
  renderToStaticMarkup(createElement(ConditionNode, { value, onChange: () => {}, path: '', highlights, segments: [{ id: 'seg_1', name: 'Buyers' }] }));

describe('the condition builder renders every node kind', () => {
  it('renders groups, attributes, events with where/window/agg/cmp, sequences, segments and buckets', () => {
    const html = render({ all: [
      { attr: 'traits.plan', op: 'in', value: ['vip', 'gold'], ignoreCase: true },
      { not: { event: 'purchase', window: { within: '7d' } } },
      { any: [
        { event: 'purchase', where: [{ attr: 'properties.revenue', op: 'gt', value: 10 }], window: { from: '37d', to: '7d' }, agg: { fn: 'sum', prop: 'properties.revenue' }, cmp: { op: 'gte', value: 500 } },
        { sequence: [{ event: 'add_to_cart' }, { event: 'purchase' }], window: { within: '1d' }, maxGap: '2h' },
      ] },
      { segment: 'seg_1' },
      { bucket: { salt: 'exp', from: 0, to: 5000 } },
    ] });
    for (const s of ['node-all', 'node-any', 'node-not', 'node-attr', 'node-event', 'node-sequence', 'node-segment', 'node-bucket']) expect(html).toContain(s);
    expect(html).toContain('value="vip, gold"');
    expect(html).toContain('value="properties.revenue"');
    expect(html).toContain('value="37d"');
    expect(html).toContain('value="2h"');
    expect(html).toContain('Buyers');
    expect(html).toContain('50.0%');
  });

  it('shows a negation as a neutral box that says what it does', () => {
    const html = render({ not: { event: 'purchase' } });
    expect(html).toContain('class="node node-not"');
    expect(html).toMatch(/class="negation-hint">Matches users for whom this does <strong>not<\/strong> hold/);
    expect(html).not.toMatch(/node-not[^"]*(error|invalid)/);
  });

  it('marks the nodes a warning points at, and says when it does not know a node', () => {
    const html = render({ all: [{ attr: 'a', op: 'eq', value: 1 }, { attr: 'a', op: 'eq', value: 2 }] }, ['/all/1']);
    expect(html.match(/highlight/g)).toHaveLength(1);
    expect(html).toContain('data-path="/all/1"');
    expect(render({ mystery: true })).toContain('JSON view');
  });
});
