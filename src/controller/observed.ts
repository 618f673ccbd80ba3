// What the controller believes about the cluster, built from what it observed: liveness
// verdicts, agents' reported copies, the results of the actions it ran, failures and the
// operator's node overrides. `status()` turns it into the scheduler's Status. No I/O and no
// clock: every mutation says when it happened, so the controller's reactions can be replayed
// and tested.
//
// Node life cycle as the controller sees it:
//   unknown ──heard──► online (probed=false until its agent said what it runs)
//   online ──every ring silent──► unclean ──fence confirmed──► fenced ──heard again──► online
//   unknown ──never heard──► offline (nothing was known to run there) or unclean (something was)
// A node heard again with the same incarnation before any fence is online again, as before.

import type { AgentCopy, AgentCopyState } from '../model/wire.js';
import type { CopyStatus, Failure, NodeState, Status } from '../model/status.js';

export interface NodeRecord {
  readonly name: string;
  state: NodeState | 'unknown';
  /** The agent run last heard; a new one means its copies must be probed again. */
  incarnation: number | null;
  probed: boolean;
  fencing: boolean;
  standby: boolean;
  maintenance: boolean;
  /**
   * Online, but the controller lost it on every ring while its peers still hear it: the path
   * failed, not the node. Observed, never acted on, never fenced (distributed confirmation).
   */
  isolated: boolean;
  /** One line: why the node is in its state. */
  reason: string;
  since: number;
}

/** The part of the controller's state that must survive a controller restart. */
export interface DurableState {
  readonly nodes: Readonly<Record<string, { readonly state: NodeState; readonly standby?: boolean; readonly maintenance?: boolean }>>;
  readonly copies: Readonly<Record<string, Readonly<Record<string, CopyStatus>>>>;
  readonly failures: readonly Failure[];
}

const ACTIVE: ReadonlySet<string> = new Set(['started', 'promoted', 'failed']);

export class Observed {
  readonly nodes = new Map<string, NodeRecord>();
  /** status key → node → copy. */
  readonly copies = new Map<string, Map<string, CopyStatus>>();
  failures: Failure[] = [];
  /** The last state each node was persisted in, for restart decisions. */
  private readonly remembered = new Map<string, NodeState>();

  constructor(nodeNames: readonly string[], now: number, durable?: DurableState) {
    for (const name of nodeNames) {
      const d = durable?.nodes[name];
      this.nodes.set(name, {
        name,
        state: 'unknown',
        incarnation: null,
        probed: false,
        fencing: false,
        isolated: false,
        standby: d?.standby ?? false,
        maintenance: d?.maintenance ?? false,
        reason: 'not heard yet',
        since: now,
      });
      if (d) this.remembered.set(name, d.state);
    }
    if (durable) {
      for (const [key, perNode] of Object.entries(durable.copies)) {
        for (const [node, copy] of Object.entries(perNode)) if (this.nodes.has(node)) this.setCopy(key, node, { ...copy });
      }
      this.failures = durable.failures.filter((f) => this.nodes.has(f.node)).map((f) => ({ ...f }));
    }
  }

  node(name: string): NodeRecord | undefined {
    return this.nodes.get(name);
  }

  /** True when every node has a state the scheduler understands (none is still unknown). */
  settled(): boolean {
    for (const n of this.nodes.values()) if (n.state === 'unknown') return false;
    return true;
  }

  /** The node's agent was heard; `incarnation` tells a restarted agent (or rebooted host). */
  heard(name: string, incarnation: number | null, now: number, reason: string): boolean {
    const n = this.nodes.get(name);
    if (!n) return false;
    const restarted = incarnation !== null && n.incarnation !== null && incarnation !== n.incarnation;
    if (incarnation !== null) n.incarnation = incarnation;
    if (n.isolated) {
      // Back in touch: what it runs may have changed (its lease may have lapsed): probe again.
      n.isolated = false;
      n.probed = false;
      this.setNode(n, 'online', now, `heard again after being isolated: ${reason}`);
      return true;
    }
    if (n.state === 'online' && !restarted) {
      // No change to act on, but the status shows what is heard now (a ring back, or lost).
      n.reason = reason;
      return false;
    }
    if (n.state === 'unclean' && n.fencing) return false; // a fence under way finishes first
    if (n.state === 'unclean' && !restarted && n.probed) {
      this.setNode(n, 'online', now, `heard again before any fence: ${reason}`);
      return true;
    }
    // A node that starts over: what ran there is not known until its agent reports.
    // A fenced or cleanly gone node ran nothing since; an unclean one is probed again below.
    if (n.state === 'fenced' || n.state === 'offline') this.forgetCopiesOn(name);
    n.probed = false;
    this.setNode(n, 'online', now, restarted ? `agent restarted (incarnation ${incarnation}): ${reason}` : reason);
    return true;
  }

