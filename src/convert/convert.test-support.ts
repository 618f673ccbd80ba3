// Test support for the CIB converters: fixtures by name, the Pacemaker command-line tools
// when they are installed, and the normalisation a round trip is compared under. Test only.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../config/load.js';
import { parseStatus } from '../config/status.js';
import type { Config } from '../model/config.js';
import type { Status } from '../model/status.js';

/** The repository root, from dist/src/convert/. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export function fixturePath(...parts: string[]): string {
  return join(ROOT, 'test', 'fixtures', ...parts);
}

export function readFixture(...parts: string[]): string {
  return readFileSync(fixturePath(...parts), 'utf8');
}

/** A Haven config fixture, parsed and validated (a broken fixture fails the test that loads it). */
export function loadConfig(name: string): Config {
  const r = parseConfig(readFixture('convert', name), name);
  if (!r.ok) throw new Error(`${name}: ${r.errors.map((e) => `${e.line}:${e.column} ${e.message}`).join('; ')}`);
  return r.config;
}

export function loadStatus(name: string, config: Config): Status {
  const r = parseStatus(readFixture('convert', name), name, config);
  if (!r.ok) throw new Error(`${name}: ${r.errors.map((e) => `${e.line}:${e.column} ${e.message}`).join('; ')}`);
  return r.status;
}

/** What a CIB cannot hold (corosync rings and addresses), removed so round trips compare equal. */
export function withoutCorosync(config: Config): Config {
  const { rings: _rings, ...rest } = config;
  return { ...rest, nodes: config.nodes.map(({ addresses: _addresses, ...n }) => n) };
}

function has(cmd: string): boolean {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

/** Whether Debian's pacemaker-cli-utils are installed (scripts/setup.mjs installs them as root). */
export const PACEMAKER_TOOLS = has('crm_verify') && has('crm_simulate');
export const NO_TOOLS_REASON = 'crm_verify/crm_simulate not installed (apt-get install pacemaker-cli-utils)';

/** Writes text to a fresh temporary file and returns its path. */
export function tempFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'haven-convert-'));
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

export interface ToolRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function run(cmd: string, args: readonly string[]): ToolRun {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
