// An indexed, read-only view of config + status + now: effective policies resolved, nodes
// classified, copies and failures looked up by id. Everything the scheduler decides reads this.

import {
  DEFAULTS,
  type Colocation,
  type Config,
  type Location,
  type NoQuorumPolicy,
  type OnFail,
  type Operation,
  type Order,
  type PlacementStrategy,
  type Primitive,
  type Requires,
  type TargetRole,
} from '../model/config.js';
import type { CopyStatus, NodeState, Status } from '../model/status.js';
import { INFINITY } from '../model/units.js';

export interface NodeView {
  readonly name: string;
  readonly index: number;
  readonly state: NodeState;
  readonly standby: boolean;
  readonly maintenance: boolean;
  readonly fencing: boolean;
  readonly probed: boolean;
  /** Unclean, and its agent's lease may not have ended yet: what needs quorum may still run there. */
  readonly leased: boolean;
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  readonly capacity: Readonly<Record<string, number>>;
}

export interface Policy {
  readonly stickiness: number;
  readonly migrationThreshold: number;
  readonly failureTimeout: number;
  readonly onFail: OnFail | undefined;
  readonly requires: Requires;
  readonly targetRole: TargetRole;
  readonly managed: boolean;
  readonly priority: number;
}

export interface MonitorOp {
  readonly interval: number;
  readonly timeout: number;
  /** undefined: any role. */
  readonly role: 'started' | 'unpromoted' | 'promoted' | undefined;
}

export interface PrimView {
  readonly id: string;
  readonly def: Primitive;
  readonly top: TopView;
  /** Position in its group (0 for a lone primitive). */
  readonly position: number;
  readonly policy: Policy;
  readonly monitors: readonly MonitorOp[];
  /** The recurring monitors a copy runs in a role (role-specific ones win for promotable clones). */
  monitorsIn(role: 'started' | 'promoted'): readonly MonitorOp[];
  readonly timeouts: Readonly<Record<'start' | 'stop' | 'promote' | 'demote', number>>;
  readonly utilization: Readonly<Record<string, number>>;
  readonly ops: readonly Operation[];
}

const NO_OPS: readonly Operation[] = [];
const NO_UTILIZATION: Readonly<Record<string, number>> = {};

/** Operation details are worked out on first use: most primitives need none in a steady cycle. */
class Prim implements PrimView {
  readonly id: string;
  private monitorCache: readonly MonitorOp[] | undefined;
  private timeoutCache: Readonly<Record<'start' | 'stop' | 'promote' | 'demote', number>> | undefined;

  constructor(
    readonly def: Primitive,
    readonly top: TopView,
    readonly position: number,
    readonly policy: Policy,
    private readonly opTimeout: number,
  ) {
    this.id = def.id;
  }

  get ops(): readonly Operation[] {
    return this.def.operations ?? NO_OPS;
  }

  get utilization(): Readonly<Record<string, number>> {
    return this.def.utilization ?? NO_UTILIZATION;
  }

  get monitors(): readonly MonitorOp[] {
    return (this.monitorCache ??= this.ops
      .filter((o) => o.name === 'monitor' && (o.interval ?? 0) > 0)
      .map((o) => ({ interval: o.interval ?? 0, timeout: o.timeout ?? this.opTimeout, role: o.role })));
  }

  private startedMonitors: readonly MonitorOp[] | undefined;
  private promotedMonitors: readonly MonitorOp[] | undefined;

  monitorsIn(role: 'started' | 'promoted'): readonly MonitorOp[] {
    if (role === 'promoted') return (this.promotedMonitors ??= this.computeMonitors(role));
    return (this.startedMonitors ??= this.computeMonitors(role));
  }

