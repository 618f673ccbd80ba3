// `haven plan --config FILE --status FILE [--now TIME] [--explain RESOURCE] [--json | --dot]`:
// what the scheduler would do for this configuration and status, the analogue of crm_simulate.
// Prints the summary and the DAG of actions; --explain adds one resource's placement scores;
// --json prints the plan (or, with --explain, the explanation) as stable JSON; --dot the DAG
// for Graphviz. Nothing is executed.

import type { Command } from 'commander';
import { loadConfigFile } from '../../config/load.js';
import { loadStatusFile } from '../../config/status.js';
import { suggestion } from '../../config/suggest.js';
import { ConfigInvalidError, NotFoundError, StatusInvalidError, UsageError } from '../../errors.js';
import type { Config } from '../../model/config.js';
import { explain, plan } from '../../scheduler/index.js';
import { renderDot, renderExplanation, renderPlan, stableJson } from '../render-plan.js';
import { action, useColor } from '../run.js';

interface PlanOptions {
  readonly config: string;
  readonly status: string;
  readonly now?: string;
  readonly explain?: string;
  readonly json?: boolean;
  readonly dot?: boolean;
}

export function registerPlan(program: Command): void {
  program
    .command('plan')
    .description('show what the scheduler would do for a configuration and a status snapshot, and why (like crm_simulate)')
    .requiredOption('--config <file>', 'the cluster configuration (YAML)')
    .requiredOption('--status <file>', 'the status snapshot (YAML or JSON)')
    .option('--now <time>', 'plan as of this time: ISO 8601 or epoch milliseconds (default: the status time, else the clock)')
    .option('--explain <resource>', "also show one resource's placement: every node's score, what contributed, the decision")
    .option('--json', 'print the plan (with --explain: the explanation) as JSON')
    .option('--dot', 'print the DAG of actions as Graphviz dot')
    .action(action(async (opts: PlanOptions) => runPlan(opts)));
}

/** `--now`: epoch milliseconds or an ISO 8601 time. */
export function parseNow(text: string): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) throw new UsageError(`--now "${text}" is not a time`, { hint: 'use ISO 8601 (2026-11-24T10:00:00Z) or epoch milliseconds' });
  return ms;
}

/** The top-level resource to explain for an id, which may name a resource inside a group or clone. */
function explainTarget(config: Config, id: string): { top: string; inside?: string } {
  const tops = (config.resources ?? []).map((r) => r.id);
  for (const r of config.resources ?? []) {
    if (r.id === id) return { top: id };
    const inner: string[] = [];
    if (r.type === 'group') inner.push(...r.members.map((m) => m.id));
    if (r.type === 'clone' || r.type === 'promotable') {
      inner.push(r.of.id);
      if (r.of.type === 'group') inner.push(...r.of.members.map((m) => m.id));
    }
    if (inner.includes(id)) return { top: r.id, inside: id };
  }
  throw new NotFoundError(`no resource "${id}" is configured`, { hint: suggestion(id, tops, 'resources') });
}

async function runPlan(opts: PlanOptions): Promise<void> {
  if (opts.json === true && opts.dot === true) throw new UsageError('--json and --dot cannot be combined; pick one output format');
  if (opts.dot === true && opts.explain !== undefined) throw new UsageError('--dot shows the DAG only; drop --explain or --dot');
  const now = opts.now === undefined ? undefined : parseNow(opts.now);

  const configResult = await loadConfigFile(opts.config);
  if (!configResult.ok) throw new ConfigInvalidError(opts.config, configResult.errors);
  const config = configResult.config;
  const statusResult = await loadStatusFile(opts.status, config);
  if (!statusResult.ok) throw new StatusInvalidError(opts.status, statusResult.errors);
  const status = statusResult.status;
  const at = now ?? status.time ?? Date.now();

  const target = opts.explain === undefined ? undefined : explainTarget(config, opts.explain);
  if (target?.inside !== undefined) {
    process.stderr.write(`haven: "${target.inside}" is placed as part of "${target.top}"; explaining "${target.top}"\n`);
  }
  const result = plan(config, status, at);
  const explanation = target === undefined ? undefined : explain(config, status, at, target.top);
  if (target !== undefined && explanation === undefined) throw new NotFoundError(`the scheduler has no placement for "${target.top}"`);

  if (opts.dot === true) {
    process.stdout.write(renderDot(result));
    return;
  }
  if (opts.json === true) {
    process.stdout.write(stableJson(explanation ?? result));
    return;
  }
  const color = useColor();
  let out = renderPlan(result, { color });
  if (explanation !== undefined) out += `\n${renderExplanation(explanation, { color })}`;
  process.stdout.write(out);
}
