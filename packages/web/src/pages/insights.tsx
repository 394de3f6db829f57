/**
 * A segment's Insights tab: size over time and entries/exits (days before the segment existed are
 * gaps), what its current members did (missions, redemptions, points, top events), and a
 * comparison with other segments (GET /api/insights/compare).
 */
import { Suspense, lazy, useState } from 'react';
import { api, enc, qs } from '../api.ts';
import type { ChartPoint } from '../charts.tsx';
import { insightFigures, sinceCreated } from '../labels.ts';
import { SegmentPicker } from '../segment-picker.tsx';
import type { Insights, Segment } from '../types.ts';
import { Spinner, View, useLoad } from '../ui.tsx';

// recharts is loaded with the first chart, not with the app.
const SizeChart = lazy(() => import('../charts.tsx').then((m) => ({ default: m.SizeChart })));
const FlowChart = lazy(() => import('../charts.tsx').then((m) => ({ default: m.FlowChart })));
const CompareChart = lazy(() => import('../charts.tsx').then((m) => ({ default: m.CompareChart })));

/** The series with the days before the segment existed as null (gaps), not as 0 members. */
function chartSeries(i: Insights, createdAt: string | undefined): ChartPoint[] {
  const dates = i.series.map((p) => p.date);
  const sizes = sinceCreated(dates, i.series.map((p) => p.size), createdAt);
  return i.series.map((p, k) => (sizes[k] === null ? { date: p.date, size: null, entered: null, exited: null } : p));
}

const DAYS = [7, 30, 90];

export function InsightsTab({ segment }: { segment: Segment }) {
  const [days, setDays] = useState(30);
  const [others, setOthers] = useState<string[]>([]);
  const own = useLoad(() => api<Insights>('GET', `/api/segments/${enc(segment.id)}/insights${qs({ days })}`), [segment.id, segment.size, days]);
  // Creation times of the compared segments (the picker's shared list has names only).
  const all = useLoad(() => (others.length ? api<{ segments: Segment[] }>('GET', '/api/segments') : Promise.resolve(null)), [others.length > 0]);
  const compared = useLoad(async () => (others.length
    ? (await api<{ segments: Insights[] }>('GET', `/api/insights/compare${qs({ ids: [segment.id, ...others].join(','), days })}`)).segments
    : null), [segment.id, others.join(), days]);
  const createdAt = (id: string) => (id === segment.id ? segment.createdAt : all.data?.segments.find((s) => s.id === id)?.createdAt);
  return (
    <>
      <div className="card">
        <div className="page-head">
          <h2>Size over time ({days} days)</h2>
          <select aria-label="period" value={days} onChange={(e) => setDays(Number(e.target.value))}>{DAYS.map((d) => <option key={d} value={d}>last {d} days</option>)}</select>
        </div>
        <View state={own}>{(d) => (
          <Suspense fallback={<Spinner label="Loading charts…" />}>
            <SizeChart series={chartSeries(d, segment.createdAt)} />
            <h2>Entries and exits</h2>
            <FlowChart series={chartSeries(d, segment.createdAt)} />
          </Suspense>
        )}</View>
      </div>
      <div className="card">
        <h2>What the members did (last {days} days)</h2>
        <p className="muted small-text">Of the current members: mission progress and completions, reward redemptions, points and events in the period.</p>
        <View state={own}>{(d) => (
          <>
            <dl className="figures" aria-label="insight figures">
              {insightFigures(d).map((f) => <div key={f.label}><dt>{f.label}</dt><dd>{f.value}</dd>{f.detail && <dd className="muted small-text">{f.detail}</dd>}</div>)}
            </dl>
            <h3>Top events</h3>
            {d.topEvents.length === 0
              ? <p className="muted">No events from the members in the period.</p>
              : (
                <div className="table-wrap"><table className="top-events">
                  <thead><tr><th>Event</th><th className="num">Count</th><th className="num">Users</th></tr></thead>
                  <tbody>{d.topEvents.map((e) => <tr key={e.name}><td>{e.name}</td><td className="num">{e.count.toLocaleString()}</td><td className="num">{e.users.toLocaleString()}</td></tr>)}</tbody>
                </table></div>
              )}
          </>
        )}</View>
      </div>
      <div className="card">
        <h2>Compare with other segments</h2>
        <SegmentPicker label="Compare with" value={others} exclude={[segment.id]} onChange={(ids) => setOthers(ids.slice(0, 19))} empty="pick one or more segments" />
        {others.length > 0 && (
          <View state={compared}>{(list) => list && (
            <>
              <div className="table-wrap"><table className="compare-table">
                <thead><tr><th />{list.map((i) => <th key={i.segmentId} className="num">{i.name}</th>)}</tr></thead>
                <tbody>
                  {insightFigures(list[0]!).map((f, row) => (
                    <tr key={f.label}><th scope="row">{f.label}</th>{list.map((i) => { const g = insightFigures(i)[row]!; return <td key={i.segmentId} className="num">{g.value}{g.detail && <div className="muted small-text">{g.detail}</div>}</td>; })}</tr>
                  ))}
                  <tr><th scope="row">Top event</th>{list.map((i) => <td key={i.segmentId} className="num">{i.topEvents[0] ? `${i.topEvents[0].name} (${i.topEvents[0].count.toLocaleString()})` : '—'}</td>)}</tr>
                </tbody>
              </table></div>
              <Suspense fallback={<Spinner label="Loading chart…" />}>
                <CompareChart dates={list[0]!.series.map((p) => p.date)} lines={list.map((i) => ({ id: i.segmentId, name: i.name, sizes: sinceCreated(i.series.map((p) => p.date), i.series.map((p) => p.size), createdAt(i.segmentId)) }))} />
              </Suspense>
            </>
          )}</View>
        )}
      </div>
    </>
  );
}
