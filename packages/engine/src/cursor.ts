import { AppError } from '@strata/core';

/** Page cursors: an opaque base64url form of the last row's numeric key. */
export const encodeCursor = (n: number): string => Buffer.from(String(n)).toString('base64url');

/** The numeric key of a cursor this API returned (null: the first page); anything else is a 400 on /cursor. */
export function decodeCursor(cursor: string | null): number | null {
  if (cursor === null) return null;
  const decoded = /^[A-Za-z0-9_-]{1,40}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const n = /^\d{1,15}$/.test(decoded) ? Number(decoded) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw new AppError({ code: 'VALIDATION_FAILED', message: 'cursor is not one this API returned', issues: [{ path: '/cursor', message: 'invalid cursor' }] });
  return n;
}
