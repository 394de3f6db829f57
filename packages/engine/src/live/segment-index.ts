/**
 * A project's segments compiled and ordered for the live engine: parsed, compiled to view
 * evaluators, in dependency order (referenced segments first, each at its membership bit), and
 * indexed by the event names, record parts and relative windows they read. Whole (`setSegments`)
 * or, for segments created last, extended in place (`appendSegments`).
 */
import type { Condition, EventPath, ViewCondition } from '@strata/core';
import { compileViewSegment, conditionReads, parseCondition } from '@strata/core';
import type { SegmentRow, SqlStore } from '@strata/store';
import { projectionKey, recordKeys, transitiveReads, windowKey, type ProjectState, type SegmentState } from './project-state.ts';

/** Reads the project's segments and manual lists from the store and compiles them (setSegments). */
export async function loadSegments(tx: SqlStore, ps: ProjectState): Promise<void> {
  setSegments(ps, await tx.listSegments(ps.id), await tx.allManualLists(ps.id));
}

export function setSegments(ps: ProjectState, rows: readonly SegmentRow[], manual: ReadonlyMap<string, { include: ReadonlySet<number>; exclude: ReadonlySet<number> }>): void {
  const old = new Map(ps.segments);
  ps.segments.clear();
  ps.sizes = null;
  ps.rows = [...rows];
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const row of rows) {
    let condition: Condition | null = null;
    if (row.condition !== null) {
      const r = parseCondition(row.condition, { segmentCondition: (id) => (byId.has(id) ? byId.get(id)!.condition : null) });
      condition = r.ok ? r.value : null;
      if (!r.ok) warnNoLongerValid(ps.id, row, r.issues);
    }
    const m = manual.get(row.id);
    ps.segments.set(row.id, {
      row, condition, view: null as unknown as ViewCondition,
      include: new Set([...(m?.include ?? [])].map(String)), exclude: new Set([...(m?.exclude ?? [])].map(String)),
      reads: { names: new Set(), roots: new Set(), timed: false, windows: new Set(), complex: false }, refs: new Set(), idx: -1,
    });
  }
  const before = old.size ? [...old.values()].map((s) => ({ idx: s.idx, now: ps.segments.get(s.row.id) })) : [];
  indexSegments(ps);
  // Membership bits and due lists follow the segments to their new positions.
  const moved = new Int32Array(Math.max(0, ...before.map((b) => b.idx + 1))).fill(-1);
  for (const b of before) if (b.now) moved[b.idx] = b.now.idx;
  // Nothing to move when every old segment kept its position (a segment added last, the usual case).
  const same = before.every((b) => b.now?.idx === b.idx);
  ps.bits.relayout(ps.words, same ? null : moved);
  if (!same) {
    const dues = ps.cols.dues;
    for (const slot of ps.profiles.slots()) if (dues[slot]!.length) dues[slot] = dues[slot]!.map((i) => moved[i] ?? -1).filter((i) => i >= 0);
  }
}

/**
 * New segments (`ids`, just inserted in `tx`) added to the state without touching the others:
 * each is parsed and compiled alone and takes the next positions, and the indexes by what
 * segments read are extended (new objects where segmentsChanged compares before and after).
 * The cost is the new segments', not the project's. False (nothing changed) when this does
 * not apply: an id already held or not stored, a row that does not come last in store order,
 * or a new segment referencing another new one; loadSegments then rebuilds everything.
 */
