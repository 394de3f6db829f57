/** Missions, Bonus shop (rewards, with code upload), Experiences: lists, create and edit forms. */
import { useState } from 'react';
import { api, enc } from '../api.ts';
import { WhereList } from '../builder.tsx';
import { Field, IssueText, type FieldsProps, type FormSpec } from '../form-card.tsx';
import {
  GOAL_KINDS, REWARD_TYPES, emptyExperience, emptyMission, emptyReward, emptyVariant, experienceBody, experienceEditForm, experienceForm,
  missionBody, missionForm, rewardBody, rewardForm, type ExperienceForm, type GoalKind, type MissionForm, type RewardForm, type RewardType,
} from '../forms.ts';
import { SegmentNames, SegmentPicker } from '../segment-picker.tsx';
import type { Json } from '../types.ts';
import { ActionButton, View, fmtDate, useLoad } from '../ui.tsx';
import { ResourcePage, asJson } from './resource.tsx';

interface Mission { id: string; name: string; description: string; segmentIds: string[]; active: boolean; goal: { kind: string; event?: string; target?: number; days?: number; prop?: string; within?: string }; points: number; repeatable: boolean; cooldown: string | null; startsAt: string | null; endsAt: string | null }
interface Reward { id: string; name: string; description: string; type: string; cost: number; stock: number | null; perUserLimit: number | null; active: boolean; segmentIds: string[]; startsAt: string | null; endsAt: string | null; codes: { total: number; available: number }; redemptions: number }
interface Experience { id: string; key: string; name: string; description: string; active: boolean; defaultPayload: Json; variants: { key: string; name: string; segmentIds: string[]; priority: number; payload: Json }[] }

function Toggle({ path, active, onDone }: { path: string; active: boolean; onDone: () => void }) {
  return <ActionButton className={active ? 'toggle on' : 'toggle'} onClick={async () => { await api('PATCH', path, { active: !active }); onDone(); }}>{active ? 'Active' : 'Inactive'}</ActionButton>;
}

/** Start and end as two local date-times (blank: no limit). */
function Dates<S extends { startsAt: string; endsAt: string }>({ value, onChange, issues, what }: FieldsProps<S> & { what: string }) {
  return (
    <>
      <Field label="Starts" path="/startsAt" issues={issues} hint={`blank: ${what} at once (your local time)`}>{(id) => <input id={id} type="datetime-local" step={1} value={value.startsAt} onChange={(e) => onChange({ ...value, startsAt: e.target.value })} />}</Field>
      <Field label="Ends" path="/endsAt" issues={issues} hint="blank: no end">{(id) => <input id={id} type="datetime-local" step={1} value={value.endsAt} onChange={(e) => onChange({ ...value, endsAt: e.target.value })} />}</Field>
    </>
  );
}

function ActiveBox({ value, onChange }: { value: boolean; onChange: (v: boolean) => void }) {
  return <label className="inline active-box"><input type="checkbox" checked={value} onChange={(e) => onChange(e.target.checked)} /> Active</label>;
}

// ---------------------------------------------------------------- missions

const goalText = (g: Mission['goal']) => {
  const ev = g.event === '*' ? 'any event' : g.event ?? '';
  const w = g.within ? ` within ${g.within}` : '';
  switch (g.kind) {
    case 'count': return `${ev} × ${g.target ?? ''}${w}`;
    case 'distinctDays': return `${ev} on ${g.target ?? ''} days${w}`;
    case 'streak': return `${ev} ${g.days ?? ''} days in a row${w}`;
    case 'sum': return `sum of ${g.prop ?? ''} in ${ev} ≥ ${g.target ?? ''}${w}`;
    default: return `${g.kind} ${ev}`;
  }
};

