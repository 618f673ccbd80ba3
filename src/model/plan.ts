// A plan: what the scheduler wants done, as a DAG of actions, each with the reason it exists,
// and the placement scores that led to it. The executor runs it; `haven plan` prints it.

import type { Score } from './units.js';

export const ACTION_KINDS = [
  'fence',
  'stop',
  'start',
  'promote',
  'demote',
  'monitor-start',
  'monitor-stop',
  'probe',
  'clear-failures',
  'pseudo',
] as const;
/**
 * fence: power a node off for sure. stop/start/promote/demote: a resource copy's operations.
 * monitor-start/monitor-stop: begin or cancel a recurring monitor. probe: find out what runs on a
 * node (one resource, or all of them when no resource is named). clear-failures: forget expired
 * failures. pseudo: a point in the DAG that runs nothing (e.g. "all probes done").
 */
export type ActionKind = (typeof ACTION_KINDS)[number];

export interface Action {
  /** Stable and readable: `start web@n2`, `fence n1`, `monitor-start web@n2/10s`. */
  readonly id: string;
  readonly kind: ActionKind;
  /** Primitive (copy) id; absent for fence, node-wide probe and pseudo actions. */
  readonly resource?: string;
  readonly node?: string;
  /** monitor-start / monitor-stop: the monitor's interval in ms. */
  readonly interval?: number;
  /** Operation timeout in ms. */
  readonly timeout?: number;
  /** Nothing is executed: the action is implied (a stop on a node being fenced). */
  readonly implied?: boolean;
  /** Why this action exists, in words an operator reads. */
  readonly reason: string;
}

/** `before` must complete successfully before `after` starts. */
export type Edge = readonly [before: string, after: string];

/** One score contribution to a resource's placement on a node ("*": every node). */
export interface ScoreContribution {
  readonly node: string;
  readonly score: Score;
  /** What contributed: `location loc-1`, `stickiness`, `colocation c1 with db`, `failures (3 ≥ 3)`, … */
  readonly source: string;
}

export interface Placement {
  /** The resource (primitive, group, clone or promotable id). */
  readonly resource: string;
  /** Where copies are to run after the plan; empty when stopped. */
  readonly nodes: readonly string[];
  /** For promotable clones: where copies are to be promoted. */
  readonly promoted?: readonly string[];
  /** Score on every node without an explicit contribution. */
  readonly baseScore: Score;
  /** Final scores of the nodes that have explicit contributions, by node. */
  readonly scores: Readonly<Record<string, Score>>;
  readonly contributions: readonly ScoreContribution[];
  /** Why it was placed where it was (or not placed). */
  readonly decision: string;
}

export const TRANSITION_KINDS = [
  'start',
  'stop',
  'restart',
  'recover',
  'move',
  'promote',
  'demote',
  'fence',
  'probe',
  'clear',
  'blocked',
] as const;
export type TransitionKind = (typeof TRANSITION_KINDS)[number];

/** One line of the readable summary: what happens to a resource copy or node, and why. */
export interface Transition {
  readonly kind: TransitionKind;
  /** Primitive copy id, or a node name for fence. */
  readonly subject: string;
  readonly from?: string;
  readonly to?: string;
  readonly reason: string;
}

export interface Plan {
  readonly actions: readonly Action[];
  readonly edges: readonly Edge[];
  readonly transitions: readonly Transition[];
  readonly placements: readonly Placement[];
  /** Cluster-wide observations: lost quorum, nodes waiting for fencing, config warnings. */
  readonly notes: readonly string[];
}