  /** The controller lost an online node, but its peers still hear it. */
  isolate(name: string, now: number, reason: string): boolean {
    const n = this.nodes.get(name);
    if (!n || n.state !== 'online') return false;
    const first = !n.isolated;
    n.isolated = true;
    n.reason = reason;
    if (first) n.since = now;
    return first;
  }

  /** An isolated node is back in touch (its lease holds again): probe it again. */
  rejoin(name: string, now: number, reason: string): boolean {
    const n = this.nodes.get(name);
    if (!n || !n.isolated) return false;
    n.isolated = false;
    n.probed = false;
    this.setNode(n, 'online', now, reason);
    return true;
  }

  /** Every ring of the node went silent. */
  silent(name: string, now: number, reason: string): boolean {
    const n = this.nodes.get(name);
    if (!n) return false;
    if (n.state === 'online') {
      n.isolated = false;
      this.setNode(n, 'unclean', now, reason);
      return true;
    }
    if (n.state === 'unknown') {
      // Never heard since this controller started: unclean if something was known to run there.
      const before = this.remembered.get(name);
      const active = this.activeCopiesOn(name).length > 0;
      const state: NodeState = before === 'fenced' && !active ? 'fenced' : active || before === 'unclean' ? 'unclean' : 'offline';
      this.setNode(n, state, now, `${reason}${state === 'unclean' ? ' (copies were known to run there)' : ''}`);
      return true;
    }
    return false;
  }

  fenceStarted(name: string): void {
    const n = this.nodes.get(name);
    if (n) n.fencing = true;
  }

  /** A fence ended: confirmed (the node is off, nothing runs there) or failed (still unclean). */
  fenceDone(name: string, ok: boolean, now: number, reason: string): void {
    const n = this.nodes.get(name);
    if (!n) return;
    n.fencing = false;
    if (!ok) {
      n.reason = reason;
      return;
    }
    this.forgetCopiesOn(name);
    n.probed = false;
    n.incarnation = null;
    this.setNode(n, 'fenced', now, reason);
  }

  /** The node's agent said what it runs (a node-wide probe). Copies it does not list are stopped there. */
  probedNode(name: string, copies: readonly AgentCopy[]): void {
    const n = this.nodes.get(name);
    if (!n) return;
    for (const [key, perNode] of this.copies) {
      if (perNode.has(name) && !copies.some((c) => c.instance === key)) perNode.delete(name);
      if (perNode.size === 0) this.copies.delete(key);
    }
    for (const c of copies) {
      if (c.state === 'stopped') this.copyState(c.instance, name, 'stopped');
      else this.setCopy(c.instance, name, copyOf(c.state, c.monitors, this.copies.get(c.instance)?.get(name)));
    }
    n.probed = true;
  }

  /** The result of one operation or monitor on a copy. */
  copyState(key: string, node: string, state: AgentCopyState, monitors?: readonly number[]): void {
    if (!this.nodes.has(node)) return;
    const prev = this.copies.get(key)?.get(node);
    if (state === 'stopped') {
      this.copies.get(key)?.delete(node);
      if (this.copies.get(key)?.size === 0) this.copies.delete(key);
      return;
    }
    this.setCopy(key, node, copyOf(state, monitors ?? prev?.monitors ?? [], prev));
  }

  monitors(key: string, node: string, monitors: readonly number[]): void {
    const prev = this.copies.get(key)?.get(node);
    if (prev) this.setCopy(key, node, { ...prev, monitors: [...monitors].sort((a, b) => a - b) });
  }

