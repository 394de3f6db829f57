import { describe, expect, it } from 'vitest';
import { experimentOf, insightFigures, metricQuery, nameConflictMessage, sinceCreated, templateBadge, warningBadges } from './labels.ts';
import type { Warning } from './types.ts';

describe('an experiment metric as the results query', () => {
  it('sends the one parameter each metric takes, picked by name in the page (ids underneath)', () => {
    expect(metricQuery({ metric: 'event', target: 'purchase', days: '' })).toEqual({ params: { metric: 'event', event: 'purchase' }, issues: [] });
    expect(metricQuery({ metric: 'event', target: '*', days: '7' }).params).toEqual({ metric: 'event', event: '*', days: '7' });
    expect(metricQuery({ metric: 'mission_participation', target: 'mis_1', days: '' }).params).toEqual({ metric: 'mission_participation', missionId: 'mis_1' });
    expect(metricQuery({ metric: 'mission_completion', target: 'mis_1', days: ' 14 ' }).params).toEqual({ metric: 'mission_completion', missionId: 'mis_1', days: '14' });
    expect(metricQuery({ metric: 'reward_redemption', target: 'rwd_1', days: '' }).params).toEqual({ metric: 'reward_redemption', rewardId: 'rwd_1' });
  });

  it('says what is missing or wrong, at the query path the API would name', () => {
    expect(metricQuery({ metric: 'mission_completion', target: '', days: '' }).issues).toEqual([{ path: '/querystring/missionId', message: 'choose a mission' }]);
    expect(metricQuery({ metric: 'reward_redemption', target: ' ', days: '' }).issues).toEqual([{ path: '/querystring/rewardId', message: 'choose a reward' }]);
    expect(metricQuery({ metric: 'event', target: '', days: '' }).issues).toEqual([{ path: '/querystring/event', message: 'choose an event' }]);
    for (const days of ['0', '1.5', 'x', '3651', '-2']) {
      expect(metricQuery({ metric: 'event', target: 'a', days }).issues).toEqual([{ path: '/querystring/days', message: 'must be a whole number of days from 1 to 3650' }]);
    }
  });
});

describe('warning badges', () => {
  const names = new Map([['seg_a', 'Buyers'], ['seg_b', 'Visitors']]);
  const name = (id: string) => names.get(id) ?? id;
  const w = (code: Warning['code'], segmentIds: string[], message = 'm'): Warning => ({ code, message, segmentIds });

  it('gives one badge per distinct target, each naming it; identical warnings are one badge', () => {
    const badges = warningBadges([w('SUBSET', ['seg_a'], 'in Buyers'), w('SUBSET', ['seg_b'], 'in Visitors'), w('SUBSET', ['seg_a'], 'again')], name);
    expect(badges.map((b) => b.label)).toEqual(['SUBSET of Buyers', 'SUBSET of Visitors']);
    expect(badges.map((b) => [b.segmentId, b.title])).toEqual([['seg_a', 'in Buyers'], ['seg_b', 'in Visitors']]);
  });

  it('names duplicates and overlaps, keeps a bare code without a target, and an unknown id as is', () => {
    expect(warningBadges([w('DUPLICATE', ['seg_a']), w('HIGH_OVERLAP', ['seg_b']), w('EMPTY', []), w('CONTRADICTION', []), w('SUBSET', ['seg_gone'])], name).map((b) => b.label))
      .toEqual(['DUPLICATE of Buyers', 'HIGH_OVERLAP with Visitors', 'EMPTY', 'CONTRADICTION', 'SUBSET of seg_gone']);
    expect(warningBadges([w('EMPTY', []), w('EMPTY', [])], name)).toHaveLength(1);
  });
});

describe('template badges', () => {
  it('shows an experiment arm by its key, linking to the experiments, never the experiment id', () => {
    expect(templateBadge('experiment/exp_0123456789abcdef', { experimentId: 'exp_0123456789abcdef', arm: 'control' })).toEqual({ label: 'experiment arm control', to: '/experiments' });
    expect(templateBadge('experiment/exp_1', null)).toEqual({ label: 'experiment arm', to: '/experiments' });
    expect(experimentOf('experiment/exp_1')).toBe('exp_1');
    expect(experimentOf('known')).toBeNull();
  });

  it('shows a gallery template by name when known, by id otherwise; none without a template', () => {
    expect(templateBadge('known', {}, new Map([['known', 'Known users']]))).toEqual({ label: 'Known users', to: null });
    expect(templateBadge('known', {})).toEqual({ label: 'known', to: null });
    expect(templateBadge(null, null)).toBeNull();
  });
});

describe('series since the segment existed', () => {
  const dates = ['2024-06-08', '2024-06-09', '2024-06-10', '2024-06-11'];
  it('draws the days before the creation day as missing, not as 0 members', () => {
    expect(sinceCreated(dates, [0, 0, 2, 3], '2024-06-10T12:00:00.000Z')).toEqual([null, null, 2, 3]);
    expect(sinceCreated(dates, [1, 1, 2, 3], '2024-01-01T00:00:00.000Z')).toEqual([1, 1, 2, 3]);
    expect(sinceCreated(dates, [0, 0, 0, 0], '2024-06-12T00:00:00.000Z')).toEqual([null, null, null, null]);
    expect(sinceCreated(dates, [0, 1, 2, 3], undefined)).toEqual([0, 1, 2, 3]);
  });
});

describe('insight figures', () => {
  it('says each figure in words with its share of the members', () => {
    const f = insightFigures({ size: 1200, missions: { participants: 300, participationRate: 0.25, completers: 12, completionRate: 0.01, completions: 15 }, rewards: { redemptions: 4, redeemers: 1 }, points: { earned: 5000, spent: 250 } });
    expect(f).toEqual([
      { label: 'Members now', value: '1,200', detail: '' },
      { label: 'Mission participants', value: '300', detail: '25.0% of members' },
      { label: 'Mission completers', value: '12', detail: '1.0% of members' },
      { label: 'Missions completed', value: '15', detail: '' },
      { label: 'Redemptions', value: '4', detail: 'by 1 user' },
      { label: 'Points earned', value: '5,000', detail: '' },
      { label: 'Points spent', value: '250', detail: '' },
    ]);
  });
});

describe('conflicts in words', () => {
  it('says a taken name as a choice to make, not in API wording', () => {
    expect(nameConflictMessage(true)).toBe('A segment from this template already exists — choose another name');
    expect(nameConflictMessage(false)).toBe('A segment with this name already exists — choose another name');
  });
});
