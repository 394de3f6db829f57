import type { EventPath } from './ast.ts';
import type { EventRecord, JsonObject } from './data.ts';
import { Dictionary } from './dictionary.ts';
import { jsonGetter } from './evaluate.ts';

/**
 * Many profiles' kept event lists in typed-array columns, for the live engine's state (and
 * the view evaluator over it, view.ts): one object per list name instead of one per event.
 *
 * A list (an event name, or null for every non-derived event) is a group of columns shared
 * by all profiles: times in a Float64Array, and one dictionary-coded Int32Array per top-level
 * property or context key kept (code 0: the key is absent). Each profile has a slot; its
 * events of a list are one contiguous run of rows (start, length, capacity by slot), sorted
 * by time. A run grows in place when it ends the columns (a profile's events loaded one after
 * another); otherwise it moves to the end with room to spare, and the rows it left are
 * reclaimed when the columns are compacted (once they are half garbage).
 *
 * What a row keeps: the name, the time, and the values of the top-level keys asked for, so
 * that any path under them reads as it reads on the whole event (sliceReader).
 */
export class EventLists {
  /** One dictionary per kept key (`properties` or `context`, then the key), shared by every list. */
  private readonly dicts = new Map<string, Dictionary>();
  private readonly groups = new Map<string | null, EventGroup>();
  /** The names of the rows of the `*` list. */
  readonly names = new Dictionary();
  private slots = 0;
  private capacity = 0;
  /**
   * Bumped by every change to any list (rows added, removed, moved or dropped): a slice read
   * at one version stays valid while the version is unchanged, so readers may keep it.
   */
  version = 0;

  /** A new profile's slot (slots are not reused: a released slot keeps 12 bytes a list). */
  newSlot(): number {
    const slot = this.slots++;
    if (slot >= this.capacity) {
      this.capacity = Math.max(64, Math.ceil(this.capacity * 1.5));
      this.version++;
      for (const g of this.groups.values()) g.resize(this.capacity);
    }
    return slot;
  }

  /** Slots given so far (0 up to this, excluded). */
  get slotCount(): number {
    return this.slots;
  }

  /** Slots up to `n` (excluded) given at once: lists by the same slots as another's (EventLists.slotCount). */
  reserveSlots(n: number): void {
    while (this.slots < n) this.newSlot();
  }

  /** The events of `list` of the profile at `slot`, sorted by time. */
  list(slot: number, list: string | null): EventSlice {
    const g = this.groups.get(list);
    return g && g.len[slot] ? new EventSlice(g, g.start[slot]!, g.len[slot]!) : EMPTY;
  }

  /**
   * Adds an event to a profile's list, after the events of the same time or earlier. Kept
   * keys: `props` of its properties and `ctx` of its context (null: every own key).
   */
  add(slot: number, list: string | null, e: EventRecord, props: ReadonlySet<string> | null, ctx: ReadonlySet<string> | null): void {
    let g = this.groups.get(list);
    if (!g) this.groups.set(list, (g = new EventGroup(list, this.capacity, this.names)));
    this.version++;
    const at = g.insertAt(slot, e.timestamp);
    if (g.names) g.names[at] = this.names.code(e.name);
    this.code(g, at, 'properties', e.properties, props);
    this.code(g, at, 'context', e.context, ctx);
  }

  private code(g: EventGroup, row: number, root: 'properties' | 'context', o: JsonObject, keys: ReadonlySet<string> | null): void {
    if (keys === null) {
      for (const k of Object.keys(o)) { const c = this.column(g, root, k); c.codes[row] = c.dict.code(o[k]); }
      return;
    }
    for (const k of keys) {
      // `k in o`, as a getter reads it: an inherited key reads what the object reads.
      if (!(k in o)) continue;
      const c = this.column(g, root, k);
      c.codes[row] = c.dict.code((o as Record<string, unknown>)[k]);
    }
  }

