import { limitText, LIMITS } from './limits.ts';
import { MAX_DEPTH } from './parse.ts';

/**
 * The most levels of objects and arrays a JSON document may nest: a request body, a line of
 * an import file, a stored value (properties, traits, context, a condition). `{}` is one level.
 *
 * The deepest valid condition (MAX_DEPTH levels of `all`, then an event leaf with a `where`
 * list) is 2 × MAX_DEPTH + 4 = 68 levels, inside a body a few more: the limit leaves room
 * for it, so a condition is refused by its own rule (with its path) before this one applies.
 * Far below the depths that break JSON.stringify (thousands) and SQLite's JSON (1,000).
 */
export const MAX_JSON_DEPTH = LIMITS.MAX_JSON_DEPTH;

export interface DepthFault {
  /** JSON pointer of the first value past the limit. */
  readonly path: string;
  readonly message: string;
}

/**
 * Whether `value` nests deeper than `max` levels. Iterative (an explicit stack), so a value
 * nested a million levels is checked without recursion. It runs on every stored document
 * read, so it keeps no paths (about a sixth of the cost of the JSON.parse before it).
 */
export function jsonTooDeep(value: unknown, max: number = MAX_JSON_DEPTH): boolean {
  if (value === null || typeof value !== 'object') return false;
  const values: object[] = [value];
  const levels: number[] = [1];
  while (values.length > 0) {
    const v = values.pop()!;
    const level = levels.pop()!;
    if (level > max) return true;
    for (const x of Array.isArray(v) ? v : Object.values(v)) {
      if (x !== null && typeof x === 'object') {
        values.push(x as object);
        levels.push(level + 1);
      }
    }
  }
  return false;
}

/** The first place where `value` nests deeper than `max` levels (a JSON pointer), or null. */
export function jsonDepthFault(value: unknown, max: number = MAX_JSON_DEPTH): DepthFault | null {
  if (!jsonTooDeep(value, max)) return null;
  // Only a refused value pays for the path: one more walk, each container linked to its parent.
  const nodes: { parent: number; key: string }[] = [];
  const stack: { v: object; level: number; parent: number; key: string }[] = [{ v: value as object, level: 1, parent: -1, key: '' }];
  for (;;) {
    const top = stack.pop()!;
    const id = nodes.push({ parent: top.parent, key: top.key }) - 1;
    if (top.level > max) return { path: pointerOf(nodes, id), message: `max nesting depth ${max} exceeded${max === MAX_JSON_DEPTH ? ` (${limitText('MAX_JSON_DEPTH')})` : ''}` };
    const entries = Array.isArray(top.v) ? top.v.map((x, i) => [String(i), x] as const) : Object.entries(top.v);
    for (const [k, x] of entries) {
      if (x !== null && typeof x === 'object') stack.push({ v: x as object, level: top.level + 1, parent: id, key: k });
    }
  }
}

function pointerOf(nodes: readonly { parent: number; key: string }[], id: number): string {
  const parts: string[] = [];
  for (let i = id; nodes[i]!.parent !== -1; i = nodes[i]!.parent) parts.push(nodes[i]!.key.replace(/~/g, '~0').replace(/\//g, '~1'));
  return `/${parts.reverse().join('/')}`;
}
