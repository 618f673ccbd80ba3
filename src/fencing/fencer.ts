// Runs fence devices with the fence-agents protocol: the agent reads `key=value` lines on stdin
// (action, plug, and the device's params) and answers with its exit code (0: done). `lab`
// devices run `haven lab fence`, the lab's power switch speaking the same protocol; `fence_*`
// devices run Debian's fence-agents from /usr/sbin. Parameters that look like secrets are never
// logged or echoed back (issue 4 adds topology, unfencing and the fence history).

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FenceDevice } from '../model/config.js';

export type FenceAction = 'off' | 'on' | 'reboot' | 'status';

export interface FenceResult {
  readonly ok: boolean;
  readonly device: string;
  readonly rc: number | null;
  readonly durationMs: number;
  /** What the agent printed (secrets masked), or why it could not run. */
  readonly output: string;
}

const HAVEN_BIN = fileURLToPath(new URL('../../../bin/haven.js', import.meta.url));
const SECRET = /pass|secret|key|token/i;

/** The argv that runs a device's agent. */
export function fenceCommand(device: FenceDevice): [string, ...string[]] {
  if (device.agent === 'lab') return [process.execPath, HAVEN_BIN, 'lab', 'fence'];
  return [`/usr/sbin/${device.agent}`];
}

/** The stdin of a fence agent: one key=value per line. */
export function fenceInput(device: FenceDevice, action: FenceAction, node: string): string {
  const lines = [`action=${action}`, `plug=${node}`];
  for (const [k, v] of Object.entries(device.params ?? {})) lines.push(`${k}=${String(v)}`);
  return `${lines.join('\n')}\n`;
}

export function maskSecrets(device: FenceDevice, text: string): string {
  let out = text;
  for (const [k, v] of Object.entries(device.params ?? {})) {
    if (SECRET.test(k) && String(v) !== '') out = out.split(String(v)).join('****');
  }
  return out;
}

/** Runs one device for one node; never throws. */
export function runFenceDevice(device: FenceDevice, action: FenceAction, node: string, timeoutMs: number, signal?: AbortSignal): Promise<FenceResult> {
  const started = performance.now();
  const [cmd, ...args] = fenceCommand(device);
  return new Promise((resolve) => {
    let output = '';
    let settled = false;
    const done = (rc: number | null, extra = ''): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const text = maskSecrets(device, (output + extra).trim()).slice(-4000);
      resolve({ ok: rc === 0, device: device.id, rc, durationMs: performance.now() - started, output: text });
    };
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...(signal ? { signal } : {}) });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done(null, `\ntimed out after ${timeoutMs} ms`);
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.on('error', (err) => done(null, `\ncannot run ${cmd}: ${err.message}`));
    child.on('close', (code) => done(code));
    child.stdin.on('error', () => undefined);
    child.stdin.end(fenceInput(device, action, node));
  });
}

/** Fences a node with the first device that can and succeeds, in configured order. */
export async function fenceNode(devices: readonly FenceDevice[], node: string, defaultTimeoutMs: number, signal?: AbortSignal): Promise<FenceResult> {
  const usable = devices.filter((d) => d.nodes.includes(node));
  if (usable.length === 0) return { ok: false, device: '', rc: null, durationMs: 0, output: `no fence device can fence ${node}` };
  let last: FenceResult | undefined;
  for (const d of usable) {
    last = await runFenceDevice(d, 'off', node, d.timeout ?? defaultTimeoutMs, signal);
    if (last.ok) return last;
  }
  return last!;
}
