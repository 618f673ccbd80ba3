// Runs a plan's DAG: an action starts once every action before it has succeeded, up to
// `parallelism` at once. It decides nothing: each action is handed to `run`, which does it
// and says whether it went as planned. The first unexpected result (or an abort from outside,
// when the observed state changed) stops new actions from starting; those already running are
// let finish, since an operation cut off halfway leaves a copy in a state nobody knows. The
// caller then plans again from what is observed (level-triggered reconcile).

import type { Action, Plan } from '../model/plan.js';

export type ActionOutcome = { readonly ok: true } | { readonly ok: false; readonly why: string };

export interface ExecutionResult {
  /** Every action run to success, in completion order. */
  readonly done: readonly string[];
  /** The first action that did not go as planned. */
  readonly failed?: { readonly action: string; readonly why: string };
  /** Set when the run stopped early because of `signal`. */
  readonly aborted: boolean;
  /** Actions never started. */
  readonly skipped: number;
}

export interface ExecuteOptions {
  readonly parallelism: number;
  readonly signal?: AbortSignal;
  readonly run: (action: Action, signal: AbortSignal) => Promise<ActionOutcome>;
  /** Called as each action starts and ends, for the event log. */
  readonly onStart?: (action: Action) => void;
  readonly onEnd?: (action: Action, outcome: ActionOutcome, ms: number) => void;
}

export async function executePlan(plan: Plan, opts: ExecuteOptions): Promise<ExecutionResult> {
  const byId = new Map(plan.actions.map((a) => [a.id, a]));
  const waiting = new Map<string, number>();
  const next = new Map<string, string[]>();
  for (const a of plan.actions) waiting.set(a.id, 0);
  for (const [before, after] of plan.edges) {
    if (!byId.has(before) || !byId.has(after)) continue;
    waiting.set(after, (waiting.get(after) ?? 0) + 1);
    (next.get(before) ?? next.set(before, []).get(before)!).push(after);
  }
  const ready: string[] = plan.actions.filter((a) => waiting.get(a.id) === 0).map((a) => a.id);
  const done: string[] = [];
  const inner = new AbortController();
  const onAbort = (): void => inner.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let failed: { action: string; why: string } | undefined;
  let running = 0;
  let started = 0;

  try {
    await new Promise<void>((resolve) => {
      const pump = (): void => {
        while (!failed && !inner.signal.aborted && running < opts.parallelism && ready.length > 0) {
          const id = ready.shift()!;
          const action = byId.get(id)!;
          running++;
          started++;
          opts.onStart?.(action);
          const t0 = performance.now();
          void opts
            .run(action, inner.signal)
            .catch((err: unknown): ActionOutcome => ({ ok: false, why: err instanceof Error ? err.message : String(err) }))
            .then((outcome) => {
              running--;
              opts.onEnd?.(action, outcome, performance.now() - t0);
              if (outcome.ok) {
                done.push(id);
                for (const n of next.get(id) ?? []) {
                  const left = (waiting.get(n) ?? 1) - 1;
                  waiting.set(n, left);
                  if (left === 0) ready.push(n);
                }
              } else failed ??= { action: id, why: outcome.why };
              pump();
            });
        }
        if (running === 0) resolve();
      };
      pump();
    });
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  return {
    done,
    ...(failed ? { failed } : {}),
    aborted: !failed && inner.signal.aborted && done.length < plan.actions.length,
    skipped: plan.actions.length - started,
  };
}
