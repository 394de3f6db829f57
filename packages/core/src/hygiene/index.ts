/** Static segment hygiene: canonical form (DUPLICATE) and contradiction finding (CONTRADICTION). */
export { canonicalize, canonicalKey, toConditionJson } from './canonical.ts';
export type { CanonicalAgg, CanonicalCmp, CanonicalLeaf, CanonicalNode, CanonicalWhere, SegmentLookup } from './canonical.ts';
export { findContradiction } from './contradiction.ts';
export type { Contradiction, ContradictionOptions } from './contradiction.ts';
export type { CountSet } from './value-sets.ts';