export function MissionFields({ value: f, onChange, issues }: FieldsProps<MissionForm>) {
  const set = (p: Partial<MissionForm>) => onChange({ ...f, ...p });
  const kind = GOAL_KINDS.find((k) => k.kind === f.kind)!;
  const targetPath = f.kind === 'streak' ? '/goal/days' : '/goal/target';
  return (
    <>
      <div className="form-grid">
        <Field label="Name" path="/name" issues={issues}>{(id) => <input id={id} value={f.name} maxLength={200} onChange={(e) => set({ name: e.target.value })} />}</Field>
        <Field label="Points" path="/points" issues={issues} hint="awarded per completion">{(id) => <input id={id} type="number" inputMode="numeric" min={0} step={1} value={f.points} onChange={(e) => set({ points: e.target.value })} />}</Field>
        <Field label="Description" path="/description" issues={issues} className="wide">{(id) => <textarea id={id} rows={2} value={f.description} onChange={(e) => set({ description: e.target.value })} />}</Field>
      </div>
      <fieldset className="form-section">
        <legend>Goal</legend>
        <IssueText issues={issues} path="/goal" />
        <div className="form-grid">
          <Field label="Kind of goal" path="/goal/kind" issues={issues}>{(id) => (
            <select id={id} value={f.kind} onChange={(e) => set({ kind: e.target.value as GoalKind })}>
              {GOAL_KINDS.map((k) => <option key={k.kind} value={k.kind}>{k.label}</option>)}
            </select>
          )}</Field>
          <Field label="Event" path="/goal/event" issues={issues} hint={<>a name, <code>*</code> for any event, <code>$session</code> for visits</>}>{(id) => <input id={id} value={f.event} placeholder="purchase" onChange={(e) => set({ event: e.target.value })} />}</Field>
          {f.kind === 'sum' && <Field label="Summed property" path="/goal/prop" issues={issues}>{(id) => <input id={id} value={f.prop} placeholder="properties.revenue" onChange={(e) => set({ prop: e.target.value })} />}</Field>}
          <Field label={kind.target} path={targetPath} issues={issues}>{(id) => <input id={id} type="number" inputMode="decimal" min={f.kind === 'sum' ? undefined : 1} step={f.kind === 'sum' ? 'any' : 1} value={f.target} onChange={(e) => set({ target: e.target.value })} />}</Field>
          <Field label="Within (optional)" path="/goal/within" issues={issues} hint="e.g. 7d: met within this long of the first counted event">{(id) => <input id={id} value={f.within} placeholder="7d" onChange={(e) => set({ within: e.target.value })} />}</Field>
        </div>
        <div className="goal-where">
          <span className="muted small-text">Only events where (optional):</span>
          <WhereList idBase="mission-where" where={f.where} onChange={(w) => set({ where: w ?? [] })} />
          <IssueText issues={issues} path="/goal/where" deep />
        </div>
      </fieldset>
      <div className="form-grid">
        <div className="field">
          <label className="inline"><input type="checkbox" checked={f.repeatable} onChange={(e) => set({ repeatable: e.target.checked })} /> Repeatable</label>
          <span className="hint">unticked: once per user</span>
        </div>
        {f.repeatable && <Field label="Cooldown (optional)" path="/cooldown" issues={issues} hint="wait after a completion, e.g. 1d">{(id) => <input id={id} value={f.cooldown} placeholder="1d" onChange={(e) => set({ cooldown: e.target.value })} />}</Field>}
        <Dates value={f} onChange={onChange} issues={issues} what="runs" />
      </div>
      <Field label="Segments" path="/segmentIds" issues={issues} deep hint="a user takes part if in any of them">{(id, invalid) => <SegmentPicker id={id} invalid={invalid} label="Segments" value={f.segmentIds} onChange={(segmentIds) => set({ segmentIds })} />}</Field>
      <ActiveBox value={f.active} onChange={(active) => set({ active })} />
    </>
  );
}

const missionSpec: FormSpec<MissionForm> = {
  toBody: missionBody,
  fromJson: (v) => missionForm(v),
  Fields: MissionFields,
};

export function Missions() {
  return (
    <ResourcePage<Mission, MissionForm> title="Missions" path="/api/missions" listKey="missions"
      form={{ spec: missionSpec, empty: emptyMission, edit: (m) => missionForm(asJson(m)), noun: 'mission' }}
      columns={[
        { label: 'Name', render: (m) => m.name },
        { label: 'Goal', render: (m) => goalText(m.goal) },
        { label: 'Points', num: true, render: (m) => m.points },
        { label: 'Segments', render: (m) => <SegmentNames ids={m.segmentIds} /> },
        { label: 'Dates', render: (m) => `${fmtDate(m.startsAt)} → ${fmtDate(m.endsAt)}` },
        { label: 'Active', render: (m, reload) => <Toggle path={`/api/missions/${enc(m.id)}`} active={m.active} onDone={reload} /> },
      ]}
      detail={(m) => <MissionProgress id={m.id} />}
    />
  );
}

function MissionProgress({ id }: { id: string }) {
  const state = useLoad(() => api<{ progress: { userId: string | null; anonymousId: string | null; current: number; target: number; completions: number }[] }>('GET', `/api/missions/${enc(id)}/progress?limit=50`), [id]);
  return <View state={state}>{(data) => (data.progress.length ? <ul>{data.progress.map((p, i) => <li key={i}>{p.userId ?? p.anonymousId}: {p.current}/{p.target} ({p.completions} completions)</li>)}</ul> : <p className="muted">Nobody has progress yet.</p>)}</View>;
}

// ---------------------------------------------------------------- rewards

