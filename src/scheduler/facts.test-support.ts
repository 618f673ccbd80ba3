// What a config and a status say, worked out independently of the scheduler, for the property
// tests: effective policies, which nodes may host resources, which nodes are to be fenced, and
// which copies the scheduler cannot touch ("frozen"). Test support only. Where a rule here
// mirrors one in src/scheduler, it is written from the model's documented meaning, not copied,
// so that a disagreement shows up as a failing property.

import { ruleMatches } from '../config/rules.js';
import { DEFAULTS, type Config, type OnFail, type Operation, type Primitive, type Requires, type Resource, type TargetRole } from '../model/config.js';
import type { Action, Plan } from '../model/plan.js';
import type { CopyState, NodeState, Status } from '../model/status.js';
import { INFINITY } from '../model/units.js';

export interface NodeFacts {
  readonly name: string;
  readonly state: NodeState;
  /** Config or status. */
  readonly standby: boolean;
  readonly maintenance: boolean;
  /** A fence of the node is under way. */
  readonly fencing: boolean;
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
}

export interface EffectivePolicy {
  readonly migrationThreshold: number;
  readonly failureTimeout: number;
  readonly onFail: OnFail | undefined;
  readonly requires: Requires;
  readonly targetRole: TargetRole;
  readonly managed: boolean;
}

export interface TopFacts {
  readonly id: string;
  readonly kind: Resource['type'];
  readonly isClone: boolean;
  readonly promotable: boolean;
  readonly maxCopies: number | undefined;
  readonly maxPerNode: number;
  readonly promotedMax: number;
  readonly promotedMaxPerNode: number;
  readonly interleave: boolean;
  readonly prims: PrimFacts[];
}

export interface PrimFacts {
  readonly id: string;
  readonly top: TopFacts;
  readonly position: number;
  readonly policy: EffectivePolicy;
  readonly operations: readonly Operation[];
}

export interface FailureFacts {
  readonly operation: 'monitor' | 'start' | 'stop' | 'promote' | 'demote';
  readonly count: number;
  readonly last: number;
}

/** Recorded states in which a copy may be running. */
export const ACTIVE_STATES: ReadonlySet<CopyState> = new Set(['started', 'promoted', 'failed']);

export interface Facts {
  readonly config: Config;
  readonly status: Status;
  readonly now: number;
  readonly fencingOn: boolean;
  readonly quorumOk: boolean;
  readonly canFence: boolean;
  readonly clusterMaintenance: boolean;
  readonly nodes: ReadonlyMap<string, NodeFacts>;
  readonly tops: ReadonlyMap<string, TopFacts>;
  readonly prims: ReadonlyMap<string, PrimFacts>;
  /** Nodes the plan is to fence, as the status dictates. */
  readonly fenceSet: ReadonlySet<string>;
  /** Online nodes in standby because a failure there has on-fail standby. */
  readonly standbyByFailure: ReadonlySet<string>;
  /** Copies (`key@node`) the plan must leave exactly as they are, with why. */
  readonly frozen: ReadonlyMap<string, string>;
  lastFailure(prim: string, node: string): FailureFacts | undefined;
  failCount(prim: string, node: string): number;
  onFail(prim: PrimFacts, operation: FailureFacts['operation']): OnFail;
  /** A location bans the resource (any copy, or its promoted copies when `promoted`) from the node. */
  bannedByLocation(top: string, node: string, promoted: boolean): string | undefined;
  /** A member's failures on the node reached its migration threshold (or a start failed there). */
  bannedByFailures(top: string, node: string): string | undefined;
  /** Why a node may not receive a start or promotion; undefined if it may. */
  cannotHost(node: string): string | undefined;
}

/** The primitive id of a status key (`web` or `web:2`). */
export function baseOf(key: string): string {
  const m = /^(.+):(\d+)$/.exec(key);
  return m ? (m[1] as string) : key;
}

export function copyId(key: string, node: string): string {
  return `${key}@${node}`;
}

function thresholdOf(v: number | 'INFINITY' | undefined): number | undefined {
  return v === 'INFINITY' ? INFINITY : v;
}

interface PolicySource {
  migrationThreshold?: number | 'INFINITY' | undefined;
  failureTimeout?: number | undefined;
  onFail?: OnFail | undefined;
  requires?: Requires | undefined;
  targetRole?: TargetRole | undefined;
  managed?: boolean | undefined;
}

