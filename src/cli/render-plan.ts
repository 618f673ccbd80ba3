// How `haven plan` shows a Plan, the analogue of crm_simulate's output: a summary of what
// happens and why, the DAG of actions in an order they may run with what each waits for, one
// resource's placement scores, Graphviz dot, and stable JSON. Pure: values in, strings out.

import type { Action, Placement, Plan, Transition, TransitionKind } from '../model/plan.js';
import { formatDuration, formatScore } from '../model/units.js';
import type { Explanation, NodeScoreRow } from '../scheduler/index.js';

export type { Explanation, NodeScoreRow };

export interface RenderOptions {
  /** ANSI colours; the caller decides (a TTY without NO_COLOR). */
  readonly color?: boolean;
}


// --- colour ----------------------------------------------------------------------------

type Style = 'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'cyan' | 'magenta';
const ANSI: Record<Style, [string, string]> = {
  bold: ['\x1b[1m', '\x1b[22m'],
  dim: ['\x1b[2m', '\x1b[22m'],
  red: ['\x1b[31m', '\x1b[39m'],
  green: ['\x1b[32m', '\x1b[39m'],
  yellow: ['\x1b[33m', '\x1b[39m'],
  cyan: ['\x1b[36m', '\x1b[39m'],
  magenta: ['\x1b[35m', '\x1b[39m'],
};

function painter(opts: RenderOptions): (style: Style, text: string) => string {
  if (opts.color !== true) return (_style, text) => text;
  return (style, text) => `${ANSI[style][0]}${text}${ANSI[style][1]}`;
}

const KIND_STYLE: Record<TransitionKind, Style> = {
  start: 'green',
  promote: 'green',
  stop: 'red',
  fence: 'red',
  blocked: 'red',
  restart: 'yellow',
  recover: 'yellow',
  move: 'yellow',
  demote: 'cyan',
  probe: 'cyan',
  clear: 'dim',
};

/** Pads to a width measured without colour codes. */
function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - text.length));
}

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

// --- summary ---------------------------------------------------------------------------

function where(t: Transition): string {
  if (t.from !== undefined && t.to !== undefined && t.from !== t.to) return `( ${t.from} -> ${t.to} )`;
  if (t.from !== undefined) return `( ${t.from} )`;
  if (t.to !== undefined) return `( ${t.to} )`;
  return '';
}

/** Notes, then one line per transition: `* Move     web   ( n1 -> n2 )  n1 is unclean; fenced first`. */
export function renderSummary(plan: Plan, opts: RenderOptions = {}): string {
  const paint = painter(opts);
  const lines: string[] = [];
  if (plan.notes.length > 0) {
    lines.push(paint('bold', 'Notes:'));
    for (const note of plan.notes) lines.push(`  - ${note}`);
    lines.push('');
  }
  lines.push(paint('bold', 'Transition Summary:'));
  if (plan.transitions.length === 0) lines.push('  (nothing to do)');
  const kindWidth = Math.max(8, ...plan.transitions.map((t) => t.kind.length));
  const subjectWidth = Math.max(0, ...plan.transitions.map((t) => t.subject.length));
  const whereWidth = Math.max(0, ...plan.transitions.map((t) => where(t).length));
  for (const t of plan.transitions) {
    const kind = paint(KIND_STYLE[t.kind], pad(capitalize(t.kind), kindWidth));
    const line = `  * ${kind} ${pad(t.subject, subjectWidth)}  ${pad(where(t), whereWidth)}  ${t.reason}`;
    lines.push(line.trimEnd());
  }
  return `${lines.join('\n')}\n`;
}

// --- the DAG -------------------------------------------------------------------------

export interface OrderedActions {
  /** Every action, each after everything it waits for (where the edges allow it). */
  readonly order: readonly Action[];
  /** For each action id, the ids it waits for, in plan order. */
  readonly waitsFor: ReadonlyMap<string, readonly string[]>;
  /** Edge ends that name no action of the plan (a scheduler bug, shown rather than hidden). */
  readonly dangling: readonly string[];
  /** Actions caught in a cycle of edges (a scheduler bug), placed at the end in plan order. */
  readonly cyclic: readonly string[];
}

/**
 * A topological order of the plan's actions. Among actions that are ready at the same time the
 * one listed first in the plan goes first, so the order is stable for a given plan.
 */
