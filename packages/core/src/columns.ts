import type { AttrNode, Condition, EventNode, ProfilePath, SegmentNode, SequenceNode } from './ast.ts';
import { assertNever } from './ast.ts';
import type { EventRecord, ProfileRecord } from './data.ts';
import { compileCondition, compilePredicate, type SegmentResolver } from './evaluate.ts';
import { popcount, type Bitset } from './bits.ts';
import { Dictionary } from './dictionary.ts';
import { evaluateEventLeaf, type EventColumns } from './event-columns.ts';

/** One dictionary-encoded attribute: `values[codes[i]]` is the value of profile i. */
interface Column {
  readonly codes: Int32Array;
  readonly values: readonly unknown[];
}

const pathKey = (p: ProfilePath) => (p.kind === 'field' ? p.field : `${p.root}.${p.keys.join('.')}`);

function read(p: ProfileRecord, path: ProfilePath): unknown {
  if (path.kind === 'field') {
    switch (path.field) {
      case 'userId': return p.userId;
      case 'anonymousId': return p.anonymousId;
      case 'known': return p.userId !== null;
      case 'firstSeen': return p.firstSeen;
      case 'lastSeen': return p.lastSeen;
      case 'labels': return p.labels;
    }
  }
  let cur: unknown = path.root === 'traits' ? p.traits : p.context;
  for (const k of path.keys) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return typeof cur === 'function' ? undefined : cur;
}

/** Distinct traits or context objects remembered while a column is built (see ProfileColumns.column). */
const SHARED_ROOTS = 4096;

/**
 * A column-wise view of many profiles for bulk evaluation: each attribute a condition reads
 * is dictionary-encoded once, so an operator runs once per distinct value (with the very
 * predicate the per-profile evaluator uses) and each profile costs one table lookup.
 */
export class ProfileColumns {
  private readonly columns = new Map<string, Column>();
  readonly size: number;
  /** The record of profile i. */
  readonly profile: (i: number) => ProfileRecord;
  /** The profiles: an array, or their count and a reader (records held elsewhere, read only where needed). */
  constructor(profiles: readonly ProfileRecord[] | { readonly size: number; readonly profile: (i: number) => ProfileRecord }) {
    if (Array.isArray(profiles)) {
      const list = profiles as readonly ProfileRecord[];
      this.size = list.length;
      this.profile = (i) => list[i]!;
    } else {
      const src = profiles as { readonly size: number; readonly profile: (i: number) => ProfileRecord };
      this.size = src.size;
      this.profile = src.profile;
    }
  }

  /** Whether the column of a path is built already. */
  has(path: ProfilePath): boolean {
    return this.columns.has(pathKey(path));
  }

  /** The encoded column of a path (built on first use). */
  column(path: ProfilePath): Column {
    const key = pathKey(path);
    let col = this.columns.get(key);
    if (col) return col;
    const codes = new Int32Array(this.size);
    const dict = new Dictionary();
    if (path.kind === 'json') {
      // Records often share their traits or context object (the live engine keeps one object
      // per distinct kept part): a value is read and coded once per such object, while they
      // stay few (records are never changed in place).
      const byRoot = new Map<object, number>();
      const root = path.root;
      for (let i = 0; i < this.size; i++) {
        const p = this.profile(i), o = root === 'traits' ? p.traits : p.context;
        let code = byRoot.get(o);
        if (code === undefined) {
          code = dict.code(read(p, path));
          if (byRoot.size < SHARED_ROOTS) byRoot.set(o, code);
        }
        codes[i] = code;
      }
    } else for (let i = 0; i < this.size; i++) codes[i] = dict.code(read(this.profile(i), path));
    col = { codes, values: dict.values };
    this.columns.set(key, col);
    return col;
  }
}

export { hasBit, popcount, popcount32, type Bitset } from './bits.ts';