function inherit(own: PolicySource, parent: EffectivePolicy): EffectivePolicy {
  return {
    migrationThreshold: thresholdOf(own.migrationThreshold) ?? parent.migrationThreshold,
    failureTimeout: own.failureTimeout ?? parent.failureTimeout,
    onFail: own.onFail ?? parent.onFail,
    requires: own.requires ?? parent.requires,
    targetRole: parent.targetRole === 'stopped' ? 'stopped' : (own.targetRole ?? parent.targetRole),
    managed: parent.managed && (own.managed ?? true),
  };
}

export function factsOf(config: Config, status: Status, now: number): Facts {
  const c = config.cluster;
  const fencingOn = c.fencing ?? DEFAULTS.fencing;
  const quorumOk = (status.quorum ?? true) || (c.noQuorumPolicy ?? DEFAULTS.noQuorumPolicy) === 'ignore';
  const clusterMaintenance = c.maintenance ?? false;
  const canFence = fencingOn && quorumOk && !clusterMaintenance;
  const d = c.defaults ?? {};
  const clusterPolicy: EffectivePolicy = {
    migrationThreshold: thresholdOf(d.migrationThreshold) ?? DEFAULTS.migrationThreshold,
    failureTimeout: d.failureTimeout ?? DEFAULTS.failureTimeout,
    onFail: d.onFail,
    requires: d.requires ?? (fencingOn ? 'fencing' : 'quorum'),
    targetRole: 'started',
    managed: true,
  };

  const nodes = new Map<string, NodeFacts>();
  for (const n of config.nodes) {
    const s = status.nodes[n.name];
    nodes.set(n.name, {
      name: n.name,
      state: s?.state ?? 'offline',
      standby: (n.standby ?? false) || (s?.standby ?? false),
      maintenance: (n.maintenance ?? false) || (s?.maintenance ?? false),
      fencing: s?.fencing ?? false,
      attributes: n.attributes ?? {},
    });
  }

  const tops = new Map<string, TopFacts>();
  const prims = new Map<string, PrimFacts>();
  for (const r of config.resources ?? []) {
    const cloned = r.type === 'clone' || r.type === 'promotable';
    const top: TopFacts = {
      id: r.id,
      kind: r.type,
      isClone: cloned,
      promotable: r.type === 'promotable',
      maxCopies: cloned ? r.maxCopies : 1,
      maxPerNode: cloned ? (r.maxPerNode ?? DEFAULTS.maxPerNode) : 1,
      promotedMax: r.type === 'promotable' ? (r.promotedMax ?? DEFAULTS.promotedMax) : 0,
      promotedMaxPerNode: r.type === 'promotable' ? (r.promotedMaxPerNode ?? DEFAULTS.promotedMaxPerNode) : 0,
      interleave: cloned ? (r.interleave ?? false) : false,
      prims: [],
    };
    const topPolicy = inherit(r, clusterPolicy);
    const inner = cloned ? r.of : r;
    const innerPolicy = inner === r ? topPolicy : inherit(inner, topPolicy);
    const members: Primitive[] = inner.type === 'group' ? inner.members : [inner as Primitive];
    members.forEach((m, position) => {
      const p: PrimFacts = {
        id: m.id,
        top,
        position,
        policy: m === inner ? innerPolicy : inherit(m, innerPolicy),
        operations: m.operations ?? [],
      };
      top.prims.push(p);
      prims.set(m.id, p);
    });
    tops.set(r.id, top);
  }

  // Failures by primitive and node, with expiry.
  const failures = new Map<string, FailureFacts[]>();
  for (const f of status.failures ?? []) {
    const id = baseOf(f.resource);
    const timeout = prims.get(id)?.policy.failureTimeout ?? clusterPolicy.failureTimeout;
    if (timeout > 0 && now - f.last >= timeout) continue;
    const k = `${id}@${f.node}`;
    const list = failures.get(k) ?? [];
    list.push({ operation: f.operation ?? 'monitor', count: f.count === 'INFINITY' ? INFINITY : f.count, last: f.last });
    failures.set(k, list);
  }
  const lastFailure = (prim: string, node: string): FailureFacts | undefined => {
    let best: FailureFacts | undefined;
    for (const f of failures.get(`${prim}@${node}`) ?? []) if (!best || f.last > best.last) best = f;
    return best;
  };
  const failCount = (prim: string, node: string): number => {
    let n = 0;
    for (const f of failures.get(`${prim}@${node}`) ?? []) {
      if (f.operation === 'start') return INFINITY;
      n += f.count;
    }
    return Math.min(n, INFINITY);
  };
  const onFail = (prim: PrimFacts, operation: FailureFacts['operation']): OnFail => {
    const op = prim.operations.find((o) => o.name === operation && o.onFail !== undefined);
    if (op?.onFail) return op.onFail;
    if (operation === 'stop') return fencingOn ? 'fence' : 'block';
    return prim.policy.onFail ?? DEFAULTS.onFail;
  };

  const copiesOf = (prim: string, node: string): CopyState[] => {
    const out: CopyState[] = [];
    for (const [key, perNode] of Object.entries(status.resources ?? {})) {
      if (baseOf(key) !== prim) continue;
      const c = perNode[node];
      if (c) out.push(c.state);
    }
    return out;
  };

  const fenceSet = new Set<string>();
  const standbyByFailure = new Set<string>();
  for (const n of nodes.values()) {
    if (n.state === 'unclean' && !n.fencing && canFence) fenceSet.add(n.name);
    if (n.state !== 'online') continue;
    for (const p of prims.values()) {
      const f = lastFailure(p.id, n.name);
      if (!f) continue;
      const what = onFail(p, f.operation);
      if (what === 'fence' && canFence && !n.maintenance && copiesOf(p.id, n.name).includes('failed')) fenceSet.add(n.name);
      if (what === 'standby') standbyByFailure.add(n.name);
    }
  }

  const frozen = new Map<string, string>();
  for (const [key, perNode] of Object.entries(status.resources ?? {})) {
    const prim = prims.get(baseOf(key));
    for (const [nodeName, copy] of Object.entries(perNode)) {
      const n = nodes.get(nodeName);
      if (!n) continue;
      const id = copyId(key, nodeName);
      const mayRun = ACTIVE_STATES.has(copy.state) || copy.state === 'unknown';
      if (n.state === 'unclean') {
        // With fencing off, an unclean node is taken as down (nothing there requires fencing then);
        // so is a copy that does not require fencing on a node whose fence is already under way.
        const takenAsDown = n.fencing && prim !== undefined && prim.policy.requires !== 'fencing';
        if (fencingOn && !fenceSet.has(n.name) && mayRun && !takenAsDown) frozen.set(id, `${nodeName} is unclean and is not fenced in this plan`);
        continue;
      }
      if (n.state === 'online' && n.fencing && !fenceSet.has(n.name) && mayRun) {
        // A fence under way of a node that still answers: what runs there waits for it.
        frozen.set(id, `a fence of ${nodeName} is under way`);
        continue;
      }
      if (n.state !== 'online' || fenceSet.has(n.name) || !ACTIVE_STATES.has(copy.state)) continue;
      if (clusterMaintenance) frozen.set(id, 'the cluster is in maintenance');
      else if (n.maintenance) frozen.set(id, `${nodeName} is in maintenance`);
      else if (prim && !prim.policy.managed) frozen.set(id, `${prim.id} is unmanaged`);
      else if (prim && copy.state === 'failed' && onFail(prim, lastFailure(prim.id, nodeName)?.operation ?? 'monitor') === 'block') {
        frozen.set(id, `${prim.id} failed there with on-fail block`);
      }
    }
  }

  // A group stops in reverse order on a node: a member before one that is left as it is cannot
  // stop either (its stop would have to wait for a stop that never comes).
  for (const top of tops.values()) {
    if (top.prims.length < 2) continue;
    // Every slot the status records, also those beyond maxPerNode (left from an older config).
    let slots = top.maxPerNode;
    for (const key of Object.keys(status.resources ?? {})) {
      const m = /^(.+):(\d+)$/.exec(key);
      if (m && top.prims.some((p) => p.id === m[1])) slots = Math.max(slots, Number(m[2]) + 1);
    }
    for (const n of nodes.values()) {
      for (let slot = 0; slot < slots; slot++) {
        const key = (p: PrimFacts) => (slot === 0 ? p.id : `${p.id}:${slot}`);
        let holder: string | undefined;
        for (let i = top.prims.length - 1; i >= 0; i--) {
          const p = top.prims[i]!;
          const id = copyId(key(p), n.name);
          if (frozen.has(id)) {
            holder ??= p.id;
            continue;
          }
          const state = status.resources?.[key(p)]?.[n.name]?.state;
          if (holder !== undefined && state !== undefined && ACTIVE_STATES.has(state) && n.state === 'online' && !fenceSet.has(n.name)) {
            frozen.set(id, `${holder} after it in group ${top.id} is left as it is`);
          }
        }
      }
    }
  }

  const locations = (config.constraints ?? []).filter((x) => x.type === 'location');
  const bannedByLocation = (top: string, node: string, promoted: boolean): string | undefined => {
    const n = nodes.get(node);
    for (const l of locations) {
      if (l.resource !== top) continue;
      const role = l.role ?? 'started';
      if (promoted ? role !== 'promoted' : role !== 'started') continue;
      if (l.node === node && (l.score ?? 0) <= -INFINITY) return `location ${l.id}`;
      for (const rule of l.rules ?? []) if (rule.score <= -INFINITY && ruleMatches(rule, node, n?.attributes)) return `location ${l.id} (rule)`;
    }
    return undefined;
  };
  const bannedByFailures = (top: string, node: string): string | undefined => {
    for (const p of tops.get(top)?.prims ?? []) {
      const count = failCount(p.id, node);
      if (count > 0 && count >= p.policy.migrationThreshold) return `${p.id} failed ${count >= INFINITY ? 'to start' : `${count} times`} on ${node} (threshold ${p.policy.migrationThreshold})`;
    }
    return undefined;
  };
  const cannotHost = (node: string): string | undefined => {
    const n = nodes.get(node);
    if (!n) return 'not a configured node';
    if (clusterMaintenance) return 'the cluster is in maintenance';
    if (n.state !== 'online') return `${node} is ${n.state}`;
    if (n.fencing) return `a fence of ${node} is under way`;
    if (fenceSet.has(node)) return `${node} is to be fenced`;
    if (n.maintenance) return `${node} is in maintenance`;
    if (n.standby) return `${node} is in standby`;
    if (standbyByFailure.has(node)) return `${node} is in standby (a failure there has on-fail standby)`;
    return undefined;
  };

  return {
    config,
    status,
    now,
    fencingOn,
    quorumOk,
    canFence,
    clusterMaintenance,
    nodes,
    tops,
    prims,
    fenceSet,
    standbyByFailure,
    frozen,
    lastFailure,
    failCount,
    onFail,
    bannedByLocation,
    bannedByFailures,
    cannotHost,
  };
}

