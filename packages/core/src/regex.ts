import { RE2JS } from 're2js';
import { limitText, LIMITS } from './limits.ts';
import { foldCase } from './values.ts';

export const MAX_PATTERN_LENGTH = LIMITS.MAX_PATTERN_LENGTH;
/**
 * The most instructions a pattern may compile to. Matching costs about one step per
 * instruction per character read, and repeats multiply (`((a?){1,10}){1,100}` is 5,202
 * instructions), so the source length alone does not bound the cost.
 */
export const MAX_PROGRAM_SIZE = LIMITS.MAX_PROGRAM_SIZE;
/**
 * A pattern reads only the first this-many characters (code points) of a value, as if the
 * value ended there. With MAX_PROGRAM_SIZE this bounds one evaluation to about half a million
 * steps (under 10 ms on an idle core).
 */
export const MATCH_INPUT_LIMIT = LIMITS.MATCH_INPUT_LIMIT;
const ESCAPABLE = new Set('.^$|?*+()[]{}\\/-'.split(''));
const CLASS_ESCAPES = new Set('dDwWsS'.split(''));

/**
 * Checks a `matches` pattern against the portable subset of docs/conditions.md (the syntax
 * RE2, SQLite's registered matcher and PostgreSQL's ARE all read the same way).
 * Returns a message for the first fault, or null.
 */
export function checkPattern(p: string): string | null {
  if (p.length > MAX_PATTERN_LENGTH) return `pattern is longer than ${MAX_PATTERN_LENGTH} characters (${limitText('MAX_PATTERN_LENGTH')})`;
  let depth = 0;
  let prevQuantifiable = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\') {
      const n = p[i + 1];
      if (n === undefined) return 'pattern ends with a lone backslash';
      if (!ESCAPABLE.has(n) && !CLASS_ESCAPES.has(n)) return `unsupported escape \\${n} at ${i}`;
      i++;
      prevQuantifiable = true;
    } else if (c === '[') {
      const end = scanClass(p, i);
      if (typeof end === 'string') return end;
      i = end;
      prevQuantifiable = true;
    } else if (c === '(') {
      if (p[i + 1] === '?') {
        if (p[i + 2] !== ':') return `unsupported group syntax (?${p[i + 2] ?? ''} at ${i}: only (?:…) is allowed`;
        i += 2;
      }
      depth++;
      prevQuantifiable = false;
    } else if (c === ')') {
      if (depth === 0) return `unbalanced ) at ${i}`;
      depth--;
      prevQuantifiable = true;
    } else if (c === '*' || c === '+' || c === '?' || c === '{') {
      if (!prevQuantifiable) return `quantifier ${c} at ${i} has nothing to repeat`;
      if (c === '{') {
        const m = /^\{(\d{1,3})(,(\d{1,3})?)?\}/.exec(p.slice(i));
        if (!m) return `malformed {n,m} at ${i}`;
        const lo = Number(m[1]);
        const hi = m[3] === undefined ? lo : Number(m[3]);
        if (lo > 100 || hi > 100 || (m[3] !== undefined && hi < lo)) return `repeat count at ${i} must be 0..100 with n <= m`;
        i += m[0].length - 1;
      }
      if (p[i + 1] === '?') i++;
      prevQuantifiable = false;
    } else if (c === '|') {
      prevQuantifiable = false;
    } else if (c === '^' || c === '$') {
      prevQuantifiable = false;
    } else if (c === ']' || c === '}') {
      return `unescaped ${c} at ${i}`;
    } else {
      prevQuantifiable = true;
    }
  }
  if (depth !== 0) return 'unbalanced (';
  const re = compileBounded(p);
  return typeof re === 'string' ? re : null;
}

