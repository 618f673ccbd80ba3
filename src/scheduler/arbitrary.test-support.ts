// Random but valid clusters for the scheduler's property tests: a fast-check arbitrary of a
// configuration, a status consistent with it, and the planning time. Test support only: nothing
// in production imports this file (its name keeps it out of the test runner's file list too).
//
// Values are drawn as a flat "raw" record of small numbers and enums, and then built into a
// config and a status; references between parts (a constraint naming a resource, a copy on a
// node) are indexes taken modulo what exists. That keeps shrinking effective: fast-check shrinks
// the raw record, and every shrunk record still builds. Whatever the schema or the whole-config
// checks (src/config/validate.ts, src/config/status.ts) refuse is repaired (a faulty constraint is
// dropped) or, rarely, filtered out; `generationStats` counts both.

import fc from 'fast-check';
import { stringify } from 'yaml';
import { checkStatus } from '../config/status.js';
import { validateConfig } from '../config/validate.js';
import { configSchema, NO_QUORUM_POLICIES, ON_FAIL, PLACEMENT_STRATEGIES, REQUIRES, TARGET_ROLES, type Config } from '../model/config.js';
import { COPY_STATES, statusSchema, type Status } from '../model/status.js';

/** 2026-11-24T10:00:00Z: the planning time of every scenario. */
export const NOW = Date.UTC(2026, 10, 24, 10, 0, 0);

export interface Scenario {
  readonly config: Config;
  readonly status: Status;
  readonly now: number;
  /** As written in a file: for the counterexample report. */
  readonly configInput: unknown;
  readonly statusInput: unknown;
}

/** How many drawn scenarios were built, repaired, or thrown away (and why). */
export const generationStats = { built: 0, repairedConstraints: 0, rejected: 0, rejectReasons: new Map<string, number>() };

// --- raw draws ---------------------------------------------------------------------------

/** Mostly absent: undefined `weight` times out of `weight + 1`. Shrinks to absent. */
function rare<T>(arb: fc.Arbitrary<T>, weight = 3): fc.Arbitrary<T | undefined> {
  return fc.oneof({ withCrossShrink: true }, { arbitrary: fc.constant(undefined), weight }, { arbitrary: arb, weight: 1 });
}

const scoreArb: fc.Arbitrary<number | string> = fc.oneof({ withCrossShrink: true }, 
  { arbitrary: fc.integer({ min: -200, max: 200 }), weight: 3 },
  { arbitrary: fc.constantFrom<number | string>('INFINITY', '-INFINITY'), weight: 3 },
  { arbitrary: fc.constantFrom<number | string>(1_000_000, -1_000_000, 999_999, -999_999, '+INFINITY'), weight: 1 },
);

const policyArb = fc.record({
  stickiness: rare(fc.oneof({ withCrossShrink: true }, fc.integer({ min: 0, max: 200 }), fc.constant('INFINITY'))),
  migrationThreshold: rare(fc.oneof({ withCrossShrink: true }, fc.integer({ min: 1, max: 3 }), fc.constant('INFINITY' as const))),
  failureTimeout: rare(fc.constantFrom('30s', '10m', '1h')),
  onFail: rare(fc.constantFrom(...ON_FAIL)),
  requires: rare(fc.constantFrom(...REQUIRES)),
  targetRole: rare(fc.constantFrom(...TARGET_ROLES), 8),
  managed: rare(fc.constant(false), 12),
  priority: rare(fc.integer({ min: 0, max: 5 }), 6),
});
type PolicyRaw = typeof policyArb extends fc.Arbitrary<infer T> ? T : never;

const operationArb = fc.record({
  name: fc.constantFrom('monitor', 'monitor', 'start', 'stop', 'promote', 'demote'),
  interval: fc.constantFrom('5s', '10s', '30s'),
  timeout: rare(fc.constantFrom('10s', '60s')),
  role: rare(fc.constantFrom('started', 'unpromoted', 'promoted')),
  onFail: rare(fc.constantFrom(...ON_FAIL), 2),
});
type OperationRaw = typeof operationArb extends fc.Arbitrary<infer T> ? T : never;

