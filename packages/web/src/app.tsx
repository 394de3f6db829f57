/** The shell: sign-in, navigation, and the page for the current path. */
import { useEffect, useState, type FormEvent } from 'react';
import { api, setUnauthorizedHandler, token } from './api.ts';
import { match, navigate, usePath } from './router.ts';
import { pageTitle } from './titles.ts';
import { Link } from './ui.tsx';
import { SegmentDetail, SegmentEditor, SegmentsList } from './pages/segments.tsx';
import { UserProfile, UsersSearch } from './pages/users.tsx';
import { Experiences, Missions, Rewards } from './pages/loyalty.tsx';
import { Experiments } from './pages/experiments.tsx';
import { Webhooks } from './pages/webhooks.tsx';
import { Destinations } from './pages/destinations.tsx';
import { Settings } from './pages/settings.tsx';
import { ImportPage } from './pages/import.tsx';
import { AuditLog } from './pages/audit.tsx';

export const NAV: { to: string; label: string }[] = [
  { to: '/segments', label: 'Segments' },
  { to: '/users', label: 'Users' },
  { to: '/missions', label: 'Missions' },
  { to: '/rewards', label: 'Bonus shop' },
  { to: '/experiences', label: 'Experiences' },
  { to: '/experiments', label: 'Experiments' },
  { to: '/webhooks', label: 'Webhooks' },
  { to: '/destinations', label: 'Destinations' },
  { to: '/import', label: 'Import' },
  { to: '/settings', label: 'Settings' },
  { to: '/audit', label: 'Audit log' },
];

function SignIn({ message, onSignedIn }: { message: string | null; onSignedIn: () => void }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      // Any admin route checks the token; the segment list is cheap.
      await api('GET', '/api/segments', undefined, value.trim());
      token.set(value.trim());
      onSignedIn();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="sign-in">
      <form onSubmit={submit} className="card">
        <h1>Strata</h1>
        <p className="muted">Sign in with the project's admin token (<code>STRATA_ADMIN_TOKEN</code>, printed at first start).</p>
        {message && <p className="notice" role="status">{message}</p>}
        <label>Admin token<input name="token" type="password" autoComplete="off" value={value} onChange={(e) => setValue(e.target.value)} required /></label>
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" className="primary" disabled={busy || !value.trim()}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </main>
  );
}

function Page({ path }: { path: string }) {
  let m: Record<string, string> | null;
  if (path === '/' || path.startsWith('/?')) return <SegmentsList />;
  if (match('/segments', path)) return <SegmentsList />;
  if (match('/segments/new', path)) return <SegmentEditor />;
  if ((m = match('/segments/:id/edit', path))) return <SegmentEditor id={m.id} />;
  if ((m = match('/segments/:id', path))) return <SegmentDetail id={m.id!} />;
  if (match('/users', path)) return <UsersSearch />;
  if ((m = match('/users/:id', path))) return <UserProfile id={m.id!} />;
  if (match('/missions', path)) return <Missions />;
  if (match('/rewards', path)) return <Rewards />;
  if (match('/experiences', path)) return <Experiences />;
  if (match('/experiments', path)) return <Experiments />;
  if (match('/webhooks', path)) return <Webhooks />;
  if (match('/destinations', path)) return <Destinations />;
  if (match('/import', path)) return <ImportPage />;
  if (match('/settings', path)) return <Settings />;
  if (match('/audit', path)) return <AuditLog />;
  return <section><h1>Not found</h1><p>No page at <code>{path}</code>. <Link to="/segments">Segments</Link></p></section>;
}

export function App() {
  const path = usePath();
  const [signedIn, setSignedIn] = useState(() => token.get() !== null);
  const [message, setMessage] = useState<string | null>(null);
  const [menuOpen, setMenuOpen] = useState(false);
  // Registered during the first render, before any page can start a request.
  useState(() => setUnauthorizedHandler((msg) => {
    setMessage(`Signed out: ${msg}`);
    setSignedIn(false);
  }));
  useEffect(() => setMenuOpen(false), [path]);
  useEffect(() => { document.title = signedIn ? pageTitle(path) : 'Sign in · Strata'; }, [path, signedIn]);
  if (!signedIn) return <SignIn message={message} onSignedIn={() => { setMessage(null); setSignedIn(true); }} />;
  const section = '/' + (path.split('/')[1] ?? '');
  return (
    <div className="shell">
      <header className="topbar">
        <Link to="/segments" className="brand">Strata</Link>
        <button type="button" className="menu-toggle" aria-expanded={menuOpen} aria-label="Menu" onClick={() => setMenuOpen((o) => !o)}>☰</button>
        <nav className={menuOpen ? 'open' : ''} aria-label="Main">
          {NAV.map((n) => <Link key={n.to} to={n.to} className={section === n.to || (section === '/' && n.to === '/segments') ? 'active' : ''}>{n.label}</Link>)}
          <button type="button" className="link sign-out" onClick={() => { token.clear(); setMessage('Signed out.'); setSignedIn(false); navigate('/', true); }}>Sign out</button>
        </nav>
      </header>
      <main className="content"><Page path={path} /></main>
    </div>
  );
}