/** The plan's DAG with reachability queries. */
export class Dag {
  readonly byId = new Map<string, Action>();
  private readonly parents = new Map<string, string[]>();
  private readonly ancestorCache = new Map<string, Set<string>>();

  constructor(readonly plan: Plan) {
    for (const a of plan.actions) this.byId.set(a.id, a);
    for (const [before, after] of plan.edges) {
      const list = this.parents.get(after) ?? [];
      list.push(before);
      this.parents.set(after, list);
    }
  }

  /** Every action that must complete before `id` starts. */
  ancestors(id: string): Set<string> {
    let out = this.ancestorCache.get(id);
    if (out) return out;
    out = new Set();
    const stack = [...(this.parents.get(id) ?? [])];
    while (stack.length) {
      const x = stack.pop()!;
      if (out.has(x)) continue;
      out.add(x);
      for (const p of this.parents.get(x) ?? []) stack.push(p);
    }
    this.ancestorCache.set(id, out);
    return out;
  }

  /** A cycle of the DAG, if any (as a list of ids). */
  findCycle(): string[] | undefined {
    const children = new Map<string, string[]>();
    for (const [b, a] of this.plan.edges) {
      const list = children.get(b) ?? [];
      list.push(a);
      children.set(b, list);
    }
    const color = new Map<string, 1 | 2>();
    const path: string[] = [];
    const visit = (id: string): string[] | undefined => {
      color.set(id, 1);
      path.push(id);
      for (const c of children.get(id) ?? []) {
        const k = color.get(c);
        if (k === 1) return [...path.slice(path.indexOf(c)), c];
        if (k === undefined) {
          const found = visit(c);
          if (found) return found;
        }
      }
      path.pop();
      color.set(id, 2);
      return undefined;
    };
    for (const id of new Set([...this.byId.keys(), ...children.keys()])) {
      if (color.has(id)) continue;
      const found = visit(id);
      if (found) return found;
    }
    return undefined;
  }
}
