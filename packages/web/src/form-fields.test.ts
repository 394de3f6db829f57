import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { emptyExperiment, emptyMission, emptyWebhook, missionBody, type Issue } from './forms.ts';
import { MissionFields } from './pages/loyalty.tsx';
import { ExperimentFields } from './pages/experiments.tsx';
import { WebhookFields } from './pages/webhooks.tsx';

const none = () => {};
/** The text of each `.field` that holds an error, as "label: message". */
const fieldErrors = (html: string) =>
  [...html.matchAll(/<div class="field[^"]* invalid"><label[^>]*>([^<]*)<\/label>[\s\S]*?<span class="field-error" data-path="([^"]*)">([^<]*)<\/span>/g)].map((m) => `${m[1]} ${m[2]}: ${m[3]}`);

describe('the form fields render the form state and put each fault under its field', () => {
  it('mission: the target field follows the goal kind, and faults sit under Name, Event and the target', () => {
    const f = { ...emptyMission(), kind: 'streak' as const, target: '0' };
    const html = renderToStaticMarkup(createElement(MissionFields, { value: f, onChange: none, issues: missionBody(f).issues }));
    expect(html).toContain('>Days in a row</label>');
    expect(html).not.toContain('>Summed property</label>');
    expect(fieldErrors(html)).toEqual([
      'Name /name: is required',
      'Event /goal/event: is required (an event name, or * for any event)',
      'Days in a row /goal/days: must be at least 1',
    ]);
    // No segment picked: it says who that means; the cooldown shows only for a repeatable mission.
    expect(html).toMatch(/class="segment-picker"[^>]*><div class="chips"><span class="muted">everyone<\/span>/);
    expect(html).not.toContain('Cooldown');
    const sum = renderToStaticMarkup(createElement(MissionFields, { value: { ...f, kind: 'sum', repeatable: true }, onChange: none, issues: [] }));
    expect(sum).toContain('>Summed property</label>');
    expect(sum).toContain('>Sum to reach</label>');
    expect(sum).toContain('Cooldown (optional)');
  });

  it('shows a server issue under its field, deep paths too (a segment of a list)', () => {
    const issues: Issue[] = [{ path: '/segmentIds/0', message: 'unknown segment id "seg_x"' }, { path: '/endsAt', message: 'is in the past' }];
    const html = renderToStaticMarkup(createElement(MissionFields, { value: { ...emptyMission(), segmentIds: ['seg_x'] }, onChange: none, issues }));
    expect(html).toContain('<span class="field-error" data-path="/segmentIds/0">unknown segment id &quot;seg_x&quot;</span>');
    expect(fieldErrors(html)).toContain('Ends /endsAt: is in the past');
    // A segment the list does not know (yet, or any more) is shown by its id.
    expect(html).toContain('>seg_x</a>');
  });

  it('experiment: one row per arm and the control among their keys; webhook: a box per kind, "all segments" when none', () => {
    const exp = renderToStaticMarkup(createElement(ExperimentFields, { value: { ...emptyExperiment(), arms: [...emptyExperiment().arms, { key: 'b', name: '', weight: '100' }] }, onChange: none, issues: [] }));
    expect(exp.match(/class="arm-row"/g)).toHaveLength(3);
    expect(exp).toContain('50.0% of the audience');
    expect(exp).toMatch(/<option value="control" selected="">control<\/option><option value="treatment">treatment<\/option><option value="b">b<\/option>/);
    const hook = renderToStaticMarkup(createElement(WebhookFields, { value: { ...emptyWebhook(), kinds: ['segment.exited'] }, onChange: none, issues: [] }));
    expect(hook.match(/type="checkbox"/g)).toHaveLength(2);
    expect(hook.match(/type="checkbox" checked=""/g)).toHaveLength(1);
    expect(hook).toContain('all segments');
  });
});