  private computeMonitors(role: 'started' | 'promoted'): readonly MonitorOp[] {
    const all = this.monitors;
    if (all.length === 0) return all;
    if (!this.top.promotable) return all.filter((m) => m.role !== 'promoted');
    const specific = all.filter((m) => (role === 'promoted' ? m.role === 'promoted' : m.role === 'started' || m.role === 'unpromoted'));
    return specific.length ? specific : all.filter((m) => m.role === undefined);
  }

  get timeouts(): Readonly<Record<'start' | 'stop' | 'promote' | 'demote', number>> {
    const of = (name: string) => this.ops.find((o) => o.name === name)?.timeout ?? this.opTimeout;
    return (this.timeoutCache ??= { start: of('start'), stop: of('stop'), promote: of('promote'), demote: of('demote') });
  }
}

export type TopKind = 'primitive' | 'group' | 'clone' | 'promotable';

export interface TopView {
  readonly id: string;
  readonly index: number;
  readonly kind: TopKind;
  /** The group's id, for a group or a clone of a group. */
  readonly groupId: string | undefined;
  readonly members: PrimView[];
  readonly isClone: boolean;
  readonly promotable: boolean;
  /** undefined: one per node. */
  readonly maxCopies: number | undefined;
  readonly maxPerNode: number;
  /** Copy slots to look at on a node: maxPerNode, or more when the status records extra copies. */
  readonly slots: number;
  readonly promotedMax: number;
  readonly promotedMaxPerNode: number;
  readonly interleave: boolean;
  /** The policy set on the top-level resource itself (members may override). */
  readonly policy: Policy;
  readonly utilization: Readonly<Record<string, number>>;
}

export interface ColocationLink {
  readonly colocation: Colocation;
  /** The other resource of the colocation. */
  readonly other: TopView;
}

export interface FailureView {
  readonly resource: string;
  readonly node: string;
  readonly count: number;
  readonly last: number;
  readonly operation: 'monitor' | 'start' | 'stop' | 'promote' | 'demote';
  /** Older than the resource's failure timeout: no longer counts. */
  readonly expired: boolean;
}

export interface ClusterView {
  readonly config: Config;
  readonly now: number;
  readonly fencing: boolean;
  readonly noQuorumPolicy: NoQuorumPolicy;
  readonly quorum: boolean;
  readonly symmetric: boolean;
  readonly placementStrategy: PlacementStrategy;
  readonly stopOrphans: boolean;
  readonly maintenance: boolean;
  readonly nodes: readonly NodeView[];
  readonly nodeByName: ReadonlyMap<string, NodeView>;
  readonly tops: readonly TopView[];
  readonly topById: ReadonlyMap<string, TopView>;
  readonly primById: ReadonlyMap<string, PrimView>;
  readonly locations: ReadonlyMap<string, readonly Location[]>;
  /** Colocations by dependent resource and by primary (`with`) resource. */
  readonly colocationsOf: ReadonlyMap<string, readonly Colocation[]>;
  readonly colocationsWith: ReadonlyMap<string, readonly Colocation[]>;
  /** By top index: colocations in which the top is the dependent, with the primary resolved. */
  readonly primariesOf: ReadonlyArray<readonly ColocationLink[] | undefined>;
  /** By top index: the clones an interleaved clone must follow (mandatory orders on start or promote). */
  readonly interleavedAfter: ReadonlyArray<readonly { readonly order: Order; readonly first: TopView }[] | undefined>;
  /** By top index: colocations in which the top is the primary, with the dependent resolved. */
  readonly dependentsOf: ReadonlyArray<readonly ColocationLink[] | undefined>;
  readonly orders: readonly Order[];
  /** Copies of a status key (primitive id, or `id:k` for extra copies on a node), by node. */
  copiesOf(key: string): Readonly<Record<string, CopyStatus>> | undefined;
  /** Failures by primitive id (base id, without `:k`), then node. */
  readonly failures: ReadonlyMap<string, ReadonlyMap<string, readonly FailureView[]>>;
  /** Status keys whose primitive is not configured. */
  readonly orphans: readonly string[];
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = m.get(k);
    if (list) list.push(it);
    else m.set(k, [it]);
  }
  return m;
}

