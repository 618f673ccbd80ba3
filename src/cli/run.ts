// What every `haven` subcommand shares at the edge: turning a thrown error into a message on
// stderr and an exit code from the one table in src/errors.ts, and deciding on colour.

import { ConfigInvalidError, HavenError, StatusInvalidError, ERROR_CODES } from '../errors.js';
import { formatConfigErrors } from '../config/load.js';

/** Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function useColor(stream: NodeJS.WriteStream = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && env['NO_COLOR'] === undefined;
}

/** The text `haven` prints on stderr for an error: located file errors first, then one summary line. */
export function describeError(err: unknown): { text: string; exitCode: number } {
  if (err instanceof ConfigInvalidError || err instanceof StatusInvalidError) {
    return { text: `${formatConfigErrors(err.errors)}haven: ${err.message}\n`, exitCode: err.exitCode };
  }
  if (err instanceof HavenError) {
    const hint = err.hint === undefined ? '' : ` (hint: ${err.hint})`;
    return { text: `haven: ${err.message}${hint}\n`, exitCode: err.exitCode };
  }
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return { text: `haven: internal error (a bug; please report it): ${detail}\n`, exitCode: ERROR_CODES.INTERNAL.exitCode };
}

/**
 * Wraps a command's action: errors become a message on stderr and the exit code of their code.
 * The exit code is set, not forced, so stdout is flushed before the process ends.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      const { text, exitCode } = describeError(err);
      process.stderr.write(text);
      process.exitCode = exitCode;
    }
  };
}
