/** Webhooks and their delivery log. */
import { api, enc } from '../api.ts';
import { ActionButton, View, fmtDate, useLoad } from '../ui.tsx';
import { ResourcePage } from './resource.tsx';

interface Webhook { id: string; url: string; segmentIds: string[] | null; kinds: string[]; createdAt: string }
interface Delivery { id: string | number; kind: string; status: string; attempts: number; lastStatus: number | null; lastError: string | null; createdAt: string; deliveredAt: string | null; nextAttemptAt: string | null }

function Deliveries({ id }: { id: string }) {
  const state = useLoad(() => api<{ deliveries: Delivery[]; nextCursor: string | null }>('GET', `/api/webhooks/${enc(id)}/deliveries?limit=50`), [id]);
  return (
    <View state={state}>{(d) => d.deliveries.length === 0 ? <p className="muted">No deliveries yet.</p> : (
      <div className="table-wrap"><table>
        <thead><tr><th>Created</th><th>Kind</th><th>Status</th><th className="num">Attempts</th><th>Last answer</th><th>Next attempt</th></tr></thead>
        <tbody>{d.deliveries.map((x) => <tr key={String(x.id)}><td>{fmtDate(x.createdAt)}</td><td>{x.kind}</td><td><span className={`badge ${x.status === 'delivered' ? 'ok' : x.status === 'failed' ? 'warn' : ''}`}>{x.status}</span></td><td className="num">{x.attempts}</td><td>{x.lastStatus ?? ''} {x.lastError ?? ''}</td><td>{fmtDate(x.nextAttemptAt)}</td></tr>)}</tbody>
      </table></div>
    )}</View>
  );
}

export function Webhooks() {
  return (
    <ResourcePage<Webhook> title="Webhooks" path="/api/webhooks" listKey="webhooks"
      intro={<p className="muted">Strata POSTs segment entries and exits, signed the Standard Webhooks way (the secret is shown once, in the create answer).</p>}
      example={{ url: 'https://example.com/strata-hook', kinds: ['segment.entered', 'segment.exited'] }}
      columns={[
        { label: 'URL', render: (w) => <code>{w.url}</code> },
        { label: 'Segments', render: (w) => (w.segmentIds ? w.segmentIds.join(', ') : 'all') },
        { label: 'Kinds', render: (w) => w.kinds.join(', ') },
        { label: '', render: (w, reload) => <ActionButton className="link danger" confirm={`Delete the webhook to ${w.url}?`} onClick={async () => { await api('DELETE', `/api/webhooks/${enc(w.id)}`); reload(); }}>Delete</ActionButton> },
      ]}
      detail={(w) => <Deliveries id={w.id} />}
    />
  );
}