  private column(g: EventGroup, root: 'properties' | 'context', key: string): Column {
    let c = (root === 'properties' ? g.props : g.ctx).get(key);
    if (c) return c;
    c = { root, key, dict: this.dictionary(root, key), codes: new Int32Array(g.time.length) };
    (root === 'properties' ? g.props : g.ctx).set(key, c);
    g.cols.push(c);
    g.version++;
    return c;
  }

  /** Removes the profile's last event of `list` at `timestamp`; false when it has none. */
  remove(slot: number, list: string | null, timestamp: number): boolean {
    const g = this.groups.get(list);
    this.version++;
    return g ? g.removeAt(slot, timestamp) : false;
  }

  /** Forgets a profile's events of `list`. */
  clear(slot: number, list: string | null): void {
    this.version++;
    this.groups.get(list)?.clear(slot);
  }

  /** Forgets a profile's events of every list (the slot is not used again). */
  release(slot: number): void {
    this.version++;
    for (const g of this.groups.values()) g.clear(slot);
  }

  /** The columns of `list` (undefined: no profile has kept an event of it), for reading every profile's runs in place (list-leaves.ts). */
  group(list: string | null): EventGroup | undefined {
    return this.groups.get(list);
  }

  /** The dictionary of a kept key, shared by every list (code 0: the key is absent). */
  dictionary(root: 'properties' | 'context', key: string): Dictionary {
    const id = `${root}\u0000${key}`;
    let dict = this.dicts.get(id);
    if (!dict) {
      this.dicts.set(id, (dict = new Dictionary()));
      dict.code(undefined);
    }
    return dict;
  }

  /**
   * Sets every profile's events of `list` at once, in new columns (what it held is dropped):
   * rows in any order, each with its slot, time, name code (in `names`; `*` only) and its kept
   * keys' codes (in `dictionary(root, key)`). Each profile's rows become one run sorted by
   * time, rows of the same time in the order given — the runs `add` builds from the same rows.
   */
  load(list: string | null, rows: LoadedRows): void {
    const n = rows.count, slots = this.capacity;
    const g = new EventGroup(list, slots, this.names);
    // Rows by slot (a counting sort, stable), then each run by time where it is not already.
    const first = new Int32Array(slots + 1);
    for (let r = 0; r < n; r++) first[rows.slot[r]! + 1]!++;
    for (let s = 0; s < slots; s++) first[s + 1]! += first[s]!;
    const order = new Int32Array(n), at = first.slice(0, slots);
    for (let r = 0; r < n; r++) order[at[rows.slot[r]!]!++] = r;
    const time = rows.time;
    for (let s = 0; s < slots; s++) {
      const from = first[s]!, to = first[s + 1]!;
      g.start[s] = from;
      g.len[s] = g.cap[s] = to - from;
      for (let i = from + 1; i < to; i++) {
        if (time[order[i]!]! >= time[order[i - 1]!]!) continue;
        order.subarray(from, to).sort((a, b) => time[a]! - time[b]! || a - b);
        break;
      }
    }
    const size = Math.max(16, n);
    g.time = new Float64Array(size);
    for (let i = 0; i < n; i++) g.time[i] = time[order[i]!]!;
    if (g.names && rows.names) { const names = new Int32Array(size); for (let i = 0; i < n; i++) names[i] = rows.names[order[i]!]!; g.names = names; }
    for (const c of rows.columns) {
      const codes = new Int32Array(size);
      for (let i = 0; i < n; i++) codes[i] = c.codes[order[i]!]!;
      const col: Column = { root: c.root, key: c.key, dict: this.dictionary(c.root, c.key), codes };
      (c.root === 'properties' ? g.props : g.ctx).set(c.key, col);
      g.cols.push(col);
    }
    g.end = g.rows = n;
    this.groups.set(list, g);
    this.version++;
  }

  /** Forgets every profile's events of `list`. */
  drop(list: string | null): void {
    this.version++;
    this.groups.delete(list);
  }

  /**
   * Packs every list's rows tight (after a bulk load: runs then hold no spare room), and the
   * runs' index by slot to the slots in use (the next new slot grows it again by half).
   */
  compact(): void {
    this.capacity = this.slots;
    this.version++;
    for (const g of this.groups.values()) { g.compact(g.live(), true); g.resize(this.capacity); }
  }