function CodeUpload({ id, onDone }: { id: string; onDone: () => void }) {
  const [text, setText] = useState('');
  const [result, setResult] = useState<string | null>(null);
  const codes = text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
  return (
    <div>
      <p className="muted">Paste codes (one per line or comma-separated), or load a CSV/text file.</p>
      <input type="file" accept=".csv,.txt,text/plain" aria-label="codes file" onChange={async (e) => { const f = e.target.files?.[0]; if (f) setText(await f.text()); }} />
      <textarea aria-label="codes" rows={5} value={text} onChange={(e) => setText(e.target.value)} />
      <ActionButton className="primary" onClick={async () => { const r = await api<{ added: number; duplicates: number; total: number; available: number }>('POST', `/api/rewards/${enc(id)}/codes`, { codes }); setResult(`${r.added} added, ${r.duplicates} duplicates; ${r.available} of ${r.total} available`); setText(''); onDone(); }}>Upload {codes.length} codes</ActionButton>
      {result && <p role="status">{result}</p>}
    </div>
  );
}

const REWARD_TYPE_LABELS: Record<RewardType, string> = { coupon: 'Coupon (hands out a code)', voucher: 'Voucher (hands out a code)', digital: 'Digital item', physical: 'Physical item' };

export function RewardFields({ value: f, onChange, issues }: FieldsProps<RewardForm>) {
  const set = (p: Partial<RewardForm>) => onChange({ ...f, ...p });
  return (
    <>
      <div className="form-grid">
        <Field label="Name" path="/name" issues={issues}>{(id) => <input id={id} value={f.name} maxLength={200} onChange={(e) => set({ name: e.target.value })} />}</Field>
        <Field label="Type" path="/type" issues={issues}>{(id) => (
          <select id={id} value={f.type} onChange={(e) => set({ type: e.target.value as RewardType })}>{REWARD_TYPES.map((t) => <option key={t} value={t}>{REWARD_TYPE_LABELS[t]}</option>)}</select>
        )}</Field>
        <Field label="Description" path="/description" issues={issues} className="wide">{(id) => <textarea id={id} rows={2} value={f.description} onChange={(e) => set({ description: e.target.value })} />}</Field>
        <Field label="Cost (points)" path="/cost" issues={issues}>{(id) => <input id={id} type="number" inputMode="numeric" min={0} step={1} value={f.cost} onChange={(e) => set({ cost: e.target.value })} />}</Field>
        <Field label="Stock" path="/stock" issues={issues} hint="blank: unlimited">{(id) => <input id={id} type="number" inputMode="numeric" min={0} step={1} value={f.stock} placeholder="unlimited" onChange={(e) => set({ stock: e.target.value })} />}</Field>
        <Field label="Per-user limit" path="/perUserLimit" issues={issues} hint="blank: no limit">{(id) => <input id={id} type="number" inputMode="numeric" min={1} step={1} value={f.perUserLimit} placeholder="no limit" onChange={(e) => set({ perUserLimit: e.target.value })} />}</Field>
        <Dates value={f} onChange={onChange} issues={issues} what="redeemable" />
      </div>
      <Field label="Segments" path="/segmentIds" issues={issues} deep hint="members of any of them may redeem">{(id, invalid) => <SegmentPicker id={id} invalid={invalid} label="Segments" value={f.segmentIds} onChange={(segmentIds) => set({ segmentIds })} />}</Field>
      <ActiveBox value={f.active} onChange={(active) => set({ active })} />
    </>
  );
}

const rewardSpec: FormSpec<RewardForm> = { toBody: rewardBody, fromJson: rewardForm, Fields: RewardFields };

export function Rewards() {
  return (
    <ResourcePage<Reward, RewardForm> title="Bonus shop" path="/api/rewards" listKey="rewards"
      form={{ spec: rewardSpec, empty: emptyReward, edit: (r) => rewardForm(asJson(r)), noun: 'reward' }}
      columns={[
        { label: 'Name', render: (r) => r.name },
        { label: 'Type', render: (r) => r.type },
        { label: 'Cost', num: true, render: (r) => r.cost },
        { label: 'Stock', num: true, render: (r) => r.stock ?? '∞' },
        { label: 'Codes', num: true, render: (r) => `${r.codes.available}/${r.codes.total}` },
        { label: 'Redeemed', num: true, render: (r) => r.redemptions },
        { label: 'Segments', render: (r) => <SegmentNames ids={r.segmentIds} /> },
        { label: 'Active', render: (r, reload) => <Toggle path={`/api/rewards/${enc(r.id)}`} active={r.active} onDone={reload} /> },
      ]}
      detail={(r, reload) => <CodeUpload id={r.id} onDone={reload} />}
    />
  );
}

// ---------------------------------------------------------------- experiences

