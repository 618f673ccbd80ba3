// Test support for the lab's integration tests: real namespaces made by `haven lab up` in a
// throwaway state directory, with lab names starting `hvtest-`, always removed (`close` from
// `after`, which also deletes any namespace left with the lab's prefix if `down` failed).

import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ControllerSnapshot } from '../../src/controller/controller.js';
import { destroyLab } from '../../src/lab/lab.js';
import { readState, type LabState } from '../../src/lab/state.js';
import type { ControllerEvent } from '../../src/store/store.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const HAVEN = join(ROOT, 'bin', 'haven.js');

/** Root, iproute2 and nftables: what the lab needs. */
/**
 * The lab tests' A/P service, a resources entry: group `web` of the VIP `<ring0>.100` then lab-web
 * on port 8080, each watched every second (`haven lab up` fills in ${LAB_NET}).
 */
export const WEB_GROUP = `  - type: group
    id: web
    members:
      - type: primitive
        id: web-ip
        agent: vip
        params: { ip: "\${LAB_NET}.0.100", cidrNetmask: 24, arpCount: 1 }
      - type: primitive
        id: web-server
        agent: process
        params: { command: node, args: "scripts/lab-web.mjs --port 8080", check: "tcp:8080" }
        operations:
          - { name: monitor, interval: 1s }
`;

/** `haven` run with `env()` added (HAVEN_CONTROLLER, HAVEN_LAB…: read at each run), and the controller's status and events through it. */
export function controllerCli(env: () => NodeJS.ProcessEnv): {
  haven: (args: string[], check?: boolean) => string;
  status: () => ControllerSnapshot;
  events: () => ControllerEvent[];
} {
  const haven = (args: string[], check = true): string => {
    const r = spawnSync(process.execPath, [HAVEN, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env() } });
    if (check && r.status !== 0) throw new Error(`haven ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return r.stdout;
  };
  return {
    haven,
    status: () => JSON.parse(haven(['status', '--json'])) as ControllerSnapshot,
    events: () =>
      haven(['events', '--json'])
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as ControllerEvent),
  };
}

export function canRunLab(): boolean {
  return process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0 && spawnSync('nft', ['--version']).status === 0;
}

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export function haven(dir: string, args: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Run {
  const env: NodeJS.ProcessEnv = { ...process.env, HAVEN_LAB_STATE_DIR: dir, ...opts.env };
  delete env['HAVEN_LAB'];
  const t = performance.now();
  const r: SpawnSyncReturns<string> = spawnSync(process.execPath, [HAVEN, ...args], { cwd: ROOT, encoding: 'utf8', env, input: opts.input ?? '', timeout: opts.timeoutMs ?? 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t };
}

export function sh(cmd: string, args: readonly string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (exit ${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** One ping from a namespace; true when answered (up to `tries` attempts, for a first ARP). */
export function ping(ns: string, address: string, tries = 2): boolean {
  for (let i = 0; i < tries; i++) {
    if (spawnSync('ip', ['netns', 'exec', ns, 'ping', '-c', '1', '-W', '1', '-q', address]).status === 0) return true;
  }
  return false;
}

export interface TestLab {
  readonly name: string;
  readonly dir: string;
  readonly up: Run;
  state(): Promise<LabState>;
  ns(host: string): Promise<string>;
  haven(args: readonly string[], opts?: { input?: string; env?: NodeJS.ProcessEnv }): Run;
  /** A process started inside a host's namespace, killed by close() if still running. */
  spawnIn(host: string, cmd: string, args: readonly string[]): Promise<ChildProcess>;
  close(): Promise<void>;
}

let counter = 0;

/** A unique test lab name and a fresh state directory. */
export function labPlace(tag: string): { name: string; dir: string } {
  counter++;
  return { name: `hvtest-${process.pid}-${tag}-${counter}`, dir: mkdtempSync(join(tmpdir(), 'hvtest-lab-')) };
}

/** `haven lab up` with these arguments (no daemons unless asked); throws when it fails. */
export async function makeLab(tag: string, args: readonly string[] = ['--no-daemons']): Promise<TestLab> {
  const { name, dir } = labPlace(tag);
  const children: ChildProcess[] = [];
  const up = haven(dir, ['lab', 'up', '--name', name, ...args]);
  const close = async (): Promise<void> => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await removeLab(name, dir);
  };
  if (up.code !== 0) {
    await close();
    throw new Error(`haven lab up failed (exit ${up.code}): ${up.stderr}`);
  }
  const state = async (): Promise<LabState> => {
    const s = await readState(dir, name);
    if (s === undefined) throw new Error(`lab ${name} has no state`);
    return s;
  };
  return {
    name,
    dir,
    up,
    state,
    ns: async (host) => {
      const h = (await state()).hosts.find((x) => x.name === host);
      if (h === undefined) throw new Error(`no host ${host}`);
      return h.ns;
    },
    haven: (a, opts) => haven(dir, [a[0] as string, a[1] as string, '--name', name, ...a.slice(2)], opts),
    spawnIn: async (host, cmd, a) => {
      const h = (await state()).hosts.find((x) => x.name === host);
      if (h === undefined) throw new Error(`no host ${host}`);
      const child = spawn('ip', ['netns', 'exec', h.ns, cmd, ...a], { stdio: 'ignore', cwd: ROOT });
      children.push(child);
      return child;
    },
    close,
  };
}

/** `down`, then, whatever happened, no namespace with the lab's prefix and no state directory left. */
export async function removeLab(name: string, dir: string): Promise<void> {
  const state = await readState(dir, name).catch(() => undefined);
  try {
    await destroyLab(name, dir);
  } finally {
    if (state !== undefined) {
      for (const c of state.created) if (c.kind === 'netns') spawnSync('ip', ['netns', 'del', c.name]);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Resolves when the child exits, with its exit code or signal. */
export function exited(child: ChildProcess, timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    const t = setTimeout(() => reject(new Error(`process ${child.pid} still running after ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal });
    });
  });
}

/** Namespaces and root-namespace links that are not test or lab objects (of anyone's). */
export function machineSnapshot(): { namespaces: string[]; links: string[] } {
  const foreign = (n: string): boolean => !n.startsWith('hvtest') && !/^hvl\d+-/.test(n);
  const namespaces = sh('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '' && foreign(n));
  const links = sh('ip', ['-o', 'link', 'show'])
    .split('\n')
    .map((l) => (l.split(': ')[1] ?? '').split('@')[0] ?? '')
    .filter((n) => n !== '' && foreign(n));
  return { namespaces: namespaces.sort(), links: links.sort() };
}

/**
 * Polls `fn` (sync or async) every `everyMs` until it gives a value other than undefined or
 * false, and returns it; throws after `timeoutMs` with what it waited for and the last error.
 */
export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : ` (last: ${String(last)})`}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
