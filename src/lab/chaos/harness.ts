// The chaos suite (`haven lab chaos`, docs/chaos.md): brings up its own lab with an
// active/passive service and a clone (./cluster.ts), watches the A/P service's ground truth on
// every host (./watch-main.ts) and probes every service from the client (./probe-main.ts), then
// runs trials: one seeded random fault (./plan.ts) injected (./faults.ts), held, healed, and
// the cluster left to settle, with the invariants (./invariants.ts) checked on what was
// recorded. The lab is always torn down at the end, also after a failure or an abort.
//
// With `controllers: 3` the lab runs three controllers on a 3-member etcd (`lab up --controllers
// 3`): the suite reads the leader's API (found by each controller's GET /v1/health), reads every
// controller's log, and waits, before a fault, for one leader, two followers and every etcd
// member healthy, so that each trial starts from the whole shape.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { HavenError, UsageError } from '../../errors.js';
import { DEFAULTS } from '../../model/config.js';
import { controllerSocket, logFile } from '../daemons.js';
import { etcdHealthy, etcdRaftLeader } from '../etcd.js';
import { createLab, destroyLab, killDaemon, requireRoot, startHostDaemon } from '../lab.js';
import { CLIENT_HOST, CONTROLLER_HOST } from '../names.js';
import { powerOn } from '../power.js';
import { analyzeProbe, type ProbeAnswer } from '../probe-report.js';
import { requireState, labDir, type LabState } from '../state.js';
import { sleep } from '../system.js';
import { activeHost, AP_PORT, CHAOS_RESOURCES, CLONE_PORT, controllerCall, controllersUnsettled, durableView, MARKER, unsettled, AP_SERVICE, type ControllerEvent, type Health, type Snapshot } from './cluster.js';
import { inject, servicePids, type Heal } from './faults.js';
import {
  backAt,
  doneActions,
  durableViolations,
  epochStarts,
  FENCE_EVENT_KINDS,
  fenceViolations,
  lostEvents,
  lostEventsViolation,
  probeSplitBrainViolations,
  recoveryViolation,
  restartViolations,
  splitBrainViolations,
  staleViolations,
  twiceViolations,
  withEpochs,
  type DurableView,
  type FenceRecord,
  type SeenEvent,
  type ServicePids,
  type Spare,
  type Violation,
} from './invariants.js';
import { faultApplies, holdOf, leaderChangeOnly, planTrial, type ControllerCount, type FaultKind, type FaultPlan, type TargetRole } from './plan.js';
import { HostTimeline, holders, overlaps, parseWatchLine, type Overlap } from './timeline.js';

const WATCH_MAIN = fileURLToPath(new URL('./watch-main.js', import.meta.url));
const PROBE_MAIN = fileURLToPath(new URL('./probe-main.js', import.meta.url));

export interface ChaosOptions {
  readonly name: string;
  readonly stateDir: string;
  readonly seed: number;
  /** Trials 1..trials, or only `replay`. */
  readonly trials: number;
  readonly replay?: number;
  readonly faults: readonly FaultKind[];
  readonly holdMinMs: number;
  readonly holdMaxMs: number;
  /** Invariant 3: every service back within this long after the heal. */
  readonly boundMs: number;
  readonly hosts: number;
  readonly rings: number;
  /** 1 (default: the embedded store) or 3 controllers on a 3-member etcd. */
  readonly controllers?: ControllerCount;
  /** With 3 controllers: their leader lease on etcd, whole seconds (default 2, as the lab tests). */
  readonly leaderLease?: number;
  /** systemd's RestartSec for a killed agent (default 500 ms). */
  readonly agentRestartMs?: number;
  /** Keep the lab's logs (<state dir>/<name>/logs) when it is torn down. */
  readonly keepLogs?: boolean;
  readonly signal?: AbortSignal;
  /** Progress, one line at a time (stderr in the CLI). */
  readonly log?: (line: string) => void;
  /** Each trial as it ends. */
  readonly onTrial?: (trial: TrialResult) => void;
}

export interface TrialResult {
  readonly trial: number;
  readonly kind: FaultKind;
  /** The host hit (or the controller host; etcd faults: the hosts of the members killed), with its role when it was drawn as one. */
  readonly target: string;
  readonly role: TargetRole['role'];
  /** cut-ring's ring, asym-partition's direction, service-kill's service. */
  readonly detail?: string;
  readonly holdMs: number;
  /** From the heal until every service answered again for good; null when one never did. */
  readonly recoveryMs: number | null;
  /** The longest run of failed requests through the VIP during the trial (what a user saw). */
  readonly vipGapMs: number | null;
  /** Nodes the controller tried to fence during the trial. */
  readonly fenced: readonly string[];
  /** Ground truth: the hosts that held the VIP during the trial, in order (h1 → h2 after a fail-over). */
  readonly apHosts: readonly string[];
  readonly violations: readonly Violation[];
  readonly startedAt: number;
  readonly injectedAt: number;
  readonly healedAt: number;
  readonly endedAt: number;
}

