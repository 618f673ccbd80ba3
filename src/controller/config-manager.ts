// The controller's configuration over time: which version runs, where it came from, and the
// steps of a change (docs/operations.md, "Changing the configuration").
//
// - `adopt(file)` at start (after the store's record is loaded, as the leader): the newest
//   version in the store's configuration history runs; with an empty history the --config file
//   is recorded as version 1. When the file's fixed fields (nodes, rings, … reconfigure.ts)
//   differ from the newest version's, a rolling restart is under way: the fixed fields are taken
//   from the file, everything else from the store, and the result recorded as a new version.
// - `prepare(text)`: validates a proposed configuration like `haven check` (every error located
//   in its text), refuses fixed fields that differ from the running ones, and diffs it.
// - `record(...)`: writes the proposal as the next version, if the version it was based on still
//   runs (optimistic concurrency: a stale apply is refused with CONFLICT and both versions), and
//   makes it the running one. The controller then swaps what derives from it and plans again.

import { isMap, parseDocument } from 'yaml';
import { parseConfig } from '../config/load.js';
import { diffConfigs, type ConfigChange, type ConfigDocument } from '../config/diff.js';
import { ConfigInvalidError, HavenError } from '../errors.js';
import type { Config } from '../model/config.js';
import type { ConfigHistoryStore, ConfigOrigin, ConfigVersion } from '../store/config-history.js';
import { describeFixed, fixedChanges, ROLLING_RESTART_HINT } from './reconfigure.js';

/** The configuration that runs, with its history entry (minus the text, which is beside it). */
export interface RunningConfig extends ConfigDocument {
  readonly version: number;
  readonly entry: Omit<ConfigVersion, 'text'>;
  readonly text: string;
}

/** A proposed configuration, validated and diffed against the running one. */
export interface Proposal extends ConfigDocument {
  readonly text: string;
  /** The version it was diffed against. */
  readonly base: number;
  readonly changes: ConfigChange[];
}

/** The --config file a controller was started with. */
export interface ConfigFile {
  readonly path: string;
  readonly text: string;
}

export interface ConfigManagerOptions {
  readonly store: ConfigHistoryStore;
  /** `controller c1`: who records the versions the controller makes itself. */
  readonly by: string;
  readonly clock: () => number;
}

export class ConfigManager {
  private current: RunningConfig | undefined;

  constructor(private readonly opts: ConfigManagerOptions) {}

  /** The running configuration; only after adopt(). */
  get running(): RunningConfig {
    if (!this.current) throw new HavenError('INTERNAL', 'no configuration adopted yet');
    return this.current;
  }

  get adopted(): boolean {
    return this.current !== undefined;
  }

  /**
   * Picks the configuration to run at start, recording a version when there is none or when the
   * file's fixed fields differ. Returns it with a sentence for the log and the event.
   */
  async adopt(file: ConfigFile, signal?: AbortSignal): Promise<{ running: RunningConfig; how: string }> {
    const last = await this.opts.store.lastConfigVersion(signal);
    if (last === 0) {
      const doc = parse(file.text, file.path);
      const entry = await this.write({ version: 1, origin: 'file', replaces: 0, by: this.opts.by, message: `first start with --config ${file.path}`, text: file.text }, signal);
      this.current = { ...doc, version: 1, entry: withoutText(entry), text: file.text };
      return { running: this.current, how: `configuration version 1 from ${file.path} (the store had none)` };
    }
    const newest = await this.opts.store.configVersion(last, signal);
    if (!newest) throw new HavenError('IO', `the store says configuration version ${last} is the newest, but it has no such version`);
    const stored = parse(newest.text, `configuration version ${last} in the store`);
    const fromFile = parse(file.text, file.path);
    const fixed = fixedChanges(stored.config, fromFile.config);
    if (fixed.length === 0) {
      this.current = { ...stored, version: last, entry: withoutText(newest), text: newest.text };
      const same = file.text === newest.text || diffConfigs(stored, fromFile).length === 0;
      return {
        running: this.current,
        how: `configuration version ${last} from the store (${describeEntry(newest)})${same ? '' : `; ${file.path} differs from it and is not used (haven apply it to change the configuration)`}`,
      };
    }
    // A rolling restart: the fixed fields from the file, the rest as applied.
    const text = withFixedFrom(newest.text, file.text);
    const merged = parse(text, `configuration version ${last} with the fixed fields of ${file.path}`);
    const message = `restart with ${file.path}: ${fixed.map((f) => `${f.field} (${f.detail})`).join('; ')} taken from the file`;
    const entry = await this.write({ version: last + 1, origin: 'restart', replaces: last, by: this.opts.by, message, text }, signal);
    this.current = { ...merged, version: entry.version, entry: withoutText(entry), text };
    return { running: this.current, how: `configuration version ${entry.version}: version ${last} from the store with ${fixed.map((f) => f.field).join(', ')} from ${file.path}` };
  }

  /**
   * A follower's view: the newest version in the store if it is newer than the one it shows and
   * has the same fixed fields as `against` (what this controller runs), read-only. Returns it when
   * it changed.
   */
  async refresh(against: Config, signal?: AbortSignal): Promise<RunningConfig | undefined> {
    const last = await this.opts.store.lastConfigVersion(signal);
    if (last === 0 || (this.current && this.current.version >= last)) return undefined;
    const newest = await this.opts.store.configVersion(last, signal);
    if (!newest) return undefined;
    const doc = parse(newest.text, `configuration version ${last} in the store`);
    // Fixed fields that differ: a rolling restart is under way; this controller shows its own until it leads.
    if (fixedChanges(against, doc.config).length > 0) return undefined;
    this.current = { ...doc, version: last, entry: withoutText(newest), text: newest.text };
    return this.current;
  }