const primitiveArb = fc.record({
  agent: fc.constantFrom('process', 'vip', 'ocf:heartbeat:IPaddr2'),
  policy: policyArb,
  operations: fc.array(operationArb, { maxLength: 3 }),
  utilization: rare(fc.record({ cpu: fc.integer({ min: 0, max: 4 }), mem: fc.integer({ min: 0, max: 4 }) })),
});
type PrimitiveRaw = typeof primitiveArb extends fc.Arbitrary<infer T> ? T : never;

const resourceArb = fc.record({
  kind: fc.constantFrom('primitive', 'primitive', 'group', 'clone', 'clone-of-group', 'promotable', 'promotable'),
  policy: policyArb,
  innerPolicy: policyArb,
  members: fc.array(primitiveArb, { minLength: 2, maxLength: 4 }),
  maxCopies: rare(fc.integer({ min: 1, max: 6 }), 2),
  maxPerNode: rare(fc.integer({ min: 1, max: 3 }), 3),
  interleave: rare(fc.boolean(), 1),
  promotedMax: rare(fc.integer({ min: 1, max: 2 }), 1),
  promotedMaxPerNode: rare(fc.integer({ min: 1, max: 2 }), 4),
  /** Position in the random topological order colocations follow (primary before dependent). */
  colocationRank: fc.nat({ max: 20 }),
  /** Position in the random topological order orders follow (first before then). */
  orderRank: fc.nat({ max: 20 }),
});
type ResourceRaw = typeof resourceArb extends fc.Arbitrary<infer T> ? T : never;

const ATTRIBUTES = ['rack', 'ssd', 'mem', 'zone', '#uname', 'gpu'] as const;
const EXPRESSION_OPS = ['eq', 'ne', 'lt', 'gt', 'lte', 'gte', 'defined', 'not-defined'] as const;

const expressionArb = fc.record({
  attribute: fc.constantFrom(...ATTRIBUTES),
  op: fc.constantFrom(...EXPRESSION_OPS),
  /** Picks the compared value from the attribute's pool (or a node name for #uname). */
  value: fc.nat({ max: 16 }),
});

const ruleArb = fc.record({
  score: scoreArb,
  match: rare(fc.constantFrom('all', 'any')),
  expressions: fc.array(expressionArb, { minLength: 1, maxLength: 2 }),
});

const constraintArb = fc.oneof({ withCrossShrink: true }, 
  fc.record({
    type: fc.constant('location' as const),
    resource: fc.nat(),
    byRules: fc.boolean(),
    node: fc.nat(),
    score: scoreArb,
    rules: fc.array(ruleArb, { minLength: 1, maxLength: 2 }),
    role: rare(fc.constantFrom('started', 'promoted', 'unpromoted'), 4),
  }),
  fc.record({
    type: fc.constant('colocation' as const),
    a: fc.nat(),
    b: fc.nat(),
    score: scoreArb,
    role: rare(fc.constantFrom('started', 'promoted', 'unpromoted'), 4),
    withRole: rare(fc.constantFrom('started', 'promoted', 'unpromoted'), 4),
  }),
  fc.record({
    type: fc.constant('order' as const),
    a: fc.nat(),
    b: fc.nat(),
    kind: rare(fc.constantFrom('mandatory', 'optional', 'serialize')),
    firstAction: rare(fc.constantFrom('start', 'stop', 'promote', 'demote'), 4),
    thenAction: rare(fc.constantFrom('start', 'stop', 'promote', 'demote'), 4),
    symmetrical: rare(fc.boolean()),
  }),
);
type ConstraintRaw = typeof constraintArb extends fc.Arbitrary<infer T> ? T : never;

