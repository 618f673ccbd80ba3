// Fencing topology: which devices fence a node, in which order, and what counts as fenced.
//
// A node's levels are tried in order; a level counts only when every one of its devices
// succeeds (two power supplies: both must go off), and the first level that counts ends the
// fence. A node the topology does not name uses every device that lists it, each as a level of
// its own, in the configured order: the first that succeeds fences it. A `reboot` on a level of
// several devices turns them all off, then all on (never one on while another is still off).
// A device with `verify: true` is asked `status` after a successful `off`; the fence counts only
// once it answers off. Unfencing runs `on` with the node's devices that have `unfence: true`,
// in topology order; all must succeed.
//
// Every device run is handed to `onAttempt` as it ends, so the caller can record the fence
// history attempt by attempt (a fence cut short by a crash still leaves what it did).

import type { Config, FenceDevice } from '../model/config.js';
import { runFenceDevice, type DeviceRun, type FenceAction } from './fencer.js';

export interface FenceLevel {
  /** 1-based position among the node's levels. */
  readonly index: number;
  readonly devices: readonly FenceDevice[];
}

/** How a node is fenced: its levels and whether they come from `fenceTopology`. */
export interface NodeFencing {
  readonly node: string;
  readonly fromTopology: boolean;
  readonly levels: readonly FenceLevel[];
}

type FencingConfig = Pick<Config, 'fenceDevices' | 'fenceTopology'>;

/** The node's levels. The config is validated, so every name resolves; a stray one is skipped. */
export function fenceLevels(config: FencingConfig, node: string): NodeFencing {
  const devices = config.fenceDevices ?? [];
  const entry = (config.fenceTopology ?? []).find((t) => t.node === node);
  if (entry !== undefined) {
    const levels = entry.levels.map((ids, i) => ({
      index: i + 1,
      devices: ids.map((id) => devices.find((d) => d.id === id)).filter((d): d is FenceDevice => d !== undefined && d.nodes.includes(node)),
    }));
    return { node, fromTopology: true, levels: levels.filter((l) => l.devices.length > 0) };
  }
  return { node, fromTopology: false, levels: devices.filter((d) => d.nodes.includes(node)).map((d, i) => ({ index: i + 1, devices: [d] })) };
}

/** The devices that unfence the node: those with `unfence: true` among its levels, in order, each once. */
export function unfenceDevices(config: FencingConfig, node: string): FenceDevice[] {
  const out: FenceDevice[] = [];
  for (const level of fenceLevels(config, node).levels) for (const d of level.devices) if (d.unfence === true && !out.includes(d)) out.push(d);
  return out;
}

/** One device run within a fence: which level it belonged to. */
export interface FenceAttempt extends DeviceRun {
  /** The level's index; 0 for an unfence (which has no levels). */
  readonly level: number;
}

export interface FenceOutcome {
  readonly ok: boolean;
  readonly node: string;
  readonly action: 'off' | 'reboot' | 'on';
  /** The level that fenced the node (ok only). */
  readonly level?: number;
  /** The devices of that level (ok), or of the last one tried. */
  readonly devices: readonly string[];
  readonly attempts: readonly FenceAttempt[];
  readonly durationMs: number;
  /** Why it failed, in one line (secrets masked): every level's failure. */
  readonly why?: string;
}

export interface FenceOptions {
  /** A device without its own `timeout` gets this long. */
  readonly defaultTimeoutMs: number;
  readonly signal?: AbortSignal;
  readonly clock?: () => number;
  /** Where `fence_*` agents live (see RunOptions). */
  readonly agentDir?: string;
  /** Called after each device run, in order. */
  readonly onAttempt?: (attempt: FenceAttempt) => void | Promise<void>;
}