export interface ChaosResult {
  readonly seed: number;
  readonly lab: { readonly name: string; readonly id: number; readonly hosts: number; readonly rings: number; readonly controllers?: ControllerCount; readonly leaderLease?: number };
  readonly options: { readonly faults: readonly FaultKind[]; readonly holdMinMs: number; readonly holdMaxMs: number; readonly boundMs: number; readonly trials: number; readonly replay?: number };
  readonly trials: readonly TrialResult[];
  /** Violations outside any trial: the setup, and the run as a whole. */
  readonly overall: readonly Violation[];
  readonly aborted: boolean;
  readonly durationMs: number;
}

interface Watcher {
  readonly host: string;
  readonly child: ChildProcess;
}

interface Target {
  readonly name: string;
  readonly url: string;
  readonly intervalMs: number;
  answers: { s: number; ok: boolean; h?: string }[];
}

/**
 * The controller's own log (logs/controller.log): every event is also a pino line with its
 * `kind`, written whatever happens to the store. Read incrementally; a second source for
 * fences, and the witness of events the store failed to keep.
 */
class ControllerLog {
  private offset = 0;
  private rest = '';
  events: SeenEvent[] = [];

  /** `controller`: whose log it is, with three controllers. */
  constructor(
    private readonly file: string,
    private readonly controller?: string,
  ) {}

  read(): void {
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch {
      return;
    }
    try {
      const buf = Buffer.alloc(1 << 20);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        const text = this.rest + buf.subarray(0, n).toString('utf8');
        const lines = text.split('\n');
        this.rest = lines.pop() ?? '';
        for (const line of lines) {
          if (!line.includes('"kind"')) continue;
          try {
            const o = JSON.parse(line) as { time?: unknown; kind?: unknown; node?: unknown; msg?: unknown; role?: unknown; epoch?: unknown };
            if (typeof o.time !== 'number' || typeof o.kind !== 'string' || typeof o.msg !== 'string') continue;
            this.events.push({
              at: o.time,
              kind: o.kind,
              message: o.msg,
              ...(typeof o.node === 'string' ? { node: o.node } : {}),
              ...(o.role === 'follower' ? { follower: true } : {}),
              ...(typeof o.epoch === 'number' ? { epoch: o.epoch } : {}),
              ...(this.controller === undefined ? {} : { controller: this.controller }),
            });
          } catch {
            // not a JSON line
          }
        }
      }
    } finally {
      closeSync(fd);
    }
  }

  between(from: number, to: number): SeenEvent[] {
    return this.events.filter((e) => e.at >= from && e.at <= to);
  }

  forget(t: number): void {
    this.events = this.events.filter((e) => e.at >= t);
  }
}

const SETTLE_TIMEOUT_MS = 90_000;
/** The leader lease of a chaos lab's controllers on etcd (s): the lab tests' (a loaded machine's etcd stalls). */
export const CHAOS_LEADER_LEASE_S = 2;
const PRE_FAULT_MS = 300;
const STABLE_MS = 500;
const POLL_MS = 100;

/** Runs the suite: lab up, setup, the trials, lab down. */
export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const shape = opts.controllers ?? 1;
  const misfit = opts.faults.filter((f) => !faultApplies(f, shape));
  if (misfit.length > 0) throw new UsageError(`${misfit.join(', ')} need${misfit.length === 1 ? 's' : ''} a lab with 3 controllers on etcd; this one has ${shape}`, { hint: 'run with controllers: 3, or leave them out of the faults' });
  if (opts.leaderLease !== undefined && shape !== 3) throw new UsageError('a leader lease applies to 3 controllers on etcd only');
  requireRoot();
  const run = new ChaosRun(opts);
  return run.run();
}

class ChaosRun {
  private state!: LabState;
  /** The controller hosts (controller; with three, controller2 and controller3 too). */
  private controllers: string[] = [];
  /** The API socket of the controller that led when last asked. */
  private leaderSock = '';
  private hosts: string[] = [];
  private readonly timelines = new Map<string, HostTimeline>();
  private readonly watchers = new Map<string, Watcher>();
  /** When the harness powered a host off itself: its watcher died then. */
  private readonly poweredOffAt = new Map<string, number>();
  private probe: ChildProcess | undefined;
  private targets: Target[] = [];
  private readonly reported = new Set<string>();
  private closing = false;
  private pendingHeal: Heal | undefined;
  private readonly log: (line: string) => void;
  /** Each controller's own log. */
  private logs: ControllerLog[] = [];
  /** When each epoch began, over the whole run (its `leads with epoch N` event). */
  private readonly epochs = new Map<number, number>();

