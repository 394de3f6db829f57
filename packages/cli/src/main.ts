import { loadDemo } from './demo.ts';
import { runImport } from './import.ts';
import { prepare, serve } from './serve.ts';
import { exportCommand } from './export.ts';

const USAGE = `usage: strata <command>
  serve          serve the API, ingest and docs (PORT, HOST, STRATA_DATA_DIR, DATABASE_URL, ...)
  demo [users]   load generated users (default 10000) into the store, then serve
  import FILE    import users, events or segment members from CSV/NDJSON (strata import --help)
  export SEGMENT stream a segment's members as CSV/NDJSON from the running server (strata export --help)`;

async function main(argv: string[]): Promise<void> {
  const [command, arg] = argv;
  switch (command) {
    case 'serve': {
      const { config, ctx } = await prepare();
      await serve(ctx, config);
      return;
    }
    case 'demo': {
      const users = arg === undefined ? 10_000 : Number(arg);
      if (!Number.isInteger(users) || users < 1) throw new Error(`demo takes a number of users, got "${arg}"`);
      const { config, ctx } = await prepare();
      console.log(`Loading ${users} generated users...`);
      const r = await loadDemo(ctx, users);
      console.log(`Loaded ${r.events} events in ${r.seconds.toFixed(1)} s; created the demo segments, missions, rewards, an experience and an experiment.`);
      for (const s of await ctx.segments.list('default')) console.log(`  ${String(s.size).padStart(7)}  ${s.name}`);
      await serve(ctx, config);
      return;
    }
    case 'import':
      process.exitCode = await runImport(argv.slice(1));
      return;
    case 'export':
      await exportCommand(argv.slice(1));
      return;
    default:
      console.error(USAGE);
      process.exit(command ? 2 : 0);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(`strata: ${(e as Error).message}`);
  process.exit(1);
});