/** The compiled program, or the fault that refuses it (syntax, or a program over MAX_PROGRAM_SIZE). */
function compileBounded(p: string): RE2JS | string {
  let re: RE2JS;
  try {
    re = RE2JS.compile(p, RE2JS.DOTALL);
  } catch (e) {
    return `invalid pattern: ${(e as Error).message}`;
  }
  const size = re.programSize();
  if (size > MAX_PROGRAM_SIZE) {
    return `pattern compiles to ${size} instructions, more than the limit of ${MAX_PROGRAM_SIZE} (${limitText('MAX_PROGRAM_SIZE')}; nested or large repeat counts multiply)`;
  }
  return re;
}

/** The part of a value a pattern reads: its first MATCH_INPUT_LIMIT code points. */
export function matchInput(s: string): string {
  if (s.length <= MATCH_INPUT_LIMIT) return s;
  let i = 0;
  for (let n = 0; n < MATCH_INPUT_LIMIT && i < s.length; n++) {
    const c = s.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
    i += pair ? 2 : 1;
  }
  return s.slice(0, i);
}

function scanClass(p: string, start: number): number | string {
  let i = start + 1;
  if (p[i] === '^') i++;
  if (p[i] === ']') return `empty or ambiguous class at ${start}: escape a leading ]`;
  for (; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\') {
      const n = p[i + 1];
      if (n === undefined || (!ESCAPABLE.has(n) && !CLASS_ESCAPES.has(n))) return `unsupported escape in class at ${i}`;
      if (n === 'D' || n === 'W' || n === 'S') return `\\${n} inside [...] at ${i} is not supported: use [^...] or write the class out`;
      i++;
    } else if (c === '[') {
      return `[ inside a class at ${i} (POSIX classes are not supported): escape it`;
    } else if (c === ']') {
      return i;
    }
  }
  return `unterminated class at ${start}`;
}

/**
 * A compiled matcher: linear time, `.` matches newlines, only the first MATCH_INPUT_LIMIT
 * code points are read (matchInput). With ignoreCase, the text and the
 * pattern's literal characters are folded alike (foldCase) and matched exactly, so every
 * store can do the same without its engine's own idea of case-insensitivity.
 */
export function compileMatcher(pattern: string, ignoreCase: boolean): (s: string) => boolean {
  const re = compileBounded(ignoreCase ? foldPattern(pattern) : pattern);
  // Validation refuses such a pattern; reaching here means a caller skipped it, and matching anyway could stall the process.
  if (typeof re === 'string') throw new Error(`compileMatcher: ${re}`);
  // Folding maps each code point to one code point, so cutting before folding cuts at the same place.
  return ignoreCase ? (s) => re.matcher(foldCase(matchInput(s))).find() : (s) => re.matcher(matchInput(s)).find();
}

/** A pattern with its literal characters folded (foldCase); escapes are kept as they are. */
export function foldPattern(p: string): string {
  let out = '';
  for (let i = 0; i < p.length;) {
    if (p[i] === '\\') {
      out += p.slice(i, i + 2);
      i += 2;
      continue;
    }
    const ch = String.fromCodePoint(p.codePointAt(i)!);
    out += foldCase(ch);
    i += ch.length;
  }
  return out;
}

const PERL_CLASSES: Record<string, string> = { d: '0-9', w: '0-9A-Za-z_', s: '\t\n\f\r ' };

/**
 * The pattern spelled for PostgreSQL's ARE, whose \d \w \s follow the database locale: each is
 * written out as the ASCII class RE2 means (outside brackets as a class, inside as its members).
 */
export function toPostgresPattern(p: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\') {
      const n = p[i + 1]!;
      const lower = n.toLowerCase();
      if (lower in PERL_CLASSES && (n === lower || !inClass)) {
        const members = PERL_CLASSES[lower]!;
        out += inClass ? members : n === lower ? `[${members}]` : `[^${members}]`;
      } else {
        out += c + n;
      }
      i++;
      continue;
    }
    if (c === '[' && !inClass) {
      inClass = true;
      out += c;
      if (p[i + 1] === '^') { out += '^'; i++; }
      continue;
    }
    if (c === ']' && inClass) inClass = false;
    out += c;
  }
  return out;
}
