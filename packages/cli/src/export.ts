import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseCommandLine, UsageError } from './usage.ts';

export const EXPORT_USAGE = `usage: strata export SEGMENT [--format csv|ndjson] [--traits a,b] [--labels] [--escape-formulas] [--out FILE]
  SEGMENT is a segment id or its exact name. Talks to the running server:
  STRATA_URL (default http://127.0.0.1:4000) with STRATA_ADMIN_TOKEN. Without --out, writes to stdout.`;

interface Env {
  readonly STRATA_URL?: string;
  readonly STRATA_ADMIN_TOKEN?: string;
}

async function api(base: string, token: string, path: string): Promise<Response> {
  return fetch(new URL(path, base), { headers: { authorization: `Bearer ${token}` } });
}

async function failure(res: Response, what: string): Promise<Error> {
  let message = `HTTP ${res.status}`;
  try {
    message = ((await res.json()) as { error?: { message?: string } }).error?.message ?? message;
  } catch {
    // not JSON: the status says enough
  }
  return new Error(`${what}: ${message}`);
}

/** The segment's id: SEGMENT itself when it is one, else the one segment of that name. */
async function resolveSegment(base: string, token: string, ref: string): Promise<string> {
  const byId = await api(base, token, `/api/segments/${encodeURIComponent(ref)}`);
  if (byId.ok) return ref;
  if (byId.status !== 404) throw await failure(byId, 'cannot read the segment');
  const list = await api(base, token, '/api/segments');
  if (!list.ok) throw await failure(list, 'cannot list segments');
  const named = ((await list.json()) as { segments: { id: string; name: string }[] }).segments.filter((s) => s.name === ref);
  if (named.length === 0) throw new Error(`no segment with id or name "${ref}"`);
  if (named.length > 1) throw new Error(`${named.length} segments are named "${ref}" (${named.map((s) => s.id).join(', ')}): give the id`);
  return named[0]!.id;
}

/**
 * `strata export`: streams GET /api/segments/:id/export to a file or stdout. A file is
 * written under a temporary name and renamed when complete, so a failed export leaves none.
 */
export async function exportCommand(argv: readonly string[], env: Env = process.env, stdout: Writable = process.stdout): Promise<void> {
  const { values, positionals } = parseCommandLine({
    args: [...argv], allowPositionals: true,
    options: { format: { type: 'string', default: 'csv' }, traits: { type: 'string' }, labels: { type: 'boolean' }, 'escape-formulas': { type: 'boolean' }, out: { type: 'string', short: 'o' } },
  });
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'give the SEGMENT (an id or an exact name)' : `one SEGMENT at a time, got ${positionals.length}: ${positionals.join(' ')}`);
  if (values.format !== 'csv' && values.format !== 'ndjson') throw new UsageError(`--format is csv or ndjson, not "${values.format}"`);
  const base = env.STRATA_URL ?? 'http://127.0.0.1:4000';
  const token = env.STRATA_ADMIN_TOKEN;
  if (!token) throw new UsageError('set STRATA_ADMIN_TOKEN to the admin token of the project');
  const id = await resolveSegment(base, token, positionals[0]!);
  const q = new URLSearchParams({ format: values.format });
  if (values.traits) q.set('traits', values.traits);
  if (values.labels) q.set('labels', 'true');
  if (values['escape-formulas']) q.set('escapeFormulas', 'true');
  const res = await api(base, token, `/api/segments/${encodeURIComponent(id)}/export?${q}`);
  if (!res.ok || !res.body) throw await failure(res, 'export failed');
  const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  if (!values.out) {
    await pipeline(body, stdout, { end: false });
    return;
  }
  const part = `${values.out}.part`;
  try {
    await pipeline(body, createWriteStream(part));
    await rename(part, values.out);
  } catch (err) {
    await rm(part, { force: true });
    throw err;
  }
}
