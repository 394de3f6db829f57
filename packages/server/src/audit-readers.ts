import { createHash } from 'node:crypto';
import type { Json } from '@strata/core';
import { DestinationStore, ExperienceStore, ExperimentStore, MissionStore, PointsStore, RewardStore, WebhookStore, type SqlStore } from '@strata/store';

/**
 * Reads a resource as the audit log keeps it (null: it does not exist), through the store it is
 * given: the change's transaction (the row is then written in it) or the store. Never secrets.
 */
export type AuditReader = (store: SqlStore, projectId: string, id: string) => Promise<Json | null>;

/** A short one-way fingerprint of a secret: shows that it changed, never what it is. */
export const secretFingerprint = (secret: string | null | undefined): string | null =>
  secret ? `sha256:${createHash('sha256').update(secret).digest('hex').slice(0, 12)}` : null;

/**
 * A stored row as a snapshot: without its project id and the keys given, its `…At` times
 * (epoch ms) as ISO text, as the API shows them.
 */
function tidy(row: object | null, drop: readonly string[] = []): Json | null {
  if (row === null) return null;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (k === 'projectId' || drop.includes(k)) continue;
    out[k] = /At$/.test(k) && typeof v === 'number' ? new Date(v).toISOString() : v;
  }
  return JSON.parse(JSON.stringify(out)) as Json;
}

/**
 * The most ids a segment snapshot lists per manual list: a longer list (a static segment filled
 * by an import) is kept as its length and a fingerprint, so that renaming a segment of 100,000
 * hand-added members does not write 200,000 ids into the log.
 */
export const MAX_LISTED_IDS = 1000;

const idList = (ids: readonly string[]): Json =>
  ids.length <= MAX_LISTED_IDS ? [...ids] : { count: ids.length, fingerprint: secretFingerprint(JSON.stringify(ids)) };

/** One reader per resource type of AUDITED (audit.ts). */
export const readers = {
  segment: async (store, p, id) => {
    const row = await store.getSegment(p, id);
    if (!row) return null;
    const manual = await store.manualIds(p, id);
    return tidy({ ...row, include: idList(manual.include), exclude: idList(manual.exclude) });
  },
  mission: async (store, p, id) => tidy(await new MissionStore(store).get(p, id)),
  reward: async (store, p, id) => {
    const rs = new RewardStore(store);
    const row = await rs.get(p, id);
    if (!row) return null;
    const codes = (await rs.codeCounts(p, [id])).get(id) ?? { total: 0, available: 0 };
    return tidy({ ...row, codes, redemptions: (await rs.counts(p)).get(id) ?? 0 });
  },
  experience: async (store, p, id) => tidy(await new ExperienceStore(store).get(p, id)),
  experiment: async (store, p, id) => tidy(await new ExperimentStore(store).get(p, id)),
  webhook: async (store, p, id) => {
    const row = await new WebhookStore(store).getWebhook(p, id);
    return row && tidy({ ...row, secretFingerprint: secretFingerprint(row.secret) }, ['secret']);
  },
  destination: async (store, p, id) => {
    const row = await new DestinationStore(store).get(p, id);
    return row && tidy({ ...row, secretFingerprint: secretFingerprint(row.secret), writeKeyFingerprint: secretFingerprint(row.writeKey) }, ['secret', 'writeKey']);
  },
  settings: async (store, p) => {
    const project = await store.getProject(p);
    if (!project) return null;
    const iv = project.settings.identityVerification;
    return {
      name: project.name,
      identityVerification: { enabled: iv?.enabled ?? false, secretFingerprint: secretFingerprint(iv?.secret) },
      publicSegments: project.settings.publicSegments ?? 'verified',
    };
  },
  userLabels: async (store, p, id) => {
    const profile = await store.findProfile(p, id);
    return profile ? { labels: [...profile.labels] } : null;
  },
  /** A key as its list shows it: kind, label, prefix and dates, never its value or hash. */
  key: async (store, p, id) => tidy(await store.keys.get(p, id)),
  points: async (store, p, id) => {
    const profile = await store.findProfile(p, id);
    return profile ? { balance: await new PointsStore(store).balance(p, profile.id) } : null;
  },
} satisfies Record<string, AuditReader>;