const nodeArb = fc.record({
  rack: rare(fc.constantFrom('a', 'b'), 1),
  ssd: rare(fc.boolean(), 1),
  mem: rare(fc.integer({ min: 1, max: 64 }), 1),
  zone: rare(fc.constantFrom('z1', 'z2'), 2),
  capacity: rare(fc.record({ cpu: fc.integer({ min: 0, max: 8 }), mem: fc.integer({ min: 0, max: 8 }) }), 2),
  standby: rare(fc.constant(true), 12),
  maintenance: rare(fc.constant(true), 15),
});
type NodeRaw = typeof nodeArb extends fc.Arbitrary<infer T> ? T : never;

const clusterArb = fc.record({
  fencing: rare(fc.boolean(), 1),
  noQuorumPolicy: rare(fc.constantFrom(...NO_QUORUM_POLICIES), 2),
  symmetric: rare(fc.constant(false), 4),
  placementStrategy: rare(fc.constantFrom(...PLACEMENT_STRATEGIES), 2),
  stopOrphans: rare(fc.constant(false), 4),
  maintenance: rare(fc.constant(true), 20),
  defaults: rare(
    fc.record({
      stickiness: rare(fc.integer({ min: 0, max: 200 })),
      migrationThreshold: rare(fc.integer({ min: 1, max: 3 })),
      failureTimeout: rare(fc.constantFrom('1m', '10m')),
      onFail: rare(fc.constantFrom(...ON_FAIL)),
      requires: rare(fc.constantFrom(...REQUIRES)),
      operationTimeout: rare(fc.constantFrom('15s', '90s')),
    }),
    2,
  ),
});
type ClusterRaw = typeof clusterArb extends fc.Arbitrary<infer T> ? T : never;

const nodeStatusArb = fc.record({
  state: fc.oneof({ withCrossShrink: true }, 
    { arbitrary: fc.constant('online' as const), weight: 8 },
    { arbitrary: fc.constant('unclean' as const), weight: 2 },
    { arbitrary: fc.constant('offline' as const), weight: 1 },
    { arbitrary: fc.constant('fenced' as const), weight: 1 },
  ),
  standby: rare(fc.constant(true), 12),
  maintenance: rare(fc.constant(true), 15),
  /** A fence of the node is under way: true counts for unclean nodes only, 'any' for online ones too. */
  fencing: rare(fc.constantFrom(true, true, true, 'any' as const), 3),
  probed: rare(fc.constant(false), 8),
});
type NodeStatusRaw = typeof nodeStatusArb extends fc.Arbitrary<infer T> ? T : never;

const copyArb = fc.record({
  resource: fc.nat(),
  member: fc.nat(),
  /** Clone slot: 0 mostly; may exceed maxPerNode - 1 (a copy left from an older config). */
  slot: fc.oneof({ withCrossShrink: true }, { arbitrary: fc.constant(0), weight: 8 }, { arbitrary: fc.integer({ min: 1, max: 3 }), weight: 1 }),
  node: fc.nat(),
  state: fc.oneof({ withCrossShrink: true }, 
    { arbitrary: fc.constant('started' as const), weight: 6 },
    { arbitrary: fc.constantFrom(...COPY_STATES), weight: 4 },
  ),
  /** Mostly reported: without one a copy is not promoted. */
  promotionScore: fc.oneof({ withCrossShrink: true }, { arbitrary: fc.constant(undefined), weight: 1 }, { arbitrary: fc.integer({ min: -10, max: 100 }), weight: 3 }),
  /** For a failed copy of a promotable: it was promoted when it failed. */
  promoted: rare(fc.constant(true), 2),
  monitors: rare(fc.subarray(['5s', '10s', '30s', '1m']), 4),
});
type CopyRaw = typeof copyArb extends fc.Arbitrary<infer T> ? T : never;

const failureArb = fc.record({
  resource: fc.nat(),
  member: fc.nat(),
  /** Name the failure by a clone slot key (`p:1`) rather than the primitive id. */
  bySlot: rare(fc.constant(true), 6),
  node: fc.nat(),
  count: fc.oneof({ withCrossShrink: true }, { arbitrary: fc.integer({ min: 1, max: 4 }), weight: 5 }, { arbitrary: fc.constant('INFINITY' as const), weight: 1 }),
  /** How long ago it failed, in seconds (up to two hours; a few in the future). */
  age: fc.integer({ min: -60, max: 7200 }),
  operation: rare(fc.constantFrom('monitor', 'start', 'stop', 'promote', 'demote'), 1),
});
type FailureRaw = typeof failureArb extends fc.Arbitrary<infer T> ? T : never;

