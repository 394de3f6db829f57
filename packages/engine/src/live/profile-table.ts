/**
 * A project's profile records by slot, in columns: no JavaScript object is held per profile.
 * Ids, first/last seen and the codes of the kept traits, context and labels are typed arrays;
 * the user and anonymous ids are bytes in one buffer (StringColumn); the profiles map is an
 * id → slot index. A `ProfileState` is made on demand, a transient view of one slot.
 */
import type { JsonObject } from '@strata/core';
import { Dictionary } from '@strata/core';
import type { EngineProfile } from '@strata/store';

/** The code of the empty kept part shared by records whose segments read no key of it. */
export const NO_KEYS_CODE = -1;
export const NO_KEYS: JsonObject = Object.freeze({}) as JsonObject;

/**
 * Strings by slot: Latin-1 bytes in one growing buffer (a user id of 36 characters holds 36
 * bytes and 8 of offset and length). A string with a character beyond Latin-1 is kept as it is
 * (a map by slot), so that every string reads back exactly as written. A replaced string's
 * bytes are garbage until the buffer is packed again (when half of it is).
 */
export class StringColumn {
  private bytes = Buffer.alloc(0);
  private used = 0;
  private garbage = 0;
  /** Start in `bytes` by slot. */
  private start = new Uint32Array(0);
  /** Length by slot; -1: null; -2: kept in `wide`. */
  private len = new Int32Array(0);
  private readonly wide = new Map<number, string>();

  resize(capacity: number): void {
    const s = new Uint32Array(capacity), l = new Int32Array(capacity).fill(-1);
    s.set(this.start.subarray(0, Math.min(capacity, this.start.length)));
    l.set(this.len.subarray(0, Math.min(capacity, this.len.length)));
    this.start = s;
    this.len = l;
  }

  get(slot: number): string | null {
    const n = this.len[slot]!;
    if (n === -1) return null;
    if (n === -2) return this.wide.get(slot)!;
    const at = this.start[slot]!;
    return this.bytes.toString('latin1', at, at + n);
  }

  /** Whether the string at `slot` is `s` (without decoding it). */
  equals(slot: number, s: string | null): boolean {
    const n = this.len[slot]!;
    if (s === null) return n === -1;
    if (n === -2) return this.wide.get(slot) === s;
    if (n !== s.length) return false;
    const b = this.bytes, at = this.start[slot]!;
    for (let i = 0; i < n; i++) if (b[at + i] !== s.charCodeAt(i)) return false;
    return true;
  }

  set(slot: number, s: string | null): void {
    if (this.equals(slot, s)) return;
    this.clear(slot);
    if (s === null) return;
    for (let i = 0; i < s.length; i++) {
      if (s.charCodeAt(i) > 0xff) { this.wide.set(slot, s); this.len[slot] = -2; return; }
    }
    if (this.used + s.length > this.bytes.length) this.pack(Math.max(1024, Math.ceil((this.used - this.garbage + s.length) * 1.5)));
    this.bytes.write(s, this.used, s.length, 'latin1');
    this.start[slot] = this.used;
    this.len[slot] = s.length;
    this.used += s.length;
  }

  clear(slot: number): void {
    const n = this.len[slot]!;
    if (n === -2) this.wide.delete(slot);
    else if (n > 0) this.garbage += n;
    this.len[slot] = -1;
  }

  /** The strings packed into a new buffer of `size` bytes (by default, just what they hold). */
  pack(size = this.used - this.garbage): void {
    const next = Buffer.alloc(size);
    let at = 0;
    for (let slot = 0; slot < this.len.length; slot++) {
      const n = this.len[slot]!;
      if (n <= 0) continue;
      this.bytes.copy(next, at, this.start[slot]!, this.start[slot]! + n);
      this.start[slot] = at;
      at += n;
    }
    this.bytes = next;
    this.used = at;
    this.garbage = 0;
  }

  get byteLength(): number {
    return this.bytes.length + this.start.byteLength + this.len.byteLength;
  }
}

/**
 * The kept traits, contexts and labels of a project's records, each distinct one once (equal
 * parts are one shared object), by code. A part is known by the codes of its keys' values
 * (one Dictionary per key: a value equal by JSON to one seen before is that one), so that
 * parts differing in one key share the values of the others and no part is held as JSON; a
 * labels list is known by its JSON. When the table outgrows the profiles it is started again
 * from the parts the profiles hold, so that parts no profile holds do not pile up.
 */
