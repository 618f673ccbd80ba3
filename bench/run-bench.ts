// How a bench that builds labs runs: main() returns its exit code; the labs are torn down after
// it, after an error (exit 2 for bad flags, 1 otherwise), and on SIGINT/SIGTERM (exit 130), when
// the signal handler owns the teardown and whatever main still does is not reported.

import { HavenError } from '../src/errors.js';

export function runBench(name: string, labs: string, main: () => Promise<number>, cleanup: () => Promise<void>): void {
  let interrupted = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (interrupted) return;
      interrupted = true;
      process.stderr.write(`${name}: ${sig}, tearing ${labs} down\n`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  main()
    .then(async (code) => {
      if (interrupted) return;
      await cleanup();
      process.exitCode = code;
    })
    .catch(async (err: unknown) => {
      if (interrupted) return;
      process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
      if (err instanceof HavenError && err.hint !== undefined) process.stderr.write(`hint: ${err.hint}\n`);
      await cleanup();
      const usage = (err instanceof HavenError && err.code === 'USAGE') || (err as NodeJS.ErrnoException | null)?.code?.startsWith('ERR_PARSE_ARGS') === true;
      process.exitCode = usage ? 2 : 1;
    });
}
