/** Users: look-up by id, and the profile page. */
import { useState } from 'react';
import { api, enc } from '../api.ts';
import { navigate } from '../router.ts';
import type { Json } from '../types.ts';
import { ActionButton, Link, View, fmtDate, useLoad } from '../ui.tsx';
import { HistoryList } from './segments.tsx';

interface Profile {
  userId: string | null;
  anonymousId: string | null;
  anonymousIds: string[];
  traits: Record<string, Json>;
  context: Record<string, Json>;
  labels: string[];
  firstSeen: string | null;
  lastSeen: string | null;
  segments: { id: string; name: string; since: string }[];
}

export function UsersSearch() {
  const [id, setId] = useState('');
  return (
    <section>
      <h1>Users</h1>
      <form className="card row" onSubmit={(e) => { e.preventDefault(); if (id.trim()) navigate(`/users/${enc(id.trim())}`); }}>
        <input aria-label="user id" placeholder="userId or anonymousId" value={id} onChange={(e) => setId(e.target.value)} />
        <button type="submit" className="primary" disabled={!id.trim()}>Open profile</button>
      </form>
      <p className="muted">Users are found by id; to browse users, open a segment's members.</p>
    </section>
  );
}

function KeyValues({ value }: { value: Record<string, Json> }) {
  const entries = Object.entries(value);
  if (!entries.length) return <p className="muted">None.</p>;
  return <dl className="kv">{entries.map(([k, v]) => <div key={k}><dt>{k}</dt><dd>{typeof v === 'object' && v !== null ? <code>{JSON.stringify(v)}</code> : String(v)}</dd></div>)}</dl>;
}

function Labels({ id, labels, onChanged }: { id: string; labels: string[]; onChanged: () => void }) {
  const [add, setAdd] = useState('');
  return (
    <div>
      <div className="chips">
        {labels.length === 0 && <span className="muted">No labels.</span>}
        {labels.map((l) => <span key={l} className="chip">{l} <ActionButton className="link" onClick={async () => { await api('POST', `/api/users/${enc(id)}/labels`, { remove: [l] }); onChanged(); }}>✕</ActionButton></span>)}
      </div>
      <form className="row" onSubmit={async (e) => { e.preventDefault(); await api('POST', `/api/users/${enc(id)}/labels`, { add: add.split(',').map((s) => s.trim()).filter(Boolean) }); setAdd(''); onChanged(); }}>
        <input aria-label="add label" placeholder="label, another" value={add} onChange={(e) => setAdd(e.target.value)} />
        <button type="submit" className="small" disabled={!add.trim()}>Add label</button>
      </form>
    </div>
  );
}

export function UserProfile({ id }: { id: string }) {
  const profile = useLoad(() => api<Profile>('GET', `/api/users/${enc(id)}`), [id]);
  const events = useLoad(() => api<{ events: { messageId: string; event: string; type: string; timestamp: string; properties: Json }[] }>('GET', `/api/users/${enc(id)}/events?limit=100`), [id]);
  const targeting = useLoad(() => api<{ missions: { id: string; name: string }[]; rewards: { id: string; name: string }[]; experiences: { key: string; name?: string; variant?: string }[] }>('GET', `/api/users/${enc(id)}/targeting`), [id]);
  const points = useLoad(() => api<{ balance: number; entries: { id: string; kind: string; amount: number; balance: number; reason: string; at: string }[] }>('GET', `/api/users/${enc(id)}/points?limit=20`), [id]);
  return (
    <View state={profile}>{(p) => (
      <section>
        <p className="crumbs"><Link to="/users">Users</Link> /</p>
        <h1>{p.userId ?? p.anonymousId}</h1>
        <p className="muted">{p.userId ? 'Known user' : 'Anonymous'} · first seen {fmtDate(p.firstSeen)} · last seen {fmtDate(p.lastSeen)}{p.anonymousIds.length > 0 && <> · anonymous ids: {p.anonymousIds.join(', ')}</>}</p>
        <div className="grid">
          <div className="card"><h2>Traits</h2><KeyValues value={p.traits} /></div>
          <div className="card"><h2>Context</h2><KeyValues value={p.context} /></div>
          <div className="card"><h2>Labels</h2><Labels id={id} labels={p.labels} onChanged={profile.reload} /></div>
          <div className="card">
            <h2>Segments</h2>
            {p.segments.length === 0 ? <p className="muted">In no segment.</p> : <ul>{p.segments.map((s) => <li key={s.id}><Link to={`/segments/${enc(s.id)}`}>{s.name}</Link> <span className="muted">since {fmtDate(s.since)}</span></li>)}</ul>}
          </div>
          <div className="card">
            <h2>Targeted with</h2>
            <View state={targeting}>{(t) => (
              <ul>
                <li>Missions: {t.missions.length ? t.missions.map((m) => m.name).join(', ') : '—'}</li>
                <li>Rewards: {t.rewards.length ? t.rewards.map((r) => r.name).join(', ') : '—'}</li>
                <li>Experiences: {t.experiences.length ? t.experiences.map((x) => `${x.key}${x.variant ? ` → ${x.variant}` : ''}`).join(', ') : '—'}</li>
              </ul>
            )}</View>
          </div>
          <div className="card">
            <h2>Points</h2>
            <View state={points}>{(pt) => (
              <>
                <p className="big">{pt.balance}</p>
                <ul>{pt.entries.map((e) => <li key={e.id}>{fmtDate(e.at)} {e.amount > 0 ? '+' : ''}{e.amount} <span className="muted">{e.kind} · {e.reason}</span></li>)}</ul>
              </>
            )}</View>
          </div>
        </div>
        <div className="card">
          <h2>Event timeline</h2>
          <View state={events}>{({ events: list }) => list.length === 0 ? <p className="muted">No events.</p> : (
            <ul className="timeline">{list.map((e) => <li key={e.messageId}><span className="muted">{fmtDate(e.timestamp)}</span> <strong>{e.event}</strong> <code className="props">{JSON.stringify(e.properties)}</code></li>)}</ul>
          )}</View>
        </div>
        <div className="card"><h2>Segment history</h2><HistoryList of="user" url={`/api/users/${enc(id)}/history`} /></div>
      </section>
    )}</View>
  );
}
