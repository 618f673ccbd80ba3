// Reading a cluster configuration: YAML text → a Config, or every problem in it at once, each
// placed at file:line:column with a hint. Nothing is half-accepted: a file with one error
// yields no Config at all.
//
// Three passes, each only when the previous one passed: YAML syntax, the schema
// (src/model/config.ts), the whole-config rules (./validate.ts).

import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { fileError, type SourceError } from '../errors.js';
import { configSchema, type Config } from '../model/config.js';
import type { Problem } from './problem.js';
import { YamlSource } from './source.js';
import { validateAgentParams, validateConfig } from './validate.js';
import { problemsFromIssues } from './zod-issues.js';

export type { SourceError } from '../errors.js';

export type ParseResult<T> =
  | { readonly ok: true; readonly value: T; readonly source: YamlSource }
  | { readonly ok: false; readonly errors: readonly SourceError[] };

export type ConfigResult =
  | { readonly ok: true; readonly config: Config; readonly source: YamlSource }
  | { readonly ok: false; readonly errors: readonly SourceError[] };

/**
 * Parses YAML text against a zod schema: syntax errors, or schema errors, or the value. The
 * building block of parseConfig and parseStatus. `file` is used in messages only.
 */
export function parseWithSchema<S extends z.ZodType>(text: string, file: string, schema: S): ParseResult<z.output<S>> {
  const source = new YamlSource(text, file);
  const syntax = source.syntaxErrors();
  if (syntax.length > 0) return { ok: false, errors: syntax };
  const data = withoutExtensionKeys(source.toJS());
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const problems = problemsFromIssues(parsed.error.issues, data, schema);
    return { ok: false, errors: sortErrors(problems.map((p) => source.error(p))) };
  }
  return { ok: true, value: parsed.data, source };
}

/**
 * Top-level keys starting with `x-` are the file's own, not Haven's: a place for YAML anchors
 * shared through merge keys (`x-monitored: &monitored {...}`, then `<<: *monitored`), as in
 * Compose files. They are dropped before the schema sees the document.
 */
function withoutExtensionKeys(data: unknown): unknown {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return data;
  return Object.fromEntries(Object.entries(data).filter(([k]) => !k.startsWith('x-')));
}

export interface ParseConfigOptions {
  /**
   * The configuration will run (`haven check`, `apply`, a controller or agent start): the params
   * of the built-in agents (process, vip, haproxy) are checked too, so that a typo is refused now
   * rather than failing a start later. Off for what only plans or converts (`haven plan`, tests).
   */
  readonly runnable?: boolean;
}

/** A configuration from YAML (or JSON) text: the Config, or every error found. */
export function parseConfig(text: string, file: string, opts: ParseConfigOptions = {}): ConfigResult {
  const parsed = parseWithSchema(text, file, configSchema);
  if (!parsed.ok) return parsed;
  const problems = [...validateConfig(parsed.value), ...(opts.runnable === true ? validateAgentParams(parsed.value) : [])];
  if (problems.length > 0) return { ok: false, errors: locate(parsed.source, problems) };
  return { ok: true, config: parsed.value, source: parsed.source };
}

/** Reads and parses a configuration file. Throws NOT_FOUND or IO if it cannot be read. */
export async function loadConfigFile(path: string, signal?: AbortSignal, opts: ParseConfigOptions = {}): Promise<ConfigResult> {
  return parseConfig(await readText(path, signal), path, opts);
}

/** Reads a whole text file, turning fs failures into Haven's NOT_FOUND or IO errors. */
export async function readText(path: string, signal?: AbortSignal): Promise<string> {
  try {
    return await readFile(path, signal === undefined ? { encoding: 'utf8' } : { encoding: 'utf8', signal });
  } catch (err) {
    throw fileError(path, err);
  }
}

/** Places path-based problems in the file, in file order. */
export function locate(source: YamlSource, problems: readonly Problem[]): SourceError[] {
  return sortErrors(problems.map((p) => source.error(p)));
}

/** File order (line, column), then message, so output is stable whatever order checks ran in. */
export function sortErrors(errors: readonly SourceError[]): SourceError[] {
  return [...errors].sort(
    (a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || a.message.localeCompare(b.message),
  );
}

/** `file:line:col: message (hint: …)`, one line per error, as compilers print them. */
export function formatConfigErrors(errors: readonly SourceError[]): string {
  return errors.map((e) => `${e.file}:${e.line}:${e.column}: ${e.message}${e.hint === undefined ? '' : ` (hint: ${e.hint})`}\n`).join('');
}
