// What every bench that drives a lab needs: progress on stderr (stdout holds only the figures),
// waiting for a condition with a deadline, and percentiles of a sample.

import { HavenError } from '../src/errors.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Progress goes to stderr, so stdout holds only the figures. */
export function say(text: string): void {
  process.stderr.write(`${text}\n`);
}

/**
 * Calls `fn` every `everyMs` until it gives a value (undefined or a throw: not yet), or throws
 * INTERNAL after `timeoutMs`, naming what was awaited and the last error seen.
 */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) throw new HavenError('INTERNAL', `timed out after ${timeoutMs} ms waiting for ${what}${last === '' ? '' : ` (last: ${last})`}`);
    await sleep(everyMs);
  }
}

/** The p-th percentile (nearest rank) of `values`; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}
