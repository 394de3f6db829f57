/**
 * Import (POST /api/imports, docs/import.md): choose a CSV or NDJSON file, the kind and its
 * options, upload it with XMLHttpRequest (upload progress), follow the job (rows, ok, bad) and
 * read the report (the first 1000 bad rows inline; all of them as a CSV download from
 * GET /api/imports/:id/bad-rows?format=csv). A dry run comes first; "Import for real" sends the same file again.
 */
import { useEffect, useRef, useState } from 'react';
// The wording strata import prints too; this entry point alone keeps the rest of core out of the bundle.
import { describeChanges, type ImportChangeCounts } from '@strata/core/import-changes';
import { api, apiDownload, enc, qs, upload, ApiError } from '../api.ts';
import type { Segment } from '../types.ts';
import { ActionButton, ErrorBox, Spinner, View, fmtDate, useLoad } from '../ui.tsx';

export type ImportKind = 'users' | 'events' | 'segment';
type Format = 'csv' | 'ndjson';
const COLUMN_TYPES = ['auto', 'string', 'number', 'boolean', 'date', 'json'] as const;

export interface ImportJob {
  id: string;
  kind: ImportKind;
  status: 'queued' | 'running' | 'done' | 'failed';
  dryRun: boolean;
  rows: number;
  ok: number;
  bad: number;
  badRows: { line: number; reason: string }[];
  badRowsOmitted: number;
  summary: Record<string, unknown>;
  /** What the import did, or (dry run) would do, counted as the real run counts. */
  changes: ImportChangeCounts;
  error: string | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

export interface ImportOptions {
  kind: ImportKind;
  format: Format;
  userIdColumn: string;
  labelsColumn: string;
  types: Record<string, string>;
  segmentMode: 'name' | 'id';
  segmentName: string;
  segmentId: string;
}

/** The format of a file from its name (then its type); null when neither says. */
export function formatOf(name: string, type = ''): Format | null {
  if (/\.(csv|tsv|txt)$/i.test(name) || /csv/i.test(type)) return 'csv';
  if (/\.(ndjson|jsonl|json)$/i.test(name) || /ndjson|jsonl|json/i.test(type)) return 'ndjson';
  return null;
}

/** The query string of POST /api/imports for these options (only what applies to the kind). */
export function importQuery(o: ImportOptions, dryRun: boolean): string {
  const types = Object.entries(o.types).filter(([, t]) => t && t !== 'auto').map(([c, t]) => `${c}:${t}`).join(',');
  return qs({
    kind: o.kind,
    format: o.format,
    dryRun: dryRun ? 'true' : undefined,
    userIdColumn: o.kind !== 'events' ? o.userIdColumn.trim() : undefined,
    labelsColumn: o.kind === 'users' ? o.labelsColumn.trim() : undefined,
    types: o.kind !== 'segment' && o.format === 'csv' ? types : undefined,
    segmentName: o.kind === 'segment' && o.segmentMode === 'name' ? o.segmentName.trim() : undefined,
    segmentId: o.kind === 'segment' && o.segmentMode === 'id' ? o.segmentId : undefined,
  });
}

/** The header cells of a CSV's first line (a simple split that honours quotes). */
export function csvHeader(firstLine: string): string[] {
  const out: string[] = [];
  let cur = '', q = false;
  const s = firstLine.replace(/^\uFEFF/, '').replace(/\r$/, '');
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q) {
      if (c === '"' && s[i + 1] === '"') { cur += '"'; i++; } else if (c === '"') q = false; else cur += c;
    } else if (c === '"') q = true;
    else if (c === ',') { out.push(cur.trim()); cur = ''; } else cur += c;
  }
  out.push(cur.trim());
  return out.filter((c) => c !== '');
}

/** Counts the lines of a file as a stream (for the job's progress: rows read of about how many). */
async function countLines(file: Blob): Promise<number> {
  const reader = file.stream().getReader();
  let n = 0, last = 10;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    for (let i = 0; i < value.length; i++) if (value[i] === 10) n++;
    if (value.length) last = value[value.length - 1]!;
  }
  return last === 10 ? n : n + 1;
}

