// The fail-over bench: Haven's central promise, measured in the lab as a user of the service sees
// it. See docs/benchmarks.md (the figures) and docs/lab.md (the lab). Needs root.
//
//   npm run bench:failover                               20 trials of each, and the resource use
//   npm run bench:failover -- --trials 5 --skip-keepalived --skip-resources --json
//   npm run bench:failover -- --fence lab                 fenced by the lab power switch alone
//   npm run bench:failover -- --cut links                 the host isolated, not powered off
//
// The fence: by default through each host's simulated BMC — Debian's fence_ipmilan (IPMI 1.5
// LAN) to ipmi_sim, whose chassis control powers the host off (level 1 of lab.yaml's topology;
// the lab power switch is level 2); `--fence lab` builds the lab without BMCs, so the lab power
// switch (`haven lab fence`) fences. The cut: `power` pulls the plug (the host is off when the
// fence comes: fence_ipmilan finds it off and confirms it); `links` takes the host's links down
// on every ring and leaves its processes running, so the fence itself powers it off.
//
// 1. Haven: a lab of 3 hosts on 2 rings with examples/lab-web.yaml (a VIP and a web service as a
//    group). One trial: find the active host, start a probe (a GET every 10 ms through the VIP
//    from the lab's client), pull the active host's plug (links down, then every process in it
//    killed: see pullPlug), wait until the service runs on another
//    host, stop the probe. Detection = the controller's "… is lost" event minus the moment the
//    host stopped answering (the start of the probe's longest gap); RTO = that gap. Then the
//    host is powered back on and the next trial waits for it online and the plan idle.
// 2. Resource use: a lab of 10 hosts and 100 `process` resources (sleep), once settled: CPU
//    (utime+stime from /proc/PID/stat over a window) and RSS of the controller and each agent.
// 3. The anchor, keepalived: the same lab built with --no-daemons, a VRRPv3 instance (advert_int
//    0.1 s, priorities 150/100/50) and lab-web on each host, a VIP at .101; the same power cut of
//    the master, the same probe. keepalived has no fencing: it is the lower bound of a VIP
//    hand-over without the guarantee that the old holder is dead.
//
// Every lab is torn down at the end, also after a failure or Ctrl-C; keepalived and lab-web are
// children of this process, killed by their PIDs.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { call, type Endpoint } from '../../src/cli/client.js';
import type { ControllerSnapshot } from '../../src/controller/controller.js';
import { HavenError } from '../../src/errors.js';
import { runBench } from '../run-bench.js';
import { percentile, say, sleep, waitFor } from '../support.js';
import { createLab, destroyLab, labStatus } from '../../src/lab/lab.js';
import { hostDownCommands } from '../../src/lab/layout.js';
import { powerOff, powerOn } from '../../src/lab/power.js';
import { runProbe } from '../../src/lab/probe.js';
import type { ProbeReport } from '../../src/lab/probe-report.js';
import { labDir, requireState, stateDir, type LabState } from '../../src/lab/state.js';
import { ipBatch } from '../../src/lab/system.js';
import type { ControllerEvent } from '../../src/store/store.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const LAB_WEB = join(ROOT, 'scripts', 'lab-web.mjs');
const DIR = stateDir();
const LABS = { haven: 'bench-failover', resources: 'bench-failover-res', keepalived: 'bench-failover-vrrp' } as const;
/** Time for `haven lab probe` to start in the client namespace and answer a few requests. */
const PROBE_WARMUP_MS = 2000;
/** After the service is back, let the probe see it answer for a while before stopping it. */
const PROBE_TAIL_MS = 500;
const SAMPLE_MS = 10_000;
const RESOURCES = 100;
const RESOURCE_HOSTS = 10;

const USAGE = `usage: node dist/bench/failover/run.js [flags]   (as root)
  --trials N           power cuts per system (default 20)
  --skip-keepalived    no keepalived anchor
  --skip-resources     no resource-use lab (${RESOURCE_HOSTS} hosts × ${RESOURCES} resources)
  --fence bmc|lab      fence through each host's BMC (fence_ipmilan → ipmi_sim; default) or the lab power switch
  --cut power|links    pull the plug (default), or take the host's links down and leave it running
  --json               print the figures as JSON
`;

