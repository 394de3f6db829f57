import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');

export interface StrataProcess { readonly base: string; readonly child: ChildProcess }

/**
 * Starts `strata serve` as `npm start` does, on a port the system picks, with the given
 * credentials and environment; `children` keeps the process until it exits (a test's finally
 * kills what is left). Resolves with its address once its start line names it.
 */
export async function startStrata(env: Record<string, string>, children: Set<ChildProcess>, waitSeconds = 30): Promise<StrataProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'packages/cli/src/main.ts'), 'serve'], {
    cwd: root, env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  for (let i = 0; i < waitSeconds * 10; i++) {
    // Port 0: the system picks a free one, which the start line names.
    const serving = /Strata is serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
    if (serving) return { base: serving[1]!, child };
    if (child.exitCode !== null) throw new Error(`strata exited: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`strata did not start: ${out}`);
}
