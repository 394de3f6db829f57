/**
 * The embedded store that bench/preview.ts and bench/peers.ts read: generated users (seed 3,
 * ≈10 events each, 90 days up to END) written straight into a Strata SQLite database, built
 * once into .bench-data/ and reused.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { generateUsers } from '@strata/datagen';
import { normalizeMessage } from '@strata/server';
import { openSqlite, SqlStore } from '@strata/store';

/** The dataset's "now". */
export const END = Date.UTC(2026, 0, 15);
const dir = join(import.meta.dirname, '..', '.bench-data');

/** The path of the database of `users` generated users, built first if it is not there yet. */
export async function previewDatabase(users: number): Promise<string> {
  const file = join(dir, `preview-${users}.db`);
  if (!existsSync(file)) {
    console.log(`building ${file} (once)...`);
    await build(users, file);
  }
  return file;
}

async function build(users: number, file: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.building`;
  rmSync(tmp, { force: true });
  const { db, raw } = openSqlite({ filename: tmp });
  const store = new SqlStore(db, 'sqlite');
  await store.migrate();
  await store.createProject({ id: 'default', name: 'bench', writeKey: 'w', adminToken: 'a', now: END });
  raw.pragma('synchronous = OFF');
  raw.pragma('journal_mode = OFF');
  // Load without secondary indexes, then build them: the usual bulk-load order.
  const indexes = raw.prepare(`SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('events', 'profiles', 'profile_keys') AND sql IS NOT NULL`).all() as { sql: string }[];
  for (const { sql } of indexes) raw.exec(`DROP INDEX ${/INDEX (\w+)/.exec(sql)![1]}`);
  const insProfile = raw.prepare(`INSERT INTO profiles (id, project_id, user_id, anonymous_id, traits, context, context_at, labels, first_seen, last_seen, created_at, updated_at)
    VALUES (?, 'default', ?, ?, ?, ?, ?, '[]', ?, ?, ?, ?)`);
  const insEvent = raw.prepare(`INSERT INTO events (project_id, profile_id, message_id, type, name, derived, properties, context_id, context_own, ts, received_at)
    VALUES ('default', ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)`);
  const insContext = raw.prepare(`INSERT INTO contexts (project_id, hash, json) VALUES ('default', ?, ?) ON CONFLICT (project_id, hash) DO UPDATE SET hash = excluded.hash RETURNING id`);
  const contextIds = new Map<string, number>();
  const contextId = (json: string): number => {
    let id = contextIds.get(json);
    if (id === undefined) {
      id = (insContext.get(createHash('sha1').update(json).digest('base64'), json) as { id: number }).id;
      contextIds.set(json, id);
    }
    return id;
  };
  const insKey = raw.prepare(`INSERT INTO profile_keys (project_id, kind, key, profile_id) VALUES ('default', ?, ?, ?)`);
  let events = 0;
  const started = Date.now();
  raw.exec('BEGIN');
  for (const u of generateUsers({ seed: 3, users, end: END })) {
    const id = u.index + 1;
    const traits: Record<string, unknown> = {};
    let last = 0, first = Infinity, context = '{}';
    for (const m of u.messages) {
      const n = normalizeMessage(m, null, END, undefined);
      if (!n.ok) continue;
      const it = n.item;
      if (it.traits) Object.assign(traits, it.traits);
      const { page, campaign, referrer, ...shared } = it.context;
      const own = { ...(page === undefined ? {} : { page }), ...(campaign === undefined ? {} : { campaign }), ...(referrer === undefined ? {} : { referrer }) };
      insEvent.run(id, it.messageId, it.type, it.name, it.propertiesJson!, contextId(JSON.stringify(shared)), JSON.stringify(own), it.timestamp, END);
      first = Math.min(first, it.timestamp);
      last = Math.max(last, it.timestamp);
      context = it.contextJson!;
      events++;
    }
    insProfile.run(id, u.userId, u.anonymousId, JSON.stringify(traits), context, last, first, last, END, END);
    if (u.userId) insKey.run('u', u.userId, id);
    insKey.run('a', u.anonymousId, id);
    if (contextIds.size > 200_000) contextIds.clear();
    if (id % 50_000 === 0) {
      raw.exec('COMMIT; BEGIN');
      console.log(`  ${id} users, ${events} events (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
  }
  raw.exec('COMMIT');
  console.log(`  building indexes...`);
  for (const { sql } of indexes) raw.exec(sql);
  raw.exec('ANALYZE');
  await store.close();
  renameSync(tmp, file);
}

