/**
 * A per-project cache of definitions read inside membership transactions (so that writing
 * the outbox costs no query). A generation counter keeps a list read before a change from
 * being cached after it.
 */
export class ProjectCache<T> {
  private readonly cache = new Map<string, readonly T[]>();
  private readonly generation = new Map<string, number>();

  invalidate(projectId: string): void {
    this.generation.set(projectId, (this.generation.get(projectId) ?? 0) + 1);
    this.cache.delete(projectId);
  }

  async get(projectId: string, load: () => Promise<readonly T[]>): Promise<readonly T[]> {
    const hit = this.cache.get(projectId);
    if (hit) return hit;
    const gen = this.generation.get(projectId) ?? 0;
    const rows = await load();
    if ((this.generation.get(projectId) ?? 0) === gen) this.cache.set(projectId, rows);
    return rows;
  }
}
