import { describe, expect, it } from 'vitest';
import {
  destinationBody, destinationForm, emptyDestination,
  emptyExperience, emptyExperiment, emptyMission, emptyReward, emptyWebhook, experienceBody, experienceEditForm, experienceForm,
  experimentBody, experimentForm, isoToLocal, issuesAt, localToIso, missionBody, missionForm, rewardBody, rewardForm, webhookBody, webhookForm,
  type MissionForm,
} from './forms.ts';

const paths = (issues: { path: string }[]) => issues.map((i) => i.path).sort();

describe('mission form → POST/PATCH /api/missions body', () => {
  const valid: MissionForm = {
    ...emptyMission(), name: ' Visit pricing ', kind: 'count', event: '$pageview', target: '3', points: '50', segmentIds: ['seg_1'],
    where: [{ attr: 'properties.path', op: 'eq', value: '/pricing' }],
  };

  it('builds the exact body the API takes, goal fields by kind', () => {
    const { body, issues } = missionBody(valid);
    expect(issues).toEqual([]);
    expect(body).toEqual({
      name: 'Visit pricing', description: '', segmentIds: ['seg_1'], active: true, points: 50, repeatable: false,
      goal: { kind: 'count', event: '$pageview', where: [{ attr: 'properties.path', op: 'eq', value: '/pricing' }], target: 3 },
      startsAt: null, endsAt: null, cooldown: null,
    });
    // A streak counts days (not target); a sum names its property and takes a fraction; no where: no key.
    expect(missionBody({ ...valid, kind: 'streak', target: '5', where: [] }).body.goal).toEqual({ kind: 'streak', event: '$pageview', days: 5 });
    expect(missionBody({ ...valid, kind: 'sum', event: 'purchase', prop: 'properties.revenue', target: '99.5', within: '30d', where: [] }).body.goal)
      .toEqual({ kind: 'sum', event: 'purchase', prop: 'properties.revenue', target: 99.5, within: '30d' });
  });

  it('reports what the browser can see at the paths the server uses', () => {
    expect(paths(missionBody(emptyMission()).issues)).toEqual(['/goal/event', '/name']);
    const bad = missionBody({ ...valid, target: '2.5', points: '-1', within: '7 days', where: [{ attr: '', op: 'eq', value: 1 }] });
    expect(paths(bad.issues)).toEqual(['/goal/target', '/goal/where/0/attr', '/goal/within', '/points']);
    expect(issuesAt(bad.issues, '/goal/target')[0]!.message).toBe('must be a whole number');
    expect(missionBody({ ...valid, kind: 'sum', prop: 'properties.', target: '0' }).issues.map((i) => `${i.path} ${i.message}`))
      .toEqual(['/goal/prop is required: the summed property, e.g. properties.revenue', '/goal/target must be greater than 0']);
    // Eight days in a row cannot fit in a week.
    expect(missionBody({ ...valid, kind: 'streak', target: '8', within: '7d' }).issues).toEqual([{ path: '/goal/days', message: '8 days cannot fit within 7d' }]);
    expect(missionBody({ ...valid, kind: 'streak', target: '7', within: '7d' }).issues).toEqual([]);
  });

  it('sends a cooldown only for a repeatable mission, and checks it', () => {
    // Left out, not null: the mission route reads a null as "" and refuses it.
    expect(missionBody({ ...valid, repeatable: false, cooldown: '1d' }).body.cooldown).toBeNull();
    expect(missionBody({ ...valid, repeatable: true, cooldown: '1d' }).body).toMatchObject({ repeatable: true, cooldown: '1d' });
    expect(missionBody({ ...valid, repeatable: true, cooldown: 'daily' }).issues).toEqual([{ path: '/cooldown', message: 'must be a duration such as 1d, 12h or 1w' }]);
  });

  it('turns local date-times into ISO instants and refuses an end before the start', () => {
    const { body } = missionBody({ ...valid, startsAt: '2030-01-02T03:04', endsAt: '2030-02-01T00:00' });
    expect(body.startsAt).toBe(new Date('2030-01-02T03:04').toISOString());
    expect(missionBody({ ...valid, startsAt: '2030-02-01T00:00', endsAt: '2030-01-01T00:00' }).issues).toEqual([{ path: '/endsAt', message: 'must be after the start' }]);
    expect(isoToLocal(localToIso('2030-01-02T03:04'))).toBe('2030-01-02T03:04');
    // Seconds survive an Edit: a saved 10:00:30 start and 10:00:59 end stay apart and unchanged.
    const saved = { startsAt: new Date(2030, 0, 2, 10, 0, 30).toISOString(), endsAt: new Date(2030, 0, 2, 10, 0, 59).toISOString() };
    const again = missionBody({ ...valid, startsAt: isoToLocal(saved.startsAt), endsAt: isoToLocal(saved.endsAt) });
    expect(again.issues).toEqual([]);
    expect(again.body).toMatchObject(saved);
    expect(localToIso('')).toBeNull();
  });

  it('reads a saved mission back into the form (Edit), so that saving it unchanged sends the same goal', () => {
    const saved = { id: 'msn_1', ...missionBody({ ...valid, repeatable: true, cooldown: '2d', endsAt: '2030-01-01T00:00' }).body, createdAt: 'x' };
    const f = missionForm(saved);
    expect(f).toMatchObject({ name: 'Visit pricing', target: '3', points: '50', repeatable: true, cooldown: '2d', segmentIds: ['seg_1'], endsAt: '2030-01-01T00:00' });
    const { id: _id, createdAt: _at, ...sent } = saved;
    expect(missionBody(f)).toEqual({ body: sent, issues: [] });
    expect(missionForm({ goal: { kind: 'streak', days: 4 } })).toMatchObject({ kind: 'streak', target: '4' });
    // Blanking a saved end date or cooldown sends null, which clears it.
    const cleared = missionBody({ ...f, endsAt: '', cooldown: '' });
    expect(cleared.issues).toEqual([]);
    expect(cleared.body).toMatchObject({ startsAt: null, endsAt: null, cooldown: null });
    expect(missionBody({ ...emptyMission(), name: 'n', event: 'e' }).body.endsAt).toBeNull();
    expect(missionForm({ goal: { kind: 'nonsense' } }).kind).toBe('count');
  });
});

