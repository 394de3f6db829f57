/** A list of one kind of object with its create (and edit) form: missions, rewards, experiences, experiments, webhooks. */
import { Fragment, useEffect, useRef, useState, type ReactNode } from 'react';
import { api, enc } from '../api.ts';
import { FormCard, type FormSpec } from '../form-card.tsx';
import { forgetSegments, refreshSegments } from '../segment-picker.tsx';
import type { Json } from '../types.ts';
import { View, useLoad } from '../ui.tsx';

export interface Column<T> {
  label: string;
  render: (item: T, reload: () => void) => ReactNode;
  num?: boolean;
}

export interface ResourceForm<T, S> {
  spec: FormSpec<S>;
  empty: () => S;
  /** Form state for editing an item (PATCH /path/:id); no Edit button without it. */
  edit?: (item: T) => S;
  /** What the object is called in the form's title ("mission", "reward"). */
  noun: string;
}

type Open<T> = { mode: 'create' } | { mode: 'edit'; item: T };

export function ResourcePage<T extends { id: string }, S>({ title, intro, path, listKey, columns, form, detail }: {
  title: string;
  intro?: ReactNode;
  path: string;
  listKey: string;
  columns: Column<T>[];
  form: ResourceForm<T, S>;
  detail?: (item: T, reload: () => void) => ReactNode;
}) {
  // A fresh segment list for this visit (before any picker or list cell asks for it).
  useState(() => forgetSegments());
  const state = useLoad(() => api<Record<string, T[]>>('GET', path), [path]);
  const [editing, setEditing] = useState<Open<T> | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const cardRef = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (editing?.mode === 'edit') cardRef.current?.scrollIntoView({ block: 'start', behavior: 'smooth' });
  }, [editing]);
  const saved = (answer: unknown) => {
    // A webhook's signing secret is shown by its create answer (not by the list).
    const s = (answer as { secret?: unknown } | null)?.secret;
    setSecret(editing?.mode === 'create' && typeof s === 'string' ? s : null);
    setEditing(null);
    // An experiment makes a segment per arm: pickers and names should know them.
    refreshSegments();
    state.reload();
  };
  const editable = form.edit !== undefined;
  return (
    <section>
      <div className="page-head">
        <h1>{title}</h1>
        <button type="button" className="primary" onClick={() => setEditing((e) => (e?.mode === 'create' ? null : { mode: 'create' }))}>{editing?.mode === 'create' ? 'Close' : 'Create'}</button>
      </div>
      {intro}
      {secret && <p className="notice" role="status">Signing secret (copy it now, it is not shown again): <code>{secret}</code></p>}
      <div ref={cardRef}>
        {editing?.mode === 'create' && (
          <FormCard<S> key="create" spec={form.spec} initial={form.empty()} title={`New ${form.noun}`} method="POST" path={path} submitLabel="Create" onSaved={saved} onCancel={() => setEditing(null)} />
        )}
        {editing?.mode === 'edit' && form.edit && (
          <FormCard<S> key={`edit-${editing.item.id}`} spec={form.spec} initial={form.edit(editing.item)} title={`Edit ${form.noun}`} method="PATCH" path={`${path}/${enc(editing.item.id)}`} submitLabel="Save changes" onSaved={saved} onCancel={() => setEditing(null)} />
        )}
      </div>
      <View state={state}>{(data) => {
        const items = data[listKey] ?? [];
        if (!items.length) return <p className="empty">None yet.</p>;
        return (
          <div className="table-wrap">
            <table className="resource-table">
              <thead><tr>{columns.map((c) => <th key={c.label} className={c.num ? 'num' : ''}>{c.label}</th>)}{(detail || editable) && <th />}</tr></thead>
              <tbody>
                {items.map((item) => (
                  <Fragment key={item.id}>
                    <tr>
                      {columns.map((c) => <td key={c.label} className={c.num ? 'num' : ''}>{c.render(item, state.reload)}</td>)}
                      {(detail || editable) && (
                        <td className="row-actions">
                          {editable && <button type="button" className="link" onClick={() => setEditing({ mode: 'edit', item })}>Edit</button>}
                          {detail && <button type="button" className="link" onClick={() => setOpen(open === item.id ? null : item.id)}>{open === item.id ? 'Hide' : 'Details'}</button>}
                        </td>
                      )}
                    </tr>
                    {detail && open === item.id && <tr><td colSpan={columns.length + 1}>{detail(item, state.reload)}</td></tr>}
                  </Fragment>
                ))}
              </tbody>
            </table>
          </div>
        );
      }}</View>
    </section>
  );
}

/** Lenient: list items are the API's JSON. */
export const asJson = (x: unknown): Json => x as Json;