  constructor(private readonly opts: ChaosOptions) {
    this.log = opts.log ?? (() => undefined);
  }

  async run(): Promise<ChaosResult> {
    const t0 = Date.now();
    const o = this.opts;
    const tmp = mkdtempSync(join(tmpdir(), 'haven-chaos-'));
    const resources = join(tmp, 'chaos.yaml');
    writeFileSync(resources, CHAOS_RESOURCES);
    const trials: TrialResult[] = [];
    const overall: Violation[] = [];
    let aborted = false;
    let created = false;
    try {
      this.log(`chaos: lab up ${o.name} (${o.hosts} hosts, ${o.rings} rings${this.shape === 3 ? ', 3 controllers on etcd' : ''})`);
      this.state = await createLab({
        name: o.name,
        stateDir: o.stateDir,
        hosts: o.hosts,
        rings: o.rings,
        resources,
        controllers: this.shape,
        ...(this.shape === 3 ? { leaderLease: this.leaderLease } : {}),
        ...(o.signal === undefined ? {} : { signal: o.signal }),
      });
      created = true;
      this.controllers = this.state.hosts.filter((h) => h.role === 'controller').map((h) => h.name);
      this.leaderSock = controllerSocket(this.state, this.controllers[0] ?? CONTROLLER_HOST);
      this.logs = this.controllers.map((c) => new ControllerLog(logFile(this.state, c), c));
      this.hosts = this.state.hosts.filter((h) => h.role === 'host').map((h) => h.name);
      for (const h of this.hosts) {
        this.timelines.set(h, new HostTimeline(h));
        this.startWatcher(h);
      }
      this.startProbe();
      const setupStart = Date.now();
      await this.setup();
      const before = durableView(await this.status());
      // Whatever happened during the setup is checked too.
      overall.push(...this.splitBrain(setupStart - 60_000, Date.now()));
      const numbers = o.replay === undefined ? Array.from({ length: o.trials }, (_, i) => i + 1) : [o.replay];
      let windowStart = Date.now();
      let unsettledInARow = 0;
      const fencedInRun = new Set<string>();
      for (const n of numbers) {
        o.signal?.throwIfAborted();
        const plan = planTrial(o.seed, n, { faults: o.faults, holdMinMs: o.holdMinMs, holdMaxMs: o.holdMaxMs, hosts: o.hosts, rings: o.rings, controllers: this.shape });
        const t = await this.trial(plan, windowStart);
        trials.push(t);
        o.onTrial?.(t);
        for (const f of t.fenced) fencedInRun.add(f);
        windowStart = t.endedAt;
        unsettledInARow = t.violations.some((v) => v.invariant === 'harness') ? unsettledInARow + 1 : 0;
        if (unsettledInARow >= 2) {
          overall.push({ invariant: 'harness', message: `the run stopped after trial ${n}: two trials in a row could not run (the cluster did not settle)` });
          break;
        }
      }
      const after = durableView(await this.status());
      overall.push(...durableViolations(before, after, fencedInRun).map((v) => ({ ...v, message: `over the whole run: ${v.message}` })));
    } catch (err) {
      if (o.signal?.aborted === true) aborted = true;
      else throw err;
    } finally {
      this.closing = true;
      await this.pendingHeal?.().catch(() => undefined);
      this.stopChildren();
      if (created) {
        this.log(`chaos: lab down ${o.name}${o.keepLogs === true ? ` (logs kept in ${join(labDir(o.stateDir, o.name), 'logs')})` : ''}`);
        await destroyLab(o.name, o.stateDir, { keepLogs: o.keepLogs === true }).catch((err: unknown) => this.log(`chaos: lab down failed: ${(err as Error).message}`));
      }
      rmSync(tmp, { recursive: true, force: true });
    }
    return {
      seed: o.seed,
      lab: { name: o.name, id: this.state?.id ?? -1, hosts: o.hosts, rings: o.rings, controllers: this.shape, ...(this.shape === 3 ? { leaderLease: this.leaderLease } : {}) },
      options: { faults: o.faults, holdMinMs: o.holdMinMs, holdMaxMs: o.holdMaxMs, boundMs: o.boundMs, trials: o.trials, ...(o.replay === undefined ? {} : { replay: o.replay }) },
      trials,
      overall,
      aborted,
      durationMs: Date.now() - t0,
    };
  }

  private get shape(): ControllerCount {
    return this.opts.controllers ?? 1;
  }

  private get leaderLease(): number {
    return this.opts.leaderLease ?? CHAOS_LEADER_LEASE_S;
  }

