/** Webhooks: list, create form (the signing secret is shown once), delete, test message, secret rotation, delivery log. */
import { useState } from 'react';
import { api, enc } from '../api.ts';
import { Field, IssueText, type FieldsProps, type FormSpec } from '../form-card.tsx';
import { WEBHOOK_KINDS, emptyWebhook, webhookBody, webhookForm, type WebhookForm } from '../forms.ts';
import { SegmentNames, SegmentPicker } from '../segment-picker.tsx';
import { ActionButton, View, fmtDate, useLoad } from '../ui.tsx';
import { ResourcePage } from './resource.tsx';

interface Webhook { id: string; url: string; segmentIds: string[] | null; kinds: string[]; createdAt: string }
interface Delivery { id: string | number; kind: string; status: string; attempts: number; lastStatus: number | null; lastError: string | null; createdAt: string; deliveredAt: string | null; nextAttemptAt: string | null; payload?: unknown }

/** The delivery log of a webhook or a destination (`path`: its …/deliveries), newest first; `version` reloads it. */
export function Deliveries({ path, version = 0 }: { path: string; version?: number }) {
  const state = useLoad(() => api<{ deliveries: Delivery[]; nextCursor: string | null }>('GET', `${path}?limit=50`), [path, version]);
  return (
    <View state={state}>{(d) => d.deliveries.length === 0 ? <p className="muted">No deliveries yet.</p> : (
      <div className="table-wrap"><table className="deliveries">
        <thead><tr><th>Created</th><th>Kind</th><th>Status</th><th className="num">Attempts</th><th>Last answer</th><th>Next attempt</th><th>Payload</th></tr></thead>
        <tbody>{d.deliveries.map((x) => (
          <tr key={String(x.id)}>
            <td>{fmtDate(x.createdAt)}</td><td>{x.kind}</td>
            <td><span className={`badge ${x.status === 'delivered' ? 'ok' : x.status === 'failed' ? 'warn' : ''}`}>{x.status}</span></td>
            <td className="num">{x.attempts}</td><td>{x.lastStatus ?? ''} {x.lastError ?? ''}</td><td>{fmtDate(x.nextAttemptAt)}</td>
            <td><details className="event-json"><summary>Show</summary><pre className="json">{JSON.stringify(x.payload, null, 2)}</pre></details></td>
          </tr>
        ))}</tbody>
      </table></div>
    )}</View>
  );
}

/** A webhook's details: send a test message, rotate the secret (shown once), and the delivery log. */
function WebhookDetail({ hook }: { hook: Webhook }) {
  const [version, setVersion] = useState(0);
  const [note, setNote] = useState<string | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const path = `/api/webhooks/${enc(hook.id)}`;
  const sendTest = async () => {
    const d = await api<Delivery & { messageId: string }>('POST', `${path}/test`);
    setNote(`Test message ${d.messageId} queued: it is signed and sent like any other, after the messages before it.`);
    setVersion((v) => v + 1);
    // The dispatcher sends within about a second: show the outcome without a manual refresh.
    setTimeout(() => setVersion((v) => v + 1), 2500);
  };
  const rotate = async () => {
    setSecret((await api<{ secret: string }>('POST', `${path}/rotate-secret`)).secret);
  };
  return (
    <div className="webhook-detail">
      <div className="row">
        <ActionButton className="small" onClick={sendTest}>Send test event</ActionButton>
        <ActionButton className="small" confirm="Make a new signing secret? From now on every message is signed with it, so the receiver must switch to it at once." onClick={rotate}>Rotate secret</ActionButton>
        <button type="button" className="small" onClick={() => setVersion((v) => v + 1)}>Refresh log</button>
      </div>
      {note && <p className="ok-text" role="status">{note}</p>}
      {secret && <p className="notice" role="status">New signing secret (copy it now, it is not shown again): <code>{secret}</code></p>}
      <Deliveries path={`${path}/deliveries`} version={version} />
    </div>
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
      intro={<p className="muted">Strata POSTs segment entries and exits, signed the Standard Webhooks way. The signing secret is shown once, when the webhook is created; "Rotate secret" (under Details) makes a new one, shown once too.</p>}
      form={{ spec: webhookSpec, empty: emptyWebhook, noun: 'webhook' }}
      columns={[
        { label: 'URL', render: (w) => <code className="url">{w.url}</code> },
        { label: 'Segments', render: (w) => <SegmentNames ids={w.segmentIds} empty="all" /> },
        { label: 'Kinds', render: (w) => w.kinds.join(', ') },
        { label: '', render: (w, reload) => <ActionButton className="link danger" confirm={`Delete the webhook to ${w.url}?`} onClick={async () => { await api('DELETE', `/api/webhooks/${enc(w.id)}`); reload(); }}>Delete</ActionButton> },
      ]}
      detail={(w) => <WebhookDetail hook={w} />}
    />
  );
}
