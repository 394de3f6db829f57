import { describe, expect, it } from 'vitest';
import { changeSummary, changedFields, resourceLink } from './audit-format.ts';

describe('audit entry wording', () => {
  it('names the top-level fields that changed', () => {
    expect(changedFields({ name: 'A', include: ['u1'], n: 1 }, { name: 'B', include: ['u1', 'u2'], n: 1 })).toEqual(['include', 'name']);
    expect(changedFields({ a: 1 }, { a: 1, b: 2 })).toEqual(['b']);
    expect(changeSummary({ action: 'update', before: { name: 'A' }, after: { name: 'B' } })).toBe('name changed');
  });

  it('says created, deleted, erased, or that nothing visible changed', () => {
    expect(changeSummary({ action: 'create', before: null, after: { name: 'A' } })).toBe('created');
    expect(changeSummary({ action: 'delete', before: { name: 'A' }, after: null })).toBe('deleted');
    expect(changeSummary({ action: 'erase', before: null, after: { erased: true } })).toMatch(/^user erased/);
    expect(changeSummary({ action: 'resync', before: { a: 1 }, after: { a: 1 } })).toBe('no visible change');
  });

  it('links to the page of the resource, never to an erased user', () => {
    expect(resourceLink({ resourceType: 'segment', resourceId: 'seg 1', after: {} })).toBe('/segments/seg%201');
    expect(resourceLink({ resourceType: 'segment', resourceId: 'seg_1', after: null })).toBeNull();
    expect(resourceLink({ resourceType: 'user', resourceId: 'u1', after: {} })).toBe('/users/u1');
    expect(resourceLink({ resourceType: 'user', resourceId: 'sha256:ab', after: {} })).toBeNull();
  });
});
