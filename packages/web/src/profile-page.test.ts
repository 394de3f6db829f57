import { describe, expect, it } from 'vitest';
import { ApiError } from './api.ts';
import { idsFault, MAX_ID_LENGTH, parseIds, unseenFrom } from './member-ids.ts';
import { flatten, keyProperties, plain } from './profile-format.ts';
import { pageTitle } from './titles.ts';
import { retryable } from './ui.tsx';

describe('profile values and event rows', () => {
  it('shows values plainly: strings without quotes, nested objects as dotted keys', () => {
    expect(plain('Paris')).toBe('Paris');
    expect(plain(3.5)).toBe('3.5');
    expect(plain(['a', 'b'])).toBe('a, b');
    expect(flatten({ locale: 'fr-FR', page: { path: '/pricing', title: 'Pricing' }, campaign: { source: 'news', tags: ['x', 'y'] }, device: {}, list: [] })).toEqual([
      ['locale', 'fr-FR'], ['page.path', '/pricing'], ['page.title', 'Pricing'], ['campaign.source', 'news'], ['campaign.tags', 'x, y'], ['device', '—'], ['list', '—'],
    ]);
  });

  it('picks a few key properties for a timeline row, the telling ones first, long values cut', () => {
    expect(keyProperties({ referrer: 'https://a.example', path: '/pricing', title: 'Pricing', search: '' })).toEqual([['path', '/pricing'], ['title', 'Pricing'], ['referrer', 'https://a.example'], ['search', '']]);
    expect(keyProperties({ a: 1, b: 2, c: 3, d: 4, total: 9 }, 3)).toEqual([['total', '9'], ['a', '1'], ['b', '2']]);
    expect(keyProperties({ note: 'x'.repeat(100) })[0]![1]).toHaveLength(60);
    expect(keyProperties(null)).toEqual([]);
  });
});

describe('adding members by id', () => {
  it('splits ids on commas and lines, dropping blanks and repeats', () => {
    expect(parseIds(' u1, u2\nu3,,u1 \n')).toEqual(['u1', 'u2', 'u3']);
  });

  it('refuses an over-long id before sending, saying how long it is', () => {
    expect(idsFault(['ok'])).toBeNull();
    expect(idsFault([])).toMatch(/Type a user id/);
    expect(idsFault(['ok', 'x'.repeat(MAX_ID_LENGTH + 44)])).toMatch(/at most 256 characters; "x{24}…" has 300/);
    expect(idsFault(['x'.repeat(MAX_ID_LENGTH)])).toBeNull();
  });

  it('reads the never-seen ids from the 409 by their /userIds/<i> paths, and nothing from other errors', () => {
    const sent = ['known', 'typo-1', 'typo-2'];
    const conflict = new ApiError(409, 'CONFLICT', '2 ids were never seen', [{ path: '/userIds/1', message: 'never seen' }, { path: '/userIds/2', message: 'never seen' }]);
    expect(unseenFrom(conflict, sent)).toEqual(['typo-1', 'typo-2']);
    expect(unseenFrom(new ApiError(409, 'CONFLICT', 'other', []), sent)).toBeNull();
    expect(unseenFrom(new ApiError(400, 'VALIDATION_FAILED', 'too long', [{ path: '/userIds/0', message: 'too long' }]), sent)).toBeNull();
    expect(unseenFrom(new Error('network'), sent)).toBeNull();
  });
});

describe('small shell behaviour', () => {
  it('titles each page "<page> · Strata"', () => {
    expect(pageTitle('/')).toBe('Segments · Strata');
    expect(pageTitle('/segments')).toBe('Segments · Strata');
    expect(pageTitle('/segments/new')).toBe('New segment · Segments · Strata');
    expect(pageTitle('/segments/seg_1')).toBe('Segment · Segments · Strata');
    expect(pageTitle('/users/u%201')).toBe('u 1 · Users · Strata');
    expect(pageTitle('/rewards')).toBe('Bonus shop · Strata');
    expect(pageTitle('/webhooks?x=1')).toBe('Webhooks · Strata');
    expect(pageTitle('/nope')).toBe('Not found · Strata');
  });

  it('offers Retry only where trying again can help: not for a 404 or a 400', () => {
    expect(retryable(new ApiError(404, 'NOT_FOUND', 'no user'))).toBe(false);
    expect(retryable(new ApiError(400, 'VALIDATION_FAILED', 'bad'))).toBe(false);
    expect(retryable(new ApiError(503, 'STORE_UNAVAILABLE', 'down'))).toBe(true);
    expect(retryable(new ApiError(429, 'RATE_LIMITED', 'slow down'))).toBe(true);
    expect(retryable(new ApiError(0, 'NETWORK', 'offline'))).toBe(true);
    expect(retryable(new Error('x'))).toBe(true);
  });
});
