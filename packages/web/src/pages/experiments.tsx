/** Experiments: list, create form, results with confidence intervals. */
import { Suspense, lazy, useState } from 'react';
import { api, enc, qs } from '../api.ts';
import type { ArmResult } from '../charts.tsx';
import { Field, IssueText, type FieldsProps, type FormSpec } from '../form-card.tsx';
import { emptyExperiment, experimentBody, experimentForm, type ExperimentForm, type Issue } from '../forms.ts';
import { METRICS, metricQuery, type MetricChoice, type MetricKind } from '../labels.ts';
import { SegmentNames, SegmentSelect } from '../segment-picker.tsx';
import { ActionButton, Link, Spinner, View, pct, useLoad, type Loaded } from '../ui.tsx';
import { ResourcePage } from './resource.tsx';

const LiftChart = lazy(() => import('../charts.tsx').then((m) => ({ default: m.LiftChart })));

interface Experiment { id: string; name: string; status: string; control: string; audienceSegmentId: string | null; arms: { key: string; name: string; weight: number; segmentId: string; size: number; share: number }[] }
interface Results { metric: string; arms: ArmResult[]; srm: { pValue: number; mismatch: boolean }; warnings: { code: string; message: string }[] }

/** The missions, rewards or event names a metric is picked from (by name), loaded when the metric needs them. */
function useTargets(metric: MetricKind): Loaded<{ value: string; label: string }[]> {
  return useLoad(async () => {
    if (metric === 'event') {
      const { events } = await api<{ events: { name: string; count: number }[] }>('GET', '/api/events');
      return [{ value: '*', label: 'any event (*)' }, ...events.map((e) => ({ value: e.name, label: `${e.name} (${e.count.toLocaleString()})` }))];
    }
    if (metric === 'reward_redemption') return (await api<{ rewards: { id: string; name: string }[] }>('GET', '/api/rewards')).rewards.map((r) => ({ value: r.id, label: r.name }));
    return (await api<{ missions: { id: string; name: string }[] }>('GET', '/api/missions')).missions.map((m) => ({ value: m.id, label: m.name }));
  }, [metric === 'mission_completion' ? 'mission_participation' : metric]);
}

function ResultsView({ exp }: { exp: Experiment }) {
  const [choice, setChoice] = useState<MetricChoice>({ metric: 'event', target: '*', days: '' });
  const [issues, setIssues] = useState<Issue[]>([]);
  const [query, setQuery] = useState(qs(metricQuery(choice).params));
  const targets = useTargets(choice.metric);
  const results = useLoad(() => api<Results>('GET', `/api/experiments/${enc(exp.id)}/results${query}`), [exp.id, query]);
  const m = METRICS.find((x) => x.kind === choice.metric)!;
  const options = targets.data ?? [];
  return (
    <div className="card">
      <form className="row wrap metric-form" onSubmit={(e) => {
        e.preventDefault();
        const q = metricQuery(choice);
        setIssues(q.issues);
        if (!q.issues.length) setQuery(qs(q.params));
      }}>
        <select aria-label="metric" value={choice.metric} onChange={(e) => setChoice({ ...choice, metric: e.target.value as MetricKind, target: e.target.value === 'event' ? '*' : '' })}>
          {METRICS.map((x) => <option key={x.kind} value={x.kind}>{x.label}</option>)}
        </select>
        <select aria-label={m.noun} value={choice.target} disabled={!targets.data} onChange={(e) => setChoice({ ...choice, target: e.target.value })}>
          {m.noun !== 'event' && <option value="">{targets.loading ? 'Loading…' : options.length ? `choose a ${m.noun}…` : `no ${m.noun}s yet`}</option>}
          {choice.target && !options.some((o) => o.value === choice.target) && <option value={choice.target}>{choice.target}</option>}
          {options.map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}
        </select>
        <input aria-label="within days of exposure" className="short" value={choice.days} onChange={(e) => setChoice({ ...choice, days: e.target.value })} placeholder="within N days" title="count conversions within this many days of first exposure (blank: any time after it)" />
        <button type="submit" className="small">Compute</button>
        {targets.error && <span className="error small-text">{targets.error.message}</span>}
        {issues.map((i) => <span key={i.path} className="field-error" data-path={i.path}>{i.message}</span>)}
      </form>
      <View state={results}>{(r) => (
        <>
          {r.warnings.map((w) => <p key={w.code} className="warning"><span className="badge warn">{w.code}</span> {w.message}</p>)}
          <div className="table-wrap"><table>
            <thead><tr><th>Arm</th><th className="num">Users</th><th className="num">Conversions</th><th className="num">Rate</th><th className="num">Lift</th><th className="num">95% CI</th><th className="num">p</th></tr></thead>
            <tbody>{r.arms.map((a) => (
              <tr key={a.key}><td>{a.name || a.key}{a.control && <span className="badge">control</span>}</td><td className="num">{a.users}</td><td className="num">{a.conversions}</td><td className="num">{pct(a.conversions, a.users)}</td>
                <td className="num">{a.vsControl ? `${(a.vsControl.absoluteLift * 100).toFixed(2)} pp` : '—'}</td>
                <td className="num">{a.vsControl ? `[${(a.vsControl.ci95.lower * 100).toFixed(2)}, ${(a.vsControl.ci95.upper * 100).toFixed(2)}]` : '—'}</td>
                <td className="num">{a.vsControl ? a.vsControl.pValue.toFixed(3) : '—'}</td></tr>
            ))}</tbody>
          </table></div>
          <Suspense fallback={<Spinner label="Loading chart…" />}><LiftChart arms={r.arms} /></Suspense>
          <p className="muted">Sample ratio check: p = {r.srm.pValue.toFixed(4)}{r.srm.mismatch ? ' — mismatch!' : ''}</p>
        </>
      )}</View>
    </div>
  );
}

