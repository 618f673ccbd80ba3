// Keeping load balancers in step with what the controller knows (docs/agents.md, `haproxy`).
//
// The controller learns first that a backend is gone: a node silent on every ring, a copy
// failed or stopped, a node put in standby. HAProxy's own checks (inter 2 s, fall 3) take 4–6 s
// to notice a dead server; lb-sync tells every running load balancer copy at once, through its
// agent (POST /v1/servers), which applies it through HAProxy's runtime API in a millisecond.
//
// - `params(prim)`: the params an operation of a load balancer carries: each service's servers
//   filled in from the cluster configuration (every node's address on the ring, the service
//   port), so the agent renders them without knowing the cluster.
// - `poke()`: something changed (the controller calls it from wake()); the wanted state of every
//   server is worked out again (`wantedServers`, pure) and sent to every load balancer copy whose
//   last acknowledged state differs. One request in flight per copy; a failed one is retried.
// - early silence: a node that has not been heard on any ring for `suspectAfter` (default half
//   the ring timeout) has its servers taken out before it is declared lost. Taking a server out
//   of rotation is cheap and undone the moment the node is heard again, so it need not wait for
//   the certainty that a fence needs; its sessions are left alone until the node is lost.
// - `before(operation, copy, node)`: ordering with the plan. Before a backend copy stops, its
//   server is drained everywhere (no new connections; `maint` at once for a single writer) and
//   the stop waits, up to `drainTimeout`, until its sessions are over: a planned stop costs no
//   request. Before a load balancer copy starts, its agent gets the states to start with.
//
// Pushes happen only while this controller leads with quorum (`active()`).

import type { Logger } from 'pino';
import type { NodeReport } from '../detector/index.js';
import { DEFAULTS, type Config, type Primitive, type Resource } from '../model/config.js';
import type { ServersResult, ServerState, ServerWant } from '../model/lb.js';
import type { CopyStatus, NodeState } from '../model/status.js';
import { formatServers, parseHaproxyParams, type BalanceMode, type HaproxySpec } from '../resources/haproxy-config.js';
import type { ParamValue } from '../resources/types.js';
import { baseId } from '../scheduler/cluster.js';
import type { AgentClient } from './agent-client.js';

/** What lb-sync reads of the controller's observed state. */
export interface LbView {
  readonly nodes: ReadonlyMap<string, { readonly state: NodeState | 'unknown'; readonly standby: boolean }>;
  readonly copies: ReadonlyMap<string, ReadonlyMap<string, Pick<CopyStatus, 'state'>>>;
}

export interface LbService {
  readonly name: string;
  readonly balance: BalanceMode;
  /** The primitives every node must run for its server to take traffic (the backend clone's). */
  readonly backend: readonly string[];
  /** Server names: the nodes. */
  readonly servers: readonly string[];
}

/** A load balancer primitive (agent `haproxy`) and its services. */
export interface Balancer {
  readonly primitive: string;
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly services: readonly LbService[];
  readonly drainTimeoutMs: number;
  readonly suspectAfterMs: number;
}

const RUNNING = new Set(['started', 'promoted']);
const RETRY_MS = 200;
const PUSH_TIMEOUT_MS = 2_000;
const TICK_MS = 10;
/** Besides every change the controller wakes up for, the wanted states are checked this often (copies that started). */
const RESYNC_TICKS = 5;
const SESSIONS_POLL_MS = 50;

function primitivesIn(r: Resource): Primitive[] {
  switch (r.type) {
    case 'primitive':
      return [r];
    case 'group':
      return [...r.members];
    case 'clone':
    case 'promotable':
      return primitivesIn(r.of);
  }
}

/** Every resource by id, and every primitive inside a group or clone by its own id too. */
function resourcesById(config: Config): Map<string, Resource> {
  const out = new Map<string, Resource>();
  for (const r of config.resources ?? []) {
    out.set(r.id, r);
    for (const p of primitivesIn(r)) if (!out.has(p.id)) out.set(p.id, p);
  }
  return out;
}

/**
 * An haproxy primitive's params with each service's servers filled in from its backend: every
 * node of the cluster (in configuration order) at its address on `ring` (default: the first) and
 * the service's port. Servers the operator listed are kept as written; other agents' params are
 * returned unchanged.
 */
