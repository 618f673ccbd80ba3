// The controller's fencing service: fences and unfences nodes through their topology
// (./topology.ts) and writes every device run to the fence history in the store as it ends,
// with who asked and why. It also remembers which nodes must be unfenced before they run
// anything again (a node fenced off, until an unfence succeeds), across controller restarts,
// from the history itself.
//
// Nothing here logs or returns a device's params: outputs are masked by the fencer, and the
// history holds no params at all.

import type { Config } from '../model/config.js';
import type { FenceHistoryQuery, FenceHistoryStore, FenceRecord } from '../store/fence-history.js';
import { maskedParams, runFenceDevice, type DeviceRun } from './fencer.js';
import { fenceLevels, fenceNode, unfenceDevices, unfenceNode, type FenceAttempt, type FenceOutcome } from './topology.js';

export interface FencingOptions {
  readonly config: Pick<Config, 'fenceDevices' | 'fenceTopology'>;
  readonly store: FenceHistoryStore;
  /** The epoch the records carry (the controller's, which may change when it leads again). */
  readonly epoch: () => number;
  /** A device without its own timeout gets this long. */
  readonly defaultTimeoutMs: number;
  readonly clock?: () => number;
  /** Where fence_* agents live (tests). */
  readonly agentDir?: string;
  /** A history write failed: the fence goes on (it is what keeps data safe), the caller logs it. */
  readonly onRecordError?: (err: unknown) => void;
}

/** A fence device as `haven fence devices` shows it: never a secret. */
export interface DeviceView {
  readonly id: string;
  readonly agent: string;
  readonly nodes: readonly string[];
  /** node → the level this device is in for that node. */
  readonly levels: Readonly<Record<string, number>>;
  /** Secret params as `****`. */
  readonly params: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly unfence: boolean;
  readonly verify: boolean;
  /** With `check`: the agent's `monitor` (0: the device answers). */
  readonly monitor?: { readonly ok: boolean; readonly rc: number | null; readonly timedOut: boolean; readonly durationMs: number; readonly output: string };
}

export interface FenceRequest {
  /** `controller` or `operator …`. */
  readonly requestedBy: string;
  readonly reason: string;
  readonly signal?: AbortSignal;
}

export class FencingService {
  private seq = 0;
  private loaded = false;
  /** Nodes fenced off (not rebooted) that have unfence devices and were not unfenced since. */
  private readonly pendingUnfence = new Set<string>();
  /** One fence or unfence per node at a time: a second request waits for the first. */
  private readonly busy = new Map<string, Promise<unknown>>();

  constructor(private opts: FencingOptions) {}

  /**
   * A new configuration (`haven apply`): later fences and unfences use its devices and topology;
   * one under way finishes with the devices it started with.
   */
  useConfig(config: FencingOptions['config'], defaultTimeoutMs: number): void {
    this.opts = { ...this.opts, config, defaultTimeoutMs };
  }

  /** Reads where the history stands (at every term's start): the last seq, and which nodes still wait for an unfence. */
  async load(signal?: AbortSignal): Promise<void> {
    this.seq = await this.opts.store.lastFenceSeq(signal);
    const records = await this.opts.store.fenceHistory({ limit: 10_000 }, signal);
    // Each term reads it afresh: another controller may have fenced or unfenced since.
    this.pendingUnfence.clear();
    for (const r of records) this.track(r);
    this.loaded = true;
  }

  /** Whether the node must be unfenced before it runs anything again. */
  needsUnfence(node: string): boolean {
    return this.pendingUnfence.has(node) && unfenceDevices(this.opts.config, node).length > 0;
  }

  /** Fences a node through its levels; every device run is recorded. Never throws. */
  fence(node: string, action: 'off' | 'reboot', req: FenceRequest): Promise<FenceOutcome> {
    return this.serialized(node, async () => {
      const record = this.recorder(node, action, req);
      const outcome = await fenceNode(fenceLevels(this.opts.config, node), action, { ...this.runOptions(req), onAttempt: record });
      if (outcome.ok && action === 'off') this.pendingUnfence.add(node);
      if (outcome.ok && action === 'reboot') this.pendingUnfence.delete(node);
      return outcome;
    });
  }

  /** Unfences a node: `on` with its unfence devices, all of which must succeed. Never throws. */
  unfence(node: string, req: FenceRequest): Promise<FenceOutcome> {
    return this.serialized(node, async () => {
      const outcome = await unfenceNode(this.opts.config, node, { ...this.runOptions(req), onAttempt: this.recorder(node, 'on', req) });
      if (outcome.ok) this.pendingUnfence.delete(node);
      return outcome;
    });
  }

