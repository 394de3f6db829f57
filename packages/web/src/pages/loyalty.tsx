/** Missions, Bonus shop (rewards, with code upload), Experiences. */
import { useState } from 'react';
import { api, enc } from '../api.ts';
import type { Json } from '../types.ts';
import { ActionButton, View, fmtDate, useLoad } from '../ui.tsx';
import { ResourcePage } from './resource.tsx';

interface Mission { id: string; name: string; description: string; segmentIds: string[]; active: boolean; goal: { kind: string; event?: string; target?: number; days?: number }; points: number; repeatable: boolean; startsAt: string | null; endsAt: string | null }
interface Reward { id: string; name: string; type: string; cost: number; stock: number | null; active: boolean; segmentIds: string[]; codes: { total: number; available: number }; redemptions: number }
interface Experience { id: string; key: string; name: string; active: boolean; variants: { key: string; name: string; segmentIds: string[]; priority: number; payload: Json }[] }

const segs = (ids: string[]) => (ids.length ? ids.join(', ') : 'everyone');

function Toggle({ path, active, onDone }: { path: string; active: boolean; onDone: () => void }) {
  return <ActionButton className={active ? 'toggle on' : 'toggle'} onClick={async () => { await api('PATCH', path, { active: !active }); onDone(); }}>{active ? 'Active' : 'Inactive'}</ActionButton>;
}

export function Missions() {
  return (
    <ResourcePage<Mission> title="Missions" path="/api/missions" listKey="missions"
      example={{ name: 'Visit pricing 3 times', segmentIds: [], active: true, goal: { kind: 'count', event: '$pageview', where: [{ attr: 'properties.path', op: 'eq', value: '/pricing' }], target: 3 }, points: 50 }}
      columns={[
        { label: 'Name', render: (m) => m.name },
        { label: 'Goal', render: (m) => `${m.goal.kind} ${m.goal.event ?? ''} ${m.goal.target ?? m.goal.days ?? ''}` },
        { label: 'Points', num: true, render: (m) => m.points },
        { label: 'Segments', render: (m) => segs(m.segmentIds) },
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

export function Rewards() {
  return (
    <ResourcePage<Reward> title="Bonus shop" path="/api/rewards" listKey="rewards"
      example={{ name: '10% coupon', type: 'coupon', cost: 100, stock: 50, perUserLimit: 1, segmentIds: [], active: true }}
      columns={[
        { label: 'Name', render: (r) => r.name },
        { label: 'Type', render: (r) => r.type },
        { label: 'Cost', num: true, render: (r) => r.cost },
        { label: 'Stock', num: true, render: (r) => r.stock ?? '∞' },
        { label: 'Codes', num: true, render: (r) => `${r.codes.available}/${r.codes.total}` },
        { label: 'Redeemed', num: true, render: (r) => r.redemptions },
        { label: 'Segments', render: (r) => segs(r.segmentIds) },
        { label: 'Active', render: (r, reload) => <Toggle path={`/api/rewards/${enc(r.id)}`} active={r.active} onDone={reload} /> },
      ]}
      detail={(r, reload) => <CodeUpload id={r.id} onDone={reload} />}
    />
  );
}

export function Experiences() {
  return (
    <ResourcePage<Experience> title="Experiences" path="/api/experiences" listKey="experiences"
      example={{ key: 'home-banner', name: 'Home banner', variants: [{ key: 'vip', name: 'VIP banner', payload: { text: 'Welcome back' }, segmentIds: [] }], defaultPayload: null, active: true }}
      columns={[
        { label: 'Key', render: (x) => <code>{x.key}</code> },
        { label: 'Name', render: (x) => x.name },
        { label: 'Variants', render: (x) => x.variants.map((v) => `${v.key} (${segs(v.segmentIds)})`).join('; ') },
        { label: 'Active', render: (x, reload) => <Toggle path={`/api/experiences/${enc(x.id)}`} active={x.active} onDone={reload} /> },
      ]}
      detail={(x) => <pre className="json">{JSON.stringify(x.variants, null, 2)}</pre>}
    />
  );
}
