import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { Project } from '@strata/store';
import type { Credentials } from '../auth.ts';
import type { AppContext } from '../context.ts';
import { errors } from '../schemas.ts';

const Settings = Type.Object({
  projectId: Type.String(), name: Type.String(), writeKey: Type.String(),
  identityVerification: Type.Object({ enabled: Type.Boolean(), secret: Type.Union([Type.String(), Type.Null()]) }),
});
const SettingsPatch = Type.Object({
  identityVerification: Type.Optional(Type.Object({
    enabled: Type.Boolean(),
    rotateSecret: Type.Optional(Type.Boolean({ description: 'Make a new secret (every userHash computed with the old one stops working)' })),
  }, { additionalProperties: false })),
}, { additionalProperties: false });

/** /api/settings (Bearer admin token, checked by the admin scope): the write key and identity verification. */
export async function settingsRoutes(app: FastifyInstance, ctx: AppContext & { creds: Credentials }): Promise<void> {
  const tags = { tags: ['settings'], security: [{ adminToken: [] }] };
  const settingsView = (p: Project) => ({
    projectId: p.id, name: p.name, writeKey: p.writeKey,
    identityVerification: { enabled: p.settings.identityVerification?.enabled ?? false, secret: p.settings.identityVerification?.secret ?? null },
  });
  app.get('/api/settings', {
    schema: { ...tags, summary: 'Project settings: write key and identity verification', response: { 200: Settings, ...errors(401, 403) } },
  }, async (req) => settingsView((await ctx.store.getProject(req.project.id))!));
  app.patch<{ Body: Static<typeof SettingsPatch> }>('/api/settings', {
    schema: { ...tags, summary: 'Turn identity verification on or off, or rotate its secret', body: SettingsPatch, response: { 200: Settings, ...errors(400, 401, 403) } },
  }, async (req) => {
    const p = (await ctx.store.getProject(req.project.id))!;
    const iv = req.body.identityVerification;
    if (iv) {
      const secret = iv.rotateSecret || !p.settings.identityVerification?.secret ? randomBytes(32).toString('hex') : p.settings.identityVerification.secret;
      await ctx.store.setProjectSettings(p.id, { ...p.settings, identityVerification: { enabled: iv.enabled, secret } });
      ctx.creds.clear();
    }
    return settingsView((await ctx.store.getProject(p.id))!);
  });
}