  // ------------------------------------------------------------ children

  private ns(host: string): string {
    const h = this.state.hosts.find((x) => x.name === host);
    if (h === undefined) throw new HavenError('INTERNAL', `no host ${host}`);
    return h.ns;
  }

  private vip(): string {
    return `10.${200 + this.state.id}.0.100`;
  }

  /** A watcher in the host's namespace; restarted whenever the host is powered on again. */
  private startWatcher(host: string): void {
    const old = this.watchers.get(host);
    if (old !== undefined && old.child.exitCode === null && old.child.signalCode === null) return;
    const child = spawn('ip', ['netns', 'exec', this.ns(host), process.execPath, WATCH_MAIN, this.vip(), String(AP_PORT), '10'], { stdio: ['ignore', 'pipe', 'ignore'] });
    child.on('error', () => undefined);
    const timeline = this.timelines.get(host) as HostTimeline;
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const s = parseWatchLine(line);
      if (s !== undefined) timeline.add(s);
    });
    child.on('exit', () => {
      const seen = Date.now();
      // Everything in the namespace died with it: a power cut, by the harness or a fence.
      const off = this.poweredOffAt.get(host);
      timeline.end(off !== undefined && off <= seen ? off : seen);
    });
    this.watchers.set(host, { host, child });
  }

  private hostPower(host: string): 'on' | 'off' {
    return this.state.hosts.find((h) => h.name === host)?.power ?? 'off';
  }

  private startProbe(): void {
    const net = `10.${200 + this.state.id}.0`;
    this.targets = [
      { name: `${AP_SERVICE} via the VIP`, url: `http://${this.vip()}:${AP_PORT}/`, intervalMs: 10, answers: [] },
      ...this.hosts.map((h) => {
        const n = this.state.hosts.find((x) => x.name === h)?.number ?? 0;
        return { name: `clone copy on ${h}`, url: `http://${net}.${n}:${CLONE_PORT}/`, intervalMs: 50, answers: [] };
      }),
    ];
    const client = this.ns(CLIENT_HOST);
    const child = spawn('ip', ['netns', 'exec', client, process.execPath, PROBE_MAIN, ...this.targets.map((t) => `${t.url}@${t.intervalMs}`)], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.on('error', () => undefined);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      try {
        const a = JSON.parse(line) as { i: number; s: number; ok: number; h?: string };
        this.targets[a.i]?.answers.push(a.h === undefined ? { s: a.s, ok: a.ok === 1 } : { s: a.s, ok: a.ok === 1, h: a.h });
      } catch {
        // not an answer
      }
    });
    this.probe = child;
  }

  private stopChildren(): void {
    for (const w of this.watchers.values()) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    if (this.probe !== undefined && this.probe.exitCode === null && this.probe.signalCode === null) this.probe.kill('SIGKILL');
  }

  // ------------------------------------------------------------ the cluster

  /** The leader's status (one controller: its own). Throws when no controller leads. */
  private async status(): Promise<Snapshot> {
    if (this.controllers.length <= 1) return controllerCall<Snapshot>(this.leaderSock, 'GET', '/v1/status');
    try {
      const s = await controllerCall<Snapshot>(this.leaderSock, 'GET', '/v1/status', undefined, 1_000);
      if (s.role === 'leader') return s;
    } catch {
      // paused, killed, or gone: ask them all who leads
    }
    const healths = await this.healths();
    const i = healths.findIndex((h) => h?.role === 'leader');
    if (i < 0) throw new HavenError('UNREACHABLE', `no controller leads: ${controllersUnsettled(this.controllers, healths) ?? 'none says so'}`);
    this.leaderSock = controllerSocket(this.state, this.controllers[i] as string);
    return controllerCall<Snapshot>(this.leaderSock, 'GET', '/v1/status');
  }

  /** Every controller's GET /v1/health, in controller order (undefined: it did not answer in 1 s). */
  private healths(): Promise<(Health | undefined)[]> {
    return Promise.all(this.controllers.map((c) => controllerCall<Health>(controllerSocket(this.state, c), 'GET', '/v1/health', undefined, 1_000).catch(() => undefined)));
  }

  /**
   * With three controllers: why they and etcd are not whole yet (undefined when they are): a
   * daemon paused, a controller silent, none or two leading, a follower not following the
   * leader, an etcd member not healthy.
   */
  private async shapeUnsettled(): Promise<string | undefined> {
    if (this.controllers.length <= 1) return undefined;
    const paused = this.state.processes.filter((p) => p.paused === true);
    if (paused.length > 0) return `${paused.map((p) => `${p.role} on ${p.host}`).join(', ')} paused`;
    const why = controllersUnsettled(this.controllers, await this.healths());
    if (why !== undefined) return why;
    const members = this.state.etcd?.members ?? [];
    const healthy = await Promise.all(members.map((m) => etcdHealthy(this.ns(m.host), m, this.opts.signal)));
    const sick = members.filter((_, i) => !healthy[i]).map((m) => m.host);
    return sick.length === 0 ? undefined : `the etcd member${sick.length === 1 ? '' : 's'} on ${sick.join(', ')} not healthy`;
  }

  /** lab-web's processes on every host that is on: `h1:8080:1234` (the A/P service), `h2:8081:99` (a clone copy). */
  private labWebPids(): ServicePids {
    const out: string[] = [];
    for (const h of this.hosts) {
      if (this.hostPower(h) !== 'on') continue;
      for (const port of [AP_PORT, CLONE_PORT]) for (const pid of servicePids(this.ns(h), port)) out.push(`${h}:${port}:${pid}`);
    }
    return out.sort();
  }

  /** Reads what the controllers logged since the last read. */
  private readLogs(): void {
    for (const l of this.logs) l.read();
  }

  private loggedBetween(from: number, to: number): SeenEvent[] {
    return this.logs.flatMap((l) => l.between(from, to)).sort((a, b) => a.at - b.at);
  }

  /** Every controller daemon and etcd member running, none paused (a fault's heal may have failed), every agent. */
  private async ensureDaemons(): Promise<void> {
    const o = this.opts;
    for (const c of this.controllers) {
      if (this.state.processes.some((p) => p.host === c && p.role === 'controller' && p.paused === true)) await killDaemon(o.name, o.stateDir, c, { signal: 'CONT' }).catch(() => undefined);
      if (this.state.etcd !== undefined) await startHostDaemon(o.name, o.stateDir, c, { role: 'etcd' }).catch(() => undefined);
      await startHostDaemon(o.name, o.stateDir, c).catch(() => undefined);
    }
    for (const h of this.hosts) await startHostDaemon(o.name, o.stateDir, h).catch(() => undefined);
  }

  private async eventsSince(seq: number): Promise<ControllerEvent[]> {
    const out: ControllerEvent[] = [];
    for (;;) {
      const page = await controllerCall<ControllerEvent[]>(this.leaderSock, 'GET', `/v1/events?since=${seq}&limit=10000`, undefined, 5_000);
      out.push(...page);
      if (page.length < 10_000) return out;
      seq = (page.at(-1) as ControllerEvent).seq;
    }
  }

  /** The controller's last event seq: the one seen last, moved past whatever came since. */
  private seenSeq = 0;
  private async lastSeq(): Promise<number> {
    this.seenSeq = (await this.eventsSince(this.seenSeq)).at(-1)?.seq ?? this.seenSeq;
    return this.seenSeq;
  }

  /** Power on every host that is off (a fault's or a fence's), its agent and watcher with it. */
  private async powerOnAll(): Promise<void> {
    this.state = await requireState(this.opts.stateDir, this.opts.name);
    for (const h of this.hosts) {
      if (this.hostPower(h) === 'off') {
        await powerOn(this.opts.name, this.opts.stateDir, h);
        this.poweredOffAt.delete(h);
      }
    }
    this.state = await requireState(this.opts.stateDir, this.opts.name);
    for (const h of this.hosts) if (this.hostPower(h) === 'on') this.startWatcher(h);
  }

  /** Why the services do not all answer yet, or undefined when they do (their last answers succeeded). */
  private servicesDown(since: number): string | undefined {
    for (const t of this.targets) {
      const last = t.answers.at(-1);
      if (last === undefined || last.s < since) return `${t.name}: no answer yet`;
      if (!last.ok) return `${t.name} does not answer`;
    }
    return undefined;
  }

  /**
   * Waits until the cluster is settled and every service answers, for STABLE_MS in a row, or
   * until the deadline. Hosts found off are powered on. Returns why not, or undefined.
   */
  private async settle(deadline: number): Promise<string | undefined> {
    let since: number | undefined;
    let why: string | undefined = 'not checked yet';
    const start = Date.now();
    while (Date.now() < deadline) {
      this.opts.signal?.throwIfAborted();
      await this.powerOnAll();
      let s: Snapshot | undefined;
      try {
        s = await this.status();
      } catch (err) {
        why = `the controller does not answer (${(err as Error).message})`;
      }
      if (s !== undefined) why = unsettled(s, this.hosts) ?? this.servicesDown(start);
      if (why === undefined) {
        since ??= Date.now();
        if (Date.now() - since >= STABLE_MS) {
          why = await this.shapeUnsettled();
          if (why === undefined) return undefined;
          since = undefined;
        }
      } else since = undefined;
      await sleep(POLL_MS, this.opts.signal);
    }
    return why;
  }

  /** The cluster up and settled, an operator ban on the marker, and one failure of the A/P service. */
  private async setup(): Promise<void> {
    this.log('chaos: waiting for the cluster to settle');
    let why = await this.settle(Date.now() + SETTLE_TIMEOUT_MS);
    if (why !== undefined) throw new HavenError('INTERNAL', `the chaos lab did not settle in ${SETTLE_TIMEOUT_MS / 1000} s: ${why}`, { hint: `see the daemons' logs (--keep-logs)` });
    // Config and a fail count that a controller crash must not lose (invariant 4).
    const s = await this.status();
    const markerOn = Object.keys(s.status.resources?.[MARKER] ?? {}).find((n) => s.status.resources?.[MARKER]?.[n]?.state === 'started');
    const banned = this.hosts.find((h) => h !== markerOn) as string;
    await controllerCall(this.leaderSock, 'POST', `/v1/resources/${MARKER}/ban`, { node: banned });
    const active = activeHost(s) as string;
    for (const pid of servicePids(this.ns(active), AP_PORT)) process.kill(pid, 'SIGKILL');
    this.log(`chaos: setup: ${MARKER} banned from ${banned}; ${AP_SERVICE} killed once on ${active} (a fail count to keep)`);
    await sleep(1500, this.opts.signal);
    why = await this.settle(Date.now() + SETTLE_TIMEOUT_MS);
    if (why !== undefined) throw new HavenError('INTERNAL', `the chaos lab did not settle after its setup: ${why}`);
    const after = await this.status();
    if (!(after.status.failures ?? []).some((f) => f.resource === AP_SERVICE)) this.log(`chaos: setup: note: no fail count of ${AP_SERVICE} was recorded`);
  }

  // ------------------------------------------------------------ one trial

  /** The host a planned role names now; etcd faults: the hosts of the members to kill too. `s` is the leader's status. */
  private async resolveTarget(plan: FaultPlan, s: Snapshot): Promise<{ target: string; members?: string[] }> {
    switch (plan.target.role) {
      case 'controller':
        if (this.controllers.length > 1) throw new HavenError('INTERNAL', 'with three controllers a controller-kill names a follower, not "the controller"');
        return { target: CONTROLLER_HOST };
      case 'active':
        return { target: activeHost(s) as string };
      case 'other': {
        const active = activeHost(s);
        const others = this.hosts.filter((h) => h !== active);
        return { target: others[plan.target.index % others.length] as string };
      }
      case 'leader':
        if (s.role !== 'leader' || s.name === undefined) throw new HavenError('INTERNAL', 'no controller leads');
        return { target: s.name };
      case 'follower': {
        const followers = this.controllers.filter((c) => c !== s.name);
        return { target: followers[plan.target.index % followers.length] as string };
      }
      case 'etcd': {
        const raftLeader = await etcdRaftLeader(this.state, this.opts.signal);
        if (raftLeader === undefined) throw new HavenError('INTERNAL', 'no etcd member says which member leads raft');
        const all = (this.state.etcd?.members ?? []).map((m) => m.host);
        const followers = all.filter((h) => h !== raftLeader);
        const drawn = plan.target.raft === 'leader' ? raftLeader : (followers[plan.target.index % followers.length] as string);
        // etcd-kill kills the member drawn; etcd-majority every other one, the member drawn left running.
        const members = plan.kind === 'etcd-majority' ? all.filter((h) => h !== drawn) : [drawn];
        return { target: members.join(','), members };
      }
      default: {
        const never: never = plan.target;
        throw new Error(`unknown role ${String(never)}`);
      }
    }
  }

  private splitBrain(from: number, to: number): Violation[] {
    const fresh: Overlap[] = [];
    for (const o of overlaps([...this.timelines.values()], from, to)) {
      const key = `${o.what} ${o.hosts.join()} ${o.start}`;
      if (this.reported.has(key)) continue;
      this.reported.add(key);
      fresh.push(o);
    }
    return splitBrainViolations(fresh);
  }

  private async trial(plan: FaultPlan, windowStart: number): Promise<TrialResult> {
    const o = this.opts;
    const startedAt = Date.now();
    const holdMs = holdOf(plan, { leaderMs: this.leaderLease * 1_000, agentMs: DEFAULTS.lease });
    const base = { trial: plan.trial, kind: plan.kind, role: plan.target.role, holdMs, ...(detail(plan) === undefined ? {} : { detail: detail(plan) as string }) };
    const why = await this.settle(Date.now() + SETTLE_TIMEOUT_MS);
    if (why !== undefined) {
      const t = { ...base, target: '?', recoveryMs: null, vipGapMs: null, fenced: [], apHosts: [], violations: [{ invariant: 'harness' as const, message: `the cluster was not settled before the fault: ${why}` }], startedAt, injectedAt: startedAt, healedAt: startedAt, endedAt: Date.now() };
      this.log(`chaos: trial ${plan.trial}: skipped: ${why}`);
      return t;
    }
    const before = await this.status();
    const seq = await this.lastSeq();
    // Every event logged from now on has a seq above `seq`.
    const seqReadAt = Date.now();
    let resolved: { target: string; members?: string[] };
    try {
      resolved = await this.resolveTarget(plan, before);
    } catch (err) {
      if (o.signal?.aborted === true) throw err;
      const message = `could not find the target of ${plan.kind}: ${(err as Error).message}`;
      this.log(`chaos: trial ${plan.trial}: skipped: ${message}`);
      return { ...base, target: '?', recoveryMs: null, vipGapMs: null, fenced: [], apHosts: [], violations: [{ invariant: 'harness', message }], startedAt, injectedAt: startedAt, healedAt: startedAt, endedAt: Date.now() };
    }
    const target = resolved.target;
    this.log(`chaos: trial ${plan.trial}: ${plan.kind}${base.detail === undefined ? '' : ` (${base.detail})`} on ${target} for ${holdMs} ms`);
    await sleep(PRE_FAULT_MS, o.signal);

    const pidsBefore = this.labWebPids();
    const injectedAt = Date.now();
    const violations: Violation[] = [];
    try {
      this.pendingHeal = await inject(plan, {
        lab: o.name,
        dir: o.stateDir,
        state: this.state,
        target,
        ...(resolved.members === undefined ? {} : { members: resolved.members }),
        agentRestartMs: o.agentRestartMs ?? 500,
        onPowerOff: (host, at) => this.poweredOffAt.set(host, at),
        ...(o.signal === undefined ? {} : { signal: o.signal }),
      });
    } catch (err) {
      if (o.signal?.aborted === true) throw err;
      violations.push({ invariant: 'harness', message: `could not inject ${plan.kind} on ${target}: ${(err as Error).message}` });
    }
    await sleep(holdMs, o.signal);
    const healedAt = Date.now();
    try {
      await this.pendingHeal?.();
    } catch (err) {
      violations.push({ invariant: 'harness', message: `could not heal ${plan.kind} on ${target}: ${(err as Error).message}` });
    }
    this.pendingHeal = undefined;
    // The network is healed whatever the fault (idempotent), and every daemon runs.
    await this.powerOnAll();
    await this.ensureDaemons();

    // Services back, cluster settled; wait past the bound to measure a late recovery.
    const notSettled = await this.settle(healedAt + o.boundMs + 20_000);
    await sleep(STABLE_MS / 2, o.signal);
    const endedAt = Date.now();

    // Invariant 1: ground truth over the whole window, and the probe's view through the VIP.
    violations.push(...this.splitBrain(windowStart, endedAt));
    const vip = this.targets[0] as Target;
    const inWindow = vip.answers.filter((a) => a.s >= startedAt && a.s <= endedAt).sort((x, y) => x.s - y.s);
    const answers: ProbeAnswer[] = inWindow.map((a, i) => ({ seq: i, sentMs: a.s - startedAt, doneMs: a.s - startedAt, ok: a.ok, ...(a.h === undefined ? {} : { host: a.h }) }));
    const report = analyzeProbe(answers, { target: vip.url, startedAt, intervalMs: vip.intervalMs, durationMs: endedAt - startedAt });
    violations.push(...probeSplitBrainViolations(report.splitBrain));

    // Invariant 2: fences.
    let events: ControllerEvent[] = [];
    try {
      events = await this.eventsSince(seq);
      this.seenSeq = events.at(-1)?.seq ?? this.seenSeq;
    } catch (err) {
      violations.push({ invariant: 'harness', message: `could not read the controller's events: ${(err as Error).message}` });
    }
    // The controllers' logs too: a fence one logged counts even if the store lost the event.
    this.readLogs();
    const logged = this.loggedBetween(windowStart, endedAt);
    // An event the store wrote late (after a failed write) is counted in the window it happened in.
    const stored = events.filter((e) => e.at >= windowStart && e.at <= endedAt);
    const fences: FenceRecord[] = [...stored, ...logged].filter((e) => FENCE_EVENT_KINDS.has(e.kind) && e.node !== undefined).map((e) => ({ at: e.at, node: e.node as string, kind: e.kind, message: e.message }));
    fences.sort((a, b) => a.at - b.at);
    violations.push(...fenceViolations(plan, target, fences));
    const fenced = [...new Set(fences.map((f) => f.node))].sort();

    // Invariant 3: every service back within the bound.
    let recoveryMs: number | null = 0;
    for (const t of this.targets) {
      const back = backAt(t.answers.filter((a) => a.s <= endedAt).map((a) => ({ sentAt: a.s, ok: a.ok })), healedAt);
      const v = recoveryViolation(t.name, back, healedAt, o.boundMs, endedAt);
      if (v !== undefined) violations.push(v);
      recoveryMs = back === undefined || recoveryMs === null ? null : Math.max(recoveryMs, back - healedAt);
    }
    if (notSettled !== undefined) violations.push({ invariant: 'recovery', message: `the cluster had not settled ${Math.round((endedAt - healedAt) / 1000)} s after the heal: ${notSettled}` });

    // Invariant 4: fail counts and config.
    let afterView: DurableView | undefined;
    try {
      afterView = durableView(await this.status());
    } catch (err) {
      violations.push({ invariant: 'harness', message: `could not read the controller's status after the trial: ${(err as Error).message}` });
    }
    if (afterView !== undefined) violations.push(...durableViolations(durableView(before), afterView, new Set(fenced)));
    // Events of this trial (before the last second, still being written) the store did not keep.
    const lost = lostEvents(this.loggedBetween(seqReadAt, endedAt - 1_000), events, spares(plan, target, before.epoch, injectedAt, endedAt));
    const lostV = lostEventsViolation(lost);
    if (lostV !== undefined) violations.push(lostV);

    // Invariant 5: no action done by two leaders, none sent by a leader after a newer one began.
    const dated = [...logged, ...withEpochs(stored.map((e) => ({ ...e })), before.epoch)];
    for (const [epoch, at] of epochStarts([...logged, ...stored])) this.epochs.set(epoch, Math.min(this.epochs.get(epoch) ?? Infinity, at));
    const actions = doneActions(dated);
    violations.push(...twiceViolations(actions), ...staleViolations(actions, this.epochs));

    // Invariant 6: a leader change alone restarts nothing.
    if (leaderChangeOnly(plan.kind, this.shape)) violations.push(...restartViolations(pidsBefore, this.labWebPids()));

    // The ground truth is only as good as its watchers: each host that is on must have sampled lately.
    this.state = await requireState(o.stateDir, o.name);
    for (const h of this.hosts) {
      const last = this.timelines.get(h)?.lastSampleAt;
      if (this.hostPower(h) === 'on' && (last === undefined || last < endedAt - 1_000)) {
        violations.push({ invariant: 'harness', message: `the watcher on ${h} has been silent since ${last === undefined ? 'it started' : new Date(last).toISOString().slice(11, 23)}: no ground truth for it` });
      }
    }
    const apHosts = holders([...this.timelines.values()], 'vip', injectedAt, endedAt);

    // What later trials no longer need.
    for (const tl of this.timelines.values()) tl.forget(endedAt - 1);
    for (const l of this.logs) l.forget(endedAt - 1);
    for (const t of this.targets) t.answers = t.answers.filter((a) => a.s > endedAt - 1000);

    return {
      ...base,
      target,
      recoveryMs,
      vipGapMs: report.rto === null ? null : Math.round(report.rto.durationMs),
      fenced,
      apHosts,
      violations,
      startedAt,
      injectedAt,
      healedAt,
      endedAt,
    };
  }
}