  /**
   * Validates `text` (every error located in it, as `haven check` reports them: ConfigInvalidError),
   * refuses fixed fields that differ from the running configuration (CONFIG_INVALID, naming them),
   * and diffs it against the running one.
   */
  prepare(text: string, name: string): Proposal {
    const doc = parse(text, name);
    const running = this.running;
    const fixed = fixedChanges(running.config, doc.config);
    if (fixed.length > 0) throw new HavenError('CONFIG_INVALID', `${name}: ${describeFixed(fixed)}`, { hint: ROLLING_RESTART_HINT });
    return { ...doc, text, base: running.version, changes: diffConfigs(running, doc) };
  }

  /**
   * Records a prepared proposal as the next version and makes it the running one. `baseVersion`
   * is the version the operator saw (and diffed against): if another version runs now, CONFLICT.
   */
  async record(p: Proposal, meta: { baseVersion: number; by: string; message: string; origin: ConfigOrigin; rollbackOf?: number }, signal?: AbortSignal): Promise<RunningConfig> {
    const running = this.running;
    if (meta.baseVersion !== running.version || p.base !== running.version) {
      throw new HavenError('CONFLICT', `stale apply: based on configuration version ${meta.baseVersion}, but version ${running.version} runs now (${describeEntry(running.entry)}); nothing changed`, {
        hint: 'look at what changed (haven config history, haven config show), then apply again',
      });
    }
    const entry = await this.write(
      { version: running.version + 1, origin: meta.origin, replaces: running.version, by: meta.by, message: meta.message, text: p.text, ...(meta.rollbackOf === undefined ? {} : { rollbackOf: meta.rollbackOf }) },
      signal,
    );
    this.current = { raw: p.raw, config: p.config, version: entry.version, entry: withoutText(entry), text: p.text };
    return this.current;
  }

  history(limit: number, signal?: AbortSignal): Promise<ConfigVersion[]> {
    return this.opts.store.configHistory(limit, signal);
  }

  async version(version: number, signal?: AbortSignal): Promise<ConfigVersion> {
    const v = await this.opts.store.configVersion(version, signal);
    if (!v) {
      const last = await this.opts.store.lastConfigVersion(signal);
      throw new HavenError('NOT_FOUND', `there is no configuration version ${version}`, { hint: last > 0 ? `versions 1 to ${last} (haven config history)` : 'nothing was recorded yet' });
    }
    return v;
  }

  private async write(fields: Omit<ConfigVersion, 'at'>, signal?: AbortSignal): Promise<ConfigVersion> {
    const entry: ConfigVersion = { ...fields, at: this.opts.clock() } as ConfigVersion;
    try {
      await this.opts.store.appendConfig(entry, signal);
    } catch (err) {
      if (err instanceof HavenError && err.code === 'CONFLICT') {
        const last = await this.opts.store.lastConfigVersion(signal).catch(() => undefined);
        throw new HavenError('CONFLICT', `stale apply: configuration version ${entry.version} was recorded meanwhile${last === undefined ? '' : ` (the newest is ${last})`}; nothing changed (${err.message})`, {
          hint: 'another controller or operator applied a configuration; look at haven config history and apply again',
        });
      }
      throw err;
    }
    return entry;
  }
}

/** `by operator alice at 2024-…: message` */
export function describeEntry(e: Omit<ConfigVersion, 'text'>): string {
  return `${e.origin === 'rollback' ? `rollback to version ${e.rollbackOf ?? '?'} ` : ''}by ${e.by} at ${new Date(e.at).toISOString()}${e.message ? `: ${e.message}` : ''}`;
}

function withoutText(e: ConfigVersion): Omit<ConfigVersion, 'text'> {
  const { text: _text, ...rest } = e;
  return rest;
}

/** Parses and validates a configuration text, or throws every located error. */
export function parse(text: string, name: string): ConfigDocument {
  const r = parseConfig(text, name, { runnable: true });
  if (!r.ok) throw new ConfigInvalidError(name, r.errors);
  return { raw: withoutExtensionKeys(r.source.toJS()), config: r.config };
}

function withoutExtensionKeys(data: unknown): unknown {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return data;
  return Object.fromEntries(Object.entries(data).filter(([k]) => !k.startsWith('x-')));
}

/** The fields only a restart changes, as paths in the document. */
const FIXED_PATHS: readonly (readonly string[])[] = [
  ['nodes'],
  ['rings'],
  ['controllers'],
  ['cluster', 'name'],
  ['cluster', 'heartbeat'],
  ['cluster', 'agentPort'],
  ['cluster', 'quorum'],
  ['cluster', 'noQuorumPolicy'],
  ['cluster', 'confirmation', 'enabled'],
];

/** `stored` (YAML text) with the fixed fields replaced by those of `file`; comments elsewhere kept. */
export function withFixedFrom(stored: string, file: string): string {
  const doc = parseDocument(stored, { merge: true, uniqueKeys: true });
  const from = parseDocument(file, { merge: true, uniqueKeys: true }).toJS({ maxAliasCount: 1000 }) as Record<string, unknown>;
  for (const path of FIXED_PATHS) {
    let value: unknown = from;
    for (const k of path) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[k] : undefined;
    if (value !== undefined) doc.setIn(path, doc.createNode(value));
    else if (hasPath(doc.contents, path)) doc.deleteIn(path);
  }
  return String(doc);
}

function hasPath(node: unknown, path: readonly string[]): boolean {
  let cur = node;
  for (const k of path) {
    if (!isMap(cur) || !cur.has(k)) return false;
    cur = cur.get(k, true);
  }
  return true;
}
