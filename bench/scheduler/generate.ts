// Synthetic clusters for the scheduler bench, made the same way every time from a seed.
//
// A cluster of N nodes and R primitives (R a multiple of 4): R/4 groups of 4 `process`
// primitives, each with a 10 s monitor. Consecutive groups are paired: group 2k+1 runs with
// group 2k (+INFINITY colocation) and starts after it (mandatory order). Every 10th group prefers
// one node (score 100); every 100th group (offset 52) prefers the nodes of one rack (a rule on a
// node attribute, score 50). Nodes carry zone, rack and ssd attributes.
//
// Two snapshots per cluster:
//   cold start: every node online but not probed yet, no resource records (nothing known);
//   steady:     the outcome of the cold start's plan (applyPlan), so planning it again finds
//               nothing to do.
//
// No Math.random: a seeded PRNG (mulberry32) makes the same cluster for the same spec.

import { configSchema, type Config, type ConfigInput } from '../../src/model/config.js';
import type { Plan } from '../../src/model/plan.js';
import type { Status } from '../../src/model/status.js';
import { formatDuration } from '../../src/model/units.js';
import { plan } from '../../src/scheduler/index.js';
import { applyPlan } from '../../src/scheduler/simulate.js';

/** When every generated snapshot was taken, and the `now` the bench plans at: 2026-01-01T00:00:00Z. */
export const BENCH_NOW = Date.UTC(2026, 0, 1);

/** Primitives per group. */
export const GROUP_SIZE = 4;
/** Monitor interval and timeout of every primitive, in ms. */
export const MONITOR_INTERVAL = 10_000;
export const MONITOR_TIMEOUT = 20_000;

export interface ClusterSpec {
  readonly nodes: number;
  /** Primitives; a multiple of GROUP_SIZE. */
  readonly resources: number;
  readonly seed?: number;
  /**
   * Cluster-wide fencing (default true). The Pacemaker comparison turns it off: a CIB with
   * stonith-enabled and no fence device starts nothing, so the two schedulers would not be
   * planning the same thing.
   */
  readonly fencing?: boolean;
}

export const DEFAULT_SEED = 20260101;

/** mulberry32: a small, fast, seeded PRNG; returns floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function pad(i: number, width: number): string {
  return String(i).padStart(width, '0');
}

/** Nodes per rack (the rack attribute). */
const RACK_SIZE = 16;
const ZONES = 4;

export function nodeName(i: number, total: number): string {
  return `n${pad(i, String(total - 1).length)}`;
}

export function groupId(g: number, groups: number): string {
  return `g${pad(g, String(groups - 1).length)}`;
}

type NodeInput = ConfigInput['nodes'][number];
type ResourceInput = NonNullable<ConfigInput['resources']>[number];
type ConstraintInput = NonNullable<ConfigInput['constraints']>[number];

/** The config as a file would say it (durations with units, scores as written). */
export function generateConfigInput(spec: ClusterSpec): ConfigInput {
  if (!Number.isInteger(spec.nodes) || spec.nodes < 1) throw new RangeError(`nodes must be a positive integer, not ${spec.nodes}`);
  if (!Number.isInteger(spec.resources) || spec.resources < GROUP_SIZE || spec.resources % GROUP_SIZE !== 0) {
    throw new RangeError(`resources must be a positive multiple of ${GROUP_SIZE}, not ${spec.resources}`);
  }
  const rnd = prng(spec.seed ?? DEFAULT_SEED);
  const pick = (n: number): number => Math.floor(rnd() * n);
  const racks = Math.max(1, Math.ceil(spec.nodes / RACK_SIZE));

  const nodes: NodeInput[] = [];
  for (let i = 0; i < spec.nodes; i++) {
    nodes.push({
      name: nodeName(i, spec.nodes),
      attributes: { zone: `z${i % ZONES}`, rack: `r${Math.floor(i / RACK_SIZE)}`, ssd: rnd() < 0.5 },
    });
  }

  const groups = spec.resources / GROUP_SIZE;
  const resources: ResourceInput[] = [];
  const constraints: ConstraintInput[] = [];
  for (let g = 0; g < groups; g++) {
    const id = groupId(g, groups);
    const members: Array<Extract<ResourceInput, { type: 'primitive' }>> = [];
    for (let m = 1; m <= GROUP_SIZE; m++) {
      members.push({
        type: 'primitive',
        id: `${id}-${m}`,
        agent: 'process',
        params: { command: `/usr/bin/sleep-service ${id}-${m}` },
        operations: [{ name: 'monitor', interval: formatDuration(MONITOR_INTERVAL), timeout: formatDuration(MONITOR_TIMEOUT) }],
      });
    }
    resources.push({ type: 'group', id, members });

    if (g % 2 === 1) {
      const primary = groupId(g - 1, groups);
      constraints.push({ type: 'colocation', id: `col-${id}`, resource: id, with: primary, score: 'INFINITY' });
      constraints.push({ type: 'order', id: `ord-${id}`, first: primary, then: id, kind: 'mandatory' });
    }
    if (g % 10 === 0) {
      constraints.push({ type: 'location', id: `loc-${id}`, resource: id, node: nodeName(pick(spec.nodes), spec.nodes), score: 100 });
    } else if (g % 100 === 52) {
      constraints.push({
        type: 'location',
        id: `loc-${id}`,
        resource: id,
        rules: [{ score: 50, expressions: [{ attribute: 'rack', op: 'eq', value: `r${pick(racks)}` }] }],
      });
    }
  }

  return {
    cluster: { name: `bench-${spec.nodes}x${spec.resources}`, fencing: spec.fencing ?? true },
    nodes,
    resources,
    constraints,
  };
}

/** The config as Haven reads it: generateConfigInput through the config schema. */
export function generateConfig(spec: ClusterSpec): Config {
  return configSchema.parse(generateConfigInput(spec));
}

/** Every node online and not probed yet; nothing recorded about any resource. */
export function coldStatus(config: Config): Status {
  const nodes: Status['nodes'] = {};
  for (const n of config.nodes) nodes[n.name] = { state: 'online', probed: false };
  return { time: BENCH_NOW, quorum: true, nodes, resources: {}, failures: [] };
}

/** The status after the cold start's plan ran to completion, and that plan. */
export function steadyStatus(config: Config, cold: Status = coldStatus(config)): { status: Status; coldPlan: Plan } {
  const coldPlan = plan(config, cold, BENCH_NOW);
  return { status: applyPlan(cold, coldPlan), coldPlan };
}

export interface BenchCluster {
  readonly spec: ClusterSpec;
  readonly config: Config;
  readonly cold: Status;
  readonly steady: Status;
  /** Actions of the plan made for the steady snapshot, which must be none. */
  readonly steadyActions: number;
}

/** The config and both snapshots of a spec; checks that the steady snapshot plans nothing. */
export function generateCluster(spec: ClusterSpec): BenchCluster {
  const config = generateConfig(spec);
  const cold = coldStatus(config);
  const { status: steady } = steadyStatus(config, cold);
  const steadyActions = plan(config, steady, BENCH_NOW).actions.length;
  return { spec, config, cold, steady, steadyActions };
}
