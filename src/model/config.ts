// The cluster configuration: its schema (what a YAML file may say) and the types the rest of
// Haven reads. Parsing turns durations into milliseconds and scores into integers; every other
// field keeps the name it has in the file, so an error path is also a path in the file.
//
// Cross-references (a constraint naming a resource, a node naming a ring) and whole-config rules
// (no order cycles, no impossible constraints) are checked in src/config/validate.ts.

import { z } from 'zod';
import { parseDuration, parseScore } from './units.js';

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
export const id = z
  .string()
  .regex(ID_RE, { error: 'must start with a letter or digit and hold only letters, digits, "_", "." and "-"' });

export const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration; write it with a unit, e.g. 500ms, 10s, 2m` });
    return z.NEVER;
  }
  return ms;
});

export const score = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const s = parseScore(value);
  if (s === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a score; use an integer, INFINITY or -INFINITY` });
    return z.NEVER;
  }
  return s;
});

/** Stickiness: a score that may not be negative (a resource that prefers to leave would flap). */
export const nonNegativeScore = score.refine((s) => s >= 0, {
  error: 'must not be negative: a resource that prefers to leave where it runs would move back and forth',
});

export const attributeValue = z.union([z.string(), z.number(), z.boolean()]);

export const ON_FAIL = ['restart', 'stop', 'block', 'fence', 'standby', 'demote'] as const;
export type OnFail = (typeof ON_FAIL)[number];
export const REQUIRES = ['fencing', 'quorum', 'nothing'] as const;
export type Requires = (typeof REQUIRES)[number];
export const TARGET_ROLES = ['stopped', 'started', 'unpromoted', 'promoted'] as const;
export type TargetRole = (typeof TARGET_ROLES)[number];
export const ROLES = ['started', 'promoted', 'unpromoted'] as const;
export type Role = (typeof ROLES)[number];
export const ACTIONS = ['start', 'stop', 'promote', 'demote'] as const;
export type ResourceAction = (typeof ACTIONS)[number];
export const NO_QUORUM_POLICIES = ['stop', 'freeze', 'demote', 'ignore'] as const;
export type NoQuorumPolicy = (typeof NO_QUORUM_POLICIES)[number];
export const PLACEMENT_STRATEGIES = ['default', 'utilization', 'balanced'] as const;
export type PlacementStrategy = (typeof PLACEMENT_STRATEGIES)[number];