  /**
   * Rows held by every profile's runs, summed over the lists (an event kept both in its name's
   * list and in `*` is two rows): counted as rows come and go, so reading it costs one step a list.
   */
  get rows(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.rows;
    return n;
  }

  /** Bytes of the typed arrays held: rows, spare room and the runs' index by slot (dictionaries' distinct values not counted). */
  get bytes(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.bytes();
    return n;
  }
}

/** Rows of one list for every profile (EventLists.load); the arrays may be longer than `count`. */
export interface LoadedRows {
  readonly count: number;
  readonly slot: Int32Array;
  readonly time: Float64Array;
  /** Name codes in EventLists.names (the `*` list; null for a named list). */
  readonly names: Int32Array | null;
  /** Per kept key, the rows' codes in EventLists.dictionary(root, key). */
  readonly columns: readonly { readonly root: 'properties' | 'context'; readonly key: string; readonly codes: Int32Array }[];
}

/**
 * Gathers one list's rows for EventLists.load, one by one: `row` starts a row, `value` (a
 * value) or `json` (its JSON text, parsed once per distinct text; null: absent) gives its
 * kept keys (by position in `keys`: props, then ctx), absent when not given.
 */
export class ListLoader {
  count = 0;
  private slot = new Int32Array(1024);
  private time = new Float64Array(1024);
  private names: Int32Array | null;
  readonly keys: readonly { readonly root: 'properties' | 'context'; readonly key: string }[];
  private readonly codes: Int32Array[];
  private readonly dicts: Dictionary[];
  private readonly texts: Map<string, number>[];

  constructor(private readonly lists: EventLists, readonly list: string | null, props: ReadonlySet<string>, ctx: ReadonlySet<string>) {
    this.names = list === null ? new Int32Array(1024) : null;
    this.keys = [...[...props].map((key) => ({ root: 'properties' as const, key })), ...[...ctx].map((key) => ({ root: 'context' as const, key }))];
    this.codes = this.keys.map(() => new Int32Array(1024));
    this.dicts = this.keys.map((k) => lists.dictionary(k.root, k.key));
    this.texts = this.keys.map(() => new Map());
  }

  row(slot: number, t: number, name: string): void {
    if (this.count === this.time.length) this.grow();
    const r = this.count++;
    this.slot[r] = slot;
    this.time[r] = t;
    if (this.names) this.names[r] = this.lists.names.code(name);
  }

  /** A row of an event, keeping its keys as EventLists.add keeps them (`k in o`, as a getter reads it). */
  add(slot: number, e: EventRecord): void {
    this.row(slot, e.timestamp, e.name);
    for (let k = 0; k < this.keys.length; k++) {
      const { root, key } = this.keys[k]!;
      const o = root === 'properties' ? e.properties : e.context;
      if (key in o) this.value(k, (o as Record<string, unknown>)[key]);
    }
  }

  /** Key k of the current row reads `v`. */
  value(k: number, v: unknown): void {
    this.codes[k]![this.count - 1] = this.dicts[k]!.code(v);
  }

  /** Key k of the current row is the JSON text `text` (null: absent). */
  json(k: number, text: string | null): void {
    if (text === null) return;
    const seen = this.texts[k]!;
    let code = seen.get(text);
    if (code === undefined) seen.set(text, (code = this.dicts[k]!.code(JSON.parse(text))));
    this.codes[k]![this.count - 1] = code;
  }

  /** Loads the rows into the lists (EventLists.load). */
  finish(): void {
    this.lists.load(this.list, { count: this.count, slot: this.slot, time: this.time, names: this.names, columns: this.keys.map((k, i) => ({ ...k, codes: this.codes[i]! })) });
  }

  private grow(): void {
    const size = this.time.length * 2;
    const i32 = (a: Int32Array) => { const b = new Int32Array(size); b.set(a); return b; };
    const t = new Float64Array(size);
    t.set(this.time);
    this.time = t;
    this.slot = i32(this.slot);
    if (this.names) this.names = i32(this.names);
    for (let k = 0; k < this.codes.length; k++) this.codes[k] = i32(this.codes[k]!);
  }
}