export class Parts {
  private values: unknown[] = [];
  /** Per top-level key, its distinct values, and the codes of those that are objects by identity (a kept part's own values come back often). */
  private keys = new Map<string, { dict: Dictionary; same: Map<unknown, number> }>();
  private labelCodes = new Dictionary();
  /** The code of each part by what it holds: its keys and their values' codes (objects), or its JSON (labels). */
  private byCodes = new Map<string, number>();
  /** The code of each shared part (byCodes finds it by value; this, by identity). */
  private codes = new Map<unknown, number>();

  value(code: number): unknown {
    return code === NO_KEYS_CODE ? NO_KEYS : this.values[code];
  }

  /** The code of a part equal to `o` (see the class comment). */
  code(o: JsonObject | readonly string[]): number {
    if (o === NO_KEYS) return NO_KEYS_CODE;
    const known = this.codes.get(o);
    if (known !== undefined) return known;
    let id: string, unique = false;
    let shared: JsonObject | readonly string[];
    if (Array.isArray(o)) {
      const c = this.labelCodes.code(o);
      id = `l${c}`;
      shared = this.labelCodes.values[c] as readonly string[];
    } else {
      const obj = o as JsonObject, out: JsonObject = {};
      const of: (string | number)[] = [];
      for (const k of Object.keys(obj)) {
        const v = obj[k]!;
        // A Map (the Dictionary's scalars) tells -0 from 0 no more than JSON does: such a part is never shared.
        if (v === 0 && Object.is(v, -0)) { unique = true; out[k] = v; continue; }
        let key = this.keys.get(k);
        if (!key) this.keys.set(k, (key = { dict: new Dictionary(), same: new Map() }));
        let c = typeof v === 'object' && v !== null ? key.same.get(v) : undefined;
        if (c === undefined) {
          c = key.dict.code(v);
          const shared = key.dict.values[c];
          if (typeof shared === 'object' && shared !== null) key.same.set(shared, c);
        }
        of.push(k, c);
        out[k] = key.dict.values[c] as JsonObject[string];
      }
      // Its keys and their values' codes, as one flat string (JSON: keys quoted, codes not).
      id = JSON.stringify(of);
      shared = out;
    }
    let code = unique ? undefined : this.byCodes.get(id);
    if (code === undefined) {
      code = this.values.push(shared) - 1;
      if (!unique) this.byCodes.set(id, code);
      this.codes.set(shared, code);
    }
    return code;
  }

  get size(): number {
    return this.values.length;
  }

  /** Starts the table again with only the parts held in `columns` (codes rewritten in place). */
  restart(columns: readonly Int32Array[], live: Iterable<number>): void {
    const old = this.values;
    this.values = [];
    this.keys = new Map();
    this.labelCodes = new Dictionary();
    this.byCodes = new Map();
    this.codes = new Map();
    for (const slot of live) {
      for (const c of columns) if (c[slot] !== NO_KEYS_CODE) c[slot] = this.code(old[c[slot]!] as JsonObject);
    }
  }
}

/** Every profile record of a project by slot (see the file's comment). Slots come from SlotColumns. */
export class RecordColumns {
  ids = new Float64Array(0);
  /** NaN: null. */
  firstSeen = new Float64Array(0);
  lastSeen = new Float64Array(0);
  traits = new Int32Array(0);
  context = new Int32Array(0);
  labels = new Int32Array(0);
  readonly userIds = new StringColumn();
  readonly anonymousIds = new StringColumn();
  /** Keys that are not the id's decimal form (the store's are), by slot. */
  readonly keys = new Map<number, string>();
  readonly parts = new Parts();

  resize(capacity: number): void {
    const f64 = (a: Float64Array) => { const b = new Float64Array(capacity); b.set(a.subarray(0, capacity)); return b; };
    const i32 = (a: Int32Array) => { const b = new Int32Array(capacity); b.set(a.subarray(0, capacity)); return b; };
    this.ids = f64(this.ids);
    this.firstSeen = f64(this.firstSeen);
    this.lastSeen = f64(this.lastSeen);
    this.traits = i32(this.traits);
    this.context = i32(this.context);
    this.labels = i32(this.labels);
    this.userIds.resize(capacity);
    this.anonymousIds.resize(capacity);
  }

