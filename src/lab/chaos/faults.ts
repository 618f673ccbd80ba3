// The chaos suite's faults, made with the lab's own primitives (src/lab/lab.ts, power.ts): each
// `inject` returns the `heal` that undoes it. Healing the network is always a full `healLab`
// (every cut, partition, loss and delay), and hosts left powered off (by the fault or by a
// fence) are powered on by the harness after every heal. The controller and etcd faults act on
// the daemons through `lab kill` / `lab start` (killDaemon, startHostDaemon): the harness names
// the controller host (the leader, a follower) and the etcd members, resolved from their roles.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { HavenError } from '../../errors.js';
import { cutLink, degradeHost, healLab, killDaemon, partitionLab, startHostDaemon } from '../lab.js';
import { waitEtcdHealthy } from '../etcd.js';
import { powerOff, powerOn } from '../power.js';
import type { LabState } from '../state.js';
import { namespacePids, sleep } from '../system.js';
import { AP_PORT, CLONE_PORT } from './cluster.js';
import { DELAY_MS, LOSS_PCT, type FaultPlan } from './plan.js';

export interface FaultContext {
  readonly lab: string;
  readonly dir: string;
  readonly state: LabState;
  /** The host the fault hits (resolved from the plan's role), or the controller host. */
  readonly target: string;
  /** etcd-kill, etcd-majority: the controller hosts whose etcd member is killed. */
  readonly members?: readonly string[];
  /** How long after an agent's kill -9 the lab starts it again (systemd's RestartSec). */
  readonly agentRestartMs: number;
  /** Told when the harness itself powers a host off (its watcher dies with it). */
  readonly onPowerOff: (host: string, at: number) => void;
  readonly signal?: AbortSignal;
}

export type Heal = () => Promise<void>;

/** The PIDs of lab-web processes serving `port` in a namespace (the A/P service or a clone copy). */
export function servicePids(ns: string, port: number): number[] {
  return namespacePids(ns).filter((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const i = argv.indexOf('--port');
      return argv.some((a) => a.endsWith('lab-web.mjs')) && i >= 0 && argv[i + 1] === String(port);
    } catch {
      return false;
    }
  });
}

function nsOf(state: LabState, host: string): string {
  const h = state.hosts.find((x) => x.name === host);
  if (h === undefined) throw new HavenError('INTERNAL', `lab ${state.name} has no host ${host}`);
  return h.ns;
}

/** The cluster side of a partition: every other host and the controller (not the client). */
function rest(state: LabState, host: string): string[] {
  return state.hosts.filter((h) => h.name !== host && (h.role === 'host' || h.role === 'controller')).map((h) => h.name);
}

/** Injects the fault now; resolves with how to heal it. */
export async function inject(plan: FaultPlan, ctx: FaultContext): Promise<Heal> {
  const { lab, dir, target } = ctx;
  const healNetwork: Heal = async () => {
    await healLab(lab, dir);
  };
  switch (plan.kind) {
    case 'power-off': {
      await powerOff(lab, dir, target);
      ctx.onPowerOff(target, Date.now());
      return async () => {
        await powerOn(lab, dir, target);
      };
    }
    case 'cut-ring':
      await cutLink(lab, dir, target, plan.ring ?? 0);
      return healNetwork;
    case 'partition':
      await partitionLab(lab, dir, [target, '/', rest(ctx.state, target).join(',')]);
      return healNetwork;
    case 'asym-partition': {
      const words = plan.direction === 'in' ? [rest(ctx.state, target).join(','), '/', target] : [target, '/', rest(ctx.state, target).join(',')];
      await partitionLab(lab, dir, words, { oneWay: true });
      return healNetwork;
    }
    case 'loss':
      await degradeHost(lab, dir, target, { lossPct: LOSS_PCT });
      return healNetwork;
    case 'delay':
      await degradeHost(lab, dir, target, { delayMs: DELAY_MS });
      return healNetwork;
    case 'controller-kill':
    case 'leader-kill':
      if ((await killDaemon(lab, dir, target)) === undefined) throw new HavenError('INTERNAL', `no controller was running on ${target} to kill`);
      return async () => {
        await startHostDaemon(lab, dir, target);
      };
    case 'leader-pause':
      if ((await killDaemon(lab, dir, target, { signal: 'STOP' })) === undefined) throw new HavenError('INTERNAL', `no controller was running on ${target} to pause`);
      return async () => {
        await killDaemon(lab, dir, target, { signal: 'CONT' });
      };
    case 'etcd-kill':
    case 'etcd-majority': {
      const members = ctx.members ?? [];
      if (members.length !== (plan.kind === 'etcd-kill' ? 1 : 2)) throw new HavenError('INTERNAL', `${plan.kind} needs ${plan.kind === 'etcd-kill' ? 'one member' : 'two members'}, got ${members.join(',') || 'none'}`);
      for (const m of members) if ((await killDaemon(lab, dir, m, { role: 'etcd' })) === undefined) throw new HavenError('INTERNAL', `no etcd member was running on ${m} to kill`);
      return async () => {
        for (const m of members) await startHostDaemon(lab, dir, m, { role: 'etcd' });
        // Back in the cluster (on its data directory), or a clear harness error.
        await waitEtcdHealthy(ctx.state, members, 20_000, ctx.signal);
      };
    }
    case 'agent-kill': {
      if ((await killDaemon(lab, dir, target)) === undefined) throw new HavenError('INTERNAL', `no agent was running on ${target} to kill`);
      // Restart=always: the lab starts it again after RestartSec, unless the host is off by then.
      const restarted = sleep(ctx.agentRestartMs).then(() => startHostDaemon(lab, dir, target));
      restarted.catch(() => undefined);
      return async () => {
        await restarted.catch(() => undefined);
        await startHostDaemon(lab, dir, target);
      };
    }
    case 'service-kill': {
      const port = plan.service === 'ap' ? AP_PORT : CLONE_PORT;
      const pids = servicePids(nsOf(ctx.state, target), port);
      if (pids.length === 0) throw new HavenError('INTERNAL', `no service on port ${port} runs on ${target} to kill`);
      for (const pid of pids) process.kill(pid, 'SIGKILL');
      return async () => undefined;
    }
    case 'cpu-hog': {
      // `ip netns exec` execs sh, so the child's PID is the busy loop's own.
      const hog: ChildProcess = spawn('ip', ['netns', 'exec', nsOf(ctx.state, target), 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' });
      hog.on('error', () => undefined);
      return async () => {
        if (hog.exitCode === null && hog.signalCode === null) hog.kill('SIGKILL');
      };
    }
    default: {
      const never: never = plan.kind;
      throw new Error(`unknown fault ${String(never)}`);
    }
  }
}
