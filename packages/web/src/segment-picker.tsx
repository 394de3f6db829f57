/**
 * Segments by name: the pickers of the create/edit forms (several segments, or one for an
 * experiment's audience) and the links the lists show instead of raw ids.
 */
import { useEffect, useState } from 'react';
import { api, enc } from './api.ts';
import { Link } from './ui.tsx';

export interface SegmentRef {
  id: string;
  name: string;
}

/**
 * One GET /api/segments shared by every picker and list cell of a page. `refreshSegments()`
 * (called when a page mounts) drops it, so a segment made elsewhere shows up on the next visit.
 */
let cache: Promise<SegmentRef[]> | null = null;
const listeners = new Set<() => void>();

export function refreshSegments(): void {
  cache = null;
  for (const l of listeners) l();
}

/** Drops the shared list without telling the mounted hooks (safe during a render). */
export function forgetSegments(): void {
  cache = null;
}

function load(): Promise<SegmentRef[]> {
  cache ??= api<{ segments: SegmentRef[] }>('GET', '/api/segments').then(
    (r) => r.segments.map((s) => ({ id: s.id, name: s.name })).sort((a, b) => a.name.localeCompare(b.name)),
    (e: unknown) => { cache = null; throw e; },
  );
  return cache;
}

/** The project's segments (null while loading), and the load error if any. */
export function useSegments(): { segments: SegmentRef[] | null; error: Error | null } {
  const [state, setState] = useState<{ segments: SegmentRef[] | null; error: Error | null }>({ segments: null, error: null });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const l = () => setTick((t) => t + 1);
    listeners.add(l);
    return () => { listeners.delete(l); };
  }, []);
  useEffect(() => {
    let live = true;
    load().then((segments) => live && setState({ segments, error: null }), (error: Error) => live && setState((s) => ({ ...s, error })));
    return () => { live = false; };
  }, [tick]);
  return state;
}

/** A segment's name linked to its page; the bare id when it is gone (or not loaded yet). */
export function SegmentLink({ id, segments }: { id: string; segments: readonly SegmentRef[] | null }) {
  const s = segments?.find((x) => x.id === id);
  return <Link to={`/segments/${enc(id)}`} className={s ? undefined : 'muted'}>{s ? s.name : id}</Link>;
}

/** The segments of a list row, by name, or `empty` ("everyone", "all") when there are none. */
export function SegmentNames({ ids, empty = 'everyone' }: { ids: readonly string[] | null; empty?: string }) {
  const { segments } = useSegments();
  if (!ids || ids.length === 0) return <span className="muted">{empty}</span>;
  return <span className="segment-names">{ids.map((id, i) => <span key={id}>{i > 0 && ', '}<SegmentLink id={id} segments={segments} /></span>)}</span>;
}

/**
 * Several segments by name: chips of the chosen ones (✕ removes) and a select to add one.
 * `empty` says what no segment means ("everyone" for targeting, "all segments" for a webhook);
 * `exclude` leaves segments out of the choices (a segment compared with others).
 */
export function SegmentPicker({ value, onChange, label, empty = 'everyone', invalid, id, exclude = [] }: { value: readonly string[]; onChange: (ids: string[]) => void; label: string; empty?: string; invalid?: boolean; id?: string; exclude?: readonly string[] }) {
  const { segments, error } = useSegments();
  const rest = (segments ?? []).filter((s) => !value.includes(s.id) && !exclude.includes(s.id));
  return (
    <div className={`segment-picker${invalid ? ' invalid' : ''}`} role="group" aria-label={label}>
      <div className="chips">
        {value.length === 0 && <span className="muted">{empty}</span>}
        {value.map((id) => (
          <span key={id} className="chip">
            <SegmentLink id={id} segments={segments} />
            <button type="button" className="link" aria-label={`remove ${segments?.find((s) => s.id === id)?.name ?? id}`} onClick={() => onChange(value.filter((x) => x !== id))}>✕</button>
          </span>
        ))}
      </div>
      <select id={id} aria-label={`add to ${label}`} value="" disabled={!segments || rest.length === 0} onChange={(e) => { if (e.target.value) onChange([...value, e.target.value]); }}>
        <option value="">{!segments ? (error ? 'segments could not be loaded' : 'Loading segments…') : rest.length ? '+ Add a segment…' : 'No other segments'}</option>
        {rest.map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
      </select>
      {error && <span className="error small-text"> {error.message}</span>}
    </div>
  );
}

/** One segment or everyone ('' ), e.g. an experiment's audience. */
export function SegmentSelect({ value, onChange, label, empty = 'Everyone', id }: { value: string; onChange: (id: string) => void; label: string; empty?: string; id?: string }) {
  const { segments, error } = useSegments();
  const known = !value || (segments ?? []).some((s) => s.id === value);
  return (
    <select id={id} aria-label={label} value={value} onChange={(e) => onChange(e.target.value)}>
      <option value="">{empty}</option>
      {!known && <option value={value}>{value}</option>}
      {(segments ?? []).map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
      {error && <option disabled>segments could not be loaded</option>}
    </select>
  );
}
