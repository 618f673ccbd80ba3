// The controller bench (issue 5): how fast a new leader takes over, and what one controller costs
// with many agents. Needs root (network namespaces). See docs/benchmarks.md.
//
//   npm run bench:controller                              both parts
//   npm run bench:controller -- --part takeover --trials 20
//   npm run bench:controller -- --part load --agents 1000,10000 --intervals 50,1000 --cpu-prof
//
// 1. Takeover, in the lab: `haven lab up --controllers 3` with the lab-web group (a VIP and a web
//    service), a probe on the VIP every 10 ms from the lab's client. Each trial finds the leader
//    (GET /v1/health on the three sockets), kill -9s it (the lab's killDaemon), and times, from the
//    kill, the new leader's first event (its "leads with epoch" line: it decides from then on) and
//    its first decision (its first plan: it probes every node before acting on anything). The
//    probe's longest gap over the trial is what a user saw; lab-web's PIDs before and after show
//    whether anything was restarted. Then the killed controller is started again (a follower)
//    before the next trial, which kills whichever leads then.
//
// 2. Load: a real `haven controller` (embedded store, no resources, fencing off) whose config has N
//    nodes on loopback addresses, and a load generator (bench/controller/load-gen.ts) sending real
//    heartbeat datagrams for all N, each from its node's own address, spread over the interval, and
//    answering the controller's probes (GET /v1/state). Both run in a network namespace of their
//    own (hvtest-bench-<pid>), so its 127/8 and ports are the bench's alone. Once every node is
//    online and a warm-up passed, the controller's CPU (utime+stime from /proc/PID/stat over the
//    window, as % of one core) and RSS (VmRSS, sampled every second: the maximum) are read.
//    --cpu-prof runs the controller with node --cpu-prof and prints where its time went.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { findLeader, call, type Endpoint } from '../../src/cli/client.js';
import { HavenError } from '../../src/errors.js';
import { controllerSocket } from '../../src/lab/daemons.js';
import { createLab, destroyLab, killDaemon, startHostDaemon } from '../../src/lab/lab.js';
import { runProbe } from '../../src/lab/probe.js';
import type { LabState } from '../../src/lab/state.js';
import { namespacePids } from '../../src/lab/system.js';
import type { ControllerEvent } from '../../src/store/store.js';
import { percentile, say, sleep, waitFor } from '../support.js';
import { SIM_AGENT_PORT, SIM_CONTROLLER_ADDRESS, SIM_RING_PORT, simConfig } from './sim.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HAVEN = join(ROOT, 'bin', 'haven.js');
const LOAD_GEN = fileURLToPath(new URL('./load-gen.js', import.meta.url));
const LAB_DIR = '/run/haven-lab';

const USAGE = `usage: node dist/bench/controller/run.js [flags]   (as root)
  --part P          takeover, load or all (default all)
  --trials N        takeover trials (default 10)
  --leader-lease S  the controllers' leader lease on etcd in the takeover lab (default 1, the controller's default)
  --agents LIST     simulated agents per load run (default 1000,10000)
  --intervals LIST  heartbeat intervals in ms per load run (default 50,1000)
  --max-rate N      skip load runs that offer more heartbeats a second (default 50000: one generator
                    process on a shared 2-core machine sends about that at most)
  --warmup S        seconds after every node is online before measuring (default 5)
  --window S        seconds measured (default 15)
  --cpu-prof        profile the controller (node --cpu-prof) in each load run, print the top functions
  --json            print the figures as JSON
`;

interface Flags {
  readonly part: 'takeover' | 'load' | 'all';
  readonly trials: number;
  readonly leaderLease: number;
  readonly agents: number[];
  readonly intervals: number[];
  readonly warmupS: number;
  readonly windowS: number;
  readonly cpuProf: boolean;
  readonly maxRate: number;
  readonly json: boolean;
}

