/** A form generated from a template's parameter list (type and constraints). */
import type { Json, TemplateParam } from './types.ts';

/** Client-side check of one parameter value; the server checks again (400 at /params/<name>). */
export function paramFault(p: TemplateParam, v: Json | undefined): string | null {
  if (v === undefined) return null;
  const durMs = (d: string) => { const m = /^(\d+)([mhdw])$/.exec(d); return m ? Number(m[1]) * { m: 6e4, h: 36e5, d: 864e5, w: 6048e5 }[m[2] as 'm'] : NaN; };
  switch (p.type) {
    case 'number':
    case 'integer':
      if (typeof v !== 'number' || Number.isNaN(v)) return 'a number is needed';
      if (p.type === 'integer' && !Number.isInteger(v)) return 'a whole number is needed';
      if (typeof p.min === 'number' && v < p.min) return `at least ${p.min}`;
      if (typeof p.max === 'number' && v > p.max) return `at most ${p.max}`;
      return null;
    case 'duration': {
      if (typeof v !== 'string' || Number.isNaN(durMs(v))) return 'a duration such as 30d, 12h, 2w';
      if (typeof p.min === 'string' && durMs(v) < durMs(p.min)) return `at least ${p.min}`;
      if (typeof p.max === 'string' && durMs(v) > durMs(p.max)) return `at most ${p.max}`;
      return null;
    }
    case 'string[]': {
      if (!Array.isArray(v)) return 'a list is needed';
      if (p.minItems !== undefined && v.length < p.minItems) return `at least ${p.minItems} item(s)`;
      if (p.maxItems !== undefined && v.length > p.maxItems) return `at most ${p.maxItems} items`;
      if (p.itemPattern) { const re = new RegExp(p.itemPattern); const bad = v.find((x) => !re.test(String(x))); if (bad !== undefined) return `"${String(bad)}" does not match ${p.itemPattern}`; }
      return null;
    }
    case 'enum':
      return p.options && !p.options.includes(String(v)) ? `one of ${p.options.join(', ')}` : null;
    case 'date':
      return typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? null : 'an ISO date-time';
    default: {
      const s = String(v);
      if (p.minLength !== undefined && s.length < p.minLength) return `at least ${p.minLength} characters`;
      if (p.maxLength !== undefined && s.length > p.maxLength) return `at most ${p.maxLength} characters`;
      if (p.pattern && !new RegExp(p.pattern).test(s)) return `must match ${p.pattern}`;
      return null;
    }
  }
}

function ParamInput({ p, value, onChange }: { p: TemplateParam; value: Json | undefined; onChange: (v: Json) => void }) {
  const v = value === undefined ? p.default : value;
  const common = { id: `param-${p.name}`, name: p.name, 'aria-label': p.label };
  switch (p.type) {
    case 'number':
    case 'integer':
      return <input {...common} type="number" step={p.type === 'integer' ? 1 : 'any'} min={typeof p.min === 'number' ? p.min : undefined} max={typeof p.max === 'number' ? p.max : undefined} value={v === null || v === undefined ? '' : String(v)} onChange={(e) => onChange(e.target.value === '' ? null : Number(e.target.value))} />;
    case 'enum':
      return <select {...common} value={String(v ?? '')} onChange={(e) => onChange(e.target.value)}>{(p.options ?? []).map((o) => <option key={o} value={o}>{o}</option>)}</select>;
    case 'string[]':
      return <input {...common} value={Array.isArray(v) ? v.join(', ') : ''} placeholder="comma-separated" onChange={(e) => onChange(e.target.value.split(',').map((s) => s.trim()).filter(Boolean))} />;
    case 'date':
      return <input {...common} value={String(v ?? '')} placeholder="2024-12-01T00:00:00Z" onChange={(e) => onChange(e.target.value)} />;
    case 'duration':
      return <input {...common} className="short" value={String(v ?? '')} pattern="\d+[mhdw]" placeholder="30d" onChange={(e) => onChange(e.target.value)} />;
    default:
      return <input {...common} value={String(v ?? '')} minLength={p.minLength} maxLength={p.maxLength} onChange={(e) => onChange(e.target.value)} />;
  }
}

export function ParamsForm({ params, values, onChange }: { params: readonly TemplateParam[]; values: Record<string, Json>; onChange: (v: Record<string, Json>) => void }) {
  if (!params.length) return <p className="muted">This template has no parameters.</p>;
  return (
    <div className="params-form">
      {params.map((p) => {
        const fault = paramFault(p, values[p.name]);
        return (
          <div key={p.name} className="field">
            <label htmlFor={`param-${p.name}`}>{p.label} <span className="muted">({p.type})</span></label>
            <ParamInput p={p} value={values[p.name]} onChange={(v) => onChange({ ...values, [p.name]: v })} />
            {p.description && <small className="muted">{p.description}</small>}
            {fault && <small className="error">{fault}</small>}
          </div>
        );
      })}
    </div>
  );
}