export async function appendSegments(tx: SqlStore, ps: ProjectState, ids: readonly string[]): Promise<boolean> {
  if (ids.length === 0 || ids.some((id) => ps.segments.has(id))) return false;
  const rows: SegmentRow[] = [];
  for (const id of ids) {
    const r = await tx.getSegment(ps.id, id);
    if (!r) return false;
    rows.push(r);
  }
  // Store order is (created, id); ties are compared only between ids whose order no collation changes.
  const plain = /^seg_[0-9a-f]+$/;
  const order = (a: SegmentRow, b: SegmentRow) => (a.createdAt !== b.createdAt ? a.createdAt - b.createdAt : !plain.test(a.id) || !plain.test(b.id) ? NaN : a.id < b.id ? -1 : 1);
  rows.sort((a, b) => order(a, b) || 0);
  for (let i = 0; i < rows.length; i++) {
    const prev = i === 0 ? ps.rows[ps.rows.length - 1] : rows[i - 1];
    if (prev && !(order(prev, rows[i]!) < 0)) return false;
  }
  const fresh = new Set(ids);
  const parsed: (Condition | null)[] = [];
  for (const row of rows) {
    let condition: Condition | null = null;
    if (row.condition !== null) {
      const r = parseCondition(row.condition, { segmentCondition: (id) => ps.segments.get(id)?.row.condition ?? (fresh.has(id) ? rows.find((x) => x.id === id)!.condition : null) });
      condition = r.ok ? r.value : null;
      if (!r.ok) warnNoLongerValid(ps.id, row, r.issues);
    }
    if (condition && [...conditionReads(condition).segments].some((id) => fresh.has(id))) return false;
    parsed.push(condition);
  }
  const manual = new Map<string, { include: number[]; exclude: number[] }>();
  for (const row of rows) manual.set(row.id, await tx.manualProfileIds(ps.id, row.id));
  const resolve = (id: string) => ps.segments.get(id)?.view;
  const push = <K>(m: Map<K, number[]>, k: K, i: number) => { const l = m.get(k); if (l) l.push(i); else m.set(k, [i]); };
  const keep = { traits: new Set(ps.keep.traits), context: new Set(ps.keep.context) };
  const tracked = new Map(ps.tracked);
  const list = [...ps.list];
  for (const [n, row] of rows.entries()) {
    const condition = parsed[n]!;
    const m = manual.get(row.id)!;
    const include = new Set(m.include.map(String)), exclude = new Set(m.exclude.map(String));
    const o = condition ? conditionReads(condition) : null;
    const reads = transitiveReads(o, ps.segments);
    const { names, roots, timed, windows, complex } = reads;
    const s: SegmentState = {
      row, condition, view: compileViewSegment(condition, include, exclude, resolve, ps.leaves), include, exclude,
      reads, refs: o?.segments ?? new Set(), idx: list.length,
    };
    ps.segments.set(row.id, s);
    list.push(s);
    ps.named.set(row.name, row);
    for (const r of s.refs) { const l = ps.referrers.get(r); if (l) l.push(s); else ps.referrers.set(r, [s]); }
    for (const x of names) push(ps.byName, x, s.idx);
    for (const x of roots) push(ps.byRoot, x, s.idx);
    if (timed) {
      ps.timedSegments.push(s);
      if (complex) ps.complexTimed.push(s);
      for (const k of windows) {
        let w = ps.windowByKey.get(k);
        if (!w) {
          const d = o!.windows.find((x) => windowKey(x) === k)!;
          ps.windowByKey.set(k, (w = { name: d.name, fromMs: d.fromMs, toMs: d.toMs, segs: [], pass: -1, next: Infinity }));
          ps.windows = [...ps.windows, w];
        }
        w.segs = [...w.segs, s.idx];
      }
    }
    if (condition) recordKeys(condition, keep);
    for (const [x, paths] of o?.paths ?? []) {
      const add = projectionKey(paths), had = tracked.get(x);
      tracked.set(x, had ? { props: new Set([...had.props, ...add.props]), ctx: new Set([...had.ctx, ...add.ctx]) } : add);
    }
  }
  ps.list = list;
  if (ps.sizes) { const sizes = new Float64Array(list.length); sizes.set(ps.sizes); ps.sizes = sizes; }
  ps.rows = [...ps.rows, ...rows];
  ps.keep = keep;
  ps.tracked = tracked;
  ps.mark = new Uint8Array(list.length);
  const words = Math.max(1, Math.ceil(list.length / 32));
  if (words !== ps.words) {
    ps.words = words;
    ps.bits.relayout(words, null);
  }
  return true;
}