export function ExperienceFields({ value: f, onChange, issues }: FieldsProps<ExperienceForm>) {
  const set = (p: Partial<ExperienceForm>) => onChange({ ...f, ...p });
  const setVariant = (i: number, p: Partial<ExperienceForm['variants'][number]>) => set({ variants: f.variants.map((v, k) => (k === i ? { ...v, ...p } : v)) });
  return (
    <>
      <div className="form-grid">
        <Field label="Key" path="/key" issues={issues} hint="what the app asks for, e.g. home-banner">{(id) => <input id={id} value={f.key} maxLength={100} onChange={(e) => set({ key: e.target.value })} />}</Field>
        <Field label="Name" path="/name" issues={issues}>{(id) => <input id={id} value={f.name} maxLength={200} onChange={(e) => set({ name: e.target.value })} />}</Field>
      </div>
      <fieldset className="form-section">
        <legend>Variants</legend>
        <p className="muted small-text">A user gets the first variant (lowest priority) whose segments they are in; no segments: everyone.</p>
        <IssueText issues={issues} path="/variants" />
        {f.variants.map((v, i) => (
          <div key={i} className="variant-row" data-testid={`variant-${i}`}>
            <div className="form-grid">
              <Field label={`Variant ${i + 1} key`} path={`/variants/${i}/key`} issues={issues}>{(id) => <input id={id} value={v.key} onChange={(e) => setVariant(i, { key: e.target.value })} />}</Field>
              <Field label={`Variant ${i + 1} name`} path={`/variants/${i}/name`} issues={issues}>{(id) => <input id={id} value={v.name} onChange={(e) => setVariant(i, { name: e.target.value })} />}</Field>
              <Field label={`Variant ${i + 1} priority`} path={`/variants/${i}/priority`} issues={issues} hint="blank: its place in the list">{(id) => <input id={id} type="number" step={1} value={v.priority} onChange={(e) => setVariant(i, { priority: e.target.value })} />}</Field>
            </div>
            <Field label={`Variant ${i + 1} segments`} path={`/variants/${i}/segmentIds`} issues={issues} deep>{(id, invalid) => <SegmentPicker id={id} invalid={invalid} label={`Variant ${i + 1} segments`} value={v.segmentIds} onChange={(segmentIds) => setVariant(i, { segmentIds })} />}</Field>
            <Field label={`Variant ${i + 1} payload (JSON)`} path={`/variants/${i}/payload`} issues={issues}>{(id) => <textarea id={id} className="json" rows={3} value={v.payload} onChange={(e) => setVariant(i, { payload: e.target.value })} />}</Field>
            <div className="row">
              <button type="button" className="small" disabled={i === 0} onClick={() => { const vs = [...f.variants]; [vs[i - 1], vs[i]] = [vs[i]!, vs[i - 1]!]; set({ variants: vs }); }}>↑ Up</button>
              <button type="button" className="link danger" disabled={f.variants.length === 1} onClick={() => set({ variants: f.variants.filter((_, k) => k !== i) })}>Remove variant</button>
            </div>
          </div>
        ))}
        <button type="button" className="small" onClick={() => set({ variants: [...f.variants, emptyVariant()] })}>+ Variant</button>
      </fieldset>
      <Field label="Default payload (JSON, optional)" path="/defaultPayload" issues={issues} hint="for users who match no variant; blank: nothing is shown">{(id) => <textarea id={id} className="json" rows={3} value={f.defaultPayload} onChange={(e) => set({ defaultPayload: e.target.value })} />}</Field>
      <ActiveBox value={f.active} onChange={(active) => set({ active })} />
    </>
  );
}

const experienceSpec: FormSpec<ExperienceForm> = { toBody: experienceBody, fromJson: experienceForm, Fields: ExperienceFields };

export function Experiences() {
  return (
    <ResourcePage<Experience, ExperienceForm> title="Experiences" path="/api/experiences" listKey="experiences"
      form={{ spec: experienceSpec, empty: emptyExperience, edit: (x) => experienceEditForm(asJson(x)), noun: 'experience' }}
      columns={[
        { label: 'Key', render: (x) => <code>{x.key}</code> },
        { label: 'Name', render: (x) => x.name },
        { label: 'Variants', render: (x) => x.variants.map((v, i) => <span key={v.key}>{i > 0 && '; '}{v.key} (<SegmentNames ids={v.segmentIds} />)</span>) },
        { label: 'Active', render: (x, reload) => <Toggle path={`/api/experiences/${enc(x.id)}`} active={x.active} onDone={reload} /> },
      ]}
      detail={(x) => <pre className="json">{JSON.stringify({ variants: x.variants, defaultPayload: x.defaultPayload }, null, 2)}</pre>}
    />
  );
}
