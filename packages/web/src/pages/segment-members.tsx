/** A segment's members: paged table (hand-added ones marked), look-up, add by id (new ids confirmed first), remove, export. */
import { useState } from 'react';
import { api, apiDownload, enc, qs } from '../api.ts';
import { idsFault, parseIds, unseenFrom } from '../member-ids.ts';
import type { Member, Segment } from '../types.ts';
import { ActionButton, CursorPager, ErrorBox, Link, View, fmtDate, useCursorPages, useLoad } from '../ui.tsx';

const memberId = (m: { userId: string | null; anonymousId: string | null }) => m.userId ?? m.anonymousId ?? '';

type AddState =
  | { step: 'idle' }
  | { step: 'busy' }
  | { step: 'confirm'; ids: string[]; unseen: string[] }
  | { step: 'done'; added: string[]; created: string[] }
  | { step: 'error'; error: Error };

const list = (ids: readonly string[]) => ids.length <= 5 ? ids.join(', ') : `${ids.slice(0, 5).join(', ')} and ${ids.length - 5} more`;

/**
 * Add by id: the ids are sent as they are; ids never seen come back as a 409 (nothing added),
 * listed for the user to confirm — a typo must not silently become a new profile — and only
 * then sent again with createMissing.
 */
function AddMembers({ segment, onChanged }: { segment: Segment; onChanged: () => void }) {
  const [text, setText] = useState('');
  const [state, setState] = useState<AddState>({ step: 'idle' });
  const ids = parseIds(text);
  const fault = text.trim() ? idsFault(ids) : null;
  const send = async (sent: string[], createMissing: boolean) => {
    setState({ step: 'busy' });
    try {
      const r = await api<{ created: string[] }>('POST', `/api/segments/${enc(segment.id)}/members`, { userIds: sent, ...(createMissing ? { createMissing: true } : {}) });
      setState({ step: 'done', added: sent, created: r.created ?? [] });
      setText('');
      onChanged();
    } catch (e) {
      const unseen = createMissing ? null : unseenFrom(e, sent);
      setState(unseen ? { step: 'confirm', ids: sent, unseen } : { step: 'error', error: e as Error });
    }
  };
  return (
    <div className="add-members">
      <form className="row" onSubmit={(e) => { e.preventDefault(); if (!fault && ids.length) void send(ids, false); }}>
        <input aria-label="add user by id" aria-invalid={fault !== null} placeholder="Add by id (a, b, …)" value={text} onChange={(e) => { setText(e.target.value); if (state.step !== 'busy') setState({ step: 'idle' }); }} />
        <button type="submit" className="small" disabled={!ids.length || fault !== null || state.step === 'busy' || state.step === 'confirm'}>{state.step === 'busy' ? 'Adding…' : 'Add'}</button>
      </form>
      {fault && <p className="error" role="alert">{fault}</p>}
      {state.step === 'confirm' && (
        <div className="confirm-box" role="alertdialog" aria-label="new user ids">
          <p><strong>{state.unseen.length === 1 ? 'This id was never seen' : `These ${state.unseen.length} ids were never seen`}</strong> — adding {state.unseen.length === 1 ? 'it' : 'them'} creates {state.unseen.length === 1 ? 'a new profile' : 'new profiles'}. Check for typos first.{state.ids.length > state.unseen.length && ` The other ${state.ids.length - state.unseen.length} id${state.ids.length - state.unseen.length === 1 ? ' is' : 's are'} known and go in with ${state.unseen.length === 1 ? 'it' : 'them'}.`} Nothing has been added yet.</p>
          <ul className="new-ids">{state.unseen.map((u) => <li key={u}><code>{u}</code></li>)}</ul>
          <div className="row">
            <button type="button" className="primary small" onClick={() => void send(state.ids, true)}>Create {state.unseen.length === 1 ? 'it' : `${state.unseen.length} new users`} and add</button>
            <button type="button" className="small" onClick={() => setState({ step: 'idle' })}>Cancel</button>
          </div>
        </div>
      )}
      {state.step === 'done' && (
        <p className="ok-text" role="status">
          Added {list(state.added)} to {segment.name} by hand.{state.created.length > 0 && ` New profile${state.created.length === 1 ? '' : 's'} created for ${list(state.created)}.`}
        </p>
      )}
      {state.step === 'error' && <ErrorBox error={state.error} />}
    </div>
  );
}

