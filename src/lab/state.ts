// The lab's state file, /run/haven-lab/<name>.json: exactly what the lab created (written
// before it is created, so a crash in the middle still leaves a complete list), the faults in
// force and the processes it started. `destroyLab` works from this file alone.
//
// Writers take a lock (a directory made with mkdir, which is atomic) so that two `haven lab`
// commands never interleave their read-modify-write; ids are claimed with an exclusive create.

import { mkdir, open, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileError, HavenError } from '../errors.js';
import { sleep } from './system.js';

export const DEFAULT_STATE_DIR = '/run/haven-lab';

export function stateDir(dir?: string): string {
  return dir ?? process.env['HAVEN_LAB_STATE_DIR'] ?? DEFAULT_STATE_DIR;
}

/** One object the lab made, in the order it made them. */
export type Created =
  | { readonly kind: 'netns'; readonly name: string }
  | { readonly kind: 'bridge'; readonly ns: string; readonly name: string }
  | { readonly kind: 'veth'; readonly ns: string; readonly name: string; readonly peerNs: string; readonly peer: string };

export interface LinkState {
  readonly ring: number;
  /** The switch-side end, in the switch namespace. */
  readonly port: string;
  /** The host-side end, in the host's namespace. */
  readonly iface: string;
  /** Address with prefix length, e.g. 10.200.0.1/24. */
  readonly cidr: string;
  readonly address: string;
}

export interface HostState {
  readonly name: string;
  /** 1..99 for hosts, 250 for the client. */
  readonly number: number;
  readonly ns: string;
  readonly role: 'host' | 'client';
  readonly links: readonly LinkState[];
  power: 'on' | 'off';
}

/** Traffic from `from` to `to` is dropped on every ring (a symmetric partition is two of these). */
export interface Block {
  readonly from: readonly string[];
  readonly to: readonly string[];
}

export interface Degrade {
  readonly host: string;
  readonly lossPct: number;
  readonly delayMs: number;
  /** netem: a qdisc on the host's ring interfaces; bridge: nftables loss and an NFQUEUE delay helper in the switch namespace. */
  readonly method: 'netem' | 'bridge';
  /** bridge method with delay: the NFQUEUE number and the helper's PID (in the switch namespace). */
  readonly queue?: number;
  readonly helperPid?: number;
}

export interface ProcessRecord {
  readonly pid: number;
  readonly host: string;
  readonly command: readonly string[];
  readonly startedAt: string;
  readonly log?: string;
}

export interface LabState {
  readonly version: 1;
  readonly name: string;
  readonly id: number;
  readonly prefix: string;
  readonly createdAt: string;
  readonly rings: number;
  readonly switchNs: string;
  readonly hosts: HostState[];
  /** Exactly what was made, in order; destroy removes these in reverse and nothing else. */
  readonly created: Created[];
  /** Switch-side ports set down by `cut`. */
  cuts: { host: string; ring: number }[];
  blocks: Block[];
  degrades: Degrade[];
  processes: ProcessRecord[];
}

/** `lab down`/`status` etc. on a lab that has no state file. */
export class LabNotUpError extends HavenError {
  constructor(name: string) {
    super('LAB_NOT_UP', `lab "${name}" is not up`, { hint: `start it with \`haven lab up --name ${name}\`; \`haven lab status\` lists the labs that are up` });
    this.name = 'LabNotUpError';
  }
}

export class LabAlreadyUpError extends HavenError {
  constructor(name: string) {
    super('LAB_ALREADY_UP', `lab "${name}" is already up`, { hint: `tear it down first with \`haven lab down --name ${name}\`, or pick another --name` });
    this.name = 'LabAlreadyUpError';
  }
}

export function stateFile(dir: string, name: string): string {
  return join(dir, `${name}.json`);
}

export async function readState(dir: string, name: string): Promise<LabState | undefined> {
  const file = stateFile(dir, name);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fileError(file, err);
  }
  const state = JSON.parse(text) as LabState;
  if (state.version !== 1 || state.name !== name) throw new HavenError('IO', `${file}: not a Haven lab state file of version 1 for "${name}"`);
  return state;
}

/** Writes atomically (a temporary file, then rename), so a reader never sees half a file. */
export async function writeState(dir: string, state: LabState): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = stateFile(dir, state.name);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

export async function removeState(dir: string, name: string): Promise<void> {
  await rm(stateFile(dir, name), { force: true });
}

/** The names of every lab with a state file in the directory. */
export async function listLabs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir))
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length))
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw fileError(dir, err);
  }
}

/**
 * Runs fn holding the lab's lock. A lock whose holder is dead (crashed mid-command) is taken
 * over; a live holder is waited for up to timeoutMs.
 */
export async function withLock<T>(dir: string, name: string, fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const lock = join(dir, `${name}.lock`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fileError(lock, err);
      const holder = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => ''));
      if (holder > 0 && !alive(holder)) {
        await rm(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new HavenError('IO', `lab "${name}" is locked by process ${holder || '?'} (${lock})`, { hint: 'another `haven lab` command is running on this lab' });
      await sleep(20);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Claims a lab id with an exclusive create of ids/<id>; false when it is taken. */
export async function claimId(dir: string, id: number, name: string): Promise<boolean> {
  const ids = join(dir, 'ids');
  await mkdir(ids, { recursive: true, mode: 0o700 });
  try {
    const fh = await open(join(ids, String(id)), 'wx', 0o600);
    await fh.writeFile(name);
    await fh.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw fileError(join(ids, String(id)), err);
  }
}

/** Releases an id, only when this lab holds it. */
export async function releaseId(dir: string, id: number, name: string): Promise<void> {
  const file = join(dir, 'ids', String(id));
  const holder = await readFile(file, 'utf8').catch(() => undefined);
  if (holder === name) await rm(file, { force: true });
}