export function orderActions(plan: Plan): OrderedActions {
  const position = new Map<string, number>();
  plan.actions.forEach((a, i) => {
    if (!position.has(a.id)) position.set(a.id, i);
  });
  const waitsFor = new Map<string, string[]>();
  const after = new Map<string, string[]>();
  const indegree = new Map<string, number>();
  for (const a of plan.actions) {
    waitsFor.set(a.id, []);
    after.set(a.id, []);
    indegree.set(a.id, 0);
  }
  const dangling = new Set<string>();
  for (const [before, then] of plan.edges) {
    if (!position.has(before)) dangling.add(before);
    if (!position.has(then)) dangling.add(then);
    if (!position.has(before) || !position.has(then)) continue;
    waitsFor.get(then)?.push(before);
    after.get(before)?.push(then);
    indegree.set(then, (indegree.get(then) ?? 0) + 1);
  }
  for (const list of waitsFor.values()) list.sort((x, y) => (position.get(x) ?? 0) - (position.get(y) ?? 0));

  const heap = new MinHeap();
  for (const [id, d] of indegree) if (d === 0) heap.push(position.get(id) as number);
  const order: Action[] = [];
  const placed = new Set<string>();
  while (heap.size > 0) {
    const action = plan.actions[heap.pop()] as Action;
    if (placed.has(action.id)) continue;
    placed.add(action.id);
    order.push(action);
    for (const next of after.get(action.id) ?? []) {
      const d = (indegree.get(next) ?? 0) - 1;
      indegree.set(next, d);
      if (d === 0) heap.push(position.get(next) as number);
    }
  }
  const cyclic: string[] = [];
  for (const a of plan.actions) {
    if (placed.has(a.id)) continue;
    placed.add(a.id);
    cyclic.push(a.id);
    order.push(a);
  }
  return { order, waitsFor, dangling: [...dangling].sort(), cyclic };
}

function actionLabel(a: Action): string {
  const extra: string[] = [];
  if (a.implied === true) extra.push('implied');
  if (a.timeout !== undefined && a.kind !== 'monitor-start' && a.kind !== 'monitor-stop') extra.push(`timeout ${formatDuration(a.timeout)}`);
  return extra.length > 0 ? `${a.id} (${extra.join(', ')})` : a.id;
}

function actionStyle(a: Action): Style {
  switch (a.kind) {
    case 'fence':
    case 'stop':
      return 'red';
    case 'start':
    case 'promote':
      return 'green';
    case 'demote':
    case 'probe':
    case 'monitor-start':
    case 'monitor-stop':
      return 'cyan';
    case 'clear-failures':
    case 'pseudo':
      return 'dim';
    default: {
      const never: never = a.kind;
      return never;
    }
  }
}

/** The actions in a topological order, numbered, each with its reason and what it waits for. */
export function renderActions(plan: Plan, opts: RenderOptions = {}): string {
  const paint = painter(opts);
  const { order, waitsFor, dangling, cyclic } = orderActions(plan);
  const lines: string[] = [paint('bold', `Actions (${order.length}, in an order they may run):`)];
  if (order.length === 0) lines.push('  (none)');
  const number = new Map<string, number>();
  order.forEach((a, i) => number.set(a.id, i + 1));
  const numWidth = String(order.length).length;
  const labelWidth = Math.max(0, ...order.map((a) => actionLabel(a).length));
  for (const a of order) {
    const n = String(number.get(a.id)).padStart(numWidth);
    const label = actionLabel(a);
    lines.push(`  ${n}. ${paint(actionStyle(a), label)}${' '.repeat(labelWidth - label.length)}  ${a.reason}`.trimEnd());
    const waits = waitsFor.get(a.id) ?? [];
    if (waits.length > 0) {
      const text = waits.map((w) => `${w} [${number.get(w) ?? '?'}]`).join(', ');
      lines.push(`  ${' '.repeat(numWidth)}  ${paint('dim', `waits for: ${text}`)}`);
    }
  }
  if (cyclic.length > 0) lines.push(paint('red', `  warning: these actions wait for each other in a cycle: ${cyclic.join(', ')}`));
  if (dangling.length > 0) lines.push(paint('red', `  warning: edges name actions that are not in the plan: ${dangling.join(', ')}`));
  return `${lines.join('\n')}\n`;
}

/** Summary, then the DAG: what `haven plan` prints by default. */
export function renderPlan(plan: Plan, opts: RenderOptions = {}): string {
  return `${renderSummary(plan, opts)}\n${renderActions(plan, opts)}`;
}

// --- one resource's placement -------------------------------------------------------------

