import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { PUBLIC_SEGMENTS, type Project, type PublicSegments } from '@strata/store';
import type { Credentials } from '../auth.ts';
import type { AppContext } from '../context.ts';
import { errors } from '../schemas.ts';

const PublicSegmentsSchema = Type.Unsafe<PublicSegments>({
  type: 'string', enum: [...PUBLIC_SEGMENTS],
  description: "Who may read a user's segment names and ids on /v1/targeting: verified (calls with identity verification on; the default), always (any holder of the write key), never",
});
const Settings = Type.Object({
  projectId: Type.String(), name: Type.String(),
  writeKey: Type.Union([Type.String(), Type.Null()], { description: "The value of the project's oldest write key, for the SDK snippet (write keys are public); null when it has none. All keys: /api/keys" }),
  identityVerification: Type.Object({ enabled: Type.Boolean(), secret: Type.Union([Type.String(), Type.Null()]) }),
  publicSegments: PublicSegmentsSchema,
});
const SettingsPatch = Type.Object({
  identityVerification: Type.Optional(Type.Object({
    enabled: Type.Boolean(),
    rotateSecret: Type.Optional(Type.Boolean({ description: 'Make a new secret (every userHash computed with the old one stops working)' })),
  }, { additionalProperties: false })),
  publicSegments: Type.Optional(PublicSegmentsSchema),
}, { additionalProperties: false });

/** /api/settings (Bearer admin token, checked by the admin scope): the SDK's write key and identity verification. */
export async function settingsRoutes(app: FastifyInstance, ctx: AppContext & { creds: Credentials }): Promise<void> {
  const tags = { tags: ['settings'], security: [{ adminToken: [] }] };
  const settingsView = async (p: Project) => ({
    projectId: p.id, name: p.name, writeKey: await ctx.store.keys.firstWriteKey(p.id),
    identityVerification: { enabled: p.settings.identityVerification?.enabled ?? false, secret: p.settings.identityVerification?.secret ?? null },
    publicSegments: p.settings.publicSegments ?? 'verified',
  });
  app.get('/api/settings', {
    schema: { ...tags, summary: 'Project settings: write key, identity verification, public segments', response: { 200: Settings, ...errors(401, 403) } },
  }, async (req) => settingsView((await ctx.store.getProject(req.project.id))!));
  app.patch<{ Body: Static<typeof SettingsPatch> }>('/api/settings', {
    schema: { ...tags, summary: 'Turn identity verification on or off, rotate its secret, or choose who may read segments on /v1/targeting', body: SettingsPatch, response: { 200: Settings, ...errors(400, 401, 403) } },
  }, async (req) => {
    const p = (await ctx.store.getProject(req.project.id))!;
    const { identityVerification: iv, publicSegments } = req.body;
    let settings = p.settings;
    if (iv) {
      const secret = iv.rotateSecret || !settings.identityVerification?.secret ? randomBytes(32).toString('hex') : settings.identityVerification.secret;
      settings = { ...settings, identityVerification: { enabled: iv.enabled, secret } };
    }
    if (publicSegments !== undefined) settings = { ...settings, publicSegments };
    if (settings !== p.settings) {
      await ctx.store.setProjectSettings(p.id, settings);
      ctx.creds.clear();
    }
    return settingsView((await ctx.store.getProject(p.id))!);
  });
}

