/** The audit log: every admin change of the project, newest first, paged, filtered by resource type and id. */
import { useState } from 'react';
import { api, qs } from '../api.ts';
import { RESOURCE_TYPES, changeSummary, resourceLink, type AuditEntry } from '../audit-format.ts';
import { navigate } from '../router.ts';
import { CursorPager, Link, View, fmtDate, useCursorPages, useLoad } from '../ui.tsx';

const json = (v: unknown) => (v === null ? 'null' : JSON.stringify(v, null, 2));

function EntryRow({ e }: { e: AuditEntry }) {
  const link = resourceLink(e);
  return (
    <tr className="audit-row">
      <td><time dateTime={e.at}>{fmtDate(e.at)}</time></td>
      <td><span className="badge">{e.action}</span></td>
      <td><span className="muted">{e.resourceType}</span> {link ? <Link to={link}>{e.resourceId}</Link> : <code>{e.resourceId}</code>}</td>
      <td><code title="The first characters of the credential used">{e.credential}</code></td>
      <td>
        {changeSummary(e)}
        <details className="audit-json">
          <summary>Before / after</summary>
          <div className="grid">
            <div><h3>Before</h3><pre className="json">{json(e.before)}</pre></div>
            <div><h3>After</h3><pre className="json">{json(e.after)}</pre></div>
          </div>
        </details>
      </td>
    </tr>
  );
}

/** Reads the filters from the address (?resourceType=&resourceId=), so a filtered view can be linked to. */
function initialFilter(): { type: string; id: string } {
  const p = new URLSearchParams(location.search);
  return { type: p.get('resourceType') ?? '', id: p.get('resourceId') ?? '' };
}

export function AuditLog() {
  const [filter, setFilter] = useState(initialFilter);
  const [draft, setDraft] = useState(filter);
  const pages = useCursorPages();
  const { cursor, limit } = pages;
  const page = useLoad(
    () => api<{ entries: AuditEntry[]; nextCursor: string | null }>('GET', `/api/audit${qs({ limit, cursor, resourceType: filter.type, resourceId: filter.id.trim() })}`),
    [filter.type, filter.id, cursor, limit],
  );
  const apply = (next: { type: string; id: string }) => {
    setFilter(next);
    pages.reset();
    navigate(`/audit${qs({ resourceType: next.type, resourceId: next.id.trim() })}`, true);
  };
  return (
    <section>
      <h1>Audit log</h1>
      <p className="muted">Every change made through the admin API: who (the first characters of the token), what, and the resource before and after. Erased users appear only as a hash.</p>
      <form className="card row wrap" aria-label="audit filter" onSubmit={(e) => { e.preventDefault(); apply(draft); }}>
        <select aria-label="resource type" value={draft.type} onChange={(e) => { const next = { ...draft, type: e.target.value }; setDraft(next); apply(next); }}>
          <option value="">All resources</option>
          {RESOURCE_TYPES.map((t) => <option key={t} value={t}>{t}</option>)}
        </select>
        <input aria-label="resource id" placeholder="Resource id (a segment id, a user id, …)" value={draft.id} onChange={(e) => setDraft({ ...draft, id: e.target.value })} />
        <button type="submit" className="small">Filter</button>
        {(filter.type || filter.id) && <button type="button" className="small link" onClick={() => { const none = { type: '', id: '' }; setDraft(none); apply(none); }}>Clear</button>}
      </form>
      <View state={page}>{({ entries, nextCursor }) => (
        <div className="card">
          <div className="table-wrap">
            <table className="audit-table">
              <thead><tr><th>When</th><th>Action</th><th>Resource</th><th>Credential</th><th>Change</th></tr></thead>
              <tbody>
                {entries.length === 0 && <tr><td colSpan={5} className="muted">No changes recorded{filter.type || filter.id ? ' for this filter' : ''}.</td></tr>}
                {entries.map((e) => <EntryRow key={e.id} e={e} />)}
              </tbody>
            </table>
          </div>
          <CursorPager pages={pages} nextCursor={nextCursor} labels={['← Newer', 'Older →']} />
        </div>
      )}</View>
    </section>
  );
}
