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
import type { DeviceRun } from './fencer.js';
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

  constructor(private readonly opts: FencingOptions) {}

  /** Reads where the history stands: the last seq, and which nodes still wait for an unfence. */
  async load(signal?: AbortSignal): Promise<void> {
    this.seq = await this.opts.store.lastFenceSeq(signal);
    const records = await this.opts.store.fenceHistory({ limit: 10_000 }, signal);
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
