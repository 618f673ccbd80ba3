// The configuration history: every configuration the controller ran, as a numbered version
// with who applied it, when and why, its text (the YAML as the operator wrote it, comments and
// all) and the version it replaced. `haven apply` and `haven rollback` add versions; the
// controller starts from the newest one (the --config file becomes version 1 when there is
// none), so a restart or a takeover by another controller keeps what was applied
// (docs/operations.md, "Changing the configuration").

import { HavenError } from '../errors.js';

/** How a version came to be. */
export const CONFIG_ORIGINS = ['file', 'apply', 'rollback', 'restart'] as const;
export type ConfigOrigin = (typeof CONFIG_ORIGINS)[number];

/** One applied configuration. */
export interface ConfigVersion {
  /** From 1, one more for every version: versions are never reused or skipped. */
  readonly version: number;
  /** Epoch ms when it was recorded. */
  readonly at: number;
  /** Who applied it: `operator alice`, `controller c1`. */
  readonly by: string;
  /** Why, in the operator's words (or the controller's, for a version it recorded itself). */
  readonly message: string;
  /**
   * file: the --config file at a first start; apply: `haven apply`; rollback: `haven rollback`
   * (an older version's text again); restart: a controller started with a file whose fixed
   * fields (nodes, rings, …) differ from the stored config's and took those from the file.
   */
  readonly origin: ConfigOrigin;
  /** The version that ran before this one (0 for version 1). */
  readonly replaces: number;
  /** rollback: the version whose text this is. */
  readonly rollbackOf?: number;
  /** The configuration's text (YAML), exactly as applied. */
  readonly text: string;
}

/**
 * The part of the Store that keeps the configuration history. Semantics every implementation
 * keeps (embedded.ts, etcd.ts; test/store/conformance.ts checks them):
 *
 * - `appendConfig(entry)`: records the next version. `entry.version` must be exactly
 *   `lastConfigVersion() + 1`, checked in the same step as the write: a version already recorded
 *   (someone applied meanwhile) is refused with CONFLICT and nothing is written; the same entry
 *   again (a retry after a failure whose outcome was unknown) is accepted without writing it
 *   twice; a gap is refused with CONFLICT. Guarded by the leader's epoch like `append`.
 *   Durable when the promise resolves.
 * - `configVersion(version)`: one version, or undefined when there is no such version.
 * - `configHistory(limit)`: the latest `limit` versions, oldest first (texts included).
 * - `lastConfigVersion()`: the newest version, 0 when none was recorded.
 * Reads never need leadership.
 */
export interface ConfigHistoryStore {
  appendConfig(entry: ConfigVersion, signal?: AbortSignal): Promise<void>;
  configVersion(version: number, signal?: AbortSignal): Promise<ConfigVersion | undefined>;
  configHistory(limit: number, signal?: AbortSignal): Promise<ConfigVersion[]>;
  lastConfigVersion(signal?: AbortSignal): Promise<number>;
}

const ORIGINS: ReadonlySet<string> = new Set(CONFIG_ORIGINS);
const DAMAGE = 'the history is only appended to, so this is damage from outside; restore it from a backup';

/** Refuses an entry a caller should never write (a bug), before anything is written. */
export function checkConfigEntry(entry: ConfigVersion): void {
  const bad = problemOf(entry as unknown as Record<string, unknown>);
  if (bad !== undefined) throw new HavenError('INTERNAL', `config version ${JSON.stringify(entry.version)} is not a valid history entry (${bad}); nothing written`);
}

/** Parses one stored version, refusing anything that is not one; `where` names it in the error. */
export function parseConfigVersion(text: string, where: string): ConfigVersion {
  let r: unknown;
  try {
    r = JSON.parse(text);
  } catch (err) {
    throw new HavenError('IO', `${where}: not JSON (${(err as Error).message})`, { hint: DAMAGE });
  }
  const bad = typeof r === 'object' && r !== null && !Array.isArray(r) ? problemOf(r as Record<string, unknown>) : 'not an object';
  if (bad !== undefined) throw new HavenError('IO', `${where}: not a config version (${bad})`, { hint: DAMAGE });
  return r as ConfigVersion;
}

function problemOf(r: Record<string, unknown>): string | undefined {
  const version = r['version'];
  if (!Number.isSafeInteger(version) || (version as number) < 1) return 'no positive integer version';
  if (!Number.isSafeInteger(r['replaces']) || (r['replaces'] as number) < 0 || (r['replaces'] as number) >= (version as number)) return 'replaces is not an earlier version';
  if (typeof r['at'] !== 'number') return 'no time (at)';
  if (typeof r['by'] !== 'string' || r['by'] === '') return 'no author (by)';
  if (typeof r['message'] !== 'string') return 'no message';
  if (!ORIGINS.has(r['origin'] as string)) return `origin ${JSON.stringify(r['origin'])}`;
  if (r['rollbackOf'] !== undefined && (!Number.isSafeInteger(r['rollbackOf']) || (r['rollbackOf'] as number) < 1)) return 'rollbackOf is not a version';
  if (typeof r['text'] !== 'string') return 'no text';
  return undefined;
}
