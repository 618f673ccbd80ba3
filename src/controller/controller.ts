// The controller: observe → plan → execute, again and again (level-triggered reconcile).
//
// It hears nodes through `Membership` (heartbeats on every ring, judged by the detector),
// learns what runs where from its agents (node probes, operation results, monitor reports),
// asks the pure scheduler for a plan, and runs the plan's DAG through the executor. Anything
// unexpected (a failed action, a node gone silent, a monitor failure) aborts the plan in
// flight; the next cycle plans again from what is observed. Every decision goes to the event
// log with its reason, and what must survive a restart (epoch, node and copy states, fail
// counts, operator constraints) to the store, so a restarted controller restarts nothing.
//
// Safety (docs/safety.md):
// - Quorum: the controller acts (plans, fences, grants leases) only while it hears a majority of
//   the votes: one per node plus its own (cluster.quorum.controllerVotes), the tie-breaker of a
//   two-node cluster.
// - Leases: it answers each heartbeat with a lease grant while it holds quorum. A node it lost is
//   taken to hold its lease until the last grant's receipt + lease + margin (and, after a
//   controller restart, at least one lease from the start); what requires quorum there is
//   recovered only after that, when its agent has stopped it (no-quorum policy stop).
// - Epochs: every command carries the epoch; a heartbeat or agent answer showing a newer epoch
//   means a newer controller leads: this one is superseded and stops acting at once.
// - Distributed confirmation: before it takes a lost node as unclean (and fences it), it asks the
//   node's peers; a node a peer still hears is isolated, not fenced, and the event says which path
//   failed. It is asked again every half ring timeout while the controller does not hear it.
//
// Leadership (docs/store.md): the controller campaigns through the store. While another
// controller leads it follows: it hears heartbeats (its detector stays warm), shows the stored
// state read-only, grants no lease, plans and commands nothing. When it wins, it loads the
// record, takes the term's epoch, settles and acts. When its term ends (lease lapsed, a write
// refused, an agent showing a newer epoch) it stops acting at once and, with `recampaign`
// (etcd), follows and campaigns again; otherwise (embedded: a single controller) it stays
// superseded.
//
// Life cycle: starting → following → settling (waiting until every node was heard or declared
// silent) → running → following (term lost, recampaign) or superseded → stopping → stopped.

import type { Logger } from 'pino';
import type { NodeReport, Verdict } from '../detector/index.js';
import { HavenError } from '../errors.js';
import { FencingService } from '../fencing/service.js';
import type { FenceOutcome } from '../fencing/topology.js';
import { DEFAULTS, type Config, type Constraint, type Primitive, type Requires, type Resource, type TargetRole } from '../model/config.js';
import type { Action, Plan } from '../model/plan.js';
import type { Status } from '../model/status.js';
import { INFINITY } from '../model/units.js';
import { describeRc, type AgentReport, type OperationRequest } from '../model/wire.js';
import { baseId, requiresOf } from '../scheduler/cluster.js';
import { plan as schedule } from '../scheduler/index.js';
import type { ControllerEvent, ControllerRecord, LeaderInfo, Leadership, OperatorConstraint, Store } from '../store/store.js';
import type { ConfigOrigin, ConfigVersion } from '../store/config-history.js';
import { canonical as canonicalConfig, summarizeChanges, type ConfigChange } from '../config/diff.js';
import { AgentClient } from './agent-client.js';
import { ConfigManager, describeEntry } from './config-manager.js';
import type { ReceiverEvent } from '../membership/receiver.js';
import { hearersOf } from '../membership/peers.js';
import { executePlan, type ActionOutcome } from './executor.js';
import { LbSync } from './lb-sync.js';
import { Observed } from './observed.js';

export type ControllerPhase = 'starting' | 'following' | 'settling' | 'running' | 'superseded' | 'stopping' | 'stopped';

/** Where liveness verdicts come from: the heartbeat receiver in production, a fake in unit tests. */
export interface Membership {
  onEvent(listener: (event: ReceiverEvent) => void): unknown;
  /** What the detector knows of a node (its agent's incarnation among it). */
  report(node: string): NodeReport | undefined;
  /** Its verdict alone (cheap: no per-ring report is built); report's verdict when absent. */
  verdict?(node: string): Verdict | undefined;
  stop(): Promise<void>;
}

export interface ControllerOptions {
  readonly config: Config;
  readonly store: Store;
  readonly membership: Membership;
  readonly logger: Logger;
  /** Actions run at once. Default 32. */
  readonly parallelism?: number;
  /** How long to wait for every node to be heard or declared silent before the first plan. */
  readonly settleMs?: number;
  readonly clock?: () => number;
  /** Monotonic clock for leases (ms). Default performance.now. */
  readonly monotonic?: () => number;
  /**
   * The --config file's path and text: recorded as configuration version 1 when the store has
   * none. Default: the configuration re-serialized is not possible (durations are parsed), so
   * without it the controller runs `config` and keeps no history (unit tests).
   */
  readonly configFile?: { readonly path: string; readonly text: string };
  /** This controller's name in `config.controllers`, the name it campaigns with. Default: the first controller's, else `controller`. */
  readonly name?: string;
  /**
   * After its term ends, follow and campaign again (several controllers on etcd). Default false:
   * the embedded store takes over at once, so a controller that lost its term stays superseded.
   */
  readonly recampaign?: boolean;
}

interface PlanState {
  readonly startedAt: number;
  readonly summary: readonly string[];
  readonly actions: number;
  done: number;
  running: Set<string>;
}

export class Controller {
  phase: ControllerPhase = 'starting';
  epoch = 0;
  /** The running configuration: the --config file's, then the newest in the store, then each one applied (reconfigure). */
  config: Config;
  private readonly store: Store;
  private readonly log: Logger;
  private agents: AgentClient;
  /** Fences and unfences through the topology, recording every attempt in the fence history. */
  readonly fencing: FencingService;
  private readonly clock: () => number;
  private readonly parallelism: number;
  private readonly primitives = new Map<string, Primitive>();
  /** Primitives a configuration change removed, kept while copies of them may run (their stops need what they were started with). */
  private readonly retired = new Map<string, Primitive>();
  private requires: (primitive: string) => Requires;
  /** What each copy's agent applies when its lease lapses: `instance@node` → the requires it was last sent (or reported). */
  private readonly heldRequires = new Map<string, Requires>();
  /** What the agents' own files say, for copies never sent a requires: the --config file's. */
  private readonly fileRequires: (primitive: string) => Requires;
  /** The configuration history (config-manager.ts); undefined without a --config file (unit tests). */
  private readonly configs: ConfigManager | undefined;
  /** Which configuration version runs and where it came from, for the log and `haven status`. */
  private configHow = 'the --config file (no history kept)';
  /** Configuration changes run one at a time. */
  private configChange: Promise<unknown> = Promise.resolve();
  /** Keeps load balancers' backend servers in step with what is observed (lb-sync.ts). */
  private lb: LbSync;
  private observed!: Observed;
  private operatorConstraints: OperatorConstraint[] = [];
  /** Resources an operator asked to restart: held stopped until they are, then released. */
  private readonly restarting = new Set<string>();
  private eventSeq = 0;
  private pendingEvents: ControllerEvent[] = [];
  private dirty = true;
  private wakeUp: (() => void) | undefined;
  private current: AbortController | undefined;
  private loopDone: Promise<void> | undefined;
  private persistQueued = false;
  private persisting: Promise<void> = Promise.resolve();
  private readonly seenReports = new Map<string, { incarnation: number; seqs: Set<number> }>();
  /** node → the agent events its last node-wide probe already reflects (later reports of them are stale). */
  private readonly reportFloor = new Map<string, { incarnation: number; seq: number }>();
  private settleTimer: NodeJS.Timeout | undefined;
  private settleDeadlinePassed = false;
  private readonly shutdown = new AbortController();
  private failedPlans = 0;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** Quorum: whether this controller hears a majority of the votes, and the last tally. */
  quorate = false;
  private votes = { heard: 0, total: 0 };
  /** The nodes whose verdict is a vote (alive, degraded, recovered): counted in full at a term's
   * start, then kept by each membership event, so a tally costs O(1), not O(nodes) per event. */
  private readonly voting = new Set<string>();
  private readonly leaseMs: number;
  private readonly leaseMargin: number;
  private readonly monotonic: () => number;
  /** node → monotonic time of the last lease grant. */
  private readonly granted = new Map<string, number>();
  /** No node holds a lease of an earlier controller past this (monotonic). */
  private leaseFloor = 0;
  private leaseTimer: NodeJS.Timeout | undefined;
  /** When quorum came back after a loss (monotonic): the cycle waits for the rest to be heard. */
  private quorumBackAt = -Infinity;
  private readonly confirming = new Set<string>();
  /** Nodes whose heartbeats say their lease lapsed. */
  private readonly lapsed = new Set<string>();
  /** node → when the current streak of grants began (monotonic). */
  private readonly grantStreak = new Map<string, number>();
  private readonly recheckTimers = new Map<string, NodeJS.Timeout>();
  plan: PlanState | undefined;
  lastPlanAt: number | undefined;
  readonly startedAt: number;
  /** The name this controller campaigns with. */
  readonly name: string;
  /** The term this controller leads in; undefined while it follows. */
  private term: Leadership | undefined;
  /** Aborted when the current term ends or the controller stops: cuts its agent calls short. */
  private termAbort = new AbortController();
  /** Who leads, as the store says. */
  leader: LeaderInfo | undefined;
  /** Why this controller last stopped leading. */
  lostWhy: string | undefined;
  private followTimer: NodeJS.Timeout | undefined;
  private campaigning: Promise<void> | undefined;

