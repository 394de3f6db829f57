import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The `strata` bin as npm links it (the repo root's node_modules/.bin/strata points here). */
export const STRATA_BIN = fileURLToPath(new URL('../bin/strata.js', import.meta.url));

export interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `strata ARGS` as its own process (env added to this one's) and resolves when it exits. */
export function runStrata(args: readonly string[], env: Record<string, string> = {}, bin = STRATA_BIN): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

export interface Serving {
  /** What it printed up to its "serving on" line. */
  readonly stdout: string;
  /** The address it serves on. */
  readonly url: string;
  /** Stops it (SIGINT, as Ctrl-C) and resolves with how it exited and what it wrote to stderr. */
  stop(): Promise<Exit>;
}

/** Starts `strata ARGS` (serve or demo) and resolves once it says it is serving; rejects if it exits first. */
export function startStrata(args: readonly string[], env: Record<string, string>): Promise<Serving> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [STRATA_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    const exited = new Promise<Exit>((done) => child.on('close', (code, signal) => done({ code, signal, stderr })));
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /serving on (http:\/\/\S+) /.exec(stdout);
      if (m) resolve({ stdout, url: m[1]!, stop: () => { child.kill('SIGINT'); return exited; } });
    });
    child.on('error', reject);
    void exited.then((e) => reject(new Error(`strata ${args.join(' ')} exited (${e.code ?? e.signal}) before serving:\n${stdout}\n${stderr}`)));
  });
}
