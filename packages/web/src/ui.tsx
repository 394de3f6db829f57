/** Small shared pieces: data loading, loading/error states, links, sparkline, CSV. */
import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { ApiError } from './api.ts';
import { navigate } from './router.ts';

export interface Loaded<T> {
  data: T | null;
  error: ApiError | Error | null;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` on mount and whenever `deps` change; keeps the last data while reloading. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: Error | null; loading: boolean }>({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then((data) => live && setState({ data, error: null, loading: false }), (error: Error) => live && setState((s) => ({ data: s.data, error, loading: false })));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/** Calls `fn` after `ms` without a change of `value`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

export function Spinner({ label = 'Loading…' }: { label?: string }) {
  return <div className="loading" role="status"><span className="spinner" aria-hidden="true" />{label}</div>;
}

/**
 * Whether trying again could help: not for an answer that refuses the request itself (a 4xx —
 * 404 no such thing, 400 bad input, 403), except a timeout (408) or a rate limit (429).
 */
export function retryable(error: Error): boolean {
  if (!(error instanceof ApiError) || error.status === 0) return true;
  return error.status >= 500 || error.status === 408 || error.status === 429;
}

export function ErrorBox({ error, onRetry }: { error: Error | null; onRetry?: () => void }) {
  if (!error) return null;
  const issues = error instanceof ApiError ? error.issues : [];
  return (
    <div className="error-box" role="alert">
      <strong>{error instanceof ApiError && error.status ? `${error.status} ${error.code}: ` : ''}</strong>{error.message}
      {issues.length > 0 && <ul>{issues.map((i, k) => <li key={k}><code>{i.path}</code> {i.message}</li>)}</ul>}
      {onRetry && retryable(error) && <button type="button" className="small" onClick={onRetry}>Retry</button>}
    </div>
  );
}

/** Loading / error / content, for one loaded value. */
export function View<T>({ state, children }: { state: Loaded<T>; children: (data: T) => ReactNode }) {
  if (state.data === null && state.loading) return <Spinner />;
  if (state.data === null) return <ErrorBox error={state.error} onRetry={state.reload} />;
  return <>{state.error && <ErrorBox error={state.error} onRetry={state.reload} />}{children(state.data)}</>;
}

export function Link({ to, children, className }: { to: string; children: ReactNode; className?: string }) {
  return <a href={to} className={className} onClick={(e) => { if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return; e.preventDefault(); navigate(to); }}>{children}</a>;
}

/**
 * A tiny inline SVG line (list rows: a chart library per row would be heavy). A null is a day
 * with no value (before the segment existed): the line has a gap there, and a lone day between
 * gaps is a dot.
 */
export function Sparkline({ values, width = 120, height = 28 }: { values: readonly (number | null)[]; width?: number; height?: number }) {
  const known = values.filter((v): v is number => v !== null);
  if (values.length < 2 || known.length === 0) return <span className="muted">—</span>;
  const max = Math.max(...known);
  const min = Math.min(...known);
  const span = max - min || 1;
  const x = (i: number) => ((i / (values.length - 1)) * (width - 2) + 1).toFixed(1);
  const y = (v: number) => (height - 1 - ((v - min) / span) * (height - 2)).toFixed(1);
  const runs: { i: number; v: number }[][] = [];
  values.forEach((v, i) => {
    if (v === null) return;
    if (i === 0 || values[i - 1] === null) runs.push([]);
    runs[runs.length - 1]!.push({ i, v });
  });
  return (
    <svg className="sparkline" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`size from ${known[0]} to ${known[known.length - 1]}`}>
      {runs.map((r) => (r.length === 1
        ? <circle key={r[0]!.i} cx={x(r[0]!.i)} cy={y(r[0]!.v)} r="1.5" fill="currentColor" />
        : <polyline key={r[0]!.i} fill="none" stroke="currentColor" strokeWidth="1.5" points={r.map((p) => `${x(p.i)},${y(p.v)}`).join(' ')} />))}
    </svg>
  );
}

/** RFC 4180 CSV of rows (first row: header). */
export function toCsv(rows: readonly (readonly (string | number | null | undefined)[])[]): string {
  const cell = (v: string | number | null | undefined) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return rows.map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

export function download(name: string, text: string, type = 'text/csv'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function fmtDate(s: string | null | undefined): string {
  if (!s) return '—';
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : d.toISOString().replace('T', ' ').slice(0, 16);
}

export function pct(n: number, d: number): string {
  return d ? `${((n / d) * 100).toFixed(n / d < 0.01 && n > 0 ? 2 : 1)}%` : '—';
}

/** A button that runs an async action, disabled while running, and shows its error. */
export function ActionButton({ onClick, children, className, confirm: ask }: { onClick: () => Promise<unknown>; children: ReactNode; className?: string; confirm?: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const mounted = useRef(true);
  useEffect(() => () => { mounted.current = false; }, []);
  return (
    <span className="action">
      <button type="button" className={className} disabled={busy} onClick={async () => {
        if (ask && !window.confirm(ask)) return;
        setBusy(true);
        setError(null);
        try { await onClick(); } catch (e) { if (mounted.current) setError(e as Error); } finally { if (mounted.current) setBusy(false); }
      }}>{busy ? '…' : children}</button>
      {error && <ErrorBox error={error} />}
    </span>
  );
}

/** Cursor paging of a list: the cursors of the pages visited (the first page's is null) and the page size. */
export function useCursorPages(initialLimit = 50) {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [limit, setLimit] = useState(initialLimit);
  return {
    cursor: cursors[cursors.length - 1]!, limit, page: cursors.length,
    back: () => setCursors((c) => c.slice(0, -1)),
    forward: (next: string) => setCursors((c) => [...c, next]),
    /** Back to the first page (after a change of filter). */
    reset: () => setCursors([null]),
    resize: (n: number) => { setLimit(n); setCursors([null]); },
  };
}

/** The pager under a cursor-paged list: back, the page number, forward (to `nextCursor`), and the page size. */
export function CursorPager({ pages, nextCursor, labels }: { pages: ReturnType<typeof useCursorPages>; nextCursor: string | null; labels: readonly [string, string] }) {
  return (
    <div className="row pager">
      <button type="button" className="small" disabled={pages.page < 2} onClick={pages.back}>{labels[0]}</button>
      <span className="muted">Page {pages.page}</span>
      <button type="button" className="small" disabled={!nextCursor} onClick={() => nextCursor && pages.forward(nextCursor)}>{labels[1]}</button>
      <select aria-label="page size" value={pages.limit} onChange={(e) => pages.resize(Number(e.target.value))}>{[25, 50, 100, 500].map((n) => <option key={n} value={n}>{n} per page</option>)}</select>
    </div>
  );
}
