// The lab: hosts as Linux network namespaces on this machine, joined by one bridge per ring in a
// `switch` namespace, with a `controller` host on every ring and a `client` host on ring 0
// where probes run. `createLab` builds it and starts the daemons; `destroyLab` removes exactly
// what the state file says was made, and works after a crash; the faults (cut, partition)
// are an nftables table on the bridges, rewritten whole from the state on every change (and,
// for delay, an iptables rule per port feeding an NFQUEUE delay line: see ./ruleset.ts).
//
// Every command here takes the lab's lock for its read-modify-write of the state file.

import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readText } from '../config/load.js';
import { HavenError, UsageError } from '../errors.js';
import { checkDaemonsAvailable, controllerSocket, daemonRole, daemonRoles, isRunning, startDaemon, stopDaemons } from './daemons.js';
import { checkEtcdAvailable, etcdEndpoints, etcdMember, waitEtcdHealthy } from './etcd.js';
import { bmcStatus, checkBmcAvailable, generatePassword, startBmcs, stopBmcs, writeBmcFiles, type BmcStatus } from './bmc.js';
import { labConfigText, parseExtras } from './lab-config.js';
import { buildBmcCommands, buildCommands, planLab } from './layout.js';
import { hostNames, labPrefix, MAX_LAB_ID, validateControllers, validateLabName, validateRings } from './names.js';
import { renderDelayRules, renderRuleset, tableName } from './ruleset.js';
import { claimId, DEFAULT_STATE_DIR, labDir, LabAlreadyUpError, readState, releaseId, requireState, withLock, writeState, type Block, type Cut, type Degrade, type HostState, type LabState, type ProcessRecord } from './state.js';
import type { DaemonRole } from './state.js';
import { ipBatch, isRoot, isZombie, killNamespace, listNamespaces, namespaceInode, processNamespaceInode, processStartTime, run, runIn, sleep, UnsupportedError } from './system.js';

/** The Haven checkout this code runs from. */
export const HAVEN_ROOT = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');
/** bin/haven.js of this checkout: what the daemons run. */
export const HAVEN_BIN = fileURLToPath(new URL('../../../bin/haven.js', import.meta.url));

export interface UpOptions {
  readonly name: string;
  readonly stateDir: string;
  readonly hosts: number | readonly string[];
  readonly rings: number;
  /** A YAML file with `resources:` and `constraints:` for lab.yaml. */
  readonly resources?: string;
  /** Start the agents and the controller (default true). */
  readonly daemons?: boolean;
  /** A simulated BMC per host, fenced with fence_ipmilan (default true; bmc.ts). */
  readonly bmc?: boolean;
  /** Controllers: 1 (default; embedded store) or 3, each with an etcd member beside it (etcd.ts). */
  readonly controllers?: number;
  /** With 3 controllers: their leader lease on etcd in whole seconds (default: the controller's, 1 s). */
  readonly leaderLease?: number;
  readonly signal?: AbortSignal;
}

/**
 * A resources file names the lab's addresses as `${LAB_NET}.<ring>.<n>`: the lab's id, and so
 * its /16, is only known once it is up (`${LAB_NET}` becomes 10.<200+id>). `${HAVEN_ROOT}` is
 * this Haven checkout, to run its scripts (scripts/lab-web.mjs) whatever the daemons' cwd.
 */
export function substituteLabNet(text: string, id: number): string {
  return text.replaceAll('${LAB_NET}', `10.${200 + id}`).replaceAll('${HAVEN_ROOT}', HAVEN_ROOT);
}

export function requireRoot(): void {
  if (!isRoot()) throw new UnsupportedError('the lab needs root: it creates network namespaces, bridges and veths', { hint: 'run it as root (sudo)' });
}

/** The lab's ids that are free: no claim, and no namespace left with their prefix. */
export async function claimFreeId(name: string, dir: string): Promise<number> {
  const namespaces = await listNamespaces();
  for (let id = 0; id <= MAX_LAB_ID; id++) {
    const prefix = labPrefix(id);
    if (namespaces.some((n) => n.startsWith(prefix))) continue;
    if (await claimId(id, name, dir)) return id;
  }
  throw new HavenError('UNSUPPORTED', `no free lab id: ${MAX_LAB_ID + 1} labs are up on this machine`, { hint: '`haven lab status` lists them; take one down' });
}

