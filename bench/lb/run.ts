// The load-balancer bench: active/active behind HAProxy on a VIP, measured in the lab as a user
// of the service sees it. See docs/benchmarks.md (the figures) and docs/agents.md (haproxy).
// Needs root and Debian's haproxy.
//
//   npm run bench:lb                         10 backend power cuts, 10 load-balancer host power cuts
//   npm run bench:lb -- --trials 3 --json
//
// One lab: 3 hosts on 2 rings, examples/lab-api.yaml (an API clone and an HAProxy clone on every
// host, the VIP colocated with HAProxy on one of them) with a second service on the same HAProxy, `strict` (port 81, retries
// 0): a request sent to a dead server fails instead of being retried elsewhere, so the last
// failed request says when the server stopped getting traffic. Beside it, in the lab's client
// namespace, the anchor: a second HAProxy with the same backends and settings but driven by its
// own health checks only, at HAProxy's defaults (inter 2s, fall 3, rise 2), not by Haven.
//
// 1. Backend power cut (--trials): three probes (a GET every 10 ms) run through `strict` (Haven),
//    the anchor, and `api` (Haven, the production setting: retries 3 with redispatch); a backend
//    host that is not the HAProxy host loses power (links down, then every process killed). For
//    Haven and the anchor: the time from the cut to the last failed request; for `api`: how many
//    requests failed at all. Then the host is powered back on and the next trial waits until every
//    server is back in both HAProxys.
// 2. Load-balancer host power cut (--trials): a probe through `api`; the host holding the VIP
//    loses power; the RTO is the probe's longest gap (detection, fence, the VIP on another host
//    whose HAProxy already runs).
//
// The trials run in a child of this process inside the lab's client namespace, so the probes run
// in that process and start at once (a probe launched as a `haven lab probe` command can take
// seconds to start on a loaded machine). The lab is torn down at the end, also after a failure
// or Ctrl-C; the anchor HAProxy is a child of this process, stopped by its PID.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatNines, formatPercent } from '../../src/availability/nines.js';
import { call, type Endpoint } from '../../src/cli/client.js';
import type { ControllerSnapshot } from '../../src/controller/controller.js';
import type { ControllerEvent } from '../../src/store/store.js';
import { HavenError } from '../../src/errors.js';
import { runBench } from '../run-bench.js';
import { percentile, say, sleep, waitFor } from '../support.js';
import { createLab, destroyLab } from '../../src/lab/lab.js';
import { hostDownCommands } from '../../src/lab/layout.js';
import { powerOff, powerOn } from '../../src/lab/power.js';
import { runProbe, type ProbeResult } from '../../src/lab/probe.js';
import { labDir, requireState, stateDir, type LabState } from '../../src/lab/state.js';
import { ipBatch } from '../../src/lab/system.js';
import { parseHaproxyParams, renderHaproxyConfig } from '../../src/resources/haproxy-config.js';
import { runtimeCommand, parseServersState } from '../../src/resources/haproxy-runtime.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const DIR = stateDir();
const LAB = 'bench-lb';
const HOSTS = ['h1', 'h2', 'h3'];
/** The probe starts in the client namespace a moment after its launch; the cut comes after. */
const PROBE_LEAD_MS = 1500;
/** After a backend cut: long enough for HAProxy's own checks (fall 3 × inter 2 s, plus a check timeout). */
const BACKEND_TAIL_MS = 16_000;
const LB_TAIL_MS = 4000;
const GOAL_LAST_FAIL_MS = 300;
const GOAL_RATIO = 10;
const GOAL_LB_RTO_MS = 1000;

const USAGE = `usage: node dist/bench/lb/run.js [flags]   (as root, with haproxy installed)
  --trials N        power cuts of a backend host, and of the load-balancer host (default 10 each)
  --fence lab|bmc   fence with the lab's power switch (default) or the BMCs (fence_ipmilan → ipmi_sim)
  --skip-lb         no load-balancer host power cuts
  --json            print the figures as JSON
`;

interface Flags {
  readonly trials: number;
  readonly fence: 'lab' | 'bmc';
  readonly skipLb: boolean;
  readonly json: boolean;
  /** Set by the outer run: this is the child in the client namespace; the anchor's target and socket. */
  readonly inside: { readonly target: string; readonly stats: string } | undefined;
}

