import type { Condition, EventNode, ProfilePath, SegmentNode, SequenceNode } from './ast.ts';
import { assertNever } from './ast.ts';
import type { EventRecord, ProfileRecord } from './data.ts';
import { compileCondition, compilePredicate, type SegmentResolver } from './evaluate.ts';
import type { Bitset } from './bits.ts';
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

/**
 * A column-wise view of many profiles for bulk evaluation: each attribute a condition reads
 * is dictionary-encoded once, so an operator runs once per distinct value (with the very
 * predicate the per-profile evaluator uses) and each profile costs one table lookup.
 */
export class ProfileColumns {
  private readonly columns = new Map<string, Column>();
  constructor(readonly profiles: readonly ProfileRecord[]) {}

  get size(): number {
    return this.profiles.length;
  }

  /** The encoded column of a path (built on first use). */
  column(path: ProfilePath): Column {
    const key = pathKey(path);
    let col = this.columns.get(key);
    if (col) return col;
    const codes = new Int32Array(this.profiles.length);
    const dict = new Dictionary();
    for (let i = 0; i < this.profiles.length; i++) codes[i] = dict.code(read(this.profiles[i]!, path));
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
}

/** Evaluates a condition for every profile of `cols` at once; same semantics as compileCondition. */
export function evaluateColumns(c: Condition, cols: ProfileColumns, now: number, opts: BulkOptions = {}): Bitset {
  const n = cols.size;
  const words = (n + 31) >>> 5;
  const tail = n & 31 ? (1 << (n & 31)) - 1 : 0xffffffff;
  const perProfile = (node: Condition): Bitset => {
    const f = compileCondition(node, opts.resolve);
    const out = new Uint32Array(words);
    const none: readonly EventRecord[] = [];
    for (let i = 0; i < n; i++) if (f(cols.profiles[i]!, opts.events?.(i) ?? none, now)) out[i >>> 5]! |= 1 << (i & 31);
    return out;
  };
  const rec = (node: Condition): Bitset => {
    switch (node.kind) {
      case 'all': {
        const out = new Uint32Array(words).fill(0xffffffff);
        out[words - 1]! &= tail;
        for (const child of node.children) {
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
