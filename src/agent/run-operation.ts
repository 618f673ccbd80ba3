// Running one operation of a resource agent under a timeout: the operation's signal aborts when
// the timeout passes or the daemon shuts down, and if the resource agent has not answered a
// short grace after that, the operation is reported as timed out anyway, so a resource agent
// that ignores its signal cannot hold a copy's queue forever. Never throws: a resource agent
// that throws is reported as rc 1 (ERR_GENERIC) with its message.

import { OCF_RC } from '../model/wire.js';
import type { OperationContext, ResourceAgent, ResourceOperation, ResourceOutcome } from '../resources/types.js';

/**
 * How long a resource agent may take to wind down after its signal aborted. Below the 2 s the
 * controller waits beyond an operation's timeout (src/controller/agent-client.ts), so a stuck
 * resource agent still gets an answer to the controller in time.
 */
export const ABORT_GRACE_MS = 1_000;

/** Keeps the tail of long output: the end of a log usually says what went wrong. */
export const MAX_OUTPUT = 4_096;

export interface BoundedOutcome extends ResourceOutcome {
  readonly durationMs: number;
}

export async function runBounded(
  agent: ResourceAgent,
  operation: ResourceOperation,
  ctx: Omit<OperationContext, 'signal'>,
  shutdown: AbortSignal,
): Promise<BoundedOutcome> {
  const started = performance.now();
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error(`timed out after ${ctx.timeoutMs} ms`));
  }, ctx.timeoutMs);
  const onShutdown = (): void => controller.abort(new Error('the agent is shutting down'));
  if (shutdown.aborted) onShutdown();
  else shutdown.addEventListener('abort', onShutdown, { once: true });
  let grace: NodeJS.Timeout | undefined;
  const expired = new Promise<'expired'>((resolve) => {
    const arm = (): void => {
      grace = setTimeout(() => resolve('expired'), ABORT_GRACE_MS);
    };
    if (controller.signal.aborted) arm();
    else controller.signal.addEventListener('abort', arm, { once: true });
  });
  try {
    const run = Promise.resolve()
      .then(() => agent.run(operation, { ...ctx, signal: controller.signal }))
      .catch((err: unknown): ResourceOutcome => ({ rc: OCF_RC.ERR_GENERIC, output: `the resource agent failed: ${err instanceof Error ? err.message : String(err)}` }));
    const outcome = await Promise.race([run, expired]);
    const durationMs = Math.round((performance.now() - started) * 1000) / 1000;
    if (outcome === 'expired' || timedOut || controller.signal.aborted) {
      const why = timedOut ? `timed out after ${ctx.timeoutMs} ms` : 'aborted: the agent is shutting down';
      const said = outcome === 'expired' ? '' : outcome.output;
      return { rc: OCF_RC.ERR_GENERIC, timedOut, output: trimOutput(said === '' ? why : `${why}\n${said}`), durationMs };
    }
    return {
      rc: outcome.rc,
      output: trimOutput(outcome.output),
      durationMs,
      ...(outcome.timedOut === true ? { timedOut: true } : {}),
    };
  } finally {
    clearTimeout(timer);
    if (grace !== undefined) clearTimeout(grace);
    shutdown.removeEventListener('abort', onShutdown);
  }
}

export function trimOutput(text: string): string {
  const t = text.trim();
  return t.length <= MAX_OUTPUT ? t : `…${t.slice(t.length - MAX_OUTPUT + 1)}`;
}
