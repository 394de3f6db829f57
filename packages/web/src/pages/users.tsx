/** Users: look-up by id, and the profile page. */
import { useState } from 'react';
import { api, enc, ApiError } from '../api.ts';
import { flatten, keyProperties } from '../profile-format.ts';
import { navigate } from '../router.ts';
import type { Json } from '../types.ts';
import { ActionButton, ErrorBox, Link, View, fmtDate, useLoad } from '../ui.tsx';
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

export function UsersSearch({ embedded = false }: { embedded?: boolean }) {
  const [id, setId] = useState('');
  const form = (
    <form className="card row" onSubmit={(e) => { e.preventDefault(); if (id.trim()) navigate(`/users/${enc(id.trim())}`); }}>
      <input aria-label="user id" placeholder="userId or anonymousId" value={id} onChange={(e) => setId(e.target.value)} />
      <button type="submit" className="primary" disabled={!id.trim()}>Open profile</button>
    </form>
  );
  if (embedded) return form;
  return (
    <section>
      <h1>Users</h1>
      {form}
      <p className="muted">Users are found by id; to browse users, open a segment's members.</p>
    </section>
  );
}

/** Values as plain rows: nested objects opened into dotted keys (`page.path`), no JSON quoting. */
function KeyValues({ value }: { value: Record<string, Json> }) {
  const rows = flatten(value);
  if (!rows.length) return <p className="muted">None.</p>;
  return <dl className="kv">{rows.map(([k, v]) => <div key={k}><dt>{k}</dt><dd>{v}</dd></div>)}</dl>;
}

interface TimelineEvent { messageId: string; event: string; type: string; timestamp: string; properties: Json; context?: Json }

/** Rows shown before "Show all": the page stays short; the rest are a click away. */
const TIMELINE_ROWS = 20;

/** One row per event: time, name, a few key properties; its whole JSON folded underneath. */
function Timeline({ events }: { events: TimelineEvent[] }) {
  const [all, setAll] = useState(false);
  if (events.length === 0) return <p className="muted">No events.</p>;
  const shown = all ? events : events.slice(0, TIMELINE_ROWS);
  return (
    <>
      <ul className="timeline">
        {shown.map((e) => (
          <li key={e.messageId} className="timeline-row">
            <time dateTime={e.timestamp} className="muted">{fmtDate(e.timestamp)}</time>
            <strong className="event-name">{e.event}</strong>
            {e.type !== 'track' && <span className="badge">{e.type}</span>}
            <span className="props">{keyProperties(e.properties).map(([k, v]) => <span key={k} className="prop"><span className="muted">{k}</span> {v}</span>)}</span>
            <details className="event-json"><summary>JSON</summary><pre className="json">{JSON.stringify({ properties: e.properties, ...(e.context !== undefined ? { context: e.context } : {}) }, null, 2)}</pre></details>
          </li>
        ))}
      </ul>
      {events.length > TIMELINE_ROWS && <button type="button" className="small" onClick={() => setAll((a) => !a)}>{all ? `Show the latest ${TIMELINE_ROWS}` : `Show all ${events.length}`}</button>}
    </>
  );
}

function Labels({ id, labels, onChanged }: { id: string; labels: string[]; onChanged: () => void }) {
  const [add, setAdd] = useState('');
  const [error, setError] = useState<Error | null>(null);
  const submit = async () => {
    setError(null);
    try {
      await api('POST', `/api/users/${enc(id)}/labels`, { add: add.split(',').map((s) => s.trim()).filter(Boolean) });
      setAdd('');
      onChanged();
    } catch (e) {
      setError(e as Error);
    }
  };
  return (
    <div>
      <div className="chips">
        {labels.length === 0 && <span className="muted">No labels.</span>}
        {labels.map((l) => <span key={l} className="chip">{l} <ActionButton className="link" onClick={async () => { await api('POST', `/api/users/${enc(id)}/labels`, { remove: [l] }); onChanged(); }}>✕</ActionButton></span>)}
      </div>
      <form className="row" onSubmit={(e) => { e.preventDefault(); void submit(); }}>
        <input aria-label="add label" placeholder="label, another" value={add} onChange={(e) => setAdd(e.target.value)} />
        <button type="submit" className="small" disabled={!add.trim()}>Add label</button>
      </form>
      <ErrorBox error={error} />
    </div>
  );
}

/** What DELETE /api/users/:id answers: rows removed per kind, and ids suppressed at ingest. */
interface Erased { erased: Record<string, number>; suppressed: number }

/**
 * Erase: irreversible, so it opens a confirmation first, with the choice to also drop later
 * events naming the user's ids (only a hash of each id is kept for that).
 */
