// `haven check CONFIG [--status FILE...] [--json]`: validates a configuration (and status
// snapshots against it) and reports every problem at once as file:line:col lines.
// Exit 0 when everything is valid, 1 when something was refused, 2 on a usage error.

import type { Command } from 'commander';
import { loadConfigFile } from '../../config/load.js';
import { loadStatusFile } from '../../config/status.js';
import { ConfigInvalidError, ERROR_CODES, StatusInvalidError, type SourceError } from '../../errors.js';
import type { Config } from '../../model/config.js';
import type { Status } from '../../model/status.js';
import { stableJson } from '../render-plan.js';
import { action } from '../run.js';

interface CheckOptions {
  readonly status?: string[];
  readonly json?: boolean;
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('validate a cluster configuration, and status snapshots against it; print every error as file:line:col')
    .argument('<config>', 'the configuration file (YAML)')
    .option('--status <file...>', 'also check these status snapshots (YAML or JSON) against the configuration')
    .option('--json', 'print the result as JSON on stdout')
    .action(action(async (file: string, opts: CheckOptions) => check(file, opts)));
}

/** One line: `ok: 3 nodes, 12 resources, 9 constraints`. */
export function configSummary(config: Config): string {
  const nodes = config.nodes.length;
  const resources = config.resources?.length ?? 0;
  const constraints = config.constraints?.length ?? 0;
  return `${count(nodes, 'node')}, ${count(resources, 'resource')}, ${count(constraints, 'constraint')}`;
}

function statusSummary(status: Status): string {
  const copies = Object.values(status.resources ?? {}).reduce((n, byNode) => n + Object.keys(byNode).length, 0);
  const failures = status.failures?.length ?? 0;
  return `${count(Object.keys(status.nodes).length, 'node')}, ${count(copies, 'copy', 'copies')}, ${count(failures, 'failure')}`;
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

async function check(file: string, opts: CheckOptions): Promise<void> {
  const loaded = await loadConfigFile(file, undefined, { runnable: true });
  if (!loaded.ok) {
    if (opts.json === true) {
      process.stdout.write(stableJson({ ok: false, file, errors: loaded.errors }));
      process.exitCode = ERROR_CODES.CONFIG_INVALID.exitCode;
      return;
    }
    throw new ConfigInvalidError(file, loaded.errors);
  }
  const statuses: { file: string; summary: string }[] = [];
  const statusErrors: SourceError[] = [];
  let failedStatus: string | undefined;
  for (const statusFile of opts.status ?? []) {
    const result = await loadStatusFile(statusFile, loaded.config);
    if (result.ok) statuses.push({ file: statusFile, summary: statusSummary(result.status) });
    else {
      statusErrors.push(...result.errors);
      failedStatus ??= statusFile;
    }
  }
  if (failedStatus !== undefined) {
    if (opts.json === true) {
      process.stdout.write(stableJson({ ok: false, file, errors: statusErrors }));
      process.exitCode = ERROR_CODES.STATUS_INVALID.exitCode;
      return;
    }
    const files = [...new Set(statusErrors.map((e) => e.file))];
    throw new StatusInvalidError(files.length === 1 ? (files[0] as string) : files.join(', '), statusErrors);
  }
  if (opts.json === true) {
    const config = loaded.config;
    process.stdout.write(
      stableJson({
        ok: true,
        file,
        nodes: config.nodes.length,
        resources: config.resources?.length ?? 0,
        constraints: config.constraints?.length ?? 0,
        status: statuses,
      }),
    );
    return;
  }
  let out = `ok: ${configSummary(loaded.config)}\n`;
  for (const s of statuses) out += `ok: ${s.file}: ${s.summary}\n`;
  process.stdout.write(out);
}