  /**
   * The devices as an operator may see them (secret params masked), with the nodes each fences at
   * which level; with `check`, each device's agent is run with `monitor` (is the device there and
   * do the credentials work?), all at once.
   */
  async devices(check: boolean, signal?: AbortSignal): Promise<DeviceView[]> {
    const devices = this.opts.config.fenceDevices ?? [];
    const levels = (id: string): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const d of devices) {
        for (const node of d.nodes) {
          const level = fenceLevels(this.opts.config, node).levels.find((l) => l.devices.some((x) => x.id === id));
          if (level !== undefined) out[node] = level.index;
        }
      }
      return out;
    };
    return Promise.all(
      devices.map(async (d): Promise<DeviceView> => {
        const view: DeviceView = {
          id: d.id,
          agent: d.agent,
          nodes: [...d.nodes],
          levels: levels(d.id),
          params: maskedParams(d),
          timeoutMs: d.timeout ?? this.opts.defaultTimeoutMs,
          unfence: d.unfence === true,
          verify: d.verify === true,
        };
        if (!check) return view;
        const r = await runFenceDevice(d, 'monitor', undefined, { timeoutMs: d.timeout ?? this.opts.defaultTimeoutMs, ...(signal ? { signal } : {}), ...(this.opts.agentDir ? { agentDir: this.opts.agentDir } : {}) });
        return { ...view, monitor: { ok: r.ok, rc: r.rc, timedOut: r.timedOut, durationMs: Math.round(r.durationMs), output: r.output.slice(-500) } };
      }),
    );
  }

  /** The latest records, oldest first. */
  history(query: FenceHistoryQuery, signal?: AbortSignal): Promise<FenceRecord[]> {
    return this.opts.store.fenceHistory(query, signal);
  }

  private runOptions(req: FenceRequest): { defaultTimeoutMs: number; signal?: AbortSignal; clock?: () => number; agentDir?: string } {
    return {
      defaultTimeoutMs: this.opts.defaultTimeoutMs,
      ...(req.signal ? { signal: req.signal } : {}),
      ...(this.opts.clock ? { clock: this.opts.clock } : {}),
      ...(this.opts.agentDir ? { agentDir: this.opts.agentDir } : {}),
    };
  }

  /** Writes each attempt as it ends; the attempts of one request share its first seq. */
  private recorder(node: string, requested: FenceRecord['requested'], req: FenceRequest): (a: FenceAttempt) => Promise<void> {
    let request: number | undefined;
    return async (a) => {
      if (!this.loaded) await this.load().catch(() => undefined);
      const seq = ++this.seq;
      request ??= seq;
      const r: FenceRecord = {
        seq,
        request,
        at: a.startedAt,
        node,
        requested,
        action: a.action as FenceRecord['action'],
        level: a.level,
        device: a.device,
        agent: a.agent,
        result: resultOf(a),
        rc: a.rc,
        durationMs: Math.round(a.durationMs * 10) / 10,
        requestedBy: req.requestedBy,
        reason: req.reason,
        epoch: this.opts.epoch(),
        output: a.output.slice(-500),
      };
      try {
        await this.opts.store.appendFenceRecords([r]);
      } catch (err) {
        this.opts.onRecordError?.(err);
      }
    };
  }

  private track(r: FenceRecord): void {
    if (r.result !== 'ok') return;
    if (r.requested === 'off' && r.action === 'off') this.pendingUnfence.add(r.node);
    if (r.requested === 'on' || (r.requested === 'reboot' && (r.action === 'reboot' || r.action === 'on'))) this.pendingUnfence.delete(r.node);
  }

  private serialized<T>(node: string, fn: () => Promise<T>): Promise<T> {
    const before = this.busy.get(node) ?? Promise.resolve();
    const next = before.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.busy.set(node, tail);
    void tail.then(() => {
      if (this.busy.get(node) === tail) this.busy.delete(node);
    });
    return next;
  }
}

function resultOf(a: DeviceRun): FenceRecord['result'] {
  if (a.timedOut) return 'timeout';
  if (a.rc === null) return 'error';
  if (!a.ok) return 'failed';
  // A verifying status that found the node still on did not do what the fence needed.
  if (a.action === 'status' && a.power !== 'off') return 'failed';
  return 'ok';
}