function flags(): Flags {
  const { values } = parseArgs({
    options: {
      part: { type: 'string', default: 'all' },
      trials: { type: 'string', default: '10' },
      'leader-lease': { type: 'string', default: '1' },
      agents: { type: 'string', default: '1000,10000' },
      intervals: { type: 'string', default: '50,1000' },
      warmup: { type: 'string', default: '5' },
      window: { type: 'string', default: '15' },
      'cpu-prof': { type: 'boolean', default: false },
      'max-rate': { type: 'string', default: '50000' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const int = (name: string, text: string, min: number, max: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new HavenError('USAGE', `--${name}: ${text} is not an integer from ${min} to ${max}`, { hint: USAGE });
    return n;
  };
  const part = values.part;
  if (part !== 'takeover' && part !== 'load' && part !== 'all') throw new HavenError('USAGE', `--part must be takeover, load or all, not ${part}`, { hint: USAGE });
  return {
    part,
    trials: int('trials', values.trials, 1, 1000),
    leaderLease: int('leader-lease', values['leader-lease'], 1, 60),
    agents: values.agents.split(',').map((x) => int('agents', x.trim(), 1, 60_000)),
    intervals: values.intervals.split(',').map((x) => int('intervals', x.trim(), 10, 60_000)),
    warmupS: int('warmup', values.warmup, 0, 600),
    windowS: int('window', values.window, 1, 3600),
    cpuProf: values['cpu-prof'],
    maxRate: int('max-rate', values['max-rate'], 1, 10_000_000),
    json: values.json,
  };
}

// ---------------------------------------------------------------- helpers

const msText = (n: number | undefined | null): string => (n === undefined || n === null || Number.isNaN(n) ? '—' : `${Math.round(n)} ms`);

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime+stime of a process, in ticks. */
function cpuTicks(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ').map(Number);
  return (f[11] ?? 0) + (f[12] ?? 0);
}

function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? Number.NaN : Number(m[1]) / 1024;
}

function table(rows: string[][]): string {
  const w = (rows[0] as string[]).map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => `  ${r.map((x, c) => x.padEnd(w[c] as number)).join('  ')}`.trimEnd()).join('\n');
}

// ---------------------------------------------------------------- what this process owns

const children = new Set<ChildProcess>();
const namespaces = new Set<string>();
const labs = new Set<string>();
let tmp: string | undefined;

async function cleanup(): Promise<void> {
  for (const c of children) if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
  children.clear();
  for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns]);
  namespaces.clear();
  for (const name of labs) await destroyLab(name, LAB_DIR).catch((err: unknown) => say(`controller bench: lab down ${name}: ${String(err)}`));
  labs.clear();
  if (tmp !== undefined && process.env['HAVEN_BENCH_KEEP'] !== '1') rmSync(tmp, { recursive: true, force: true });
  else if (tmp !== undefined) say(`controller bench: kept ${tmp}`);
}

function spawnIn(ns: string, command: readonly string[], log: string, stdout: 'pipe' | 'log' = 'log'): ChildProcess {
  const fd = openSync(log, 'a');
  try {
    // `ip netns exec` execs the command: the child's PID is the command's.
    const child = spawn('ip', ['netns', 'exec', ns, ...command], { cwd: ROOT, stdio: ['ignore', stdout === 'pipe' ? 'pipe' : fd, fd] });
    child.on('error', () => undefined);
    children.add(child);
    child.on('exit', () => children.delete(child));
    return child;
  } finally {
    closeSync(fd);
  }
}

