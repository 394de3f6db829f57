/**
 * The visual condition builder: one recursive component over the condition JSON, covering
 * every node of docs/reference.md §3 (groups, attr, event with where/window/agg/cmp, sequence, segment
 * reference, bucket). Why not react-querybuilder: see docs/web.md.
 */
import { useEffect, useState } from 'react';
import {
  AGG_FNS, CMP_OPS, EVENT_PATHS, KINDS, OPS, OP_LABELS, PROFILE_PATHS, STRING_OPS, defaultOf, isObj, kindOf,
  opTakesNoValue, parseJson, pathHighlighted, removeAt, replaceAt, textToValue, valueToText, withOp,
  type Kind, type Obj,
} from './condition.ts';
import type { Json } from './types.ts';

export interface SegmentRef {
  id: string;
  name: string;
}

interface NodeProps {
  value: Json;
  onChange: (v: Json) => void;
  onRemove?: () => void;
  path: string;
  highlights: readonly string[];
  segments: readonly SegmentRef[];
}

/** A text input that keeps what is typed and reports the parsed operand. */
function OperandInput({ op, value, onChange, label }: { op: string; value: Json | undefined; onChange: (v: Json) => void; label: string }) {
  const [text, setText] = useState(valueToText(op, value));
  useEffect(() => {
    // Follow outside changes (JSON view, operator change) without fighting the typist.
    if (JSON.stringify(textToValue(op, text)) !== JSON.stringify(value ?? '')) setText(valueToText(op, value));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [op, JSON.stringify(value)]);
  const placeholder = op === 'in' || op === 'nin' ? 'a, b, c' : op === 'between' ? 'low, high' : op === 'within_last' || op === 'more_than_ago' ? '30d' : op === 'before' || op === 'after' ? '2024-01-01T00:00:00Z' : 'value';
  return <input aria-label={label} className="operand" value={text} placeholder={placeholder} onChange={(e) => { setText(e.target.value); onChange(textToValue(op, e.target.value)); }} />;
}

/** attr / op / value, for profile attributes and for an event's `where`. */
function AttrRow({ node, onChange, paths, listId }: { node: Obj; onChange: (n: Obj) => void; paths: readonly string[]; listId: string }) {
  const op = String(node.op ?? 'eq');
  return (
    <div className="row attr-row">
      <input aria-label="attribute path" list={listId} value={String(node.attr ?? '')} onChange={(e) => onChange({ ...node, attr: e.target.value })} />
      <datalist id={listId}>{paths.map((p) => <option key={p} value={p} />)}</datalist>
      <select aria-label="operator" value={op} onChange={(e) => onChange(withOp(node, e.target.value))}>
        {OPS.map((o) => <option key={o} value={o}>{OP_LABELS[o]}</option>)}
      </select>
      {!opTakesNoValue(op) && <OperandInput label="value" op={op} value={node.value} onChange={(v) => onChange({ ...node, value: v })} />}
      {STRING_OPS.includes(op as never) && (
        <label className="inline"><input type="checkbox" checked={node.ignoreCase === true} onChange={(e) => { const n = { ...node }; if (e.target.checked) n.ignoreCase = true; else delete n.ignoreCase; onChange(n); }} /> ignore case</label>
      )}
    </div>
  );
}

/** An event's `where` filters (attr/op/value rows); also a mission goal's. */
export function WhereList({ where, onChange, idBase }: { where: Json | undefined; onChange: (w: Json[] | undefined) => void; idBase: string }) {
  const list = Array.isArray(where) ? where : [];
  return (
    <div className="where">
      {list.map((w, i) => (
        <div key={i} className="row">
          <span className="muted">where</span>
          <AttrRow node={isObj(w) ? w : {}} listId={`${idBase}-w${i}`} paths={EVENT_PATHS} onChange={(n) => onChange(replaceAt(list, i, n))} />
          <button type="button" className="link" aria-label="remove filter" onClick={() => { const next = removeAt(list, i); onChange(next.length ? next : undefined); }}>✕</button>
        </div>
      ))}
      <button type="button" className="small" onClick={() => onChange([...list, { attr: 'properties.path', op: 'eq', value: '' }])}>+ where</button>
    </div>
  );
}

type WindowMode = 'all' | 'within' | 'range' | 'dates';
function windowMode(w: Json | undefined): WindowMode {
  if (!isObj(w)) return 'all';
  if ('within' in w) return 'within';
  if ('from' in w || 'to' in w) return 'range';
  return 'dates';
}

function WindowEditor({ window: w, onChange }: { window: Json | undefined; onChange: (w: Obj | undefined) => void }) {
  const mode = windowMode(w);
  const o = isObj(w) ? w : {};
  const set = (k: string, v: string) => { const n = { ...o }; if (v) n[k] = v; else delete n[k]; onChange(n); };
  return (
    <div className="row">
      <select aria-label="window" value={mode} onChange={(e) => {
        const m = e.target.value as WindowMode;
        onChange(m === 'all' ? undefined : m === 'within' ? { within: '30d' } : m === 'range' ? { from: '37d', to: '7d' } : { after: new Date(Date.now() - 30 * 864e5).toISOString() });
      }}>
        <option value="all">all time</option>
        <option value="within">in the last</option>
        <option value="range">between … and … ago</option>
        <option value="dates">between dates</option>
      </select>
      {mode === 'within' && <input aria-label="within" className="short" value={String(o.within ?? '')} onChange={(e) => set('within', e.target.value)} />}
      {mode === 'range' && <><input aria-label="from" className="short" value={String(o.from ?? '')} onChange={(e) => set('from', e.target.value)} /><span className="muted">to</span><input aria-label="to" className="short" value={String(o.to ?? '')} onChange={(e) => set('to', e.target.value)} /><span className="muted">ago</span></>}
      {mode === 'dates' && <><span className="muted">after</span><input aria-label="after" value={String(o.after ?? '')} onChange={(e) => set('after', e.target.value)} /><span className="muted">before</span><input aria-label="before" value={String(o.before ?? '')} onChange={(e) => set('before', e.target.value)} /></>}
    </div>
  );
}

function EventLeaf({ node, onChange, idBase }: { node: Obj; onChange: (n: Obj) => void; idBase: string }) {
  const agg = isObj(node.agg) ? node.agg : { fn: 'count' };
  const cmp = isObj(node.cmp) ? node.cmp : { op: 'gte', value: 1 };
  const fn = String(agg.fn ?? 'count');
  const cmpOp = String(cmp.op ?? 'gte');
  const setAgg = (a: Obj) => { const n = { ...node }; if (a.fn === 'count' && !a.prop) delete n.agg; else n.agg = a; onChange(n); };
  const setCmp = (c: Obj) => { const n = { ...node }; if (c.op === 'gte' && c.value === 1) delete n.cmp; else n.cmp = c; onChange(n); };
  return (
    <div className="event-leaf">
      <div className="row">
        <span className="muted">event</span>
        <input aria-label="event name" list="strata-event-names" value={String(node.event ?? '')} onChange={(e) => onChange({ ...node, event: e.target.value })} />
        <WindowEditor window={node.window} onChange={(w) => { const n = { ...node }; if (w) n.window = w; else delete n.window; onChange(n); }} />
      </div>
      <WhereList idBase={idBase} where={node.where} onChange={(w) => { const n = { ...node }; if (w) n.where = w; else delete n.where; onChange(n); }} />
      <div className="row">
        <select aria-label="aggregate" value={fn} onChange={(e) => { const f = e.target.value; const a: Obj = { fn: f }; if (['sum', 'avg', 'min', 'max'].includes(f)) a.prop = String(agg.prop ?? 'properties.value'); setAgg(a); }}>
          {AGG_FNS.map((f) => <option key={f} value={f}>{f}</option>)}
        </select>
        {['sum', 'avg', 'min', 'max'].includes(fn) && <input aria-label="aggregate property" value={String(agg.prop ?? '')} onChange={(e) => setAgg({ ...agg, prop: e.target.value })} />}
        <select aria-label="comparison" value={cmpOp} onChange={(e) => setCmp(withOp(cmp, e.target.value))}>
          {CMP_OPS.map((o) => <option key={o} value={o}>{OP_LABELS[o]}</option>)}
        </select>
        {!opTakesNoValue(cmpOp) && <OperandInput label="comparison value" op={cmpOp} value={cmp.value} onChange={(v) => setCmp({ ...cmp, value: v })} />}
      </div>
    </div>
  );
}

function SequenceLeaf({ node, onChange, idBase }: { node: Obj; onChange: (n: Obj) => void; idBase: string }) {
  const steps = Array.isArray(node.sequence) ? node.sequence : [];
  return (
    <div className="event-leaf">
      {steps.map((s, i) => {
        const step = isObj(s) ? s : {};
        return (
          <div key={i} className="step">
            <div className="row">
              <span className="muted">{i + 1}.</span>
              <input aria-label="step event" list="strata-event-names" value={String(step.event ?? '')} onChange={(e) => onChange({ ...node, sequence: replaceAt(steps, i, { ...step, event: e.target.value }) })} />
              <button type="button" className="link" aria-label="remove step" onClick={() => onChange({ ...node, sequence: removeAt(steps, i) })}>✕</button>
            </div>
            <WhereList idBase={`${idBase}-s${i}`} where={step.where} onChange={(w) => { const n = { ...step }; if (w) n.where = w; else delete n.where; onChange({ ...node, sequence: replaceAt(steps, i, n) }); }} />
          </div>
        );
      })}
      <button type="button" className="small" onClick={() => onChange({ ...node, sequence: [...steps, { event: '' }] })}>+ step</button>
      <WindowEditor window={node.window} onChange={(w) => { const n = { ...node }; if (w) n.window = w; else delete n.window; onChange(n); }} />
      <div className="row">
        <span className="muted">max gap</span>
        <input aria-label="max gap" className="short" placeholder="none" value={String(node.maxGap ?? '')} onChange={(e) => { const n = { ...node }; if (e.target.value) n.maxGap = e.target.value; else delete n.maxGap; onChange(n); }} />
      </div>
    </div>
  );
}

/** One node of the condition, and (for groups) its children. */
export function ConditionNode({ value, onChange, onRemove, path, highlights, segments }: NodeProps) {
  const kind: Kind = kindOf(value);
  const node: Obj = isObj(value) ? value : {};
  const hl = pathHighlighted(highlights, path);
  const idBase = `c${path.replace(/\//g, '-')}`;
  const child = (v: Json, p: string, change: (v: Json) => void, remove?: () => void) => (
    <ConditionNode key={p} value={v} path={p} onChange={change} onRemove={remove} highlights={highlights} segments={segments} />
  );
  let body: React.ReactNode;
  switch (kind) {
    case 'all':
    case 'any': {
      const list = Array.isArray(node[kind]) ? (node[kind] as Json[]) : [];
      body = (
        <div className="group-body">
          {list.length === 0 && <p className="muted">{kind === 'all' ? 'Empty: matches everyone.' : 'Empty: matches no one.'}</p>}
          {list.map((c, i) => child(c, `${path}/${kind}/${i}`, (v) => onChange({ ...node, [kind]: replaceAt(list, i, v) }), () => onChange({ ...node, [kind]: removeAt(list, i) })))}
          <div className="row">
            <button type="button" className="small" onClick={() => onChange({ ...node, [kind]: [...list, defaultOf('attr')] })}>+ attribute</button>
            <button type="button" className="small" onClick={() => onChange({ ...node, [kind]: [...list, defaultOf('event')] })}>+ event</button>
            <button type="button" className="small" onClick={() => onChange({ ...node, [kind]: [...list, defaultOf(kind === 'all' ? 'any' : 'all')] })}>+ group</button>
          </div>
        </div>
      );
      break;
    }
    case 'not':
      // A negation is not a fault: a neutral box that says what it does.
      body = <div className="group-body"><p className="negation-hint">Matches users for whom this does <strong>not</strong> hold:</p>{child(node.not ?? null, `${path}/not`, (v) => onChange({ not: v }))}</div>;
      break;
    case 'attr':
      body = <AttrRow node={node} onChange={onChange} paths={PROFILE_PATHS} listId={`${idBase}-paths`} />;
      break;
    case 'event':
      body = <EventLeaf node={node} onChange={onChange} idBase={idBase} />;
      break;
    case 'sequence':
      body = <SequenceLeaf node={node} onChange={onChange} idBase={idBase} />;
      break;
    case 'segment':
      body = (
        <select aria-label="segment" value={String(node.segment ?? '')} onChange={(e) => onChange({ segment: e.target.value })}>
          <option value="">— choose a segment —</option>
          {segments.map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
          {node.segment && !segments.some((s) => s.id === node.segment) ? <option value={String(node.segment)}>{String(node.segment)}</option> : null}
        </select>
      );
      break;
    case 'bucket': {
      const b = isObj(node.bucket) ? node.bucket : {};
      const set = (k: string, v: Json) => onChange({ bucket: { ...b, [k]: v } });
      body = (
        <div className="row">
          <span className="muted">salt</span><input aria-label="salt" value={String(b.salt ?? '')} onChange={(e) => set('salt', e.target.value)} />
          <span className="muted">from</span><input aria-label="bucket from" type="number" className="short" min={0} max={10000} value={Number(b.from ?? 0)} onChange={(e) => set('from', Number(e.target.value))} />
          <span className="muted">to</span><input aria-label="bucket to" type="number" className="short" min={0} max={10000} value={Number(b.to ?? 0)} onChange={(e) => set('to', Number(e.target.value))} />
          <span className="muted">of 10000 ({(((Number(b.to ?? 0) - Number(b.from ?? 0)) / 100) || 0).toFixed(1)}%)</span>
        </div>
      );
      break;
    }
    default:
      body = <p className="error">Not a condition the builder knows; edit it in the JSON view.</p>;
  }
  return (
    <div className={`node node-${kind}${hl ? ' highlight' : ''}`} data-path={path || '/'}>
      <div className="node-head">
        <select aria-label="condition kind" value={kind} onChange={(e) => {
          const k = e.target.value as Exclude<Kind, 'unknown'>;
          // Switching between AND and OR keeps the children; NOT wraps the current node.
          if ((k === 'all' || k === 'any') && (kind === 'all' || kind === 'any')) onChange({ [k]: node[kind] ?? [] });
          else if (k === 'not' && kind !== 'unknown') onChange({ not: value });
          else onChange(defaultOf(k));
        }}>
          {kind === 'unknown' && <option value="unknown">?</option>}
          {KINDS.map((k) => <option key={k.kind} value={k.kind}>{k.label}</option>)}
        </select>
        {onRemove && <button type="button" className="link remove" aria-label="remove condition" onClick={onRemove}>Remove</button>}
      </div>
      {body}
    </div>
  );
}

/** Builder and JSON view of one condition, kept in step. */
export function ConditionEditor({ value, onChange, highlights, segments }: { value: Json; onChange: (v: Json) => void; highlights: readonly string[]; segments: readonly SegmentRef[] }) {
  const [mode, setMode] = useState<'builder' | 'json'>('builder');
  const [text, setText] = useState(() => JSON.stringify(value, null, 2));
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (mode === 'builder') setText(JSON.stringify(value, null, 2));
  }, [value, mode]);
  return (
    <div className="condition-editor">
      <div className="tabs" role="tablist">
        <button type="button" role="tab" aria-selected={mode === 'builder'} className={mode === 'builder' ? 'active' : ''} disabled={error !== null && mode === 'json'} onClick={() => setMode('builder')}>Builder</button>
        <button type="button" role="tab" aria-selected={mode === 'json'} className={mode === 'json' ? 'active' : ''} onClick={() => { setText(JSON.stringify(value, null, 2)); setError(null); setMode('json'); }}>JSON</button>
      </div>
      <datalist id="strata-event-names">{['*', '$pageview', '$screen', '$identify', '$session', '$experience_viewed', '$segment_entered', '$segment_exited', '$mission_completed', 'add_to_cart', 'purchase'].map((e) => <option key={e} value={e} />)}</datalist>
      {mode === 'builder'
        ? <ConditionNode value={value} onChange={onChange} path="" highlights={highlights} segments={segments} />
        : (
          <div>
            <textarea aria-label="condition JSON" className="json" spellCheck={false} value={text} rows={Math.min(30, Math.max(8, text.split('\n').length + 1))} onChange={(e) => {
              setText(e.target.value);
              const r = parseJson(e.target.value);
              if (r.ok) { setError(null); onChange(r.value); } else setError(r.error);
            }} />
            {error && <p className="error">JSON: {error}</p>}
          </div>
        )}
    </div>
  );
}
