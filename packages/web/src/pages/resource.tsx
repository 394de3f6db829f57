/** A list of one kind of object with a JSON create form: missions, rewards, experiences, webhooks. */
import { Fragment, useState, type ReactNode } from 'react';
import { api } from '../api.ts';
import { ErrorBox, View, useLoad } from '../ui.tsx';

export interface Column<T> {
  label: string;
  render: (item: T, reload: () => void) => ReactNode;
  num?: boolean;
}

export function ResourcePage<T extends { id: string }>({ title, intro, path, listKey, columns, example, detail }: {
  title: string;
  intro?: ReactNode;
  path: string;
  listKey: string;
  columns: Column<T>[];
  example: object;
  detail?: (item: T, reload: () => void) => ReactNode;
}) {
  const state = useLoad(() => api<Record<string, T[]>>('GET', path), [path]);
  const [creating, setCreating] = useState(false);
  const [text, setText] = useState(JSON.stringify(example, null, 2));
  const [error, setError] = useState<Error | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const create = async () => {
    setError(null);
    try {
      const created = await api<{ secret?: string }>('POST', path, JSON.parse(text));
      // A webhook's signing secret is shown by its create answer (not by the list).
      setSecret(typeof created?.secret === 'string' ? created.secret : null);
      setCreating(false);
      state.reload();
    } catch (e) {
      setError(e as Error);
    }
  };
  return (
    <section>
      <div className="page-head"><h1>{title}</h1><button type="button" className="primary" onClick={() => setCreating((c) => !c)}>{creating ? 'Close' : 'Create'}</button></div>
      {intro}
      {secret && <p className="notice" role="status">Signing secret (copy it now): <code>{secret}</code></p>}
      {creating && (
        <div className="card">
          <p className="muted">The request body of <code>POST {path}</code> (see <a href="/docs" target="_blank" rel="noreferrer">/docs</a>).</p>
          <textarea aria-label={`new ${title} JSON`} className="json" rows={12} value={text} onChange={(e) => setText(e.target.value)} />
          <ErrorBox error={error} />
          <button type="button" className="primary" onClick={create}>Create</button>
        </div>
      )}
      <View state={state}>{(data) => {
        const items = data[listKey] ?? [];
        if (!items.length) return <p className="empty">None yet.</p>;
        return (
          <div className="table-wrap">
            <table>
              <thead><tr>{columns.map((c) => <th key={c.label} className={c.num ? 'num' : ''}>{c.label}</th>)}{detail && <th />}</tr></thead>
              <tbody>
                {items.map((item) => (
                  <Fragment key={item.id}>
                    <tr>
                      {columns.map((c) => <td key={c.label} className={c.num ? 'num' : ''}>{c.render(item, state.reload)}</td>)}
                      {detail && <td><button type="button" className="link" onClick={() => setOpen(open === item.id ? null : item.id)}>{open === item.id ? 'Hide' : 'Details'}</button></td>}
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