/** The primitive id of a status key (`web` or `web:2`). */
export function baseId(key: string): string {
  const i = key.lastIndexOf(':');
  return i > 0 && /^\d+$/.test(key.slice(i + 1)) ? key.slice(0, i) : key;
}

export function slotKey(primId: string, slot: number): string {
  return slot === 0 ? primId : `${primId}:${slot}`;
}

export function buildClusterView(config: Config, status: Status, now: number): ClusterView {
  const c = config.cluster;
  const d = c.defaults ?? {};
  const fencing = c.fencing ?? DEFAULTS.fencing;
  const clusterPolicy: Policy = {
    stickiness: d.stickiness ?? DEFAULTS.stickiness,
    migrationThreshold: threshold(d.migrationThreshold) ?? DEFAULTS.migrationThreshold,
    failureTimeout: d.failureTimeout ?? DEFAULTS.failureTimeout,
    onFail: d.onFail,
    requires: d.requires ?? (fencing ? 'fencing' : 'quorum'),
    targetRole: 'started',
    managed: true,
    priority: 0,
  };
  const opTimeout = d.operationTimeout ?? DEFAULTS.operationTimeout;

  const nodes: NodeView[] = config.nodes.map((n, index) => {
    const s = own(status.nodes, n.name);
    return {
      name: n.name,
      index,
      // A node the status does not mention has never joined: it is offline, and clean.
      state: s?.state ?? 'offline',
      standby: (n.standby ?? false) || (s?.standby ?? false),
      maintenance: (n.maintenance ?? false) || (s?.maintenance ?? false),
      fencing: s?.fencing ?? false,
      probed: s?.probed ?? true,
      leased: s?.leased ?? false,
      attributes: n.attributes ?? {},
      capacity: n.capacity ?? {},
    };
  });
  const nodeByName = new Map(nodes.map((n) => [n.name, n]));

  const tops: TopView[] = [];
  const primById = new Map<string, PrimView>();
  const resources = config.resources ?? [];
  for (let index = 0; index < resources.length; index++) {
    const r = resources[index]!;
    const topPolicy = policyOf(r, clusterPolicy);
    const inner = r.type === 'clone' || r.type === 'promotable' ? r.of : r;
    const innerPolicy = inner === r ? topPolicy : policyOf(inner, topPolicy);
    const prims: Primitive[] = inner.type === 'group' ? inner.members : [inner];
    const top: TopView = {
      id: r.id,
      index,
      kind: r.type,
      groupId: inner.type === 'group' ? inner.id : undefined,
      members: [],
      isClone: r.type === 'clone' || r.type === 'promotable',
      promotable: r.type === 'promotable',
      maxCopies: r.type === 'clone' || r.type === 'promotable' ? r.maxCopies : 1,
      maxPerNode: r.type === 'clone' || r.type === 'promotable' ? (r.maxPerNode ?? DEFAULTS.maxPerNode) : 1,
      slots: r.type === 'clone' || r.type === 'promotable' ? (r.maxPerNode ?? DEFAULTS.maxPerNode) : 1,
      promotedMax: r.type === 'promotable' ? (r.promotedMax ?? DEFAULTS.promotedMax) : 0,
      promotedMaxPerNode: r.type === 'promotable' ? (r.promotedMaxPerNode ?? DEFAULTS.promotedMaxPerNode) : 0,
      interleave: r.type === 'clone' || r.type === 'promotable' ? (r.interleave ?? false) : false,
      policy: topPolicy,
      utilization: {},
    };
    const util: Record<string, number> = {};
    prims.forEach((p, position) => {
      const policy = p === inner ? innerPolicy : policyOf(p, innerPolicy);
      const view = new Prim(p, top, position, policy, opTimeout);
      if (p.utilization) for (const [k, v] of Object.entries(p.utilization)) util[k] = (util[k] ?? 0) + v;
      top.members.push(view);
      primById.set(p.id, view);
    });
    (top as { utilization: Record<string, number> }).utilization = util;
    tops.push(top);
  }
  const topById = new Map(tops.map((t) => [t.id, t]));

  const constraints = config.constraints ?? [];
  const locations = groupBy(
    constraints.filter((x): x is Location => x.type === 'location'),
    (x) => x.resource,
  );
  const colocs = constraints.filter((x): x is Colocation => x.type === 'colocation');
  const orders = constraints.filter((x): x is Order => x.type === 'order');
  const primariesOf: Array<ColocationLink[] | undefined> = new Array(tops.length);
  const dependentsOf: Array<ColocationLink[] | undefined> = new Array(tops.length);
  const interleavedAfter: Array<{ order: Order; first: TopView }[] | undefined> = new Array(tops.length);
  for (const o of orders) {
    const first = topById.get(o.first);
    const then = topById.get(o.then);
    const action = o.firstAction ?? 'start';
    if (!first || !then || !first.isClone || !then.isClone || !then.interleave) continue;
    if ((o.kind ?? 'mandatory') !== 'mandatory' || (action !== 'start' && action !== 'promote')) continue;
    (interleavedAfter[then.index] ??= []).push({ order: o, first });
  }
  for (const c of colocs) {
    const dep = topById.get(c.resource);
    const primary = topById.get(c.with);
    if (!dep || !primary) continue;
    (primariesOf[dep.index] ??= []).push({ colocation: c, other: primary });
    (dependentsOf[primary.index] ??= []).push({ colocation: c, other: dep });
  }

  // Read straight from the status: copying 100,000 records into maps costs more than the lookups.
  const recorded = status.resources ?? {};
  const orphans: string[] = [];
  for (const key in recorded) {
    if (!Object.hasOwn(recorded, key)) continue;
    const base = baseId(key);
    const prim = primById.get(base);
    if (!prim) orphans.push(key);
    else if (base !== key) {
      // An extra copy beyond what the config allows now: look at it, so that it is stopped.
      const slot = Number(key.slice(base.length + 1));
      const top = prim.top as { slots: number };
      if (slot + 1 > top.slots) top.slots = slot + 1;
    }
  }

  const failures = new Map<string, Map<string, FailureView[]>>();
  for (const f of status.failures ?? []) {
    const id = baseId(f.resource);
    const prim = primById.get(id);
    const timeout = prim?.policy.failureTimeout ?? clusterPolicy.failureTimeout;
    const count = f.count === 'INFINITY' ? INFINITY : f.count;
    const view: FailureView = {
      resource: f.resource,
      node: f.node,
      count,
      last: f.last,
      operation: f.operation ?? 'monitor',
      expired: timeout > 0 && now - f.last >= timeout,
    };
    let byNode = failures.get(id);
    if (!byNode) failures.set(id, (byNode = new Map()));
    const list = byNode.get(f.node);
    if (list) list.push(view);
    else byNode.set(f.node, [view]);
  }

  return {
    config,
    now,
    fencing,
    noQuorumPolicy: c.noQuorumPolicy ?? DEFAULTS.noQuorumPolicy,
    quorum: status.quorum ?? true,
    symmetric: c.symmetric ?? DEFAULTS.symmetric,
    placementStrategy: c.placementStrategy ?? DEFAULTS.placementStrategy,
    stopOrphans: c.stopOrphans ?? DEFAULTS.stopOrphans,
    maintenance: c.maintenance ?? false,
    nodes,
    nodeByName,
    tops,
    topById,
    primById,
    locations,
    colocationsOf: groupBy(colocs, (x) => x.resource),
    colocationsWith: groupBy(colocs, (x) => x.with),
    primariesOf,
    dependentsOf,
    interleavedAfter,
    orders,
    copiesOf: (key) => own(recorded, key),
    failures,
    orphans,
  };
}