  /** Counts one failure of `resource` (primitive id) on `node`; `fatal` makes it INFINITY. */
  recordFailure(resource: string, node: string, operation: Failure['operation'], now: number, fatal = false): Failure {
    const i = this.failures.findIndex((f) => f.resource === resource && f.node === node);
    const prev = i >= 0 ? this.failures[i] : undefined;
    const count: Failure['count'] = fatal || prev?.count === 'INFINITY' ? 'INFINITY' : (prev?.count ?? 0) + 1;
    const f: Failure = { resource, node, count, last: now, ...(operation ? { operation } : {}) };
    if (i >= 0) this.failures[i] = f;
    else this.failures.push(f);
    return f;
  }

  /** Forgets failures: of a resource (on one node or all), or those `expired` says are. */
  clearFailures(match: (f: Failure) => boolean): number {
    const before = this.failures.length;
    this.failures = this.failures.filter((f) => !match(f));
    return before - this.failures.length;
  }

  setOverride(name: string, field: 'standby' | 'maintenance', value: boolean): void {
    const n = this.nodes.get(name);
    if (n) n[field] = value;
  }

  /** The scheduler's input. */
  status(now: number): Status {
    const nodes: Status['nodes'] = {};
    for (const n of this.nodes.values()) {
      nodes[n.name] = {
        // Not judged yet: unclean if something was known to run there (never recover it blindly).
        state: n.state === 'unknown' ? (this.activeCopiesOn(n.name).length > 0 ? 'unclean' : 'offline') : n.state,
        ...(n.standby ? { standby: true } : {}),
        ...(n.maintenance ? { maintenance: true } : {}),
        ...(n.fencing ? { fencing: true } : {}),
        ...(n.state === 'online' && !n.probed ? { probed: false } : {}),
      };
    }
    const resources: NonNullable<Status['resources']> = {};
    for (const [key, perNode] of [...this.copies].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const out: Record<string, CopyStatus> = {};
      for (const [node, copy] of [...perNode].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) out[node] = { ...copy };
      resources[key] = out;
    }
    return { time: now, quorum: true, nodes, resources, failures: this.failures.map((f) => ({ ...f })) };
  }

  durable(): DurableState {
    const nodes: Record<string, { state: NodeState; standby?: boolean; maintenance?: boolean }> = {};
    for (const n of this.nodes.values()) {
      const state = n.state === 'unknown' ? (this.remembered.get(n.name) ?? 'offline') : n.state;
      nodes[n.name] = { state, ...(n.standby ? { standby: true } : {}), ...(n.maintenance ? { maintenance: true } : {}) };
    }
    const copies: Record<string, Record<string, CopyStatus>> = {};
    for (const [key, perNode] of this.copies) copies[key] = Object.fromEntries([...perNode].map(([n, c]) => [n, { ...c }]));
    return { nodes, copies, failures: this.failures.map((f) => ({ ...f })) };
  }

  private activeCopiesOn(node: string): string[] {
    const out: string[] = [];
    for (const [key, perNode] of this.copies) {
      const c = perNode.get(node);
      if (c && ACTIVE.has(c.state)) out.push(key);
    }
    return out;
  }

  /** Forgets the copies on `node` that `which` picks (an isolated node's agent stopped them). */
  dropCopiesOn(node: string, which: (key: string) => boolean): string[] {
    const dropped: string[] = [];
    for (const [key, perNode] of this.copies) {
      if (!which(key) || !perNode.delete(node)) continue;
      dropped.push(key);
      if (perNode.size === 0) this.copies.delete(key);
    }
    return dropped;
  }

  /** A node fenced or cleanly gone runs nothing. */
  private forgetCopiesOn(node: string): void {
    for (const [key, perNode] of this.copies) {
      if (perNode.delete(node) && perNode.size === 0) this.copies.delete(key);
    }
  }

  private setCopy(key: string, node: string, copy: CopyStatus): void {
    let perNode = this.copies.get(key);
    if (!perNode) this.copies.set(key, (perNode = new Map()));
    perNode.set(node, copy);
  }

  private setNode(n: NodeRecord, state: NodeState, now: number, reason: string): void {
    n.state = state;
    n.since = now;
    n.reason = reason;
  }
}

function copyOf(state: AgentCopyState, monitors: readonly number[], prev: CopyStatus | undefined): CopyStatus {
  return {
    state,
    ...(state === 'failed' && prev?.state === 'promoted' ? { promoted: true } : {}),
    monitors: [...monitors].sort((a, b) => a - b),
  };
}