/** Fences a node (`off` or `reboot`) through its levels; never throws. */
export async function fenceNode(fencing: NodeFencing, action: 'off' | 'reboot', opts: FenceOptions): Promise<FenceOutcome> {
  const started = performance.now();
  const attempts: FenceAttempt[] = [];
  const node = fencing.node;
  if (fencing.levels.length === 0) {
    return { ok: false, node, action, devices: [], attempts, durationMs: 0, why: `no fence device can fence ${node}` };
  }
  const run = async (level: number, device: FenceDevice, act: FenceAction): Promise<FenceAttempt> => {
    const r = await runFenceDevice(device, act, node, { timeoutMs: device.timeout ?? opts.defaultTimeoutMs, ...(opts.agentDir ? { agentDir: opts.agentDir } : {}), ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.clock ? { clock: opts.clock } : {}) });
    const a: FenceAttempt = { ...r, level };
    attempts.push(a);
    await opts.onAttempt?.(a);
    return a;
  };
  const failures: string[] = [];
  let last: readonly string[] = [];
  for (const level of fencing.levels) {
    last = level.devices.map((d) => d.id);
    const why = await runLevel(level, action, run);
    if (why === undefined) return { ok: true, node, action, level: level.index, devices: last, attempts, durationMs: performance.now() - started };
    failures.push(`level ${level.index}: ${why}`);
    if (opts.signal?.aborted === true) break;
  }
  return { ok: false, node, action, devices: last, attempts, durationMs: performance.now() - started, why: failures.join('; ') };
}

/** Runs one level; undefined when every device did its part, else why not. */
async function runLevel(level: FenceLevel, action: 'off' | 'reboot', run: (level: number, d: FenceDevice, act: FenceAction) => Promise<FenceAttempt>): Promise<string | undefined> {
  const offAll = async (): Promise<string | undefined> => {
    for (const d of level.devices) {
      const a = await run(level.index, d, 'off');
      if (!a.ok) return failed(a);
      if (d.verify === true) {
        const s = await run(level.index, d, 'status');
        if (!s.ok) return `${d.id}: off, but status could not confirm it (${describe(s)})`;
        if (s.power !== 'off') return `${d.id}: off succeeded, but status says the node is still on`;
      }
    }
    return undefined;
  };
  if (action === 'off') return offAll();
  if (level.devices.length === 1) {
    const a = await run(level.index, level.devices[0]!, 'reboot');
    return a.ok ? undefined : failed(a);
  }
  // Several devices: all off first, then all on, so the node is never left half powered.
  const off = await offAll();
  if (off !== undefined) return off;
  for (const d of level.devices) {
    const a = await run(level.index, d, 'on');
    if (!a.ok) return failed(a);
  }
  return undefined;
}

/** Unfences a node: `on` with every unfence device, in order; all must succeed. Never throws. */
export async function unfenceNode(config: FencingConfig, node: string, opts: FenceOptions): Promise<FenceOutcome> {
  const started = performance.now();
  const devices = unfenceDevices(config, node);
  const attempts: FenceAttempt[] = [];
  for (const d of devices) {
    const r = await runFenceDevice(d, 'on', node, { timeoutMs: d.timeout ?? opts.defaultTimeoutMs, ...(opts.agentDir ? { agentDir: opts.agentDir } : {}), ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.clock ? { clock: opts.clock } : {}) });
    const a: FenceAttempt = { ...r, level: 0 };
    attempts.push(a);
    await opts.onAttempt?.(a);
    if (!a.ok) return { ok: false, node, action: 'on', devices: devices.map((x) => x.id), attempts, durationMs: performance.now() - started, why: failed(a) };
  }
  return { ok: true, node, action: 'on', devices: devices.map((x) => x.id), attempts, durationMs: performance.now() - started };
}

function failed(a: FenceAttempt): string {
  return `${a.device} ${a.action} failed (${describe(a)})`;
}

/** `rc 1: Failed: Unable to obtain correct plug status` — the exit and the agent's last line. */
export function describe(a: DeviceRun): string {
  const exit = a.timedOut ? 'timed out' : a.rc === null ? 'did not run' : `rc ${a.rc}`;
  const line = a.output.split('\n').map((l) => l.trim()).filter((l) => l !== '').pop();
  return line === undefined ? exit : `${exit}: ${line.slice(0, 300)}`;
}
