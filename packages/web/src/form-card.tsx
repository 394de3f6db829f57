/**
 * The create/edit card of the resource pages: a form by default, "Edit as JSON" as the advanced
 * view (both over one state: switching builds the body from the form, or reads the typed JSON back
 * into it), the browser's own checks beside their fields, and the API's 400 issues beside the
 * same fields and in an ErrorBox under the form.
 */
import { useId, useState, type ComponentType, type FormEvent, type ReactNode } from 'react';
import { ApiError, api } from './api.ts';
import { issuesAt, type Built, type Issue } from './forms.ts';
import type { Json } from './types.ts';
import { ErrorBox } from './ui.tsx';
import './forms.css';

export interface FieldsProps<S> {
  value: S;
  onChange: (s: S) => void;
  /** The browser's and the server's issues, at the body's JSON paths. */
  issues: readonly Issue[];
}

export interface FormSpec<S> {
  toBody: (s: S) => Built;
  /** Form state from typed JSON; `prev` is the state the JSON view was opened from (for what the body does not carry). */
  fromJson: (v: Json, prev: S) => S;
  Fields: ComponentType<FieldsProps<S>>;
}

/** A labelled input with the messages of the issues at `path` (and under it when `deep`). */
export function Field({ label, path, issues, hint, deep, className, children }: { label: string; path?: string; issues?: readonly Issue[]; hint?: ReactNode; deep?: boolean; className?: string; children: (id: string, invalid: boolean) => ReactNode }) {
  const id = useId();
  const here = path && issues ? issuesAt(issues, path, deep) : [];
  return (
    <div className={`field${className ? ` ${className}` : ''}${here.length ? ' invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children(id, here.length > 0)}
      {hint && <span className="hint">{hint}</span>}
      {here.map((i, k) => <span key={k} className="field-error" data-path={i.path}>{i.message}</span>)}
    </div>
  );
}

/** Messages of issues at a path, for parts that are not one input (a group, a row). */
export function IssueText({ issues, path, deep }: { issues: readonly Issue[]; path: string; deep?: boolean }) {
  const here = issuesAt(issues, path, deep);
  return <>{here.map((i, k) => <span key={k} className="field-error" data-path={i.path}>{i.message}</span>)}</>;
}

export function FormCard<S>({ spec, initial, title, method, path, submitLabel, onSaved, onCancel }: {
  spec: FormSpec<S>;
  initial: S;
  title: string;
  method: 'POST' | 'PATCH';
  path: string;
  submitLabel: string;
  onSaved: (answer: unknown) => void;
  onCancel: () => void;
}) {
  const [state, setState] = useState<S>(initial);
  const [json, setJson] = useState<string | null>(null);
  const [tried, setTried] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const built = spec.toBody(state);
  const serverIssues = error instanceof ApiError ? error.issues : [];
  const issues = [...(tried ? built.issues : []), ...serverIssues];
  const parsed = json === null ? null : parseObject(json);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTried(true);
    let body: Json;
    if (json !== null) {
      if (!parsed?.ok) return;
      body = parsed.value;
    } else {
      if (built.issues.length) return;
      body = built.body;
    }
    setBusy(true);
    setError(null);
    try {
      onSaved(await api(method, path, body));
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  const toJson = () => { setJson(JSON.stringify(built.body, null, 2)); };
  const toForm = () => {
    if (!parsed?.ok) return;
    setState(spec.fromJson(parsed.value, state));
    setJson(null);
  };
  const blocked = json !== null ? !parsed?.ok : tried && built.issues.length > 0;
  return (
    <form className="card resource-form" onSubmit={submit} noValidate aria-label={title}>
      <div className="form-head">
        <h2>{title}</h2>
        <label className="inline json-toggle">
          <input type="checkbox" checked={json !== null} disabled={json !== null && !parsed?.ok} onChange={(e) => (e.target.checked ? toJson() : toForm())} /> Edit as JSON
        </label>
      </div>
      {json === null
        ? <spec.Fields value={state} onChange={setState} issues={issues} />
        : (
          <>
            <p className="muted">The request body of <code>{method} {path}</code> (see <a href="/docs" target="_blank" rel="noreferrer">/docs</a>). Fields the form does not know are dropped when you go back to it.</p>
            <textarea aria-label={`${title} JSON`} className="json" rows={14} value={json} onChange={(e) => setJson(e.target.value)} />
            {!parsed?.ok && <p className="error" role="alert">{parsed?.error}</p>}
          </>
        )}
      {json === null && tried && built.issues.length > 0 && (
        <div className="error-box" role="alert">Check the marked fields:<ul>{built.issues.map((i, k) => <li key={k}><code>{i.path}</code> {i.message}</li>)}</ul></div>
      )}
      <ErrorBox error={error} />
      <div className="row form-actions">
        <button type="submit" className="primary" disabled={busy || blocked}>{busy ? 'Saving…' : submitLabel}</button>
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

function parseObject(text: string): { ok: true; value: Json } | { ok: false; error: string } {
  try {
    const v = JSON.parse(text) as Json;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? { ok: true, value: v } : { ok: false, error: 'the body is a JSON object' };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}