export interface Column {
  readonly root: 'properties' | 'context';
  readonly key: string;
  readonly dict: Dictionary;
  codes: Int32Array;
}

/** One list's columns and every profile's run of rows in them (see EventLists). */
export class EventGroup {
  time = new Float64Array(16);
  /** Codes of the rows' names (in `nameDict`), for the `*` list only; a named list's rows all bear its name. */
  names: Int32Array | null;
  /** The kept keys' columns, by key under each root, and all of them. */
  readonly props = new Map<string, Column>();
  readonly ctx = new Map<string, Column>();
  readonly cols: Column[] = [];
  /** Bumped when a column is added (readers cache their column per group and version). */
  version = 0;
  start: Int32Array;
  len: Int32Array;
  cap: Int32Array;
  /** Rows in use at the end of the columns, and how many of them no run holds any more. */
  end = 0;
  garbage = 0;
  /** Rows the runs hold (the sum of `len`), kept as they change. */
  rows = 0;

  constructor(readonly name: string | null, slots: number, readonly nameDict: Dictionary) {
    this.names = name === null ? new Int32Array(16) : null;
    this.start = new Int32Array(slots);
    this.len = new Int32Array(slots);
    this.cap = new Int32Array(slots);
  }

  resize(slots: number): void {
    const grow = (a: Int32Array) => { const b = new Int32Array(slots); b.set(a.subarray(0, slots)); return b; };
    this.start = grow(this.start);
    this.len = grow(this.len);
    this.cap = grow(this.cap);
  }

  /** Makes room for one more event of `slot` at time `t` and returns its row (the rows after it shifted). */
  insertAt(slot: number, t: number): number {
    let start = this.start[slot]!, len = this.len[slot]!;
    if (len === this.cap[slot]) {
      if (len > 0 && start + len === this.end) {
        // The run ends the columns: it grows in place (growing the columns keeps every row where it is).
        if (this.end === this.time.length) this.grow(Math.ceil(this.time.length * 1.5));
        this.end++;
        this.cap[slot]!++;
      } else {
        const cap = len + Math.max(1, len >>> 1);
        this.reserve(cap);
        start = this.start[slot]!;
        const to = this.end;
        this.move(start, to, len);
        this.garbage += this.cap[slot]!;
        this.start[slot] = start = to;
        this.cap[slot] = cap;
        this.end += cap;
      }
    }
    // Events arrive almost always in time order: insert from the end.
    let i = start + len;
    while (i > start && this.time[i - 1]! > t) i--;
    if (i < start + len) this.move(i, i + 1, start + len - i);
    this.time[i] = t;
    if (this.names) this.names[i] = 0;
    for (const c of this.cols) c.codes[i] = 0;
    this.len[slot] = len + 1;
    this.rows++;
    return i;
  }

  removeAt(slot: number, t: number): boolean {
    const start = this.start[slot]!, len = this.len[slot]!;
    for (let i = start + len - 1; i >= start; i--) {
      if (this.time[i] !== t) continue;
      this.move(i + 1, i, start + len - i - 1);
      this.len[slot] = len - 1;
      this.rows--;
      return true;
    }
    return false;
  }

  clear(slot: number): void {
    if (slot >= this.cap.length) return;
    this.garbage += this.cap[slot]!;
    this.rows -= this.len[slot]!;
    this.len[slot] = this.cap[slot] = this.start[slot] = 0;
  }

  /** Rows held by runs, spare room included. */
  live(): number {
    return this.end - this.garbage;
  }

  /** Room for `n` more rows at the end: compacted when half garbage, else grown. */
  private reserve(n: number): void {
    if (this.end + n <= this.time.length) return;
    if (this.garbage > this.end >>> 1) this.compact(this.live() + n, false);
    if (this.end + n > this.time.length) this.grow(Math.max(this.end + n, Math.ceil(this.time.length * 1.5)));
  }