  constructor(private readonly opts: ControllerOptions) {
    this.config = opts.config;
    this.store = opts.store;
    this.log = opts.logger;
    this.agents = new AgentClient(opts.config);
    this.fencing = new FencingService({
      config: opts.config,
      store: opts.store,
      epoch: () => this.epoch,
      defaultTimeoutMs: opts.config.cluster.defaults?.operationTimeout ?? DEFAULTS.operationTimeout,
      ...(opts.clock ? { clock: opts.clock } : {}),
      onRecordError: (err) => this.log.error({ err }, 'cannot record a fence attempt in the fence history'),
    });
    this.clock = opts.clock ?? Date.now;
    this.parallelism = opts.parallelism ?? 32;
    this.startedAt = this.clock();
    this.monotonic = opts.monotonic ?? (() => performance.now());
    this.leaseMs = opts.config.cluster.quorum?.lease ?? DEFAULTS.lease;
    // Clock rates differ a little between hosts: the margin covers 1 % of drift and timer slack.
    this.leaseMargin = Math.max(100, Math.ceil(this.leaseMs / 100));
    for (const r of opts.config.resources ?? []) collectPrimitives(r, this.primitives);
    this.requires = requiresOf(opts.config);
    this.fileRequires = this.requires;
    this.name = opts.name ?? opts.config.controllers?.[0]?.name ?? 'controller';
    this.configs = opts.configFile ? new ConfigManager({ store: opts.store, by: `controller ${this.name}`, clock: this.clock }) : undefined;
    this.lb = this.makeLb(opts.config);
  }

  /** The load-balancer sync of a configuration (rebuilt when the configuration changes). */
  private makeLb(config: Config): LbSync {
    return new LbSync({ config, agents: this.agents, log: this.log, epoch: () => this.epoch, active: () => this.phase === 'running' && this.quorate && this.leads(), view: () => this.observed, report: (n) => this.opts.membership.report(n), event: (k, m, w) => this.event(k, m, w) });
  }

  /**
   * Listens to membership, shows the stored state as a follower and campaigns. With the embedded
   * store the campaign wins at once; with etcd it waits while another controller leads.
   */
  async start(): Promise<void> {
    this.opts.membership.onEvent((e) => this.onMembership(e));
    this.store.observeLeader((l) => {
      this.leader = l;
    }, this.shutdown.signal);
    await this.follow();
    this.campaigning = this.campaignLoop();
  }

  async stop(): Promise<void> {
    if (this.phase === 'stopped' || this.phase === 'stopping') return;
    this.phase = 'stopping';
    clearTimeout(this.settleTimer);
    clearTimeout(this.expiryTimer);
    clearTimeout(this.leaseTimer);
    clearInterval(this.followTimer);
    for (const t of this.recheckTimers.values()) clearTimeout(t);
    this.current?.abort(new Error('controller stopping'));
    this.shutdown.abort(new Error('controller stopping'));
    this.termAbort.abort(new Error('controller stopping'));
    this.wake();
    await this.loopDone;
    await this.campaigning;
    await this.opts.membership.stop();
    await this.flush();
    // Ends the term too: a follower takes over at once.
    await this.store.close();
    this.phase = 'stopped';
  }

  /** Whether this controller leads now and may act (its term surely holds). */
  leads(): boolean {
    return this.term !== undefined && this.term.holds() && (this.phase === 'settling' || this.phase === 'running');
  }

  /** Throws unless this controller leads: CONFLICT naming the leader, or UNREACHABLE when nobody does. */
  assertLeads(): void {
    if (this.leads()) return;
    const l = this.leader;
    if (l !== undefined && l.name !== this.name) {
      const url = controllerApiUrl(this.config, l.name);
      throw new HavenError('CONFLICT', `controller ${this.name} does not lead: ${l.name} leads (epoch ${l.epoch})`, {
        hint: url ? `send commands to the leader at ${url}, or give the CLI every controller (--controller URL,URL,…)` : `send commands to ${l.name}`,
      });
    }
    throw new HavenError('UNREACHABLE', `controller ${this.name} does not lead and no controller leads right now${this.lostWhy ? ` (${this.lostWhy})` : ''}`, {
      hint: 'an election is under way, or the store has no majority; try again in a few seconds',
    });
  }

