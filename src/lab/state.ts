// The lab's state file, <state dir>/<name>/state.json: exactly what the lab created (written
// before it is created, so a crash in the middle still leaves a complete list), the faults in
// force, the power of each host and the processes it started. `destroyLab` works from this
// file alone.
//
// Writers take a lock (a directory made with mkdir, which is atomic) so that two `haven lab`
// commands never interleave their read-modify-write. Lab ids (which pick the name prefix and
// the address range) are claimed machine-wide, whatever the state directory, with an exclusive
// create in /run/haven-lab/ids, so two labs never share a prefix.

import { access, mkdir, open, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileError, HavenError } from '../errors.js';
import type { BmcNetwork } from './bmc.js';
import { sleep } from './system.js';

export const DEFAULT_STATE_DIR = '/run/haven-lab';
/** Where lab ids are claimed: one place on the machine, whatever --state-dir a lab uses. */
export const IDS_DIR = join(DEFAULT_STATE_DIR, 'ids');

/**
 * The state directory: the option, else $HAVEN_LAB_STATE_DIR, else /run/haven-lab; made absolute,
 * because the daemons and the fence agent find the lab's files from other working directories.
 */
export function stateDir(dir?: string): string {
  return resolve(dir ?? process.env['HAVEN_LAB_STATE_DIR'] ?? DEFAULT_STATE_DIR);
}

/** The lab's own directory: state.json, lab.yaml, logs/, hosts/, controller/ (and controller2/, controller3/, etcd/). */
export function labDir(dir: string, name: string): string {
  return join(dir, name);
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

export type HostRole = 'host' | 'controller' | 'client';

export interface HostState {
  readonly name: string;
  /** 1..99 for hosts, 240 for the controller (241, 242 for controller2, controller3), 250 for the client. */
  readonly number: number;
  readonly ns: string;
  readonly role: HostRole;
  readonly links: readonly LinkState[];
  power: 'on' | 'off';
}

/** Traffic from `from` to `to` is dropped on every ring (a symmetric partition is two of these). */
export interface Block {
  readonly from: readonly string[];
  readonly to: readonly string[];
}

/** One host's link on one ring drops every frame, both ways (`haven lab cut`). */
export interface Cut {
  readonly host: string;
  readonly ring: number;
}

/**
 * Loss and delay of the frames a host sends, on every ring (`haven lab degrade`), like netem on
 * its interfaces. `bridge`: loss is a rule in the switch's nftables table; delay is an NFQUEUE
 * delay line (delay-queue.py, in the switch namespace, bound to queue `queue`), fed by an
 * iptables rule that br_netfilter runs on bridged frames (this kernel has no sch_netem and no
 * nft queue). `netem` is not used by this lab.
 */
export interface Degrade {
  readonly host: string;
  readonly lossPct: number;
  readonly delayMs: number;
  readonly method: 'netem' | 'bridge';
  readonly queue?: number;
  readonly helperPid?: number;
  /** Field 22 of /proc/PID/stat of the helper: never signal a later process with its PID. */
  readonly helperStartTime?: string;
}

/** agent on a host; controller and (with --controllers 3) its etcd member on a controller host. */
export type DaemonRole = 'agent' | 'controller' | 'etcd';

export interface ProcessRecord {
  readonly pid: number;
  /** Field 22 of /proc/PID/stat when it started: tells the process from a later one with its PID. */
  readonly startTime: string;
  readonly host: string;
  readonly role: DaemonRole;
  readonly command: readonly string[];
  readonly startedAt: string;
  readonly log: string;
  /** Sent SIGSTOP by `haven lab kill --signal STOP` and not continued yet. */
  paused?: boolean;
}

/** One member of the lab's etcd cluster: on a controller host, on its ring 0 address. */
export interface EtcdMember {
  /** The controller host it runs on; also its etcd member name. */
  readonly host: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
}

/** The lab's etcd cluster (`--controllers 3`): what the controllers' `--store etcd:…` names. */
export interface EtcdCluster {
  readonly token: string;
  readonly members: readonly EtcdMember[];
}

export interface LabState {
  readonly version: 2;
  readonly name: string;
  readonly id: number;
  readonly prefix: string;
  readonly createdAt: string;
  readonly rings: number;
  readonly switchNs: string;
  /** The state directory this lab lives in (its files are in <stateDir>/<name>/). */
  readonly stateDir: string;
  /** <stateDir>/<name>/lab.yaml: the cluster configuration the daemons run with. */
  readonly config: string;
  /** Whether `up` started the daemons; `power on` restarts a host's agent only then. */
  readonly daemons: boolean;
  /** How to start Haven: the node binary and bin/haven.js, as `up` found them. */
  readonly node: string;
  readonly haven: string;
  readonly hosts: HostState[];
  /** Exactly what was made, in order; destroy removes these in reverse and nothing else. */
  readonly created: Created[];
  cuts: Cut[];
  blocks: Block[];
  degrades: Degrade[];
  /** The daemons started and still believed running (power off removes its host's). */
  processes: ProcessRecord[];
  /** The BMC network and one simulated BMC per host (bmc.ts); absent with `--no-bmc`. */
  readonly bmc?: BmcNetwork;
  /** With `--controllers 3`: the etcd cluster the controllers share (etcd.ts); absent with one controller. */
  readonly etcd?: EtcdCluster;
  /** `--leader-lease S` for the controllers on etcd; absent: the controller's default. */
  readonly leaderLease?: number;
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
  return join(labDir(dir, name), 'state.json');
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
  let state: LabState;
  try {
    state = JSON.parse(text) as LabState;
  } catch (err) {
    throw new HavenError('IO', `${file}: not valid JSON: ${(err as Error).message}`, { hint: 'the file was damaged; remove the lab by hand (its namespaces start with its prefix)' });
  }
  if (state.version !== 2 || state.name !== name) throw new HavenError('IO', `${file}: not a Haven lab state file of version 2 for "${name}"`);
  return state;
}

/** Like readState, but a missing lab is LAB_NOT_UP. */
export async function requireState(dir: string, name: string): Promise<LabState> {
  const state = await readState(dir, name);
  if (state === undefined) throw new LabNotUpError(name);
  return state;
}

/** Writes atomically (a temporary file, then rename), so a reader never sees half a file. */
export async function writeState(state: LabState): Promise<void> {
  const dir = labDir(state.stateDir, state.name);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const file = stateFile(state.stateDir, state.name);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o644 });
  await rename(tmp, file);
}

