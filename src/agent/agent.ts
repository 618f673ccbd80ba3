// The agent's core, without sockets: it runs operations on resource copies for the controller,
// keeps recurring monitors, learns of dead copies from the resource agents' watch(), turns every
// unexpected result into an event for the controller, and remembers all of it in its state dir so
// a restarted agent re-adopts what runs. The HTTP API (./api.ts) and the daemon (./daemon.ts)
// are thin layers over it.
//
// Rules it keeps (docs/agent.md):
// - operations on one copy run one at a time, in arrival order; different copies in parallel;
// - a command whose epoch is below the highest accepted is refused (CONFLICT), also when it waited
//   in a copy's queue while a newer controller spoke;
// - every change is written to the state dir before the operation is answered;
// - nothing here stops a resource on its own — not on shutdown, not when the controller is away —
//   except self-fencing: with a `selfFence` policy, an agent whose lease from a quorate controller
//   lapses applies the no-quorum policy (stop, demote, freeze, ignore) to the copies that need
//   quorum, refuses to start or promote them until a grant comes again, and reports what it
//   stopped (docs/safety.md).

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { HavenError, UsageError } from '../errors.js';
import { DEFAULTS } from '../model/config.js';
import type { ServersRequest, ServersResult } from '../model/lb.js';
import { OCF_RC, type AgentCopyState, type AgentEvent, type AgentState, type LeaseGrant, type OperationRequest, type OperationResult, type ResourceSpec } from '../model/wire.js';
import { stateOfMonitor, type ResourceAgent, type ResourceOperation, type ResourceOutcome } from '../resources/types.js';
import { AtomicFile } from '../atomic-file.js';
import { KeyedQueue } from './keyed-queue.js';
import { Lease, type SelfFencePolicy } from './lease.js';
import { Reporter, type ReporterOptions } from './reporter.js';
import { runBounded, trimOutput } from './run-operation.js';
import { STATE_FILE, STATE_FILE_VERSION, copyDirName, ensureStateDir, readAgentFile, type AgentFile, type MonitorSpec } from './state-file.js';

/**
 * Where the agent is in its life. Transitions, each logged:
 *   initialized → starting → running → stopping → stopped
 *   starting → failed (the state dir could not be read or written)
 * - initialized: constructed, nothing read yet.
 * - starting: reading the state dir; nothing is served yet.
 * - running: operations accepted; monitors, watches and reports run. Adoption probes of the copies
 *   found in the state dir are the first task in each copy's queue.
 * - stopping: SIGTERM (or close()): new operations are refused, monitors and watches end, accepted
 *   operations get a short drain, then are aborted. Resources are left running.
 * - stopped: closed; the state dir holds everything a restart needs.
 * - failed: start() failed; nothing runs.
 */
export type AgentLifecycle = 'initialized' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export interface AgentOptions {
  readonly node: string;
  /** The agent's own directory: agent.json plus one directory per copy for the resource agents. */
  readonly stateDir: string;
  /** The resource agent of a kind (`process`, `vip`, `ocf:heartbeat:Dummy`); may throw for an unknown one. */
  readonly resourceAgentFor: (kind: string) => ResourceAgent;
  /** Where reports go: `http://<controller>:<apiPort>/v1/agents/report`, in order of preference. */
  readonly reportEndpoints: readonly string[];
  readonly log: Logger;
  /** Wall clock in ms (incarnation, event times). */
  readonly now?: () => number;
  readonly reporter?: Pick<ReporterOptions, 'initialBackoffMs' | 'maxBackoffMs' | 'requestTimeoutMs' | 'fetch'>;
  /** Timeout of an adoption probe for a copy without monitors. Default: 20 s. */
  readonly probeTimeoutMs?: number;
  /** On close, how long accepted operations may run on before they are aborted. Default 5 s. */
  readonly drainMs?: number;
  /** Leases and self-fencing; absent: the agent never self-fences (tests of other parts). */
  readonly selfFence?: SelfFencePolicy;
  /** Monotonic clock for the lease (ms). Default performance.now. */
  readonly monotonic?: () => number;
}

