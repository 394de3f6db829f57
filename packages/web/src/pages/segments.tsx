/** Segments: list, create/edit (template gallery or builder, live preview), detail. */
import { Suspense, lazy, useEffect, useRef, useState, type ReactNode } from 'react';
import { api, apiDownload, enc, qs, ApiError } from '../api.ts';
import { ConditionEditor } from '../builder.tsx';
import { experimentOf, nameConflictMessage, sinceCreated, templateBadge, warningBadges } from '../labels.ts';
import { ParamsForm, paramFault } from '../params-form.tsx';
import { navigate } from '../router.ts';
import { useSegments } from '../segment-picker.tsx';
import type { HistoryItem, Insights, Json, Member, PreviewResult, Segment, Template, Warning } from '../types.ts';
import { InsightsTab } from './insights.tsx';
import { Members } from './segment-members.tsx';
import { ActionButton, ErrorBox, Link, Sparkline, Spinner, View, fmtDate, pct, useDebounced, useLoad } from '../ui.tsx';

/** Every segment's warnings now (one scan of membership on the server). */
const loadWarnings = async () => new Map((await api<{ segments: { id: string; warnings: Warning[] }[] }>('GET', '/api/segments/warnings')).segments.map((s) => [s.id, s.warnings]));


const memberId = (m: { userId: string | null; anonymousId: string | null }) => m.userId ?? m.anonymousId ?? '';

/** A cell filled by a second, slower request than the list's: a placeholder while it loads, "n/a" when it failed. */
function Later<T>({ state, children }: { state: { data: T | null; loading: boolean; error: Error | null }; children: (data: T) => ReactNode }) {
  if (state.loading && !state.data) return <span className="muted">…</span>;
  if (!state.data) return <span className="muted" title={state.error?.message}>n/a</span>;
  return <>{children(state.data)}</>;
}

export function WarningList({ warnings, segments }: { warnings: readonly Warning[]; segments?: readonly { id: string; name: string }[] }) {
  // The segments a warning names are links by name: from the caller's list, else the shared one.
  const shared = useSegments().segments;
  if (!warnings.length) return null;
  const name = (id: string) => (segments ?? shared)?.find((s) => s.id === id)?.name ?? id;
  return (
    <ul className="warnings" aria-label="warnings">
      {warnings.map((w, i) => (
        <li key={i} className={`warning warning-${w.code.toLowerCase()}`}>
          <span className="badge warn">{w.code}</span> {w.message}
          {w.segmentIds.length > 0 && <> — {w.segmentIds.map((id, k) => <span key={id}>{k > 0 && ', '}<Link to={`/segments/${enc(id)}`}>{name(id)}</Link></span>)}</>}
          {w.paths && w.paths.length > 0 && <> at {w.paths.map((p) => <code key={p}>{p}</code>)}</>}
        </li>
      ))}
    </ul>
  );
}

