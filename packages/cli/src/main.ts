import { EXPORT_USAGE, exportCommand } from './export.ts';
import { IMPORT_USAGE, runImport } from './import.ts';
import { UsageError } from './usage.ts';

// serve and demo load the whole server (store, engine, web routes) when they run, not at every
// call: `strata --help`, `strata import` and `strata export` start in a fraction of the time.
const server = () => import('./serve.ts');

const USAGE = `usage: strata <command> [arguments]

commands:
  serve          serve the admin UI, the APIs, ingest and docs (what npm start runs)
  demo [USERS]   load generated users (default 10000) and example data, then serve
  import FILE    import users, events or segment members from CSV/NDJSON into the running server
  export SEGMENT stream a segment's members as CSV/NDJSON from the running server
  help           print this text

"strata <command> --help" prints the arguments and options of one command.
Exit codes: 0 done, 1 failed, 2 a command line that cannot run as given (usage on stderr).`;

const SETTINGS = `Settings come from the environment: PORT (4000), HOST (127.0.0.1), STRATA_DATA_DIR (./data),
DATABASE_URL (postgres://… selects PostgreSQL), STRATA_ADMIN_TOKEN, STRATA_WRITE_KEY, and the
others of the README's Configuration table. The first start of a data dir creates the admin token
and the write key of the default project and prints both; a later start keeps them, unless
STRATA_ADMIN_TOKEN or STRATA_WRITE_KEY says otherwise (the start then says what it replaced).`;

const SERVE_USAGE = `usage: strata serve

Serves the admin UI at /, the APIs under /api and /v1, and the API docs at /docs until stopped
(Ctrl-C or SIGTERM). One process serves a database: while another serves the same data dir or
PostgreSQL database and schema, a start exits 1, naming it.
${SETTINGS}`;

const DEMO_USAGE = `usage: strata demo [USERS]

Loads USERS generated users (default 10000) with their events into the configured store, with
example segments and a small loyalty programme, then serves as "strata serve" does until stopped
(Ctrl-C or SIGTERM). Running it again on the same store leaves its segments and programme as they are.
${SETTINGS}`;

interface Command {
  readonly usage: string;
  /** Runs the command; resolves with the exit code (a server keeps the process alive after it). */
  run(args: readonly string[]): Promise<number>;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  serve: {
    usage: SERVE_USAGE,
    async run(args) {
      if (args.length > 0) throw new UsageError(`serve takes no arguments, got "${args.join(' ')}"`);
      const { prepare, serve, serveWorker } = await server();
      if (process.env.STRATA_ROLE?.trim() === 'worker') {
        await serveWorker();
        return 0;
      }
      const { config, ctx } = await prepare();
      await serve(ctx, config);
      return 0;
    },
  },
  demo: {
    usage: DEMO_USAGE,
    async run(args) {
      if (args.length > 1) throw new UsageError(`demo takes at most one argument (USERS), got "${args.join(' ')}"`);
      const users = args[0] === undefined ? 10_000 : Number(args[0]);
      if (!Number.isInteger(users) || users < 1) throw new UsageError(`USERS is a whole number of users (1 or more), got "${args[0]}"`);
      const [{ prepare, serve }, { loadDemo }] = await Promise.all([server(), import('./demo.ts')]);
      const role = process.env.STRATA_ROLE?.trim();
      if (role === 'api' || role === 'worker') throw new UsageError(`demo loads its data through the engine of a process of the all role: run it without STRATA_ROLE=${role}`);
      const { config, ctx } = await prepare();
      console.log(`Loading ${users} generated users...`);
      const r = await loadDemo(ctx, users);
      console.log(`Loaded ${r.events} events in ${r.seconds.toFixed(1)} s; created the demo segments, missions, rewards, an experience and an experiment.`);
      for (const s of await ctx.segments.list('default')) console.log(`  ${String(s.size).padStart(7)}  ${s.name}`);
      await serve(ctx, config);
      console.log('The demo keeps serving until you stop it (Ctrl-C); the data stays in the store for the next start.');
      return 0;
    },
  },
  import: { usage: IMPORT_USAGE, run: (args) => runImport([...args]) },
  export: { usage: EXPORT_USAGE, run: async (args) => { await exportCommand(args); return 0; } },
};

const isHelp = (arg: string | undefined) => arg === '--help' || arg === '-h';
const commandNamed = (name: string): Command | undefined => (Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined);

/** The exit code of a call naming no command that exists (usage on stderr). */
function unknown(name: string): number {
  console.error(`strata: unknown command "${name}"\n\n${USAGE}`);
  return 2;
}

/** Runs `strata ARGV…` and resolves with the exit code: usage goes to stdout when asked for, to stderr with a fault. */
async function main(argv: readonly string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    console.error(USAGE);
    return 2;
  }
  if (isHelp(name) || name === 'help') {
    if (args[0] === undefined) {
      console.log(USAGE);
      return 0;
    }
    const of = commandNamed(args[0]);
    if (!of) return unknown(args[0]);
    console.log(of.usage);
    return 0;
  }
  const command = commandNamed(name);
  if (!command) return unknown(name);
  if (args.some(isHelp)) {
    console.log(command.usage);
    return 0;
  }
  try {
    return await command.run(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`strata ${name}: ${e.message}\n\n${command.usage}`);
    return 2;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
}, (e: unknown) => {
  console.error(`strata: ${(e as Error).message}`);
  process.exit(1);
});