/** The lease as GET /v1/health shows it. */
export interface LeaseInfo {
  readonly held: boolean;
  /** ms until it ends (negative: ended that long ago). */
  readonly remainingMs: number;
  readonly lapsed: boolean;
  readonly policy: string;
}

interface Monitor {
  readonly spec: MonitorSpec;
  timer: NodeJS.Timeout | undefined;
  cancelled: boolean;
}

interface Copy {
  readonly instance: string;
  resource: ResourceSpec;
  state: AgentCopyState;
  readonly monitors: Map<number, Monitor>;
}

interface Watch {
  unwatch: () => void;
}

const RUNNING_STATES: ReadonlySet<AgentCopyState> = new Set(['started', 'promoted']);

export class Agent {
  readonly node: string;
  private lifecycleState: AgentLifecycle = 'initialized';
  private incarnationValue = 0;
  private highestEpoch = 0;
  private seq = 0;
  private readonly copies = new Map<string, Copy>();
  private readonly watches = new Map<string, Watch>();
  private readonly queue = new KeyedQueue();
  private readonly file: AtomicFile;
  private readonly reporter: Reporter;
  private readonly shutdown = new AbortController();
  private readonly log: Logger;
  private readonly now: () => number;
  private adoption: Promise<void> = Promise.resolve();
  /** The write of the last epoch raised; operations wait for it, and fail if it failed. */
  private epochSaved: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;
  private lease: Lease | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private readonly monotonic: () => number;

  constructor(private readonly opts: AgentOptions) {
    this.node = opts.node;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.monotonic = opts.monotonic ?? (() => performance.now());
    this.file = new AtomicFile(join(opts.stateDir, STATE_FILE));
    this.reporter = new Reporter({
      node: opts.node,
      endpoints: opts.reportEndpoints,
      log: opts.log,
      onChange: () => this.persistInBackground(),
      ...opts.reporter,
    });
  }

  get lifecycle(): AgentLifecycle {
    return this.lifecycleState;
  }

  /** This run of the agent: its start time in ms, larger than every earlier run's. */
  get incarnation(): number {
    return this.incarnationValue;
  }

  /** The highest controller epoch accepted. */
  get epoch(): number {
    return this.highestEpoch;
  }

  /** Settles once the adoption probes of the copies found at start have run. */
  adopted(): Promise<void> {
    return this.adoption;
  }

  /** Events the controller has not acknowledged yet, oldest first. */
  pendingEvents(): readonly AgentEvent[] {
    return this.reporter.pending().map((p) => p.event);
  }

  /** Reads the state dir, then starts serving: adoption probes, monitors, reports. */
  async start(): Promise<void> {
    if (this.lifecycleState !== 'initialized') throw new HavenError('INTERNAL', `agent.start() called while ${this.lifecycleState}`);
    this.transition('starting');
    try {
      await ensureStateDir(this.opts.stateDir);
      const stored = await readAgentFile(this.opts.stateDir, this.node);
      this.incarnationValue = Math.max(this.now(), (stored?.incarnation ?? -1) + 1);
      this.highestEpoch = stored?.epoch ?? 0;
      for (const c of stored?.copies ?? []) {
        const monitors = new Map<number, Monitor>();
        for (const spec of c.monitors) monitors.set(spec.intervalMs, { spec, timer: undefined, cancelled: false });
        this.copies.set(c.instance, { instance: c.instance, resource: c.resource, state: c.state, monitors });
      }
      this.reporter.restore(stored?.pendingEvents ?? []);
      await this.persist();
    } catch (err) {
      this.transition('failed', { err: err instanceof Error ? err.message : String(err) });
      throw err;
    }
    this.transition('running', { incarnation: this.incarnationValue, epoch: this.highestEpoch, copies: this.copies.size, pendingEvents: this.reporter.pending().length });
    this.reporter.start();
    if (this.opts.selfFence !== undefined) {
      this.lease = new Lease(this.monotonic(), this.opts.selfFence.leaseMs);
      this.armLease();
    }
    const adoptions = [...this.copies.values()].map((copy) => this.queue.run(copy.instance, () => this.adopt(copy)));
    this.adoption = Promise.all(adoptions).then(() => undefined);
  }