/** Builds a lab and starts its daemons. Bad input is refused before anything is made. */
export async function createLab(opts: UpOptions): Promise<LabState> {
  validateLabName(opts.name);
  validateRings(opts.rings);
  hostNames(opts.hosts);
  const dir = opts.stateDir;
  const daemons = opts.daemons ?? true;
  const config = join(labDir(dir, opts.name), 'lab.yaml');
  const bmc = opts.bmc ?? true;
  const controllers = validateControllers(opts.controllers ?? 1);
  const spec = { name: opts.name, hosts: opts.hosts, rings: opts.rings, stateDir: dir, config, daemons, bmc, controllers, ...(opts.leaderLease === undefined ? {} : { leaderLease: opts.leaderLease }), node: process.execPath, haven: HAVEN_BIN };
  const resourcesText = opts.resources === undefined ? undefined : await readText(opts.resources, opts.signal);
  const extrasFor = (id: number): ReturnType<typeof parseExtras> | undefined =>
    resourcesText === undefined || opts.resources === undefined ? undefined : parseExtras(substituteLabNet(resourcesText, id), opts.resources);
  // The configuration is checked whole (with a stand-in id) before anything exists.
  labConfigText(planLab({ ...spec, id: 0, now: new Date() }), DEFAULT_STATE_DIR, extrasFor(0));
  requireRoot();
  if (daemons) await checkDaemonsAvailable(process.execPath, HAVEN_BIN, opts.signal);
  if (bmc) checkBmcAvailable();
  if (daemons && controllers > 1) checkEtcdAvailable();

  return withLock(dir, opts.name, async () => {
    if ((await readState(dir, opts.name)) !== undefined) throw new LabAlreadyUpError(opts.name);
    const id = await claimFreeId(opts.name, dir);
    let state: LabState;
    try {
      state = planLab({ ...spec, id, now: new Date() });
      const password = generatePassword();
      const { text } = labConfigText(state, DEFAULT_STATE_DIR, extrasFor(id), password);
      await mkdir(labDir(dir, opts.name), { recursive: true, mode: 0o755 });
      // 0600: it holds the BMC password.
      await writeFile(config, text, { mode: 0o600 });
      if (state.bmc !== undefined) writeBmcFiles(state, state.bmc, labDir(dir, opts.name), password);
      await writeState(state);
    } catch (err) {
      await releaseId(id, opts.name, dir);
      throw err;
    }
    try {
      await build(state, opts.signal);
      if (state.bmc !== undefined) {
        await startBmcs(state.bmc);
        await writeState(state);
      }
      if (daemons) {
        const controllerHosts = state.hosts.filter((h) => h.role === 'controller');
        // etcd first (the controllers' store), recorded before waiting for it to elect a leader.
        if (state.etcd !== undefined) {
          for (const h of controllerHosts) state.processes.push(startDaemon(state, h, 'etcd'));
          await writeState(state);
          await waitEtcdHealthy(state, state.etcd.members.map((m) => m.host), 30_000, opts.signal);
        }
        // The controllers next, so the agents' first heartbeats find them.
        for (const h of controllerHosts) state.processes.push(startDaemon(state, h, 'controller'));
        for (const h of state.hosts.filter((x) => x.role === 'host')) state.processes.push(startDaemon(state, h, 'agent'));
        await writeState(state);
      }
      return state;
    } catch (err) {
      await teardown(state).catch(() => undefined);
      await removeFiles(dir, opts.name, false);
      throw err;
    }
  });
}

/** The lab's files: everything in its directory (but logs/ with keepLogs), the state file last. */
async function removeFiles(dir: string, name: string, keepLogs: boolean): Promise<void> {
  const ld = labDir(dir, name);
  for (const entry of await readdir(ld).catch(() => [] as string[])) {
    if (entry === 'state.json' || (keepLogs && entry === 'logs')) continue;
    await rm(join(ld, entry), { recursive: true, force: true });
  }
  // The state file goes last: until then, a crash leaves what is needed to try again.
  await rm(join(ld, 'state.json'), { force: true });
  if (!keepLogs) await rm(ld, { recursive: true, force: true });
}

