import { newKeyValue, STARTUP_LABEL, tokenPrefix, type KeyRow, type SqlStore } from '@strata/store';
import type { Config } from './config.ts';

export const DEFAULT_PROJECT = 'default';

/** What a start did with one credential of the default project. */
export interface CredentialOutcome {
  /**
   * `created`: stored at this start, the store's first; `kept`: as an earlier start stored it;
   * `replaced`: the environment's value differs from the stored one, which no longer works.
   */
  readonly change: 'created' | 'kept' | 'replaced';
  /** Whether the value in force is the environment's (STRATA_ADMIN_TOKEN / STRATA_WRITE_KEY). */
  readonly fromEnv: boolean;
  /**
   * The value in full where it may be printed: a write key always (clients send it in the open),
   * an admin token only when it was generated at this start (it is stored as a hash: later
   * starts cannot show it, and one from the environment its owner already has). Else null.
   */
  readonly value: string | null;
  /** The value's first characters (tokenPrefix); null for a token stored before prefixes were kept. */
  readonly prefix: string | null;
  /** For `replaced`: the prefix of the value that stopped working (null when unknown). */
  readonly previousPrefix: string | null;
  /** For `created` at a later start: the start-up key had been revoked through the API, and the environment made it again. */
  readonly revived?: boolean;
}

export interface Bootstrapped {
  /** Whether this start created the default project (the store's first start). */
  readonly projectCreated: boolean;
  readonly adminToken: CredentialOutcome;
  readonly writeKey: CredentialOutcome;
  /** The server's root token (STRATA_ROOT_TOKEN): creates and deletes projects. */
  readonly rootToken: CredentialOutcome;
}

/**
 * The start-up key of a kind (label STARTUP_LABEL): made from the environment's value, or
 * generated when there is none and the store has none; an environment value that differs from
 * it replaces it (rotation: the previous value stops working). Keys made through the API are
 * never touched by a start. `current` is the stored start-up key, if any.
 */
async function startupKey(store: SqlStore, o: { projectId: string | null; kind: 'admin' | 'write' | 'root'; label: string; env: string | null; current: KeyRow | null; fresh: boolean; now: number }): Promise<CredentialOutcome> {
  const keys = store.keys;
  const shows = (value: string, generated: boolean) => (o.kind === 'write' || generated ? value : null);
  const stored = o.env === null ? null : await keys.find(o.env);
  if (stored && stored.id !== o.current?.id) {
    throw new Error(`${o.kind === 'admin' ? 'STRATA_ADMIN_TOKEN' : o.kind === 'write' ? 'STRATA_WRITE_KEY' : 'STRATA_ROOT_TOKEN'} is the value of another key (${stored.prefix}, "${stored.label}"): choose another value or revoke that key`);
  }
  if (!o.current) {
    // No start-up key: the first start makes one; a later start only when the environment names one
    // (a start-up key revoked through the API stays revoked).
    if (!o.fresh && o.env === null) return { change: 'kept', fromEnv: false, value: null, prefix: null, previousPrefix: null };
    const value = o.env ?? newKeyValue(o.kind);
    await keys.insert({ projectId: o.projectId, kind: o.kind, label: o.label, value, now: o.now });
    return { change: 'created', fromEnv: o.env !== null, value: shows(value, o.env === null), prefix: tokenPrefix(value), previousPrefix: null, ...(o.fresh ? {} : { revived: true }) };
  }
  if (o.env !== null && stored?.id !== o.current.id) {
    await keys.rotate(o.current.id, o.env, o.now);
    return { change: 'replaced', fromEnv: true, value: shows(o.env, false), prefix: tokenPrefix(o.env), previousPrefix: o.current.prefix };
  }
  const value = o.kind === 'write' && o.projectId !== null ? await keys.writeKeyValue(o.projectId, o.current.id) : null;
  return { change: 'kept', fromEnv: o.env !== null, value, prefix: o.current.prefix, previousPrefix: null };
}

/**
 * Makes sure the default project and the root token exist, by one rule (README, docs/api.md §
 * Credentials, docs/security.md): the store's first start creates the admin token, the write key
 * and the root token, from STRATA_ADMIN_TOKEN / STRATA_WRITE_KEY / STRATA_ROOT_TOKEN when set,
 * generated otherwise; later starts keep what is stored; an environment value that differs from
 * the stored one replaces it. `credentialLines` says which.
 */
export async function ensureDefaultProject(store: SqlStore, config: Config, now: number): Promise<Bootstrapped> {
  const fresh = (await store.getProject(DEFAULT_PROJECT)) === null;
  if (fresh) await store.db.insertInto('projects').values({ id: DEFAULT_PROJECT, name: 'Default project', settings: '{}', created_at: now }).execute();
  const mine = (await store.keys.list(DEFAULT_PROJECT));
  const current = (kind: 'admin' | 'write') => mine.find((k) => k.kind === kind && k.label === STARTUP_LABEL[kind]) ?? null;
  const root = await store.keys.root();
  return {
    projectCreated: fresh,
    // A default project without any admin token (its start-up one was its write key: migration 0017) gets one, as at a first start.
    adminToken: await startupKey(store, { projectId: DEFAULT_PROJECT, kind: 'admin', label: STARTUP_LABEL.admin, env: config.adminToken, current: current('admin'), fresh: fresh || !mine.some((k) => k.kind === 'admin'), now }),
    writeKey: await startupKey(store, { projectId: DEFAULT_PROJECT, kind: 'write', label: STARTUP_LABEL.write, env: config.writeKey, current: current('write'), fresh, now }),
    rootToken: await startupKey(store, { projectId: null, kind: 'root', label: 'root token', env: config.rootToken, current: root, fresh: root === null, now }),
  };
}

/** One credential's line: what is in force, where it comes from, and what changed. */
function line(label: string, env: string, c: CredentialOutcome): string {
  const shown = c.value ?? c.prefix ?? '(none: revoked through the API; manage keys under Settings)';
  if (c.change === 'replaced') {
    return `${label}${shown} REPLACED by ${env}: the previous one${c.previousPrefix ? ` (${c.previousPrefix})` : ''} no longer works`;
  }
  if (c.change === 'created') {
    const made = c.fromEnv ? `${label}${shown} (from ${env})` : `${label}${shown} (generated${label.includes('token') ? '; shown only now, keep it' : ''})`;
    // A revoked start-up key that the environment still names comes back: say it, so that a revocation is not undone unnoticed.
    return c.revived ? `${made} MADE AGAIN: the start-up ${label.includes('token') ? label.trim().replace(/:$/, '') : 'write key'} had been revoked through the API; unset ${env} to keep it revoked` : made;
  }
  return `${label}${shown} (${c.fromEnv ? `from ${env}, as stored` : `stored; set ${env} to replace it`})`;
}

/** The lines a start prints about the default project's credentials (README: "Run it"). */
export function credentialLines(b: Bootstrapped): string[] {
  return [
    b.projectCreated
      ? 'Strata created the default project (first start of this store). Its credentials:'
      : 'Default project credentials (kept from earlier starts unless said otherwise):',
    line('  admin token: ', 'STRATA_ADMIN_TOKEN', b.adminToken),
    line('  write key:   ', 'STRATA_WRITE_KEY', b.writeKey),
    line('  root token:  ', 'STRATA_ROOT_TOKEN', b.rootToken),
  ];
}
