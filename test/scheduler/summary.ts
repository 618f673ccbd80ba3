// The readable summary of a plan that the scheduler corpus compares against each case's
// expected.txt: notes, then one line per transition, then every action with its reason in an
// order it may run, then the edges. Pure and deterministic: the same plan gives the same text.
//
// The format is deliberately compact and free of column padding so that a change to one action
// changes one line of the expectation, and a reviewer reads a diff, not a re-flowed table.

import type { Action, ActionKind, Plan, Transition, TransitionKind } from '../../src/model/plan.js';
import { formatDuration } from '../../src/model/units.js';

/** Among actions that may run at the same time, the one whose kind comes first here is listed first. */
const ACTION_RANK: Record<ActionKind, number> = {
  fence: 0,
  'clear-failures': 1,
  probe: 2,
  pseudo: 3,
  'monitor-stop': 4,
  demote: 5,
  stop: 6,
  start: 7,
  promote: 8,
  'monitor-start': 9,
};

const TRANSITION_RANK: Record<TransitionKind, number> = {
  fence: 0,
  probe: 1,
  clear: 2,
  demote: 3,
  stop: 4,
  move: 5,
  recover: 6,
  restart: 7,
  start: 8,
  promote: 9,
  blocked: 10,
};

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `move web n1 -> n2`, `stop web@n1`, `start web@n2`, `fence n1`, `blocked db`, `blocked web@n1 (failed)`. */
export function transitionLine(t: Transition): string {
  // A blocked copy carries its condition (failed, stuck) in `from`, not a node.
  if (t.kind === 'blocked') return `blocked ${t.subject}${t.from !== undefined ? ` (${t.from})` : ''}: ${t.reason}`;
  let where = '';
  if (t.from !== undefined && t.to !== undefined && t.from !== t.to) where = ` ${t.from} -> ${t.to}`;
  else if (t.from !== undefined) where = `@${t.from}`;
  else if (t.to !== undefined) where = `@${t.to}`;
  return `${t.kind} ${t.subject}${where}: ${t.reason}`;
}

export function actionLine(a: Action): string {
  const tags: string[] = [];
  if (a.implied) tags.push('implied');
  if (a.kind === 'pseudo') tags.push('pseudo');
  if ((a.kind === 'monitor-start' || a.kind === 'monitor-stop') && a.interval !== undefined && !a.id.includes('/')) {
    tags.push(`every ${formatDuration(a.interval)}`);
  }
  return `${a.id}${tags.length ? ` [${tags.join(', ')}]` : ''}: ${a.reason}`;
}

/**
 * The actions in an order they may run: Kahn's algorithm, where among the ready actions the one
 * of the earliest kind (fence, clear, probe, …, monitor-start), then the smallest id, goes first.
 * Actions caught in a cycle (a scheduler bug; the corpus test reports it) follow, sorted by id.
 */
export function runOrder(plan: Plan): Action[] {
  const byId = new Map<string, Action>();
  for (const a of plan.actions) if (!byId.has(a.id)) byId.set(a.id, a);
  const indegree = new Map<string, number>([...byId.keys()].map((id) => [id, 0]));
  const after = new Map<string, string[]>();
  for (const [before, then] of plan.edges) {
    if (!byId.has(before) || !byId.has(then)) continue;
    indegree.set(then, (indegree.get(then) ?? 0) + 1);
    const list = after.get(before);
    if (list) list.push(then);
    else after.set(before, [then]);
  }
  const compare = (x: Action, y: Action) => ACTION_RANK[x.kind] - ACTION_RANK[y.kind] || compareText(x.id, y.id);
  const ready = [...byId.values()].filter((a) => indegree.get(a.id) === 0);
  const out: Action[] = [];
  while (ready.length > 0) {
    ready.sort(compare);
    const next = ready.shift()!;
    out.push(next);
    for (const id of after.get(next.id) ?? []) {
      const d = indegree.get(id)! - 1;
      indegree.set(id, d);
      if (d === 0) ready.push(byId.get(id)!);
    }
  }
  const placed = new Set(out.map((a) => a.id));
  out.push(...[...byId.values()].filter((a) => !placed.has(a.id)).sort(compare));
  return out;
}

function section(title: string, lines: readonly string[]): string[] {
  return [`${title}:`, ...(lines.length ? lines.map((l) => `  ${l}`) : ['  (none)'])];
}

/** The summary of one plan, as in expected.txt (without the case header). */
export function summarizePlan(plan: Plan): string[] {
  const transitions = plan.transitions
    .map((t, i) => ({ t, i }))
    .sort((x, y) => TRANSITION_RANK[x.t.kind] - TRANSITION_RANK[y.t.kind] || compareText(x.t.subject, y.t.subject) || x.i - y.i)
    .map(({ t }) => transitionLine(t));
  const edges = [...plan.edges].map(([b, a]) => `${b} -> ${a}`).sort(compareText);
  return [
    ...section('notes', plan.notes),
    ...section('transitions', transitions),
    ...section('actions', runOrder(plan).map(actionLine)),
    ...section('edges', edges),
  ];
}
