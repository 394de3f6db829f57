/** The whole Storage interface over a Map, with an optional quota (bytes of keys and values) to test "quota exceeded". */
export class MemoryStorage implements Storage {
  private readonly map = new Map<string, string>();
  [name: string]: unknown;

  constructor(private readonly quota = Infinity) {}

  get length(): number {
    return this.map.size;
  }
  clear(): void {
    this.map.clear();
  }
  getItem(key: string): string | null {
    return this.map.get(String(key)) ?? null;
  }
  key(index: number): string | null {
    return [...this.map.keys()][index] ?? null;
  }
  removeItem(key: string): void {
    this.map.delete(String(key));
  }
  setItem(key: string, value: string): void {
    const used = [...this.map].reduce((n, [k, v]) => n + (k === key ? 0 : k.length + v.length), 0);
    if (used + key.length + String(value).length > this.quota) throw new DOMException('quota exceeded', 'QuotaExceededError');
    this.map.set(String(key), String(value));
  }
}