const orphanArb = fc.record({
  name: fc.constantFrom('old-db', 'legacy-vip', 'old-db:1'),
  node: fc.nat(),
  state: fc.constantFrom(...COPY_STATES),
});

const statusArb = fc.record({
  nodes: fc.array(nodeStatusArb, { minLength: 8, maxLength: 8 }),
  quorum: rare(fc.constant(false), 5),
  copies: fc.array(copyArb, { maxLength: 24 }),
  failures: fc.array(failureArb, { maxLength: 6 }),
  orphans: fc.array(orphanArb, { maxLength: 2 }),
});
type StatusRaw = typeof statusArb extends fc.Arbitrary<infer T> ? T : never;

export interface ScenarioRaw {
  readonly cluster: ClusterRaw;
  readonly rings: number;
  readonly nodes: readonly NodeRaw[];
  readonly resources: readonly ResourceRaw[];
  readonly constraints: readonly ConstraintRaw[];
  readonly status: StatusRaw;
}

export interface ScenarioOptions {
  readonly maxNodes?: number;
  readonly maxResources?: number;
  readonly maxConstraints?: number;
}

export const scenarioRawArb = (opts: ScenarioOptions = {}): fc.Arbitrary<ScenarioRaw> =>
  fc.record({
    cluster: clusterArb,
    rings: fc.integer({ min: 0, max: 2 }),
    nodes: fc.array(nodeArb, { minLength: 1, maxLength: opts.maxNodes ?? 8 }),
    resources: fc.array(resourceArb, { maxLength: opts.maxResources ?? 7 }),
    constraints: fc.array(constraintArb, { maxLength: opts.maxConstraints ?? 10 }),
    status: statusArb,
  });

/** Random valid scenarios (config, status consistent with it, now). */
export const scenarioArb = (opts: ScenarioOptions = {}): fc.Arbitrary<Scenario> =>
  scenarioRawArb(opts)
    .map(build)
    .filter((s): s is Scenario => s !== undefined);

// --- building ----------------------------------------------------------------------------

type Json = Record<string, unknown>;

