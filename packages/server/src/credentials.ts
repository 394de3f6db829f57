import { randomBytes } from 'node:crypto';
import { hashToken, tokenPrefix, type SqlStore } from '@strata/store';
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
}

export interface Bootstrapped {
  readonly adminToken: CredentialOutcome;
  readonly writeKey: CredentialOutcome;
}

const secret = (prefix: string) => `${prefix}_${randomBytes(24).toString('base64url')}`;

/**
 * Makes sure the default project exists, by one rule (README, docs/api.md § Credentials): the
 * store's first start creates the admin token and the write key, from STRATA_ADMIN_TOKEN /
 * STRATA_WRITE_KEY when set, generated otherwise; later starts keep what is stored; an
 * environment value that differs from the stored one replaces it. `credentialLines` says which.
 */
export async function ensureDefaultProject(store: SqlStore, config: Config, now: number): Promise<Bootstrapped> {
  const stored = await store.projectCredentials(DEFAULT_PROJECT);
  if (!stored) {
    const adminToken = config.adminToken ?? secret('sta');
    const writeKey = config.writeKey ?? secret('stw');
    await store.createProject({ id: DEFAULT_PROJECT, name: 'Default project', writeKey, adminToken, now });
    return {
      adminToken: { change: 'created', fromEnv: config.adminToken !== null, value: config.adminToken === null ? adminToken : null, prefix: tokenPrefix(adminToken), previousPrefix: null },
      writeKey: { change: 'created', fromEnv: config.writeKey !== null, value: writeKey, prefix: tokenPrefix(writeKey), previousPrefix: null },
    };
  }
  const tokenChanged = config.adminToken !== null && hashToken(config.adminToken) !== stored.adminTokenHash;
  const keyChanged = config.writeKey !== null && config.writeKey !== stored.writeKey;
  if (tokenChanged || keyChanged) {
    await store.setProjectCredentials(DEFAULT_PROJECT, { ...(keyChanged ? { writeKey: config.writeKey! } : {}), ...(tokenChanged ? { adminToken: config.adminToken! } : {}) });
  }
  const writeKey = keyChanged ? config.writeKey! : stored.writeKey;
  return {
    adminToken: {
      change: tokenChanged ? 'replaced' : 'kept', fromEnv: config.adminToken !== null, value: null,
      prefix: config.adminToken !== null ? tokenPrefix(config.adminToken) : stored.adminTokenPrefix, previousPrefix: tokenChanged ? stored.adminTokenPrefix : null,
    },
    writeKey: { change: keyChanged ? 'replaced' : 'kept', fromEnv: config.writeKey !== null, value: writeKey, prefix: tokenPrefix(writeKey), previousPrefix: keyChanged ? tokenPrefix(stored.writeKey) : null },
  };
}

/** One credential's line: what is in force, where it comes from, and what changed. */
function line(label: string, env: string, c: CredentialOutcome): string {
  const shown = c.value ?? c.prefix ?? '(stored as a hash; set before its prefix was kept)';
  if (c.change === 'replaced') {
    return `${label}${shown} REPLACED by ${env}: the previous one${c.previousPrefix ? ` (${c.previousPrefix})` : ''} no longer works`;
  }
  if (c.change === 'created') {
    return c.fromEnv ? `${label}${shown} (from ${env})` : `${label}${shown} (generated${label.includes('token') ? '; shown only now, keep it' : ''})`;
  }
  return `${label}${shown} (${c.fromEnv ? `from ${env}, as stored` : `stored; set ${env} to replace it`})`;
}

/** The lines a start prints about the default project's credentials (README: "Run it"). */
export function credentialLines(b: Bootstrapped): string[] {
  const created = b.adminToken.change === 'created';
  return [
    created
      ? 'Strata created the default project (first start of this store). Its credentials:'
      : 'Default project credentials (kept from earlier starts unless said otherwise):',
    line('  admin token: ', 'STRATA_ADMIN_TOKEN', b.adminToken),
    line('  write key:   ', 'STRATA_WRITE_KEY', b.writeKey),
  ];
}
