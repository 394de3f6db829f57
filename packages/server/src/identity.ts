import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from '@strata/core';
import type { Project } from '@strata/store';

/** hex(HMAC-SHA256(secret, userId)): what a customer's backend computes for its signed-in user. */
export const userHashOf = (secret: string, userId: string): string => createHmac('sha256', secret).update(userId, 'utf8').digest('hex');

/**
 * Identity verification of the public SDK API (docs/reference.md §4.3): where the project enables it, a
 * call about a user must carry `userHash` for that userId, else 401. Anonymous ids cannot be
 * verified, so with verification on only userIds are accepted.
 */
export function verifyUserHash(project: Project, userId: string | undefined, userHash: string | undefined): void {
  const iv = project.settings.identityVerification;
  if (!iv?.enabled) return;
  if (!userId) throw new AppError({ code: 'UNAUTHORIZED', message: 'identity verification is on: give a userId and its userHash' });
  if (!userHash) throw new AppError({ code: 'UNAUTHORIZED', message: 'identity verification is on: userHash is required (hex HMAC-SHA256 of the userId with the project secret)' });
  const want = Buffer.from(userHashOf(iv.secret, userId), 'hex');
  const got = /^[0-9a-fA-F]{64}$/.test(userHash) ? Buffer.from(userHash, 'hex') : Buffer.alloc(0);
  if (got.length !== want.length || !timingSafeEqual(got, want)) throw new AppError({ code: 'UNAUTHORIZED', message: 'userHash does not match the userId' });
}

/**
 * Whether /v1/targeting may name the user's segments. A write key is public (it ships in every
 * page), so by default only a call that proved who the user is (identity verification on,
 * `userHash` checked) learns them; a project may open them to any caller or close them to all.
 */
export function segmentsDisclosed(project: Project): boolean {
  const mode = project.settings.publicSegments ?? 'verified';
  return mode === 'always' || (mode === 'verified' && project.settings.identityVerification?.enabled === true);
}
