import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { Sparkline } from './ui.tsx';

const render = (values: (number | null)[]) => renderToStaticMarkup(createElement(Sparkline, { values }));

describe('the list sparkline', () => {
  it('draws one line when every day has a value', () => {
    const html = render([1, 2, 3, 2]);
    expect(html.match(/<polyline/g)).toHaveLength(1);
    expect(html).toContain('size from 1 to 2');
  });

  it('leaves a gap for days without a value (before the segment existed) instead of drawing 0', () => {
    const html = render([null, null, 4, 5, 6]);
    const points = /points="([^"]+)"/.exec(html)![1]!.split(' ');
    // Three points, starting at the third day's x (not at the left edge at 0 members).
    expect(points).toHaveLength(3);
    expect(Number(points[0]!.split(',')[0])).toBeGreaterThan(50);
    expect(html).toContain('size from 4 to 6');
    // A gap in the middle splits the line; a lone day between gaps is a dot.
    const split = render([1, 2, null, 3, null, 4, 5]);
    expect(split.match(/<polyline/g)).toHaveLength(2);
    expect(split.match(/<circle/g)).toHaveLength(1);
  });

  it('shows a dash with no value at all', () => {
    expect(render([null, null])).toContain('—');
  });
});