export function expandParams(config: Config, prim: Primitive): Record<string, ParamValue> {
  const params: Record<string, ParamValue> = { ...(prim.params ?? {}) };
  if (prim.agent !== 'haproxy') return params;
  const spec = parseHaproxyParams(params);
  if (Array.isArray(spec)) return params;
  const ring = spec.ring ?? config.rings?.[0]?.name;
  for (const s of spec.services) {
    if (s.servers !== undefined || s.backend === undefined) continue;
    const servers = config.nodes.flatMap((n) => {
      const address = ring === undefined ? Object.values(n.addresses ?? {})[0] : n.addresses?.[ring];
      return address === undefined ? [] : [{ name: n.name, address, port: s.port }];
    });
    params[`${s.name}.servers`] = formatServers(servers);
  }
  return params;
}

/**
 * The load balancers of a configuration, and a message for each haproxy primitive that cannot be
 * kept in step (bad params, a backend that names no resource): its starts fail with the same
 * message (rc 6), and nothing else is held back by it.
 */
export function balancersOf(config: Config): { balancers: Balancer[]; problems: string[] } {
  const byId = resourcesById(config);
  const ringTimeout = config.cluster.heartbeat?.ringTimeout ?? DEFAULTS.ringTimeout;
  const out: Balancer[] = [];
  const problems: string[] = [];
  for (const r of config.resources ?? []) {
    for (const prim of primitivesIn(r)) {
      if (prim.agent !== 'haproxy') continue;
      const params = expandParams(config, prim);
      const spec = parseHaproxyParams(params, { needServers: true });
      if (Array.isArray(spec)) {
        problems.push(`${prim.id}: ${spec.join('; ')}`);
        continue;
      }
      const missing = spec.services.filter((s) => s.backend !== undefined && !byId.has(s.backend));
      if (missing.length > 0) {
        problems.push(missing.map((s) => `${prim.id}: ${s.name}.backend names "${s.backend ?? ''}", which is not a configured resource`).join('; '));
        continue;
      }
      out.push({
        primitive: prim.id,
        params,
        services: spec.services.map((s) => {
          const backendResource = s.backend === undefined ? undefined : byId.get(s.backend);
          return {
            name: s.name,
            balance: s.balance,
            backend: backendResource === undefined ? [] : primitivesIn(backendResource).map((p) => p.id),
            servers: (s.servers ?? []).map((x) => x.name),
          };
        }),
        drainTimeoutMs: spec.drainTimeoutMs,
        suspectAfterMs: spec.suspectAfterMs ?? Math.round(ringTimeout / 2),
      });
    }
  }
  return { balancers: out, problems };
}

/** Whether every primitive of a backend runs on a node, and if not, which one does not and how. */
function backendOn(view: LbView, backend: readonly string[], node: string): { running: true } | { running: false; what: string; failed: boolean } {
  for (const prim of backend) {
    let state: string | undefined;
    for (const [key, perNode] of view.copies) {
      if (baseId(key) !== prim) continue;
      const c = perNode.get(node);
      if (c === undefined) continue;
      if (RUNNING.has(c.state)) {
        state = c.state;
        break;
      }
      state ??= c.state;
    }
    if (state === undefined || !RUNNING.has(state)) return { running: false, what: `${prim} is ${state ?? 'not running'} on ${node}`, failed: state === 'failed' };
  }
  return { running: true };
}

/** A planned stop in progress: the server drains (or is out) whatever else holds. */
export interface Override {
  readonly state: ServerState;
  readonly reason: string;
}

/**
 * Pure: the state every server of a balancer should be in. A node not online is out and its
 * sessions closed (they are dead); a node silent on every ring for `suspectAfter` is out (its
 * sessions left alone: it may be heard again); a backend copy that does not run is out (sessions
 * closed when it failed); a node in standby drains; otherwise the server is ready. Overrides
 * (keyed `service/server`) come from planned stops.
 */
