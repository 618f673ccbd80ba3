// The pure decision core: plan(config, status, now) → Plan. No I/O, no clock, no randomness:
// the same input gives the same plan, byte for byte.

import type { Config } from '../model/config.js';
import type { Placement, Plan } from '../model/plan.js';
import type { Status } from '../model/status.js';

import { buildGraph } from './actions.js';
import { allocate, type Target } from './allocate.js';
import { buildClusterView, type ClusterView } from './cluster.js';
import { enforcePrerequisites } from './constraints.js';
import { assess, type Situation } from './situation.js';

export function plan(config: Config, status: Status, now: number): Plan {
  const view = buildClusterView(config, status, now);
  const sit = assess(view);
  // Place, drop what cannot run, and place again without it, so that nothing is placed around a
  // resource that will not run (a colocation with it, a share of a node's capacity).
  let { targets } = allocate(view, sit);
  let unrunnable = enforcePrerequisites(view, targets);
  for (let pass = 0; pass < 3 && unrunnable.size > 0; pass++) {
    const again = allocate(view, sit, unrunnable);
    const more = enforcePrerequisites(view, again.targets);
    targets = again.targets;
    if ([...more.keys()].every((k) => unrunnable.has(k))) break;
    for (const [k, why] of more) if (!unrunnable.has(k)) (unrunnable as Map<number, string>).set(k, why);
  }
  const graph = buildGraph(view, sit, targets);
  return {
    actions: graph.actions,
    edges: graph.edges,
    transitions: graph.transitions,
    placements: view.tops.map((t) => placementOf(view, targets.get(t.id)!)),
    notes: graph.notes,
  };
}

function placementOf(view: ClusterView, t: Target): Placement {
  const scores: Record<string, number> = {};
  const byNode = <T>(m: Map<number, T>): Array<[number, T]> => (m.size < 2 ? [...m] : [...m].sort((a, b) => a[0] - b[0]));
  for (const [n, s] of byNode(t.scores)) scores[view.nodes[n]!.name] = s;
  const nodes: string[] = [];
  for (const [n, count] of byNode(t.copies)) for (let i = 0; i < count; i++) nodes.push(view.nodes[n]!.name);
  return {
    resource: t.top.id,
    nodes,
    ...(t.top.promotable ? { promoted: [...t.promoted].sort((a, b) => a - b).map((n) => view.nodes[n]!.name) } : {}),
    baseScore: t.baseScore,
    scores,
    contributions: t.contributions,
    decision: t.decision,
  };
}

/** One row per node for `haven plan --explain`: its score for the resource and why it may or may not host it. */
export interface NodeScoreRow {
  readonly node: string;
  readonly score: number;
  readonly eligible: boolean;
  /** Why the node may not host resources at all, if so. */
  readonly unavailable?: string;
  readonly chosen: boolean;
  readonly promoted: boolean;
}

export interface Explanation {
  readonly placement: Placement;
  readonly rows: readonly NodeScoreRow[];
}

/** Explains one resource's placement; undefined if no such resource is configured. */
export function explain(config: Config, status: Status, now: number, resource: string): Explanation | undefined {
  const result = plan(config, status, now);
  const placement = result.placements.find((p) => p.resource === resource);
  if (!placement) return undefined;
  const view = buildClusterView(config, status, now);
  const sit: Situation = assess(view);
  const rows = view.nodes.map((n) => {
    const score = placement.scores[n.name] ?? placement.baseScore;
    const unavailable = sit.cannotHost.get(n.index);
    return {
      node: n.name,
      score,
      eligible: unavailable === undefined && score >= 0,
      ...(unavailable !== undefined ? { unavailable } : {}),
      chosen: placement.nodes.includes(n.name),
      promoted: placement.promoted?.includes(n.name) ?? false,
    };
  });
  return { placement, rows };
}

