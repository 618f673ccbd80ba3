// Starting and stopping the daemons a lab runs: `haven agent` on every host, `haven controller`
// on each controller host (and, with --controllers 3, an etcd member beside it: etcd.ts), each inside its namespace (`ip netns exec`, which execs, so the PID
// recorded is the daemon's own), detached in its own process group, its output appended to
// <lab dir>/logs/<host>.log. Every record carries the process's start time, so a PID reused by
// an unrelated process is never signalled.

import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HavenError } from '../errors.js';
import { etcdCommand, etcdMember, etcdStoreFlag } from './etcd.js';
import { CONTROLLER_HOST } from './names.js';
import { labDir, type DaemonRole, type HostState, type LabState, type ProcessRecord } from './state.js';
import { isZombie, namespaceInode, processNamespaceInode, processStartTime, run, sleep } from './system.js';

/** A daemon's log: logs/<host>.log (an etcd member's: logs/etcd-<host>.log). */
export function logFile(state: Pick<LabState, 'stateDir' | 'name'>, host: string, role?: DaemonRole): string {
  return join(labDir(state.stateDir, state.name), 'logs', role === 'etcd' ? `etcd-${host}.log` : `${host}.log`);
}

/** A controller's API socket: <lab dir>/<host>.sock (controller.sock, controller2.sock, …). */
export function controllerSocket(state: Pick<LabState, 'stateDir' | 'name'>, host: string = CONTROLLER_HOST): string {
  return join(labDir(state.stateDir, state.name), `${host}.sock`);
}

/** A controller's --state-dir: <lab dir>/<host> (controller/, controller2/, …). */
export function controllerStateDir(state: Pick<LabState, 'stateDir' | 'name'>, host: string = CONTROLLER_HOST): string {
  return join(labDir(state.stateDir, state.name), host);
}

/** The command line of a host's daemon, as documented in docs/lab.md. */
export function daemonCommand(state: LabState, host: HostState, role: DaemonRole): string[] {
  const dir = labDir(state.stateDir, state.name);
  // Agents and controllers run at real-time priority, as corosync does: a host busy with other
  // work must not delay heartbeats past the ring timeout. Agents above controllers: a controller
  // starting up or taking over (seconds of CPU at its priority) must not hold an agent's
  // heartbeats back; under one priority, round robin did (chaos: an agent silent 350–500 ms on
  // every ring as a leader was killed and started again). Their children (resources, fence
  // agents) are reset to normal scheduling (--reset-on-fork).
  const head = [...realtimePrefix(role === 'agent' ? AGENT_PRIORITY : CONTROLLER_PRIORITY), 'ip', 'netns', 'exec', host.ns, state.node, state.haven];
  switch (role) {
    case 'agent':
      return [...head, 'agent', '--config', state.config, '--node', host.name, '--state-dir', join(dir, 'hosts', host.name)];
    case 'controller': {
      const cmd = [...head, 'controller', '--config', state.config, '--state-dir', controllerStateDir(state, host.name), '--socket', controllerSocket(state, host.name)];
      // Several controllers share the lab's etcd and elect their leader there.
      if (state.etcd !== undefined) cmd.push('--name', host.name, '--store', etcdStoreFlag(state.etcd), ...(state.leaderLease === undefined ? [] : ['--leader-lease', String(state.leaderLease)]));
      return cmd;
    }
    case 'etcd':
      if (state.etcd === undefined) throw new HavenError('INTERNAL', `lab "${state.name}" runs no etcd`);
      return etcdCommand(state.etcd, host.ns, etcdMember(state, host.name));
    default: {
      const never: never = role;
      throw new Error(`unknown daemon role ${String(never)}`);
    }
  }
}

/** Real-time priorities (SCHED_RR, 1–99) of the lab's daemons: agents above controllers. */
export const AGENT_PRIORITY = 20;
export const CONTROLLER_PRIORITY = 10;

let realtime: boolean | undefined;

/** `chrt --rr --reset-on-fork PRIORITY` where this machine allows real-time scheduling, else nothing. */
export function realtimePrefix(priority: number): readonly string[] {
  realtime ??= spawnSync('chrt', ['--rr', '--reset-on-fork', '10', 'true'], { stdio: 'ignore', timeout: 5_000 }).status === 0;
  return realtime ? ['chrt', '--rr', '--reset-on-fork', String(priority)] : [];
}