/** The per-node scores table, every contribution with its source, and the decision. */
export function renderExplanation(explanation: Explanation, opts: RenderOptions = {}): string {
  const paint = painter(opts);
  const p = explanation.placement;
  const lines: string[] = [paint('bold', `Placement of ${p.resource}:`)];
  const scoreText = (r: NodeScoreRow): string => `${formatScore(r.score)}${r.node in p.scores ? '' : ' (base)'}`;
  const nodeWidth = Math.max(4, ...explanation.rows.map((r) => r.node.length));
  const scoreWidth = Math.max(5, ...explanation.rows.map((r) => scoreText(r).length), formatScore(p.baseScore).length);
  lines.push(`  ${pad('Node', nodeWidth)}  ${pad('Score', scoreWidth)}  Result`);
  for (const r of explanation.rows) {
    const result: string[] = [];
    if (r.promoted) result.push(paint('green', 'promoted'));
    else if (r.chosen) result.push(paint('green', 'runs here'));
    if (r.unavailable !== undefined) result.push(paint('red', `cannot host: ${r.unavailable}`));
    else if (!r.eligible) result.push(paint('red', 'not allowed'));
    lines.push(`  ${pad(r.node, nodeWidth)}  ${pad(scoreText(r), scoreWidth)}  ${result.join('; ')}`.trimEnd());
  }
  lines.push('');
  lines.push(paint('bold', 'Contributions:'));
  lines.push(`  ${pad('*', nodeWidth)}  ${pad(formatScore(p.baseScore), scoreWidth)}  base score (every node without its own)`);
  for (const c of p.contributions) {
    lines.push(`  ${pad(c.node, nodeWidth)}  ${pad(formatScore(c.score), scoreWidth)}  ${c.source}`);
  }
  lines.push('');
  lines.push(`${paint('bold', 'Decision:')} ${p.decision}`);
  return `${lines.join('\n')}\n`;
}

// --- Graphviz -----------------------------------------------------------------------

function dotString(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

const DOT_COLOR: Record<Action['kind'], string> = {
  fence: 'red',
  stop: 'red',
  start: 'darkgreen',
  promote: 'darkgreen',
  demote: 'blue',
  'monitor-start': 'gray40',
  'monitor-stop': 'gray40',
  probe: 'blue',
  'clear-failures': 'gray40',
  pseudo: 'gray40',
};

/** The DAG as Graphviz dot: one box per action (dashed when implied), one arrow per edge. */
export function renderDot(plan: Plan): string {
  const lines = ['digraph plan {', '  rankdir=TB;', '  node [shape=box, fontname="monospace", fontsize=10];'];
  for (const a of plan.actions) {
    const attrs = [
      `label=${dotString(a.id)}`,
      `tooltip=${dotString(a.reason)}`,
      `color=${DOT_COLOR[a.kind]}`,
      `fontcolor=${DOT_COLOR[a.kind]}`,
    ];
    if (a.kind === 'pseudo') attrs.push('shape=ellipse');
    if (a.implied === true) attrs.push('style=dashed');
    lines.push(`  ${dotString(a.id)} [${attrs.join(', ')}];`);
  }
  for (const [before, after] of plan.edges) lines.push(`  ${dotString(before)} -> ${dotString(after)};`);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

// --- JSON ------------------------------------------------------------------------------

/** Keys in the order a reader expects them; any other key follows, alphabetically. */
const KEY_ORDER = [
  'actions',
  'edges',
  'transitions',
  'placements',
  'notes',
  'id',
  'kind',
  'subject',
  'resource',
  'node',
  'nodes',
  'promoted',
  'from',
  'to',
  'interval',
  'timeout',
  'implied',
  'baseScore',
  'score',
  'scores',
  'contributions',
  'source',
  'decision',
  'reason',
];
const KEY_RANK = new Map(KEY_ORDER.map((k, i) => [k, i]));

function compareKeys(a: string, b: string): number {
  const ra = KEY_RANK.get(a);
  const rb = KEY_RANK.get(b);
  if (ra !== undefined && rb !== undefined) return ra - rb;
  if (ra !== undefined) return -1;
  if (rb !== undefined) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * JSON with a fixed key order at every level, so the same plan always prints the same bytes.
 * Records keyed by data (a placement's `scores`, by node) are sorted by key.
 */
export function stableJson(value: unknown, indent = 2): string {
  return `${JSON.stringify(sortKeys(value), null, indent)}\n`;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort(compareKeys)) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = sortKeys(v);
  }
  return out;
}

/** A binary min-heap of numbers: plan positions of the actions ready to run. */
class MinHeap {
  private readonly items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  push(value: number): void {
    const a = this.items;
    a.push(value);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((a[parent] as number) <= value) break;
      a[i] = a[parent] as number;
      i = parent;
    }
    a[i] = value;
  }

  pop(): number {
    const a = this.items;
    const top = a[0] as number;
    const last = a.pop() as number;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        let mv = last;
        if (l < a.length && (a[l] as number) < mv) {
          m = l;
          mv = a[l] as number;
        }
        if (r < a.length && (a[r] as number) < mv) {
          m = r;
          mv = a[r] as number;
        }
        if (m === i) break;
        a[i] = mv;
        i = m;
      }
      a[i] = last;
    }
    return top;
  }
}
