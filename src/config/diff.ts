// What changed between two configurations, as an operator reads it before `haven apply` or
// `haven rollback`: resources, constraints, fence devices and the rest added, removed or
// changed, each shown as the YAML it was written in. Pure: two parsed documents in, a list of
// changes out, and a renderer for the terminal.
//
// Items are matched by what names them (a resource or constraint by its id, a node or ring by
// its name, a fencing topology by its node, the cluster policy key by key), not by position, so
// moving an item within its list is no change. Whether an item changed is decided on the parsed
// configuration (`10s` and `10000ms` are the same timeout); what is shown is the text as written.

import { stringify } from 'yaml';
import type { Config } from '../model/config.js';

export const DIFF_SECTIONS = ['cluster', 'rings', 'nodes', 'controllers', 'fenceDevices', 'fenceTopology', 'resources', 'constraints'] as const;
export type DiffSection = (typeof DIFF_SECTIONS)[number];

export interface ConfigChange {
  readonly section: DiffSection;
  /** What names the item: a resource id, a node name, a cluster policy key (`defaults`). */
  readonly key: string;
  readonly kind: 'added' | 'removed' | 'changed';
  /** The item as written before (absent when added). */
  readonly before?: unknown;
  /** The item as written after (absent when removed). */
  readonly after?: unknown;
}

/** A configuration both as written (for display) and as parsed (for comparison). */
export interface ConfigDocument {
  /** The YAML document as plain data (`YamlSource.toJS()`, without the `x-` keys). */
  readonly raw: unknown;
  readonly config: Config;
}

/** Every change from `before` to `after`, section by section in file order, items by name. */
export function diffConfigs(before: ConfigDocument, after: ConfigDocument): ConfigChange[] {
  const out: ConfigChange[] = [];
  for (const section of DIFF_SECTIONS) {
    const a = itemsOf(section, before);
    const b = itemsOf(section, after);
    for (const [key, x] of a) {
      const y = b.get(key);
      if (y === undefined) out.push({ section, key, kind: 'removed', before: x.raw });
      else if (canonical(x.parsed) !== canonical(y.parsed)) out.push({ section, key, kind: 'changed', before: x.raw, after: y.raw });
    }
    for (const [key, y] of b) if (!a.has(key)) out.push({ section, key, kind: 'added', after: y.raw });
  }
  return out;
}

interface Item {
  readonly raw: unknown;
  readonly parsed: unknown;
}

const KEY_FIELD: Record<Exclude<DiffSection, 'cluster'>, string> = {
  rings: 'name',
  nodes: 'name',
  controllers: 'name',
  fenceDevices: 'id',
  fenceTopology: 'node',
  resources: 'id',
  constraints: 'id',
};

function itemsOf(section: DiffSection, doc: ConfigDocument): Map<string, Item> {
  const out = new Map<string, Item>();
  const raw = (doc.raw ?? {}) as Record<string, unknown>;
  if (section === 'cluster') {
    const r = (raw['cluster'] ?? {}) as Record<string, unknown>;
    const p = doc.config.cluster as Record<string, unknown>;
    for (const key of Object.keys(p)) if (p[key] !== undefined) out.set(key, { raw: r[key], parsed: p[key] });
    return out;
  }
  const field = KEY_FIELD[section];
  const parsed = ((doc.config as Record<string, unknown>)[section] ?? []) as Record<string, unknown>[];
  const written = Array.isArray(raw[section]) ? (raw[section] as Record<string, unknown>[]) : [];
  parsed.forEach((p, i) => {
    const key = String(p[field]);
    // The parsed list is the written one, item for item (the schema keeps order and length).
    out.set(key, { raw: written[i] ?? p, parsed: p });
  });
  return out;
}

/** JSON with object keys sorted: equal values, equal text. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** One line per change: `resource web changed`, for summaries and events. */
export function summarizeChanges(changes: readonly ConfigChange[]): string[] {
  return changes.map((c) => `${NOUN[c.section]} ${c.key} ${c.kind}`);
}

const NOUN: Record<DiffSection, string> = {
  cluster: 'cluster policy',
  rings: 'ring',
  nodes: 'node',
  controllers: 'controller',
  fenceDevices: 'fence device',
  fenceTopology: 'fencing topology of',
  resources: 'resource',
  constraints: 'constraint',
};