/** Agent kinds Haven can run; `ocf:<provider>:<type>` names an OCF resource agent. */
export const AGENT_RE = /^(process|vip|haproxy|ocf:[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+)$/;

export const operationSchema = z.strictObject({
  name: z.enum(['start', 'stop', 'monitor', 'promote', 'demote']),
  /** Monitors only: how often it runs; other operations run once. */
  interval: duration.optional(),
  timeout: duration.optional(),
  /** Monitors only: run this monitor while the copy has this role (promotable clones). */
  role: z.enum(['started', 'unpromoted', 'promoted']).optional(),
  /** What a failure of this operation leads to; overrides the resource's onFail. */
  onFail: z.enum(ON_FAIL).optional(),
});
export type Operation = z.output<typeof operationSchema>;

/** Per-resource policy, settable on any resource and inherited by the members of a group or clone. */
const policyFields = {
  description: z.string().optional(),
  /** Preference for staying where it runs now (≥ 0: a negative one would make it flap). */
  stickiness: nonNegativeScore.optional(),
  /** Failures on a node before the resource is moved away from it. */
  migrationThreshold: z.union([z.number().int().min(1), z.literal('INFINITY')]).optional(),
  /** Age after which failures no longer count. */
  failureTimeout: duration.optional(),
  onFail: z.enum(ON_FAIL).optional(),
  /** What must be true before the resource may start: fenced unclean nodes, quorum, or nothing. */
  requires: z.enum(REQUIRES).optional(),
  targetRole: z.enum(TARGET_ROLES).optional(),
  managed: z.boolean().optional(),
  /** Higher-priority resources are placed first when capacity is short. */
  priority: z.number().int().optional(),
};

export const primitiveSchema = z.strictObject({
  type: z.literal('primitive'),
  id,
  agent: z.string().regex(AGENT_RE, {
    error: 'must be process, vip, haproxy or ocf:<provider>:<type> (for example ocf:heartbeat:IPaddr2)',
  }),
  params: z.record(z.string(), attributeValue).optional(),
  operations: z.array(operationSchema).optional(),
  /** What one copy uses of a node's capacity. */
  utilization: z.record(z.string(), z.number().nonnegative()).optional(),
  ...policyFields,
});
export type Primitive = z.output<typeof primitiveSchema>;

export const groupSchema = z.strictObject({
  type: z.literal('group'),
  id,
  /** Started in this order on one node, stopped in reverse. */
  members: z.array(primitiveSchema).min(1, { error: 'a group needs at least one member' }),
  ...policyFields,
});
export type Group = z.output<typeof groupSchema>;

const cloneFields = {
  /** Copies in the cluster; default: one per eligible node. */
  maxCopies: z.number().int().min(1).optional(),
  /** Copies on one node; default 1. */
  maxPerNode: z.number().int().min(1).optional(),
  /** Ordering and colocation with other clones apply copy by copy on each node. */
  interleave: z.boolean().optional(),
};

export const cloneSchema = z.strictObject({
  type: z.literal('clone'),
  id,
  of: z.discriminatedUnion('type', [primitiveSchema, groupSchema]),
  ...cloneFields,
  ...policyFields,
});
export type Clone = z.output<typeof cloneSchema>;

export const promotableSchema = z.strictObject({
  type: z.literal('promotable'),
  id,
  of: primitiveSchema,
  ...cloneFields,
  /** Promoted (primary) copies in the cluster; default 1. */
  promotedMax: z.number().int().min(1).optional(),
  /** Promoted copies on one node; default 1. */
  promotedMaxPerNode: z.number().int().min(1).optional(),
  ...policyFields,
});
export type Promotable = z.output<typeof promotableSchema>;

export const resourceSchema = z.discriminatedUnion('type', [primitiveSchema, groupSchema, cloneSchema, promotableSchema]);
export type Resource = z.output<typeof resourceSchema>;

export const expressionSchema = z.strictObject({
  /** A node attribute, or #uname for the node's name. */
  attribute: z.string().min(1),
  op: z.enum(['eq', 'ne', 'lt', 'gt', 'lte', 'gte', 'defined', 'not-defined']),
  value: attributeValue.optional(),
});
export type Expression = z.output<typeof expressionSchema>;

export const ruleSchema = z.strictObject({
  score,
  /** all: every expression must hold (and); any: one is enough (or). */
  match: z.enum(['all', 'any']).optional(),
  expressions: z.array(expressionSchema).min(1, { error: 'a rule needs at least one expression' }),
});
export type Rule = z.output<typeof ruleSchema>;

export const locationSchema = z.strictObject({
  type: z.literal('location'),
  id,
  resource: id,
  /** With score: a preference for (or against) one node. */
  node: z.string().optional(),
  score: score.optional(),
  /** Or: scores for the nodes whose attributes match. */
  rules: z.array(ruleSchema).min(1).optional(),
  /** Only for this role of a promotable clone. */
  role: z.enum(ROLES).optional(),
});
export type Location = z.output<typeof locationSchema>;

export const colocationSchema = z.strictObject({
  type: z.literal('colocation'),
  id,
  /** The dependent: placed after, and relative to, `with`. */
  resource: id,
  with: id,
  score,
  role: z.enum(ROLES).optional(),
  withRole: z.enum(ROLES).optional(),
});
export type Colocation = z.output<typeof colocationSchema>;

export const orderSchema = z.strictObject({
  type: z.literal('order'),
  id,
  first: id,
  firstAction: z.enum(ACTIONS).optional(),
  then: id,
  thenAction: z.enum(ACTIONS).optional(),
  /** mandatory: `then` needs `first`; optional: ordering only when both happen; serialize: never at once. */
  kind: z.enum(['mandatory', 'optional', 'serialize']).optional(),
  /** Stops (or the inverse actions) run in reverse order; default true except for serialize. */
  symmetrical: z.boolean().optional(),
});
export type Order = z.output<typeof orderSchema>;

export const constraintSchema = z.discriminatedUnion('type', [locationSchema, colocationSchema, orderSchema]);
export type Constraint = z.output<typeof constraintSchema>;

export const ringSchema = z.strictObject({
  name: id,
  /** UDP port heartbeats use on this ring. */
  port: z.number().int().min(1).max(65535).optional(),
});
export type Ring = z.output<typeof ringSchema>;

export const nodeSchema = z.strictObject({
  name: id,
  /** One address per heartbeat ring, keyed by ring name. */
  addresses: z.record(z.string(), z.string().min(1)).optional(),
  attributes: z.record(z.string(), attributeValue).optional(),
  /** What the node offers to resources' utilization (with placementStrategy utilization or balanced). */
  capacity: z.record(z.string(), z.number().nonnegative()).optional(),
  standby: z.boolean().optional(),
  maintenance: z.boolean().optional(),
});
export type NodeConfig = z.output<typeof nodeSchema>;

export const defaultsSchema = z.strictObject({
  stickiness: nonNegativeScore.optional(),
  migrationThreshold: z.union([z.number().int().min(1), z.literal('INFINITY')]).optional(),
  failureTimeout: duration.optional(),
  onFail: z.enum(ON_FAIL).optional(),
  requires: z.enum(REQUIRES).optional(),
  /** Timeout of operations that set none. */
  operationTimeout: duration.optional(),
});

/** How agents send heartbeats and how long a ring may be silent (see docs/detection.md). */
export const heartbeatSchema = z.strictObject({
  /** How often an agent sends a heartbeat on each ring. */
  interval: duration.optional(),
  /** Silence on one ring for this long marks that ring down for the node; all rings down: suspect. */
  ringTimeout: duration.optional(),
});
export type HeartbeatPolicy = z.output<typeof heartbeatSchema>;

/** Quorum and agent leases (see docs/safety.md). */
export const quorumSchema = z.strictObject({
  /**
   * How long an agent's lease lasts from the moment it sent the heartbeat a quorate controller
   * answered. An agent whose lease lapses applies noQuorumPolicy to what needs quorum.
   */
  lease: duration.optional(),
  /** Votes the controller brings (a tie-breaker, as a quorum device); nodes have one each. */
  controllerVotes: z.number().int().min(0).max(1000).optional(),
});
export type QuorumPolicy = z.output<typeof quorumSchema>;

/** Distributed confirmation: before fencing a node it lost, the controller asks the node's peers. */
export const confirmationSchema = z.strictObject({
  /** Agents heartbeat each other too, and a node its peers still hear is not fenced. Default true. */
  enabled: z.boolean().optional(),
  /** How long the controller waits for the peers' answers. */
  timeout: duration.optional(),
  /**
   * How many peers hear each node: the next ones in `nodes` order, wrapping round (a node sends
   * its peer heartbeats to them, and the controller asks them). Bounds the peer traffic and the
   * questions per lost node; with fewer other nodes, all of them. Default 4.
   */
  peers: z.number().int().min(1).max(64).optional(),
});
export type ConfirmationPolicy = z.output<typeof confirmationSchema>;

export const clusterSchema = z.strictObject({
  name: id,
  /** Fence unclean nodes before recovering what ran there. */
  fencing: z.boolean().optional(),
  noQuorumPolicy: z.enum(NO_QUORUM_POLICIES).optional(),
  /** true: resources may run anywhere unless constrained; false: only where a location allows. */
  symmetric: z.boolean().optional(),
  placementStrategy: z.enum(PLACEMENT_STRATEGIES).optional(),
  /** Stop resources found running that are no longer configured. */
  stopOrphans: z.boolean().optional(),
  /** The whole cluster in maintenance: observe, never act. */
  maintenance: z.boolean().optional(),
  defaults: defaultsSchema.optional(),
  heartbeat: heartbeatSchema.optional(),
  quorum: quorumSchema.optional(),
  confirmation: confirmationSchema.optional(),
  /** TCP port every agent serves its HTTP API on, at its address on the first ring. */
  agentPort: z.number().int().min(1).max(65535).optional(),
});
export type ClusterPolicy = z.output<typeof clusterSchema>;

/** A controller: agents send heartbeats to it on every ring and it serves the API. */
export const controllerSchema = z.strictObject({
  name: id,
  /** One address per heartbeat ring, keyed by ring name; heartbeats go to each. */
  addresses: z.record(z.string(), z.string().min(1)),
  /** TCP port of the controller's HTTP API (agents' reports, the CLI). */
  apiPort: z.number().int().min(1).max(65535).optional(),
});
export type ControllerConfig = z.output<typeof controllerSchema>;

/** A fence device: how to power a node off for sure. `lab`: the lab's power switch. */
export const fenceDeviceSchema = z.strictObject({
  id,
  agent: z.string().regex(/^(lab|fence_[A-Za-z0-9_]+)$/, { error: 'must be lab or a fence agent such as fence_ipmilan' }),
  params: z.record(z.string(), attributeValue).optional(),
  /** The nodes this device can fence. */
  nodes: z.array(id).min(1, { error: 'a fence device fences at least one node' }),
  timeout: duration.optional(),
  /** Unfencing: run `on` with this device when a fenced node rejoins, or on `haven node unfence`. */
  unfence: z.boolean().optional(),
  /** After a successful `off`, ask `status` and count the fence only once the device says off. */
  verify: z.boolean().optional(),
});
export type FenceDevice = z.output<typeof fenceDeviceSchema>;

/** A node's fencing levels, tried in order; every device of a level must succeed (src/fencing/topology.ts). */
export const fenceTopologySchema = z.strictObject({
  node: id,
  levels: z.array(z.array(id).min(1, { error: 'a fencing level names at least one device' })).min(1, { error: 'a fencing topology has at least one level' }),
});
export type FenceTopology = z.output<typeof fenceTopologySchema>;

export const configSchema = z.strictObject({
  cluster: clusterSchema,
  rings: z.array(ringSchema).optional(),
  nodes: z.array(nodeSchema).min(1, { error: 'a cluster needs at least one node' }),
  controllers: z.array(controllerSchema).optional(),
  fenceDevices: z.array(fenceDeviceSchema).optional(),
  fenceTopology: z.array(fenceTopologySchema).optional(),
  resources: z.array(resourceSchema).optional(),
  constraints: z.array(constraintSchema).optional(),
});
/** A configuration as parsed; cross-references are checked by src/config/validate.ts. */
export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

/** The effective defaults, as Pacemaker has them unless Haven has a reason to differ. */
export const DEFAULTS = {
  fencing: true,
  noQuorumPolicy: 'stop' as NoQuorumPolicy,
  symmetric: true,
  placementStrategy: 'default' as PlacementStrategy,
  stopOrphans: true,
  stickiness: 0,
  migrationThreshold: 1_000_000,
  failureTimeout: 0,
  onFail: 'restart' as OnFail,
  operationTimeout: 20_000,
  promotedMax: 1,
  promotedMaxPerNode: 1,
  maxPerNode: 1,
  /** 20 heartbeats a second per ring: cheap on a LAN, and six of them fit in one ringTimeout. */
  heartbeatInterval: 50,
  /** Six missed heartbeats; with a 10 ms detector tick a dead node is suspect ≈ 0.31 s after it was last heard. */
  ringTimeout: 300,
  /** An agent's lease: long enough to ride out a controller restart, short enough to bound self-fencing. */
  lease: 3000,
  /** Votes of the controller: with two nodes it is the third voter that breaks the tie. */
  controllerVotes: 1,
  /** Distributed confirmation is on, and peers have this long to answer. */
  confirmation: true,
  confirmationTimeout: 200,
  confirmationPeers: 4,
  /** UDP port of a ring that sets none (Corosync's). */
  ringPort: 5405,
  /** TCP port of an agent's API. */
  agentPort: 7410,
  /** TCP port of a controller's API. */
  apiPort: 7400,
} as const;
