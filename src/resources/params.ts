// Reading a primitive's flat params (string | number | boolean) for the built-in agent kinds:
// typed getters that say what is wrong in one message each, and the refusal of unknown names
// with the closest known one, so a typo is caught by `validate` before anything runs.

import { closest } from '../config/suggest.js';
import { parseDuration } from '../model/units.js';
import type { ParamValue } from './types.js';

export type Params = Readonly<Record<string, ParamValue>>;

/** One message per param not in `known`, naming the closest known one when there is one. */
export function unknownParams(params: Params, known: readonly string[], kind: string): string[] {
  const problems: string[] = [];
  for (const name of Object.keys(params)) {
    if (known.includes(name)) continue;
    const near = closest(name, known);
    problems.push(`${kind}: unknown param "${name}"${near === undefined ? ` (known: ${known.join(', ')})` : ` (did you mean "${near}"?)`}`);
  }
  return problems;
}

/** A string param; numbers and booleans are written out as text. Undefined when absent or empty. */
export function stringParam(params: Params, name: string): string | undefined {
  const v = params[name];
  if (v === undefined) return undefined;
  const s = String(v);
  return s === '' ? undefined : s;
}

/** A duration param: a number of milliseconds or a string such as "500ms", "10s". */
export function durationParam(params: Params, name: string, fallback: number): number | string {
  const v = params[name];
  if (v === undefined) return fallback;
  if (typeof v === 'number') return Number.isFinite(v) && v > 0 ? Math.round(v) : `${name}: must be a positive number of milliseconds or a duration such as "5s", not ${v}`;
  if (typeof v === 'boolean') return `${name}: must be a duration such as "5s", not ${v}`;
  const ms = parseDuration(v);
  if (ms !== undefined && ms > 0) return ms;
  if (/^\d+$/.test(v.trim()) && Number(v) > 0) return Number(v);
  return `${name}: "${v}" is not a duration (write "500ms", "10s" or "2m")`;
}

/** An integer param within [min, max]. */
export function intParam(params: Params, name: string, fallback: number, min: number, max: number): number | string {
  const v = params[name];
  if (v === undefined) return fallback;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) return `${name}: must be a whole number from ${min} to ${max}, not ${JSON.stringify(v)}`;
  return n;
}