function EraseUser({ id, onErased }: { id: string; onErased: (r: Erased) => void }) {
  const [open, setOpen] = useState(false);
  const [suppress, setSuppress] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const erase = async () => {
    setBusy(true);
    setError(null);
    try {
      onErased(await api<Erased>('DELETE', `/api/users/${enc(id)}${suppress ? '?suppress=true' : ''}`));
    } catch (e) {
      setError(e as Error);
      setBusy(false);
    }
  };
  if (!open) return <button type="button" className="danger" onClick={() => setOpen(true)}>Erase user…</button>;
  return (
    <div className="confirm-box" role="alertdialog" aria-label="erase user">
      <p><strong>Erase {id} permanently?</strong> Every event, trait, membership, points entry and redemption of this user is deleted, and older audit entries lose the id. This cannot be undone.</p>
      <label className="inline"><input type="checkbox" checked={suppress} onChange={(e) => setSuppress(e.target.checked)} /> Also drop later events naming this user's ids (suppress: only a hash of each id is kept)</label>
      <div className="row">
        <button type="button" className="primary small danger" disabled={busy} onClick={() => void erase()}>{busy ? 'Erasing…' : `Erase ${id}`}</button>
        <button type="button" className="small" disabled={busy} onClick={() => { setOpen(false); setError(null); }}>Cancel</button>
      </div>
      <ErrorBox error={error} />
    </div>
  );
}

export function UserProfile({ id }: { id: string }) {
  const profile = useLoad(() => api<Profile>('GET', `/api/users/${enc(id)}`), [id]);
  const [erased, setErased] = useState<{ id: string; result: Erased } | null>(null);
  if (erased && erased.id === id) {
    const removed = Object.entries(erased.result.erased).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(', ');
    return (
      <section>
        <p className="crumbs"><Link to="/users">Users</Link> /</p>
        <h1>User erased</h1>
        <p className="notice" role="status">{id} was erased: {removed || 'nothing else was held'}.{erased.result.suppressed > 0 && ` Later events naming ${erased.result.suppressed === 1 ? 'its id' : `its ${erased.result.suppressed} ids`} will be dropped.`}</p>
        <UsersSearch embedded />
      </section>
    );
  }
  // An unknown id is an answer, not a failure: say so, and ask nothing more about that user.
  if (profile.error instanceof ApiError && profile.error.status === 404) {
    return (
      <section>
        <p className="crumbs"><Link to="/users">Users</Link> /</p>
        <h1>User not found</h1>
        <p className="notice" role="status">No user with id <code>{id}</code> (as a userId or an anonymousId).</p>
        <UsersSearch embedded />
      </section>
    );
  }
  return <View state={profile}>{(p) => <ProfileBody id={id} p={p} onChanged={profile.reload} onErased={(result) => setErased({ id, result })} />}</View>;
}

function ProfileBody({ id, p, onChanged, onErased }: { id: string; p: Profile; onChanged: () => void; onErased: (r: Erased) => void }) {
  const events = useLoad(() => api<{ events: TimelineEvent[] }>('GET', `/api/users/${enc(id)}/events?limit=100`), [id]);
  const targeting = useLoad(() => api<{ missions: { id: string; name: string }[]; rewards: { id: string; name: string }[]; experiences: { key: string; name?: string; variant?: string }[] }>('GET', `/api/users/${enc(id)}/targeting`), [id]);
  const points = useLoad(() => api<{ balance: number; entries: { id: string; kind: string; amount: number; balance: number; reason: string; at: string }[] }>('GET', `/api/users/${enc(id)}/points?limit=20`), [id]);
  return (
    <section>
      <p className="crumbs"><Link to="/users">Users</Link> /</p>
      <h1>{p.userId ?? p.anonymousId}</h1>
      <p className="muted">{p.userId ? 'Known user' : 'Anonymous'} · first seen {fmtDate(p.firstSeen)} · last seen {fmtDate(p.lastSeen)}{p.anonymousIds.length > 0 && <> · anonymous ids: {p.anonymousIds.join(', ')}</>}</p>
      <div className="grid">
        <div className="card"><h2>Traits</h2><KeyValues value={p.traits} /></div>
        <div className="card"><h2>Context</h2><KeyValues value={p.context} /></div>
        <div className="card"><h2>Labels</h2><Labels id={id} labels={p.labels} onChanged={onChanged} /></div>
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
        <View state={events}>{({ events: list }) => <Timeline events={list} />}</View>
      </div>
      <div className="card"><h2>Segment history</h2><HistoryList of="user" url={`/api/users/${enc(id)}/history`} /></div>
      <div className="card"><h2>Erase</h2><p className="muted">Right to erasure: remove everything held about this user (docs/privacy.md).</p><EraseUser id={id} onErased={onErased} /></div>
    </section>
  );
}
