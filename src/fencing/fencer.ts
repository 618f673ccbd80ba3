// Runs one fence device with the fence-agents protocol
// (https://github.com/ClusterLabs/fence-agents/blob/main/doc/FenceAgentAPI.md): the agent reads
// `key=value` lines on stdin (action, plug, and the device's params — so a password is never in
// a process's arguments) and answers with its exit code. `lab` devices run `haven lab fence`,
// the lab's power switch speaking the same protocol; `fence_*` devices run Debian's
// fence-agents from /usr/sbin unchanged.
//
// Exit codes, as fence-agents define them: 0 is success for every action; `status` exits 0 when
// the plug is on, 2 when it is off and anything else (1) when it cannot tell. Secrets among the
// params (password, passwd, community, kg, …) are masked in everything this module returns.
// Levels, topology and unfencing are in ./topology.ts.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FenceDevice } from '../model/config.js';

export const FENCE_ACTIONS = ['off', 'on', 'reboot', 'status', 'monitor', 'list', 'metadata'] as const;
export type FenceAction = (typeof FENCE_ACTIONS)[number];

/** Exit codes of the fence-agents protocol. */
export const FENCE_RC_OK = 0;
export const FENCE_RC_ERROR = 1;
/** `status`: the plug is off. */
export const FENCE_RC_STATUS_OFF = 2;

/** The outcome of running one device once. */
export interface DeviceRun {
  readonly device: string;
  readonly agent: string;
  readonly action: FenceAction;
  /** The node (plug) acted on; none for monitor, list and metadata. */
  readonly node?: string;
  /** What the exit code means for this action. */
  readonly ok: boolean;
  /** `status` only, when the agent could tell. */
  readonly power?: 'on' | 'off';
  /** The exit code; null when the agent could not run or was killed at its timeout. */
  readonly rc: number | null;
  readonly timedOut: boolean;
  /** Epoch ms when it started. */
  readonly startedAt: number;
  readonly durationMs: number;
  /** What the agent printed (secrets masked, at most 4,000 characters), or why it could not run. */
  readonly output: string;
}

export interface RunOptions {
  readonly timeoutMs: number;
  /** Where `fence_*` agents live: default $HAVEN_FENCE_AGENT_DIR, else /usr/sbin (Debian's fence-agents). */
  readonly agentDir?: string;
  readonly signal?: AbortSignal;
  readonly clock?: () => number;
}

const HAVEN_BIN = fileURLToPath(new URL('../../../bin/haven.js', import.meta.url));
/** Param names that hold secrets: never logged, shown or passed anywhere but the agent's stdin. */
const SECRET = /pass|secret|key|token|community|(^|_)kg$/i;
/** fence-agents' own switches that are not device parameters. */
const RESERVED = new Set(['action', 'option', 'plug', 'port', 'nodename']);

/** The argv that runs a device's agent (the device's params never appear in it). */
export function fenceCommand(device: Pick<FenceDevice, 'agent'>, agentDir?: string): [string, ...string[]] {
  if (device.agent === 'lab') return [process.execPath, HAVEN_BIN, 'lab', 'fence'];
  return [join(agentDir ?? process.env['HAVEN_FENCE_AGENT_DIR'] ?? '/usr/sbin', device.agent)];
}

/** Whether a param name holds a secret. */
export function isSecretParam(name: string): boolean {
  return SECRET.test(name);
}

/** A device's params with every secret replaced by `****`: what may be shown. */
export function maskedParams(device: Pick<FenceDevice, 'params'>): Record<string, string> {
  return Object.fromEntries(Object.entries(device.params ?? {}).map(([k, v]) => [k, isSecretParam(k) ? '****' : String(v)]));
}

/** The stdin of a fence agent: one key=value per line. */
export function fenceInput(device: Pick<FenceDevice, 'params'>, action: FenceAction, node?: string): string {
  const lines = [`action=${action}`];
  if (node !== undefined) lines.push(`plug=${node}`, `nodename=${node}`);
  for (const [k, v] of Object.entries(device.params ?? {})) {
    if (RESERVED.has(k)) continue;
    const value = String(v);
    // A newline in a value would smuggle a second key in; the config refuses it, this is the backstop.
    if (/[\r\n]/.test(k) || /[\r\n]/.test(value)) continue;
    lines.push(`${k}=${value}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Replaces every secret param's value (and its trimmed form) in a text with `****`. */
export function maskSecrets(device: Pick<FenceDevice, 'params'>, text: string): string {
  let out = text;
  for (const [k, v] of Object.entries(device.params ?? {})) {
    if (!isSecretParam(k)) continue;
    for (const s of new Set([String(v), String(v).trim()])) if (s.length > 0) out = out.split(s).join('****');
  }
  return out;
}

/** What an exit code means for an action (fence-agents' definitions). */
export function interpretRc(action: FenceAction, rc: number | null): { ok: boolean; power?: 'on' | 'off' } {
  if (rc === null) return { ok: false };
  if (action === 'status') {
    if (rc === FENCE_RC_OK) return { ok: true, power: 'on' };
    if (rc === FENCE_RC_STATUS_OFF) return { ok: true, power: 'off' };
    return { ok: false };
  }
  return { ok: rc === FENCE_RC_OK };
}

/** Python's fence-agents warn about a deprecated module on every run; that noise is not output. */
const AGENT_ENV = { PYTHONWARNINGS: 'ignore::DeprecationWarning' };

/** Runs one device's agent for one action; never throws. */
export function runFenceDevice(device: FenceDevice, action: FenceAction, node: string | undefined, opts: RunOptions): Promise<DeviceRun> {
  const clock = opts.clock ?? Date.now;
  const startedAt = clock();
  const started = performance.now();
  const [cmd, ...args] = fenceCommand(device, opts.agentDir);
  return new Promise((resolve) => {
    let output = '';
    let settled = false;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const done = (rc: number | null, extra = ''): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (onAbort !== undefined) opts.signal?.removeEventListener('abort', onAbort);
      const text = maskSecrets(device, (output + extra).trim()).slice(-4000);
      const meaning = interpretRc(action, timedOut ? null : rc);
      resolve({
        device: device.id,
        agent: device.agent,
        action,
        ...(node === undefined ? {} : { node }),
        ok: meaning.ok,
        ...(meaning.power === undefined ? {} : { power: meaning.power }),
        rc: timedOut ? null : rc,
        timedOut,
        startedAt,
        durationMs: performance.now() - started,
        output: text,
      });
    };
    if (opts.signal?.aborted === true) {
      done(null, `not run: ${String(opts.signal.reason instanceof Error ? opts.signal.reason.message : opts.signal.reason)}`);
      return;
    }
    // Its own process group: at the timeout the agent goes with whatever it started (ipmitool,
    // ssh…), which would otherwise hold its pipes open and keep the fence waiting.
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...AGENT_ENV } });
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    onAbort = (): void => {
      killGroup();
      done(null, `\naborted: ${String(opts.signal?.reason instanceof Error ? opts.signal.reason.message : opts.signal?.reason)}`);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    timer = setTimeout(() => {
      timedOut = true;
      killGroup();
      done(null, `\ntimed out after ${opts.timeoutMs} ms`);
    }, opts.timeoutMs);
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.on('error', (err) => done(null, `\ncannot run ${cmd}: ${err.message}`));
    child.on('close', (code) => done(code));
    child.stdin.on('error', () => undefined);
    child.stdin.end(fenceInput(device, action, node));
  });
}