export interface DiffRenderOptions {
  readonly color?: boolean;
}

/**
 * The changes as a readable YAML diff, grouped by section:
 *
 *     resources:
 *       + db (added)
 *           type: primitive
 *       ~ web (changed)
 *           - stickiness: 100
 *           + stickiness: 200
 */
export function renderDiff(changes: readonly ConfigChange[], opts: DiffRenderOptions = {}): string {
  if (changes.length === 0) return 'no change\n';
  const paint = (code: string, text: string): string => (opts.color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const lines: string[] = [];
  for (const section of DIFF_SECTIONS) {
    const mine = changes.filter((c) => c.section === section);
    if (mine.length === 0) continue;
    lines.push(`${section}:`);
    for (const c of mine) {
      const what = describeItem(c);
      if (isScalar(c.before) && isScalar(c.after)) {
        // A policy value: one line.
        const [sign, code] = c.kind === 'added' ? ['+', '32'] : c.kind === 'removed' ? ['-', '31'] : ['~', '33'];
        const value = c.kind === 'changed' ? `${scalarText(c.before)} → ${scalarText(c.after)}` : scalarText(c.after ?? c.before);
        lines.push(paint(code, `  ${sign} ${c.key}: ${value}${c.kind === 'changed' ? '' : ` (${c.kind})`}`));
        continue;
      }
      if (c.kind === 'added') {
        lines.push(paint('32', `  + ${c.key}${what} (added)`));
        for (const l of yamlLines(c.after)) lines.push(paint('32', `      ${l}`));
      } else if (c.kind === 'removed') {
        lines.push(paint('31', `  - ${c.key}${what} (removed)`));
        for (const l of yamlLines(c.before)) lines.push(paint('31', `      ${l}`));
      } else {
        lines.push(paint('33', `  ~ ${c.key}${what} (changed)`));
        for (const d of lineDiff(yamlLines(c.before), yamlLines(c.after))) {
          if (d.op === ' ') lines.push(`        ${d.line}`);
          else if (d.op === '…') lines.push(`        …`);
          else lines.push(paint(d.op === '-' ? '31' : '32', `      ${d.op} ${d.line}`));
        }
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

function isScalar(v: unknown): boolean {
  return v === undefined || v === null || typeof v !== 'object';
}

function scalarText(v: unknown): string {
  return v === undefined ? '(not set)' : typeof v === 'string' ? v : JSON.stringify(v);
}

function describeItem(c: ConfigChange): string {
  if (c.section !== 'resources' && c.section !== 'constraints') return '';
  const item = (c.after ?? c.before) as Record<string, unknown> | undefined;
  const type = item?.['type'];
  return typeof type === 'string' ? ` (${type})` : '';
}

function yamlLines(value: unknown): string[] {
  if (value === undefined) return ['(not set)'];
  return stringify(value, { lineWidth: 0 }).replace(/\n$/, '').split('\n');
}

type DiffLine = { op: ' ' | '-' | '+' | '…'; line: string };

/**
 * A line diff (longest common subsequence; items are small), with runs of more than two
 * unchanged lines between changes shortened to one line each side and `…`.
 */
export function lineDiff(a: readonly string[], b: readonly string[]): DiffLine[] {
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const full: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      full.push({ op: ' ', line: a[i]! });
      i++;
      j++;
    } else if (i < n && (j >= m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) full.push({ op: '-', line: a[i++]! });
    else full.push({ op: '+', line: b[j++]! });
  }
  const out: DiffLine[] = [];
  for (let k = 0; k < full.length; k++) {
    const d = full[k]!;
    if (d.op !== ' ') {
      out.push(d);
      continue;
    }
    const near = (full[k - 1] !== undefined && full[k - 1]!.op !== ' ') || (full[k + 1] !== undefined && full[k + 1]!.op !== ' ');
    if (near || k === 0) out.push(d);
    else if (out[out.length - 1]?.op !== '…') out.push({ op: '…', line: '' });
  }
  // A trailing `…` says nothing.
  while (out.length > 0 && out[out.length - 1]!.op === '…') out.pop();
  return out;
}
