/** Experiments: list, create (JSON), results with confidence intervals. */
import { Suspense, lazy, useState } from 'react';
import { api, enc, qs } from '../api.ts';
import type { ArmResult } from '../charts.tsx';
import { ActionButton, Link, Spinner, View, pct, useLoad } from '../ui.tsx';

const LiftChart = lazy(() => import('../charts.tsx').then((m) => ({ default: m.LiftChart })));
import { ResourcePage } from './resource.tsx';

interface Experiment { id: string; name: string; status: string; control: string; audienceSegmentId: string | null; arms: { key: string; name: string; weight: number; segmentId: string; size: number; share: number }[] }
interface Results { metric: string; arms: ArmResult[]; srm: { pValue: number; mismatch: boolean }; warnings: { code: string; message: string }[] }

function ResultsView({ exp }: { exp: Experiment }) {
  const [metric, setMetric] = useState('event');
  const [event, setEvent] = useState('purchase');
  const [days, setDays] = useState('');
  const [query, setQuery] = useState(qs({ metric, event }));
  const results = useLoad(() => api<Results>('GET', `/api/experiments/${enc(exp.id)}/results${query}`), [exp.id, query]);
  return (
    <div className="card">
      <form className="row wrap" onSubmit={(e) => { e.preventDefault(); setQuery(qs({ metric, event: metric === 'event' ? event : undefined, missionId: metric.startsWith('mission') ? event : undefined, rewardId: metric === 'reward_redemption' ? event : undefined, days: days || undefined })); }}>
        <select aria-label="metric" value={metric} onChange={(e) => setMetric(e.target.value)}>
          {['event', 'mission_participation', 'mission_completion', 'reward_redemption'].map((m) => <option key={m}>{m}</option>)}
        </select>
        <input aria-label="event, mission or reward id" value={event} onChange={(e) => setEvent(e.target.value)} placeholder={metric === 'event' ? 'event name or *' : 'id'} />
        <input aria-label="days" className="short" value={days} onChange={(e) => setDays(e.target.value)} placeholder="days" />
        <button type="submit" className="small">Compute</button>
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

export function Experiments() {
  return (
    <ResourcePage<Experiment> title="Experiments" path="/api/experiments" listKey="experiments"
      example={{ name: 'Banner test', arms: [{ key: 'control', weight: 50 }, { key: 'treatment', weight: 50 }], control: 'control', status: 'draft' }}
      columns={[
        { label: 'Name', render: (x) => x.name },
        { label: 'Status', render: (x) => <span className="badge">{x.status}</span> },
        { label: 'Arms', render: (x) => x.arms.map((a, i) => <span key={a.key}>{i > 0 && ', '}<Link to={`/segments/${enc(a.segmentId)}`}>{a.key}</Link> ({a.size})</span>) },
        { label: 'Audience', render: (x) => (x.audienceSegmentId ? <Link to={`/segments/${enc(x.audienceSegmentId)}`}>{x.audienceSegmentId}</Link> : 'everyone') },
        { label: '', render: (x, reload) => x.status === 'draft' ? <ActionButton className="small" onClick={async () => { await api('PATCH', `/api/experiments/${enc(x.id)}`, { status: 'running' }); reload(); }}>Start</ActionButton> : x.status === 'running' ? <ActionButton className="small" onClick={async () => { await api('PATCH', `/api/experiments/${enc(x.id)}`, { status: 'stopped' }); reload(); }}>Stop</ActionButton> : null },
      ]}
      detail={(x) => <ResultsView exp={x} />}
    />
  );
}