  /** The strings' bytes packed tight (after a bulk load). */
  pack(): void {
    this.userIds.pack();
    this.anonymousIds.pack();
  }

  /** Writes a kept record (its parts already the shared ones: see keepOf) at `slot`. */
  set(slot: number, r: EngineProfile): void {
    this.ids[slot] = r.id;
    if (r.key === String(r.id)) this.keys.delete(slot);
    else this.keys.set(slot, r.key);
    this.userIds.set(slot, r.userId);
    this.anonymousIds.set(slot, r.anonymousId);
    this.firstSeen[slot] = r.firstSeen ?? NaN;
    this.lastSeen[slot] = r.lastSeen ?? NaN;
    this.traits[slot] = this.parts.code(r.traits);
    this.context[slot] = this.parts.code(r.context);
    this.labels[slot] = this.parts.code(r.labels);
  }

  /** Forgets the record at `slot` (its strings' bytes become garbage). */
  clear(slot: number): void {
    this.ids[slot] = NaN;
    this.keys.delete(slot);
    this.userIds.clear(slot);
    this.anonymousIds.clear(slot);
    this.traits[slot] = this.context[slot] = this.labels[slot] = NO_KEYS_CODE;
  }

  key(slot: number): string {
    return this.keys.get(slot) ?? String(this.ids[slot]);
  }

  /** Starts the shared parts again when they outnumber the `live` profiles twice over. */
  trimParts(live: () => Iterable<number>, count: number): void {
    if (this.parts.size > 2 * count + 1024) this.parts.restart([this.traits, this.context, this.labels], live());
  }

  get bytes(): number {
    return this.ids.byteLength * 3 + this.traits.byteLength * 3 + this.userIds.byteLength + this.anonymousIds.byteLength;
  }
}

export const NONE: readonly number[] = Object.freeze([]) as readonly number[];

const orNull = (x: number): number | null => (Number.isNaN(x) ? null : x);

/** A plain record with the values of `r` (a slot's view is not one: its fields are getters). */
export function plainRecord(r: EngineProfile): EngineProfile {
  return { id: r.id, key: r.key, userId: r.userId, anonymousId: r.anonymousId, traits: r.traits, context: r.context, labels: r.labels, firstSeen: r.firstSeen, lastSeen: r.lastSeen };
}

/** The record at a slot, read from the columns as its fields are read (see ProfileState). */
export class SlotRecord implements EngineProfile {
  private k: string | undefined;
  private u: string | null | undefined;
  private a: string | null | undefined;
  constructor(private at: number, protected readonly rec: RecordColumns) {}
  get slot(): number { return this.at; }
  /** This view moved to another slot (a scan's one view of every profile in turn). */
  moveTo(slot: number): void {
    this.at = slot;
    this.k = this.u = this.a = undefined;
  }
  get id(): number { return this.rec.ids[this.slot]!; }
  get key(): string { return (this.k ??= this.rec.key(this.slot)); }
  get userId(): string | null { return this.u === undefined ? (this.u = this.rec.userIds.get(this.slot)) : this.u; }
  get anonymousId(): string | null { return this.a === undefined ? (this.a = this.rec.anonymousIds.get(this.slot)) : this.a; }
  get traits(): JsonObject { return this.rec.parts.value(this.rec.traits[this.slot]!) as JsonObject; }
  get context(): JsonObject { return this.rec.parts.value(this.rec.context[this.slot]!) as JsonObject; }
  get labels(): readonly string[] { return this.rec.parts.value(this.rec.labels[this.slot]!) as readonly string[]; }
  get firstSeen(): number | null { return orNull(this.rec.firstSeen[this.slot]!); }
  get lastSeen(): number | null { return orNull(this.rec.lastSeen[this.slot]!); }
  /** The record as conditions see it: this view itself. */
  get profile(): EngineProfile { return this; }
  /** Replaces the record (its parts already the shared ones: see keepOf). */
  set profile(r: EngineProfile) {
    this.rec.set(this.slot, r);
    this.k = this.u = this.a = undefined;
  }
}