  private grow(rows: number): void {
    const t = new Float64Array(rows);
    t.set(this.time.subarray(0, this.end));
    this.time = t;
    if (this.names) { const n = new Int32Array(rows); n.set(this.names.subarray(0, this.end)); this.names = n; }
    for (const c of this.cols) { const n = new Int32Array(rows); n.set(c.codes.subarray(0, this.end)); c.codes = n; }
  }

  /**
   * Copies every run, in slot order, to new columns of `rows` rows; `tight`: each run's
   * capacity cut to its length (after a load), else kept (runs that moved to grow keep
   * their room, so the next events do not move them again).
   */
  compact(rows: number, tight: boolean): void {
    rows = Math.max(16, rows);
    const time = new Float64Array(rows), names = this.names ? new Int32Array(rows) : null;
    const cols = this.cols.map((c) => ({ c, codes: new Int32Array(rows) }));
    let to = 0;
    for (let s = 0; s < this.len.length; s++) {
      const len = this.len[s]!, from = this.start[s]!;
      if (len === 0) { this.start[s] = this.cap[s] = 0; continue; }
      time.set(this.time.subarray(from, from + len), to);
      if (names) names.set(this.names!.subarray(from, from + len), to);
      for (const x of cols) x.codes.set(x.c.codes.subarray(from, from + len), to);
      this.start[s] = to;
      if (tight) this.cap[s] = len;
      to += this.cap[s]!;
    }
    this.time = time;
    this.names = names;
    for (const x of cols) x.c.codes = x.codes;
    this.end = to;
    this.garbage = 0;
  }

  /** Moves rows [from, from + n) to [to, to + n) in every column. */
  private move(from: number, to: number, n: number): void {
    if (n <= 0) return;
    this.time.copyWithin(to, from, from + n);
    this.names?.copyWithin(to, from, from + n);
    for (const c of this.cols) c.codes.copyWithin(to, from, from + n);
  }

  bytes(): number {
    let n = this.time.byteLength + (this.names?.byteLength ?? 0) + this.start.byteLength * 3;
    for (const c of this.cols) n += c.codes.byteLength;
    return n;
  }
}

/**
 * One profile's events of one list, sorted by time: rows [start, start + length) of a group.
 * Valid until the lists change (read it, do not keep it).
 */
export class EventSlice {
  constructor(readonly group: EventGroup, readonly start: number, readonly length: number) {}

  time(i: number): number {
    return this.group.time[this.start + i]!;
  }

  /** The name of the event at i. */
  name(i: number): string {
    const g = this.group;
    return g.names ? (g.nameDict.values[g.names[this.start + i]!] as string) : g.name!;
  }
}

const EMPTY = new EventSlice(new EventGroup('', 0, new Dictionary()), 0, 0);

/**
 * Reads an event path from slices, as `eventGetter` reads it from the event at i. The column
 * is looked up once per group (and again when the group gains a column), not once per row.
 */
export function sliceReader(path: EventPath): (list: EventSlice, i: number) => unknown {
  if (path.kind === 'field') return path.field === 'event' ? (l, i) => l.name(i) : (l, i) => l.time(i);
  const key = path.keys[0]!, root = path.root;
  const value = keptValue(path.keys);
  let group: EventGroup | null = null, version = -1;
  let col: Column | undefined;
  return (l, i) => {
    const g = l.group;
    if (g !== group || g.version !== version) { group = g; version = g.version; col = (root === 'properties' ? g.props : g.ctx).get(key); }
    if (col === undefined) return undefined;
    return value(col.dict.values[col.codes[l.start + i]!]);
  };
}

/**
 * What a JSON path (`keys` under properties or context) reads from the kept value of its
 * top-level key: the value itself, or the path's rest under it — as `eventGetter` reads it on
 * the whole event (a function, an inherited member, reads undefined).
 */
export function keptValue(keys: readonly string[]): (v: unknown) => unknown {
  const rest = keys.length === 1 ? null : jsonGetter(keys.slice(1));
  if (rest === null) return (v) => (typeof v === 'function' ? undefined : v);
  return (v) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? rest(v as Record<string, unknown>) : undefined);
}