/** Resolves with the first line the child prints that parses as JSON, or rejects when it exits first. */
function jsonLine(child: ChildProcess, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const onData = (c: string): void => {
      buf += c;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      try {
        resolve(JSON.parse(line) as Record<string, unknown>);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code ?? 'signal'}) before answering`));
    });
  });
}

// ---------------------------------------------------------------- 1. takeover

interface TakeoverTrial {
  readonly killed: string;
  readonly leader: string;
  /** kill → the new leader's first event ("leads with epoch"). */
  readonly firstEventMs: number;
  /** kill → its first decision: its first plan, if one came. */
  readonly firstDecisionMs: number | null;
  /** The probe's longest gap during the trial; null when nothing failed. */
  readonly probeGapMs: number | null;
  readonly probeFailed: number;
  /** lab-web's PIDs were the same before and after. */
  readonly noRestart: boolean;
}

interface TakeoverResult {
  readonly leaderLeaseS: number;
  /** The machine's load average (1 min) when the part started and ended. */
  readonly load: readonly [number, number];
  readonly trials: TakeoverTrial[];
  readonly firstEvent: { p50: number; p99: number; max: number };
  readonly firstDecision: { p50: number; p99: number; max: number } | null;
  readonly probeMaxGapMs: number | null;
  readonly restarts: number;
}

function sockets(state: LabState): string[] {
  return state.hosts.filter((h) => h.role === 'controller').map((h) => controllerSocket(state, h.name));
}

async function leaderOf(state: LabState): Promise<{ name: string; ep: Endpoint }> {
  const ep = await findLeader(sockets(state), 10_000);
  const h = await call<{ name?: string }>(ep, 'GET', '/v1/health');
  if (typeof h.name !== 'string') throw new HavenError('INTERNAL', 'the leader does not say its name in /v1/health');
  return { name: h.name, ep };
}

/** The lab-web processes of every host: "host:pid". */
function webPids(state: LabState): string[] {
  const out: string[] = [];
  for (const h of state.hosts.filter((x) => x.role === 'host')) {
    for (const pid of namespacePids(h.ns)) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('lab-web.mjs')) out.push(`${h.name}:${pid}`);
      } catch {
        // gone
      }
    }
  }
  return out.sort();
}

async function benchTakeover(trials: number, leaderLease: number): Promise<TakeoverResult> {
  const load0 = loadavg()[0] ?? Number.NaN;
  const name = 'hvbench-ctl';
  await destroyLab(name, LAB_DIR);
  labs.add(name);
  say(`takeover: lab up ${name} (3 hosts, 2 rings, 3 controllers on etcd, leader lease ${leaderLease} s, lab-web)`);
  const state = await createLab({ name, stateDir: LAB_DIR, hosts: 3, rings: 2, controllers: 3, leaderLease, resources: join(ROOT, 'examples', 'lab-web.yaml') });
  const target = `http://10.${200 + state.id}.0.100:8080/`;
  await waitFor('a leader', () => leaderOf(state), 60_000, 200);
  // lab-web answers on the VIP.
  await waitFor('lab-web on the VIP', async () => {
    const { report } = await runProbe({ lab: name, stateDir: LAB_DIR, target, durationMs: 300, intervalMs: 20 });
    return report.ok > 5 && report.failed === 0 ? true : undefined;
  }, 90_000, 500);
  const out: TakeoverTrial[] = [];
  for (let t = 0; t < trials; t++) {
    const { name: leader, ep } = await waitFor('a leader', () => leaderOf(state), 30_000, 100);
    const before = await call<ControllerEvent[]>(ep, 'GET', '/v1/events?since=0&limit=100000');
    const lastSeq = before.at(-1)?.seq ?? 0;
    const pidsBefore = webPids(state);
    const ac = new AbortController();
    const probe = runProbe({ lab: name, stateDir: LAB_DIR, target, intervalMs: 10, timeoutMs: 200, signal: ac.signal });
    await sleep(1_000);
    const killedAt = Date.now();
    await killDaemon(name, LAB_DIR, leader);
    // The new leader, and its events after the kill.
    const next = await waitFor('a new leader', async () => {
      const l = await leaderOf(state);
      return l.name !== leader ? l : undefined;
    }, 30_000, 50);
    const events = await waitFor('the new leader\'s events', async () => {
      const ev = await call<ControllerEvent[]>(next.ep, 'GET', `/v1/events?since=${lastSeq}&limit=100000`);
      const leads = ev.find((e) => /leads with epoch/.test(e.message) && e.message.includes(next.name));
      return leads === undefined ? undefined : ev;
    }, 30_000, 100);
    // Let the new leader settle and decide while the probe runs on.
    await sleep(3_000);
    const later = await call<ControllerEvent[]>(next.ep, 'GET', `/v1/events?since=${lastSeq}&limit=100000`);
    ac.abort();
    const { report } = await probe;
    const leads = events.find((e) => /leads with epoch/.test(e.message) && e.message.includes(next.name))!;
    const decision = later.find((e) => e.seq > leads.seq && e.kind === 'plan');
    const pidsAfter = webPids(state);
    const trial: TakeoverTrial = {
      killed: leader,
      leader: next.name,
      firstEventMs: leads.at - killedAt,
      firstDecisionMs: decision === undefined ? null : decision.at - killedAt,
      probeGapMs: report.rto?.durationMs ?? null,
      probeFailed: report.failed,
      noRestart: pidsBefore.join() === pidsAfter.join() && pidsBefore.length > 0,
    };
    out.push(trial);
    say(`takeover ${t + 1}/${trials}: ${leader} killed → ${next.name} leads after ${msText(trial.firstEventMs)}, first decision ${msText(trial.firstDecisionMs)}${decision ? ` (${decision.kind}: ${decision.message.slice(0, 60)})` : ''}; probe: ${report.failed} failed, longest gap ${msText(trial.probeGapMs)}; lab-web ${trial.noRestart ? 'not restarted' : `RESTARTED (${pidsBefore.join(' ')} → ${pidsAfter.join(' ')})`}`);
    await startHostDaemon(name, LAB_DIR, leader);
    await waitFor(`${leader} back as a follower`, async () => {
      const h = await call<{ role?: string }>({ describe: leader, socketPath: controllerSocket(state, leader) }, 'GET', '/v1/health', undefined, 1_000);
      return h.role === 'follower' ? true : undefined;
    }, 30_000, 200);
    await sleep(1_000);
  }
  await destroyLab(name, LAB_DIR);
  labs.delete(name);
  const first = out.map((t) => t.firstEventMs);
  const decisions = out.map((t) => t.firstDecisionMs).filter((x): x is number => x !== null);
  const gaps = out.map((t) => t.probeGapMs).filter((x): x is number => x !== null);
  return {
    leaderLeaseS: leaderLease,
    load: [load0, loadavg()[0] ?? Number.NaN],
    trials: out,
    firstEvent: { p50: percentile(first, 50), p99: percentile(first, 99), max: Math.max(...first) },
    firstDecision: decisions.length === 0 ? null : { p50: percentile(decisions, 50), p99: percentile(decisions, 99), max: Math.max(...decisions) },
    probeMaxGapMs: gaps.length === 0 ? null : Math.max(...gaps),
    restarts: out.filter((t) => !t.noRestart).length,
  };
}