export function wantedServers(b: Balancer, view: LbView, silent: ReadonlySet<string>, overrides: ReadonlyMap<string, Override> = new Map()): ServerWant[] {
  const wants: ServerWant[] = [];
  for (const s of b.services) {
    const first = wants.length;
    const suspected: number[] = [];
    for (const server of s.servers) {
      const node = view.nodes.get(server);
      const backend = s.backend.length === 0 ? ({ running: true } as const) : backendOn(view, s.backend, server);
      const override = overrides.get(`${s.name}/${server}`);
      let want: ServerWant;
      if (node === undefined) want = { service: s.name, server, state: 'maint', reason: `${server} is not a cluster node` };
      else if (node.state !== 'online') want = { service: s.name, server, state: 'maint', shutdown: node.state !== 'unknown', reason: `${server} is ${node.state}` };
      else if (silent.has(server)) {
        want = { service: s.name, server, state: 'maint', reason: `${server} is silent on every ring` };
        if (backend.running) suspected.push(wants.length);
      }
      else if (!backend.running) want = { service: s.name, server, state: 'maint', ...(backend.failed ? { shutdown: true } : {}), reason: backend.what };
      else if (override !== undefined) want = { service: s.name, server, state: override.state, reason: override.reason };
      else if (node.standby) want = { service: s.name, server, state: 'drain', reason: `${server} is in standby` };
      else want = { service: s.name, server, state: 'ready' };
      wants.push(want);
    }
    // Silence alone never empties a service: with no other server ready (a loaded controller
    // hearing no one for a moment), a server that may be alive beats none (HAProxy retries).
    if (suspected.length > 0 && !wants.slice(first).some((w) => w.state === 'ready')) {
      for (const i of suspected) {
        const w = wants[i] as ServerWant;
        wants[i] = { service: w.service, server: w.server, state: 'ready', reason: `${w.server} is silent on every ring, but no other server is ready` };
      }
    }
  }
  return wants;
}

/** The part of a want list that matters for equality (reasons are for logs). */
function fingerprint(wants: readonly ServerWant[]): string {
  return wants.map((w) => `${w.service}/${w.server}=${w.state}${w.shutdown === true ? '!' : ''}`).join(' ');
}

export interface LbSyncOptions {
  readonly config: Config;
  readonly agents: Pick<AgentClient, 'servers'>;
  readonly log: Logger;
  readonly epoch: () => number;
  /** True while this controller may act (it leads, with quorum). */
  readonly active: () => boolean;
  /** The observed state; called only once the controller started. */
  readonly view: () => LbView;
  /** Liveness detail for early silence; undefined: no early silence. */
  readonly report?: (node: string) => NodeReport | undefined;
  /** The controller's event log. */
  readonly event: (kind: string, message: string, where?: { node?: string; resource?: string }) => void;
  /** The heartbeat receiver's monotonic clock, which `report`'s lastHeard is on (performance.now). Waits use real time. */
  readonly monotonic?: () => number;
}

interface Target {
  readonly node: string;
  readonly instance: string;
  readonly balancer: Balancer;
  acked: string | undefined;
  inflight: boolean;
  lastResult: ServersResult | undefined;
  /** Settled when the acknowledged state next changes (for `before`). */
  waiters: (() => void)[];
}

export class LbSync {
  readonly balancers: readonly Balancer[];
  private readonly byPrimitive = new Map<string, Balancer>();
  private readonly targets = new Map<string, Target>();
  private readonly overrides = new Map<string, Map<string, Override & { readonly node: string; readonly copy: string }>>();
  private silent = new Set<string>();
  private readonly lastWanted = new Map<string, ServerState>();
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private tick: NodeJS.Timeout | undefined;
  private readonly monotonic: () => number;
  private readonly suspectAfterMs: number;
  private stopped = false;
  private ticks = 0;

  constructor(private readonly opts: LbSyncOptions) {
    const { balancers, problems } = balancersOf(opts.config);
    this.balancers = balancers;
    for (const p of problems) opts.log.warn({ problem: p }, 'a load balancer cannot be kept in step with its backends');
    for (const b of this.balancers) this.byPrimitive.set(b.primitive, b);
    this.monotonic = opts.monotonic ?? (() => performance.now());
    this.suspectAfterMs = Math.min(...this.balancers.map((b) => b.suspectAfterMs));
    if (this.balancers.length > 0 && opts.report !== undefined) {
      this.tick = setInterval(() => this.checkSilence(), TICK_MS);
      this.tick.unref();
    }
  }