/** The names of every lab with a state file in the directory. */
export async function listLabs(dir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw fileError(dir, err);
  }
  const out: string[] = [];
  for (const e of entries.sort()) {
    if (e === 'ids' || e.endsWith('.lock')) continue;
    try {
      await access(stateFile(dir, e));
      out.push(e);
    } catch {
      // not a lab
    }
  }
  return out;
}

/**
 * Runs fn holding the lab's lock. A lock whose holder is dead (crashed mid-command) is taken
 * over; a live holder is waited for up to timeoutMs.
 */
export async function withLock<T>(dir: string, name: string, fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const lock = join(dir, `${name}.lock`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fileError(lock, err);
      const text = await readFile(join(lock, 'pid'), 'utf8').catch(() => undefined);
      const holder = Number(text ?? '');
      // A lock without a pid file yet is being taken right now; one with a dead holder is stale.
      if (text !== undefined && (!(holder > 0) || !alive(holder))) {
        await rm(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new HavenError('IO', `lab "${name}" is locked by process ${holder || '?'} (${lock})`, { hint: 'another `haven lab` command is running on this lab' });
      await sleep(5);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface IdClaim {
  readonly name: string;
  readonly stateDir: string;
  readonly pid: number;
}

/**
 * Claims a lab id with an exclusive create of <idsDir>/<id>; false when it is taken. A claim is
 * stale, and taken over, when its lab has no state file and the process that claimed it is gone
 * (a crash before the lab was recorded).
 */
export async function claimId(id: number, name: string, dir: string, idsDir = IDS_DIR): Promise<boolean> {
  await mkdir(idsDir, { recursive: true, mode: 0o755 });
  const file = join(idsDir, String(id));
  const claim: IdClaim = { name, stateDir: dir, pid: process.pid };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(file, 'wx', 0o644);
      await fh.writeFile(JSON.stringify(claim));
      await fh.close();
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fileError(file, err);
    }
    const holder = await readClaim(file);
    if (holder === undefined) return false;
    const recorded = await readState(holder.stateDir, holder.name).catch(() => 'damaged' as const);
    if (recorded !== undefined || alive(holder.pid)) return false;
    await rm(file, { force: true });
  }
  return false;
}

async function readClaim(file: string): Promise<IdClaim | undefined> {
  try {
    const c = JSON.parse(await readFile(file, 'utf8')) as Partial<IdClaim>;
    if (typeof c.name !== 'string' || typeof c.stateDir !== 'string' || typeof c.pid !== 'number') return undefined;
    return c as IdClaim;
  } catch {
    return undefined;
  }
}

/** Releases an id, only when this lab (name and state directory) holds it. */
export async function releaseId(id: number, name: string, dir: string, idsDir = IDS_DIR): Promise<void> {
  const file = join(idsDir, String(id));
  const holder = await readClaim(file);
  if (holder !== undefined && holder.name === name && holder.stateDir === dir) await rm(file, { force: true });
}