/** A record's own property (never one inherited from Object.prototype, whatever the key). */
export function own<T extends object>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  if (record === undefined) return undefined;
  const v = record[key];
  // What a plain object inherits is a function (or the prototype itself, for __proto__): not a record.
  if (v === undefined || typeof v === 'function' || v === Object.prototype) return undefined;
  return v;
}

function threshold(v: number | 'INFINITY' | undefined): number | undefined {
  return v === 'INFINITY' ? INFINITY : v;
}

interface PolicyFields {
  stickiness?: number | undefined;
  migrationThreshold?: number | 'INFINITY' | undefined;
  failureTimeout?: number | undefined;
  onFail?: OnFail | undefined;
  requires?: Requires | undefined;
  targetRole?: TargetRole | undefined;
  managed?: boolean | undefined;
  priority?: number | undefined;
}

function policyOf(r: PolicyFields, parent: Policy): Policy {
  if (
    r.stickiness === undefined &&
    r.migrationThreshold === undefined &&
    r.failureTimeout === undefined &&
    r.onFail === undefined &&
    r.requires === undefined &&
    r.targetRole === undefined &&
    r.managed === undefined &&
    r.priority === undefined
  ) {
    return parent; // the common case: shared, not copied
  }
  return {
    stickiness: r.stickiness ?? parent.stickiness,
    migrationThreshold: threshold(r.migrationThreshold) ?? parent.migrationThreshold,
    failureTimeout: r.failureTimeout ?? parent.failureTimeout,
    onFail: r.onFail ?? parent.onFail,
    requires: r.requires ?? parent.requires,
    // A stopped parent stops its members whatever they say; otherwise the member's own role.
    targetRole: parent.targetRole === 'stopped' ? 'stopped' : (r.targetRole ?? parent.targetRole),
    managed: parent.managed === false ? false : (r.managed ?? parent.managed),
    priority: r.priority ?? parent.priority,
  };
}