describe('reward form → /api/rewards body', () => {
  it('sends blank stock and limit as null (unlimited) and checks whole numbers', () => {
    const { body, issues } = rewardBody({ ...emptyReward(), name: 'Coupon', cost: '100', stock: '', perUserLimit: '', segmentIds: ['seg_1'] });
    expect(issues).toEqual([]);
    expect(body).toEqual({ name: 'Coupon', description: '', type: 'coupon', cost: 100, stock: null, perUserLimit: null, segmentIds: ['seg_1'], active: true, startsAt: null, endsAt: null });
    const bad = rewardBody({ ...emptyReward(), name: '', cost: '1.5', stock: '-1', perUserLimit: '0' });
    expect(paths(bad.issues)).toEqual(['/cost', '/name', '/perUserLimit', '/stock']);
    expect(rewardBody({ ...emptyReward(), name: 'x', stock: '0' }).body.stock).toBe(0);
  });

  it('reads a saved reward back (null stock is a blank field)', () => {
    expect(rewardForm({ name: 'A', type: 'voucher', cost: 5, stock: null, perUserLimit: 2, segmentIds: ['s'], active: false }))
      .toMatchObject({ name: 'A', type: 'voucher', cost: '5', stock: '', perUserLimit: '2', segmentIds: ['s'], active: false });
  });
});

describe('experience form → /api/experiences body', () => {
  it('parses payloads in the browser and reports bad JSON at the variant', () => {
    const f = { ...emptyExperience(), key: 'home-banner', name: 'Home banner', variants: [{ key: 'vip', name: 'VIP', priority: '', segmentIds: ['seg_1'], payload: '{"text":"Hi"}' }] };
    expect(experienceBody(f)).toEqual({
      body: { key: 'home-banner', name: 'Home banner', description: '', variants: [{ key: 'vip', name: 'VIP', payload: { text: 'Hi' }, segmentIds: ['seg_1'] }], defaultPayload: null, active: true },
      issues: [],
    });
    const bad = experienceBody({ ...f, defaultPayload: '{oops', variants: [{ ...f.variants[0]!, payload: '' }, { ...f.variants[0]!, priority: '2', payload: 'nope' }] });
    expect(paths(bad.issues)).toEqual(['/defaultPayload', '/variants/0/payload', '/variants/1/key', '/variants/1/payload']);
    expect(issuesAt(bad.issues, '/variants/1/key')[0]!.message).toBe('is the key of variant 1 too');
    expect(bad.body.variants).toMatchObject([{}, { priority: 2 }]);
    expect(experienceBody({ ...f, key: 'bad key', variants: [{ ...f.variants[0]!, key: 'default' }] }).issues.map((i) => i.path)).toEqual(['/key', '/variants/0/key']);
  });

  it('Edit leaves a priority blank where it is only the position', () => {
    const saved = { key: 'k', name: 'n', variants: [{ key: 'a', name: '', priority: 0, segmentIds: [], payload: 1 }, { key: 'b', name: '', priority: 5, segmentIds: [], payload: null }], defaultPayload: null, active: true };
    expect(experienceEditForm(saved).variants.map((v) => [v.priority, v.payload])).toEqual([['', '1'], ['5', 'null']]);
    expect(experienceForm(saved).variants[0]!.priority).toBe('0');
  });
});