export interface BulkOptions {
  /** Events of profile i, for behavioural nodes (evaluated per profile). */
  readonly events?: (i: number) => readonly EventRecord[];
  readonly resolve?: SegmentResolver;
  /** The same events in columns (`EventColumns.of`): the event leaves they cover are evaluated from them in one pass. */
  readonly eventColumns?: EventColumns;
  /**
   * Evaluates a behavioural or segment node for every profile of the columns by other means
   * (the live engine: from its own event lists, list-leaves.ts); undefined: as without it.
   */
  readonly leaf?: (node: EventNode | SequenceNode | SegmentNode) => Bitset | undefined;
  /**
   * An attribute leaf under `all` whose column is not built yet is tested profile by profile
   * on the profiles its siblings left in when they are fewer than this share of all (default
   * 1/16); otherwise its column is built.
   */
  readonly sparse?: number;
}

/** Evaluates a condition for every profile of `cols` at once; same semantics as compileCondition. */
export function evaluateColumns(c: Condition, cols: ProfileColumns, now: number, opts: BulkOptions = {}): Bitset {
  const n = cols.size;
  const words = (n + 31) >>> 5;
  const tail = n & 31 ? (1 << (n & 31)) - 1 : 0xffffffff;
  const sparse = opts.sparse ?? 1 / 16;
  const perProfile = (node: Condition): Bitset => {
    const f = compileCondition(node, opts.resolve);
    const out = new Uint32Array(words);
    const none: readonly EventRecord[] = [];
    for (let i = 0; i < n; i++) if (f(cols.profile(i), opts.events?.(i) ?? none, now)) out[i >>> 5]! |= 1 << (i & 31);
    return out;
  };
  /** Clears the profiles of `into` for which an attribute leaf does not hold, reading their records one by one. */
  const sparseAttr = (node: AttrNode, into: Bitset) => {
    const test = compilePredicate(node.predicate);
    for (let w = 0; w < words; w++) {
      let m = into[w]!;
      while (m !== 0) {
        const bit = m & -m;
        m ^= bit;
        if (!test(read(cols.profile((w << 5) + 31 - Math.clz32(bit)), node.path), now)) into[w]! &= ~bit;
      }
    }
  };
  const rec = (node: Condition): Bitset => {
    switch (node.kind) {
      case 'all': {
        const out = new Uint32Array(words).fill(0xffffffff);
        out[words - 1]! &= tail;
        // Attribute leaves last: when the others leave few profiles in (a behavioural leaf
        // usually does), each is tested on those only, with no column built.
        const attrs = node.children.filter((x) => x.kind === 'attr');
        for (const child of node.children) {
          if (child.kind === 'attr') continue;
          const b = rec(child);
          for (let w = 0; w < words; w++) out[w]! &= b[w]!;
        }
        for (const child of attrs) {
          if (!cols.has(child.path) && popcount(out) < sparse * n) { sparseAttr(child, out); continue; }
          const b = rec(child);
          for (let w = 0; w < words; w++) out[w]! &= b[w]!;
        }
        if (words) out[words - 1]! &= tail;
        return out;
      }
      case 'any': {
        const out = new Uint32Array(words);
        for (const child of node.children) {
          const b = rec(child);
          for (let w = 0; w < words; w++) out[w]! |= b[w]!;
        }
        return out;
      }
      case 'not': {
        const b = rec(node.child);
        for (let w = 0; w < words; w++) b[w] = ~b[w]!;
        if (words) b[words - 1]! &= tail;
        return b;
      }
      case 'attr': {
        const { codes, values } = cols.column(node.path);
        const test = compilePredicate(node.predicate);
        const lut = new Uint8Array(values.length);
        for (let k = 0; k < values.length; k++) lut[k] = test(values[k], now) ? 1 : 0;
        const out = new Uint32Array(words);
        for (let w = 0; w < words; w++) {
          const base = w << 5;
          const end = Math.min(32, n - base);
          let bits = 0;
          for (let j = 0; j < end; j++) bits |= lut[codes[base + j]!]! << j;
          out[w] = bits;
        }
        return out;
      }
      case 'event':
        return opts.leaf?.(node) ?? (opts.eventColumns?.covers(node) ? evaluateEventLeaf(node, opts.eventColumns, now) : perProfile(node));
      case 'sequence':
      case 'segment':
        return opts.leaf?.(node) ?? perProfile(node);
      case 'bucket':
        return perProfile(node);
      default:
        return assertNever(node);
    }
  };
  return rec(c);
}
