/** Settings → Keys: the project's admin tokens, write keys and server keys (docs/security.md). */
import { useState } from 'react';
import { api, token } from '../api.ts';
import { ActionButton, ErrorBox, View, useLoad } from '../ui.tsx';

export type KeyKind = 'admin' | 'write' | 'server';
export interface KeyDoc { id: string; kind: KeyKind; label: string; prefix: string; createdAt: string; rotatedAt: string | null; current?: boolean }

export const KIND_LABEL: Record<KeyKind, string> = { admin: 'Admin token', write: 'Write key', server: 'Server key' };
const KIND_HINT: Record<KeyKind, string> = {
  admin: 'the whole admin API and this back office',
  write: 'events and the public SDK API; public, it ships in your pages',
  server: 'a trusted back end: points adjustments and mission completion only',
};

const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '—');

/** The value of a key just made or rotated: shown once, with a copy button. */
function Shown({ made, onDone }: { made: KeyDoc & { value: string; verb: string }; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="notice" role="status" aria-label="New key value">
      <p>{KIND_LABEL[made.kind]} {made.label ? <strong>{made.label}</strong> : null} {made.verb}. Copy it now: it is not shown again.</p>
      <p><code data-testid="key-value" style={{ wordBreak: 'break-all' }}>{made.value}</code></p>
      <button type="button" className="small" onClick={async () => { await navigator.clipboard?.writeText(made.value).catch(() => undefined); setCopied(true); }}>{copied ? 'Copied' : 'Copy'}</button>
      {' '}<button type="button" className="small" onClick={onDone}>Done</button>
    </div>
  );
}

export function Keys() {
  const state = useLoad(() => api<{ keys: KeyDoc[] }>('GET', '/api/keys'), []);
  const [kind, setKind] = useState<KeyKind>('server');
  const [label, setLabel] = useState('');
  const [made, setMade] = useState<(KeyDoc & { value: string; verb: string }) | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const create = async () => {
    setError(null);
    try {
      const k = await api<KeyDoc & { value: string }>('POST', '/api/keys', { kind, label });
      setMade({ ...k, verb: 'created' });
      setLabel('');
      state.reload();
    } catch (e) {
      setError(e as Error);
    }
  };
  return (
    <div className="card">
      <h2>Keys</h2>
      <p className="muted">Each key is shown once, when it is created or rotated; Strata keeps only its hash and its first characters. Revoking or rotating takes effect at once.</p>
      {made && <Shown made={made} onDone={() => setMade(null)} />}
      <View state={state}>{(d) => (
        <div className="table-wrap"><table className="keys-table">
          <thead><tr><th>Kind</th><th>Label</th><th>Key</th><th>Created</th><th>Last rotated</th><th /></tr></thead>
          <tbody>
            {d.keys.map((k) => (
              <tr key={k.id} data-key-id={k.id}>
                <td>{KIND_LABEL[k.kind]}</td>
                <td>{k.label || <span className="muted">(no label)</span>}{k.current && <span className="muted"> (this session)</span>}</td>
                <td><code>{k.prefix}</code></td>
                <td>{when(k.createdAt)}</td>
                <td>{when(k.rotatedAt)}</td>
                <td>
                  <ActionButton className="small" confirm={`Rotate ${KIND_LABEL[k.kind].toLowerCase()} ${k.prefix}? The current value stops working at once.`}
                    onClick={async () => {
                      const r = await api<KeyDoc & { value: string }>('POST', `/api/keys/${k.id}/rotate`);
                      // The token this session signed in with: it goes on with the new value.
                      if (k.current) token.set(r.value);
                      setMade({ ...r, verb: k.current ? 'rotated (this session now uses the new value)' : 'rotated' });
                      state.reload();
                    }}>Rotate</ActionButton>
                  <ActionButton className="small danger" confirm={`Revoke ${KIND_LABEL[k.kind].toLowerCase()} ${k.prefix}? Whatever uses it stops working at once.${k.current ? ' This session uses it: you will be signed out.' : ''}`}
                    onClick={async () => { await api('DELETE', `/api/keys/${k.id}`); state.reload(); }}>Revoke</ActionButton>
                </td>
              </tr>
            ))}
          </tbody>
        </table></div>
      )}</View>
      <form className="row" onSubmit={(e) => { e.preventDefault(); void create(); }}>
        <label>Kind
          <select value={kind} onChange={(e) => setKind(e.target.value as KeyKind)}>
            {(['admin', 'write', 'server'] as const).map((k) => <option key={k} value={k}>{KIND_LABEL[k]}</option>)}
          </select>
        </label>
        <label>Label<input value={label} maxLength={100} placeholder="What it is for" onChange={(e) => setLabel(e.target.value)} /></label>
        <button type="submit">Create key</button>
      </form>
      <p className="muted">{KIND_LABEL[kind]}: {KIND_HINT[kind]}.</p>
      <ErrorBox error={error} />
    </div>
  );
}