// ---------------------------------------------------------------- 2. load

interface LoadRun {
  readonly agents: number;
  readonly intervalMs: number;
  /** Heartbeats a second the generator was asked for, and sent. */
  readonly offeredPerS: number;
  readonly sentPerS: number;
  /** Lease grants a second that came back (the controller answers every accepted heartbeat while quorate). */
  readonly grantsPerS: number;
  /** Heartbeats a second the kernel dropped at the controller's socket (its receive buffer was full). */
  readonly droppedPerS: number;
  /** Grants a second dropped at the generator's sockets (the generator, not the controller, was behind). */
  readonly grantsDroppedPerS: number;
  /** Slots the generator skipped, being late. */
  readonly skipped: number;
  readonly online: number;
  readonly cpuPct: number;
  readonly rssMaxMiB: number;
  readonly generatorCpuPct: number;
  readonly windowS: number;
  /** The machine's load average (1 min) at the end of the window. */
  readonly load: number;
  readonly profile?: { fn: string; selfPct: number }[];
}

async function benchLoad(agents: number, intervalMs: number, f: Flags): Promise<LoadRun> {
  const dir = mkdtempSync(join(tmp!, `load-${agents}-${intervalMs}-`));
  const ns = `hvtest-bench-${process.pid}`;
  spawnSync('ip', ['netns', 'del', ns]);
  const r = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
  if (r.status !== 0) throw new HavenError('SYSTEM_COMMAND_FAILED', `ip netns add ${ns}: ${r.stderr}`);
  namespaces.add(ns);
  try {
    spawnSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const config = join(dir, 'cluster.yaml');
    writeFileSync(config, stringify(simConfig(agents, intervalMs), { lineWidth: 0 }));
    const socket = join(dir, 'controller.sock');
    const prof = join(dir, 'prof');
    mkdirSync(prof);
    // The agents first, so that no node is ever lost (a controller that starts before them probes
    // and loses them all at once). One generator, the fd limit raised for its 1 socket per node.
    const gen = spawnIn(ns, ['sh', '-c', `ulimit -n ${agents + 1024} && exec "$0" "$@"`, process.execPath, LOAD_GEN, '--nodes', String(agents), '--count', String(agents), '--interval', String(intervalMs), '--controller', SIM_CONTROLLER_ADDRESS, '--port', String(SIM_RING_PORT), '--serve', String(SIM_AGENT_PORT)], join(dir, 'load-gen.log'), 'pipe');
    await jsonLine(gen, 120_000);
    const nodeArgs = f.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', prof] : [];
    const ctl = spawnIn(ns, [process.execPath, ...nodeArgs, HAVEN, 'controller', '--config', config, '--state-dir', join(dir, 'state'), '--socket', socket, '--log-level', 'warn'], join(dir, 'controller.log'));
    const ep: Endpoint = { describe: socket, socketPath: socket };
    const alive = (): void => {
      if (ctl.exitCode !== null || ctl.signalCode !== null) throw new HavenError('INTERNAL', `the controller exited (${ctl.exitCode ?? ctl.signalCode}): see ${join(dir, 'controller.log')}`);
    };
    await waitFor('the controller', () => {
      alive();
      return call<unknown>(ep, 'GET', '/v1/health', undefined, 1_000);
    }, 60_000, 200).catch((err: unknown) => {
      alive();
      throw err;
    });
    say(`load: ${agents} agents every ${intervalMs} ms: controller up; waiting until all are online`);
    const status = (): Promise<{ nodes: { state: string; probed: boolean }[]; plan: unknown }> => call(ep, 'GET', '/v1/status', undefined, 20_000);
    const online = async (): Promise<number> => (await status()).nodes.filter((n) => n.state === 'online').length;
    // Steady: every node online and probed (the controller asks each agent what it runs once), and
    // no plan under way. Not too often: a status of 10,000 nodes is work for the controller too.
    await waitFor(
      `${agents} nodes online and probed`,
      async () => {
        const s = await status();
        return s.plan === null && s.nodes.every((n) => n.state === 'online' && n.probed) ? true : undefined;
      },
      300_000,
      agents > 2_000 ? 5_000 : 1_000,
    );
    await sleep(f.warmupS * 1000);
    const ctlPid = ctl.pid!;
    const genPid = gen.pid!;
    const snapshot = async (): Promise<GenCounts> => {
      const line = jsonLine(gen, 10_000);
      process.kill(genPid, 'SIGUSR1');
      return (await line) as unknown as GenCounts;
    };
    const s0 = await snapshot();
    const u0 = udpCounters(ns);
    const d0 = socketDrops(ns, SIM_CONTROLLER_ADDRESS, SIM_RING_PORT);
    const c0 = cpuTicks(ctlPid);
    const g0 = cpuTicks(genPid);
    const t0 = process.hrtime.bigint();
    let rssMax = rssMiB(ctlPid);
    for (let s = 0; s < f.windowS; s++) {
      await sleep(1000);
      rssMax = Math.max(rssMax, rssMiB(ctlPid));
    }
    const t1 = process.hrtime.bigint();
    const windowS = Number(t1 - t0) / 1e9;
    const cpuPct = ((cpuTicks(ctlPid) - c0) / CLK_TCK / windowS) * 100;
    const generatorCpuPct = ((cpuTicks(genPid) - g0) / CLK_TCK / windowS) * 100;
    const u1 = udpCounters(ns);
    const d1 = socketDrops(ns, SIM_CONTROLLER_ADDRESS, SIM_RING_PORT);
    const s1 = await snapshot();
    const onlineNow = await online();
    gen.kill('SIGTERM');
    const secs = s1.seconds - s0.seconds;
    // The controller writes its profile when it exits cleanly.
    const exited = new Promise<void>((resolve) => ctl.once('exit', () => resolve()));
    const tKill = process.hrtime.bigint();
    ctl.kill('SIGTERM');
    await Promise.race([exited, sleep(20_000)]);
    // The profile ends when the controller exits, just after the SIGTERM: the window is placed back
    // from there by this process's clock (the profile's own clock is the controller's).
    const profile = f.cpuProf ? topFunctions(prof, { fromEndUs: Number(tKill - t0) / 1e3, toEndUs: Number(tKill - t1) / 1e3 }) : undefined;
    return {
      agents,
      intervalMs,
      offeredPerS: (agents * 1000) / intervalMs,
      sentPerS: (s1.sent - s0.sent) / secs,
      grantsPerS: (s1.grants - s0.grants) / secs,
      droppedPerS: (d1 - d0) / windowS,
      grantsDroppedPerS: Math.max(0, u1.rcvbufErrors - u0.rcvbufErrors - (d1 - d0)) / windowS,
      skipped: s1.skipped - s0.skipped,
      online: onlineNow,
      cpuPct,
      rssMaxMiB: rssMax,
      generatorCpuPct,
      windowS,
      load: loadavg()[0] ?? Number.NaN,
      ...(profile === undefined ? {} : { profile }),
    };
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
    namespaces.delete(ns);
  }
}