  /**
   * Runs one operation for the controller and answers when it is done. Throws USAGE for a request
   * that makes no sense, CONFLICT for a stale epoch, UNREACHABLE when the agent is not running.
   */
  async submit(req: OperationRequest): Promise<OperationResult> {
    if (this.lifecycleState !== 'running') {
      throw new HavenError('UNREACHABLE', `the agent on ${this.node} is ${this.lifecycleState}, not running`, { hint: 'retry once it runs' });
    }
    if ((req.operation === 'monitor-start' || req.operation === 'monitor-stop') && req.intervalMs === undefined) {
      throw new UsageError(`${req.operation} needs intervalMs`, { hint: 'the interval names the recurring monitor' });
    }
    this.checkEpoch(req);
    if ((req.operation === 'start' || req.operation === 'promote') && this.lease?.lapsed === true && this.needsQuorum(req.resource)) {
      throw new HavenError('CONFLICT', `${req.operation} of ${req.instance} refused: this agent's lease lapsed (no quorate controller heard from)`, {
        hint: 'it starts again once a controller with quorum answers its heartbeats',
      });
    }
    this.raiseEpoch(req.epoch, req.action);
    // Queued at once, so commands run in arrival order; none runs before the epoch is on disk.
    const epochSaved = this.epochSaved;
    return this.queue.run(req.instance, async () => {
      await epochSaved;
      return this.execute(req);
    });
  }

