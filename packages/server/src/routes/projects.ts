import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AppError, isoTime } from '@strata/core';
import type { Project } from '@strata/store';
import { credentialOf, recordAudit } from '../audit.ts';
import { requireRoot, type Credentials } from '../auth.ts';
import type { AppContext } from '../context.ts';
import { DEFAULT_PROJECT } from '../credentials.ts';
import { IdParams, errors } from '../schemas.ts';
import { KeySchema, keyView } from './keys.ts';

const ProjectSchema = Type.Object({ id: Type.String(), name: Type.String(), createdAt: Type.String({ format: 'date-time' }) }, { $id: 'Project' });
const ProjectCreate = Type.Object({ name: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', description: 'Not blank' }) }, { additionalProperties: false });
const WithValue = Type.Object({ ...KeySchema.properties, value: Type.String({ description: 'Shown in this answer only' }) });

const projectView = (p: Project) => ({ id: p.id, name: p.name, createdAt: isoTime(p.createdAt)! });

/**
 * /api/projects (Bearer root token, docs/security.md): the server's operator creates, lists and
 * deletes projects. The root token reaches no project's data, and no project's key reaches these routes.
 */
export async function projectRoutes(app: FastifyInstance, ctx: AppContext & { creds: Credentials }, opts: { apiRole?: boolean } = {}): Promise<void> {
  if (opts.apiRole) {
    // A project is listed and made on a process of the api role (the engines that apply the log load it with its first records);
    // its deletion must reach every engine that holds its profiles: the all role's.
    app.addHook('onRequest', async (req) => {
      if (req.method === 'DELETE') throw new AppError({ code: 'WRONG_ROLE', message: 'a project is deleted by the all role' });
    });
  }
  // onRequest, as in the admin scope: a caller without the root token hears 401/403, never the schema's complaints.
  app.addHook('onRequest', async (req) => {
    await requireRoot(req, ctx.creds);
  });
  const tags = { tags: ['projects'], security: [{ rootToken: [] }] };

  app.get('/api/projects', {
    schema: { ...tags, summary: 'List projects', response: { 200: Type.Object({ projects: Type.Array(ProjectSchema) }), ...errors(401, 403) } },
  }, async () => ({ projects: (await ctx.store.listProjects()).map(projectView) }));

  app.post<{ Body: Static<typeof ProjectCreate> }>('/api/projects', {
    schema: {
      ...tags, summary: 'Create a project with its first admin token and write key (their values are in this answer only)', body: ProjectCreate,
      response: { 201: Type.Object({ project: ProjectSchema, adminToken: WithValue, writeKey: WithValue }), ...errors(400, 401, 403) },
    },
  }, async (req, reply) => {
    const now = ctx.clock.now();
    // Ids are made here and never reused: nothing cached for a deleted project can be taken for a new one's.
    const made = await ctx.store.createProject({ id: `prj_${randomBytes(8).toString('hex')}`, name: req.body.name, now });
    // Where no engine runs (the api role), the processes that apply the log load it with its first records.
    if (!ctx.engine.holdsNoState) await ctx.engine.load(made.project.id);
    const keys = await ctx.store.keys.list(made.project.id);
    const of = (kind: 'admin' | 'write', value: string) => ({ ...keyView(keys.find((k) => k.kind === kind)!), value });
    // The new project's audit log starts with its creation, by the root token: named, not by its
    // prefix, which the project's admins have no business seeing.
    await recordAudit(ctx.store, {
      projectId: made.project.id, at: now, credential: 'root', action: 'create', resourceType: 'project', resourceId: made.project.id,
      before: null, after: { name: made.project.name, keys: keys.map((k) => ({ kind: k.kind, prefix: k.prefix })) },
    });
    return reply.status(201).send({ project: projectView(made.project), adminToken: of('admin', made.adminToken), writeKey: of('write', made.writeKey) });
  });

  app.delete<{ Params: Static<typeof IdParams> }>('/api/projects/:id', {
    schema: {
      ...tags, summary: 'Delete a project and all its data (people, events, segments, keys, everything); not the default project (409)', params: IdParams,
      response: { 200: Type.Object({ id: Type.String(), deleted: Type.Record(Type.String(), Type.Integer(), { description: 'Rows deleted, by table' }) }), ...errors(401, 403, 404, 409) },
    },
  }, async (req) => {
    const id = req.params.id;
    if (id === DEFAULT_PROJECT) {
      throw new AppError({ code: 'CONFLICT', message: 'the default project cannot be deleted: every start makes sure it exists (with STRATA_ADMIN_TOKEN / STRATA_WRITE_KEY)' });
    }
    if (!(await ctx.store.getProject(id))) throw new AppError({ code: 'NOT_FOUND', message: `no project with id "${id}"` });
    const deleted = await ctx.engine.deleteProject(id, (tx) => tx.deleteProjectData(id));
    // Its audit log went with it: the server's log keeps the deletion.
    req.log.warn({ projectId: id, credential: credentialOf(req), deleted }, 'project deleted');
    ctx.creds.clear();
    return { id, deleted };
  });
}
