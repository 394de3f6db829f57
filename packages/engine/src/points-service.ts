import { AppError, isoTime } from '@strata/core';
import { PointsStore, type PointsEntry, type PointsKind, type SqlStore } from '@strata/store';
import type { Clock } from './clock.ts';
import type { LiveEngine } from './live-engine.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';

export interface PointsEntryView {
  readonly id: number;
  readonly kind: PointsKind;
  readonly amount: number;
  readonly balance: number;
  readonly reason: string;
  readonly ref: string | null;
  readonly at: string;
}

export const entryView = (e: PointsEntry): PointsEntryView => ({ id: e.id, kind: e.kind, amount: e.amount, balance: e.balance, reason: e.reason, ref: e.ref, at: isoTime(e.at) });

/**
 * Points: the balance and ledger of a user, and the one way to change them (`change`, inside
 * a store transaction). Earning comes from missions and admin adjustments only — never from a
 * write key. A change that would take the balance below zero is refused with
 * INSUFFICIENT_POINTS; a change whose idempotency ref was used already changes nothing.
 */
export class PointsService {
  constructor(
    private readonly store: SqlStore,
    private readonly engine: LiveEngine,
    private readonly clock: Clock,
  ) {}

  /** Applies one change in `tx`; returns the entry (the existing one for a repeated ref). */
  async change(tx: SqlStore, projectId: string, profileId: number, e: { kind: PointsKind; amount: number; reason: string; ref?: string | null }): Promise<{ entry: PointsEntry; duplicate: boolean }> {
    const r = await new PointsStore(tx).apply(projectId, profileId, { ...e, at: this.clock.now() });
    if (r.ok) return { entry: r.entry, duplicate: false };
    if (r.reason === 'duplicate') return { entry: r.entry, duplicate: true };
    throw new AppError({ code: 'INSUFFICIENT_POINTS', message: `the balance is ${r.balance} points; ${-e.amount} are needed` });
  }

  private async profileId(store: SqlStore, projectId: string, userId: string): Promise<number> {
    const p = await store.findProfile(projectId, userId);
    if (!p) throw new AppError({ code: 'NOT_FOUND', message: `no user with userId or anonymousId "${userId}"` });
    return p.id;
  }

  /** An admin adjustment (docs/rewards.md: a write key never grants points). */
  async adjust(projectId: string, userId: string, input: { amount: number; reason: string; kind?: 'adjust' | 'earn' | 'expire'; ref?: string }): Promise<{ balance: number; entry: PointsEntryView; duplicate: boolean }> {
    const kind = input.kind ?? 'adjust';
    if (input.amount === 0) throw new AppError({ code: 'VALIDATION_FAILED', message: 'amount must not be 0', issues: [{ path: '/amount', message: 'must not be 0' }] });
    if (kind === 'earn' && input.amount < 0) throw new AppError({ code: 'VALIDATION_FAILED', message: '"earn" adds points: amount must be positive', issues: [{ path: '/amount', message: 'must be positive for earn' }] });
    if (kind === 'expire' && input.amount > 0) throw new AppError({ code: 'VALIDATION_FAILED', message: '"expire" removes points: amount must be negative', issues: [{ path: '/amount', message: 'must be negative for expire' }] });
    // On a process of the api role beside workers too: the balance and ledger are changed by conditional updates, and the user's key is
    // held (a merge moving it to another profile waits, or went first and is read here).
    return this.engine.write(async (tx) => {
      const key = await tx.profileKey(projectId, userId, true);
      if (!key) throw new AppError({ code: 'NOT_FOUND', message: `no user with userId or anonymousId "${userId}"` });
      const profileId = key.profileId;
      const r = await this.change(tx, projectId, profileId, { kind, amount: input.amount, reason: input.reason, ref: input.ref ? `admin:${profileId}:${input.ref}` : null });
      return { balance: r.entry.balance, entry: entryView(r.entry), duplicate: r.duplicate };
    });
  }

  /** Balance and entries (newest first, by cursor). */
  async get(projectId: string, userId: string, limit: number, cursor: string | null): Promise<{ balance: number; entries: PointsEntryView[]; nextCursor: string | null }> {
    const profileId = await this.profileId(this.store, projectId, userId);
    const points = new PointsStore(this.store);
    const rows = await points.entries(projectId, profileId, limit + 1, decodeCursor(cursor));
    const page = rows.slice(0, limit);
    return { balance: await points.balance(projectId, profileId), entries: page.map(entryView), nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1]!.id) : null };
  }
}
