// Changing the configuration of a running cluster (docs/cli.md, docs/operations.md):
//
//   haven apply CONFIG [--message M] [--yes] [--dry-run] [--json]
//   haven rollback [VERSION] [--message M] [--yes] [--dry-run] [--json]
//   haven config history [--limit N] [--json]
//   haven config show [VERSION] [--json]
//
// `apply` validates the file here first (the checks of `haven check`, errors as file:line:col),
// then asks the controller for the diff against the running configuration and the plan it
// would cause (a dry run), shows both, asks for confirmation (or takes --yes), and applies it
// based on the version it showed: if someone applied meanwhile the controller refuses it (409)
// and nothing changes. `rollback` does the same with an older version's text.

import { userInfo } from 'node:os';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { parseConfig, readText } from '../../config/load.js';
import { renderDiff } from '../../config/diff.js';
import type { ConfigResult } from '../../controller/controller.js';
import { ConfigInvalidError, HavenError, UsageError } from '../../errors.js';
import type { ConfigVersion } from '../../store/config-history.js';
import { call, resolveEndpoint, type Endpoint } from '../client.js';
import { renderSummary } from '../render-plan.js';
import { action, useColor } from '../run.js';

interface Common {
  readonly controller?: string;
  readonly json?: boolean;
}

interface ChangeOptions extends Common {
  readonly message?: string;
  readonly yes?: boolean;
  readonly dryRun?: boolean;
}

type Entry = Omit<ConfigVersion, 'text'>;

function who(): string | undefined {
  try {
    return userInfo().username.slice(0, 64) || undefined;
  } catch {
    return undefined;
  }
}

export function registerConfig(program: Command): void {
  program
    .command('apply')
    .description('change the running configuration: validate the file, show the diff and the plan it causes, apply it as a new version')
    .argument('<config>', 'the new configuration (YAML)')
    .option('-m, --message <text>', 'why: recorded in the configuration history')
    .option('--yes', 'apply without asking')
    .option('--dry-run', 'show the diff and the plan, change nothing')
    .option('--controller <url>', 'http://ADDR:PORT or unix:/path (default $HAVEN_CONTROLLER or the lab)')
    .option('--json', 'print the controller’s answer as JSON')
    .action(
      action(async (file: string, opts: ChangeOptions) => {
        // The checks of `haven check`, here, so that every error points into the file.
        const text = await readText(file);
        const loaded = parseConfig(text, file, { runnable: true });
        if (!loaded.ok) throw new ConfigInvalidError(file, loaded.errors);
        const ep = resolveEndpoint(opts.controller);
        await change(ep, opts, '/v1/config', { config: text, name: file }, `apply ${file}`);
      }),
    );

  program
    .command('rollback')
    .description('run an older configuration version again (as a new version): diff, plan, confirmation as for apply')
    .argument('[version]', 'the version to return to (default: the one the running version replaced)')
    .option('-m, --message <text>', 'why: recorded in the configuration history')
    .option('--yes', 'roll back without asking')
    .option('--dry-run', 'show the diff and the plan, change nothing')
    .option('--controller <url>')
    .option('--json')
    .action(
      action(async (version: string | undefined, opts: ChangeOptions) => {
        const v = version === undefined ? undefined : versionArg(version);
        const ep = resolveEndpoint(opts.controller);
        await change(ep, opts, '/v1/config/rollback', v === undefined ? {} : { version: v }, v === undefined ? 'roll back' : `roll back to version ${v}`);
      }),
    );

  const config = program.command('config').description('the configuration history: show versions, list them');
  config
    .command('history')
    .description('every configuration version: who applied it, when, why, what it replaced')
    .option('--limit <n>', 'the latest n versions', '50')
    .option('--controller <url>')
    .option('--json', 'the versions as JSON')
    .action(
      action(async (opts: Common & { limit: string }) => {
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit ${opts.limit} is not a positive integer`);
        const r = await call<{ running: number; versions: Entry[] }>(resolveEndpoint(opts.controller), 'GET', `/v1/config/history?limit=${limit}`);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
          return;
        }
        for (const v of r.versions) process.stdout.write(`${describeVersion(v, r.running)}\n`);
      }),
    );
  config
    .command('show')
    .description('print the running configuration (or VERSION) as it was applied')
    .argument('[version]', 'a version number (default: the running one)')
    .option('--controller <url>')
    .option('--json', 'the version and its history entry as JSON')
    .action(
      action(async (version: string | undefined, opts: Common) => {
        const v = version === undefined ? undefined : versionArg(version);
        const r = await call<{ running: number; how: string; version: ConfigVersion }>(resolveEndpoint(opts.controller), 'GET', `/v1/config${v === undefined ? '' : `?version=${v}`}`);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
          return;
        }
        process.stderr.write(`# ${describeVersion(r.version, r.running)}\n`);
        process.stdout.write(r.version.text.endsWith('\n') ? r.version.text : `${r.version.text}\n`);
      }),
    );
}