  /**
   * Tells a load balancer copy which backend servers may take traffic (POST /v1/servers, sent by
   * the controller's lb-sync). Not queued behind the copy's operations, so a server is taken out
   * at once: the resource agent orders it with its own starts and stops. Throws CONFLICT for a
   * stale epoch, USAGE for a copy whose kind has no servers.
   */
  async setServers(req: ServersRequest): Promise<ServersResult> {
    if (this.lifecycleState !== 'running') {
      throw new HavenError('UNREACHABLE', `the agent on ${this.node} is ${this.lifecycleState}, not running`, { hint: 'retry once it runs' });
    }
    if (req.epoch < this.highestEpoch) {
      throw new HavenError('CONFLICT', `epoch ${req.epoch} is older than epoch ${this.highestEpoch}, which this agent has accepted`, { hint: 'a newer controller leads' });
    }
    const agent = this.agentFor(req.resource);
    if (!isAgent(agent)) throw new HavenError('UNSUPPORTED', agent.output);
    if (agent.setServers === undefined) throw new UsageError(`${req.instance} is a ${req.resource.agent} copy: it has no backend servers`, { hint: 'POST /v1/servers is for load balancers (haproxy)' });
    const stateDir = await this.copyDir(req.instance);
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(req.timeoutMs)]);
    const ctx = { instance: req.instance, primitive: req.resource.primitive, params: req.resource.params, timeoutMs: req.timeoutMs, intervalMs: 0, signal, stateDir };
    const result = await agent.setServers(ctx, req.servers);
    this.log.info({ instance: req.instance, op: 'servers', epoch: req.epoch, applied: result.applied }, `servers: ${result.output}`);
    return result;
  }

  /**
   * A lease grant answering a heartbeat sent at `sentAt` (monotonic). A grant of an epoch older
   * than the one accepted is refused (false): a stale controller cannot keep a node alive.
   */
  leaseGranted(grant: LeaseGrant, sentAt: number): boolean {
    if (this.lease === undefined || this.lifecycleState !== 'running') return false;
    if (grant.epoch < this.highestEpoch) {
      this.log.debug({ controller: grant.controller, epoch: grant.epoch, highest: this.highestEpoch }, 'lease grant of a stale epoch ignored');
      return false;
    }
    this.raiseEpoch(grant.epoch, `lease from ${grant.controller}`);
    if (this.lease.renew(sentAt, grant.leaseMs)) this.log.warn({ controller: grant.controller, epoch: grant.epoch }, 'lease regained: starts are accepted again');
    this.armLease();
    return true;
  }

  leaseInfo(): LeaseInfo | undefined {
    if (this.lease === undefined || this.opts.selfFence === undefined) return undefined;
    const now = this.monotonic();
    return { held: this.lease.held(now), remainingMs: Math.round(this.lease.expiresAt - now), lapsed: this.lease.lapsed, policy: this.opts.selfFence.noQuorumPolicy };
  }

  /** Everything the agent runs, as GET /v1/state reports it. */
  state(): AgentState {
    const copies = [...this.copies.values()]
      .sort((a, b) => (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0))
      .map((c) => ({
        instance: c.instance,
        resource: c.resource,
        state: c.state,
        monitors: [...c.monitors.keys()].sort((a, b) => a - b),
      }));
    return { node: this.node, incarnation: this.incarnationValue, epoch: this.highestEpoch, copies, eventSeq: this.seq };
  }

  /**
   * Stops serving without touching a resource: monitors and watches end, accepted operations get
   * `drainMs` to finish and are then aborted, reports stop (what is unacknowledged stays on disk).
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    if (this.lifecycleState === 'initialized' || this.lifecycleState === 'failed') {
      this.transition('stopped');
      return;
    }
    this.transition('stopping');
    clearTimeout(this.leaseTimer);
    for (const copy of this.copies.values()) for (const m of copy.monitors.values()) this.cancelMonitor(m);
    for (const instance of [...this.watches.keys()]) this.stopWatch(instance);
    const drained = await waitAtMost(this.queue.idle(), this.opts.drainMs ?? 5_000);
    if (!drained) this.log.warn({ busy: this.queue.busyKeys() }, 'aborting operations still running');
    this.shutdown.abort();
    await this.queue.idle();
    await this.reporter.close();
    try {
      await this.persist();
    } catch (err) {
      this.log.error({ err: err instanceof Error ? err.message : String(err) }, 'could not save the state at shutdown');
    }
    this.transition('stopped', { pendingEvents: this.reporter.pending().length });
  }

  // ---- operations ---------------------------------------------------------------------------

  private raiseEpoch(epoch: number, why: string): void {
    if (epoch <= this.highestEpoch) return;
    const from = this.highestEpoch;
    this.highestEpoch = epoch;
    this.log.info({ from, epoch, action: why }, 'epoch raised');
    this.epochSaved = this.persist();
  }

  /**
   * Whether a copy is stopped (or demoted) when the lease lapses: by what its resource requires in
   * the controller's configuration, sent with its last operation; else by this agent's own file.
   */
  private needsQuorum(resource: ResourceSpec): boolean {
    return this.opts.selfFence !== undefined && (resource.requires ?? this.opts.selfFence.requires(resource.primitive)) !== 'nothing';
  }

  /** Wakes at the lease's end: a renewal meanwhile re-arms it, otherwise the agent self-fences. */
  private armLease(): void {
    if (this.lease === undefined || this.leaseTimer !== undefined) return;
    const wait = Math.max(1, Math.ceil(this.lease.expiresAt - this.monotonic()));
    this.leaseTimer = setTimeout(() => {
      this.leaseTimer = undefined;
      if (this.lease === undefined || this.lifecycleState !== 'running') return;
      if (this.lease.held(this.monotonic())) return this.armLease();
      if (this.lease.lapse(this.monotonic())) this.selfFence();
    }, wait);
    this.leaseTimer.unref?.();
  }

  /** The lease lapsed: the no-quorum policy, applied to every copy that needs quorum. */
  private selfFence(): void {
    const policy = this.opts.selfFence!;
    const affected = [...this.copies.values()].filter((c) => c.state !== 'stopped' && this.needsQuorum(c.resource));
    this.log.error(
      { policy: policy.noQuorumPolicy, leaseMs: policy.leaseMs, copies: affected.map((c) => c.instance) },
      `lease lapsed: no quorate controller answered for ${policy.leaseMs} ms; no-quorum policy ${policy.noQuorumPolicy}`,
    );
    if (policy.noQuorumPolicy === 'freeze' || policy.noQuorumPolicy === 'ignore') return;
    for (const copy of affected) {
      if (policy.noQuorumPolicy === 'demote' && copy.state !== 'promoted') continue;
      const op = policy.noQuorumPolicy === 'demote' ? 'demote' : 'stop';
      void this.queue
        .run(copy.instance, () => this.selfFenceCopy(copy.instance, op))
        .catch((err: unknown) => this.log.error({ instance: copy.instance, err: err instanceof Error ? err.message : String(err) }, 'self-fence failed to run'));
    }
  }

  private async selfFenceCopy(instance: string, op: 'stop' | 'demote'): Promise<void> {
    const copy = this.copies.get(instance);
    if (copy === undefined || this.lease === undefined || !this.lease.lapsed || this.lifecycleState !== 'running') return;
    const agent = this.agentFor(copy.resource);
    if (!isAgent(agent)) return;
    if (op === 'stop') this.stopWatch(instance);
    const timeoutMs = this.opts.probeTimeoutMs ?? DEFAULTS.operationTimeout;
    const out = await this.run(agent, op, instance, copy.resource, timeoutMs, 0);
    if (out.rc === OCF_RC.SUCCESS) {
      if (op === 'stop') {
        for (const m of copy.monitors.values()) this.cancelMonitor(m);
        this.copies.delete(instance);
        copy.state = 'stopped';
      } else copy.state = 'started';
    } else copy.state = 'failed';
    this.log.warn({ instance, op, rc: out.rc, to: copy.state, durationMs: out.durationMs }, 'self-fenced');
    this.raise(copy, 0, out.rc, `self-fence (${op}): lease lapsed${out.output ? `: ${out.output}` : ''}`, 'self-fence');
    await this.persist();
  }

  private checkEpoch(req: OperationRequest): void {
    if (req.epoch < this.highestEpoch) {
      this.log.warn({ instance: req.instance, op: req.operation, epoch: req.epoch, highest: this.highestEpoch, action: req.action }, 'refused a stale command');
      throw new HavenError('CONFLICT', `epoch ${req.epoch} is older than epoch ${this.highestEpoch}, which this agent has accepted`, {
        hint: 'a newer controller leads; this command comes from an old leader',
      });
    }
  }

  private async execute(req: OperationRequest): Promise<OperationResult> {
    // A command that waited in the queue while a newer leader spoke is refused too.
    this.checkEpoch(req);
    const before = this.copies.get(req.instance)?.state;
    const result = await this.dispatch(req);
    this.log.info(
      {
        instance: req.instance,
        op: req.operation,
        ...(req.intervalMs === undefined ? {} : { intervalMs: req.intervalMs }),
        rc: result.rc,
        epoch: req.epoch,
        action: req.action,
        from: before ?? 'unknown',
        to: result.state,
        durationMs: result.durationMs,
        ...(result.timedOut === true ? { timedOut: true } : {}),
      },
      result.rc === 0 || (req.operation === 'probe' && result.rc === OCF_RC.NOT_RUNNING) ? 'operation done' : 'operation failed',
    );
    // The operation happened whatever the disk says: answer it, and say loudly that it is not saved.
    await this.persist().catch((err: unknown) =>
      this.log.error({ instance: req.instance, op: req.operation, err: err instanceof Error ? err.message : String(err) }, 'could not save the state'),
    );
    return result;
  }

  private async dispatch(req: OperationRequest): Promise<OperationResult> {
    const { instance, resource } = req;
    const known = this.copies.get(instance);
    const unchanged = (): AgentCopyState => this.copies.get(instance)?.state ?? 'stopped';
    switch (req.operation) {
      case 'start': {
        const agent = this.agentFor(resource);
        if (!isAgent(agent)) return result(agent, 0, unchanged());
        const problems = await agent.validate(resource.params).catch((err: unknown) => [`cannot validate the params: ${err instanceof Error ? err.message : String(err)}`]);
        if (problems.length > 0) {
          return result({ rc: OCF_RC.ERR_CONFIGURED, output: trimOutput(problems.join('\n')) }, 0, unchanged());
        }
        this.stopWatch(instance);
        const out = await this.run(agent, 'start', instance, resource, req.timeoutMs, 0);
        const copy = this.upsert(instance, resource);
        copy.state = out.rc === OCF_RC.SUCCESS ? 'started' : 'failed';
        this.syncWatch(copy);
        return result(out, out.durationMs, copy.state);
      }
      case 'stop': {
        const agent = this.agentFor(resource);
        if (!isAgent(agent)) return result(agent, 0, unchanged());
        this.stopWatch(instance);
        const out = await this.run(agent, 'stop', instance, resource, req.timeoutMs, 0);
        if (out.rc === OCF_RC.SUCCESS) {
          if (known !== undefined) for (const m of known.monitors.values()) this.cancelMonitor(m);
          this.copies.delete(instance);
          return result(out, out.durationMs, 'stopped');
        }
        const copy = this.upsert(instance, resource);
        copy.state = 'failed';
        return result(out, out.durationMs, copy.state);
      }
      case 'promote':
      case 'demote': {
        const agent = this.agentFor(resource);
        if (!isAgent(agent)) return result(agent, 0, unchanged());
        const out = await this.run(agent, req.operation, instance, resource, req.timeoutMs, 0);
        const copy = this.upsert(instance, resource);
        copy.state = out.rc !== OCF_RC.SUCCESS ? 'failed' : req.operation === 'promote' ? 'promoted' : 'started';
        this.syncWatch(copy);
        return result(out, out.durationMs, copy.state);
      }
      case 'probe': {
        const agent = this.agentFor(resource);
        if (!isAgent(agent)) return result(agent, 0, unchanged());
        const out = await this.run(agent, 'monitor', instance, resource, req.timeoutMs, 0);
        const seen = stateOfMonitor(out.rc);
        // A copy found not running that the agent did not know stays unknown: nothing to remember.
        if (known === undefined && seen === 'stopped') return result(out, out.durationMs, seen);
        const copy = this.upsert(instance, resource);
        copy.state = seen;
        this.syncWatch(copy);
        return result(out, out.durationMs, seen);
      }
      case 'monitor-start': {
        const intervalMs = req.intervalMs as number;
        const agent = this.agentFor(resource);
        if (!isAgent(agent)) return result(agent, 0, unchanged());
        // The first check runs now and is the answer; later ones report only what changes.
        const out = await this.run(agent, 'monitor', instance, resource, req.timeoutMs, intervalMs);
        const copy = this.upsert(instance, resource);
        copy.state = stateOfMonitor(out.rc);
        const previous = copy.monitors.get(intervalMs);
        if (previous !== undefined) this.cancelMonitor(previous);
        const monitor: Monitor = {
          spec: { intervalMs, timeoutMs: req.timeoutMs, ...(req.role === undefined ? {} : { role: req.role }) },
          timer: undefined,
          cancelled: false,
        };
        copy.monitors.set(intervalMs, monitor);
        this.scheduleMonitor(copy.instance, monitor);
        this.syncWatch(copy);
        return result(out, out.durationMs, copy.state);
      }
      case 'monitor-stop': {
        const intervalMs = req.intervalMs as number;
        const monitor = known?.monitors.get(intervalMs);
        if (known !== undefined && monitor !== undefined) {
          this.cancelMonitor(monitor);
          known.monitors.delete(intervalMs);
        }
        const output = monitor === undefined ? `no ${intervalMs} ms monitor of ${instance} was running` : `${intervalMs} ms monitor of ${instance} cancelled`;
        return { rc: OCF_RC.SUCCESS, output, durationMs: 0, state: unchanged() };
      }
      default: {
        const never: never = req.operation;
        throw new HavenError('INTERNAL', `unknown operation ${String(never)}`);
      }
    }
  }

  /** The resource agent for a spec, or the outcome to answer when there is none (ERR_INSTALLED). */
  private agentFor(resource: ResourceSpec): ResourceAgent | ResourceOutcome {
    try {
      return this.opts.resourceAgentFor(resource.agent);
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      return { rc: OCF_RC.ERR_INSTALLED, output: `no resource agent for "${resource.agent}" on ${this.node}: ${detail}` };
    }
  }

  private async run(agent: ResourceAgent, op: ResourceOperation, instance: string, resource: ResourceSpec, timeoutMs: number, intervalMs: number) {
    const stateDir = await this.copyDir(instance);
    return runBounded(agent, op, { instance, primitive: resource.primitive, params: resource.params, timeoutMs, intervalMs, stateDir }, this.shutdown.signal);
  }

  private async copyDir(instance: string): Promise<string> {
    const dir = join(this.opts.stateDir, 'copies', copyDirName(instance));
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  private upsert(instance: string, resource: ResourceSpec): Copy {
    let copy = this.copies.get(instance);
    if (copy === undefined) {
      copy = { instance, resource, state: 'stopped', monitors: new Map() };
      this.copies.set(instance, copy);
    } else copy.resource = resource;
    return copy;
  }

  // ---- adoption, monitors, watches, events --------------------------------------------------

  /** At start: probe a copy the state dir lists, report a difference, resume its monitors and watch. */
  private async adopt(copy: Copy): Promise<void> {
    if (this.lifecycleState !== 'running' || this.copies.get(copy.instance) !== copy) return;
    const agent = this.agentFor(copy.resource);
    const timeoutMs = Math.max(0, ...[...copy.monitors.values()].map((m) => m.spec.timeoutMs)) || (this.opts.probeTimeoutMs ?? DEFAULTS.operationTimeout);
    const out = isAgent(agent) ? await this.run(agent, 'monitor', copy.instance, copy.resource, timeoutMs, 0) : agent;
    if (this.lifecycleState !== 'running' || this.copies.get(copy.instance) !== copy) return;
    const seen = stateOfMonitor(out.rc);
    const recorded = copy.state;
    this.log.info({ instance: copy.instance, op: 'adopt', rc: out.rc, epoch: this.highestEpoch, from: recorded, to: seen }, seen === recorded ? 'copy adopted' : 'copy adopted with a difference');
    if (seen !== recorded) {
      copy.state = seen;
      this.raise(copy, 0, out.rc, out.output);
    }
    this.syncWatch(copy);
    for (const m of copy.monitors.values()) this.scheduleMonitor(copy.instance, m);
    await this.persist();
  }

  private scheduleMonitor(instance: string, monitor: Monitor): void {
    if (monitor.cancelled || this.lifecycleState !== 'running') return;
    monitor.timer = setTimeout(() => {
      monitor.timer = undefined;
      void this.queue
        .run(instance, () => this.monitorOnce(instance, monitor))
        .catch((err: unknown) => this.log.error({ instance, err: err instanceof Error ? err.message : String(err) }, 'monitor failed to run'))
        .finally(() => this.scheduleMonitor(instance, monitor));
    }, monitor.spec.intervalMs);
  }

  private cancelMonitor(monitor: Monitor): void {
    monitor.cancelled = true;
    if (monitor.timer !== undefined) clearTimeout(monitor.timer);
    monitor.timer = undefined;
  }

  private async monitorOnce(instance: string, monitor: Monitor): Promise<void> {
    const copy = this.copies.get(instance);
    if (monitor.cancelled || this.lifecycleState !== 'running' || copy === undefined || copy.monitors.get(monitor.spec.intervalMs) !== monitor) return;
    const agent = this.agentFor(copy.resource);
    const out = isAgent(agent) ? await this.run(agent, 'monitor', instance, copy.resource, monitor.spec.timeoutMs, monitor.spec.intervalMs) : agent;
    if (monitor.cancelled || this.lifecycleState !== 'running') return;
    const seen = stateOfMonitor(out.rc);
    if (seen === copy.state) return;
    this.log.warn(
      { instance, op: 'monitor', intervalMs: monitor.spec.intervalMs, rc: out.rc, epoch: this.highestEpoch, from: copy.state, to: seen, ...(out.timedOut === true ? { timedOut: true } : {}) },
      'monitor found a change',
    );
    copy.state = seen;
    this.raise(copy, monitor.spec.intervalMs, out.rc, out.output);
    this.syncWatch(copy);
    await this.persist();
  }

  /** Watches a copy that runs, stops watching one that does not. */
  private syncWatch(copy: Copy): void {
    if (!RUNNING_STATES.has(copy.state)) {
      this.stopWatch(copy.instance);
      return;
    }
    if (this.watches.has(copy.instance) || this.lifecycleState !== 'running') return;
    const agent = this.agentFor(copy.resource);
    if (!isAgent(agent) || agent.watch === undefined) return;
    const entry: Watch = { unwatch: () => undefined };
    this.watches.set(copy.instance, entry);
    const dir = join(this.opts.stateDir, 'copies', copyDirName(copy.instance));
    try {
      const unwatch = agent.watch({ instance: copy.instance, primitive: copy.resource.primitive, params: copy.resource.params, stateDir: dir }, (why) => this.onExit(copy.instance, entry, why));
      if (this.watches.get(copy.instance) === entry) entry.unwatch = unwatch;
      else unwatch(); // it reported an exit while being set up
    } catch (err) {
      if (this.watches.get(copy.instance) === entry) this.watches.delete(copy.instance);
      this.log.warn({ instance: copy.instance, err: err instanceof Error ? err.message : String(err) }, 'cannot watch the copy; monitors only');
    }
  }

  private stopWatch(instance: string): void {
    const w = this.watches.get(instance);
    if (w === undefined) return;
    this.watches.delete(instance);
    try {
      w.unwatch();
    } catch (err) {
      this.log.warn({ instance, err: err instanceof Error ? err.message : String(err) }, 'unwatch failed');
    }
  }

  /** A resource agent says a copy died: report it now, without waiting for a monitor. */
  private onExit(instance: string, entry: Watch, why: string): void {
    if (this.watches.get(instance) !== entry || this.lifecycleState !== 'running') return;
    this.stopWatch(instance);
    const copy = this.copies.get(instance);
    if (copy === undefined || !RUNNING_STATES.has(copy.state)) return;
    this.log.warn({ instance, op: 'watch', rc: OCF_RC.NOT_RUNNING, epoch: this.highestEpoch, from: copy.state, to: 'stopped', why }, 'copy died');
    copy.state = 'stopped';
    this.raise(copy, 0, OCF_RC.NOT_RUNNING, why);
    this.persistInBackground();
  }

  /** Queues an event for the controller; the reporter sends it at once. */
  private raise(copy: Copy, intervalMs: number, rc: number, output: string, operation: AgentEvent['operation'] = 'monitor'): void {
    this.seq += 1;
    const event: AgentEvent = {
      seq: this.seq,
      instance: copy.instance,
      primitive: copy.resource.primitive,
      operation,
      intervalMs,
      rc,
      output: trimOutput(output),
      at: this.now(),
      state: copy.state,
    };
    this.reporter.add({ incarnation: this.incarnationValue, event });
  }

  // ---- persistence and lifecycle ------------------------------------------------------------

  private snapshot(): AgentFile {
    return {
      v: STATE_FILE_VERSION,
      node: this.node,
      epoch: this.highestEpoch,
      incarnation: this.incarnationValue,
      copies: [...this.copies.values()].map((c) => ({
        instance: c.instance,
        resource: c.resource,
        state: c.state,
        monitors: [...c.monitors.values()].map((m) => m.spec),
      })),
      pendingEvents: [...this.reporter.pending()],
    };
  }

  private persist(): Promise<void> {
    return this.file.save(`${JSON.stringify(this.snapshot(), null, 1)}\n`);
  }

  private persistInBackground(): void {
    if (this.lifecycleState === 'initialized' || this.lifecycleState === 'starting') return;
    this.persist().catch((err: unknown) => this.log.error({ err: err instanceof Error ? err.message : String(err) }, 'could not save the state'));
  }

  private transition(to: AgentLifecycle, fields: Record<string, unknown> = {}): void {
    const from = this.lifecycleState;
    this.lifecycleState = to;
    this.log.info({ from, to, ...fields }, `agent ${to}`);
  }
}

function isAgent(x: ResourceAgent | ResourceOutcome): x is ResourceAgent {
  return typeof (x as ResourceAgent).run === 'function';
}

function result(out: ResourceOutcome, durationMs: number, state: AgentCopyState): OperationResult {
  return { rc: out.rc, output: out.output, durationMs, state, ...(out.timedOut === true ? { timedOut: true } : {}) };
}

/** true if `p` settled within `ms`. */
async function waitAtMost(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true as const), expired]);
  } finally {
    clearTimeout(timer);
  }
}