/** The daemon a host runs: the controller host its controller, a host its agent, the client none. */
export function daemonRole(host: HostState): DaemonRole | undefined {
  if (host.role === 'controller') return 'controller';
  if (host.role === 'host') return 'agent';
  return undefined;
}

/** Every daemon a host runs, in start order: a controller host's etcd member (if any) before its controller. */
export function daemonRoles(state: Pick<LabState, 'etcd'>, host: HostState): DaemonRole[] {
  const main = daemonRole(host);
  if (main === undefined) return [];
  const etcd = state.etcd?.members.some((m) => m.host === host.name) === true;
  return etcd ? ['etcd', main] : [main];
}

/**
 * Refuses to start daemons that do not exist yet: `haven agent --help` and `haven controller
 * --help` must both succeed with this build.
 */
export async function checkDaemonsAvailable(node: string, haven: string, signal?: AbortSignal): Promise<void> {
  const missing: string[] = [];
  await Promise.all(
    (['agent', 'controller'] as const).map(async (cmd) => {
      const r = await run(node, [haven, cmd, '--help'], { allowFailure: true, timeoutMs: 20_000, ...(signal === undefined ? {} : { signal }) });
      if (r.code !== 0) missing.push(cmd);
    }),
  );
  if (missing.length > 0) {
    throw new HavenError('UNSUPPORTED', `this build of Haven has no \`haven ${missing.join('` or `haven ')}\` to run in the lab`, {
      hint: 'rebuild (npm run build) once they exist, or bring the lab up without daemons: `haven lab up --no-daemons`',
    });
  }
}

/** Starts one daemon in its host's namespace and returns its record (not yet written to the state). */
export function startDaemon(state: LabState, host: HostState, role: DaemonRole): ProcessRecord {
  const command = daemonCommand(state, host, role);
  const log = logFile(state, host.name, role);
  const dir = labDir(state.stateDir, state.name);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  // etcd makes its own data directory (0700) inside etcd/.
  mkdirSync(role === 'agent' ? join(dir, 'hosts', host.name) : role === 'etcd' ? join(dir, 'etcd') : controllerStateDir(state, host.name), { recursive: true });
  const fd = openSync(log, 'a');
  try {
    const child = spawn(command[0] as string, command.slice(1), {
      detached: true,
      stdio: ['ignore', fd, fd],
      // The checkout: a resource may name scripts/lab-web.mjs relative to it.
      cwd: dirname(dirname(state.haven)),
      env: { ...process.env, HAVEN_NODE: host.name, HAVEN_LAB: state.name, HAVEN_LAB_STATE_DIR: state.stateDir },
    });
    child.on('error', () => {
      // Reported through the exit below; `ip` is checked when the lab is built.
    });
    child.unref();
    const pid = child.pid;
    if (pid === undefined) throw new HavenError('SYSTEM_COMMAND_FAILED', `could not start \`${command.join(' ')}\``);
    return { pid, startTime: processStartTime(pid) ?? '', host: host.name, role, command, startedAt: new Date().toISOString(), log };
  } finally {
    closeSync(fd);
  }
}

/** Whether the recorded process is still that process (same start time) and alive. */
export function isRunning(p: ProcessRecord): boolean {
  const start = processStartTime(p.pid);
  return start !== undefined && start === p.startTime && !isZombie(p.pid);
}

/**
 * Stops daemons: SIGTERM to each one's process group, then SIGKILL to whatever of them is left
 * after graceMs. Only processes that are still the recorded ones, in the lab's namespace, are
 * signalled.
 */
export async function stopDaemons(state: LabState, records: readonly ProcessRecord[], graceMs = 2_000): Promise<void> {
  const mine = (p: ProcessRecord): boolean => {
    if (!isRunning(p)) return false;
    const ns = state.hosts.find((h) => h.name === p.host)?.ns;
    return ns !== undefined && processNamespaceInode(p.pid) === namespaceInode(ns);
  };
  const signal = (p: ProcessRecord, sig: NodeJS.Signals): void => {
    try {
      process.kill(-p.pid, sig);
    } catch {
      try {
        process.kill(p.pid, sig);
      } catch {
        // gone
      }
    }
  };
  let left = records.filter(mine);
  for (const p of left) signal(p, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(20);
    left = left.filter(isRunning);
  }
  for (const p of left.filter(mine)) signal(p, 'SIGKILL');
}
