/** Settings (keys, identity verification, SDK snippet, projects). */
import { api } from '../api.ts';
import { ActionButton, View, useLoad } from '../ui.tsx';
import { Keys } from './keys.tsx';
import { Projects } from './projects.tsx';

type PublicSegments = 'verified' | 'always' | 'never';
interface SettingsDoc { projectId: string; name: string; writeKey: string | null; identityVerification: { enabled: boolean; secret: string | null }; publicSegments: PublicSegments }

/**
 * The install snippets of the browser SDK (packages/sdk, docs/sdk.md): the asynchronous loader
 * that queues early calls (recommended), and the plain script tag.
 */
export function sdkSnippet(origin: string, writeKey: string): string {
  const host = JSON.stringify(origin);
  const key = JSON.stringify(writeKey);
  return `<script>
!function(w,d,h,k){var s=w.strata=w.strata||[];if(s.version)return;s.config={apiHost:h,writeKey:k};"identify track page reset flush user targeting experience".split(" ").forEach(function(m){s[m]=function(){var a=arguments;return new Promise(function(r){s.push([m,a,r])})}});var t=d.createElement("script");t.async=!0;t.src=h+"/sdk/strata.min.js";d.head.appendChild(t)}(window,document,${host},${key});
</script>`;
}

export function sdkScriptTag(origin: string, writeKey: string): string {
  return `<script async src="${origin}/sdk/strata.min.js" data-write-key="${writeKey}"></script>`;
}

export function Settings() {
  const state = useLoad(() => api<SettingsDoc>('GET', '/api/settings'), []);
  return (
    <section>
      <h1>Settings</h1>
      <View state={state}>{(s) => (
        <>
          <div className="card">
            <h2>Project</h2>
            <p>{s.name} <span className="muted">({s.projectId})</span></p>
            <label>Write key (public: ingest and SDK only)<input readOnly value={s.writeKey ?? 'none: create a write key below'} onFocus={(e) => e.target.select()} /></label>
          </div>
          <Keys />
          <div className="card">
            <h2>Identity verification</h2>
            <p className="muted">When on, <code>/v1/targeting</code> and redemptions need <code>userHash = hex(HMAC-SHA256(secret, userId))</code>, computed by your server.</p>
            <label className="inline"><input type="checkbox" checked={s.identityVerification.enabled} onChange={async (e) => { await api('PATCH', '/api/settings', { identityVerification: { enabled: e.target.checked } }); state.reload(); }} /> Require identity verification</label>
            {s.identityVerification.secret && <label>Secret<input readOnly value={s.identityVerification.secret} onFocus={(e) => e.target.select()} /></label>}
            <ActionButton className="small" confirm="Rotate the secret? Hashes made with the old one stop working." onClick={async () => { await api('PATCH', '/api/settings', { identityVerification: { enabled: s.identityVerification.enabled, rotateSecret: true } }); state.reload(); }}>Rotate secret</ActionButton>
          </div>
          <div className="card">
            <h2>Segments on the public API</h2>
            <p className="muted">Who may read a user's segment names and ids on <code>/v1/targeting</code>: the write key is public, so by default only calls verified with <code>userHash</code> (docs/targeting.md).</p>
            <label>Public segments
              <select value={s.publicSegments} onChange={async (e) => { await api('PATCH', '/api/settings', { publicSegments: e.target.value as PublicSegments }); state.reload(); }}>
                <option value="verified">Verified calls only (identity verification on)</option>
                <option value="always">Anyone with the write key</option>
                <option value="never">Never</option>
              </select>
            </label>
          </div>
          <div className="card">
            <h2>Install the SDK</h2>
            <p className="muted">Put this in the <code>&lt;head&gt;</code> of every page: it defines <code>window.strata</code> at once, queues early calls and loads <code>/sdk/strata.min.js</code> (see docs/sdk.md).</p>
            <pre className="json" aria-label="SDK snippet">{sdkSnippet(location.origin, s.writeKey ?? 'YOUR_WRITE_KEY')}</pre>
            <p className="muted">Or, when the page makes no early calls, a plain tag:</p>
            <pre className="json" aria-label="SDK script tag">{sdkScriptTag(location.origin, s.writeKey ?? 'YOUR_WRITE_KEY')}</pre>
          </div>
          <Projects />
        </>
      )}</View>
    </section>
  );
}
