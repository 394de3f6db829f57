import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

/**
 * The kinds of credential (docs/security.md): `admin` (the admin API of one project), `write`
 * (ingest and the public SDK API of one project), `server` (a trusted back end of one project:
 * points adjustments and mission completion), `root` (the server's operator: projects).
 */
export type KeyKind = 'admin' | 'write' | 'server' | 'root';
export const PROJECT_KEY_KINDS: readonly Exclude<KeyKind, 'root'>[] = ['admin', 'write', 'server'];

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');
/**
 * What names a token without giving it away: its first characters, at most 10 and at most a third
 * of it (a generated `sta_…` token shows its kind and 6 of its 32 random characters), then "…".
 */
export const tokenPrefix = (token: string): string => `${token.slice(0, Math.min(10, Math.floor(token.length / 3)))}…`;

const VALUE_PREFIX: Record<KeyKind, string> = { admin: 'sta', write: 'stw', server: 'sts', root: 'str' };
/** A new secret of a kind: its prefix (`sta_`, `stw_`, `sts_`, `str_`) and 192 random bits. */
export const newKeyValue = (kind: KeyKind): string => `${VALUE_PREFIX[kind]}_${randomBytes(24).toString('base64url')}`;
export const newKeyId = (): string => `key_${randomBytes(8).toString('hex')}`;

/** A key as stored, without its secret. */
export interface KeyRow {
  readonly id: string;
  /** Null for the root token, which belongs to the server, not to a project. */
  readonly projectId: string | null;
  readonly kind: KeyKind;
  readonly label: string;
  readonly prefix: string;
  readonly createdAt: number;
  readonly rotatedAt: number | null;
}

type Row = Database['api_keys'];
const toKey = (r: Pick<Row, 'id' | 'project_id' | 'kind' | 'label' | 'prefix' | 'created_at' | 'rotated_at'>): KeyRow => ({
  id: r.id, projectId: r.project_id, kind: r.kind as KeyKind, label: r.label, prefix: r.prefix,
  createdAt: Number(r.created_at), rotatedAt: r.rotated_at === null ? null : Number(r.rotated_at),
});
const COLUMNS = ['id', 'project_id', 'kind', 'label', 'prefix', 'created_at', 'rotated_at'] as const;

/**
 * Credentials (table `api_keys`): each stored as the SHA-256 of its value and its prefix. A
 * write key also keeps its value: it is public by design (every page that loads the SDK carries
 * it), and the admin UI shows it in the SDK snippet. Admin tokens, server keys and the root token
 * are never stored, so never shown again after they are made.
 */
export class KeyStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(k: { id?: string; projectId: string | null; kind: KeyKind; label: string; value: string; now: number }): Promise<KeyRow> {
    const row: Row = {
      id: k.id ?? newKeyId(), project_id: k.projectId, kind: k.kind, label: k.label, hash: hashToken(k.value), prefix: tokenPrefix(k.value),
      value: k.kind === 'write' ? k.value : null, created_at: k.now, rotated_at: null,
    };
    await this.db.insertInto('api_keys').values(row).execute();
    return toKey(row);
  }

  /**
   * The key whose value this is, or null: a look-up by the value's hash, then the stored hash
   * compared with crypto.timingSafeEqual (no comparison of secrets that stops at the first difference).
   */
  async find(value: string): Promise<KeyRow | null> {
    const hash = hashToken(value);
    const r = await this.db.selectFrom('api_keys').select([...COLUMNS, 'hash']).where('hash', '=', hash).executeTakeFirst();
    if (!r) return null;
    const a = Buffer.from(r.hash, 'hex'), b = Buffer.from(hash, 'hex');
    return a.length === b.length && timingSafeEqual(a, b) ? toKey(r) : null;
  }

  async get(projectId: string, id: string): Promise<KeyRow | null> {
    const r = await this.db.selectFrom('api_keys').select(COLUMNS).where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    return r ? toKey(r) : null;
  }

  /** A project's keys, oldest first (then by kind). */
  async list(projectId: string): Promise<KeyRow[]> {
    const rows = await this.db.selectFrom('api_keys').select(COLUMNS).where('project_id', '=', projectId).orderBy('created_at').orderBy('kind').orderBy('id').execute();
    return rows.map(toKey);
  }

  /** The server's root token, if one is stored. */
  async root(): Promise<KeyRow | null> {
    const r = await this.db.selectFrom('api_keys').select(COLUMNS).where('kind', '=', 'root').where('project_id', 'is', null).executeTakeFirst();
    return r ? toKey(r) : null;
  }

  /** A write key's value (they are public: see the class comment); null for any other kind. */
  async writeKeyValue(projectId: string, id: string): Promise<string | null> {
    const r = await this.db.selectFrom('api_keys').select('value').where('project_id', '=', projectId).where('id', '=', id).where('kind', '=', 'write').executeTakeFirst();
    return r?.value ?? null;
  }

  /** The value of the project's oldest write key (for the SDK snippet); null when it has none. */
  async firstWriteKey(projectId: string): Promise<string | null> {
    const r = await this.db.selectFrom('api_keys').select('value').where('project_id', '=', projectId).where('kind', '=', 'write')
      .orderBy('created_at').orderBy('id').executeTakeFirst();
    return r?.value ?? null;
  }

  /** Gives a key a new value (the old one stops working at once); its id, kind and label stay. */
  async rotate(id: string, value: string, now: number): Promise<KeyRow | null> {
    const r = await this.db.selectFrom('api_keys').select('kind').where('id', '=', id).executeTakeFirst();
    if (!r) return null;
    await this.db.updateTable('api_keys').set({ hash: hashToken(value), prefix: tokenPrefix(value), value: r.kind === 'write' ? value : null, rotated_at: now })
      .where('id', '=', id).execute();
    const out = await this.db.selectFrom('api_keys').select(COLUMNS).where('id', '=', id).executeTakeFirst();
    return out ? toKey(out) : null;
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('api_keys').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async count(projectId: string, kind: KeyKind): Promise<number> {
    const r = await this.db.selectFrom('api_keys').select((eb) => eb.fn.countAll<number>().as('n')).where('project_id', '=', projectId).where('kind', '=', kind).executeTakeFirst();
    return Number(r?.n ?? 0);
  }
}
