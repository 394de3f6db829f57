/**
 * Every size limit of Strata's input, in one place. Each refusal names the limit it applies
 * (its name here and its value) and the path of the offending value, so a client can tell
 * which limit it met; docs/reference.md §4.4 lists them with what answers.
 *
 * Sizes in bytes are of UTF-8; lengths of strings are in UTF-16 code units (JavaScript's
 * `length`, JSON Schema's `maxLength` counts code points: the two agree below U+10000).
 */
export const LIMITS = {
  // Requests
  /** A request body as sent, on the admin API and wherever no smaller limit applies (400 PAYLOAD_TOO_LARGE). */
  MAX_BODY_BYTES: 1024 * 1024,
  /** An ingest body (a batch or a single call), as sent and after gzip/deflate decoding (413 DECODED_TOO_LARGE past it). */
  MAX_BATCH_BYTES: 500 * 1024,
  /** The body of the public reward redemption. */
  MAX_REDEEM_BODY_BYTES: 16 * 1024,
  /** The messages of one `/v1/batch`. */
  MAX_BATCH_ITEMS: 2500,
  /** One ingested message: what Strata stores of it (properties, context, traits and ids). */
  MAX_EVENT_BYTES: 32 * 1024,
  /** Levels of objects and arrays in any JSON document: a body, an import line, a stored value. */
  MAX_JSON_DEPTH: 100,
  /** An experience's payload (a variant's or the default), as JSON text. */
  MAX_PAYLOAD_BYTES: 32 * 1024,
  /** Physical lines one quoted CSV field of an import may span before the quote counts as never closed. */
  MAX_RECORD_LINES: 1000,

  // Identifiers and names
  /** userId, anonymousId, previousId, groupId, messageId, and every id in a path or list of the APIs. */
  MAX_ID_LENGTH: 256,
  /** An event name (`event` of a track call, and in conditions). */
  MAX_EVENT_NAME_LENGTH: 200,
  /** A key of properties, traits or context in an ingested message (conditions address keys by path). */
  MAX_KEY_LENGTH: 256,
  /** The name of a segment, mission, reward, experience, destination. */
  MAX_NAME_LENGTH: 200,
  /** The description of a segment, mission, reward, experience, experiment. */
  MAX_DESCRIPTION_LENGTH: 2000,
  /** An idempotency key: `Idempotency-Key`, a redemption's `requestId`, a points change's `ref`. */
  MAX_REF_LENGTH: 200,

  // Conditions (docs/conditions.md)
  /** Nodes of one condition (each all/any/not/leaf is one). */
  MAX_CONDITION_NODES: 500,
  /** Levels of all/any/not of one condition (the root is level 0). */
  MAX_CONDITION_DEPTH: 32,
  /** Keys of a properties/context/traits path in a condition. */
  MAX_PATH_KEYS: 8,
  /** Steps of a sequence. */
  MAX_SEQUENCE_STEPS: 10,
  /** Values of an `in` / `nin` list. */
  MAX_LIST_VALUES: 1000,
  /** A string value compared by a condition (eq, contains, a bucket salt, …). */
  MAX_CONDITION_STRING_LENGTH: 1000,

  // Regular expressions (`matches`)
  /** The source of a pattern. */
  MAX_PATTERN_LENGTH: 256,
  /** RE2 instructions a pattern may compile to (repeats multiply, so the length alone bounds nothing). */
  MAX_PROGRAM_SIZE: 500,
  /** Code points of a value a pattern reads (the rest is not looked at). */
  MATCH_INPUT_LIMIT: 1000,
} as const;

export type LimitName = keyof typeof LIMITS;

export const {
  MAX_BODY_BYTES, MAX_BATCH_BYTES, MAX_REDEEM_BODY_BYTES, MAX_BATCH_ITEMS, MAX_EVENT_BYTES, MAX_JSON_DEPTH, MAX_PAYLOAD_BYTES, MAX_RECORD_LINES,
  MAX_ID_LENGTH, MAX_EVENT_NAME_LENGTH, MAX_KEY_LENGTH, MAX_NAME_LENGTH, MAX_DESCRIPTION_LENGTH, MAX_REF_LENGTH,
  MAX_CONDITION_NODES, MAX_CONDITION_DEPTH, MAX_PATH_KEYS, MAX_SEQUENCE_STEPS, MAX_LIST_VALUES, MAX_CONDITION_STRING_LENGTH,
  MAX_PATTERN_LENGTH, MAX_PROGRAM_SIZE, MATCH_INPUT_LIMIT,
} = LIMITS;

/** How a refusal names a limit: `limit MAX_EVENT_BYTES = 32768`. */
export function limitText(name: LimitName): string {
  return `limit ${name} = ${LIMITS[name]}`;
}

/**
 * Rate limits (requests per minute per credential), defaults of STRATA_RATE_LIMIT_WRITE and
 * STRATA_RATE_LIMIT_ADMIN; 0 turns one off. Ten times what the ingest benchmark sends through
 * one write key (about 200 requests a second), so SDKs and benchmarks are never throttled.
 */
export const RATE_LIMIT_DEFAULTS = { write: 120_000, admin: 12_000 } as const;

const pointerKey = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * The JSON Pointer of the first object key in `value` longer than `max` characters (the key
 * itself), or null. Iterative; paths are built only for a value that has such a key.
 */
export function longKeyPath(value: unknown, max: number = MAX_KEY_LENGTH): string | null {
  const stack: unknown[] = [value];
  let found = false;
  while (stack.length > 0 && !found) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (const x of v) if (x !== null && typeof x === 'object') stack.push(x);
      continue;
    }
    for (const k in v) {
      if (k.length > max) { found = true; break; }
      const x = (v as Record<string, unknown>)[k];
      if (x !== null && typeof x === 'object') stack.push(x);
    }
  }
  if (!found) return null;
  const paths: [unknown, string][] = [[value, '']];
  for (;;) {
    const [v, path] = paths.pop()!;
    if (v === null || typeof v !== 'object') continue;
    const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v);
    for (const [k, x] of entries) {
      if (!Array.isArray(v) && k.length > max) return `${path}/${pointerKey(k)}`;
      paths.push([x, `${path}/${pointerKey(k)}`]);
    }
  }
}
