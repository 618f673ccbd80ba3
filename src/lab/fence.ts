// `haven lab fence`: a fence agent for the lab's power switch, speaking the fence-agents
// protocol (https://github.com/ClusterLabs/fence-agents/blob/main/doc/FenceAgentAPI.md):
// `key=value` lines on stdin (or `--key value` options), one action, exit 0 on success, 1 on
// failure; `status` exits 0 when the plug is on and 2 when it is off. The controller fences a
// lab host by running it with `action=off plug=HOST lab=NAME`.
//
// It is on the failover path, so it is started through a fast path in bin/haven.js that loads
// only this module and what power.ts needs.

import { HavenError } from '../errors.js';
import { powerCycle, powerOff, powerOn, powerStatus } from './power.js';
import { DEFAULT_STATE_DIR, readState } from './state.js';

export const FENCE_ACTIONS = ['off', 'on', 'reboot', 'status', 'monitor', 'list', 'metadata'] as const;
export type FenceAction = (typeof FENCE_ACTIONS)[number];

export interface FenceRequest {
  readonly action: FenceAction;
  readonly plug?: string;
  readonly lab: string;
  readonly stateDir: string;
}

/** Exit codes of the fence-agents protocol. */
export const FENCE_OK = 0;
export const FENCE_FAILED = 1;
export const FENCE_STATUS_OFF = 2;

/** A request the agent cannot run: reported on stderr, exit 1. */
export class FenceInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FenceInputError';
  }
}

/** Keys the fencer passes that this agent has no use for: accepted silently. */
const IGNORED = new Set(['nodename', 'agent', 'timeout', 'power_timeout', 'power_wait', 'shell_timeout', 'login_timeout', 'retry_on', 'verbose', 'debug', 'delay', 'separator']);

/**
 * Parses the protocol's input: `key=value` lines (blank lines and `#` comments skipped) and
 * `--key value` / `--key=value` / `-o ACTION` / `-n PLUG` options; options win over stdin.
 * Old names are accepted: `option` for action, `port` for plug. Unknown keys are warned about.
 */
export function parseFenceInput(stdin: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): { request: FenceRequest; warnings: string[] } {
  const values = new Map<string, string>();
  const warnings: string[] = [];
  for (const raw of stdin.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new FenceInputError(`cannot read input line "${line}": expected key=value`);
    values.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const short: Record<string, string> = { '-o': 'action', '-n': 'plug' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    let key: string;
    let value: string | undefined;
    if (arg in short) key = short[arg] as string;
    else if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      key = (eq < 0 ? arg.slice(2) : arg.slice(2, eq)).replace(/-/g, '_');
      if (eq >= 0) value = arg.slice(eq + 1);
    } else throw new FenceInputError(`unexpected argument "${arg}"`);
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined) throw new FenceInputError(`option ${arg} needs a value`);
      i++;
    }
    values.set(key, value);
  }
  const alias: Record<string, string> = { option: 'action', port: 'plug' };
  const known = new Set(['action', 'plug', 'lab', 'state_dir']);
  const norm = new Map<string, string>();
  for (const [k, v] of values) {
    const key = alias[k] ?? k;
    if (known.has(key)) {
      if (!(k in alias) || !norm.has(key)) norm.set(key, v);
    } else if (!IGNORED.has(key)) warnings.push(`ignoring unknown key "${k}"`);
  }
  const action = norm.get('action');
  if (action === undefined || action === '') throw new FenceInputError(`no action given (action=${FENCE_ACTIONS.join('|')})`);
  if (!(FENCE_ACTIONS as readonly string[]).includes(action)) throw new FenceInputError(`unknown action "${action}" (use one of ${FENCE_ACTIONS.join(', ')})`);
  const plug = norm.get('plug');
  const needsPlug = action === 'off' || action === 'on' || action === 'reboot' || action === 'status';
  if (needsPlug && (plug === undefined || plug === '')) throw new FenceInputError(`action "${action}" needs plug=HOST`);
  const lab = norm.get('lab') ?? env['HAVEN_LAB'] ?? 'lab';
  const stateDir = norm.get('state_dir') ?? env['HAVEN_LAB_STATE_DIR'] ?? DEFAULT_STATE_DIR;
  return { request: { action: action as FenceAction, ...(plug === undefined || plug === '' ? {} : { plug }), lab, stateDir }, warnings };
}

