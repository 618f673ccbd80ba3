// Whether a location rule matches a node, from the node's configured attributes. The config
// checks use it to find resources that every node bans; it follows Pacemaker's expression
// semantics: numbers compare as numbers, anything else as text, and `ne` holds for an
// attribute the node does not have.

import type { Expression, Rule } from '../model/config.js';

export type Attributes = Readonly<Record<string, string | number | boolean>>;

/** The pseudo-attribute naming the node itself. */
export const UNAME = '#uname';

export function ruleMatches(rule: Rule, node: string, attributes: Attributes | undefined): boolean {
  const results = rule.expressions.map((e) => expressionMatches(e, node, attributes));
  return (rule.match ?? 'all') === 'any' ? results.some(Boolean) : results.every(Boolean);
}

export function expressionMatches(e: Expression, node: string, attributes: Attributes | undefined): boolean {
  const actual = e.attribute === UNAME ? node : attributes?.[e.attribute];
  switch (e.op) {
    case 'defined':
      return actual !== undefined;
    case 'not-defined':
      return actual === undefined;
    case 'eq':
      return actual !== undefined && e.value !== undefined && compare(actual, e.value) === 0;
    case 'ne':
      return actual === undefined || e.value === undefined || compare(actual, e.value) !== 0;
    case 'lt':
      return actual !== undefined && e.value !== undefined && compare(actual, e.value) < 0;
    case 'gt':
      return actual !== undefined && e.value !== undefined && compare(actual, e.value) > 0;
    case 'lte':
      return actual !== undefined && e.value !== undefined && compare(actual, e.value) <= 0;
    case 'gte':
      return actual !== undefined && e.value !== undefined && compare(actual, e.value) >= 0;
    default: {
      const never: never = e.op;
      throw new Error(`unknown expression op ${String(never)}`);
    }
  }
}

function compare(a: string | number | boolean, b: string | number | boolean): number {
  const x = Number(a);
  const y = Number(b);
  if (typeof a !== 'boolean' && typeof b !== 'boolean' && String(a).trim() !== '' && String(b).trim() !== '' && Number.isFinite(x) && Number.isFinite(y)) {
    return x === y ? 0 : x < y ? -1 : 1;
  }
  const s = String(a);
  const t = String(b);
  return s === t ? 0 : s < t ? -1 : 1;
}