export function Members({ segment, onChanged }: { segment: Segment; onChanged: () => void }) {
  const pages = useCursorPages();
  const { cursor, limit } = pages;
  const page = useLoad(() => api<{ members: Member[]; nextCursor: string | null }>('GET', `/api/segments/${enc(segment.id)}/members${qs({ limit, cursor })}`), [segment.id, cursor, limit, segment.size, segment.include.length]);
  const [search, setSearch] = useState('');
  const [found, setFound] = useState<{ id: string; member: boolean; since?: string } | { error: string } | null>(null);

  const lookUp = async () => {
    setFound(null);
    try {
      const u = await api<{ userId: string | null; anonymousId: string | null; segments: { id: string; since: string }[] }>('GET', `/api/users/${enc(search.trim())}`);
      const m = u.segments.find((s) => s.id === segment.id);
      setFound({ id: u.userId ?? u.anonymousId ?? search, member: !!m, since: m?.since });
    } catch (e) {
      setFound({ error: (e as Error).message });
    }
  };
  return (
    <div className="card">
      <div className="page-head"><h2>Members <span className="muted">({segment.size.toLocaleString()})</span></h2>
        <ActionButton className="small" onClick={() => apiDownload(`/api/segments/${enc(segment.id)}/export?format=csv`, `${segment.name}-members.csv`)}>Export CSV (all members)</ActionButton>
      </div>
      <div className="row wrap members-tools">
        <form className="row" onSubmit={(e) => { e.preventDefault(); void lookUp(); }}>
          <input aria-label="find user by id" placeholder="Find user by id" value={search} onChange={(e) => setSearch(e.target.value)} />
          <button type="submit" className="small" disabled={!search.trim()}>Find</button>
        </form>
        <AddMembers segment={segment} onChanged={onChanged} />
      </div>
      {found && ('error' in found ? <p className="error">{found.error}</p> : <p><Link to={`/users/${enc(found.id)}`}>{found.id}</Link> {found.member ? `is a member since ${fmtDate(found.since)}` : 'is not a member'}</p>)}
      <View state={page}>{({ members, nextCursor }) => (
        <>
          <div className="table-wrap">
            <table className="members-table">
              <thead><tr><th>User id</th><th>Anonymous id</th><th>Member since</th><th>How</th><th /></tr></thead>
              <tbody>
                {members.length === 0 && <tr><td colSpan={5} className="muted">No members.</td></tr>}
                {members.map((m) => (
                  <tr key={memberId(m)}>
                    <td>{m.userId ? <Link to={`/users/${enc(m.userId)}`}>{m.userId}</Link> : '—'}</td>
                    <td>{m.anonymousId ? <Link to={`/users/${enc(m.anonymousId)}`}>{m.anonymousId}</Link> : '—'}</td>
                    <td>{fmtDate(m.since)}</td>
                    <td>{m.manual ? <span className="badge manual" title="On the segment's include list: a member whatever the condition says">added by hand</span> : <span className="muted">condition</span>}</td>
                    <td><ActionButton className="link" confirm={`Remove ${memberId(m)} from ${segment.name}?`} onClick={async () => { await api('DELETE', `/api/segments/${enc(segment.id)}/members/${enc(memberId(m))}`); onChanged(); }}>Remove</ActionButton></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <CursorPager pages={pages} nextCursor={nextCursor} labels={['← Previous', 'Next →']} />
        </>
      )}</View>
    </div>
  );
}