/** The drops counted on the UDP socket bound at address:port in the namespace (/proc/net/udp). */
function socketDrops(ns: string, address: string, port: number): number {
  const text = spawnSync('ip', ['netns', 'exec', ns, 'cat', '/proc/net/udp'], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout;
  const hex = `${address.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).reverse().join('').toUpperCase()}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const line = text.split('\n').find((l) => l.trim().split(/\s+/)[1] === hex);
  if (line === undefined) throw new HavenError('INTERNAL', `no UDP socket at ${address}:${port} in ${ns}`);
  return Number(line.trim().split(/\s+/).at(-1));
}

interface GenCounts {
  readonly sent: number;
  readonly grants: number;
  readonly skipped: number;
  readonly seconds: number;
}

/** The namespace's UDP counters (/proc/net/snmp is per network namespace). */
function udpCounters(ns: string): { inDatagrams: number; rcvbufErrors: number } {
  const text = spawnSync('ip', ['netns', 'exec', ns, 'cat', '/proc/net/snmp'], { encoding: 'utf8' }).stdout;
  const lines = text.split('\n').filter((l) => l.startsWith('Udp:'));
  const names = (lines[0] ?? '').split(/\s+/);
  const values = (lines[1] ?? '').split(/\s+/).map(Number);
  const get = (k: string): number => values[names.indexOf(k)] ?? Number.NaN;
  return { inDatagrams: get('InDatagrams'), rcvbufErrors: get('RcvbufErrors') };
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly hitCount?: number;
}

/**
 * The functions with the most self time in a .cpuprofile: "name (file:line)" and its share of the
 * samples taken in the measured window (given as µs before the profile's end), idle included.
 */
function topFunctions(dir: string, window: { fromEndUs: number; toEndUs: number }): { fn: string; selfPct: number }[] {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) return [];
  const p = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; endTime: number };
  const names = new Map<number, string>();
  for (const n of p.nodes) {
    const url = n.callFrame.url.replace(/^file:\/\//, '').replace(ROOT, '');
    names.set(n.id, `${n.callFrame.functionName || '(anonymous)'}${url === '' ? '' : ` ${url}:${n.callFrame.lineNumber + 1}`}`);
  }
  // Sample times from the deltas; the last sample is at (about) endTime.
  const times: number[] = [];
  let t = 0;
  for (const d of p.timeDeltas) times.push((t += d));
  const end = times.at(-1) ?? 0;
  const by = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const before = end - (times[i] ?? 0);
    if (before > window.fromEndUs || before < window.toEndUs) return;
    const key = names.get(id) ?? '(unknown)';
    by.set(key, (by.get(key) ?? 0) + 1);
    total++;
  });
  return [...by.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 15)
    .map(([fn, hits]) => ({ fn, selfPct: total === 0 ? 0 : (hits / total) * 100 }));
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const f = flags();
  if (process.getuid?.() !== 0) throw new HavenError('UNSUPPORTED', 'the controller bench needs root (network namespaces)', { hint: 'run it with sudo' });
  tmp = mkdtempSync(join(tmpdir(), 'hvbench-controller-'));
  const stop = (): void => {
    void cleanup().then(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const result: { takeover?: TakeoverResult; load?: LoadRun[] } = {};
  try {
    if (f.part !== 'load') result.takeover = await benchTakeover(f.trials, f.leaderLease);
    if (f.part !== 'takeover') {
      result.load = [];
      for (const agents of f.agents) {
        for (const interval of f.intervals) {
          if ((agents * 1000) / interval > f.maxRate) {
            say(`load: ${agents} agents every ${interval} ms skipped: ${(agents * 1000) / interval} heartbeats/s is above --max-rate ${f.maxRate}`);
            continue;
          }
          result.load.push(await benchLoad(agents, interval, f));
        }
      }
    }
  } finally {
    await cleanup();
  }
  if (f.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const out: string[] = [];
  if (result.takeover) {
    const t = result.takeover;
    out.push(`Leader takeover: kill -9 of the leader (3 controllers on a 3-member etcd, leader lease ${t.leaderLeaseS} s), ${t.trials.length} trials; load average ${t.load[0].toFixed(1)} → ${t.load[1].toFixed(1)} on ${cpus().length} cores`);
    out.push(
      table([
        ['', 'p50', 'p99', 'max'],
        ['kill → new leader\'s first event', msText(t.firstEvent.p50), msText(t.firstEvent.p99), msText(t.firstEvent.max)],
        ['kill → its first decision (plan)', msText(t.firstDecision?.p50), msText(t.firstDecision?.p99), msText(t.firstDecision?.max)],
      ]),
    );
    out.push(`  probe (every 10 ms on the VIP): longest gap ${t.probeMaxGapMs === null ? 'none (no request failed)' : msText(t.probeMaxGapMs)}; lab-web restarted in ${t.restarts} of ${t.trials.length} trials`);
    out.push('');
  }
  if (result.load) {
    out.push('One controller, simulated agents heartbeating (1 ring, loopback, no resources)');
    const rows = [['agents', 'interval', 'heartbeats/s offered', 'sent/s', 'dropped/s at the controller', 'grants/s', 'grants dropped/s at the generator', 'online at end', 'controller CPU', 'RSS max', 'generator CPU', 'load avg']];
    for (const l of result.load) {
      rows.push([
        String(l.agents),
        `${l.intervalMs} ms`,
        String(Math.round(l.offeredPerS)),
        String(Math.round(l.sentPerS)),
        String(Math.round(l.droppedPerS)),
        String(Math.round(l.grantsPerS)),
        String(Math.round(l.grantsDroppedPerS)),
        `${l.online}/${l.agents}`,
        `${l.cpuPct.toFixed(1)} %`,
        `${l.rssMaxMiB.toFixed(0)} MiB`,
        `${l.generatorCpuPct.toFixed(1)} %`,
        l.load.toFixed(1),
      ]);
    }
    out.push(table(rows));
    for (const l of result.load) {
      if (l.profile === undefined || l.profile.length === 0) continue;
      out.push('', `Where the controller's time goes, ${l.agents} agents every ${l.intervalMs} ms (self time in the measured window):`);
      out.push(table(l.profile.map((p) => [`${p.selfPct.toFixed(1)} %`, p.fn])));
    }
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch(async (err: unknown) => {
  await cleanup();
  process.stderr.write(`controller bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof HavenError && err.code === 'USAGE' ? 2 : 1);
});
