import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * A command line that cannot run as given (a missing argument, an unknown option, a bad value):
 * `strata` prints the message and the command's usage on stderr and exits 2, which tells a
 * script "fix the call" apart from a run that failed (1).
 */
export class UsageError extends Error {}

/** node:util's parseArgs, its faults of the command line (unknown option, missing value) turned into UsageErrors. */
export function parseCommandLine<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