/** Drops undefined fields, so the file reads as written by hand and optional fields stay absent. */
function compact<T extends Json>(o: T): T {
  const out: Json = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

interface Shape {
  readonly id: string;
  readonly kind: 'primitive' | 'group' | 'clone' | 'promotable';
  readonly prims: readonly string[];
  readonly cloned: boolean;
  readonly promotable: boolean;
  readonly maxPerNode: number;
  readonly colocationRank: number;
  readonly orderRank: number;
  readonly index: number;
}

interface Ctx {
  readonly fencing: boolean;
}

function policyInput(p: PolicyRaw, ctx: Ctx, promotable: boolean): Json {
  let onFail = p.onFail;
  if (onFail === 'fence' && !ctx.fencing) onFail = 'stop';
  if (onFail === 'demote' && !promotable) onFail = 'restart';
  let requires = p.requires;
  if (requires === 'fencing' && !ctx.fencing) requires = 'quorum';
  let targetRole = p.targetRole;
  if ((targetRole === 'promoted' || targetRole === 'unpromoted') && !promotable) targetRole = 'started';
  return compact({
    stickiness: p.stickiness,
    migrationThreshold: p.migrationThreshold,
    failureTimeout: p.failureTimeout,
    onFail,
    requires,
    targetRole,
    managed: p.managed,
    priority: p.priority,
  });
}

function operationsInput(ops: readonly OperationRaw[], ctx: Ctx, promotable: boolean): Json[] | undefined {
  const out: Json[] = [];
  const seen = new Set<string>();
  for (const op of ops) {
    if ((op.name === 'promote' || op.name === 'demote') && !promotable) continue;
    const monitor = op.name === 'monitor';
    const role = monitor && (promotable || op.role === 'started') ? op.role : undefined;
    let onFail = op.onFail;
    if (onFail === 'fence' && !ctx.fencing) onFail = 'block';
    if (onFail === 'demote' && !(promotable && (op.name === 'promote' || (monitor && role === 'promoted')))) onFail = 'restart';
    const key = `${op.name}/${monitor ? op.interval : ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(compact({ name: op.name, interval: monitor ? op.interval : undefined, timeout: op.timeout, role, onFail }));
  }
  return out.length ? out : undefined;
}

function primitiveInput(id: string, p: PrimitiveRaw, ctx: Ctx, promotable: boolean): Json {
  return compact({
    type: 'primitive',
    id,
    agent: p.agent,
    operations: operationsInput(p.operations, ctx, promotable),
    utilization: p.utilization,
    ...policyInput(p.policy, ctx, promotable),
  });
}

function resourceInput(r: ResourceRaw, index: number, ctx: Ctx): { input: Json; shape: Shape } {
  const ranks = { colocationRank: r.colocationRank, orderRank: r.orderRank, index };
  const memberIds = (prefix: string) => r.members.map((_, k) => `${prefix}${String.fromCharCode(97 + k)}`);
  const cloneFields = (promotable: boolean) => {
    let maxCopies = r.maxCopies;
    let maxPerNode = r.maxPerNode;
    if (maxCopies !== undefined && maxPerNode !== undefined && maxPerNode > maxCopies) maxPerNode = maxCopies;
    if (!promotable) return compact({ maxCopies, maxPerNode, interleave: r.interleave });
    const promotedMax = r.promotedMax;
    if (maxCopies !== undefined && (promotedMax ?? 1) > maxCopies) maxCopies = promotedMax ?? 1;
    let promotedMaxPerNode = r.promotedMaxPerNode;
    if (promotedMaxPerNode !== undefined && promotedMaxPerNode > (maxPerNode ?? 1)) promotedMaxPerNode = undefined;
    return compact({ maxCopies, maxPerNode, interleave: r.interleave, promotedMax, promotedMaxPerNode });
  };
  switch (r.kind) {
    case 'primitive': {
      const id = `p${index}`;
      return {
        input: primitiveInput(id, { ...r.members[0]!, policy: r.policy }, ctx, false),
        shape: { id, kind: 'primitive', prims: [id], cloned: false, promotable: false, maxPerNode: 1, ...ranks },
      };
    }
    case 'group': {
      const id = `g${index}`;
      const ids = memberIds(id);
      return {
        input: compact({ type: 'group', id, members: r.members.map((m, k) => primitiveInput(ids[k]!, m, ctx, false)), ...policyInput(r.policy, ctx, false) }),
        shape: { id, kind: 'group', prims: ids, cloned: false, promotable: false, maxPerNode: 1, ...ranks },
      };
    }
    case 'clone': {
      const id = `c${index}`;
      const fields = cloneFields(false);
      const inner = primitiveInput(`${id}p`, { ...r.members[0]!, policy: r.innerPolicy }, ctx, false);
      return {
        input: compact({ type: 'clone', id, of: inner, ...fields, ...policyInput(r.policy, ctx, false) }),
        shape: { id, kind: 'clone', prims: [`${id}p`], cloned: true, promotable: false, maxPerNode: (fields['maxPerNode'] as number | undefined) ?? 1, ...ranks },
      };
    }
    case 'clone-of-group': {
      const id = `c${index}`;
      const gid = `${id}g`;
      const ids = memberIds(gid);
      const fields = cloneFields(false);
      const inner = compact({ type: 'group', id: gid, members: r.members.map((m, k) => primitiveInput(ids[k]!, m, ctx, false)), ...policyInput(r.innerPolicy, ctx, false) });
      return {
        input: compact({ type: 'clone', id, of: inner, ...fields, ...policyInput(r.policy, ctx, false) }),
        shape: { id, kind: 'clone', prims: ids, cloned: true, promotable: false, maxPerNode: (fields['maxPerNode'] as number | undefined) ?? 1, ...ranks },
      };
    }
    case 'promotable': {
      const id = `m${index}`;
      const fields = cloneFields(true);
      const inner = primitiveInput(`${id}p`, { ...r.members[0]!, policy: r.innerPolicy }, ctx, true);
      return {
        input: compact({ type: 'promotable', id, of: inner, ...fields, ...policyInput(r.policy, ctx, true) }),
        shape: { id, kind: 'promotable', prims: [`${id}p`], cloned: true, promotable: true, maxPerNode: (fields['maxPerNode'] as number | undefined) ?? 1, ...ranks },
      };
    }
    default:
      throw new Error(`unknown kind ${r.kind}`);
  }
}

const ATTRIBUTE_VALUES: Record<string, readonly (string | number | boolean)[]> = {
  rack: ['a', 'b', 'c'],
  ssd: [true, false],
  mem: [8, 16, 32, 48],
  zone: ['z1', 'z2'],
  gpu: ['yes', 1],
};

function expressionInput(e: { readonly attribute: string; readonly op: string; readonly value: number }, nodes: readonly string[]): Json {
  if (e.op === 'defined' || e.op === 'not-defined') return { attribute: e.attribute, op: e.op };
  const pool = e.attribute === '#uname' ? nodes : (ATTRIBUTE_VALUES[e.attribute] ?? ['x']);
  return { attribute: e.attribute, op: e.op, value: pool[e.value % pool.length] };
}

function constraintInput(c: ConstraintRaw, index: number, shapes: readonly Shape[], nodes: readonly string[]): Json | undefined {
  if (shapes.length === 0) return undefined;
  const roleFor = (role: string | undefined, s: Shape) => (role === undefined || s.promotable ? role : role === 'started' ? role : undefined);
  switch (c.type) {
    case 'location': {
      const s = shapes[c.resource % shapes.length]!;
      const base = { type: 'location', id: `loc${index}`, resource: s.id, role: roleFor(c.role, s) };
      if (c.byRules) {
        return compact({
          ...base,
          rules: c.rules.map((r) => compact({ score: r.score, match: r.match, expressions: r.expressions.map((e) => expressionInput(e, nodes)) })),
        });
      }
      return compact({ ...base, node: nodes[c.node % nodes.length], score: c.score });
    }
    case 'colocation': {
      const x = shapes[c.a % shapes.length]!;
      const y = shapes[c.b % shapes.length]!;
      if (x === y) return undefined;
      // Acyclic by construction: the primary comes first in a random topological order.
      const before = (p: Shape, q: Shape) => p.colocationRank < q.colocationRank || (p.colocationRank === q.colocationRank && p.index < q.index);
      const [primary, dependent] = before(x, y) ? [x, y] : [y, x];
      return compact({
        type: 'colocation',
        id: `col${index}`,
        resource: dependent.id,
        with: primary.id,
        score: c.score,
        role: roleFor(c.role, dependent),
        withRole: roleFor(c.withRole, primary),
      });
    }
    case 'order': {
      const x = shapes[c.a % shapes.length]!;
      const y = shapes[c.b % shapes.length]!;
      if (x === y) return undefined;
      const before = (p: Shape, q: Shape) => p.orderRank < q.orderRank || (p.orderRank === q.orderRank && p.index < q.index);
      const [first, then] = before(x, y) ? [x, y] : [y, x];
      const action = (a: string | undefined, s: Shape) => (a === 'promote' || a === 'demote') && !s.promotable ? (a === 'promote' ? 'start' : 'stop') : a;
      const symmetrical = c.kind === 'serialize' && c.symmetrical === true ? undefined : c.symmetrical;
      return compact({
        type: 'order',
        id: `ord${index}`,
        first: first.id,
        then: then.id,
        kind: c.kind,
        firstAction: action(c.firstAction, first),
        thenAction: action(c.thenAction, then),
        symmetrical,
      });
    }
  }
}

function nodeInput(n: NodeRaw, index: number, rings: number): Json {
  const name = `n${index + 1}`;
  const addresses: Record<string, string> = {};
  for (let r = 0; r < rings; r++) addresses[`ring${r}`] = `10.${r}.0.${index + 1}`;
  const attributes = compact({ rack: n.rack, ssd: n.ssd, mem: n.mem, zone: n.zone });
  return compact({
    name,
    addresses: rings ? addresses : undefined,
    attributes: Object.keys(attributes).length ? attributes : undefined,
    capacity: n.capacity,
    standby: n.standby,
    maintenance: n.maintenance,
  });
}

function statusInput(raw: StatusRaw, nodes: readonly string[], shapes: readonly Shape[]): Json {
  const nodeStatus: Record<string, Json> = {};
  nodes.forEach((name, i) => {
    const n = raw.nodes[i]!;
    // A fence under way is news about an unclean node; now and then, about an online one.
    const fencing = (n.fencing === true && n.state === 'unclean') || (n.fencing === 'any' && (n.state === 'unclean' || n.state === 'online')) ? true : undefined;
    nodeStatus[name] = compact({ state: n.state, standby: n.standby, maintenance: n.maintenance, fencing, probed: n.state === 'online' ? n.probed : undefined });
  });
  const resources: Record<string, Record<string, unknown>> = {};
  for (const c of raw.copies) {
    if (shapes.length === 0) break;
    const s = shapes[c.resource % shapes.length]!;
    const prim = s.prims[c.member % s.prims.length]!;
    const slot = s.cloned ? c.slot % (s.maxPerNode + 1) : 0;
    const key = slot === 0 ? prim : `${prim}:${slot}`;
    const node = nodes[c.node % nodes.length]!;
    const state = c.state === 'promoted' && !s.promotable ? 'started' : c.state;
    const extra = compact({
      promotionScore: s.promotable ? c.promotionScore : undefined,
      promoted: s.promotable && state === 'failed' ? c.promoted : undefined,
      monitors: state === 'started' || state === 'promoted' ? c.monitors : undefined,
    });
    (resources[key] ??= {})[node] = Object.keys(extra).length ? { state, ...extra } : state;
  }
  for (const o of raw.orphans) (resources[o.name] ??= {})[nodes[o.node % nodes.length]!] = o.state;
  const failures: Json[] = [];
  for (const f of raw.failures) {
    if (shapes.length === 0) break;
    const s = shapes[f.resource % shapes.length]!;
    const prim = s.prims[f.member % s.prims.length]!;
    failures.push(
      compact({
        resource: f.bySlot && s.cloned && s.maxPerNode > 1 ? `${prim}:1` : prim,
        node: nodes[f.node % nodes.length],
        count: f.count,
        last: NOW - f.age * 1000,
        operation: f.operation,
      }),
    );
  }
  return compact({
    quorum: raw.quorum,
    nodes: nodeStatus,
    resources: Object.keys(resources).length ? resources : undefined,
    failures: failures.length ? failures : undefined,
  });
}

function reject(reason: string): undefined {
  generationStats.rejected++;
  generationStats.rejectReasons.set(reason, (generationStats.rejectReasons.get(reason) ?? 0) + 1);
  return undefined;
}

/** Builds a scenario from raw draws; undefined if no valid one comes out of it. */
export function build(raw: ScenarioRaw): Scenario | undefined {
  const ctx: Ctx = { fencing: raw.cluster.fencing ?? true };
  const nodes = raw.nodes.map((n, i) => nodeInput(n, i, raw.rings));
  const nodeNames = nodes.map((n) => n['name'] as string);
  const built = raw.resources.map((r, i) => resourceInput(r, i, ctx));
  const shapes = built.map((b) => b.shape);
  let constraints = raw.constraints.map((c, i) => constraintInput(c, i, shapes, nodeNames)).filter((c): c is Json => c !== undefined);
  const d = raw.cluster.defaults;
  const defaults = d
    ? compact({
        stickiness: d.stickiness,
        migrationThreshold: d.migrationThreshold,
        failureTimeout: d.failureTimeout,
        onFail: d.onFail === 'fence' && !ctx.fencing ? 'stop' : d.onFail === 'demote' ? 'restart' : d.onFail,
        requires: d.requires === 'fencing' && !ctx.fencing ? 'quorum' : d.requires,
        operationTimeout: d.operationTimeout,
      })
    : undefined;
  const cluster = compact({
    name: 'prop',
    fencing: raw.cluster.fencing,
    noQuorumPolicy: raw.cluster.noQuorumPolicy,
    symmetric: raw.cluster.symmetric,
    placementStrategy: raw.cluster.placementStrategy,
    stopOrphans: raw.cluster.stopOrphans,
    maintenance: raw.cluster.maintenance,
    defaults: defaults && Object.keys(defaults).length ? defaults : undefined,
  });
  const rings = raw.rings ? Array.from({ length: raw.rings }, (_, r) => ({ name: `ring${r}`, port: 5405 + r })) : undefined;

  let config: Config | undefined;
  let configInput: Json | undefined;
  for (let attempt = 0; attempt < 6; attempt++) {
    configInput = compact({
      cluster,
      rings,
      nodes,
      resources: built.length ? built.map((b) => b.input) : undefined,
      constraints: constraints.length ? constraints : undefined,
    });
    const parsed = configSchema.safeParse(configInput);
    if (!parsed.success) return reject(`schema: ${parsed.error.issues[0]?.message ?? '?'} at ${parsed.error.issues[0]?.path.join('.') ?? '?'}`);
    const problems = validateConfig(parsed.data);
    if (problems.length === 0) {
      config = parsed.data;
      break;
    }
    // Repair: drop the constraints the problems point at; for a resource that can run nowhere,
    // drop its bans (and, in an opt-in cluster, allow it on a node).
    const drop = new Set<number>();
    const extra: Json[] = [];
    let repairable = true;
    for (const p of problems) {
      if (p.path[0] === 'constraints' && typeof p.path[1] === 'number') drop.add(p.path[1]);
      else if (p.path[0] === 'resources' && typeof p.path[1] === 'number' && p.message.includes('can run on no node')) {
        const id = shapes[p.path[1]]!.id;
        constraints.forEach((c, i) => {
          if (c['type'] === 'location' && c['resource'] === id) drop.add(i);
        });
        if (raw.cluster.symmetric === false) extra.push({ type: 'location', id: `allow-${id}`, resource: id, node: nodeNames[0], score: 0 });
      } else repairable = false;
    }
    if (!repairable) return reject(`validate: ${problems.map((p) => p.message).join('; ')}`);
    generationStats.repairedConstraints += drop.size;
    constraints = [...constraints.filter((_, i) => !drop.has(i)), ...extra.filter((e) => !constraints.some((c) => c['id'] === e['id']))];
  }
  if (config === undefined || configInput === undefined) return reject('validate: not repaired');

  const sInput = statusInput(raw.status, nodeNames, shapes);
  const parsedStatus = statusSchema.safeParse(sInput);
  if (!parsedStatus.success) return reject(`status schema: ${parsedStatus.error.issues[0]?.message ?? '?'}`);
  const statusProblems = checkStatus(parsedStatus.data, config);
  if (statusProblems.length) return reject(`status: ${statusProblems[0]!.message}`);
  generationStats.built++;
  return { config, status: parsedStatus.data, now: NOW, configInput, statusInput: sInput };
}

/** The scenario as YAML, for a counterexample report. */
export function scenarioYaml(s: Scenario): string {
  return [
    `# now: ${new Date(s.now).toISOString()} (${s.now})`,
    '# --- config',
    stringify(s.configInput).trimEnd(),
    '# --- status',
    stringify(s.statusInput).trimEnd(),
  ].join('\n');
}
