/** Webhooks: list, create form (the signing secret is shown once), delete, delivery log. */
import { api, enc } from '../api.ts';
import { Field, IssueText, type FieldsProps, type FormSpec } from '../form-card.tsx';
import { WEBHOOK_KINDS, emptyWebhook, webhookBody, webhookForm, type WebhookForm } from '../forms.ts';
import { SegmentNames, SegmentPicker } from '../segment-picker.tsx';
import { ActionButton, View, fmtDate, useLoad } from '../ui.tsx';
import { ResourcePage } from './resource.tsx';

interface Webhook { id: string; url: string; segmentIds: string[] | null; kinds: string[]; createdAt: string }
interface Delivery { id: string | number; kind: string; status: string; attempts: number; lastStatus: number | null; lastError: string | null; createdAt: string; deliveredAt: string | null; nextAttemptAt: string | null }

/** The delivery log of a webhook or a destination (`path`: its …/deliveries), newest first. */
export function Deliveries({ path }: { path: string }) {
  const state = useLoad(() => api<{ deliveries: Delivery[]; nextCursor: string | null }>('GET', `${path}?limit=50`), [path]);
  return (
    <View state={state}>{(d) => d.deliveries.length === 0 ? <p className="muted">No deliveries yet.</p> : (
      <div className="table-wrap"><table>
        <thead><tr><th>Created</th><th>Kind</th><th>Status</th><th className="num">Attempts</th><th>Last answer</th><th>Next attempt</th></tr></thead>
        <tbody>{d.deliveries.map((x) => <tr key={String(x.id)}><td>{fmtDate(x.createdAt)}</td><td>{x.kind}</td><td><span className={`badge ${x.status === 'delivered' ? 'ok' : x.status === 'failed' ? 'warn' : ''}`}>{x.status}</span></td><td className="num">{x.attempts}</td><td>{x.lastStatus ?? ''} {x.lastError ?? ''}</td><td>{fmtDate(x.nextAttemptAt)}</td></tr>)}</tbody>
      </table></div>
    )}</View>
  );
}

export function WebhookFields({ value: f, onChange, issues }: FieldsProps<WebhookForm>) {
  const set = (p: Partial<WebhookForm>) => onChange({ ...f, ...p });
  return (
    <>
      <Field label="URL" path="/url" issues={issues} hint="Strata POSTs each change here">{(id) => <input id={id} type="url" inputMode="url" value={f.url} placeholder="https://example.com/strata-hook" onChange={(e) => set({ url: e.target.value })} />}</Field>
      <fieldset className="form-section">
        <legend>Send</legend>
        {WEBHOOK_KINDS.map((k) => (
          <label key={k.kind} className="inline kind-box">
            <input type="checkbox" checked={f.kinds.includes(k.kind)} onChange={(e) => set({ kinds: e.target.checked ? [...f.kinds, k.kind] : f.kinds.filter((x) => x !== k.kind) })} />
            <span>{k.label} (<code>{k.kind}</code>)</span>
          </label>
        ))}
        <IssueText issues={issues} path="/kinds" deep />
      </fieldset>
      <Field label="Segments" path="/segmentIds" issues={issues} deep hint="changes of these segments only; none: every segment">{(id, invalid) => <SegmentPicker id={id} invalid={invalid} label="Segments" empty="all segments" value={f.segmentIds} onChange={(segmentIds) => set({ segmentIds })} />}</Field>
    </>
  );
}

const webhookSpec: FormSpec<WebhookForm> = { toBody: webhookBody, fromJson: webhookForm, Fields: WebhookFields };

export function Webhooks() {
  return (
    <ResourcePage<Webhook, WebhookForm> title="Webhooks" path="/api/webhooks" listKey="webhooks"
      intro={<p className="muted">Strata POSTs segment entries and exits, signed the Standard Webhooks way (the secret is shown once, in the create answer).</p>}
      form={{ spec: webhookSpec, empty: emptyWebhook, noun: 'webhook' }}
      columns={[
        { label: 'URL', render: (w) => <code className="url">{w.url}</code> },
        { label: 'Segments', render: (w) => <SegmentNames ids={w.segmentIds} empty="all" /> },
        { label: 'Kinds', render: (w) => w.kinds.join(', ') },
        { label: '', render: (w, reload) => <ActionButton className="link danger" confirm={`Delete the webhook to ${w.url}?`} onClick={async () => { await api('DELETE', `/api/webhooks/${enc(w.id)}`); reload(); }}>Delete</ActionButton> },
      ]}
      detail={(w) => <Deliveries path={`/api/webhooks/${enc(w.id)}/deliveries`} />}
    />
  );
}