/**
 * Logged events the event log may lack (invariant 4): a kill -9 may land between an event and its
 * write; a leader paused past its term, or one whose store lost its majority, drops what it could
 * not write when its term ends (a deposed leader never writes again).
 */
function spares(plan: FaultPlan, target: string, epoch: number, injectedAt: number, endedAt: number): Spare[] {
  switch (plan.kind) {
    case 'controller-kill':
    case 'leader-kill':
      return [{ from: injectedAt - 1_000, until: injectedAt + 50, controller: target }];
    case 'leader-pause':
      return [{ from: injectedAt - 1_000, until: endedAt, controller: target }];
    case 'etcd-majority':
      return [{ from: injectedAt - 1_000, until: endedAt, maxEpoch: epoch }];
    default:
      return [];
  }
}

function detail(plan: FaultPlan): string | undefined {
  if (plan.target.role === 'etcd') {
    const raft = plan.target.raft === 'leader' ? 'raft leader' : 'a raft follower';
    return plan.kind === 'etcd-majority' ? `${raft} left` : raft;
  }
  if (plan.kind === 'cut-ring') return `ring${plan.ring ?? 0}`;
  if (plan.kind === 'asym-partition') return plan.direction === 'in' ? 'cannot receive' : 'cannot send';
  if (plan.kind === 'service-kill') return plan.service === 'ap' ? 'A/P service' : 'clone copy';
  return undefined;
}