describe('experiment form → POST /api/experiments body', () => {
  it('leaves the audience out for everyone, leaves a blank salt out, and checks arms and control', () => {
    const f = { ...emptyExperiment(), name: 'Banner' };
    expect(experimentBody(f)).toEqual({
      body: { name: 'Banner', arms: [{ key: 'control', name: 'Control', weight: 50 }, { key: 'treatment', name: 'Treatment', weight: 50 }], control: 'control', status: 'draft' },
      issues: [],
    });
    expect(experimentBody({ ...f, audienceSegmentId: 'seg_1', salt: 's1', status: 'running' }).body).toMatchObject({ audienceSegmentId: 'seg_1', salt: 's1', status: 'running' });
    const bad = experimentBody({ ...f, arms: [{ key: 'a b', name: '', weight: '0' }, { key: 'x', name: '', weight: '1' }, { key: 'x', name: '', weight: '1' }], control: 'control' });
    expect(paths(bad.issues)).toEqual(['/arms/0/key', '/arms/0/weight', '/arms/2/key', '/control']);
    expect(paths(experimentBody({ ...f, arms: [f.arms[0]!] }).issues)).toEqual(['/arms']);
    expect(experimentForm(experimentBody({ ...f, salt: 'z' }).body)).toMatchObject({ ...f, salt: 'z' });
  });
});

describe('webhook form → POST /api/webhooks body', () => {
  it('needs an http(s) URL and a kind; no segment means every segment', () => {
    // No segment: segmentIds left out (the route would read a null as "").
    expect(webhookBody({ ...emptyWebhook(), url: 'https://example.com/h' })).toEqual({ body: { url: 'https://example.com/h', kinds: ['segment.entered', 'segment.exited'] }, issues: [] });
    expect(webhookBody({ url: ' https://x.test ', kinds: ['segment.exited'], segmentIds: ['seg_1'] }).body).toEqual({ url: 'https://x.test', kinds: ['segment.exited'], segmentIds: ['seg_1'] });
    expect(webhookBody({ url: 'ftp://x', kinds: [], segmentIds: [] }).issues).toEqual([{ path: '/url', message: 'must be an absolute http:// or https:// URL' }, { path: '/kinds', message: 'tick at least one' }]);
    expect(webhookBody({ url: 'example.com', kinds: ['segment.exited', 'segment.entered'], segmentIds: [] }).body.kinds).toEqual(['segment.entered', 'segment.exited']);
    expect(webhookForm({ url: 'https://a', segmentIds: null, kinds: ['segment.exited'] })).toEqual({ url: 'https://a', kinds: ['segment.exited'], segmentIds: [] });
  });
});

describe('destination form → /api/destinations body', () => {
  it('sends null segments for every segment, a write key only for the segment kind, and keeps a saved key left blank', () => {
    const http = { ...emptyDestination(), name: 'CRM', url: 'https://crm.example.com/in' };
    expect(destinationBody(http)).toEqual({ body: { name: 'CRM', kind: 'http', url: 'https://crm.example.com/in', segmentIds: null, writeKey: null, batchSize: 100 }, issues: [] });
    expect(destinationBody({ ...http, segmentIds: ['seg_1'], batchSize: '20', writeKey: 'ignored' }).body).toMatchObject({ segmentIds: ['seg_1'], writeKey: null, batchSize: 20 });
    const seg = { ...http, kind: 'segment', url: 'https://api.segment.io' };
    expect(destinationBody(seg).issues.map((i) => i.path)).toEqual(['/writeKey']);
    expect(destinationBody({ ...seg, writeKey: ' wk_1 ' }).body).toMatchObject({ kind: 'segment', writeKey: 'wk_1' });
    // Edit: the list does not show the key; blank keeps it (left out of the PATCH).
    const edited = destinationBody({ ...destinationForm({ name: 'S', kind: 'segment', url: 'https://api.segment.io', segmentIds: null, batchSize: 50 }), saved: true });
    expect(edited.issues).toEqual([]);
    expect(edited.body).not.toHaveProperty('writeKey');
    expect(destinationBody({ ...http, name: ' ', url: 'crm', batchSize: '0' }).issues.map((i) => i.path)).toEqual(['/name', '/url', '/batchSize']);
  });
});
