/**
 * Settings → Projects: the server operator's card. Projects are created, listed and deleted with
 * the server's root token (docs/security.md), which this page keeps in memory only, for as long
 * as the card is open: never in storage, never sent with the admin session's calls.
 */
import { useState } from 'react';
import { api } from '../api.ts';
import { ActionButton, ErrorBox } from '../ui.tsx';

interface ProjectDoc { id: string; name: string; createdAt: string }
interface Made { project: ProjectDoc; adminToken: { value: string }; writeKey: { value: string } }

export function Projects() {
  const [root, setRoot] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  const [projects, setProjects] = useState<ProjectDoc[] | null>(null);
  const [name, setName] = useState('');
  const [made, setMade] = useState<Made | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const run = async (fn: () => Promise<void>) => {
    setError(null);
    try { await fn(); } catch (e) { setError(e as Error); }
  };
  const load = async (tok: string) => setProjects((await api<{ projects: ProjectDoc[] }>('GET', '/api/projects', undefined, tok)).projects);
  return (
    <div className="card">
      <h2>Projects</h2>
      <p className="muted">For the server's operator: projects are created and deleted with the root token (<code>STRATA_ROOT_TOKEN</code>, or the one printed at the first start). It is kept on this page only while it is open.</p>
      {open === null ? (
        <form className="row" onSubmit={(e) => { e.preventDefault(); void run(async () => { await load(root); setOpen(root); setRoot(''); }); }}>
          <label>Root token<input type="password" autoComplete="off" value={root} onChange={(e) => setRoot(e.target.value)} /></label>
          <button type="submit" disabled={!root}>Manage projects</button>
        </form>
      ) : (
        <>
          {made && (
            <div className="notice" role="status" aria-label="New project credentials">
              <p>Project <strong>{made.project.name}</strong> ({made.project.id}) created. Copy its credentials now: they are not shown again.</p>
              <p>Admin token: <code style={{ wordBreak: 'break-all' }}>{made.adminToken.value}</code></p>
              <p>Write key: <code style={{ wordBreak: 'break-all' }}>{made.writeKey.value}</code></p>
              <button type="button" className="small" onClick={() => setMade(null)}>Done</button>
            </div>
          )}
          {note && <p className="ok-text" role="status">{note}</p>}
          <div className="table-wrap"><table className="projects-table">
            <thead><tr><th>Name</th><th>Id</th><th>Created</th><th /></tr></thead>
            <tbody>
              {(projects ?? []).map((p) => (
                <tr key={p.id}>
                  <td>{p.name}</td>
                  <td><code>{p.id}</code></td>
                  <td>{new Date(p.createdAt).toLocaleString()}</td>
                  <td>{p.id !== 'default' && (
                    <ActionButton className="small danger" confirm={`Delete project "${p.name}" (${p.id}) and all its data — people, events, segments, keys? This cannot be undone.`}
                      onClick={async () => {
                        const r = await api<{ deleted: Record<string, number> }>('DELETE', `/api/projects/${encodeURIComponent(p.id)}`, undefined, open);
                        setNote(`Deleted "${p.name}": ${Object.values(r.deleted).reduce((a, b) => a + b, 0)} rows.`);
                        await load(open);
                      }}>Delete</ActionButton>
                  )}</td>
                </tr>
              ))}
            </tbody>
          </table></div>
          <form className="row" onSubmit={(e) => { e.preventDefault(); void run(async () => {
            setMade(await api<Made>('POST', '/api/projects', { name }, open));
            setName('');
            await load(open);
          }); }}>
            <label>New project<input value={name} maxLength={200} placeholder="Name" onChange={(e) => setName(e.target.value)} /></label>
            <button type="submit">Create project</button>
            <button type="button" className="small" onClick={() => { setOpen(null); setProjects(null); setMade(null); setNote(null); }}>Close</button>
          </form>
        </>
      )}
      <ErrorBox error={error} />
    </div>
  );
}