  /** The params an operation of this primitive carries (a load balancer's servers filled in). */
  params(prim: Primitive): Record<string, ParamValue> {
    return this.byPrimitive.get(prim.id)?.params ?? { ...(prim.params ?? {}) };
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.tick);
    clearTimeout(this.retryTimer);
  }

  /** Something changed: work the wanted states out again and send what differs (coalesced). */
  poke(): void {
    if (this.balancers.length === 0 || this.scheduled || this.stopped) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.sync();
    });
  }

  /**
   * Called by the controller before it sends an operation. A stop of a backend copy: drain its
   * servers and wait (up to drainTimeout) until their sessions are over, then take them out. A
   * start of a load balancer copy: give its agent the states to start with. Never throws: a
   * balancer that does not answer must not block the plan (HAProxy's retries cover the rest).
   */
  async before(operation: string, copy: string, node: string, signal: AbortSignal): Promise<void> {
    if (this.balancers.length === 0 || !this.opts.active()) return;
    try {
      if (operation === 'stop') await this.drain(copy, node, signal);
      else if (operation === 'start' && this.byPrimitive.has(baseId(copy))) await this.prime(copy, node, signal);
    } catch (err) {
      this.opts.log.warn({ copy, node, err: err instanceof Error ? err.message : String(err) }, 'load balancer step before the operation failed');
    }
  }

  // ---- the push loop ----

  private view(): LbView | undefined {
    try {
      return this.opts.view();
    } catch {
      return undefined; // the controller has not started yet
    }
  }

  private sync(): void {
    if (this.stopped || !this.opts.active()) return;
    const view = this.view();
    if (view === undefined) return;
    this.expireOverrides(view);
    const live = new Set<string>();
    for (const b of this.balancers) {
      const wants = wantedServers(b, view, this.silent, this.overridesOf(b));
      this.logChanges(b, wants);
      for (const [key, perNode] of view.copies) {
        if (baseId(key) !== b.primitive) continue;
        for (const [node, c] of perNode) {
          if (!RUNNING.has(c.state)) continue;
          const id = `${node}|${key}`;
          live.add(id);
          let t = this.targets.get(id);
          if (t === undefined) {
            t = { node, instance: key, balancer: b, acked: undefined, inflight: false, lastResult: undefined, waiters: [] };
            this.targets.set(id, t);
          }
          this.send(t, wants);
        }
      }
    }
    for (const [id, t] of this.targets) {
      if (live.has(id) || t.inflight) continue;
      this.targets.delete(id);
      for (const w of t.waiters.splice(0)) w();
    }
  }

  private send(t: Target, wants: readonly ServerWant[]): void {
    const fp = fingerprint(wants);
    if (t.inflight || t.acked === fp) return;
    t.inflight = true;
    const started = performance.now();
    this.opts.agents
      .servers(
        t.node,
        { epoch: this.opts.epoch(), instance: t.instance, resource: { primitive: t.balancer.primitive, agent: 'haproxy', params: t.balancer.params }, servers: [...wants], timeoutMs: PUSH_TIMEOUT_MS },
        AbortSignal.timeout(PUSH_TIMEOUT_MS * 2),
      )
      .then((r) => {
        t.acked = r.applied ? fp : undefined;
        t.lastResult = r;
        if (r.output !== 'no change') this.opts.log.info({ node: t.node, instance: t.instance, applied: r.applied, ms: Math.round(performance.now() - started) }, `load balancer servers: ${r.output}`);
        if (!r.applied) this.retrySoon();
      })
      .catch((err: unknown) => {
        t.acked = undefined;
        this.opts.log.warn({ node: t.node, instance: t.instance, err: err instanceof Error ? err.message : String(err) }, 'could not set the load balancer servers');
        this.retrySoon();
      })
      .finally(() => {
        t.inflight = false;
        for (const w of t.waiters.splice(0)) w();
        this.poke();
      });
  }

  private retrySoon(): void {
    if (this.retryTimer !== undefined || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      for (const t of this.targets.values()) if (!t.inflight) t.acked = undefined;
      this.poke();
    }, RETRY_MS);
    this.retryTimer.unref();
  }

  /** One event per change of a server's wanted state (not per load balancer copy). */
  private logChanges(b: Balancer, wants: readonly ServerWant[]): void {
    for (const w of wants) {
      const key = `${b.primitive}/${w.service}/${w.server}`;
      const before = this.lastWanted.get(key);
      if (before === w.state) continue;
      this.lastWanted.set(key, w.state);
      if (before === undefined) continue; // the first look: nothing changed yet
      const what = w.state === 'ready' ? 'back in rotation' : w.state === 'drain' ? 'draining' : 'out of rotation';
      this.opts.event('lb', `${b.primitive}: ${w.service} server ${w.server} ${what}${w.reason === undefined ? '' : ` (${w.reason})`}`, { node: w.server, resource: b.primitive });
    }
  }

  // ---- early silence ----

  private checkSilence(): void {
    if (this.stopped || this.opts.report === undefined) return;
    if (++this.ticks % RESYNC_TICKS === 0) this.poke();
    const now = this.monotonic();
    const silent = new Set<string>();
    for (const n of this.opts.config.nodes) {
      const r = this.opts.report(n.name);
      if (r === undefined || r.verdict.kind === 'unknown') continue;
      const last = Math.max(...r.rings.map((x) => x.lastHeard ?? -Infinity));
      if (now - last >= this.suspectAfterMs) silent.add(n.name);
    }
    if (silent.size === this.silent.size && [...silent].every((n) => this.silent.has(n))) return;
    this.silent = silent;
    this.poke();
  }

  // ---- ordering with the plan ----

  private overridesOf(b: Balancer): Map<string, Override> {
    return (this.overrides.get(b.primitive) ?? new Map()) as Map<string, Override>;
  }

  private expireOverrides(view: LbView): void {
    for (const [prim, map] of this.overrides) {
      for (const [key, o] of map) {
        const running = view.copies.get(o.copy)?.get(o.node);
        if (running === undefined || !RUNNING.has(running.state)) map.delete(key);
      }
      if (map.size === 0) this.overrides.delete(prim);
    }
  }

  /** Resolves once every load balancer copy acknowledged the current wanted states (or `ms` passed). */
  private async settled(ms: number, signal: AbortSignal): Promise<void> {
    const end = performance.now() + ms;
    for (;;) {
      this.sync();
      const pending = [...this.targets.values()].filter((t) => t.inflight || t.acked === undefined || t.acked !== this.fingerprintFor(t));
      if (pending.length === 0 || signal.aborted) return;
      const left = end - performance.now();
      if (left <= 0) return;
      await Promise.race([Promise.all(pending.map((t) => new Promise<void>((resolve) => t.waiters.push(resolve)))), sleep(Math.min(left, 100))]);
    }
  }

  private fingerprintFor(t: Target): string | undefined {
    const view = this.view();
    if (view === undefined) return undefined;
    return fingerprint(wantedServers(t.balancer, view, this.silent, this.overridesOf(t.balancer)));
  }

  private async drain(copy: string, node: string, signal: AbortSignal): Promise<void> {
    const prim = baseId(copy);
    const affected = this.balancers.flatMap((b) => b.services.filter((s) => s.backend.includes(prim) && s.servers.includes(node)).map((s) => ({ b, s })));
    if (affected.length === 0) return;
    const began = performance.now();
    for (const { b, s } of affected) {
      let map = this.overrides.get(b.primitive);
      if (map === undefined) this.overrides.set(b.primitive, (map = new Map()));
      // A single writer's stick table would keep sending new connections to a draining server.
      const state: ServerState = s.balance === 'single-writer' ? 'maint' : 'drain';
      map.set(`${s.name}/${node}`, { state, reason: `${copy} stops on ${node}`, node, copy });
    }
    await this.settled(1_000, signal);
    const drainMs = Math.max(...affected.map(({ b }) => b.drainTimeoutMs));
    // Wait for the sessions on the server to end, as every load balancer copy reports them.
    for (;;) {
      const busy = [...this.targets.values()].some((t) => (t.lastResult?.servers ?? []).some((x) => x.server === node && x.sessions > 0 && affected.some(({ b, s }) => b === t.balancer && s.name === x.service)));
      if (!busy || performance.now() - began >= drainMs || signal.aborted) break;
      for (const t of this.targets.values()) t.acked = undefined; // ask again: the answer carries the sessions
      this.poke();
      await sleep(SESSIONS_POLL_MS);
    }
    for (const { b, s } of affected) {
      const map = this.overrides.get(b.primitive);
      map?.set(`${s.name}/${node}`, { state: 'maint', reason: `${copy} stops on ${node}`, node, copy });
    }
    await this.settled(1_000, signal);
    this.opts.log.info({ copy, node, ms: Math.round(performance.now() - began) }, 'drained before the stop');
  }

  private async prime(copy: string, node: string, signal: AbortSignal): Promise<void> {
    const b = this.byPrimitive.get(baseId(copy));
    const view = this.view();
    if (b === undefined || view === undefined) return;
    const wants = wantedServers(b, view, this.silent, this.overridesOf(b));
    await this.opts.agents.servers(node, { epoch: this.opts.epoch(), instance: copy, resource: { primitive: b.primitive, agent: 'haproxy', params: b.params }, servers: wants, timeoutMs: PUSH_TIMEOUT_MS }, signal);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