function flags(): Flags {
  const { values } = parseArgs({
    options: {
      trials: { type: 'string', default: '10' },
      fence: { type: 'string', default: 'lab' },
      'skip-lb': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
      'inside-anchor': { type: 'string' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const trials = Number(values.trials);
  if (!Number.isInteger(trials) || trials < 1) throw new HavenError('USAGE', `--trials must be an integer ≥ 1, got ${values.trials}`, { hint: USAGE });
  const inside = values['inside-anchor']?.split(' ');
  if (values.fence !== 'lab' && values.fence !== 'bmc') throw new HavenError('USAGE', `--fence must be lab or bmc, got ${values.fence}`, { hint: USAGE });
  return { trials, fence: values.fence, skipLb: values['skip-lb'], json: values.json, inside: inside === undefined ? undefined : { target: inside[0] ?? '', stats: inside[1] ?? '' } };
}

const ms = (n: number | undefined): string => (n === undefined || Number.isNaN(n) ? '—' : `${Math.round(n)} ms`);

interface Summary {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}
const summarize = (v: readonly number[]): Summary => ({ p50: percentile(v, 50), p99: percentile(v, 99), max: v.length === 0 ? Number.NaN : Math.max(...v) });

// ---------------------------------------------------------------- the lab, the anchor, Ctrl-C

let labUp = false;
let anchor: ChildProcess | undefined;
let tmp: string | undefined;

async function cleanup(): Promise<void> {
  if (inner?.pid !== undefined && inner.exitCode === null) {
    try {
      process.kill(inner.pid, 'SIGTERM');
    } catch {
      // gone
    }
  }
  if (anchor?.pid !== undefined && anchor.exitCode === null && anchor.signalCode === null) {
    try {
      process.kill(anchor.pid, 'SIGTERM');
    } catch {
      // gone
    }
  }
  if (labUp) await destroyLab(LAB, DIR, { keepLogs: process.env['HAVEN_BENCH_KEEP'] === '1' }).catch((err: unknown) => say(`lb bench: lab down: ${err instanceof Error ? err.message : String(err)}`));
  labUp = false;
  if (tmp !== undefined && process.env['HAVEN_BENCH_KEEP'] !== '1') rmSync(tmp, { recursive: true, force: true });
}

/** The resources: examples/lab-api.yaml plus the `strict` service (retries 0) on the same HAProxy. */
function resourcesFile(dir: string): string {
  const text = readFileSync(join(ROOT, 'examples', 'lab-api.yaml'), 'utf8');
  const extra = text.replace(
    '        api.check: "http:/"\n',
    '        api.check: "http:/"\n        strict.bind: "${LAB_NET}.0.100:81"\n        strict.transparent: true\n        strict.backend: api\n        strict.port: 8080\n        strict.mode: http\n        strict.check: "http:/"\n        strict.retries: 0\n',
  );
  if (extra === text) throw new HavenError('INTERNAL', 'examples/lab-api.yaml changed: cannot add the strict service');
  const file = join(dir, 'lab-api-bench.yaml');
  writeFileSync(file, extra);
  return file;
}

/** The anchor: HAProxy in the client namespace, its own checks at their defaults, no Haven. */
function startAnchor(state: LabState, dir: string): { target: string; stats: string } {
  const net = `10.${200 + state.id}.0`;
  const client = state.hosts.find((h) => h.role === 'client');
  if (client === undefined) throw new HavenError('INTERNAL', 'the lab has no client host');
  const stats = join(dir, 'anchor.sock');
  const spec = parseHaproxyParams({
    'api.bind': `${net}.250:82`,
    'api.servers': HOSTS.map((h, i) => `${h}=${net}.${i + 1}:8080`).join(' '),
    'api.mode': 'http',
    'api.check': 'http:/',
    'api.retries': 0,
  });
  if (Array.isArray(spec)) throw new HavenError('INTERNAL', spec.join('; '));
  const cfg = join(dir, 'anchor.cfg');
  writeFileSync(cfg, renderHaproxyConfig(spec, { instance: 'anchor', statsSocket: stats }));
  const fd = openSync(join(dir, 'anchor.log'), 'a');
  try {
    anchor = spawn('ip', ['netns', 'exec', client.ns, 'haproxy', '-W', '-f', cfg], { stdio: ['ignore', fd, fd] });
    anchor.on('error', () => undefined);
  } finally {
    closeSync(fd);
  }
  return { target: `http://${net}.250:82/`, stats };
}

async function anchorAllUp(stats: string): Promise<boolean> {
  const servers = parseServersState(await runtimeCommand(stats, 'show servers state'));
  return servers.length === HOSTS.length && servers.every((s) => s.operational === 'up');
}

async function pullPlug(host: string): Promise<number> {
  const h = (await requireState(DIR, LAB)).hosts.find((x) => x.name === host);
  if (h === undefined) throw new HavenError('INTERNAL', `no host ${host}`);
  const at = Date.now();
  await ipBatch(h.ns, hostDownCommands(h));
  await powerOff(LAB, DIR, host);
  return at;
}

// ---------------------------------------------------------------- trials

function where(s: ControllerSnapshot, prim: string): string[] {
  const res = s.status.resources as Record<string, Record<string, { state: string }> | undefined>;
  return Object.entries(res[prim] ?? {})
    .filter(([, c]) => c.state === 'started')
    .map(([n]) => n)
    .sort();
}

/** Waits for every host online, the API and HAProxy on every host, the VIP on one; returns the VIP's host. */
async function steady(ep: Endpoint): Promise<string> {
  return waitFor('every host online, the API and HAProxy everywhere, the VIP on one host, the plan idle', async () => {
    const s = await call<ControllerSnapshot>(ep, 'GET', '/v1/status', undefined, 2000);
    const vip = where(s, 'lb-vip');
    const ok = s.plan === null && s.nodes.every((n) => n.state === 'online' && n.probed) && where(s, 'api-web').join() === HOSTS.join() && where(s, 'lb-haproxy').join() === HOSTS.join() && vip.length === 1;
    return ok ? vip[0] : undefined;
  }, 90_000);
}

/** From the cut to the send time of the last failed request (0: none failed), on the probe's clock. */
function lastFailAfter(r: ProbeResult, cutAt: number): { lastFailMs: number; failed: number } {
  const cut = cutAt - Date.parse(r.report.startedAt);
  const failed = r.answers.filter((a) => !a.ok && a.sentMs >= cut - 50);
  const last = failed.reduce((m, a) => Math.max(m, a.sentMs), -Infinity);
  return { lastFailMs: failed.length === 0 ? 0 : last - cut, failed: failed.length };
}

interface BackendTrial {
  readonly host: string;
  readonly haven: { lastFailMs: number; failed: number };
  readonly anchor: { lastFailMs: number; failed: number };
  /** The production service (retries with redispatch). */
  readonly api: { failed: number; requests: number; maxLatencyMs: number; errors: Readonly<Record<string, number>> };
}

async function backendTrial(ep: Endpoint, vip: string, anchorT: { target: string; stats: string }, n: number): Promise<BackendTrial> {
  const lbHost = await steady(ep);
  await waitFor('the anchor to see every server up', () => anchorAllUp(anchorT.stats).then((u) => (u ? true : undefined)), 30_000, 200);
  const backends = HOSTS.filter((h) => h !== lbHost);
  const host = backends[n % backends.length] as string;
  const duration = PROBE_LEAD_MS + BACKEND_TAIL_MS;
  const probe = (target: string): Promise<ProbeResult> => runProbe({ lab: LAB, stateDir: DIR, target, durationMs: duration, timeoutMs: 1000, activeActive: true });
  const runs = [probe(`http://${vip}:81/`), probe(anchorT.target), probe(`http://${vip}/`)] as const;
  await sleep(PROBE_LEAD_MS);
  const cutAt = await pullPlug(host);
  const [strict, anc, api] = await Promise.all(runs);
  await powerOn(LAB, DIR, host);
  for (const r of [strict, anc, api]) {
    const cut = cutAt - Date.parse(r.report.startedAt);
    if (cut < 500) throw new HavenError('INTERNAL', `the probe of ${r.report.target} started only ${Math.round(cut)} ms before the cut: the machine is too loaded`);
  }
  return {
    host,
    haven: lastFailAfter(strict, cutAt),
    anchor: lastFailAfter(anc, cutAt),
    api: { failed: api.report.failed, requests: api.report.requests, maxLatencyMs: api.report.latencyMs?.max ?? 0, errors: api.report.errors },
  };
}

interface LbTrial {
  readonly from: string;
  /** From the cut: the controller's verdict, the fence confirmed, the VIP started elsewhere. */
  readonly lostMs: number | undefined;
  readonly fencedMs: number | undefined;
  readonly vipMs: number | undefined;
  readonly rtoMs: number;
  readonly failed: number;
  readonly requests: number;
}

async function lbTrial(ep: Endpoint, vip: string): Promise<LbTrial> {
  const from = await steady(ep);
  const since = (await call<ControllerEvent[]>(ep, 'GET', '/v1/events?since=0&limit=100000')).at(-1)?.seq ?? 0;
  const run = runProbe({ lab: LAB, stateDir: DIR, target: `http://${vip}/`, durationMs: PROBE_LEAD_MS + LB_TAIL_MS, activeActive: true });
  await sleep(PROBE_LEAD_MS);
  const cutAt = await pullPlug(from);
  const { report } = await run;
  const events = await call<ControllerEvent[]>(ep, 'GET', `/v1/events?since=${since}&limit=100000`);
  await powerOn(LAB, DIR, from);
  if (report.rto === null || report.rto.open) throw new HavenError('INTERNAL', `the probe saw no recovery after ${from} lost power (${JSON.stringify(report.rto)})`);
  const at = (e: ControllerEvent | undefined): number | undefined => (e === undefined ? undefined : e.at - cutAt);
  return {
    from,
    lostMs: at(events.find((e) => e.kind === 'observed' && e.node === from && /is lost/.test(e.message))),
    fencedMs: at(events.find((e) => e.kind === 'fenced' && e.node === from)),
    vipMs: at(events.find((e) => e.kind === 'action' && e.message.startsWith('start lb-vip@'))),
    rtoMs: report.rto.durationMs,
    failed: report.failed,
    requests: report.requests,
  };
}

// ---------------------------------------------------------------- main

interface Result {
  readonly backend: BackendTrial[];
  readonly lb: LbTrial[];
  readonly haven: Summary;
  readonly anchor: Summary;
  readonly ratio: number;
  readonly api: { failed: number; requests: number };
  readonly lbRto: Summary;
  readonly goals: { lastFailUnder300ms: boolean; tenTimesFaster: boolean; lbRtoP99Under1s: boolean | null };
}

function render(r: Result): string {
  const lines: string[] = [];
  lines.push('load balancer bench: HAProxy on a VIP over an API clone on 3 lab hosts');
  lines.push('');
  lines.push('backend host power cut: from the cut to the last failed request (retries 0, so a request sent to the dead server fails)');
  lines.push('  trial  host  Haven-driven       HAProxy checks (inter 2s, fall 3)   production service (retries 3 + redispatch)');
  r.backend.forEach((t, i) =>
    lines.push(
      `  ${String(i + 1).padStart(5)}  ${t.host.padEnd(4)}  ${ms(t.haven.lastFailMs).padStart(7)} (${String(t.haven.failed).padStart(3)} failed)  ${ms(t.anchor.lastFailMs).padStart(8)} (${String(t.anchor.failed).padStart(3)} failed)             ${t.api.failed} of ${t.api.requests} failed${t.api.failed === 0 ? '' : ` (${Object.entries(t.api.errors).map(([k, v]) => `${k} ${v}`).join(', ')})`}, slowest ${ms(t.api.maxLatencyMs)}`,
    ),
  );
  lines.push(`  Haven-driven:   p50 ${ms(r.haven.p50)}, p99 ${ms(r.haven.p99)}, max ${ms(r.haven.max)}  (goal < ${GOAL_LAST_FAIL_MS} ms: ${r.goals.lastFailUnder300ms ? 'met' : 'MISSED'})`);
  lines.push(`  HAProxy checks: p50 ${ms(r.anchor.p50)}, p99 ${ms(r.anchor.p99)}, max ${ms(r.anchor.max)}`);
  lines.push(`  Haven is ${r.ratio.toFixed(1)}× faster at p50 (goal ≥ ${GOAL_RATIO}×: ${r.goals.tenTimesFaster ? 'met' : 'MISSED'})`);
  const avail = r.api.requests === 0 ? 1 : (r.api.requests - r.api.failed) / r.api.requests;
  lines.push(`  production service: ${r.api.failed} of ${r.api.requests} requests failed (${formatPercent(avail)} % of requests, ${r.api.failed === 0 ? '∞' : formatNines(-Math.log10(1 - avail))} nines)`);
  if (r.lb.length > 0) {
    lines.push('');
    lines.push('load-balancer host power cut: the VIP moves to a host whose HAProxy runs (fenced first); RTO = the probe\'s longest gap');
    r.lb.forEach((t, i) => lines.push(`  ${String(i + 1).padStart(5)}  ${t.from.padEnd(4)}  RTO ${ms(t.rtoMs).padStart(7)}  (${t.failed} of ${t.requests} failed; after the cut: lost ${ms(t.lostMs)}, fenced ${ms(t.fencedMs)}, VIP up elsewhere ${ms(t.vipMs)})`));
    lines.push(`  RTO p50 ${ms(r.lbRto.p50)}, p99 ${ms(r.lbRto.p99)}, max ${ms(r.lbRto.max)}  (goal p99 < ${GOAL_LB_RTO_MS} ms: ${r.goals.lbRtoP99Under1s === true ? 'met' : 'MISSED'})`);
  }
  return `${lines.join('\n')}\n`;
}

/** The outer run: the lab and the anchor, then the trials in a child inside the client namespace. */
async function main(): Promise<number> {
  const f = flags();
  if (f.inside !== undefined) return trials(f, f.inside);
  if (process.getuid?.() !== 0) throw new HavenError('UNSUPPORTED', 'the lab builds network namespaces: run the bench as root');
  tmp = mkdtempSync(join(tmpdir(), 'haven-bench-lb-'));
  await destroyLab(LAB, DIR); // one left behind by a run that was killed
  say(`lb bench: lab up ${LAB} (3 hosts, 2 rings, examples/lab-api.yaml + a strict service, fenced through ${f.fence === 'bmc' ? 'the BMCs' : 'the lab power switch'})`);
  labUp = true;
  const state = await createLab({ name: LAB, stateDir: DIR, hosts: 3, rings: 2, bmc: f.fence === 'bmc', resources: resourcesFile(tmp) });
  const anchorT = startAnchor(state, tmp);
  const client = state.hosts.find((h) => h.role === 'client')?.ns ?? '';
  const args = [fileURLToPath(import.meta.url), '--trials', String(f.trials), '--fence', f.fence, '--inside-anchor', `${anchorT.target} ${anchorT.stats}`, ...(f.skipLb ? ['--skip-lb'] : []), ...(f.json ? ['--json'] : [])];
  const child = spawn('ip', ['netns', 'exec', client, process.execPath, ...args], { stdio: 'inherit', env: { ...process.env, HAVEN_LAB_STATE_DIR: DIR } });
  inner = child;
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

let inner: ChildProcess | undefined;

/** The trials, in the client namespace. */
async function trials(f: Flags, anchorT: { target: string; stats: string }): Promise<number> {
  const state = await requireState(DIR, LAB);
  const sock = join(labDir(DIR, LAB), 'controller.sock');
  const ep: Endpoint = { describe: `unix:${sock}`, socketPath: sock };
  const vip = `10.${200 + state.id}.0.100`;
  const backend: BackendTrial[] = [];
  for (let i = 0; i < f.trials; i++) {
    const t = await backendTrial(ep, vip, anchorT, i);
    say(`backend trial ${i + 1}/${f.trials}: ${t.host} cut; last failed request after ${ms(t.haven.lastFailMs)} (Haven) vs ${ms(t.anchor.lastFailMs)} (HAProxy checks); production service ${t.api.failed} failed`);
    backend.push(t);
  }
  const lb: LbTrial[] = [];
  if (!f.skipLb) {
    for (let i = 0; i < f.trials; i++) {
      const t = await lbTrial(ep, vip);
      say(`load-balancer trial ${i + 1}/${f.trials}: ${t.from} cut; RTO ${ms(t.rtoMs)}`);
      lb.push(t);
    }
  }
  const haven = summarize(backend.map((t) => t.haven.lastFailMs));
  const anc = summarize(backend.map((t) => t.anchor.lastFailMs));
  const lbRto = summarize(lb.map((t) => t.rtoMs));
  const result: Result = {
    backend,
    lb,
    haven,
    anchor: anc,
    ratio: anc.p50 / Math.max(1, haven.p50),
    api: { failed: backend.reduce((s, t) => s + t.api.failed, 0), requests: backend.reduce((s, t) => s + t.api.requests, 0) },
    lbRto,
    goals: { lastFailUnder300ms: haven.p99 < GOAL_LAST_FAIL_MS, tenTimesFaster: anc.p50 / Math.max(1, haven.p50) >= GOAL_RATIO, lbRtoP99Under1s: lb.length === 0 ? null : lbRto.p99 < GOAL_LB_RTO_MS },
  };
  process.stdout.write(f.json ? `${JSON.stringify(result, null, 2)}\n` : render(result));
  return 0;
}

runBench('lb bench', 'the lab', main, cleanup);