async function build(state: LabState, signal?: AbortSignal): Promise<void> {
  const opts = signal === undefined ? {} : { signal };
  const namespaces = state.created.filter((c) => c.kind === 'netns').map((c) => `netns add ${c.name}`);
  await run('ip', ['-batch', '-'], { ...opts, input: `${namespaces.join('\n')}\n` });
  const [sw, ...hosts] = buildCommands(state);
  if (sw !== undefined) await ipBatch(sw.ns, sw.lines, opts);
  await Promise.all(hosts.map((h) => ipBatch(h.ns, h.lines, opts)));
  for (const b of buildBmcCommands(state)) await ipBatch(b.ns, b.lines, opts);
  const client = state.hosts.find((h) => h.role === 'client');
  if (client !== undefined) {
    // A probe opens 100 connections a second: reuse TIME_WAIT ports and widen the range.
    await runIn(client.ns, 'sysctl', ['-q', '-w', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv4.ip_local_port_range=10000 65000'], opts);
  }
  await applyRuleset(state, signal);
}

/** Makes the switch's nftables table exactly what the state's faults say. */
export async function applyRuleset(state: LabState, signal?: AbortSignal): Promise<void> {
  const script = renderRuleset({ table: tableName(state.prefix), hosts: state.hosts, cuts: state.cuts, blocks: state.blocks, degrades: state.degrades });
  await runIn(state.switchNs, 'nft', ['-f', '-'], { input: script, ...(signal === undefined ? {} : { signal }) });
}

/**
 * Removes what the state says the lab made: its daemons (SIGTERM, then SIGKILL), every other
 * process left in its namespaces, then the namespaces (their bridges and veths go with them).
 * Objects already gone are skipped, so it can run again after a crash half-way.
 */
async function teardown(state: LabState): Promise<void> {
  await stopDaemons(state, state.processes);
  if (state.bmc !== undefined) await stopBmcs(state.bmc);
  const namespaces = state.created.filter((c) => c.kind === 'netns').map((c) => c.name);
  const existing = new Set(await listNamespaces());
  const errors: string[] = [];
  for (const ns of [...namespaces].reverse()) {
    if (!existing.has(ns) || !ns.startsWith(state.prefix)) continue;
    try {
      await killNamespace(ns);
      const r = await run('ip', ['netns', 'del', ns], { allowFailure: true });
      if (r.code !== 0 && namespaceInode(ns) !== undefined) errors.push(`${ns}: ${r.stderr.trim()}`);
    } catch (err) {
      errors.push(`${ns}: ${(err as Error).message}`);
    }
  }
  if (errors.length > 0) throw new HavenError('SYSTEM_COMMAND_FAILED', `could not remove all of lab "${state.name}": ${errors.join('; ')}`, { hint: 'run `haven lab down` again' });
  await releaseId(state.id, state.name, state.stateDir);
}

export interface DownResult {
  readonly wasUp: boolean;
  readonly removed: readonly string[];
}

/** `lab down`: idempotent; a lab that is not up is not an error. */
export async function destroyLab(name: string, dir: string, opts: { keepLogs?: boolean } = {}): Promise<DownResult> {
  validateLabName(name);
  return withLock(dir, name, async () => {
    const state = await readState(dir, name);
    if (state === undefined) return { wasUp: false, removed: [] };
    requireRoot();
    await teardown(state);
    await removeFiles(dir, name, opts.keepLogs === true);
    return { wasUp: true, removed: state.created.filter((c) => c.kind === 'netns').map((c) => c.name) };
  });
}

function findHost(state: LabState, name: string): HostState {
  const h = state.hosts.find((x) => x.name === name);
  if (h === undefined) {
    throw new HavenError('NOT_FOUND', `lab "${state.name}" has no host "${name}"`, { hint: `its hosts: ${state.hosts.map((x) => x.name).join(', ')}` });
  }
  return h;
}

/** Runs a change of faults: the new state's ruleset is applied, then the state written. */
async function changeFaults(name: string, dir: string, change: (state: LabState) => void): Promise<LabState> {
  return withLock(dir, name, async () => {
    const state = await requireState(dir, name);
    change(state);
    requireRoot();
    await applyRuleset(state);
    await writeState(state);
    return state;
  });
}

/** `lab cut HOST --ring R`: that host's link on ring R drops every frame, both ways. */
export function cutLink(name: string, dir: string, host: string, ring: number): Promise<LabState> {
  return changeFaults(name, dir, (state) => {
    const h = findHost(state, host);
    if (!Number.isInteger(ring) || !h.links.some((l) => l.ring === ring)) {
      throw new UsageError(`host "${host}" has no link on ring ${ring}`, { hint: `its rings: ${h.links.map((l) => l.ring).join(', ')}` });
    }
    if (!state.cuts.some((c) => c.host === host && c.ring === ring)) state.cuts.push({ host, ring } satisfies Cut);
  });
}

/**
 * Parses `A,B / C` (as one argument or several): groups of hosts separated by "/", hosts by
 * commas or spaces. Two groups at least, every host known, none in two groups.
 */
export function parsePartition(words: readonly string[], known: readonly string[]): string[][] {
  const groups = words
    .join(' ')
    .split('/')
    .map((g) => g.split(/[\s,]+/).filter((x) => x !== ''));
  if (groups.length < 2 || groups.some((g) => g.length === 0)) {
    throw new UsageError(`"${words.join(' ')}" is not a partition`, { hint: 'name two or more groups of hosts separated by "/", e.g. `haven lab partition h1,h2 / h3`' });
  }
  const seen = new Set<string>();
  for (const h of groups.flat()) {
    if (!known.includes(h)) throw new HavenError('NOT_FOUND', `no host "${h}" in the lab`, { hint: `its hosts: ${known.join(', ')}` });
    if (seen.has(h)) throw new UsageError(`host "${h}" is in two groups of the partition`);
    seen.add(h);
  }
  return groups;
}

/**
 * `lab partition A,B / C`: no group reaches another on any ring (replaces an earlier partition).
 * One way (`oneWay`): only what the first group sends to the others is dropped; the others
 * still reach it (an asymmetric partition).
 */
export function partitionLab(name: string, dir: string, words: readonly string[], opts: { readonly oneWay?: boolean } = {}): Promise<LabState> {
  return changeFaults(name, dir, (state) => {
    const groups = parsePartition(
      words,
      state.hosts.map((h) => h.name),
    );
    const blocks: Block[] = [];
    for (const from of opts.oneWay === true ? groups.slice(0, 1) : groups) for (const to of groups) if (from !== to) blocks.push({ from, to });
    state.blocks = blocks;
  });
}

/** `lab heal`: every cut, partition, loss and delay undone (delay lines stopped). */
export async function healLab(name: string, dir: string): Promise<LabState> {
  return withLock(dir, name, async () => {
    const state = await requireState(dir, name);
    requireRoot();
    const old = state.degrades;
    state.cuts = [];
    state.blocks = [];
    state.degrades = [];
    await applyRuleset(state);
    if (old.some((d) => d.delayMs > 0)) await applyDelayRules(state);
    await writeState(state);
    // The rules are gone first, so no frame waits for a delay line that is stopping.
    for (const d of old) await stopDelayLine(state, d);
    return state;
  });
}

/** Where the delay line lives: beside this module's source (it is not compiled). */
export const DELAY_QUEUE = join(HAVEN_ROOT, 'src', 'lab', 'delay-queue.py');

function python(): string {
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

/** Makes the switch's filter table exactly the delays of the state (br_netfilter on while any). */
async function applyDelayRules(state: LabState, signal?: AbortSignal): Promise<void> {
  const opts = signal === undefined ? {} : { signal };
  const any = state.degrades.some((d) => d.delayMs > 0);
  if (any) await runIn(state.switchNs, 'sysctl', ['-q', '-w', 'net.bridge.bridge-nf-call-iptables=1'], opts);
  await runIn(state.switchNs, 'iptables-restore', [], { ...opts, input: renderDelayRules(state.hosts, state.degrades) });
  if (!any) await runIn(state.switchNs, 'sysctl', ['-q', '-w', 'net.bridge.bridge-nf-call-iptables=0'], opts);
}

/**
 * Starts delay-queue.py in the switch namespace on `queue`, holding each frame `delayMs`, and
 * waits for it to say it is bound. Detached, so it outlives the command that started it; its
 * errors go to logs/delay-<host>.log.
 */
async function startDelayLine(state: LabState, host: string, queue: number, delayMs: number): Promise<{ pid: number; startTime: string }> {
  const logs = join(labDir(state.stateDir, state.name), 'logs');
  mkdirSync(logs, { recursive: true });
  const fd = openSync(join(logs, `delay-${host}.log`), 'a');
  let child;
  try {
    child = spawn('ip', ['netns', 'exec', state.switchNs, python(), DELAY_QUEUE, String(queue), String(delayMs)], { detached: true, stdio: ['ignore', 'pipe', fd] });
  } finally {
    closeSync(fd);
  }
  const ready = await new Promise<boolean>((resolve) => {
    let out = '';
    const timer = setTimeout(() => resolve(false), 10_000);
    child.stdout?.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      if (out.includes('ready\n')) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
    child.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  child.stdout?.destroy();
  child.unref();
  const pid = child.pid;
  if (!ready || pid === undefined) {
    if (pid !== undefined && child.exitCode === null) child.kill('SIGKILL');
    throw new HavenError('SYSTEM_COMMAND_FAILED', `the delay line for ${host} (queue ${queue}) did not start`, { hint: `see ${join(logs, `delay-${host}.log`)}; it needs python3 and NFQUEUE in the kernel` });
  }
  return { pid, startTime: processStartTime(pid) ?? '' };
}

/** Stops a delay line the lab started (SIGTERM: it lets every held frame go), if it still is that process. */
async function stopDelayLine(state: LabState, d: Degrade): Promise<void> {
  const pid = d.helperPid;
  if (pid === undefined) return;
  const ours = (): boolean => processStartTime(pid) === d.helperStartTime && !isZombie(pid) && processNamespaceInode(pid) === namespaceInode(state.switchNs);
  if (!ours()) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + 2_000;
  while (ours() && Date.now() < deadline) await sleep(10);
  if (ours()) process.kill(pid, 'SIGKILL');
}

export interface DegradeOptions {
  /** Percent of the frames the host sends that are dropped (0-100). */
  readonly lossPct?: number;
  /** How long each frame the host sends is held (ms, 0-60000). */
  readonly delayMs?: number;
}

/**
 * `lab degrade HOST --loss P --delay D`: loss and delay of the frames a host sends, on every
 * ring (replacing the host's earlier degrade; 0 and 0 removes it). Undone by `heal`.
 */
export async function degradeHost(name: string, dir: string, host: string, opts: DegradeOptions): Promise<LabState> {
  const lossPct = opts.lossPct ?? 0;
  const delayMs = opts.delayMs ?? 0;
  if (!Number.isFinite(lossPct) || lossPct < 0 || lossPct > 100) throw new UsageError(`loss ${lossPct} % is not 0 to 100`);
  if (!Number.isInteger(delayMs) || delayMs < 0 || delayMs > 60_000) throw new UsageError(`delay ${delayMs} ms is not a whole number of ms from 0 to 60000`);
  return withLock(dir, name, async () => {
    const state = await requireState(dir, name);
    const h = findHost(state, host);
    requireRoot();
    const old = state.degrades.filter((d) => d.host === host);
    state.degrades = state.degrades.filter((d) => d.host !== host);
    let line: { pid: number; startTime: string } | undefined;
    // The host's number is unique in the lab: its queue number.
    if (delayMs > 0) line = await startDelayLine(state, host, h.number, delayMs);
    try {
      if (lossPct > 0 || delayMs > 0) {
        state.degrades.push({
          host,
          lossPct,
          delayMs,
          method: 'bridge',
          ...(line === undefined ? {} : { queue: h.number, helperPid: line.pid, helperStartTime: line.startTime }),
        });
      }
      await applyRuleset(state);
      if (delayMs > 0 || old.some((d) => d.delayMs > 0)) await applyDelayRules(state);
      await writeState(state);
    } catch (err) {
      if (line !== undefined) await stopDelayLine(state, { host, lossPct, delayMs, method: 'bridge', helperPid: line.pid, helperStartTime: line.startTime });
      throw err;
    }
    for (const d of old) await stopDelayLine(state, d);
    return state;
  });
}

/** The signals `lab kill` sends: a crash (KILL), a clean stop (TERM), a pause (STOP) and its end (CONT). */
export const LAB_SIGNALS = ['KILL', 'TERM', 'STOP', 'CONT'] as const;
export type LabSignal = (typeof LAB_SIGNALS)[number];

export interface KillOptions {
  /** Which daemon of the host: default its own (agent, or controller); `etcd` for a controller host's etcd member. */
  readonly role?: DaemonRole;
  /** Default KILL. */
  readonly signal?: LabSignal;
}

/** The daemon of a host `lab kill`/`lab start` act on: the one asked for, checked to exist there. */
function targetRole(state: LabState, h: HostState, role: DaemonRole | undefined): DaemonRole {
  const main = daemonRole(h);
  if (main === undefined) throw new UsageError(`the ${h.name} host runs no daemon`);
  const r = role ?? main;
  if (r === 'etcd') etcdMember(state, h.name);
  else if (r !== main) throw new UsageError(`the ${h.name} host runs no ${r}`, { hint: `it runs ${daemonRoles(state, h).join(' and ')}` });
  return r;
}

/**
 * Signals a host's daemon (its agent or controller, or with role `etcd` its etcd member):
 * - KILL (default): kill -9, as a crash. The kill comes first, before the lock; then its record
 *   is dropped. The resources it started keep running, as they do when a real agent crashes.
 * - TERM: a clean stop; waits up to 10 s for it to exit (then kill -9), and drops the record.
 * - STOP / CONT: pauses / resumes it (a hung process); the record stays, marked paused.
 * Returns the PID signalled (undefined when none ran). Only a process that still is the recorded
 * one (same start time) in the host's namespace is ever signalled.
 */
export async function killDaemon(name: string, dir: string, host: string, opts: KillOptions = {}): Promise<number | undefined> {
  const sig = opts.signal ?? 'KILL';
  if (!(LAB_SIGNALS as readonly string[]).includes(sig)) throw new UsageError(`signal "${String(sig)}" is not one of ${LAB_SIGNALS.join(', ')}`);
  const first = await requireState(dir, name);
  const role = targetRole(first, findHost(first, host), opts.role);
  const mine = (state: LabState, p: ProcessRecord): boolean => {
    const ns = state.hosts.find((h) => h.name === p.host)?.ns;
    return p.host === host && p.role === role && isRunning(p) && ns !== undefined && processNamespaceInode(p.pid) === namespaceInode(ns);
  };
  let signalled: number | undefined;
  const send = (pid: number): void => {
    try {
      process.kill(pid, `SIG${sig}`);
      signalled = pid;
    } catch {
      // gone already
    }
  };
  // A crash does not wait for another `haven lab` command's lock.
  if (sig === 'KILL') for (const p of first.processes.filter((x) => mine(first, x))) send(p.pid);
  return withLock(dir, name, async () => {
    const state = await requireState(dir, name);
    const targets = state.processes.filter((x) => mine(state, x));
    for (const p of targets) send(p.pid);
    if (sig === 'TERM') {
      const deadline = Date.now() + 10_000;
      while (targets.some(isRunning) && Date.now() < deadline) await sleep(20);
      for (const p of targets.filter((x) => mine(state, x))) process.kill(p.pid, 'SIGKILL');
    }
    if (sig === 'KILL' || sig === 'TERM') state.processes = state.processes.filter((p) => !(p.host === host && p.role === role));
    else for (const p of targets) p.paused = sig === 'STOP';
    await writeState(state);
    return signalled;
  });
}

/**
 * Starts a host's daemon again (its agent or controller, or with role `etcd` its etcd member) when
 * it is not running, as systemd's Restart= would; a paused one is left as it is (`lab kill
 * --signal CONT` resumes it). An etcd member rejoins on its data directory; this does not wait
 * for it to be healthy (waitEtcdHealthy does). Nothing is started on a host whose power is off
 * (undefined).
 */
export async function startHostDaemon(name: string, dir: string, host: string, opts: { readonly role?: DaemonRole } = {}): Promise<ProcessRecord | undefined> {
  return withLock(dir, name, async () => {
    const state = await requireState(dir, name);
    const h = findHost(state, host);
    const role = targetRole(state, h, opts.role);
    if (!state.daemons) throw new HavenError('UNSUPPORTED', `lab "${name}" runs no daemons`, { hint: 'it was brought up with --no-daemons' });
    if (h.power === 'off') return undefined;
    requireRoot();
    const running = state.processes.find((p) => p.host === host && p.role === role && isRunning(p));
    if (running !== undefined) return running;
    const rec = startDaemon(state, h, role);
    state.processes = [...state.processes.filter((p) => !(p.host === host && p.role === role)), rec];
    await writeState(state);
    return rec;
  });
}

export interface HostStatus {
  readonly name: string;
  readonly role: HostState['role'];
  readonly namespace: string;
  readonly power: 'on' | 'off';
  readonly addresses: Record<string, string>;
  readonly cuts: number[];
  readonly daemons: { role: string; pid: number; alive: boolean; paused: boolean; log: string }[];
  /** A controller host: its API socket (the CLI finds the leader among them). */
  readonly socket?: string;
}

export interface LabStatus {
  readonly name: string;
  readonly id: number;
  readonly prefix: string;
  readonly createdAt: string;
  readonly config: string;
  readonly rings: number;
  readonly hosts: HostStatus[];
  readonly partition: string[][];
  readonly cuts: Cut[];
  /** The blocks in force (a one-way partition shows here only): `from` cannot send to `to`. */
  readonly blocks: Block[];
  /** Loss and delay of the frames each degraded host sends. */
  readonly degrades: { host: string; lossPct: number; delayMs: number }[];
  /** The hosts' simulated BMCs (address, ipmi_sim's PID, alive); never their password. */
  readonly bmcs: BmcStatus[];
  /** With --controllers 3: the etcd cluster's client URLs (on the controller hosts' ring 0). */
  readonly etcd?: { readonly endpoints: string[] };
}

/** `lab status`: what the state file says, with each daemon checked for life. */
export async function labStatus(name: string, dir: string): Promise<LabStatus> {
  const state = await requireState(dir, name);
  // A partition is stored as blocks between every pair of groups; the groups are their `from`s.
  const partition: string[][] = [];
  for (const b of state.blocks) if (!partition.some((g) => g.join() === b.from.join())) partition.push([...b.from]);
  return {
    name: state.name,
    id: state.id,
    prefix: state.prefix,
    createdAt: state.createdAt,
    config: state.config,
    rings: state.rings,
    hosts: state.hosts.map((h) => ({
      name: h.name,
      role: h.role,
      namespace: h.ns,
      power: h.power,
      addresses: Object.fromEntries(h.links.map((l) => [`ring${l.ring}`, l.cidr])),
      cuts: state.cuts.filter((c) => c.host === h.name).map((c) => c.ring),
      daemons: state.processes.filter((p) => p.host === h.name).map((p) => ({ role: p.role, pid: p.pid, alive: isRunning(p), paused: p.paused === true, log: p.log })),
      ...(h.role === 'controller' ? { socket: controllerSocket(state, h.name) } : {}),
    })),
    partition,
    cuts: state.cuts,
    blocks: state.blocks,
    degrades: state.degrades.map((d) => ({ host: d.host, lossPct: d.lossPct, delayMs: d.delayMs })),
    bmcs: bmcStatus(state.bmc),
    ...(state.etcd === undefined ? {} : { etcd: { endpoints: etcdEndpoints(state.etcd) } }),
  };
}