/** What each primitive requires, with inheritance and defaults; unknown primitives: the cluster default. */
export function requiresOf(config: Config): (primitive: string) => Requires {
  const view = buildClusterView(config, { nodes: {} }, 0);
  const byPrim = new Map<string, Requires>();
  for (const [id, p] of view.primById) byPrim.set(id, p.policy.requires);
  const fencing = config.cluster.fencing ?? DEFAULTS.fencing;
  const fallback: Requires = config.cluster.defaults?.requires ?? (fencing ? 'fencing' : 'quorum');
  return (primitive) => byPrim.get(primitive) ?? fallback;
}

/** Effective fail count of a primitive on a node (expired failures excluded); a failed start is fatal. */
export function failCount(view: ClusterView, primId: string, node: string): number {
  const list = view.failures.get(primId)?.get(node);
  if (!list) return 0;
  let n = 0;
  for (const f of list) {
    if (f.expired) continue;
    if (f.operation === 'start') return INFINITY;
    n += f.count;
  }
  return Math.min(n, INFINITY);
}

/** What a failure of `operation` leads to for this primitive. */
export function onFailOf(view: ClusterView, prim: PrimView, operation: FailureView['operation']): OnFail {
  const op = prim.ops.find((o) => o.name === operation && o.onFail !== undefined);
  if (op?.onFail) return op.onFail;
  if (operation === 'stop') return view.fencing ? 'fence' : 'block';
  return prim.policy.onFail ?? DEFAULTS.onFail;
}

/** The most recent unexpired failure of a primitive on a node. */
export function lastFailure(view: ClusterView, primId: string, node: string): FailureView | undefined {
  const list = view.failures.get(primId)?.get(node);
  let best: FailureView | undefined;
  for (const f of list ?? []) if (!f.expired && (!best || f.last > best.last)) best = f;
  return best;
}