function versionArg(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`version ${text} is not a positive integer`, { hint: 'haven config history lists the versions' });
  return n;
}

/** `3  2024-05-01 12:00:00Z  apply     operator alice  (replaces 2)  add db  [running]` */
export function describeVersion(v: Entry, running: number): string {
  const when = new Date(v.at).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  const what = v.origin === 'rollback' ? `rollback to ${v.rollbackOf ?? '?'}` : v.origin;
  return `${String(v.version).padStart(3)}  ${when}  ${what.padEnd(14)} ${v.by}${v.replaces > 0 ? `  (replaces ${v.replaces})` : ''}${v.message ? `  ${v.message}` : ''}${v.version === running ? '  [running]' : ''}`;
}

/**
 * A dry run to show the diff and the plan, then (confirmed) the change itself, based on the
 * version the dry run was diffed against.
 */
async function change(ep: Endpoint, opts: ChangeOptions, path: string, body: Record<string, unknown>, what: string): Promise<void> {
  if (opts.dryRun && opts.yes) throw new UsageError('--dry-run and --yes contradict each other');
  const user = who();
  const common = { ...body, ...(opts.message === undefined ? {} : { message: opts.message }), ...(user ? { user } : {}) };
  const preview = await call<ConfigResult>(ep, 'POST', path, { ...common, dryRun: true }, 30_000);
  const color = useColor();
  if (!opts.json) process.stdout.write(renderPreview(preview, color));
  if (opts.dryRun) {
    if (opts.json) process.stdout.write(`${JSON.stringify(preview, null, 2)}\n`);
    return;
  }
  if (preview.changes.length === 0) {
    if (opts.json) process.stdout.write(`${JSON.stringify(preview, null, 2)}\n`);
    else process.stderr.write(`nothing to ${what.startsWith('apply') ? 'apply' : 'roll back'}: it is the running configuration (version ${preview.base}); no version recorded\n`);
    return;
  }
  if (!opts.yes) {
    if (!process.stdin.isTTY) throw new UsageError(`${what}: not confirmed; nothing changed`, { hint: 'add --yes to apply it without asking, or --dry-run to only look' });
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await rl.question(`${what} as version ${preview.base + 1} (replacing ${preview.base})? [y/N] `);
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) {
      process.stderr.write('nothing changed\n');
      return;
    }
  }
  let r: ConfigResult;
  try {
    r = await call<ConfigResult>(ep, 'POST', path, { ...common, baseVersion: preview.base, dryRun: false }, 30_000);
  } catch (err) {
    if (err instanceof HavenError && err.code === 'CONFLICT') {
      throw new HavenError('CONFLICT', `${err.message}`, { hint: 'someone changed the configuration after the diff above was made; run the command again to see the new diff' });
    }
    throw err;
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  else if (r.applied && r.entry) process.stdout.write(`applied: configuration version ${r.version} (replaces ${r.entry.replaces})${r.entry.message ? `: ${r.entry.message}` : ''}\n`);
  else process.stdout.write(`nothing changed (version ${r.base} runs)\n`);
}

/** The diff against the running version, then the plan it would cause. */
export function renderPreview(p: ConfigResult, color: boolean): string {
  return `changes against the running configuration (version ${p.base}):\n${renderDiff(p.changes, { color })
    .split('\n')
    .map((l) => (l === '' ? l : `  ${l}`))
    .join('\n')}\nthe plan it causes now (${p.plan.actions.length} action${p.plan.actions.length === 1 ? '' : 's'}):\n${renderSummary(p.plan, { color })}`;
}
