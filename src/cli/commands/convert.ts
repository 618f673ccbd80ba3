// `haven convert`: Pacemaker interop, both ways.
//
//   haven convert to-cib --config C [--status S] [-o FILE]
//       writes the configuration (and status) as a Pacemaker CIB, for crm_verify/crm_simulate.
//   haven convert from-cib CIB.xml [--config-out FILE] [--status-out FILE] [--json]
//       reads a CIB (`cibadmin --query > cib.xml`) into Haven YAML: the config on stdout or in
//       --config-out, the status (when the CIB has one) in --status-out.
//
// What could not be converted is listed on stderr (and under "unconverted" with --json); those
// are warnings: the exit code is 0 when the input was read, 1 when it was refused (bad XML, not
// a CIB, an invalid Haven config), 2 on a usage error. See docs/pacemaker.md.

import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { formatConfigErrors, loadConfigFile, parseConfig, readText } from '../../config/load.js';
import { loadStatusFile, parseStatus } from '../../config/status.js';
import { configToDocument, statusToDocument } from '../../convert/document.js';
import { fromCib } from '../../convert/from-cib.js';
import type { Unconverted } from '../../convert/pacemaker.js';
import { toCib } from '../../convert/to-cib.js';
import { ConfigInvalidError, fileError, StatusInvalidError, type SourceError } from '../../errors.js';
import type { Status } from '../../model/status.js';
import { stableJson } from '../render-plan.js';
import { action } from '../run.js';

interface ToCibOptions {
  readonly config: string;
  readonly status?: string;
  readonly output?: string;
}

interface FromCibOptions {
  readonly configOut?: string;
  readonly statusOut?: string;
  readonly json?: boolean;
}

export function registerConvert(program: Command): void {
  const convert = program.command('convert').description('convert between Haven YAML and a Pacemaker CIB (see docs/pacemaker.md)');
  convert
    .command('to-cib')
    .description('write a configuration (and a status snapshot) as a Pacemaker CIB, for crm_verify and crm_simulate')
    .requiredOption('--config <file>', 'the cluster configuration (YAML)')
    .option('--status <file>', 'also write this status snapshot as the CIB status section')
    .option('-o, --output <file>', 'write the CIB to this file instead of stdout')
    .action(action(async (opts: ToCibOptions) => runToCib(opts)));
  convert
    .command('from-cib')
    .description('read a Pacemaker CIB (cibadmin --query > cib.xml) into a Haven configuration and status')
    .argument('<cib>', 'the CIB XML file')
    .option('--config-out <file>', 'write the configuration YAML here instead of stdout')
    .option('--status-out <file>', "write the status YAML (from the CIB's status section) here")
    .option('--json', 'print {config, status, unconverted, problems} as JSON on stdout')
    .action(action(async (file: string, opts: FromCibOptions) => runFromCib(file, opts)));
}

async function write(file: string, text: string): Promise<void> {
  try {
    await writeFile(file, text, 'utf8');
  } catch (err) {
    throw fileError(file, err);
  }
}

/** One stderr line per item: where, what, why. */
export function formatUnconverted(items: readonly Unconverted[]): string {
  if (items.length === 0) return '';
  const lines = items.map((u) => `haven: not converted: ${u.what} (${u.path}): ${u.why}\n`);
  return `${lines.join('')}haven: ${items.length} item${items.length === 1 ? '' : 's'} not converted; see docs/pacemaker.md\n`;
}

async function runToCib(opts: ToCibOptions): Promise<void> {
  const loaded = await loadConfigFile(opts.config);
  if (!loaded.ok) throw new ConfigInvalidError(opts.config, loaded.errors);
  let status: Status | undefined;
  if (opts.status !== undefined) {
    const result = await loadStatusFile(opts.status, loaded.config);
    if (!result.ok) throw new StatusInvalidError(opts.status, result.errors);
    status = result.status;
  }
  const doc = toCib(loaded.config, status);
  if (opts.output === undefined) process.stdout.write(doc.xml);
  else await write(opts.output, doc.xml);
  process.stderr.write(formatUnconverted(doc.unconverted));
}

async function runFromCib(file: string, opts: FromCibOptions): Promise<void> {
  const result = fromCib(await readText(file));
  const configYaml = stringify(configToDocument(result.config), { lineWidth: 0 });
  const statusYaml = result.status === undefined ? undefined : stringify(statusToDocument(result.status), { lineWidth: 0 });

  // The emitted files must load as Haven files; say where they do not, in their own lines.
  const configName = opts.configOut ?? 'config.yaml (stdout)';
  const problems: SourceError[] = [];
  const parsed = parseConfig(configYaml, configName);
  if (!parsed.ok) problems.push(...parsed.errors);
  if (statusYaml !== undefined && parsed.ok) {
    const st = parseStatus(statusYaml, opts.statusOut ?? 'status.yaml', parsed.config);
    if (!st.ok) problems.push(...st.errors);
  }

  if (opts.configOut !== undefined) await write(opts.configOut, configYaml);
  if (opts.statusOut !== undefined) {
    if (statusYaml === undefined) process.stderr.write(`haven: ${file} has no status section; ${opts.statusOut} not written\n`);
    else await write(opts.statusOut, statusYaml);
  }
  if (opts.json === true) {
    process.stdout.write(
      stableJson({
        config: configToDocument(result.config),
        status: result.status === undefined ? undefined : statusToDocument(result.status),
        unconverted: result.unconverted,
        problems,
      }),
    );
  } else if (opts.configOut === undefined) {
    process.stdout.write(configYaml);
    if (statusYaml !== undefined && opts.statusOut === undefined) {
      process.stderr.write(`haven: ${file} has a status section; write it with --status-out FILE\n`);
    }
  }
  process.stderr.write(formatUnconverted(result.unconverted));
  if (problems.length > 0) {
    process.stderr.write(formatConfigErrors(problems));
    process.stderr.write(`haven: the converted files need the edits above before Haven accepts them\n`);
  }
}