  /** Campaigns, leads until the term ends, and (with recampaign) campaigns again, until stopped. */
  private async campaignLoop(): Promise<void> {
    const stop = this.shutdown.signal;
    while (!stop.aborted) {
      let term: Leadership;
      try {
        term = await this.store.campaign(this.name, { signal: stop });
      } catch (err) {
        if (stop.aborted) return;
        this.log.error({ err }, 'campaign failed; trying again in 1 s');
        await sleep(1000);
        continue;
      }
      if (stop.aborted) {
        await term.resign().catch(() => undefined);
        return;
      }
      try {
        await this.lead(term);
      } catch (err) {
        this.log.error({ err, epoch: term.epoch }, 'cannot take over as the leader; resigning');
        this.depose(term, `taking over failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      await this.loopDone;
      if (stop.aborted || !this.opts.recampaign) return;
      try {
        await this.follow();
      } catch (err) {
        this.log.warn({ err }, 'cannot read the stored state as a follower');
      }
    }
  }

  /**
   * Takes over with a new term: reloads the record (another controller may have written it),
   * takes the term's epoch and starts the reconcile loop, which settles first.
   */
  private async lead(term: Leadership): Promise<void> {
    clearInterval(this.followTimer);
    const record = await this.store.load();
    this.term = term;
    this.termAbort = new AbortController();
    this.lostWhy = undefined;
    term.signal.addEventListener('abort', () => this.depose(term, describeReason(term.signal.reason)), { once: true });
    if (term.signal.aborted) this.depose(term, describeReason(term.signal.reason));
    await this.adoptConfig();
    this.epoch = term.epoch;
    // An earlier controller may have granted a lease just now.
    this.leaseFloor = this.monotonic() + this.leaseMs;
    this.granted.clear();
    this.operatorConstraints = [...(record?.operatorConstraints ?? [])];
    this.restarting.clear();
    this.seenReports.clear();
    this.reportFloor.clear();
    this.lapsed.clear();
    this.pendingEvents = [];
    this.settleDeadlinePassed = false;
    this.quorumBackAt = -Infinity;
    this.failedPlans = 0;
    this.eventSeq = await this.store.lastSeq();
    await this.fencing.load();
    this.observed = new Observed(
      this.config.nodes.map((n) => n.name),
      this.clock(),
      record,
    );
    await this.store.save(this.record());
    if (this.term !== term) return;
    this.phase = 'settling';
    this.event('controller', `controller ${this.name} leads with epoch ${this.epoch}${record ? ' (state restored)' : ' (new cluster)'}`);
    this.event('config', `running ${this.configHow}`);
    // Verdicts reached before this term (the receiver runs all along) count too.
    this.replayVerdicts();
    this.quorate = false;
    this.tallyQuorum();
    this.settleTimer = setTimeout(() => {
      this.settleDeadlinePassed = true;
      this.wake();
    }, this.settleMs());
    this.loopDone = this.loop(term);
  }

  /** The term ended: stop acting at once; nothing more is written. Follows (recampaign) or stays superseded. */
  private depose(term: Leadership, why: string): void {
    if (this.term !== term) return;
    this.term = undefined;
    this.lostWhy = why;
    this.termAbort.abort(new Error(`term ${term.epoch} ended: ${why}`));
    this.pendingEvents = [];
    clearTimeout(this.settleTimer);
    clearTimeout(this.leaseTimer);
    for (const t of this.recheckTimers.values()) clearTimeout(t);
    this.recheckTimers.clear();
    if (this.phase !== 'stopping' && this.phase !== 'stopped') this.phase = this.opts.recampaign ? 'following' : 'superseded';
    this.current?.abort(new Error(`no longer the leader: ${why}`));
    this.log.error({ epoch: term.epoch }, `controller ${this.name} no longer leads (epoch ${term.epoch}) and stops acting: ${why}`);
    this.wake();
    // Hands the lease back if etcd still holds it for this term (a newer epoch seen by an agent).
    void term.resign().catch(() => undefined);
  }

  /**
   * The follower's view, refreshed every second: the stored record (what the leader last wrote)
   * with the nodes as this controller hears them. Read-only: nothing here is written or acted on.
   */
  private async follow(): Promise<void> {
    if (this.phase === 'stopping' || this.phase === 'stopped') return;
    if (this.phase === 'starting') this.phase = 'following';
    const refresh = async (): Promise<void> => {
      if (this.term !== undefined || this.shutdown.signal.aborted) return;
      const record = await this.store.load();
      await this.followConfig();
      if (this.term !== undefined) return;
      const view = new Observed(this.config.nodes.map((n) => n.name), this.clock(), record);
      this.observed = view;
      this.operatorConstraints = [...(record?.operatorConstraints ?? [])];
      this.replayVerdicts();
      // The leader probed them: its record says what runs there.
      for (const n of view.nodes.values()) if (n.state === 'online') n.probed = true;
      this.tallyQuorum();
    };
    await refresh();
    clearInterval(this.followTimer);
    this.followTimer = setInterval(() => {
      refresh().catch((err: unknown) => this.log.debug({ err }, 'follower: cannot read the stored state'));
    }, 1000);
    this.followTimer.unref?.();
  }

  /** Applies the detector's current verdicts to the observed nodes. */
  private replayVerdicts(): void {
    for (const n of this.config.nodes) this.replayVerdict(n.name);
  }

  /** Applies the detector's current verdict on one node to the observed nodes. */
  private replayVerdict(node: string): void {
    const report = this.opts.membership.report(node);
    const v = report?.verdict;
    if (v === undefined || v.kind === 'unknown') return;
    const now = this.clock();
    if (v.kind === 'suspect') this.observed.silent(node, now, v.reason);
    else this.observed.heard(node, report?.incarnation ?? null, now, v.reason);
  }

  // --- what the outside tells the controller -----------------------------------------------

  private onMembership(e: ReceiverEvent): void {
    // A follower only counts votes and shows what it hears at once (between the refreshes of
    // follow(), which rebuild its view from the record); it acts on nothing.
    if (!this.leads()) {
      if (e.type === 'alive' || e.type === 'degraded' || e.type === 'recovered' || e.type === 'suspect') this.tallyQuorum(e);
      // (Before the first follow() there is no view yet: it is built from the verdicts then.)
      if (this.term === undefined && (this.observed as Observed | undefined) !== undefined && e.type !== 'ring-down' && e.type !== 'ring-up') {
        this.replayVerdict(e.node);
        const n = this.observed.node(e.node);
        if (n?.state === 'online') n.probed = true; // as in follow(): the leader's record says what runs there
      }
      return;
    }
    // Only this node's state changes here: a node isolated past its lease ran nothing since.
    this.applyLeaseEnd(e.node);
    const now = this.clock();
    if (e.type === 'alive' || e.type === 'degraded' || e.type === 'recovered' || e.type === 'suspect') this.tallyQuorum(e);
    switch (e.type) {
      case 'ring-down':
      case 'ring-up':
        this.event('ring', `${e.node}: ring ${e.ring} ${e.type === 'ring-up' ? 'up' : 'down'} (${e.reason})`, { node: e.node });
        return;
      case 'restarted':
        if (this.observed.heard(e.node, e.to, now, `agent incarnation ${e.from} → ${e.to}`)) this.changed(`${e.node}'s agent restarted`, true, e.node);
        return;
      case 'alive':
      case 'degraded':
      case 'recovered':
        if (this.observed.heard(e.node, this.opts.membership.report(e.node)?.incarnation ?? null, now, e.reason)) this.changed(`${e.node} is online: ${e.reason}`, false, e.node);
        return;
      case 'suspect':
        if (this.confirmationOn() && this.observed.node(e.node)?.state === 'online') {
          void this.confirmLoss(e.node, e.reason);
          return;
        }
        if (this.observed.silent(e.node, now, e.reason)) this.lost(e.node, e.reason);
        return;
      default: {
        const never: never = e;
        return never;
      }
    }
  }

  // --- quorum, leases, epochs, confirmation -------------------------------------------------------

  /**
   * The receiver asks this for every accepted heartbeat: a lease grant while this controller holds
   * quorum and leads, nothing otherwise. `heartbeatEpoch` is the highest epoch the agent accepted.
   */
  grantLease(node: string, heartbeatEpoch: number, lapsed = false): { epoch: number; leaseMs: number } | undefined {
    // A follower, or a leader whose term may have ended (a pause, etcd silent), grants nothing.
    if (!this.leads()) return undefined;
    if (heartbeatEpoch > this.epoch) {
      this.supersede(`${node} has accepted epoch ${heartbeatEpoch}, newer than this controller's ${this.epoch}`);
      return undefined;
    }
    if (!this.quorate || (this.phase !== 'running' && this.phase !== 'settling')) return undefined;
    const mono = this.monotonic();
    const last = this.granted.get(node);
    // A new streak of grants (a new term, quorum back): heartbeats the node sent before the first
    // grant reached it still say it lapsed (on the other rings too); that is not news for a ring timeout.
    if (last === undefined || mono - last > this.leaseMs) this.grantStreak.set(node, mono);
    const news = !lapsed || mono - (this.grantStreak.get(node) ?? mono) > (this.config.cluster.heartbeat?.ringTimeout ?? DEFAULTS.ringTimeout);
    if (lapsed !== this.lapsed.has(node) && news) this.onLapse(node, lapsed);
    this.granted.set(node, mono);
    return { epoch: this.epoch, leaseMs: this.leaseMs };
  }

  /**
   * A node says its lease lapsed although the controller grants it: the grants do not reach it
   * (the path from the controller to it is cut one way). It applied the no-quorum policy; it is
   * observed but not acted on (commands would not reach it either) until a grant gets through.
   */
  private onLapse(node: string, lapsed: boolean): void {
    const now = this.clock();
    if (lapsed) {
      this.lapsed.add(node);
      const policy = this.config.cluster.noQuorumPolicy ?? DEFAULTS.noQuorumPolicy;
      const why = `${node}'s lease lapsed although it is granted: the grants do not reach it (the path from the controller to ${node} fails); it applied no-quorum policy ${policy}`;
      if (!this.observed.isolate(node, now, why)) return;
      if (policy === 'stop') this.observed.dropCopiesOn(node, (key) => this.agentRequires(node, key) !== 'nothing');
      this.changed(`${node} is isolated: ${why}`, true, node);
      return;
    }
    this.lapsed.delete(node);
    if (this.observed.rejoin(node, now, `${node}'s lease holds again`)) this.changed(`${node} is back: its lease holds again; probing it`, true, node);
  }

  /** Monotonic time after which `node`'s agent surely holds no lease, ours or an earlier controller's. */
  leaseEnd(node: string): number {
    return Math.max(this.leaseFloor, (this.granted.get(node) ?? -Infinity) + this.leaseMs) + this.leaseMargin;
  }

  /** A newer controller leads: stop acting at once (no plan, no lease, no command). */
  private supersede(why: string): void {
    if (this.term !== undefined) return this.depose(this.term, `superseded: ${why}`);
    if (this.phase === 'superseded' || this.phase === 'following' || this.phase === 'stopping' || this.phase === 'stopped') return;
    this.phase = 'superseded';
    this.current?.abort(new Error(`superseded: ${why}`));
    this.event('superseded', `this controller (epoch ${this.epoch}) is superseded and stops acting: ${why}`);
    this.log.error({ epoch: this.epoch }, `superseded: ${why}`);
    this.wake();
  }

  /** The nodes whose votes are heard, in configuration order. */
  private voters(): string[] {
    return this.config.nodes.filter((n) => this.voting.has(n.name)).map((n) => n.name);
  }

  /**
   * Counts the votes: every node's verdict (a term's start, following), or only what one membership
   * event changed. Recounting every node on every event made a controller of 10,000 nodes fall
   * behind its heartbeats for good (O(nodes²) events' worth; bench/controller).
   */
  private tallyQuorum(e?: Extract<ReceiverEvent, { type: 'alive' | 'degraded' | 'recovered' | 'suspect' }>): void {
    const controllerVotes = this.config.cluster.quorum?.controllerVotes ?? DEFAULTS.controllerVotes;
    const votes = (kind: string | undefined): boolean => kind === 'alive' || kind === 'degraded' || kind === 'recovered';
    if (e === undefined) {
      const m = this.opts.membership;
      this.voting.clear();
      for (const n of this.config.nodes) if (votes((m.verdict !== undefined ? m.verdict(n.name) : m.report(n.name)?.verdict)?.kind)) this.voting.add(n.name);
    } else if (votes(e.verdict.kind)) this.voting.add(e.node);
    else this.voting.delete(e.node);
    const total = this.config.nodes.length + controllerVotes;
    const heard = this.voting.size + controllerVotes;
    this.votes = { heard, total };
    const quorate = 2 * heard > total;
    if (quorate === this.quorate) return;
    this.quorate = quorate;
    const tally = `hears ${heard} of ${total} votes (${[...this.voters(), ...(controllerVotes > 0 ? [`controller ×${controllerVotes}`] : [])].join(', ') || 'none'})`;
    if (quorate) {
      if (this.phase === 'running') this.quorumBackAt = this.monotonic();
      this.event('quorum', `quorum: ${tally}; acting and granting leases`);
      this.wake();
    } else {
      this.event('quorum', `no quorum: ${tally}, needs more than ${Math.floor(total / 2)}; not acting, granting no leases: agents apply no-quorum policy ${this.config.cluster.noQuorumPolicy ?? DEFAULTS.noQuorumPolicy} within ${this.leaseMs} ms`);
      this.current?.abort(new Error('quorum lost'));
    }
  }

  private settleMs(): number {
    return this.opts.settleMs ?? (this.config.cluster.heartbeat?.ringTimeout ?? DEFAULTS.ringTimeout) * 2 + 100;
  }

  private confirmationOn(): boolean {
    return (this.config.cluster.confirmation?.enabled ?? DEFAULTS.confirmation) && (this.config.rings?.length ?? 0) > 0 && this.quorate;
  }

  /** The node is lost for good (unclean): plan again, and wake when its lease surely ends. */
  private lost(node: string, reason: string): void {
    this.changed(`${node} is lost: ${reason}`, true, node);
    this.armLeaseWake();
  }

  /**
   * Distributed confirmation: the controller lost `node` on every ring. Its peers are asked what
   * they hear; a heartbeat of the node newer than the controller's last, on a ring that is up
   * for that peer, proves the node alive and the controller's path to it broken.
   */
  private async confirmLoss(node: string, reason: string): Promise<void> {
    if (this.confirming.has(node)) return;
    this.confirming.add(node);
    try {
      const mine = this.opts.membership.report(node);
      const mySeq = Math.max(-1, ...(mine?.rings ?? []).map((r) => r.seq));
      // Only the peers that hear it (membership/peers.ts): a bounded number, whatever the cluster's size.
      const peers = hearersOf(this.config, node).filter((p) => {
        const n = this.observed.node(p);
        return n !== undefined && n.state === 'online' && !n.isolated;
      });
      const timeout = this.config.cluster.confirmation?.timeout ?? DEFAULTS.confirmationTimeout;
      const answers = await Promise.all(
        peers.map((p) =>
          this.agents.peers(p, timeout, this.shutdown.signal).then(
            (view) => ({ peer: p, view }),
            (err: unknown) => ({ peer: p, error: err instanceof Error ? err.message : String(err) }),
          ),
        ),
      );
      if (this.phase === 'stopping' || this.phase === 'stopped') return;
      // Heard again while the peers were asked: nothing to decide.
      if (this.opts.membership.report(node)?.verdict.kind !== 'suspect') return;
      // Quorum lost meanwhile (the controller, not the node, may be the one cut off): decide nothing now.
      if (!this.quorate) return this.recheck(node, reason);
      const hearers: string[] = [];
      const deaf: string[] = [];
      const silent: string[] = [];
      for (const a of answers) {
        if ('error' in a) {
          silent.push(a.peer);
          continue;
        }
        const v = a.view.peers.find((x) => x.node === node);
        const newer = (v?.rings ?? []).filter((r) => r.link === 'up' && (r.seq > mySeq || (v?.incarnation ?? 0) > (mine?.incarnation ?? 0)));
        if (newer.length > 0) hearers.push(`${a.peer} on ${newer.map((r) => `${r.ring} (seq ${r.seq}, ${r.silentMs ?? '?'} ms ago)`).join(', ')}`);
        else deaf.push(a.peer);
      }
      const now = this.clock();
      const lostOn = (mine?.rings ?? []).map((r) => r.ring).join(', ');
      if (hearers.length > 0) {
        const why = `the controller lost ${node} on ${lostOn} (last seq ${mySeq}) but ${hearers.join('; ')} still hear${hearers.length === 1 ? 's' : ''} it: the path between the controller and ${node} failed, not ${node}; not fenced`;
        if (this.observed.isolate(node, now, why)) this.changed(`${node} is isolated: ${why}`, true, node);
        this.armLeaseWake();
        this.recheck(node, reason);
        return;
      }
      if (deaf.length === 0 && silent.length > 0) {
        // No peer could be asked: the controller cannot tell a dead node from its own broken paths.
        this.event('confirm', `${node} lost, but no peer answered (${silent.join(', ')}): not taken as unclean yet; asking again`, { node });
        return this.recheck(node, reason);
      }
      const why = `${reason}; ${deaf.length > 0 ? `peers ${deaf.join(', ')} do not hear it either` : 'no peer to confirm with'}${silent.length > 0 ? ` (no answer from ${silent.join(', ')})` : ''}`;
      if (this.observed.silent(node, now, why)) this.lost(node, why);
    } finally {
      this.confirming.delete(node);
    }
  }

  private recheck(node: string, reason: string): void {
    if (this.recheckTimers.has(node)) return;
    const ringTimeout = this.config.cluster.heartbeat?.ringTimeout ?? DEFAULTS.ringTimeout;
    const t = setTimeout(() => {
      this.recheckTimers.delete(node);
      if (this.phase === 'stopping' || this.phase === 'stopped') return;
      if (this.opts.membership.report(node)?.verdict.kind !== 'suspect' || this.observed.node(node)?.state !== 'online') return;
      if (!this.quorate) return this.recheck(node, reason);
      void this.confirmLoss(node, reason);
    }, Math.max(20, Math.floor(ringTimeout / 2)));
    t.unref?.();
    this.recheckTimers.set(node, t);
  }

  /** Plans again when the lease of a lost or isolated node surely ends. */
  private armLeaseWake(): void {
    clearTimeout(this.leaseTimer);
    const now = this.monotonic();
    let next = Infinity;
    for (const n of this.observed.nodes.values()) {
      if (n.state !== 'unclean' && !n.isolated) continue;
      const end = this.leaseEnd(n.name);
      if (end > now) next = Math.min(next, end);
    }
    if (next === Infinity) return;
    this.leaseTimer = setTimeout(() => {
      this.event('lease', `a lost node's lease has surely ended; planning again`);
      this.wake();
      this.armLeaseWake();
    }, Math.ceil(next - now) + 1);
    this.leaseTimer.unref?.();
  }

  /**
   * An isolated node whose lease surely ended has stopped what needs quorum (no-quorum policy
   * stop): forget those copies, so that neither a plan nor its return counts them.
   */
  private applyLeaseEnds(): void {
    for (const n of this.observed.nodes.values()) if (n.isolated) this.applyLeaseEnd(n.name);
  }

  /** applyLeaseEnds for one node: what a membership event of that node needs, without a pass over all. */
  private applyLeaseEnd(node: string): void {
    if (!this.observed.node(node)?.isolated || (this.config.cluster.noQuorumPolicy ?? DEFAULTS.noQuorumPolicy) !== 'stop') return;
    if (this.monotonic() < this.leaseEnd(node)) return;
    const dropped = this.observed.dropCopiesOn(node, (key) => this.agentRequires(node, key) !== 'nothing');
    if (dropped.length > 0) this.event('lease', `${node}'s lease has surely ended: its agent stopped ${dropped.join(', ')} (no-quorum policy stop)`, { node });
  }

  /** What the scheduler sees: the observed status, with quorum, leases and isolated nodes. */
  private statusNow(now: number): Status {
    this.applyLeaseEnds();
    const status = this.observed.status(now);
    const mono = this.monotonic();
    const stops = (this.config.cluster.noQuorumPolicy ?? DEFAULTS.noQuorumPolicy) === 'stop';
    const nodes: Record<string, Status['nodes'][string]> = { ...status.nodes };
    for (const n of this.observed.nodes.values()) {
      const s = nodes[n.name];
      if (s === undefined) continue;
      // A copy whose agent keeps it through a lapse (sent requires nothing before a change said
      // otherwise) is not stopped at the lease end: the node counts as leased until it is fenced.
      if (s.state === 'unclean' && (!(stops && mono >= this.leaseEnd(n.name)) || this.keptThroughLapse(n.name))) nodes[n.name] = { ...s, leased: true };
      // Observed, never acted on (its copies needing quorum are dropped once its lease ended).
      if (n.isolated) nodes[n.name] = { ...s, maintenance: true };
    }
    return { ...status, quorum: this.quorate, nodes };
  }


  /** POST /v1/agents/report: monitor failures and processes found dead. Idempotent per (node, incarnation, seq). */
  report(r: AgentReport): { accepted: number } {
    if (!this.observed.node(r.node)) throw new HavenError('NOT_FOUND', `node ${r.node} is not configured`);
    let seen = this.seenReports.get(r.node);
    if (!seen || seen.incarnation !== r.incarnation) this.seenReports.set(r.node, (seen = { incarnation: r.incarnation, seqs: new Set() }));
    let accepted = 0;
    const floor = this.reportFloor.get(r.node);
    for (const ev of r.events) {
      if (seen.seqs.has(ev.seq)) continue;
      seen.seqs.add(ev.seq);
      accepted++;
      // Delivered late (the agent was cut off): the probe since then already said what runs.
      if (floor && (r.incarnation < floor.incarnation || (r.incarnation === floor.incarnation && ev.seq <= floor.seq))) {
        this.event('stale-report', `${r.node}'s report of ${ev.instance} ${ev.state} (${ev.operation}) predates its last probe: ignored`, { node: r.node, resource: ev.instance });
        continue;
      }
      const now = this.clock();
      const known = this.observed.copies.get(ev.instance)?.get(r.node);
      if (ev.operation === 'self-fence') {
        // Not a failure of the resource: the agent applied the no-quorum policy when its lease lapsed.
        this.observed.copyState(ev.instance, r.node, ev.state);
        this.event('self-fence', `${r.node} self-fenced ${ev.instance} (now ${ev.state}): ${ev.output.slice(0, 200)}`, { node: r.node, resource: ev.instance });
        this.changed(`${r.node} reports ${ev.instance} ${ev.state} after its lease lapsed`, false, r.node, ev.instance);
        continue;
      }
      this.observed.copyState(ev.instance, r.node, ev.state === 'stopped' && known ? 'failed' : ev.state);
      if (known && known.state !== 'failed') {
        const f = this.observed.recordFailure(ev.primitive, r.node, 'monitor', now);
        this.event('failure', `${ev.instance} failed on ${r.node}: monitor rc ${describeRc(ev.rc)}${ev.output ? `: ${ev.output.slice(0, 200)}` : ''}; fail count ${f.count}`, {
          node: r.node,
          resource: ev.instance,
        });
      }
      this.changed(known ? `${ev.instance} failed on ${r.node}` : `${r.node} reports ${ev.instance} ${ev.state}`, known !== undefined);
    }
    return { accepted };
  }

  // --- operator commands ---------------------------------------------------------------------

  move(resource: string, node: string | undefined, lifetimeMs: number | undefined): OperatorConstraint {
    this.requireResource(resource);
    const now = this.clock();
    let c: OperatorConstraint;
    if (node !== undefined) {
      this.requireNode(node);
      c = { id: `cli-prefer-${resource}`, kind: 'prefer', resource, node, created: now, reason: `moved to ${node} by the operator`, ...(lifetimeMs ? { expires: now + lifetimeMs } : {}) };
    } else {
      const where = this.whereRuns(resource);
      if (where.length !== 1) throw new HavenError('USAGE', `${resource} runs on ${where.length === 0 ? 'no node' : where.join(', ')}`, { hint: 'name the node to move it to: --node NODE' });
      c = { id: `cli-ban-${resource}-on-${where[0]}`, kind: 'ban', resource, node: where[0]!, created: now, reason: `moved away from ${where[0]} by the operator`, ...(lifetimeMs ? { expires: now + lifetimeMs } : {}) };
    }
    this.putConstraint(c);
    return c;
  }

  ban(resource: string, node: string, lifetimeMs: number | undefined): OperatorConstraint {
    this.requireResource(resource);
    this.requireNode(node);
    const now = this.clock();
    const c: OperatorConstraint = { id: `cli-ban-${resource}-on-${node}`, kind: 'ban', resource, node, created: now, reason: `banned from ${node} by the operator`, ...(lifetimeMs ? { expires: now + lifetimeMs } : {}) };
    this.putConstraint(c);
    return c;
  }

  clear(resource: string): number {
    this.requireResource(resource);
    const before = this.operatorConstraints.length;
    this.operatorConstraints = this.operatorConstraints.filter((c) => c.resource !== resource);
    const n = before - this.operatorConstraints.length;
    if (n > 0) this.changed(`operator cleared ${n} move/ban constraint(s) of ${resource}`, false, undefined, resource);
    return n;
  }

  cleanup(resource: string, node: string | undefined): number {
    this.requireResource(resource);
    if (node !== undefined) this.requireNode(node);
    const prims = this.primitivesOf(resource);
    const n = this.observed.clearFailures((f) => prims.includes(f.resource) && (node === undefined || f.node === node));
    // Failed copies are forgotten too: the nodes are probed again and say what really runs.
    for (const [key, perNode] of this.observed.copies) {
      if (!prims.includes(baseId(key))) continue;
      for (const [at, copy] of perNode) {
        if ((node === undefined || at === node) && copy.state === 'failed') {
          const rec = this.observed.node(at);
          if (rec && rec.state === 'online') rec.probed = false;
        }
      }
    }
    this.changed(`operator cleaned up ${resource}${node ? ` on ${node}` : ''}: ${n} failure record(s) cleared`, true, undefined, resource);
    return n;
  }

  restart(resource: string): void {
    this.requireResource(resource);
    if (this.whereRuns(resource).length === 0) throw new HavenError('USAGE', `${resource} is not running`, { hint: 'nothing to restart' });
    this.restarting.add(resource);
    this.changed(`operator restarts ${resource}: stopped, then started again`, true, undefined, resource);
  }

  setNode(node: string, field: 'standby' | 'maintenance', value: boolean): void {
    this.requireNode(node);
    this.observed.setOverride(node, field, value);
    this.changed(`operator set ${node} ${value ? field : `out of ${field}`}`, true, node);
  }

  // --- configuration changes (haven apply, haven rollback: docs/operations.md) ------------------

  /** At the start of a term: run the newest configuration in the store (config-manager.ts). */
  private async adoptConfig(): Promise<void> {
    if (!this.configs || !this.opts.configFile) return;
    const { running, how } = await this.configs.adopt(this.opts.configFile);
    this.configHow = how;
    if (canonicalConfig(running.config) !== canonicalConfig(this.config)) this.install(running.config);
    this.log.info({ version: running.version, origin: running.entry.origin }, `running ${how}`);
  }

  /** A follower shows the newest configuration too (read-only; a bad one is logged, not run). */
  private async followConfig(): Promise<void> {
    if (!this.configs || !this.opts.configFile) return;
    try {
      const before = this.configs.adopted ? this.configs.running.version : 0;
      const running = await this.configs.refresh(this.config);
      if (running === undefined || running.version === before) return;
      this.configHow = `configuration version ${running.version} from the store (${describeEntry(running.entry)}), as a follower`;
      this.install(running.config);
    } catch (err) {
      this.log.warn({ err }, 'follower: cannot read the newest configuration');
    }
  }

  /**
   * Swaps everything derived from the configuration: the primitives, what they require, the
   * agent client, the fencing devices and topology, the load-balancer sync. Nothing else changes
   * (nodes, rings and timing are fixed: reconfigure.ts); the next plan uses the new configuration.
   */
  private install(config: Config): void {
    const before = new Map(this.primitives);
    this.config = config;
    this.agents = new AgentClient(config);
    this.fencing.useConfig(config, config.cluster.defaults?.operationTimeout ?? DEFAULTS.operationTimeout);
    this.primitives.clear();
    for (const r of config.resources ?? []) collectPrimitives(r, this.primitives);
    for (const [id, p] of before) if (!this.primitives.has(id)) this.retired.set(id, p);
    for (const id of this.primitives.keys()) this.retired.delete(id);
    this.requires = requiresOf(config);
    this.lb.stop();
    this.lb = this.makeLb(config);
    for (const r of [...this.restarting]) if (!(config.resources ?? []).some((x) => x.id === r)) this.restarting.delete(r);
  }

  /** What a copy's agent applies when its lease lapses: the requires it was last sent, else its own file's. */
  private agentRequires(node: string, key: string): Requires {
    return this.heldRequires.get(`${key}@${node}`) ?? this.fileRequires(baseId(key));
  }

  /** Whether a node runs a copy its agent keeps through a lapse although the configuration now says it needs quorum. */
  private keptThroughLapse(node: string): boolean {
    for (const [key, perNode] of this.observed.copies) {
      const c = perNode.get(node);
      if (c === undefined || c.state === 'stopped') continue;
      if (this.agentRequires(node, key) === 'nothing' && this.requires(baseId(key)) !== 'nothing') return true;
    }
    return false;
  }

  /** GET /v1/config: the running configuration (or an older version) with its history entry. */
  async configShow(version?: number): Promise<{ running: number; how: string; version: ConfigVersion }> {
    const configs = this.requireHistory();
    const running = configs.running;
    const v = version === undefined || version === running.version ? { ...running.entry, text: running.text } : await configs.version(version);
    return { running: running.version, how: this.configHow, version: v };
  }

  /** GET /v1/config/history: the latest versions, oldest first, without their texts. */
  async configHistory(limit: number): Promise<{ running: number; versions: Omit<ConfigVersion, 'text'>[] }> {
    const configs = this.requireHistory();
    const versions = await configs.history(limit);
    return { running: configs.running.version, versions: versions.map(({ text: _text, ...rest }) => rest) };
  }

  /**
   * POST /v1/config: validates `text`, diffs it against the running configuration and plans with
   * it; unless `dryRun`, records it as the next version (if `baseVersion` still runs) and runs it.
   * Bad input, a fixed field changed, a stale base: refused, nothing changed.
   */
  applyConfig(req: ConfigRequest): Promise<ConfigResult> {
    const run = this.configChange.then(() => this.changeConfig(req));
    this.configChange = run.catch(() => undefined);
    return run;
  }

  /** POST /v1/config/rollback: an older version's text applied again as a new version. */
  async rollbackConfig(req: Omit<ConfigRequest, 'text' | 'name' | 'origin' | 'rollbackOf'> & { version?: number }): Promise<ConfigResult> {
    const configs = this.requireHistory();
    const running = configs.running;
    const target = req.version ?? running.entry.replaces;
    if (target < 1) throw new HavenError('USAGE', `version ${running.version} replaced none: there is nothing to roll back to`, { hint: 'name a version: haven rollback VERSION (haven config history lists them)' });
    if (target === running.version) throw new HavenError('USAGE', `version ${target} is the one running`, { hint: 'name an older version (haven config history)' });
    const old = await configs.version(target);
    return this.applyConfig({
      ...req,
      text: old.text,
      name: `configuration version ${target}`,
      origin: 'rollback',
      rollbackOf: target,
      message: req.message || `rollback to version ${target}`,
    });
  }

  private async changeConfig(req: ConfigRequest): Promise<ConfigResult> {
    const configs = this.requireHistory();
    const proposal = configs.prepare(req.text, req.name);
    const now = this.clock();
    const plan = schedule(this.effectiveConfig(now, proposal.config), this.statusNow(now), now);
    const base = configs.running;
    const result = { base: base.version, changes: proposal.changes, plan };
    if (req.dryRun) return { ...result, applied: false, dryRun: true };
    // Nothing to change: no version is recorded.
    if (proposal.changes.length === 0) return { ...result, applied: false, dryRun: false };
    this.assertLeads();
    const running = await configs.record(proposal, { baseVersion: req.baseVersion, by: req.by, message: req.message, origin: req.origin ?? 'apply', ...(req.rollbackOf === undefined ? {} : { rollbackOf: req.rollbackOf }) });
    this.install(running.config);
    this.configHow = `configuration version ${running.version} (${describeEntry(running.entry)})`;
    const summary = summarizeChanges(proposal.changes);
    const what = `configuration version ${running.version} ${req.origin === 'rollback' ? `(rollback to version ${req.rollbackOf})` : 'applied'} by ${req.by}${req.message ? `: ${req.message}` : ''}; ${summary.join(', ')}`;
    this.event('config', what, undefined, { version: running.version, replaces: running.entry.replaces, changes: summary });
    // Plan again with it; actions already sent run to their end.
    this.current?.abort(new Error(`configuration version ${running.version} applied`));
    this.persist();
    this.wake();
    return { ...result, applied: true, dryRun: false, version: running.version, entry: running.entry };
  }

  private requireHistory(): ConfigManager {
    if (!this.configs || !this.configs.adopted) {
      throw new HavenError(this.configs ? 'UNREACHABLE' : 'UNSUPPORTED', this.configs ? `controller ${this.name} has not loaded the configuration history yet` : 'this controller keeps no configuration history (started without a --config file)', {
        hint: this.configs ? 'try again once it leads or follows (haven status)' : 'run haven controller --config FILE',
      });
    }
    return this.configs;
  }

  // --- what the API shows ------------------------------------------------------------------------

  snapshot(): ControllerSnapshot {
    const now = this.clock();
    const leader = this.snapshotLeader();
    const configured = new Map(this.config.nodes.map((c) => [c.name, c]));
    // An online node's reason is what is heard of it now (a ring back or lost since it came online).
    const heardNow = (name: string): string | undefined => {
      const v = this.opts.membership.verdict?.(name) ?? this.opts.membership.report(name)?.verdict;
      return v === undefined || v.kind === 'unknown' || v.kind === 'suspect' ? undefined : v.reason;
    };
    return {
      cluster: this.config.cluster.name,
      epoch: this.epoch,
      phase: this.phase,
      name: this.name,
      role: this.leads() ? 'leader' : 'follower',
      leader,
      ...(this.lostWhy !== undefined && !this.leads() ? { lostWhy: this.lostWhy } : {}),
      quorum: { quorate: this.quorate, ...this.votes, voters: this.voters(), leaseMs: this.leaseMs },
      now,
      startedAt: this.startedAt,
      nodes: [...this.observed.nodes.values()].map((n) => ({
        name: n.name,
        state: n.state,
        probed: n.probed,
        fencing: n.fencing,
        isolated: n.isolated,
        leaseEndsInMs: Math.round(this.leaseEnd(n.name) - this.monotonic()),
        standby: n.standby || configured.get(n.name)?.standby === true,
        maintenance: n.maintenance || configured.get(n.name)?.maintenance === true,
        since: n.since,
        reason: (n.state === 'online' && !n.isolated ? heardNow(n.name) : undefined) ?? n.reason,
      })),
      status: this.statusNow(now),
      operatorConstraints: this.operatorConstraints.map((c) => ({ ...c })),
      restarting: [...this.restarting],
      plan: this.plan ? { startedAt: this.plan.startedAt, actions: this.plan.actions, done: this.plan.done, running: [...this.plan.running], summary: [...this.plan.summary] } : null,
      lastPlanAt: this.lastPlanAt ?? null,
      resources: (this.config.resources ?? []).map((r) => ({ id: r.id, type: r.type })),
      config: this.configs?.adopted ? { version: this.configs.running.version, entry: this.configs.running.entry, how: this.configHow } : null,
    };
  }

  /** Who leads as the store says, with its API URL from the configuration; null while nobody does. */
  snapshotLeader(): { name: string; epoch: number; url?: string } | null {
    if (!this.leader) return null;
    const url = controllerApiUrl(this.config, this.leader.name);
    return { name: this.leader.name, epoch: this.leader.epoch, ...(url ? { url } : {}) };
  }

  events(since: number, limit: number): Promise<ControllerEvent[]> {
    return this.flush().then(() => this.store.events(since, limit));
  }

  /** The plan the controller would run now (for `haven status --plan`), without running it. */
  currentPlan(): Plan {
    const now = this.clock();
    return schedule(this.effectiveConfig(now), this.statusNow(now), now);
  }

  // --- the loop --------------------------------------------------------------------------------

  /** The reconcile loop of one term: it ends when the term does or the controller stops. */
  private async loop(term: Leadership): Promise<void> {
    while (this.phase !== 'stopping' && this.term === term) {
      if (!this.dirty) {
        await new Promise<void>((resolve) => (this.wakeUp = resolve));
        this.wakeUp = undefined;
        continue;
      }
      this.dirty = false;
      if (this.phase === 'settling') {
        // Wait for every node to be heard or declared silent, or for the settle deadline.
        if (!this.observed.settled() && !this.settleDeadlinePassed) continue;
        this.phase = 'running';
        this.event('controller', `settled: ${[...this.observed.nodes.values()].map((n) => `${n.name} ${n.state}`).join(', ')}`);
      }
      try {
        await this.cycle();
      } catch (err) {
        this.log.error({ err }, 'reconcile cycle failed');
        this.event('error', `reconcile cycle failed: ${err instanceof Error ? err.message : String(err)}`);
        await sleep(200);
        this.dirty = true;
      }
    }
  }

  private async cycle(): Promise<void> {
    // Without quorum, or with a newer controller leading, nothing is decided: the agents' leases
    // lapse and they apply the no-quorum policy themselves. A regained quorum wakes the loop.
    if (!this.quorate || !this.leads()) return;
    // Quorum just came back (the controller was the one cut off?): give the others the time a
    // start gets to be heard, so that none is fenced for having been a few ms slower.
    const hold = this.quorumBackAt + this.settleMs() - this.monotonic();
    if (hold > 0) {
      setTimeout(() => this.wake(), Math.ceil(hold) + 1).unref?.();
      return;
    }
    const now = this.clock();
    this.expireConstraints(now);
    this.releaseRestarts();
    const config = this.effectiveConfig(now);
    const status = this.statusNow(now);
    const p = schedule(config, status, now);
    this.lastPlanAt = now;
    if (p.actions.length === 0) return;
    const summary = p.transitions.map((t) => `${t.kind} ${t.subject}${t.from ? ` ${t.from}` : ''}${t.to ? ` → ${t.to}` : ''}: ${t.reason}`);
    this.event('plan', `plan of ${p.actions.length} action(s): ${summary.join('; ')}`, undefined, { transitions: summary });
    const ac = new AbortController();
    this.current = ac;
    this.plan = { startedAt: now, summary, actions: p.actions.length, done: 0, running: new Set() };
    const result = await executePlan(p, {
      parallelism: this.parallelism,
      signal: ac.signal,
      run: (a, signal) => this.runAction(a, signal),
      onStart: (a) => this.plan?.running.add(a.id),
      onEnd: (a, outcome, ms) => {
        this.plan?.running.delete(a.id);
        if (this.plan) this.plan.done++;
        if (a.kind === 'pseudo' || a.implied) return;
        if (outcome.ok) this.event('action', `${a.id} done in ${Math.round(ms)} ms: ${a.reason}`, { ...(a.node ? { node: a.node } : {}), ...(a.resource ? { resource: a.resource } : {}) });
        else this.event('action-failed', `${a.id} failed after ${Math.round(ms)} ms: ${outcome.why}`, { ...(a.node ? { node: a.node } : {}), ...(a.resource ? { resource: a.resource } : {}) });
      },
    });
    this.current = undefined;
    this.plan = undefined;
    if (result.failed || result.aborted) {
      this.event('replan', result.failed ? `plan stopped: ${result.failed.action} did not go as planned; planning again` : `plan aborted (${String(ac.signal.reason instanceof Error ? ac.signal.reason.message : ac.signal.reason)}); planning again`);
    }
    this.persist();
    // An action that keeps failing (an agent that does not answer, a fence device that refuses)
    // is retried with a growing pause, not in a hot loop; a plan that went through resets it.
    if (result.failed) {
      this.failedPlans++;
      await sleep(Math.min(2000, 50 * 2 ** Math.min(this.failedPlans - 1, 6)));
    } else this.failedPlans = 0;
    this.dirty = true; // plan again: it must come out empty, or there is more to do
  }

  /**
   * Runs one action. The plan's abort signal only keeps new actions from starting: an action
   * already sent runs to its end (its result is what tells the copy's state), and only the
   * controller's own shutdown cuts the wait short.
   */
  private async runAction(a: Action, _planAborted: AbortSignal): Promise<ActionOutcome> {
    // Not the leader any more (the term may have ended during a pause): send nothing.
    if (!this.leads()) return { ok: false, why: `controller ${this.name} no longer leads` };
    const signal = this.termAbort.signal;
    if (a.implied) {
      if (a.kind === 'stop' && a.resource && a.node) this.observed.copyState(a.resource, a.node, 'stopped');
      return { ok: true };
    }
    switch (a.kind) {
      case 'pseudo':
        return { ok: true };
      case 'fence':
        return this.fence(a.node!, signal);
      case 'clear-failures': {
        const base = baseId(a.resource!);
        this.observed.clearFailures((f) => f.resource === base && f.node === a.node);
        this.persist();
        return { ok: true };
      }
      case 'probe':
        if (a.resource === undefined) return this.probeNode(a.node!, signal);
        return this.operate(a, 'probe', signal);
      case 'start':
      case 'stop':
      case 'promote':
      case 'demote':
      case 'monitor-start':
      case 'monitor-stop':
        return this.operate(a, a.kind, signal);
      default: {
        const never: never = a.kind;
        return { ok: false, why: `unknown action kind ${String(never)}` };
      }
    }
  }

  private async fence(node: string, signal: AbortSignal): Promise<ActionOutcome> {
    this.observed.fenceStarted(node);
    const reason = this.observed.node(node)?.reason ?? '';
    this.event('fence', `fencing ${node}: ${reason}`, { node });
    const r = await this.fencing.fence(node, 'off', { requestedBy: 'controller', reason, signal });
    this.observed.fenceDone(node, r.ok, this.clock(), r.ok ? `fenced by ${describeFence(r)}` : `fence failed: ${r.why}`);
    this.event(r.ok ? 'fenced' : 'fence-failed', r.ok ? `${node} fenced by ${describeFence(r)}` : `fencing ${node} failed: ${r.why}`, { node });
    this.persist();
    return r.ok ? { ok: true } : { ok: false, why: `fence of ${node} failed: ${r.why}` };
  }

  /** `haven fence NODE`: an operator's fence, through the topology, recorded; a success makes the node fenced. */
  async fenceByOperator(node: string, action: 'off' | 'reboot', reason: string, by: string): Promise<FenceOutcome> {
    this.requireNode(node);
    this.event('fence', `${by} fences ${node} (${action}): ${reason}`, { node });
    const r = await this.fencing.fence(node, action, { requestedBy: by, reason, signal: this.shutdown.signal });
    if (r.ok) {
      this.observed.fenceDone(node, true, this.clock(), `fenced by ${by} through ${describeFence(r)}`);
      this.changed(`${node} fenced by ${by} (${action}) through ${describeFence(r)}`, true, node);
    } else this.event('fence-failed', `${by}'s fence of ${node} failed: ${r.why}`, { node });
    return r;
  }

  /** `haven node unfence NODE`: `on` with the node's unfence devices, recorded. */
  async unfenceByOperator(node: string, by: string): Promise<FenceOutcome> {
    this.requireNode(node);
    const r = await this.fencing.unfence(node, { requestedBy: by, reason: 'asked by the operator', signal: this.shutdown.signal });
    this.event(r.ok ? 'unfenced' : 'unfence-failed', r.ok ? `${node} unfenced by ${by} (${r.devices.join(', ') || 'no unfence device'})` : `unfencing ${node} failed: ${r.why}`, { node });
    if (r.ok) this.changed(`${node} unfenced`, false, node);
    return r;
  }

  private async probeNode(node: string, signal: AbortSignal): Promise<ActionOutcome> {
    // A node fenced off rejoins only once unfenced (as Pacemaker unfences a joining node).
    if (this.fencing.needsUnfence(node)) {
      const u = await this.fencing.unfence(node, { requestedBy: 'controller', reason: `${node} rejoined after a fence`, signal });
      this.event(u.ok ? 'unfenced' : 'unfence-failed', u.ok ? `${node} unfenced (${u.devices.join(', ')}) before it runs anything` : `unfencing ${node} failed: ${u.why}`, { node });
      if (!u.ok) return { ok: false, why: `unfencing ${node} failed: ${u.why}` };
    }
    try {
      const state = await this.agents.state(node, 5000, signal);
      this.observed.probedNode(node, state.copies);
      for (const c of state.copies) {
        if (c.resource.requires !== undefined) this.heldRequires.set(`${c.instance}@${node}`, c.resource.requires);
        else this.heldRequires.delete(`${c.instance}@${node}`);
        // A copy of a primitive no longer configured: stopped with what its agent says it runs.
        if (!this.primitives.has(c.resource.primitive) && !this.retired.has(c.resource.primitive)) {
          this.retired.set(c.resource.primitive, { type: 'primitive', id: c.resource.primitive, agent: c.resource.agent, params: c.resource.params });
        }
      }
      this.reportFloor.set(node, { incarnation: state.incarnation, seq: state.eventSeq ?? -1 });
      this.event('probe', `${node} runs ${state.copies.length ? state.copies.map((c) => `${c.instance} (${c.state})`).join(', ') : 'nothing'}`, { node });
      return { ok: true };
    } catch (err) {
      return { ok: false, why: err instanceof Error ? err.message : String(err) };
    }
  }

  private async operate(a: Action, operation: OperationRequest['operation'], signal: AbortSignal): Promise<ActionOutcome> {
    const key = a.resource!;
    const node = a.node!;
    const prim = this.primitives.get(baseId(key)) ?? this.retired.get(baseId(key));
    if (!prim) return { ok: false, why: `${key} is not configured (an orphan's stop needs what it was started with)` };
    const requires = this.requires(prim.id);
    const timeoutMs = a.timeout ?? this.config.cluster.defaults?.operationTimeout ?? DEFAULTS.operationTimeout;
    const req: OperationRequest = {
      epoch: this.epoch,
      action: a.id,
      operation,
      instance: key,
      resource: { primitive: prim.id, agent: prim.agent, params: this.lb.params(prim), requires },
      timeoutMs,
      ...(a.interval !== undefined ? { intervalMs: a.interval } : {}),
    };
    let r;
    try {
      await this.lb.before(operation, key, node, signal); // drain a backend before its stop (lb-sync.ts)
      r = await this.agents.operation(node, req, signal);
      this.heldRequires.set(`${key}@${node}`, requires);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (err instanceof HavenError && err.code === 'CONFLICT' && /is older than epoch/.test(why)) this.supersede(why);
      return { ok: false, why };
    }
    const now = this.clock();
    const copy = this.observed.copies.get(key)?.get(node);
    switch (operation) {
      case 'monitor-start':
      case 'monitor-stop': {
        if (r.rc !== 0) return this.failed(key, prim.id, node, 'monitor', r.rc, r.output, now);
        const set = new Set(copy?.monitors ?? []);
        if (operation === 'monitor-start') set.add(a.interval!);
        else set.delete(a.interval!);
        this.observed.monitors(key, node, [...set]);
        return { ok: true };
      }
      case 'probe':
        this.observed.copyState(key, node, r.state);
        return r.state === 'failed' ? this.failed(key, prim.id, node, 'monitor', r.rc, r.output, now) : { ok: true };
      case 'start':
      case 'stop':
      case 'promote':
      case 'demote': {
        if (r.rc !== 0) return this.failed(key, prim.id, node, operation, r.rc, r.output, now);
        const state = operation === 'stop' ? 'stopped' : operation === 'promote' ? 'promoted' : 'started';
        this.observed.copyState(key, node, state, operation === 'stop' ? [] : (copy?.monitors ?? []));
        this.persist();
        return { ok: true };
      }
    }
  }

  private failed(key: string, prim: string, node: string, op: 'start' | 'stop' | 'promote' | 'demote' | 'monitor', rc: number, output: string, now: number): ActionOutcome {
    this.observed.copyState(key, node, 'failed');
    // As Pacemaker's start-failure-is-fatal: a failed start bans the node until cleanup or expiry.
    const f = this.observed.recordFailure(prim, node, op, now, op === 'start');
    this.persist();
    return { ok: false, why: `${op} of ${key} on ${node} returned ${describeRc(rc)}${output ? `: ${output.slice(0, 300)}` : ''}; fail count ${f.count}` };
  }

  // --- helpers ---------------------------------------------------------------------------------

  /** Something changed: plan again; `abort` stops the plan in flight first. */
  private changed(message: string, abort: boolean, node?: string, resource?: string): void {
    this.event('observed', message, { ...(node ? { node } : {}), ...(resource ? { resource } : {}) });
    if (abort) this.current?.abort(new Error(message));
    this.persist();
    this.wake();
  }

  private wake(): void {
    this.lb.poke();
    this.dirty = true;
    this.wakeUp?.();
  }

  private event(kind: string, message: string, where?: { node?: string; resource?: string }, detail?: Record<string, unknown>): void {
    // Only the leader writes the event log (a follower's or a deposed leader's events would take
    // seqs the leader uses): the others log.
    if (this.term === undefined || (this.phase !== 'settling' && this.phase !== 'running' && this.phase !== 'stopping')) {
      this.log.info({ kind, node: where?.node, resource: where?.resource, role: 'follower' }, message);
      return;
    }
    const e: ControllerEvent = { seq: ++this.eventSeq, at: this.clock(), kind, message, ...(where?.node ? { node: where.node } : {}), ...(where?.resource ? { resource: where.resource } : {}), ...(detail ? { detail } : {}) };
    this.pendingEvents.push(e);
    this.log.info({ kind, node: where?.node, resource: where?.resource, epoch: this.epoch }, message);
    this.persist();
  }

  /** Writes the record and the new events, coalescing bursts; one write at a time. */
  private persist(): void {
    // A superseded controller never writes again: its record would overwrite the new leader's.
    if (this.persistQueued || this.term === undefined || this.phase === 'superseded' || this.phase === 'following') return;
    this.persistQueued = true;
    this.persisting = this.persisting.then(async () => {
      this.persistQueued = false;
      if (this.term === undefined) return;
      const events = this.pendingEvents;
      this.pendingEvents = [];
      try {
        await this.store.append(events);
        await this.store.save(this.record());
      } catch (err) {
        this.pendingEvents.unshift(...events);
        this.log.error({ err }, 'cannot persist the controller state');
      }
    });
  }

  private async flush(): Promise<void> {
    this.persist();
    await this.persisting;
  }

  private record(): ControllerRecord {
    return { epoch: this.epoch, operatorConstraints: this.operatorConstraints, ...this.observed.durable() };
  }

  private putConstraint(c: OperatorConstraint): void {
    this.operatorConstraints = [...this.operatorConstraints.filter((x) => x.id !== c.id && !(x.resource === c.resource && c.kind === 'prefer' && x.kind === 'prefer')), c];
    this.changed(`${c.id}: ${c.reason}${c.expires ? ` until ${new Date(c.expires).toISOString()}` : ' until cleared'}`, false, c.node, c.resource);
    this.scheduleExpiry();
  }

  private expireConstraints(now: number): void {
    const expired = this.operatorConstraints.filter((c) => c.expires !== undefined && c.expires <= now);
    if (expired.length === 0) return;
    this.operatorConstraints = this.operatorConstraints.filter((c) => !expired.includes(c));
    for (const c of expired) this.event('expired', `${c.id} lapsed (${c.reason})`, { node: c.node, resource: c.resource });
    this.scheduleExpiry();
  }

  private scheduleExpiry(): void {
    clearTimeout(this.expiryTimer);
    const next = Math.min(...this.operatorConstraints.map((c) => c.expires ?? Infinity));
    if (next === Infinity) return;
    this.expiryTimer = setTimeout(() => this.wake(), Math.max(0, next - this.clock()) + 5);
    this.expiryTimer.unref();
  }

  /** A restart holds the resource stopped until no copy runs, then lets it start again. */
  private releaseRestarts(): void {
    for (const r of [...this.restarting]) {
      if (this.whereRuns(r).length === 0) {
        this.restarting.delete(r);
        this.event('restart', `${r} stopped everywhere; starting it again`, { resource: r });
      }
    }
  }

  private effectiveConfig(now: number, config: Config = this.config): Config {
    // A move or ban of a resource the configuration no longer has is kept (it may come back) but not planned with.
    const ids = new Set((config.resources ?? []).map((r) => r.id));
    const live = this.operatorConstraints.filter((c) => (c.expires === undefined || c.expires > now) && ids.has(c.resource));
    if (live.length === 0 && this.restarting.size === 0) return config;
    const extra: Constraint[] = live.map((c) => ({ type: 'location', id: c.id, resource: c.resource, node: c.node, score: c.kind === 'ban' ? -INFINITY : INFINITY }));
    const resources = this.restarting.size === 0 ? config.resources : (config.resources ?? []).map((r) => (this.restarting.has(r.id) ? withTargetRole(r, 'stopped') : r));
    return { ...config, ...(resources ? { resources } : {}), constraints: [...(config.constraints ?? []), ...extra] };
  }

  private requireResource(id: string): void {
    if (!(this.config.resources ?? []).some((r) => r.id === id)) {
      throw new HavenError('NOT_FOUND', `resource ${id} is not configured`, { hint: `configured: ${(this.config.resources ?? []).map((r) => r.id).join(', ') || 'none'}` });
    }
  }

  private requireNode(node: string): void {
    if (!this.observed.node(node)) throw new HavenError('NOT_FOUND', `node ${node} is not configured`, { hint: `nodes: ${this.config.nodes.map((n) => n.name).join(', ')}` });
  }

  /** Top-level resource id → the primitive ids inside it. */
  private primitivesOf(resource: string): string[] {
    const r = (this.config.resources ?? []).find((x) => x.id === resource);
    const out = new Map<string, Primitive>();
    if (r) collectPrimitives(r, out);
    return [...out.keys()];
  }

  /** Nodes where any copy of a top-level resource is active. */
  whereRuns(resource: string): string[] {
    const prims = this.primitivesOf(resource);
    const nodes = new Set<string>();
    for (const [key, perNode] of this.observed.copies) {
      if (!prims.includes(baseId(key))) continue;
      for (const [node, c] of perNode) if (c.state !== 'stopped') nodes.add(node);
    }
    return [...nodes].sort();
  }
}

/** A configuration change asked through the API (POST /v1/config, /v1/config/rollback). */
export interface ConfigRequest {
  /** The configuration's YAML (or JSON) text. */
  readonly text: string;
  /** What errors are located in: the operator's file name, or `request`. */
  readonly name: string;
  /** The version the operator diffed against; another one running: CONFLICT. */
  readonly baseVersion: number;
  readonly message: string;
  /** `operator alice`. */
  readonly by: string;
  readonly dryRun: boolean;
  readonly origin?: ConfigOrigin;
  readonly rollbackOf?: number;
}

/** What a configuration change did, or would do (dryRun). */
export interface ConfigResult {
  /** The running version it was diffed against. */
  readonly base: number;
  readonly changes: readonly ConfigChange[];
  /** The plan the controller would make with it now. */
  readonly plan: Plan;
  readonly dryRun: boolean;
  /** Whether a new version was recorded and runs (false: a dry run, or nothing changed). */
  readonly applied: boolean;
  readonly version?: number;
  readonly entry?: Omit<ConfigVersion, 'text'>;
}

export interface ControllerSnapshot {
  readonly cluster: string;
  /** This controller's epoch: its current term's while it leads, its last one's (0: none) while it follows. */
  readonly epoch: number;
  readonly phase: ControllerPhase;
  /** This controller's name. */
  readonly name: string;
  /** leader: it plans and acts; follower: it shows the stored state and refuses commands. */
  readonly role: 'leader' | 'follower';
  /** Who leads as the store says (url: its API, from the configuration), or null while nobody does. */
  readonly leader: { name: string; epoch: number; url?: string } | null;
  /** Why this controller last stopped leading, while it follows. */
  readonly lostWhy?: string;
  /** Whether the controller holds quorum, the votes it hears (nodes by name) and the lease length. */
  readonly quorum: { quorate: boolean; heard: number; total: number; voters: string[]; leaseMs: number };
  readonly now: number;
  readonly startedAt: number;
  readonly nodes: readonly {
    name: string;
    state: string;
    probed: boolean;
    fencing: boolean;
    isolated: boolean;
    /** ms until the node's lease surely ends (negative: ended that long ago). */
    leaseEndsInMs: number;
    standby: boolean;
    maintenance: boolean;
    since: number;
    reason: string;
  }[];
  readonly status: Status;
  readonly operatorConstraints: readonly OperatorConstraint[];
  readonly restarting: readonly string[];
  readonly plan: { startedAt: number; actions: number; done: number; running: string[]; summary: string[] } | null;
  readonly lastPlanAt: number | null;
  readonly resources: readonly { id: string; type: string }[];
  /** The configuration that runs: its version, history entry and where it came from; null without a history. */
  readonly config: { version: number; entry: Omit<ConfigVersion, 'text'>; how: string } | null;
}

/**
 * A controller's API URL from the configuration: its address on the first ring (as `haven
 * controller` listens without --listen) and its apiPort. Undefined for a name not configured.
 */
export function controllerApiUrl(config: Config, name: string): string | undefined {
  const c = (config.controllers ?? []).find((x) => x.name === name);
  if (!c) return undefined;
  const ring = config.rings?.[0]?.name;
  const host = (ring !== undefined ? c.addresses[ring] : undefined) ?? Object.values(c.addresses)[0];
  if (host === undefined) return undefined;
  return `http://${host.includes(':') ? `[${host}]` : host}:${c.apiPort ?? DEFAULTS.apiPort}`;
}

function describeReason(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}

/** `ipmi-h1 (level 1) in 412 ms`, or `psu-a + psu-b (level 2) …`. */
function describeFence(r: FenceOutcome): string {
  return `${r.devices.join(' + ')}${r.level !== undefined ? ` (level ${r.level})` : ''} in ${Math.round(r.durationMs)} ms`;
}

function collectPrimitives(r: Resource, out: Map<string, Primitive>): void {
  switch (r.type) {
    case 'primitive':
      out.set(r.id, r);
      return;
    case 'group':
      for (const m of r.members) out.set(m.id, m);
      return;
    case 'clone':
    case 'promotable':
      collectPrimitives(r.of, out);
      return;
  }
}

function withTargetRole(r: Resource, role: TargetRole): Resource {
  return { ...r, targetRole: role } as Resource;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