/** Compiles the segments and indexes them by what they read. */
function indexSegments(ps: ProjectState): void {
  const resolve = (id: string) => ps.segments.get(id)?.view;
  const own = new Map<string, ReturnType<typeof conditionReads> | null>();
  ps.leaves = new Map();
  for (const [id, s] of ps.segments) {
    s.view = compileViewSegment(s.condition, s.include, s.exclude, resolve, ps.leaves);
    const reads = s.condition ? conditionReads(s.condition) : null;
    own.set(id, reads);
    s.refs = reads?.segments ?? new Set();
  }
  // Topological order and transitive reads.
  const winDefs = new Map<string, { name: string | null; fromMs: number; toMs: number }>();
  const order: string[] = [];
  const done = new Set<string>();
  const visit = (id: string, stack: Set<string>) => {
    if (done.has(id) || stack.has(id) || !ps.segments.has(id)) return;
    stack.add(id);
    for (const r of own.get(id)?.segments ?? []) visit(r, stack);
    stack.delete(id);
    done.add(id);
    order.push(id);
    const s = ps.segments.get(id)!;
    const o = own.get(id);
    for (const w of o?.windows ?? []) if (!winDefs.has(windowKey(w))) winDefs.set(windowKey(w), w);
    s.reads = transitiveReads(o, ps.segments);
  };
  for (const id of ps.segments.keys()) visit(id, new Set());
  ps.keep = { traits: new Set(), context: new Set() };
  for (const s of ps.segments.values()) if (s.condition) recordKeys(s.condition, ps.keep);
  ps.list = order.map((id) => ps.segments.get(id)!);
  ps.named = new Map(ps.list.map((s) => [s.row.name, s.row]));
  ps.referrers = new Map();
  for (const s of ps.list) for (const r of s.refs) { const l = ps.referrers.get(r); if (l) l.push(s); else ps.referrers.set(r, [s]); }
  ps.list.forEach((s, i) => { s.idx = i; });
  ps.words = Math.max(1, Math.ceil(ps.list.length / 32));
  ps.mark = new Uint8Array(ps.list.length);
  ps.byName = new Map();
  ps.byRoot = new Map();
  const push = <K>(m: Map<K, number[]>, k: K, i: number) => { const l = m.get(k); if (l) l.push(i); else m.set(k, [i]); };
  for (const s of ps.list) {
    for (const n of s.reads.names) push(ps.byName, n, s.idx);
    for (const r of s.reads.roots) push(ps.byRoot, r, s.idx);
  }
  ps.timedSegments = ps.list.filter((s) => s.reads.timed);
  ps.complexTimed = ps.timedSegments.filter((s) => s.reads.complex);
  ps.windowByKey = new Map();
  for (const s of ps.timedSegments) {
    for (const k of s.reads.windows) {
      let w = ps.windowByKey.get(k);
      if (!w) { const d = winDefs.get(k)!; ps.windowByKey.set(k, (w = { name: d.name, fromMs: d.fromMs, toMs: d.toMs, segs: [], pass: -1, next: Infinity })); }
      w.segs = [...w.segs, s.idx];
    }
  }
  ps.windows = [...ps.windowByKey.values()];
  const paths = new Map<string | null, EventPath[]>();
  for (const c of own.values()) {
    if (!c) continue;
    for (const [n, ps2] of c.paths) paths.set(n, [...(paths.get(n) ?? []), ...ps2]);
  }
  ps.tracked = new Map([...paths].map(([n, p]) => [n, projectionKey(p)]));
}

const warnedNoLongerValid = new Set<string>();

/**
 * A stored condition that a rule tightened since it was saved now refuses (a `matches`
 * pattern over the program bound, say) matches nobody until it is edited; the operator
 * hears of it once per version of the segment, not on every reload.
 */
function warnNoLongerValid(projectId: string, row: SegmentRow, issues: readonly { path: string; message: string }[]): void {
  const key = `${projectId}\u0000${row.id}\u0000${row.updatedAt}`;
  if (warnedNoLongerValid.has(key)) return;
  warnedNoLongerValid.add(key);
  console.warn(`strata: segment ${row.id} ("${row.name}") of project ${projectId} no longer validates and matches nobody until it is edited: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`);
}