export function ExperimentFields({ value: f, onChange, issues }: FieldsProps<ExperimentForm>) {
  const set = (p: Partial<ExperimentForm>) => onChange({ ...f, ...p });
  const setArm = (i: number, p: Partial<ExperimentForm['arms'][number]>) => {
    const arms = f.arms.map((a, k) => (k === i ? { ...a, ...p } : a));
    // Renaming the control arm's key keeps it the control.
    const control = p.key !== undefined && f.arms[i]!.key === f.control ? p.key : f.control;
    set({ arms, control });
  };
  const total = f.arms.reduce((t, a) => t + (Number(a.weight) > 0 ? Number(a.weight) : 0), 0);
  const keys = f.arms.map((a) => a.key.trim()).filter(Boolean);
  return (
    <>
      <div className="form-grid">
        <Field label="Name" path="/name" issues={issues}>{(id) => <input id={id} value={f.name} maxLength={150} onChange={(e) => set({ name: e.target.value })} />}</Field>
        <Field label="Audience" path="/audienceSegmentId" issues={issues} hint="who takes part">{(id) => <SegmentSelect id={id} label="Audience" value={f.audienceSegmentId} onChange={(audienceSegmentId) => set({ audienceSegmentId })} empty="Everyone" />}</Field>
        <Field label="Status" path="/status" issues={issues}>{(id) => (
          <select id={id} value={f.status} onChange={(e) => set({ status: e.target.value as ExperimentForm['status'] })}>
            <option value="draft">Draft (start it later)</option>
            <option value="running">Running (start now)</option>
          </select>
        )}</Field>
        <Field label="Salt (optional)" path="/salt" issues={issues} hint="hashing seed; blank: the experiment's id">{(id) => <input id={id} value={f.salt} onChange={(e) => set({ salt: e.target.value })} />}</Field>
      </div>
      <fieldset className="form-section">
        <legend>Arms</legend>
        <IssueText issues={issues} path="/arms" />
        {f.arms.map((a, i) => (
          <div key={i} className="arm-row">
            <Field label={`Arm ${i + 1} key`} path={`/arms/${i}/key`} issues={issues}>{(id) => <input id={id} value={a.key} maxLength={64} onChange={(e) => setArm(i, { key: e.target.value })} />}</Field>
            <Field label={`Arm ${i + 1} name`} path={`/arms/${i}/name`} issues={issues}>{(id) => <input id={id} value={a.name} maxLength={100} onChange={(e) => setArm(i, { name: e.target.value })} />}</Field>
            <Field label={`Arm ${i + 1} weight`} path={`/arms/${i}/weight`} issues={issues} hint={total > 0 && Number(a.weight) > 0 ? `${((Number(a.weight) / total) * 100).toFixed(1)}% of the audience` : undefined}>{(id) => <input id={id} type="number" min={0} step="any" value={a.weight} onChange={(e) => setArm(i, { weight: e.target.value })} />}</Field>
            <button type="button" className="link danger" disabled={f.arms.length <= 2} aria-label={`remove arm ${i + 1}`} onClick={() => { const arms = f.arms.filter((_, k) => k !== i); set({ arms, control: f.control === a.key ? arms[0]!.key : f.control }); }}>Remove</button>
          </div>
        ))}
        <button type="button" className="small" disabled={f.arms.length >= 20} onClick={() => set({ arms: [...f.arms, { key: `variant-${f.arms.length}`, name: '', weight: '50' }] })}>+ Arm</button>
      </fieldset>
      <div className="form-grid">
        <Field label="Control arm" path="/control" issues={issues} hint="the others are compared with it">{(id) => (
          <select id={id} value={f.control} onChange={(e) => set({ control: e.target.value })}>
            {!keys.includes(f.control) && <option value={f.control}>{f.control || '—'}</option>}
            {keys.map((k) => <option key={k} value={k}>{k}</option>)}
          </select>
        )}</Field>
      </div>
    </>
  );
}

const experimentSpec: FormSpec<ExperimentForm> = { toBody: experimentBody, fromJson: experimentForm, Fields: ExperimentFields };

export function Experiments() {
  return (
    <ResourcePage<Experiment, ExperimentForm> title="Experiments" path="/api/experiments" listKey="experiments"
      form={{ spec: experimentSpec, empty: emptyExperiment, noun: 'experiment' }}
      columns={[
        { label: 'Name', render: (x) => x.name },
        { label: 'Status', render: (x) => <span className="badge">{x.status}</span> },
        { label: 'Arms', render: (x) => x.arms.map((a, i) => <span key={a.key}>{i > 0 && ', '}<Link to={`/segments/${enc(a.segmentId)}`}>{a.key}</Link> ({a.size})</span>) },
        { label: 'Audience', render: (x) => <SegmentNames ids={x.audienceSegmentId ? [x.audienceSegmentId] : []} /> },
        { label: '', render: (x, reload) => x.status === 'draft' ? <ActionButton className="small" onClick={async () => { await api('PATCH', `/api/experiments/${enc(x.id)}`, { status: 'running' }); reload(); }}>Start</ActionButton> : x.status === 'running' ? <ActionButton className="small" onClick={async () => { await api('PATCH', `/api/experiments/${enc(x.id)}`, { status: 'stopped' }); reload(); }}>Stop</ActionButton> : null },
      ]}
      detail={(x) => <ResultsView exp={x} />}
    />
  );
}