interface Flags {
  readonly trials: number;
  readonly fence: 'bmc' | 'lab';
  readonly cut: 'power' | 'links';
  readonly skipKeepalived: boolean;
  readonly skipResources: boolean;
  readonly json: boolean;
}

function flags(): Flags {
  const { values } = parseArgs({
    options: {
      trials: { type: 'string', default: '20' },
      'skip-keepalived': { type: 'boolean', default: false },
      'skip-resources': { type: 'boolean', default: false },
      fence: { type: 'string', default: 'bmc' },
      cut: { type: 'string', default: 'power' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const trials = Number(values.trials);
  if (!Number.isInteger(trials) || trials < 1) throw new HavenError('USAGE', `--trials must be an integer ≥ 1, got ${values.trials}`, { hint: USAGE });
  const fence = values.fence;
  if (fence !== 'bmc' && fence !== 'lab') throw new HavenError('USAGE', `--fence must be bmc or lab, got ${fence}`, { hint: USAGE });
  const cut = values.cut;
  if (cut !== 'power' && cut !== 'links') throw new HavenError('USAGE', `--cut must be power or links, got ${cut}`, { hint: USAGE });
  return { trials, fence, cut, skipKeepalived: values['skip-keepalived'], skipResources: values['skip-resources'], json: values.json };
}

// ---------------------------------------------------------------- helpers


interface Summary {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

function summarize(values: readonly number[]): Summary {
  return { p50: percentile(values, 50), p99: percentile(values, 99), max: values.length === 0 ? Number.NaN : Math.max(...values) };
}

const ms = (n: number | undefined): string => (n === undefined || Number.isNaN(n) ? '—' : `${Math.round(n)} ms`);

/** ring 0's network of a lab: "10.<200+id>.0". */
function ring0Net(state: LabState): string {
  return `10.${200 + state.id}.0`;
}

// ---------------------------------------------------------------- labs, children, Ctrl-C

const labsUp = new Set<string>();
const children = new Set<ChildProcess>();
let tmp: string | undefined;

async function up(opts: Parameters<typeof createLab>[0]): Promise<LabState> {
  await destroyLab(opts.name, DIR); // one left behind by a run that was killed
  labsUp.add(opts.name);
  return createLab(opts);
}

async function down(name: string): Promise<void> {
  await destroyLab(name, DIR).catch((err: unknown) => say(`failover bench: lab down ${name}: ${err instanceof Error ? err.message : String(err)}`));
  labsUp.delete(name);
}

function killChildren(): void {
  for (const c of children) {
    if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(c.pid, 'SIGTERM');
      } catch {
        // gone already (a power cut kills everything in its namespace)
      }
    }
  }
  children.clear();
}

async function cleanup(): Promise<void> {
  killChildren();
  for (const name of [...labsUp]) await down(name);
  // HAVEN_BENCH_KEEP=1 keeps keepalived's and lab-web's logs and configurations, for a look.
  if (tmp !== undefined && process.env['HAVEN_BENCH_KEEP'] !== '1') rmSync(tmp, { recursive: true, force: true });
  else if (tmp !== undefined) say(`failover bench: kept ${tmp}`);
}

/** A long-running child this process owns, started in a lab host's namespace. */
function spawnIn(ns: string, command: readonly string[], env: NodeJS.ProcessEnv, log: string): ChildProcess {
  const fd = openSync(log, 'a');
  try {
    // `ip netns exec` execs the command: the child's PID is the command's.
    const child = spawn('ip', ['netns', 'exec', ns, ...command], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
    child.on('error', () => undefined);
    children.add(child);
    child.on('exit', () => children.delete(child));
    return child;
  } finally {
    closeSync(fd);
  }
}

/**
 * The power cut of both systems: the host's links go down, then `powerOff` kills everything in
 * it. powerOff alone kills first, and keepalived's VRRP process, told by the kernel that its
 * parent died (PR_SET_PDEATHSIG, SIGTERM) before its own SIGKILL lands, can still send a
 * priority-0 advert: a graceful hand-over in 70 ms that no real power cut gives. Dark links
 * first make the cut silent for both, as a pulled plug is.
 */
async function pullPlug(lab: string, host: string): Promise<void> {
  const h = (await requireState(DIR, lab)).hosts.find((x) => x.name === host);
  if (h === undefined) throw new HavenError('INTERNAL', `lab ${lab} has no host ${host}`);
  await ipBatch(h.ns, hostDownCommands(h));
  await powerOff(lab, DIR, host);
}

// ---------------------------------------------------------------- 1. Haven

interface HavenTrial {
  readonly from: string;
  readonly to: string;
  readonly detectionMs: number | undefined;
  readonly fencedAtMs: number | undefined;
  readonly fenceMs: number | undefined;
  /** The device(s) that fenced, e.g. `ipmi-h1 (level 1)`. */
  readonly fencedBy: string | undefined;
  readonly startedAtMs: number | undefined;
  readonly rtoMs: number;
  readonly failed: number;
  readonly splitBrain: number;
}

function activeHost(s: ControllerSnapshot): string | undefined {
  const res = s.status.resources as Record<string, Record<string, { state: string }> | undefined>;
  const web = res['web'] ?? {};
  const vip = res['web-vip'] ?? {};
  const hosts = Object.keys(web).filter((n) => web[n]?.state === 'started' && vip[n]?.state === 'started');
  return hosts.length === 1 && s.plan === null ? hosts[0] : undefined;
}

/** Where the probe's longest gap started (epoch ms): the moment the host stopped answering. */
function gapStart(report: ProbeReport): number | undefined {
  return report.rto === null ? undefined : Date.parse(report.startedAt) + report.rto.startMs;
}

/** The other cut: the host's links go down on every ring; its processes keep running until a fence. */
async function isolate(lab: string, host: string): Promise<void> {
  const h = (await requireState(DIR, lab)).hosts.find((x) => x.name === host);
  if (h === undefined) throw new HavenError('INTERNAL', `lab ${lab} has no host ${host}`);
  await ipBatch(h.ns, hostDownCommands(h));
}

async function havenTrial(lab: string, ep: Endpoint, target: string, cutKind: Flags['cut']): Promise<HavenTrial | string> {
  const status = (): Promise<ControllerSnapshot> => call<ControllerSnapshot>(ep, 'GET', '/v1/status', undefined, 2000);
  const first = await waitFor('the web service to run on one host, the plan idle', async () => activeHost(await status()), 60_000, 50);
  const before = await call<ControllerEvent[]>(ep, 'GET', '/v1/events?since=0&limit=100000');
  const since = before.at(-1)?.seq ?? 0;

  const stop = new AbortController();
  const probe = runProbe({ lab, stateDir: DIR, target, signal: stop.signal });
  probe.catch(() => undefined); // awaited below; on Ctrl-C the lab goes down under it
  let second: string | undefined;
  try {
    await sleep(PROBE_WARMUP_MS);
    if (cutKind === 'power') await pullPlug(lab, first);
    else await isolate(lab, first);
    second = await waitFor('the service on another host', async () => {
      const h = activeHost(await status());
      return h !== undefined && h !== first ? h : undefined;
    }, 30_000, 20);
    await sleep(PROBE_TAIL_MS);
  } finally {
    stop.abort();
  }
  const { report } = await probe;
  const events = await call<ControllerEvent[]>(ep, 'GET', `/v1/events?since=${since}&limit=100000`);

  // Isolated and not fenced (a failed fence): its links come back before the power cycle.
  const h = (await requireState(DIR, lab)).hosts.find((x) => x.name === first);
  if (h !== undefined && h.power === 'on') await powerOff(lab, DIR, first);
  await powerOn(lab, DIR, first);
  await waitFor(`${first} online, the plan idle`, async () => {
    const s = await status();
    return s.nodes.find((n) => n.name === first)?.state === 'online' && activeHost(s) === second ? true : undefined;
  }, 60_000, 50);

  // A trial counts only when the probe saw the first host answer, then a gap, then the second.
  const cut = gapStart(report);
  if (cut === undefined || report.rto === null || report.rto.open || report.rto.before !== first || report.rto.after !== second) {
    return `the probe did not see ${first} → gap → ${second} (before ${report.rto?.before ?? '?'}, after ${report.rto?.after ?? '?'}, open ${String(report.rto?.open)})`;
  }
  const lost = events.find((e) => e.kind === 'observed' && e.node === first && /is lost/.test(e.message));
  const fenced = events.find((e) => e.kind === 'fenced' && e.node === first);
  const started = events.find((e) => e.kind === 'action' && e.message.startsWith(`start web@${second}`));
  const fenceText = fenced === undefined ? undefined : / in (\d+) ms$/.exec(fenced.message)?.[1];
  const fencedBy = fenced === undefined ? undefined : / fenced by (.*) in \d+ ms$/.exec(fenced.message)?.[1];
  return {
    from: first,
    to: second,
    detectionMs: lost === undefined ? undefined : lost.at - cut,
    fencedAtMs: fenced === undefined ? undefined : fenced.at - cut,
    fenceMs: fenceText === undefined ? undefined : Number(fenceText),
    fencedBy,
    startedAtMs: started === undefined ? undefined : started.at - cut,
    rtoMs: report.rto.durationMs,
    failed: report.failed,
    splitBrain: report.splitBrain.length,
  };
}

interface HavenResult {
  readonly trials: HavenTrial[];
  readonly discarded: string[];
  readonly detection: Summary;
  readonly fence: Summary;
  readonly rto: Summary;
  readonly failed: number;
  readonly splitBrain: number;
}

async function benchHaven(n: number, f: Pick<Flags, 'fence' | 'cut'>): Promise<HavenResult> {
  const lab = LABS.haven;
  say(`haven: lab up ${lab} (3 hosts, 2 rings, examples/lab-web.yaml, fenced through ${f.fence === 'bmc' ? 'the BMCs (fence_ipmilan → ipmi_sim)' : 'the lab power switch'}, cut: ${f.cut})`);
  const state = await up({ name: lab, stateDir: DIR, hosts: 3, rings: 2, bmc: f.fence === 'bmc', resources: join(ROOT, 'examples', 'lab-web.yaml') });
  const ep: Endpoint = { describe: `unix:${join(labDir(DIR, lab), 'controller.sock')}`, socketPath: join(labDir(DIR, lab), 'controller.sock') };
  const target = `http://${ring0Net(state)}.100:8080/`;
  const trials: HavenTrial[] = [];
  const discarded: string[] = [];
  try {
    while (trials.length < n && discarded.length <= Math.max(3, n / 4)) {
      const t = await havenTrial(lab, ep, target, f.cut);
      if (typeof t === 'string') {
        discarded.push(t);
        say(`haven: trial discarded: ${t}`);
        continue;
      }
      trials.push(t);
      say(`haven: trial ${trials.length}/${n}: ${t.from} → ${t.to}, detection ${ms(t.detectionMs)}, fence ${ms(t.fenceMs)} by ${t.fencedBy ?? '?'}, RTO ${ms(t.rtoMs)}`);
    }
  } finally {
    await down(lab);
  }
  const defined = (xs: (number | undefined)[]): number[] => xs.filter((x): x is number => x !== undefined);
  return {
    trials,
    discarded,
    detection: summarize(defined(trials.map((t) => t.detectionMs))),
    fence: summarize(defined(trials.map((t) => t.fenceMs))),
    rto: summarize(trials.map((t) => t.rtoMs)),
    failed: trials.reduce((a, t) => a + t.failed, 0),
    splitBrain: trials.reduce((a, t) => a + t.splitBrain, 0),
  };
}

// ---------------------------------------------------------------- 2. resource use

interface ProcUse {
  readonly host: string;
  readonly role: string;
  readonly pid: number;
  /** Its own CPU over the window, in % of one core. */
  readonly cpuPct: number;
  /** Its children's that ended in the window (checks, fence agents), in % of one core. */
  readonly childCpuPct: number;
  readonly rssMiB: number;
  /** Agents: the resources started on its host. */
  readonly resources?: number;
}

interface ResourcesResult {
  readonly hosts: number;
  readonly resources: number;
  readonly settleMs: number;
  readonly windowMs: number;
  readonly processes: ProcUse[];
  readonly agents: { readonly cpuPct: Summary; readonly rssMiB: Summary };
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime+stime and cutime+cstime of a process, in ticks. */
function cpuTicks(pid: number): { self: number; children: number } {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm)": state is field 3, utime 14, stime 15, cutime 16, cstime 17.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ').map(Number);
  return { self: (f[11] ?? 0) + (f[12] ?? 0), children: (f[13] ?? 0) + (f[14] ?? 0) };
}

function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? Number.NaN : Number(m[1]) / 1024;
}

function resourcesYaml(): string {
  const lines = ['resources:'];
  for (let i = 1; i <= RESOURCES; i++) {
    const id = `sleep${String(i).padStart(3, '0')}`;
    lines.push(`  - { type: primitive, id: ${id}, agent: process, params: { command: sleep, args: "infinity" }, operations: [{ name: monitor, interval: 5s, timeout: 5s }] }`);
  }
  return `${lines.join('\n')}\n`;
}

async function benchResources(): Promise<ResourcesResult> {
  const lab = LABS.resources;
  const file = join(tmp as string, 'resources.yaml');
  writeFileSync(file, resourcesYaml());
  say(`resources: lab up ${lab} (${RESOURCE_HOSTS} hosts, ${RESOURCES} process resources, monitor every 5 s)`);
  const t0 = Date.now();
  await up({ name: lab, stateDir: DIR, hosts: RESOURCE_HOSTS, rings: 2, bmc: false, resources: file });
  try {
    const sock = join(labDir(DIR, lab), 'controller.sock');
    const ep: Endpoint = { describe: `unix:${sock}`, socketPath: sock };
    const perHost = await waitFor(`all ${RESOURCES} resources started, the plan idle`, async () => {
      const s = await call<ControllerSnapshot>(ep, 'GET', '/v1/status', undefined, 5000);
      const res = s.status.resources as Record<string, Record<string, { state: string }> | undefined>;
      const count = new Map<string, number>();
      let started = 0;
      for (const byNode of Object.values(res)) {
        const on = Object.entries(byNode ?? {}).filter(([, r]) => r.state === 'started').map(([n]) => n);
        if (on.length !== 1) continue;
        started++;
        count.set(on[0] as string, (count.get(on[0] as string) ?? 0) + 1);
      }
      return started === RESOURCES && s.plan === null ? count : undefined;
    }, 180_000, 250);
    const settleMs = Date.now() - t0;
    say(`resources: settled in ${(settleMs / 1000).toFixed(1)} s; sampling for ${SAMPLE_MS / 1000} s`);
    await sleep(2000); // the first monitors after the starts
    const st = await labStatus(lab, DIR);
    const daemons = st.hosts.flatMap((h) => h.daemons.filter((d) => d.alive).map((d) => ({ host: h.name, role: d.role, pid: d.pid })));
    const a = daemons.map((d) => cpuTicks(d.pid));
    const start = process.hrtime.bigint();
    await sleep(SAMPLE_MS);
    const windowMs = Number(process.hrtime.bigint() - start) / 1e6;
    const processes = daemons.map((d, i): ProcUse => {
      const b = cpuTicks(d.pid);
      const before = a[i] as { self: number; children: number };
      const pct = (ticks: number): number => ((ticks / CLK_TCK) * 1000 * 100) / windowMs;
      const use = { ...d, cpuPct: pct(b.self - before.self), childCpuPct: pct(b.children - before.children), rssMiB: rssMiB(d.pid) };
      return d.role === 'agent' ? { ...use, resources: perHost.get(d.host) ?? 0 } : use;
    });
    const agents = processes.filter((p) => p.role === 'agent');
    return {
      hosts: RESOURCE_HOSTS,
      resources: RESOURCES,
      settleMs,
      windowMs,
      processes,
      agents: { cpuPct: summarize(agents.map((p) => p.cpuPct)), rssMiB: summarize(agents.map((p) => p.rssMiB)) },
    };
  } finally {
    await down(lab);
  }
}

// ---------------------------------------------------------------- 3. keepalived

interface VrrpTrial {
  readonly from: string;
  readonly to: string;
  readonly rtoMs: number;
  readonly failed: number;
  readonly splitBrain: number;
}

interface KeepalivedResult {
  readonly version: string;
  readonly trials: VrrpTrial[];
  readonly discarded: string[];
  readonly rto: Summary;
  readonly failed: number;
  readonly splitBrain: number;
}

const PRIORITY: Readonly<Record<string, number>> = { h1: 150, h2: 100, h3: 50 };

function keepalivedConf(host: string, vip: string): string {
  return `# bench/failover: the keepalived anchor on ${host}
global_defs {
  router_id ${host}
  vrrp_version 3
  script_user root
}
vrrp_instance bench {
  state BACKUP
  interface ring0
  virtual_router_id 51
  priority ${PRIORITY[host] ?? 10}
  advert_int 0.1
  virtual_ipaddress {
    ${vip}/24 dev ring0
  }
}
`;
}

function holdsAddress(ns: string, address: string): boolean {
  const r = spawnSync('ip', ['-n', ns, '-4', '-o', 'addr', 'show', 'dev', 'ring0'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes(` ${address}/`);
}

async function benchKeepalived(n: number): Promise<KeepalivedResult> {
  const lab = LABS.keepalived;
  const version = (spawnSync('keepalived', ['--version'], { encoding: 'utf8' }).stderr.split('\n')[0] ?? '').trim();
  if (version === '') throw new HavenError('UNSUPPORTED', 'keepalived is not installed', { hint: 'node scripts/setup.mjs installs it (as root), or pass --skip-keepalived' });
  say(`keepalived: lab up ${lab} (3 hosts, 2 rings, --no-daemons); ${version}`);
  const state = await up({ name: lab, stateDir: DIR, hosts: 3, rings: 2, daemons: false, bmc: false });
  const net = ring0Net(state);
  const vip = `${net}.101`;
  const target = `http://${vip}:8080/`;
  const hosts = state.hosts.filter((h) => h.role === 'host');
  const dir = tmp as string;
  const startHost = (name: string): void => {
    const h = hosts.find((x) => x.name === name);
    if (h === undefined) throw new HavenError('INTERNAL', `no host ${name}`);
    const conf = join(dir, `${name}.conf`);
    writeFileSync(conf, keepalivedConf(name, vip));
    spawnIn(h.ns, [process.execPath, LAB_WEB, '--port', '8080', '--name', name], { HAVEN_NODE: name }, join(dir, `${name}-web.log`));
    const pid = (what: string): string => join(dir, `${name}-${what}.pid`);
    // A power cut leaves its pid files behind; a PID in them reused since makes keepalived
    // refuse to start ("daemon is already running").
    for (const what of ['keepalived', 'vrrp', 'checkers']) rmSync(pid(what), { force: true });
    spawnIn(h.ns, ['keepalived', '-n', '-l', '-D', '--vrrp', '-f', conf, '-p', pid('keepalived'), '-r', pid('vrrp'), '-c', pid('checkers')], {}, join(dir, `${name}-keepalived.log`));
  };
  const holders = (): string[] => hosts.filter((h) => holdsAddress(h.ns, vip)).map((h) => h.name);
  /**
   * The one host holding the VIP, the same for `stableMs`: h1 once every host is back (it has
   * the highest priority and keepalived preempts by default), so every trial cuts h1's power.
   */
  const settled = async (stableMs: number): Promise<string> => {
    let last: string | undefined;
    let since = Date.now();
    return waitFor(`h1 alone holding ${vip}`, () => {
      const h = holders();
      const one = h.length === 1 ? h[0] : undefined;
      if (one !== last) {
        last = one;
        since = Date.now();
      }
      return one === 'h1' && Date.now() - since >= stableMs ? one : undefined;
    }, 30_000, 50);
  };
  const trials: VrrpTrial[] = [];
  const discarded: string[] = [];
  try {
    for (const h of hosts) startHost(h.name);
    while (trials.length < n && discarded.length <= Math.max(3, n / 4)) {
      const master = await settled(500);
      const stop = new AbortController();
      const probe = runProbe({ lab, stateDir: DIR, target, signal: stop.signal });
      probe.catch(() => undefined);
  probe.catch(() => undefined); // awaited below; on Ctrl-C the lab goes down under it
      let second: string | undefined;
      try {
        await sleep(PROBE_WARMUP_MS);
        await pullPlug(lab, master);
        second = await waitFor('the VIP on another host', () => holders().find((h) => h !== master), 30_000, 10);
        await sleep(PROBE_TAIL_MS);
      } finally {
        stop.abort();
      }
      const { report } = await probe;
      await powerOn(lab, DIR, master);
      startHost(master);
      const rto = report.rto;
      if (rto === null || rto.open || rto.before !== master || rto.after !== second) {
        const why = `the probe did not see ${master} → gap → ${second} (before ${rto?.before ?? '?'}, after ${rto?.after ?? '?'}, open ${String(rto?.open)})`;
        discarded.push(why);
        say(`keepalived: trial discarded: ${why}`);
        continue;
      }
      trials.push({ from: master, to: second, rtoMs: rto.durationMs, failed: report.failed, splitBrain: report.splitBrain.length });
      say(`keepalived: trial ${trials.length}/${n}: ${master} → ${second}, RTO ${ms(rto.durationMs)}`);
    }
  } finally {
    killChildren();
    await down(lab);
  }
  return {
    version,
    trials,
    discarded,
    rto: summarize(trials.map((t) => t.rtoMs)),
    failed: trials.reduce((a, t) => a + t.failed, 0),
    splitBrain: trials.reduce((a, t) => a + t.splitBrain, 0),
  };
}

// ---------------------------------------------------------------- output

/** Issue 3's goal with the lab power switch; issue 4's with fence_ipmilan → ipmi_sim. */
const GOAL_RTO_MS = { lab: 1000, bmc: 1500 } as const;

function render(f: Flags, haven: HavenResult, resources: ResourcesResult | undefined, kad: KeepalivedResult | undefined): string {
  const out: string[] = [];
  const row = (cells: readonly string[], widths: readonly number[]): string => cells.map((c, i) => c.padStart(widths[i] ?? 8)).join(' ');
  const goal = GOAL_RTO_MS[f.fence];
  const fencer = f.fence === 'bmc' ? 'fence_ipmilan → ipmi_sim' : 'lab power switch';
  const cutText = f.cut === 'power' ? 'power cut of the active host' : 'the active host isolated (links down, still running)';
  out.push(`Haven fail-over: 3 hosts, 2 rings, VIP + web group, ${cutText}, fenced by ${fencer}, probe every 10 ms (${haven.trials.length} trials${haven.discarded.length > 0 ? `, ${haven.discarded.length} discarded` : ''})`);
  const w = [5, 10, 11, 10, 10, 10, 8, 7, 6];
  out.push(row(['trial', 'hand-over', 'detection', 'fenced at', 'fence', 'started', 'RTO', 'failed', 'split'], w));
  haven.trials.forEach((t, i) => {
    out.push(row([String(i + 1), `${t.from}→${t.to}`, ms(t.detectionMs), ms(t.fencedAtMs), ms(t.fenceMs), ms(t.startedAtMs), ms(t.rtoMs), String(t.failed), String(t.splitBrain)], w));
  });
  out.push('  (times from the moment the host stopped answering; fence: the fence agent run; started: the web service started on the new host)');
  const line = (k: string, v: string): void => {
    out.push(`  ${k.padEnd(30)} ${v}`);
  };
  const sum = (s: Summary): string => `p50 ${ms(s.p50)}, p99 ${ms(s.p99)}, max ${ms(s.max)}`;
  line('detection (→ node lost)', sum(haven.detection));
  line(`fence (${fencer})`, sum(haven.fence));
  const by = new Map<string, number>();
  for (const t of haven.trials) {
    const k = (t.fencedBy ?? '?').replace(/-h\d+\b/g, '-<host>');
    by.set(k, (by.get(k) ?? 0) + 1);
  }
  line('fenced by', [...by].map(([k, v]) => `${k} × ${v}`).join(', '));
  line('RTO (probe\'s longest gap)', sum(haven.rto));
  line('failed requests', `${haven.failed} in ${haven.trials.length} trials`);
  line('split brain seen', haven.splitBrain === 0 ? 'none' : `${haven.splitBrain} time(s)!`);
  line(`goal: p99 RTO < ${goal / 1000} s`, haven.rto.p99 < goal ? `met (${ms(haven.rto.p99)})` : `NOT met (${ms(haven.rto.p99)})`);

  if (resources !== undefined) {
    out.push('');
    out.push(`Resource use: ${resources.hosts} hosts, ${resources.resources} process resources (sleep, monitor every 5 s), settled in ${(resources.settleMs / 1000).toFixed(1)} s after lab up; CPU over ${(resources.windowMs / 1000).toFixed(1)} s`);
    const rw = [11, 8, 10, 9, 12, 9];
    out.push(row(['process', 'pid', 'resources', 'CPU %', 'children %', 'RSS MiB'], rw));
    for (const p of resources.processes) {
      out.push(row([p.role === 'controller' ? 'controller' : `agent ${p.host}`, String(p.pid), p.resources === undefined ? '' : String(p.resources), p.cpuPct.toFixed(2), p.childCpuPct.toFixed(2), p.rssMiB.toFixed(1)], rw));
    }
    out.push(`  agents: CPU p50 ${resources.agents.cpuPct.p50.toFixed(2)} %, max ${resources.agents.cpuPct.max.toFixed(2)} %; RSS p50 ${resources.agents.rssMiB.p50.toFixed(1)} MiB, max ${resources.agents.rssMiB.max.toFixed(1)} MiB  (CPU in % of one core)`);
  }

  if (kad !== undefined) {
    out.push('');
    out.push(`keepalived anchor (${kad.version}): VRRPv3, advert_int 0.1 s, priorities 150/100/50, the same power cut and probe (${kad.trials.length} trials${kad.discarded.length > 0 ? `, ${kad.discarded.length} discarded` : ''})`);
    out.push(`  RTO per trial: ${kad.trials.map((t) => Math.round(t.rtoMs)).join(' ')} ms`);
    line('RTO', sum(kad.rto));
    line('failed requests', `${kad.failed} in ${kad.trials.length} trials`);
    line('split brain seen', kad.splitBrain === 0 ? 'none' : `${kad.splitBrain} time(s)`);
    line('Haven / keepalived RTO', `p50 ${(haven.rto.p50 / kad.rto.p50).toFixed(2)}×, p99 ${(haven.rto.p99 / kad.rto.p99).toFixed(2)}×`);
    out.push('  keepalived has no fencing: in a partition both sides hold the VIP. Haven fences the lost host');
    out.push(`  (through ${fencer}) before it starts the service elsewhere: the difference is the price of that.`);
  }
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const f = flags();
  if (process.getuid?.() !== 0) throw new HavenError('UNSUPPORTED', 'the lab builds network namespaces: run the bench as root');
  tmp = mkdtempSync(join(tmpdir(), 'haven-bench-failover-'));
  const haven = await benchHaven(f.trials, f);
  const resources = f.skipResources ? undefined : await benchResources();
  const kad = f.skipKeepalived ? undefined : await benchKeepalived(f.trials);
  if (f.json) {
    const ratio = kad === undefined ? undefined : { p50: haven.rto.p50 / kad.rto.p50, p99: haven.rto.p99 / kad.rto.p99 };
    process.stdout.write(`${JSON.stringify({ haven, resources, keepalived: kad, ratio, fence: f.fence, cut: f.cut, goal: { p99RtoMs: GOAL_RTO_MS[f.fence], met: haven.rto.p99 < GOAL_RTO_MS[f.fence] } }, null, 2)}\n`);
  } else {
    process.stdout.write(render(f, haven, resources, kad));
  }
  return haven.splitBrain === 0 && haven.trials.length > 0 ? 0 : 1;
}

runBench('failover bench', 'the labs', main, cleanup);
