// The vocabulary shared by the two CIB converters: how Haven's words are spelled in a
// Pacemaker 2.1 CIB (roles, durations, booleans, agent kinds, meta-attribute names), and the
// operation digest Pacemaker stores in its resource history.

import { createHash } from 'node:crypto';
import type { Operation, Role, TargetRole } from '../model/config.js';

/** Something in the input that the output cannot say, and why. Warnings, never errors. */
export interface Unconverted {
  /** Where it is in the input: an XPath-like CIB path, or a Haven config path. */
  readonly path: string;
  readonly what: string;
  readonly why: string;
}

/** The schema Pacemaker 2.1.5 (Debian 12) validates against; its newest. */
export const CIB_SCHEMA = 'pacemaker-3.9';
/** The feature set Pacemaker 2.1.5's tools write into resource history. */
export const CRM_FEATURE_SET = '3.16.1';
/** Stands in for the controller's transition graph UUID in written history. */
export const HISTORY_UUID = '00000000-0000-4000-8000-000000000000';
/** Meta attribute marking a primitive written from one of Haven's own agent kinds. */
export const HAVEN_AGENT_META = 'haven-agent';
/** Meta attribute carrying a resource-level onFail (Pacemaker has on-fail only per operation). */
export const HAVEN_ON_FAIL_META = 'haven-on-fail';
/** crm-debug-origin the controller stamps on a node_state after a confirmed fence. */
export const FENCED_ORIGIN = 'send_stonith_update';

/** OCF return codes that carry a resource state. */
export const RC = { ok: 0, error: 1, notRunning: 7, runningPromoted: 8, failedPromoted: 9 } as const;

// Roles ----------------------------------------------------------------------------------

const ROLE_TO_CIB: Record<Role, string> = { started: 'Started', promoted: 'Promoted', unpromoted: 'Unpromoted' };
const TARGET_ROLE_TO_CIB: Record<TargetRole, string> = {
  stopped: 'Stopped',
  started: 'Started',
  promoted: 'Promoted',
  unpromoted: 'Unpromoted',
};

export function roleToCib(role: Role): string {
  return ROLE_TO_CIB[role];
}

export function targetRoleToCib(role: TargetRole): string {
  return TARGET_ROLE_TO_CIB[role];
}

/** Reads a CIB role, old spellings included; undefined for Stopped or anything unknown. */
export function roleFromCib(text: string): Role | undefined {
  switch (text.toLowerCase()) {
    case 'started':
      return 'started';
    case 'promoted':
    case 'master':
      return 'promoted';
    case 'unpromoted':
    case 'slave':
      return 'unpromoted';
    default:
      return undefined;
  }
}

export function targetRoleFromCib(text: string): TargetRole | undefined {
  return text.toLowerCase() === 'stopped' ? 'stopped' : roleFromCib(text);
}

// Durations ------------------------------------------------------------------------------

/** A duration as Pacemaker reads it everywhere (crm_get_msec): whole seconds, else milliseconds. */
export function cibDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

const PCMK_UNIT_MS: Record<string, number> = {
  '': 1000,
  s: 1000,
  sec: 1000,
  ms: 1,
  msec: 1,
  us: 0.001,
  usec: 0.001,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
};

/** Parses a Pacemaker duration ("10", "10s", "500ms", "2min", "1h", ISO 8601 "PT10S"); ms or undefined. */
export function parseCibDuration(text: string): number | undefined {
  const t = text.trim();
  const iso = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(t);
  if (iso && t.length > 1 && !/T$/i.test(t)) {
    const [, y, mo, w, d, h, mi, s] = iso.map((x) => (x === undefined ? 0 : Number(x)));
    if (y || mo) return undefined; // months and years have no fixed length
    return Math.round(((((w ?? 0) * 7 + (d ?? 0)) * 24 + (h ?? 0)) * 60 + (mi ?? 0)) * 60_000 + (s ?? 0) * 1000);
  }
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(t);
  if (!m) return undefined;
  const unit = PCMK_UNIT_MS[(m[2] ?? '').toLowerCase()];
  if (unit === undefined) return undefined;
  return Math.round(Number(m[1]) * unit);
}

// Booleans -------------------------------------------------------------------------------

/** Pacemaker's crm_is_true: true, on, yes, y, 1 (any case). */
export function cibTrue(text: string | undefined): boolean {
  return text !== undefined && ['true', 'on', 'yes', 'y', '1'].includes(text.trim().toLowerCase());
}

/** Whether Pacemaker would read the text as a boolean at all. */
export function isCibBoolean(text: string): boolean {
  return ['true', 'on', 'yes', 'y', '1', 'false', 'off', 'no', 'n', '0'].includes(text.trim().toLowerCase());
}

// Attribute values -----------------------------------------------------------------------

/** Haven attribute values are strings, numbers or booleans; the CIB has only strings. */
export function attrToCib(value: string | number | boolean): string {
  return String(value);
}

/**
 * Reads a CIB attribute value back into the type a Haven config would most likely use:
 * "true"/"false" as booleans, canonical decimal numbers as numbers, everything else as text.
 */
export function attrFromCib(text: string): string | number | boolean {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (/^-?(0|[1-9]\d{0,14})(\.\d*[1-9])?$/.test(text) && String(Number(text)) === text) return Number(text);
  return text;
}

// Operation digests ----------------------------------------------------------------------

/**
 * The op-digest Pacemaker 2.1 stores with each operation in its resource history: the MD5 of
 * the operation's parameters printed as one `<parameters/>` element, attributes sorted by
 * name. Recurring operations add their timeout (CRM_meta_timeout, in ms). When the stored
 * digest differs from the configuration's, the scheduler restarts the resource ("resource
 * definition change"), so a written history must carry the exact value.
 */
export function operationDigest(params: Readonly<Record<string, string>>, recurringTimeoutMs?: number): string {
  const all: Record<string, string> = { ...params };
  if (recurringTimeoutMs !== undefined) all['CRM_meta_timeout'] = String(recurringTimeoutMs);
  const names = Object.keys(all).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const body = names.map((n) => ` ${n}="${escapeDigestValue(all[n] as string)}"`).join('');
  return createHash('md5').update(` <parameters${body}/>\n`).digest('hex');
}

function escapeDigestValue(v: string): string {
  return v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * The monitors Haven runs on a copy in `state`, by its scheduler's rule: outside promotable
 * clones every monitor not meant for the promoted role; in a promotable clone the monitors
 * for that role (started and unpromoted count as one), else those without a role. Pacemaker
 * differs: a monitor without a role never runs on a promoted copy, and runs beside the
 * role-specific ones on the others.
 */
export function monitorsFor(operations: readonly Operation[] | undefined, promotable: boolean, state: 'started' | 'promoted'): Operation[] {
  const monitors = (operations ?? []).filter((o) => o.name === 'monitor' && o.interval !== undefined && o.interval > 0);
  if (!promotable) return monitors.filter((m) => m.role !== 'promoted');
  const specific = monitors.filter((m) => (state === 'promoted' ? m.role === 'promoted' : m.role === 'started' || m.role === 'unpromoted'));
  return specific.length > 0 ? specific : monitors.filter((m) => m.role === undefined);
}

/** Characters allowed in generated XML IDs; everything else becomes "_". */
export function xmlIdPart(text: string): string {
  const s = text.replace(/[^A-Za-z0-9_.-]/g, '_');
  return /^[A-Za-z_]/.test(s) ? s : `_${s}`;
}
