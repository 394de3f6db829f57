/**
 * The parsed, validated form of a condition. The JSON of the condition language (docs/reference.md §3) is the wire format; it is
 * parsed once (parse.ts) into this tagged, readonly tree, and the evaluator, the SQL
 * compiler and the UI switch on `kind`.
 */

export type Scalar = string | number | boolean;

export type ProfileField = 'userId' | 'anonymousId' | 'known' | 'firstSeen' | 'lastSeen' | 'labels';

/** A path over a profile: a fixed field, or a JSON path into traits/context. */
export type ProfilePath =
  | { readonly kind: 'field'; readonly field: ProfileField }
  | { readonly kind: 'json'; readonly root: 'traits' | 'context'; readonly keys: readonly string[] };

/** A path over an event: its name, its timestamp, or a JSON path into properties/context. */
export type EventPath =
  | { readonly kind: 'field'; readonly field: 'event' | 'timestamp' }
  | { readonly kind: 'json'; readonly root: 'properties' | 'context'; readonly keys: readonly string[] };

/** Positive operators; every negative operator is `{negated: true}` on one of these. */
export type Test =
  | { readonly op: 'eq'; readonly value: Scalar }
  | { readonly op: 'in'; readonly values: readonly Scalar[] }
  | { readonly op: 'gt' | 'gte' | 'lt' | 'lte'; readonly value: string | number }
  | { readonly op: 'between'; readonly lo: string | number; readonly hi: string | number }
  | { readonly op: 'contains' | 'starts_with' | 'ends_with'; readonly value: string }
  | { readonly op: 'matches'; readonly pattern: string }
  | { readonly op: 'exists' }
  | { readonly op: 'before' | 'after'; readonly time: number }
  | { readonly op: 'within_last' | 'more_than_ago'; readonly ms: number };

export type TestOp = Test['op'];

/** One operator application: `negated` flips the positive test (neq, nin, not_contains, not_exists). */
export interface Predicate {
  readonly test: Test;
  readonly negated: boolean;
  readonly ignoreCase: boolean;
}

export type Window =
  | { readonly kind: 'all' }
  /** now − fromMs < t ≤ now − toMs */
  | { readonly kind: 'relative'; readonly fromMs: number; readonly toMs: number }
  /** after ≤ t < before */
  | { readonly kind: 'absolute'; readonly after: number | null; readonly before: number | null };

export type Agg =
  | { readonly fn: 'count' | 'distinctDays' | 'firstAt' | 'lastAt' }
  | { readonly fn: 'sum' | 'avg' | 'min' | 'max'; readonly prop: EventPath };

export interface WhereClause {
  readonly path: EventPath;
  readonly predicate: Predicate;
}

export interface AllNode { readonly kind: 'all'; readonly children: readonly Condition[] }
export interface AnyNode { readonly kind: 'any'; readonly children: readonly Condition[] }
export interface NotNode { readonly kind: 'not'; readonly child: Condition }
export interface AttrNode { readonly kind: 'attr'; readonly path: ProfilePath; readonly predicate: Predicate }
export interface EventNode {
  readonly kind: 'event';
  /** null matches every non-derived event (`"*"`). */
  readonly name: string | null;
  readonly where: readonly WhereClause[];
  readonly window: Window;
  readonly agg: Agg;
  readonly cmp: Predicate;
}
export interface SequenceStep { readonly name: string | null; readonly where: readonly WhereClause[] }
export interface SequenceNode {
  readonly kind: 'sequence';
  readonly steps: readonly SequenceStep[];
  readonly window: Window;
  readonly maxGapMs: number | null;
}
export interface SegmentNode { readonly kind: 'segment'; readonly id: string }
export interface BucketNode { readonly kind: 'bucket'; readonly salt: string; readonly from: number; readonly to: number }

export type Condition =
  | AllNode
  | AnyNode
  | NotNode
  | AttrNode
  | EventNode
  | SequenceNode
  | SegmentNode
  | BucketNode;

export type ConditionKind = Condition['kind'];

/** For exhaustive switches over `kind`. */
export function assertNever(x: never): never {
  throw new Error(`unexpected node ${JSON.stringify(x)}`);
}

/** Visits every node depth-first (parents before children). */
export function walk(c: Condition, visit: (node: Condition) => void): void {
  visit(c);
  switch (c.kind) {
    case 'all':
    case 'any':
      for (const child of c.children) walk(child, visit);
      return;
    case 'not':
      walk(c.child, visit);
      return;
    case 'attr':
    case 'event':
    case 'sequence':
    case 'segment':
    case 'bucket':
      return;
    default:
      assertNever(c);
  }
}

/** Ids of the segments a condition references directly. */
export function referencedSegments(c: Condition): string[] {
  const ids = new Set<string>();
  walk(c, (n) => {
    if (n.kind === 'segment') ids.add(n.id);
  });
  return [...ids];
}