export const FENCE_METADATA = `<?xml version="1.0" ?>
<resource-agent name="haven-lab-fence" shortdesc="Fence agent for Haven's network-namespace lab">
<longdesc>Powers lab hosts off and on: off SIGKILLs every process in the host's namespace and sets its links down; on brings its links up and starts its agent again.</longdesc>
<parameters>
  <parameter name="action" unique="0" required="1"><getopt mixed="-o, --action=[action]" /><content type="string" default="reboot" /><shortdesc lang="en">Fencing action</shortdesc></parameter>
  <parameter name="plug" unique="0" required="1" obsoletes="port"><getopt mixed="-n, --plug=[host]" /><content type="string" /><shortdesc lang="en">The lab host to act on</shortdesc></parameter>
  <parameter name="port" unique="0" required="0" deprecated="1"><getopt mixed="-n, --plug=[host]" /><content type="string" /><shortdesc lang="en">The lab host to act on</shortdesc></parameter>
  <parameter name="lab" unique="0" required="0"><getopt mixed="--lab=[name]" /><content type="string" default="lab" /><shortdesc lang="en">The lab's name</shortdesc></parameter>
  <parameter name="state_dir" unique="0" required="0"><getopt mixed="--state-dir=[dir]" /><content type="string" default="${DEFAULT_STATE_DIR}" /><shortdesc lang="en">The lab's state directory</shortdesc></parameter>
</parameters>
<actions>
  <action name="on" automatic="0"/>
  <action name="off" />
  <action name="reboot" />
  <action name="status" />
  <action name="list" />
  <action name="monitor" />
  <action name="metadata" />
</actions>
</resource-agent>
`;

export interface FenceOutcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs one fence request; never throws (a failure is exit 1 with the reason on stderr). */
export async function runFence(request: FenceRequest): Promise<FenceOutcome> {
  const { lab, stateDir: dir } = request;
  const plug = request.plug as string;
  try {
    switch (request.action) {
      case 'metadata':
        return { code: FENCE_OK, stdout: FENCE_METADATA, stderr: '' };
      case 'monitor': {
        const state = await readState(dir, lab);
        if (state === undefined) return { code: FENCE_FAILED, stdout: '', stderr: `lab "${lab}" is not up\n` };
        return { code: FENCE_OK, stdout: '', stderr: '' };
      }
      case 'list': {
        const state = await readState(dir, lab);
        if (state === undefined) return { code: FENCE_FAILED, stdout: '', stderr: `lab "${lab}" is not up\n` };
        const hosts = state.hosts.filter((h) => h.role !== 'client');
        return { code: FENCE_OK, stdout: hosts.map((h) => `${h.name},${h.name}\n`).join(''), stderr: '' };
      }
      case 'status': {
        const power = await powerStatus(lab, dir, plug);
        return { code: power === 'on' ? FENCE_OK : FENCE_STATUS_OFF, stdout: `Status: ${power.toUpperCase()}\n`, stderr: '' };
      }
      case 'off': {
        const r = await powerOff(lab, dir, plug);
        return { code: FENCE_OK, stdout: `Success: Powered OFF\n`, stderr: r.changed ? '' : `${plug} was already off\n` };
      }
      case 'on': {
        await powerOn(lab, dir, plug);
        return { code: FENCE_OK, stdout: `Success: Powered ON\n`, stderr: '' };
      }
      case 'reboot': {
        await powerCycle(lab, dir, plug);
        return { code: FENCE_OK, stdout: `Success: Rebooted\n`, stderr: '' };
      }
      default: {
        const never: never = request.action;
        return { code: FENCE_FAILED, stdout: '', stderr: `unknown action ${String(never)}\n` };
      }
    }
  } catch (err) {
    const hint = err instanceof HavenError && err.hint !== undefined ? ` (hint: ${err.hint})` : '';
    return { code: FENCE_FAILED, stdout: '', stderr: `${err instanceof Error ? err.message : String(err)}${hint}\n` };
  }
}

/** Reads all of stdin, or nothing when it is a terminal (options only). */
export async function readStdin(stream: NodeJS.ReadStream = process.stdin): Promise<string> {
  if (stream.isTTY === true) return '';
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The whole agent as a process: input, action, output, exit code. */
export async function fenceMain(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof parseFenceInput>;
  try {
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(
        'usage: haven lab fence < key=value lines\n  action=off|on|reboot|status|monitor|list|metadata  plug=HOST  lab=NAME  [state_dir=DIR]\n  (or: -o ACTION -n HOST --lab NAME --state-dir DIR)\nexit: 0 ok (status: on), 2 status: off, 1 failure\n',
      );
      return FENCE_OK;
    }
    parsed = parseFenceInput(await readStdin(), argv);
  } catch (err) {
    process.stderr.write(`haven lab fence: ${err instanceof Error ? err.message : String(err)}\n`);
    return FENCE_FAILED;
  }
  for (const w of parsed.warnings) process.stderr.write(`haven lab fence: ${w}\n`);
  const out = await runFence(parsed.request);
  process.stdout.write(out.stdout);
  if (out.stderr !== '') process.stderr.write(out.stderr.split('\n').filter((l) => l !== '').map((l) => `haven lab fence: ${l}\n`).join(''));
  return out.code;
}