export function SegmentsList() {
  const state = useLoad(() => api<{ segments: Segment[] }>('GET', '/api/segments'), []);
  // Sparklines (one read of the daily counts) and warnings (one scan of membership) load after the list.
  const sparks = useLoad(async () => {
    const r = await api<{ dates: string[]; segments: { id: string; sizes: number[] }[] }>('GET', '/api/segments/sizes?days=30');
    return new Map(r.segments.map((s) => [s.id, { dates: r.dates, sizes: s.sizes }]));
  }, []);
  const warnings = useLoad(loadWarnings, []);
  const templateNames = useTemplateNames();
  return (
    <section>
      <div className="page-head">
        <h1>Segments</h1>
        <button type="button" className="primary" onClick={() => navigate('/segments/new')}>Create Segment</button>
      </div>
      <View state={state}>{({ segments }) => segments.length === 0
        ? <p className="empty">No segments yet. Create one from a template or from scratch.</p>
        : (
          <div className="table-wrap">
            <table className="segments-table">
              <thead><tr><th>Name</th><th className="num">Size</th><th>Last 30 days</th><th>Template</th><th>Warnings</th></tr></thead>
              <tbody>
                {segments.map((s) => (
                  <tr key={s.id}>
                    <td><Link to={`/segments/${enc(s.id)}`}>{s.name}</Link>{s.description && <div className="muted small-text">{s.description}</div>}</td>
                    <td className="num" data-testid="segment-size">{s.size.toLocaleString()}</td>
                    <td><Later state={sparks}>{(m) => { const p = m.get(s.id); return p ? <Sparkline values={sinceCreated(p.dates, p.sizes, s.createdAt)} /> : null; }}</Later></td>
                    <td>{s.template ? <TemplateBadge segment={s} names={templateNames} /> : s.condition === null ? <span className="badge muted-badge">static list</span> : null}</td>
                    <td data-testid="segment-warnings"><Later state={warnings}>{(m) => <>{warningBadges(m.get(s.id) ?? [], (id) => segments.find((x) => x.id === id)?.name ?? id).map((b) => <span key={`${b.code}-${b.segmentId}`} className="badge warn" title={b.title}>{b.label}</span>)}</>}</Later></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </View>
    </section>
  );
}

/** Template names by id (GET /api/templates), for badges; empty until loaded (badges show the id meanwhile). */
function useTemplateNames(): ReadonlyMap<string, string> {
  const t = useLoad(() => api<{ templates: Template[] }>('GET', '/api/templates'), []);
  return new Map((t.data?.templates ?? []).map((x) => [x.id, x.name]));
}

/** A segment's template as a badge: the template's name, or "experiment arm <key>" linking to the experiments. */
function TemplateBadge({ segment, names }: { segment: Pick<Segment, 'template' | 'params'>; names: ReadonlyMap<string, string> }) {
  const b = templateBadge(segment.template, segment.params, names);
  if (!b) return null;
  return b.to ? <Link to={b.to} className="badge">{b.label}</Link> : <span className="badge">{b.label}</span>;
}

/** Live preview of a condition: count, share, sample with reasons, warnings. */
function Preview({ condition, onWarnings, onIssuePaths, segments }: { condition: Json | null; onWarnings: (w: Warning[]) => void; onIssuePaths: (paths: string[]) => void; segments: readonly { id: string; name: string }[] }) {
  const debounced = useDebounced(condition, 400);
  const key = JSON.stringify(debounced);
  const [state, setState] = useState<{ loading: boolean; data: PreviewResult | null; error: Error | null }>({ loading: false, data: null, error: null });
  useEffect(() => {
    if (debounced === null) return;
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    api<PreviewResult>('POST', '/api/segments/preview', { condition: debounced }).then(
      (data) => { if (live) { setState({ loading: false, data, error: null }); onWarnings(data.warnings); } },
      (error: Error) => {
        if (!live) return;
        setState({ loading: false, data: null, error });
        onWarnings([]);
        // A 400 names the faulty parts of the condition: highlight them like a contradiction.
        if (error instanceof ApiError) onIssuePaths(error.issues.map((i) => i.path.replace(/^\/condition/, '')));
      },
    );
    return () => { live = false; };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  const d = state.data;
  return (
    <aside className="preview card" aria-label="preview" aria-busy={state.loading}>
      <h2>Preview {state.loading && <span className="spinner" aria-hidden="true" />}</h2>
      {state.error && <ErrorBox error={state.error} />}
      {!d && !state.error && <Spinner label="Counting…" />}
      {d && (
        <>
          <p className="big"><span data-testid="preview-count">{d.count.toLocaleString()}</span> <span className="muted">of {d.total.toLocaleString()} users ({pct(d.count, d.total)})</span></p>
          <WarningList warnings={d.warnings} segments={segments} />
          {d.sample.length > 0 && <h3>Sample members</h3>}
          <ul className="sample">
            {d.sample.map((m) => (
              <li key={memberId(m)}>
                <Link to={`/users/${enc(memberId(m))}`}>{memberId(m)}</Link>
                {m.why.length > 0 && <ul className="why">{m.why.map((w, i) => <li key={i}>{w}</li>)}</ul>}
              </li>
            ))}
          </ul>
        </>
      )}
    </aside>
  );
}

function TemplateGallery({ templates, selected, onSelect }: { templates: readonly Template[]; selected: string | null; onSelect: (t: Template) => void }) {
  const sorted = [...templates].sort((a, b) => Number(b.recommended) - Number(a.recommended));
  return (
    <div className="gallery" role="listbox" aria-label="templates">
      {sorted.map((t) => (
        <button type="button" key={t.id} role="option" aria-selected={selected === t.id} className={`template-card${selected === t.id ? ' selected' : ''}`} onClick={() => onSelect(t)} data-template={t.id}>
          <strong>{t.recommended && <span className="star" title="Recommended">★ </span>}{t.name}</strong>
          <span className="badge">{t.category}</span>
          <span className="muted small-text">{t.description}</span>
        </button>
      ))}
    </div>
  );
}

export function SegmentEditor({ id }: { id?: string }) {
  const editing = id !== undefined;
  const existing = useLoad(() => (editing ? api<Segment>('GET', `/api/segments/${enc(id)}`) : Promise.resolve(null)), [id]);
  const templates = useLoad(() => (editing ? Promise.resolve({ templates: [] as Template[] }) : api<{ templates: Template[] }>('GET', '/api/templates')), [editing]);
  const all = useLoad(() => api<{ segments: Segment[] }>('GET', '/api/segments'), []);
  const [mode, setMode] = useState<'template' | 'original'>(editing ? 'original' : 'template');
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [template, setTemplate] = useState<Template | null>(null);
  const [params, setParams] = useState<Record<string, Json>>({});
  const [condition, setCondition] = useState<Json>({ all: [{ event: '$pageview', window: { within: '30d' } }] });
  const [highlights, setHighlights] = useState<string[]>([]);
  // A static list (condition null): members only by hand, from the segment's page.
  const [isStatic, setIsStatic] = useState(false);
  const [saveError, setSaveError] = useState<Error | null>(null);
  // A 409 on save is a name already taken: said at the Name field, which is scrolled to.
  const [nameFault, setNameFault] = useState<string | null>(null);
  const nameRef = useRef<HTMLInputElement>(null);
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    const s = existing.data;
    if (!s) return;
    setName(s.name);
    setDescription(s.description);
    if (s.condition !== null) setCondition(s.condition);
    setIsStatic(s.condition === null);
  }, [existing.data]);

  // The template's condition with the chosen params, built in the browser by @strata/core (the
  // same code the server runs), so the preview shows what saving will make.
  // Loaded on demand: core (with its SQL compiler) is a large chunk the other pages do not need.
  const [built, setBuilt] = useState<Json | null>(null);
  useEffect(() => {
    let live = true;
    if (!template) { setBuilt(null); return; }
    void import('@strata/core').then(({ buildTemplate }) => {
      const r = buildTemplate(template.id, params, Date.now());
      if (live) setBuilt(r.ok ? r.value.condition as Json : null);
    }, () => { if (live) setBuilt(template.condition); });
    return () => { live = false; };
  }, [template, params]);
  const faults = template ? template.params.map((p) => paramFault(p, params[p.name])).filter(Boolean) : [];
  const previewCondition = mode === 'template' ? built : isStatic ? null : condition;
  const others = (all.data?.segments ?? []).filter((s) => s.id !== id).map((s) => ({ id: s.id, name: s.name }));

  const save = async () => {
    setSaving(true);
    setSaveError(null);
    setNameFault(null);
    try {
      let s: Segment;
      if (editing) s = await api<Segment>('PATCH', `/api/segments/${enc(id)}`, { name, description, condition: isStatic ? null : condition });
      else if (mode === 'template') {
        if (!template) throw new Error('Choose a template first.');
        s = await api<Segment>('POST', '/api/segments', { template: template.id, params, ...(name.trim() ? { name: name.trim() } : {}), ...(description ? { description } : {}) });
      } else s = await api<Segment>('POST', '/api/segments', { name: name.trim(), description, condition: isStatic ? null : condition });
      navigate(`/segments/${enc(s.id)}`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        setNameFault(nameConflictMessage(mode === 'template' && !editing));
        nameRef.current?.scrollIntoView({ block: 'center' });
        nameRef.current?.focus();
        return;
      }
      setSaveError(e as Error);
      if (e instanceof ApiError) setHighlights(e.issues.map((i) => i.path.replace(/^\/condition/, '')));
    } finally {
      setSaving(false);
    }
  };

  if (editing && existing.loading && !existing.data) return <Spinner />;
  if (editing && !existing.data) return <ErrorBox error={existing.error} onRetry={existing.reload} />;
  return (
    <section>
      <div className="page-head">
        <h1>{editing ? `Edit ${existing.data?.name}` : 'Create segment'}</h1>
      </div>
      <div className="editor-layout">
        <div className="editor-main">
          <div className="card">
            <div className={`field name-field${nameFault ? ' invalid' : ''}`}>
              <label htmlFor="segment-name">Name</label>
              <input id="segment-name" ref={nameRef} name="name" value={name} aria-invalid={nameFault !== null} aria-describedby={nameFault ? 'segment-name-fault' : undefined} placeholder={mode === 'template' && template ? template.name : 'e.g. Pricing page regulars'} onChange={(e) => { setName(e.target.value); setNameFault(null); }} />
              {nameFault && <span id="segment-name-fault" className="field-error" role="alert">{nameFault}</span>}
            </div>
            <label>Description<input name="description" value={description} onChange={(e) => setDescription(e.target.value)} /></label>
          </div>
          {!editing && (
            <div className="tabs" role="tablist">
              <button type="button" role="tab" aria-selected={mode === 'template'} className={mode === 'template' ? 'active' : ''} onClick={() => setMode('template')}>From a template</button>
              <button type="button" role="tab" aria-selected={mode === 'original'} className={mode === 'original' ? 'active' : ''} onClick={() => setMode('original')}>Original segment</button>
            </div>
          )}
          {mode === 'template' && !editing && (
            <View state={templates}>{({ templates: list }) => (
              <>
                <TemplateGallery templates={list} selected={template?.id ?? null} onSelect={(t) => { setTemplate(t); setParams(Object.fromEntries(t.params.map((p) => [p.name, p.default]))); }} />
                {template && (
                  <div className="card">
                    <h2>{template.name}</h2>
                    <p className="muted">{template.suggestedUse}</p>
                    <ParamsForm params={template.params} values={params} onChange={setParams} />
                    <button type="button" className="small" onClick={() => { if (built) { setCondition(built); setMode('original'); } }}>Customise in the builder</button>
                  </div>
                )}
              </>
            )}</View>
          )}
          {mode === 'original' && (
            <label className="inline static-toggle"><input type="checkbox" checked={isStatic} onChange={(e) => setIsStatic(e.target.checked)} /> Static list (no condition: add members by id on the segment's page)</label>
          )}
          {mode === 'original' && !isStatic && (
            <div className="card">
              <ConditionEditor value={condition} onChange={(c) => { setCondition(c); setHighlights([]); }} highlights={highlights} segments={others} />
            </div>
          )}
          <ErrorBox error={saveError} />
          <div className="row">
            <button type="button" className="primary" disabled={saving || (mode === 'template' && !editing && (!template || faults.length > 0)) || (mode === 'original' && !name.trim())} onClick={save}>{saving ? 'Saving…' : editing ? 'Save changes' : 'Save segment'}</button>
            <button type="button" onClick={() => history.back()}>Cancel</button>
          </div>
        </div>
        {previewCondition !== null
          ? <Preview condition={previewCondition} segments={others} onWarnings={(w) => setHighlights(w.flatMap((x) => x.paths ?? []))} onIssuePaths={setHighlights} />
          : <aside className="preview card"><h2>Preview</h2><p className="muted">{mode === 'template' ? 'Choose a template (and valid parameters) to see who matches.' : isStatic ? 'A static list has the members added by hand.' : 'Build a condition.'}</p></aside>}
      </div>
    </section>
  );
}

function Overlap({ segment }: { segment: Segment }) {
  const all = useLoad(() => api<{ segments: Segment[] }>('GET', '/api/segments'), []);
  const others = (all.data?.segments ?? []).filter((s) => s.id !== segment.id).slice(0, 49);
  const result = useLoad(async () => {
    if (!others.length) return null;
    return api<{ pairs: { a: string; b: string; intersection: number; jaccard: number }[]; segments: { id: string; name: string; size: number }[] }>('POST', '/api/segments/overlap', { ids: [segment.id, ...others.map((s) => s.id)] });
  }, [segment.id, others.map((s) => s.id).join(), segment.size]);
  const rows = (result.data?.pairs ?? []).filter((p) => p.a === segment.id || p.b === segment.id)
    .map((p) => { const other = p.a === segment.id ? p.b : p.a; return { ...p, other, name: result.data!.segments.find((s) => s.id === other)?.name ?? other, size: result.data!.segments.find((s) => s.id === other)?.size ?? 0 }; })
    .sort((a, b) => b.jaccard - a.jaccard);
  return (
    <div className="card">
      <h2>Overlap with other segments</h2>
      {all.loading || result.loading ? <Spinner /> : <ErrorBox error={all.error ?? result.error} />}
      {!others.length && !all.loading && <p className="muted">No other segment.</p>}
      {rows.length > 0 && (
        <div className="table-wrap"><table>
          <thead><tr><th>Segment</th><th className="num">Size</th><th className="num">Shared</th><th className="num">% of this</th><th className="num">Jaccard</th></tr></thead>
          <tbody>{rows.map((r) => <tr key={r.other}><td><Link to={`/segments/${enc(r.other)}`}>{r.name}</Link></td><td className="num">{r.size}</td><td className="num">{r.intersection}</td><td className="num">{pct(r.intersection, segment.size)}</td><td className="num">{r.jaccard.toFixed(2)}</td></tr>)}</tbody>
        </table></div>
      )}
    </div>
  );
}

/** Entries and exits, newest first: of a segment (each names the user) or of a user (each names the segment). */
export function HistoryList({ url, of }: { url: string; of: 'segment' | 'user' }) {
  const [items, setItems] = useState<HistoryItem[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const page = useLoad(() => api<{ history: HistoryItem[]; nextCursor: string | null }>('GET', `${url}${qs({ limit: 50, cursor })}`), [url, cursor]);
  useEffect(() => {
    if (!page.data) return;
    setItems((old) => (cursor === null ? page.data!.history : [...old, ...page.data!.history]));
    setNext(page.data.nextCursor);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [page.data]);
  return (
    <div>
      {page.loading && !items.length ? <Spinner /> : <ErrorBox error={page.error} onRetry={page.reload} />}
      {!page.loading && items.length === 0 && !page.error && <p className="muted">No entries or exits yet.</p>}
      <ul className="history">
        {items.map((h, i) => (
          <li key={i}><span className={`badge ${h.kind === 'entered' ? 'ok' : 'warn'}`}>{h.kind}</span> {fmtDate(h.at)} · {of === 'segment' && (h.userId || h.anonymousId) ? <Link to={`/users/${enc((h.userId ?? h.anonymousId)!)}`}>{h.userId ?? h.anonymousId}</Link> : <Link to={`/segments/${enc(h.segmentId)}`}>{h.segmentName ?? h.segmentId}</Link>} <span className="muted">({h.reason})</span></li>
        ))}
      </ul>
      {next && <button type="button" className="small" onClick={() => setCursor(next)}>Load more</button>}
    </div>
  );
}

export function SegmentDetail({ id }: { id: string }) {
  const seg = useLoad(() => api<Segment>('GET', `/api/segments/${enc(id)}`), [id]);
  const warnings = useLoad(loadWarnings, [id, seg.data?.size]);
  const templateNames = useTemplateNames();
  const [tab, setTab] = useState<'members' | 'insights' | 'overlap' | 'history' | 'definition'>('members');
  // A refused delete (409: a mission, reward, experience, experiment or segment still uses it) is
  // shown under the header, not inside it, so the header keeps its layout.
  const [deleteError, setDeleteError] = useState<Error | null>(null);
  const [deleting, setDeleting] = useState(false);
  const remove = async (s: Segment) => {
    if (!window.confirm(`Delete segment ${s.name}?`)) return;
    setDeleting(true);
    setDeleteError(null);
    try {
      await api('DELETE', `/api/segments/${enc(s.id)}`);
      navigate('/segments');
    } catch (e) {
      setDeleteError(e as Error);
    } finally {
      setDeleting(false);
    }
  };
  return (
    <View state={seg}>{(s) => (
      <section>
        <div className="page-head">
          <div>
            <p className="crumbs"><Link to="/segments">Segments</Link> /</p>
            <h1>{s.name} <TemplateBadge segment={s} names={templateNames} /></h1>
            {s.description && <p className="muted">{s.description}</p>}
          </div>
          <div className="row">
            <span className="big" data-testid="segment-size">{s.size.toLocaleString()} <span className="muted">members</span></span>
            <button type="button" onClick={() => navigate(`/segments/${enc(s.id)}/edit`)}>Edit</button>
            <button type="button" className="danger" disabled={deleting} onClick={() => void remove(s)}>{deleting ? '…' : 'Delete'}</button>
          </div>
        </div>
        {deleteError && (
          <div className="error-box delete-error" role="alert">
            <strong>{deleteError instanceof ApiError && deleteError.status === 409 ? `“${s.name}” cannot be deleted: ` : 'Delete failed: '}</strong>{deleteError.message}
            <button type="button" className="link" aria-label="dismiss" onClick={() => setDeleteError(null)}>✕</button>
          </div>
        )}
        <WarningList warnings={warnings.data?.get(id) ?? []} />
        <div className="tabs" role="tablist">
          {(['members', 'insights', 'overlap', 'history', 'definition'] as const).map((t) => <button type="button" role="tab" key={t} aria-selected={tab === t} className={tab === t ? 'active' : ''} onClick={() => setTab(t)}>{t[0]!.toUpperCase() + t.slice(1)}</button>)}
        </div>
        {tab === 'members' && <Members segment={s} onChanged={seg.reload} />}
        {tab === 'insights' && <InsightsTab segment={s} />}
        {tab === 'overlap' && <Overlap segment={s} />}
        {tab === 'history' && <div className="card"><h2>History</h2><HistoryList of="segment" url={`/api/segments/${enc(s.id)}/history`} /></div>}
        {tab === 'definition' && (
          <div className="card">
            <h2>Definition</h2>
            {experimentOf(s.template) !== null
              ? <p>Arm <code>{String(s.params?.arm ?? '')}</code> of an experiment: <Link to="/experiments">see it in Experiments</Link> (the arm's segment is managed by the experiment).</p>
              : s.template && <p>From template <TemplateBadge segment={s} names={templateNames} /> with <code>{JSON.stringify(s.params)}</code></p>}
            <pre className="json">{JSON.stringify(s.condition, null, 2)}</pre>
            <p>Included by hand: {s.include.length ? s.include.join(', ') : '—'} · Excluded: {s.exclude.length ? s.exclude.join(', ') : '—'}</p>
          </div>
        )}
      </section>
    )}</View>
  );
}