function Bar({ label, value, max, text }: { label: string; value: number; max: number | null; text: string }) {
  const pctv = max ? Math.min(100, Math.round((value / max) * 100)) : null;
  return (
    <div className="progress-block">
      <div className="row progress-label"><span>{label}</span><span className="muted">{text}</span></div>
      <div className={`progress${pctv === null ? ' indeterminate' : ''}`} role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} {...(pctv === null ? {} : { 'aria-valuenow': pctv })}>
        <div className="progress-fill" style={{ width: pctv === null ? '30%' : `${pctv}%` }} />
      </div>
    </div>
  );
}

function fmtBytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`;
}

type Phase =
  | { step: 'idle' }
  | { step: 'running'; dryRun: boolean; sent: number; total: number; uploaded: boolean; job: ImportJob | null }
  | { step: 'report'; job: ImportJob; opts: ImportOptions }
  | { step: 'error'; error: Error; dryRun: boolean };

/** Asked before a segment import skips its dry run: only the dry run lists the ids it would create profiles for. */
export const SKIP_DRY_RUN = 'Without a dry run, ids never seen before (typos too) become new profiles without being listed first. Import anyway?';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function ImportPage() {
  const [file, setFile] = useState<File | null>(null);
  const [header, setHeader] = useState<string[]>([]);
  const [lines, setLines] = useState<number | null>(null);
  const [opts, setOpts] = useState<ImportOptions>({ kind: 'users', format: 'csv', userIdColumn: '', labelsColumn: '', types: {}, segmentMode: 'name', segmentName: '', segmentId: '' });
  const [phase, setPhase] = useState<Phase>({ step: 'idle' });
  const [history, setHistory] = useState(0);
  const cancel = useRef<(() => void) | null>(null);
  const alive = useRef(true);
  useEffect(() => () => { alive.current = false; cancel.current?.(); }, []);
  const segments = useLoad(() => opts.kind === 'segment' ? api<{ segments: Segment[] }>('GET', '/api/segments').then((r) => r.segments) : Promise.resolve([] as Segment[]), [opts.kind]);
  const set = (p: Partial<ImportOptions>) => setOpts((o) => ({ ...o, ...p }));

  const choose = async (f: File | null) => {
    setFile(f);
    setPhase({ step: 'idle' });
    setHeader([]);
    setLines(null);
    if (!f) return;
    const format = formatOf(f.name, f.type) ?? opts.format;
    set({ format, types: {}, userIdColumn: '', labelsColumn: '' });
    const head = await f.slice(0, 64 * 1024).text();
    if (format === 'csv') setHeader(csvHeader(head.split('\n')[0] ?? ''));
    setLines(await countLines(f));
  };

  const dataRows = lines === null ? null : Math.max(0, opts.format === 'csv' ? lines - 1 : lines);

  // `o`: the options to send ("Import for real" sends those of the dry run it follows).
  const run = async (dryRun: boolean, o: ImportOptions = opts) => {
    if (!file) return;
    setPhase({ step: 'running', dryRun, sent: 0, total: file.size, uploaded: false, job: null });
    const update = (p: Partial<Extract<Phase, { step: 'running' }>>) => alive.current && setPhase((s) => (s.step === 'running' ? { ...s, ...p } : s));
    try {
      // The jobs that exist already: the new one is the first listed job not among them.
      const before = new Set((await api<{ imports: ImportJob[] }>('GET', '/api/imports?limit=10')).imports.map((j) => j.id));
      const contentType = o.format === 'csv' ? 'text/csv' : 'application/x-ndjson';
      const req = upload<ImportJob>(`/api/imports${importQuery(o, dryRun)}`, file, contentType, (sent, total) => update({ sent, total }), () => update({ uploaded: true }));
      cancel.current = req.abort;
      let answered = false;
      // The API answers when the job is done; meanwhile the job's progress is in the list.
      const poll = (async () => {
        while (!answered && alive.current) {
          await sleep(400);
          if (answered) break;
          try {
            const job = (await api<{ imports: ImportJob[] }>('GET', '/api/imports?limit=1')).imports[0];
            if (!answered && job && !before.has(job.id)) update({ job });
          } catch { /* progress only */ }
        }
      })();
      let job = await req.promise.finally(() => { answered = true; });
      await poll;
      cancel.current = null;
      // Should the API answer before the job is done, follow the job until it is.
      while (alive.current && (job.status === 'running' || job.status === 'queued')) {
        update({ uploaded: true, job });
        await sleep(500);
        job = await api<ImportJob>('GET', `/api/imports/${encodeURIComponent(job.id)}`);
      }
      if (alive.current) setPhase({ step: 'report', job, opts: o });
    } catch (e) {
      cancel.current = null;
      if (alive.current) setPhase({ step: 'error', error: e as Error, dryRun });
    } finally {
      if (alive.current) setHistory((h) => h + 1);
    }
  };

  const busy = phase.step === 'running';
  const segmentOk = opts.kind !== 'segment' || (opts.segmentMode === 'name' ? opts.segmentName.trim() !== '' : opts.segmentId !== '');
  const canRun = !!file && !busy && segmentOk && !(opts.kind === 'users' && opts.format !== 'csv');

  return (
    <section className="import-page">
      <h1>Import</h1>
      <form className="card import-form" onSubmit={(e) => { e.preventDefault(); if (canRun) void run(true); }}>
        <h2>File and options</h2>
        <label>File (CSV or NDJSON)
          <input type="file" name="file" accept=".csv,.ndjson,.jsonl,.json,.txt,text/csv,application/x-ndjson" disabled={busy} onChange={(e) => void choose(e.target.files?.[0] ?? null)} />
        </label>
        {file && <p className="muted file-info">{file.name} · {fmtBytes(file.size)}{dataRows !== null && ` · about ${dataRows} row${dataRows === 1 ? '' : 's'}`}{header.length > 0 && ` · columns: ${header.join(', ')}`}</p>}
        <div className="row import-options">
          <label>Kind
            <select value={opts.kind} disabled={busy} onChange={(e) => set({ kind: e.target.value as ImportKind })}>
              <option value="users">Users (profiles: traits and labels)</option>
              <option value="events">Events</option>
              <option value="segment">Segment membership</option>
            </select>
          </label>
          <label>Format
            <select value={opts.format} disabled={busy} onChange={(e) => set({ format: e.target.value as Format })}>
              <option value="csv">CSV</option>
              <option value="ndjson">NDJSON</option>
            </select>
          </label>
          {opts.kind !== 'events' && (
            <label>userId column
              <input list="import-columns" value={opts.userIdColumn} disabled={busy} placeholder="userId, user_id or id" onChange={(e) => set({ userIdColumn: e.target.value })} />
            </label>
          )}
          {opts.kind === 'users' && (
            <label>Labels column
              <input list="import-columns" value={opts.labelsColumn} disabled={busy} placeholder="labels" onChange={(e) => set({ labelsColumn: e.target.value })} />
            </label>
          )}
          <datalist id="import-columns">{header.map((c) => <option key={c} value={c} />)}</datalist>
        </div>
        {opts.kind === 'users' && opts.format !== 'csv' && <p className="error" role="alert">A users import is CSV.</p>}
        {opts.kind !== 'segment' && opts.format === 'csv' && header.length > 0 && (
          <fieldset className="types" disabled={busy}>
            <legend>Column types <span className="muted">(auto: numbers, true/false, the rest text)</span></legend>
            <div className="types-grid">
              {header.filter((c) => c !== (opts.userIdColumn || 'userId') && c !== (opts.labelsColumn || 'labels')).map((c) => (
                <label key={c} className="type-pick"><span title={c}>{c}</span>
                  <select aria-label={`type of ${c}`} value={opts.types[c] ?? 'auto'} onChange={(e) => set({ types: { ...opts.types, [c]: e.target.value } })}>
                    {COLUMN_TYPES.map((t) => <option key={t} value={t}>{t}</option>)}
                  </select>
                </label>
              ))}
            </div>
          </fieldset>
        )}
        {opts.kind === 'segment' && (
          <fieldset className="segment-target" disabled={busy}>
            <legend>Segment</legend>
            <label className="inline"><input type="radio" name="segmentMode" checked={opts.segmentMode === 'name'} onChange={() => set({ segmentMode: 'name' })} /> New (or same-named) static segment</label>
            {opts.segmentMode === 'name' && <label>Segment name<input value={opts.segmentName} maxLength={200} onChange={(e) => set({ segmentName: e.target.value })} /></label>}
            <label className="inline"><input type="radio" name="segmentMode" checked={opts.segmentMode === 'id'} onChange={() => set({ segmentMode: 'id' })} /> Existing segment</label>
            {opts.segmentMode === 'id' && (
              <View state={segments}>{(list) => (
                <label>Existing segment
                  <select value={opts.segmentId} onChange={(e) => set({ segmentId: e.target.value })}>
                    <option value="">Choose…</option>
                    {list.map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
                  </select>
                </label>
              )}</View>
            )}
          </fieldset>
        )}
        <div className="row">
          <button type="submit" className="primary" disabled={!canRun}>Dry run</button>
          <button type="button" disabled={!canRun} onClick={() => { if (opts.kind !== 'segment' || window.confirm(SKIP_DRY_RUN)) void run(false); }}>Import without a dry run</button>
          {busy && <button type="button" className="small" onClick={() => cancel.current?.()}>Cancel upload</button>}
        </div>
        <p className="muted">A dry run reads and checks every row and writes nothing; its report lists exactly the rows the import would reject.</p>
      </form>

      {phase.step === 'running' && (
        <div className="card import-progress" aria-live="polite">
          <h2>{phase.dryRun ? 'Dry run' : 'Importing'}: {file?.name}</h2>
          <Bar label="Upload" value={phase.sent} max={phase.total || 1} text={`${fmtBytes(phase.sent)} of ${fmtBytes(phase.total)}`} />
          <Bar label="Rows processed" value={phase.job?.rows ?? 0} max={dataRows || null}
            text={phase.job ? `${phase.job.rows}${dataRows ? ` of ≈${dataRows}` : ''} · ok ${phase.job.ok} · bad ${phase.job.bad}` : phase.uploaded ? 'waiting for the job…' : 'starting…'} />
          {phase.uploaded && <Spinner label="The server is finishing the import…" />}
        </div>
      )}
      {phase.step === 'error' && (
        <div className="card">
          <h2>{phase.dryRun ? 'The dry run' : 'The import'} did not run</h2>
          <ErrorBox error={phase.error} />
          {phase.error instanceof ApiError && phase.error.status === 400 && <p className="muted">Nothing was imported: check the options (the userId column, the types) against the file's header.</p>}
          <button type="button" onClick={() => void run(phase.dryRun)} disabled={!canRun}>Try again</button>
        </div>
      )}
      {phase.step === 'report' && <Report job={phase.job} fileName={file?.name ?? ''} onImport={canRun ? () => void run(false, phase.opts) : null} />}
      <RecentImports key={history} />
    </section>
  );
}

/** `membershipChanges` → `membership changes`. */
const words = (k: string) => k.replace(/([a-z])([A-Z])/g, (_, a: string, b: string) => `${a} ${b.toLowerCase()}`);

/** A segment import's count of ids never seen (`summary.newUsers`): the profiles the import creates. */
export const newUsers = (job: ImportJob): number => (typeof job.summary.newUsers === 'number' ? job.summary.newUsers : 0);

/** The never-seen ids of a segment import: a warning in a dry run (they would become new profiles), a record after it. */
function NewIds({ job }: { job: ImportJob }) {
  const n = newUsers(job);
  const ids = Array.isArray(job.summary.newUserIds) ? (job.summary.newUserIds as string[]) : [];
  if (job.kind !== 'segment' || n === 0) return null;
  return (
    <div className={job.dryRun ? 'confirm-box' : ''} data-testid="new-ids">
      <p><strong>{n} id{n === 1 ? ' was' : 's were'} never seen</strong>{job.dryRun ? ': importing creates a new profile for each. A typo would become a user of its own — check them first.' : ': a new profile was created for each.'}{ids.length < n && ` The first ${ids.length} are listed.`}</p>
      <ul className="new-ids">{ids.map((id) => <li key={id}><code>{id}</code></li>)}</ul>
    </div>
  );
}
const sentence = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

function Report({ job, fileName, onImport }: { job: ImportJob; fileName: string; onImport: (() => void) | null }) {
  const failed = job.status === 'failed';
  return (
    <div className="card import-report" data-testid="import-report">
      <h2>{job.dryRun ? 'Dry run report' : 'Import report'} <span className={`badge ${failed ? 'warn' : ''}`}>{job.status}</span></h2>
      {failed && <div className="error-box" role="alert">The import failed: {job.error}{!job.dryRun && ' — the batches already written stay; importing the same file again finishes it.'}</div>}
      <dl className="counts">
        <div><dt>Rows</dt><dd data-testid="import-rows">{job.rows}</dd></div>
        <div><dt>OK</dt><dd data-testid="import-ok">{job.ok}</dd></div>
        <div><dt>Bad</dt><dd data-testid="import-bad">{job.bad}</dd></div>
        {Object.entries(job.summary).filter(([k]) => k !== 'newUserIds').map(([k, v]) => <div key={k}><dt>{words(k)}</dt><dd>{v === null ? '—' : String(v)}</dd></div>)}
      </dl>
      <NewIds job={job} />
      {!failed && job.changes && <p data-testid="import-changes">{sentence(describeChanges(job.changes, job.dryRun))}.</p>}
      {job.dryRun && !failed && <p>{job.bad ? `The real import would leave out these ${job.bad} bad row${job.bad === 1 ? '' : 's'} and read the other ${job.ok}.` : `All ${job.ok} rows are fine.`} Nothing was written.</p>}
      {job.dryRun && !failed && onImport && <button type="button" className="primary" onClick={onImport}>{newUsers(job) > 0 ? `Import for real and create ${newUsers(job)} new user${newUsers(job) === 1 ? '' : 's'}` : 'Import for real'}</button>}
      {!job.dryRun && !failed && <p>Imported {job.ok} row{job.ok === 1 ? '' : 's'}{job.bad ? `; ${job.bad} bad row${job.bad === 1 ? '' : 's'} skipped` : ''}.</p>}
      {job.badRows.length > 0 && (
        <>
          <div className="row"><h3>Bad rows</h3>
            {/* Every bad row, streamed by the API: the table below lists only the first 1000. */}
            <ActionButton className="small" onClick={() => apiDownload(`/api/imports/${enc(job.id)}/bad-rows?format=csv`, `${fileName || 'import'}-bad-rows.csv`)}>Download CSV</ActionButton>
          </div>
          {job.bad > job.badRows.length && <p className="muted" data-testid="bad-rows-count">{job.bad} bad rows (showing the first {job.badRows.length}); the CSV has all of them.</p>}
          <div className="table-wrap">
            <table className="bad-rows">
              <thead><tr><th>Line</th><th>Reason</th></tr></thead>
              <tbody>{job.badRows.map((b) => <tr key={`${b.line}-${b.reason}`}><td>{b.line}</td><td>{b.reason}</td></tr>)}</tbody>
            </table>
          </div>
        </>
      )}
      <p className="muted">Job <code>{job.id}</code> · {fmtDate(job.createdAt)}</p>
    </div>
  );
}

function RecentImports() {
  const state = useLoad(() => api<{ imports: ImportJob[] }>('GET', '/api/imports?limit=10').then((r) => r.imports), []);
  return (
    <div className="card">
      <h2>Recent imports</h2>
      <View state={state}>{(list) => list.length === 0 ? <p className="muted">None yet.</p> : (
        <div className="table-wrap">
          <table className="imports-table">
            <thead><tr><th>When</th><th>Kind</th><th>Status</th><th>Rows</th><th>OK</th><th>Bad</th></tr></thead>
            <tbody>{list.map((j) => <tr key={j.id}><td>{fmtDate(j.createdAt)}</td><td>{j.kind}{j.dryRun ? ' (dry run)' : ''}</td><td>{j.status}</td><td>{j.rows}</td><td>{j.ok}</td><td>{j.bad}</td></tr>)}</tbody>
          </table>
        </div>
      )}</View>
    </div>
  );
}
