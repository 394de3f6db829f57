/** Destinations (outbound sync): list with sync progress, create/edit form, resync, delivery log. */
import { api, enc } from '../api.ts';
import { Field, type FieldsProps, type FormSpec } from '../form-card.tsx';
import { DESTINATION_KINDS, destinationBody, destinationForm, emptyDestination, type DestinationForm } from '../forms.ts';
import { SegmentNames, SegmentPicker } from '../segment-picker.tsx';
import { ActionButton, fmtDate } from '../ui.tsx';
import { ResourcePage } from './resource.tsx';
import { Deliveries } from './webhooks.tsx';

interface Destination {
  id: string; name: string; kind: string; url: string; segmentIds: string[] | null; batchSize: number;
  sync: { status: 'running' | 'done'; enqueued: number; startedAt: string; finishedAt: string | null } | null;
}

function DestinationFields({ value: f, onChange, issues }: FieldsProps<DestinationForm>) {
  const set = (p: Partial<DestinationForm>) => onChange({ ...f, ...p });
  return (
    <>
      <div className="form-grid">
        <Field label="Name" path="/name" issues={issues}>{(id) => <input id={id} value={f.name} maxLength={200} onChange={(e) => set({ name: e.target.value })} />}</Field>
        <Field label="Kind" path="/kind" issues={issues} hint={f.saved ? 'cannot be changed' : undefined}>{(id) => (
          <select id={id} value={f.kind} disabled={f.saved} onChange={(e) => set({ kind: e.target.value })}>
            {DESTINATION_KINDS.map((k) => <option key={k.kind} value={k.kind}>{k.label}</option>)}
          </select>
        )}</Field>
        <Field label="URL" path="/url" issues={issues} hint={f.kind === 'segment' ? 'the API base (e.g. https://api.segment.io) or its /v1/batch' : 'batches of changes are POSTed here'}>{(id) => <input id={id} type="url" inputMode="url" value={f.url} placeholder={f.kind === 'segment' ? 'https://api.segment.io' : 'https://crm.example.com/strata'} onChange={(e) => set({ url: e.target.value })} />}</Field>
        {f.kind === 'segment' && <Field label="Write key" path="/writeKey" issues={issues} hint={f.saved ? 'blank: keep the saved one' : 'of the receiving source'}>{(id) => <input id={id} value={f.writeKey} autoComplete="off" onChange={(e) => set({ writeKey: e.target.value })} />}</Field>}
        <Field label="Batch size" path="/batchSize" issues={issues} hint="changes per request, 1–1000">{(id) => <input id={id} type="number" inputMode="numeric" min={1} max={1000} step={1} value={f.batchSize} onChange={(e) => set({ batchSize: e.target.value })} />}</Field>
      </div>
      <Field label="Segments" path="/segmentIds" issues={issues} deep hint="keep these segments in step; none: every segment">{(id, invalid) => <SegmentPicker id={id} invalid={invalid} label="Segments" empty="all segments" value={f.segmentIds} onChange={(segmentIds) => set({ segmentIds })} />}</Field>
    </>
  );
}

// The JSON view does not carry whether the destination is saved (Edit): the form keeps it.
const destinationSpec: FormSpec<DestinationForm> = { toBody: destinationBody, fromJson: (v, prev) => ({ ...destinationForm(v), saved: prev.saved }), Fields: DestinationFields };

function SyncState({ d }: { d: Destination }) {
  if (!d.sync) return <span className="muted">—</span>;
  return d.sync.status === 'running'
    ? <span className="badge" title={`started ${fmtDate(d.sync.startedAt)}`}>syncing: {d.sync.enqueued.toLocaleString()} sent</span>
    : <span className="badge ok" title={`finished ${fmtDate(d.sync.finishedAt)}`}>synced {d.sync.enqueued.toLocaleString()}</span>;
}

export function Destinations() {
  return (
    <ResourcePage<Destination, DestinationForm> title="Destinations" path="/api/destinations" listKey="destinations"
      intro={<p className="muted">Keep a CRM or any Segment-compatible tool in step with segment membership: the current members are sent first (in the background), then every entry and exit, in order, with retries.</p>}
      form={{ spec: destinationSpec, empty: emptyDestination, edit: (d) => ({ ...destinationForm(d as never), saved: true }), noun: 'destination' }}
      columns={[
        { label: 'Name', render: (d) => d.name },
        { label: 'Kind', render: (d) => d.kind },
        { label: 'URL', render: (d) => <code className="url">{d.url}</code> },
        { label: 'Segments', render: (d) => <SegmentNames ids={d.segmentIds} empty="all" /> },
        { label: 'First sync', render: (d) => <SyncState d={d} /> },
        { label: '', render: (d, reload) => (
          <span className="row">
            <ActionButton className="small" onClick={async () => { await api('POST', `/api/destinations/${enc(d.id)}/resync`); reload(); }}>Resync</ActionButton>
            <ActionButton className="link danger" confirm={`Delete the destination ${d.name}? Its pending messages go with it.`} onClick={async () => { await api('DELETE', `/api/destinations/${enc(d.id)}`); reload(); }}>Delete</ActionButton>
          </span>
        ) },
      ]}
      detail={(d) => <Deliveries path={`/api/destinations/${enc(d.id)}/deliveries`} />}
    />
  );
}
