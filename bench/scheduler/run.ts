// The scheduler bench: how long plan(config, status, now) takes and how much memory it needs on
// generated clusters (./generate.ts) from 100 nodes × 1,000 resources up to 10,000 × 100,000,
// for a steady cluster (nothing to do) and a cold start (nothing probed, everything to start);
// then the same snapshot planned by Pacemaker's crm_simulate, where it is installed.
//
//   npm run bench:scheduler                       every size, 5 runs each, Pacemaker comparison
//   npm run bench:scheduler -- --sizes 100x1000 --runs 3 --pacemaker off
//
// Each size is prepared in one child process (generate, plan the cold start, apply it to get the
// steady snapshot) and written to a file; each (size, snapshot) is then measured in a fresh child
// that reads the file and does nothing but plan, so its peak RSS (resourceUsage().maxRSS) is the
// input plus planning, not the generation. Timings: one warm-up plan, then the median of --runs
// plans, each after a full GC; a plan slower than --slow-ms is measured once (its warm-up run).
//
// Flags: --sizes NxR,… --runs K --statuses steady,cold --seed S --slow-ms MS --timeout S
//        --pacemaker auto|off|only --pcmk-sizes NxR,… --pcmk-runs K --pcmk-timeout S --out DIR

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deserialize, serialize } from 'node:v8';

import { validateConfig } from '../../src/config/validate.js';
import { configSchema, type Config, type ConfigInput } from '../../src/model/config.js';
import type { Plan } from '../../src/model/plan.js';
import { statusSchema, type Status } from '../../src/model/status.js';
import { plan } from '../../src/scheduler/index.js';
import { BENCH_NOW, coldStatus, DEFAULT_SEED, generateConfigInput, steadyStatus } from './generate.js';

const SELF = fileURLToPath(import.meta.url);
const USAGE = `usage: node --expose-gc dist/bench/scheduler/run.js [flags]
  --sizes NxR,...       clusters to plan (default 100x1000,1000x10000,10000x100000)
  --runs K              measured plans per size and snapshot, after one warm-up (default 5)
  --statuses LIST       steady,cold (default both)
  --seed S              generator seed (default ${DEFAULT_SEED})
  --slow-ms MS          a warm-up slower than this is the only run (default 10000)
  --timeout S           per child process (default 1200)
  --pacemaker MODE      auto (when crm_simulate and the CIB writer exist), off, only
  --pcmk-sizes NxR,...  clusters for the crm_simulate comparison (default 16x2000,32x4000)
  --pcmk-runs K         crm_simulate runs per size (default 1: it takes minutes)
  --pcmk-timeout S      per crm_simulate run (default 3600)
  --out DIR             inputs, CIBs and graphs (default $TMPDIR/haven-bench-scheduler)
`;
const MB = 1024 * 1024;
/** The goal: the largest cluster planned in under a second and a GiB. */
const GOAL = { nodes: 10_000, resources: 100_000, ms: 1000, bytes: 1024 * MB } as const;

type SnapshotKind = 'steady' | 'cold';

interface Size {
  readonly nodes: number;
  readonly resources: number;
}

interface Flags {
  sizes: Size[];
  runs: number;
  statuses: SnapshotKind[];
  seed: number;
  slowMs: number;
  timeoutSec: number;
  pacemaker: 'auto' | 'off' | 'only';
  pcmkSizes: Size[];
  pcmkRuns: number;
  pcmkTimeoutSec: number;
  out: string;
}

/** What a prepare child writes: everything a measure child needs. */
interface Prepared {
  readonly size: Size;
  readonly fencing: boolean;
  readonly configInput: ConfigInput;
  readonly config: Config;
  readonly cold: Status;
  readonly steady: Status;
}

interface PrepareResult {
  readonly file: string;
  readonly prepareMs: number;
  /** Actions in the plan of the steady snapshot: must be 0. */
  readonly steadyActions: number;
  /** The first few of them, when there are any, to say why. */
  readonly steadyLeftovers: string[];
}

interface MeasureResult {
  readonly nodes: number;
  readonly resources: number;
  readonly status: SnapshotKind;
  readonly actions: number;
  readonly edges: number;
  readonly kinds: Record<string, number>;
  /** Wall times of the measured runs (ms). */
  readonly times: number[];
  /** CPU time (user + system) of the same runs (ms). */
  readonly cpu: number[];
  readonly warmupMs: number;
  /** Heap used right after the last plan, over the heap used before it (input only), in bytes. */
  readonly heapDelta: number;
  /** The part of that still live after a full GC (the plan itself). */
  readonly heapRetained: number;
  /** RSS before the first plan (input loaded, after GC) and the process's peak RSS. */
  readonly rssBase: number;
  readonly maxRss: number;
  /** With --e2e: JSON text → schema → validation → plan, as a file-reading caller would pay. */
  readonly e2eMs?: number;
  /** Where each primitive starts: `start <id>@<node>` ids, for comparing with Pacemaker. */
  readonly starts?: string[];
}

// --- flags -------------------------------------------------------------------------------

function parseSizes(text: string): Size[] {
  return text.split(',').map((s) => {
    const m = /^\s*(\d+)\s*[x×]\s*(\d+)\s*$/.exec(s);
    if (!m) throw new Error(`--sizes: "${s}" is not NODESxRESOURCES (e.g. 100x1000)`);
    return { nodes: Number(m[1]), resources: Number(m[2]) };
  });
}

function parseFlags(argv: readonly string[]): Flags {
  const flags: Flags = {
    sizes: parseSizes('100x1000,1000x10000,10000x100000'),
    runs: 5,
    statuses: ['steady', 'cold'],
    seed: DEFAULT_SEED,
    slowMs: 10_000,
    timeoutSec: 1200,
    pacemaker: 'auto',
    pcmkSizes: parseSizes('16x2000,32x4000'),
    pcmkRuns: 1,
    pcmkTimeoutSec: 3600,
    out: join(tmpdir(), 'haven-bench-scheduler'),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq > 0) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    const int = (min: number): number => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new Error(`${name}: "${v}" is not an integer ≥ ${min}`);
      return n;
    };
    switch (name) {
      case '--sizes':
        flags.sizes = parseSizes(value());
        break;
      case '--runs':
        flags.runs = int(1);
        break;
      case '--statuses': {
        const list = value().split(',').map((s) => s.trim());
        for (const s of list) if (s !== 'steady' && s !== 'cold') throw new Error(`--statuses: "${s}" is neither steady nor cold`);
        flags.statuses = list as SnapshotKind[];
        break;
      }
      case '--seed':
        flags.seed = int(0);
        break;
      case '--slow-ms':
        flags.slowMs = int(0);
        break;
      case '--timeout':
        flags.timeoutSec = int(1);
        break;
      case '--pacemaker': {
        const v = value();
        if (v !== 'auto' && v !== 'off' && v !== 'only') throw new Error(`--pacemaker: "${v}" is not auto, off or only`);
        flags.pacemaker = v;
        break;
      }
      case '--pcmk-sizes':
        flags.pcmkSizes = parseSizes(value());
        break;
      case '--pcmk-runs':
        flags.pcmkRuns = int(1);
        break;
      case '--pcmk-timeout':
        flags.pcmkTimeoutSec = int(1);
        break;
      case '--out':
        flags.out = value();
        break;
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown flag ${arg} (see --help)`);
    }
  }
  return flags;
}

// --- children ----------------------------------------------------------------------------

function prepareChild(args: readonly string[]): void {
  const [nodes, resources, seed, fencing, file] = args;
  const size = { nodes: Number(nodes), resources: Number(resources) };
  const t0 = performance.now();
  const configInput = generateConfigInput({ ...size, seed: Number(seed), fencing: fencing === 'true' });
  const config = configSchema.parse(configInput);
  const problems = validateConfig(config);
  if (problems.length > 0) throw new Error(`generated config is invalid: ${JSON.stringify(problems.slice(0, 3))}`);
  const cold = coldStatus(config);
  const { status: steady } = steadyStatus(config, cold);
  const check = plan(config, steady, BENCH_NOW);
  const prepared: Prepared = { size, fencing: fencing === 'true', configInput, config, cold, steady };
  writeFileSync(file!, serialize(prepared));
  const result: PrepareResult = {
    file: file!,
    prepareMs: performance.now() - t0,
    steadyActions: check.actions.length,
    steadyLeftovers: [...check.actions.slice(0, 5).map((a) => `${a.id}: ${a.reason}`), ...check.notes.slice(0, 3)],
  };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

function measureChild(args: readonly string[]): void {
  const [file, status, runsText, slowText, e2eText] = args;
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run the bench with node --expose-gc');
  const prepared = deserialize(readFileSync(file!)) as Prepared;
  const snapshot = status === 'cold' ? prepared.cold : prepared.steady;
  const runs = Number(runsText);
  const slowMs = Number(slowText);

  gc();
  gc();
  const heapBase = process.memoryUsage().heapUsed;
  const rssBase = process.memoryUsage().rss;

  const timed = (): { p: Plan; ms: number; cpu: number } => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const p = plan(prepared.config, snapshot, BENCH_NOW);
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    return { p, ms, cpu: (c.user + c.system) / 1000 };
  };

  let last = timed();
  const warmupMs = last.ms;
  const times: number[] = [];
  const cpu: number[] = [];
  if (warmupMs > slowMs) {
    times.push(last.ms);
    cpu.push(last.cpu);
  } else {
    for (let i = 0; i < runs; i++) {
      last = undefined as never;
      gc();
      last = timed();
      times.push(last.ms);
      cpu.push(last.cpu);
    }
  }
  const heapDelta = process.memoryUsage().heapUsed - heapBase;
  gc();
  const heapRetained = process.memoryUsage().heapUsed - heapBase;
  const maxRss = process.resourceUsage().maxRSS * 1024;

  const p = last.p;
  const kinds: Record<string, number> = {};
  for (const a of p.actions) kinds[a.kind] = (kinds[a.kind] ?? 0) + 1;

  let e2eMs: number | undefined;
  if (e2eText === 'e2e') {
    // What a caller starting from files pays: JSON text in, schema, whole-config rules, plan.
    const configText = JSON.stringify(prepared.configInput);
    const statusText = JSON.stringify(snapshot);
    const t0 = performance.now();
    const config = configSchema.parse(JSON.parse(configText));
    const problems = validateConfig(config);
    const st = statusSchema.parse(JSON.parse(statusText));
    plan(config, st, BENCH_NOW);
    e2eMs = performance.now() - t0;
    if (problems.length > 0) throw new Error('config invalid in the e2e run');
  }

  const result: MeasureResult = {
    nodes: prepared.size.nodes,
    resources: prepared.size.resources,
    status: status as SnapshotKind,
    actions: p.actions.length,
    edges: p.edges.length,
    kinds,
    times,
    cpu,
    warmupMs,
    heapDelta,
    heapRetained,
    rssBase,
    maxRss,
    ...(e2eMs !== undefined ? { e2eMs, starts: p.actions.filter((a) => a.kind === 'start').map((a) => a.id) } : {}),
  };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

/** Runs this file in a child node with --expose-gc; returns its RESULT line, or why it failed. */
function child<T>(mode: string, args: readonly string[], timeoutSec: number, heapMb?: number): { ok: true; value: T } | { ok: false; why: string } {
  const nodeArgs = ['--expose-gc', ...(heapMb ? [`--max-old-space-size=${heapMb}`] : []), SELF, '--child', mode, ...args];
  const r = spawnSync(process.execPath, nodeArgs, {
    encoding: 'utf8',
    timeout: timeoutSec * 1000,
    maxBuffer: 256 * MB,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.error) return { ok: false, why: (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? `timed out after ${timeoutSec} s` : r.error.message };
  if (r.status !== 0) return { ok: false, why: `exit ${r.status ?? r.signal}` };
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) return { ok: false, why: 'no result printed' };
  return { ok: true, value: JSON.parse(line.slice('RESULT '.length)) as T };
}

// --- the table ---------------------------------------------------------------------------

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const fmtInt = (n: number): string => n.toLocaleString('en-US');
const fmtMs = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const fmtMb = (n: number): string => (n / MB).toFixed(0);

function table(header: readonly string[], rows: readonly (readonly string[])[], rightFrom = 0): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i >= rightFrom && i > 0 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

function prepare(flags: Flags, size: Size, fencing: boolean): PrepareResult | undefined {
  const file = join(flags.out, `input-${size.nodes}x${size.resources}-seed${flags.seed}${fencing ? '' : '-nofencing'}.v8`);
  log(`preparing ${fmtInt(size.nodes)} nodes × ${fmtInt(size.resources)} resources (generate, plan the cold start, apply it)`);
  const r = child<PrepareResult>('prepare', [String(size.nodes), String(size.resources), String(flags.seed), String(fencing), file], flags.timeoutSec, 16_384);
  if (!r.ok) {
    log(`  preparation failed: ${r.why}`);
    return undefined;
  }
  log(`  prepared in ${fmtMs(r.value.prepareMs)} ms; steady snapshot plans ${r.value.steadyActions} actions`);
  return r.value;
}

function runSchedulerBench(flags: Flags): boolean {
  const rows: string[][] = [];
  const results: MeasureResult[] = [];
  const problems: string[] = [];
  for (const size of flags.sizes) {
    const prep = prepare(flags, size, true);
    if (!prep) {
      problems.push(`${size.nodes}x${size.resources}: preparation failed`);
      continue;
    }
    if (prep.steadyActions !== 0) {
      problems.push(`${size.nodes}x${size.resources}: the steady snapshot is not steady (${prep.steadyActions} actions): ${prep.steadyLeftovers.join('; ')}`);
    }
    for (const status of flags.statuses) {
      log(`measuring ${fmtInt(size.nodes)} × ${fmtInt(size.resources)} ${status}`);
      const r = child<MeasureResult>('measure', [prep.file, status, String(flags.runs), String(flags.slowMs), 'plain'], flags.timeoutSec);
      if (!r.ok) {
        problems.push(`${size.nodes}x${size.resources} ${status}: ${r.why}`);
        rows.push([fmtInt(size.nodes), fmtInt(size.resources), status, '-', '-', '-', r.why, '', '', '', '', '']);
        continue;
      }
      const m = r.value;
      results.push(m);
      rows.push([
        fmtInt(m.nodes),
        fmtInt(m.resources),
        m.status,
        fmtInt(m.actions),
        fmtInt(m.edges),
        m.times.length === 1 && flags.runs > 1 ? '1 (slow)' : String(m.times.length),
        fmtMs(median(m.times)),
        fmtMs(Math.min(...m.times)),
        fmtMs(median(m.cpu)),
        fmtMs(m.warmupMs),
        fmtMb(m.heapDelta),
        fmtMb(m.heapRetained),
        fmtMb(m.maxRss),
        fmtMb(m.maxRss - m.rssBase),
      ]);
      log(`  median ${fmtMs(median(m.times))} ms, peak RSS ${fmtMb(m.maxRss)} MB`);
    }
  }

  const header = ['nodes', 'resources', 'status', 'actions', 'edges', 'runs', 'median ms', 'min ms', 'cpu ms', 'first ms', 'heap MB', 'kept MB', 'peak MB', 'Δpeak MB'];
  process.stdout.write(`\nScheduler plan(): ${flags.runs} run(s) after one warm-up, median (node ${process.version}, ${cpus().length} CPUs, load ${loadavg().map((x) => x.toFixed(1)).join(' ')})\n\n`);
  process.stdout.write(`${table(header, rows, 3)}\n\n`);
  process.stdout.write(
    [
      'actions/edges: of the plan. cpu ms: user+system CPU of the median run. first ms: the warm-up (cold JIT) plan.',
      'heap MB: heap used right after the plan over the heap holding the input; kept MB: what stays live after a full GC (the plan).',
      'peak MB: the measuring process\'s peak RSS (maxRSS: node + input + planning); Δpeak MB: peak RSS over the RSS before planning.',
      '',
    ].join('\n'),
  );

  for (const status of flags.statuses) {
    const m = results.find((x) => x.nodes === GOAL.nodes && x.resources === GOAL.resources && x.status === status);
    if (!m) continue;
    const ms = median(m.times);
    const timeOk = ms < GOAL.ms;
    const memOk = m.maxRss < GOAL.bytes;
    process.stdout.write(
      `goal ${fmtInt(GOAL.nodes)} × ${fmtInt(GOAL.resources)} ${status.padEnd(6)}: ${fmtMs(ms)} ms ${timeOk ? '<' : '≥'} 1 s ${timeOk ? 'MET' : 'MISSED'}; peak ${fmtMb(m.maxRss)} MB ${memOk ? '<' : '≥'} 1 GiB ${memOk ? 'MET' : 'MISSED'}\n`,
    );
  }
  for (const p of problems) process.stdout.write(`problem: ${p}\n`);
  return problems.length === 0;
}

// --- Pacemaker ---------------------------------------------------------------------------

interface CibWriter {
  toCib(config: Config, status?: Status): { xml: string; unconverted: readonly unknown[] };
}

/** src/convert/to-cib.ts, if this build has it (it landed separately from the bench). */
async function loadCibWriter(): Promise<CibWriter | undefined> {
  const url = new URL('../../src/convert/to-cib.js', import.meta.url);
  if (!existsSync(url)) return undefined;
  const mod = (await import(url.href)) as Partial<CibWriter>;
  return typeof mod.toCib === 'function' ? (mod as CibWriter) : undefined;
}

function findCrmSimulate(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v crm_simulate'], { encoding: 'utf8' });
  if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  for (const p of ['/usr/sbin/crm_simulate', '/usr/bin/crm_simulate']) if (existsSync(p)) return p;
  return undefined;
}

interface PcmkRun {
  readonly wallMs: number;
  /** User + system CPU of crm_simulate. */
  readonly cpuMs: number;
  /** Peak RSS, when /usr/bin/time is there to tell. */
  readonly maxRss?: number;
  readonly status: number | null;
  readonly timedOut: boolean;
  readonly output: string;
}

/**
 * One crm_simulate run, timed; CPU and memory from /usr/bin/time where present, else bash's
 * `times`. coreutils `timeout` kills crm_simulate itself when it runs too long (a timeout on the
 * wrapper alone would leave it running).
 */
function runCrmSimulate(bin: string, args: readonly string[], timeoutSec: number, outFile: string): PcmkRun {
  const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
  const gnuTime = existsSync('/usr/bin/time') && spawnSync('/usr/bin/time', ['-f', '%U', 'true'], { encoding: 'utf8' }).status === 0;
  const command = have('timeout') ? ['timeout', '-s', 'KILL', String(timeoutSec), bin, ...args] : [bin, ...args];
  rmSync(`${outFile}.time`, { force: true });
  const t0 = performance.now();
  const options = { encoding: 'utf8' as const, timeout: (timeoutSec + 30) * 1000, maxBuffer: 256 * MB };
  const r = gnuTime
    ? spawnSync('/usr/bin/time', ['-f', 'TIME %U %S %M', '-o', `${outFile}.time`, ...command], options)
    : spawnSync('bash', ['-c', '"$@"; rc=$?; times > "$TIMES"; exit $rc', 'bash', ...command], { ...options, env: { ...process.env, TIMES: `${outFile}.time` } });
  const wallMs = performance.now() - t0;
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  writeFileSync(outFile, output);
  let cpuMs = Number.NaN;
  let maxRss: number | undefined;
  if (existsSync(`${outFile}.time`)) {
    const text = readFileSync(`${outFile}.time`, 'utf8');
    const m = /TIME ([\d.]+) ([\d.]+) (\d+)/.exec(text);
    if (m) {
      cpuMs = (Number(m[1]) + Number(m[2])) * 1000;
      maxRss = Number(m[3]) * 1024;
    } else {
      // bash `times`: the second line is the children's user and system time, as 0m1.234s.
      const lines = text.trim().split('\n');
      const secs = (s: string) => {
        const mm = /(\d+)m([\d.]+)s/.exec(s);
        return mm ? Number(mm[1]) * 60 + Number(mm[2]) : Number.NaN;
      };
      const [u, s] = (lines[1] ?? '').split(/\s+/);
      cpuMs = (secs(u ?? '') + secs(s ?? '')) * 1000;
    }
  }
  const timedOut = r.status === 137 || r.status === 124 || r.signal === 'SIGKILL' || (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  return { wallMs, cpuMs, ...(maxRss !== undefined ? { maxRss } : {}), status: r.error ? null : r.status, timedOut, output };
}

interface GraphSummary {
  readonly actions: number;
  readonly edges: number;
  readonly starts: number;
  readonly probes: number;
  readonly monitors: number;
  readonly pseudo: number;
  /** `start <rsc>@<node>` for every start, in Haven's id spelling. */
  readonly startIds: string[];
}

/** Counts the actions of a transition graph written by crm_simulate -G (one per synapse). */
function summarizeGraph(xml: string): GraphSummary {
  let actions = 0;
  let edges = 0;
  let starts = 0;
  let probes = 0;
  let monitors = 0;
  let pseudo = 0;
  const startIds: string[] = [];
  for (const synapse of xml.split('<synapse ').slice(1)) {
    actions++;
    const [actionSet = '', inputs = ''] = synapse.split('<inputs');
    edges += (inputs.match(/<trigger>/g) ?? []).length;
    const m = /<(rsc_op|pseudo_event|crm_event)[^>]*operation="([^"]*)"[^>]*operation_key="([^"]*)"(?:[^>]*on_node="([^"]*)")?/.exec(actionSet);
    if (!m) continue;
    const [, tag, operation, key, node] = m;
    if (tag !== 'rsc_op') {
      pseudo++;
      continue;
    }
    if (operation === 'start') {
      starts++;
      startIds.push(`start ${key!.replace(/_start_0$/, '')}@${node}`);
    } else if (operation === 'monitor') {
      if (/_monitor_0$/.test(key!)) probes++;
      else monitors++;
    }
  }
  return { actions, edges, starts, probes, monitors, pseudo, startIds };
}

async function runPacemakerComparison(flags: Flags): Promise<boolean> {
  process.stdout.write('\nPacemaker comparison: the same cold-start snapshot planned by Haven and by crm_simulate\n\n');
  const writer = await loadCibWriter();
  if (!writer) {
    process.stdout.write('skipped: this build has no src/convert/to-cib.ts to write the CIB\n');
    return true;
  }
  const bin = findCrmSimulate();
  if (!bin) {
    process.stdout.write('skipped: crm_simulate is not installed (Debian: pacemaker-cli-utils; npm run setup installs it as root)\n');
    return true;
  }
  const version = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]?.trim() ?? '?';
  let ok = true;
  const rows: string[][] = [];
  const notes: string[] = [];

  // crm_simulate's fixed cost (start-up, reading a CIB) on a one-node, one-group cluster.
  {
    const tiny = generateConfigInput({ nodes: 1, resources: 4, seed: flags.seed, fencing: false });
    const cfg = configSchema.parse(tiny);
    const file = join(flags.out, 'cib-1x4-cold.xml');
    writeFileSync(file, writer.toCib(cfg, coldStatus(cfg)).xml);
    const runs = [0, 1, 2].map(() => runCrmSimulate(bin, ['-R', '-Q', '-x', file], 60, join(flags.out, 'crm_simulate-1x4.out')));
    notes.push(`crm_simulate start-up (1 node × 4 resources): ${fmtMs(median(runs.map((r) => r.wallMs)))} ms wall — part of every crm_simulate time below`);
  }

  for (const size of flags.pcmkSizes) {
    const tag = `${size.nodes}x${size.resources}`;
    const prep = prepare(flags, size, false);
    if (!prep) {
      ok = false;
      continue;
    }
    const prepared = deserialize(readFileSync(prep.file)) as Prepared;
    const cib = writer.toCib(prepared.config, prepared.cold);
    const cibFile = join(flags.out, `cib-${tag}-cold.xml`);
    writeFileSync(cibFile, cib.xml);
    log(`wrote ${cibFile} (${fmtMb(cib.xml.length)} MB${cib.unconverted.length ? `, ${cib.unconverted.length} things not convertible` : ''})`);

    log(`Haven: planning ${tag} cold start`);
    const h = child<MeasureResult>('measure', [prep.file, 'cold', String(flags.runs), String(flags.slowMs), 'e2e'], flags.timeoutSec);
    if (!h.ok) {
      ok = false;
      notes.push(`${tag}: Haven failed: ${h.why}`);
      continue;
    }

    const graphFile = join(flags.out, `graph-${tag}-cold.xml`);
    const pcmk: PcmkRun[] = [];
    for (let i = 0; i < flags.pcmkRuns; i++) {
      log(`crm_simulate -R -Q -x ${cibFile} -G ${graphFile} (run ${i + 1} of ${flags.pcmkRuns})`);
      rmSync(graphFile, { force: true });
      const r = runCrmSimulate(bin, ['-R', '-Q', '-x', cibFile, '-G', graphFile], flags.pcmkTimeoutSec, join(flags.out, `crm_simulate-${tag}.out`));
      log(`  ${fmtMs(r.wallMs)} ms wall, ${fmtMs(r.cpuMs)} ms CPU, exit ${r.status}${r.timedOut ? ' (timed out)' : ''}`);
      pcmk.push(r);
      if (r.status !== 0) break;
    }
    const lastRun = pcmk[pcmk.length - 1]!;
    if (lastRun.status !== 0 || !existsSync(graphFile)) {
      ok = false;
      const m = h.value;
      rows.push(['Haven plan()', tag, fmtInt(m.actions), fmtInt(m.edges), fmtInt(m.kinds['start'] ?? 0), `${fmtInt(m.kinds['probe'] ?? 0)} (per node)`, fmtInt(m.kinds['monitor-start'] ?? 0), fmtMs(median(m.times)), fmtMs(median(m.cpu)), fmtMb(m.maxRss)]);
      rows.push(['crm_simulate -R', tag, '-', '-', '-', '-', '-', `> ${fmtMs(lastRun.wallMs)}`, '?', '?']);
      notes.push(
        lastRun.timedOut
          ? `${tag}: crm_simulate did not finish within ${flags.pcmkTimeoutSec} s (--pcmk-timeout) and was killed: ratio > ${(lastRun.wallMs / median(m.times)).toFixed(0)}× wall`
          : `${tag}: crm_simulate failed (exit ${lastRun.status}): ${lastRun.output.slice(0, 400)}`,
      );
      continue;
    }
    const g = summarizeGraph(readFileSync(graphFile, 'utf8'));
    const m = h.value;
    const havenStarts = m.kinds['start'] ?? 0;
    const sameStart = new Set(m.starts ?? []);
    const agree = g.startIds.filter((id) => sameStart.has(id)).length;
    const hMs = median(m.times);
    const hCpu = median(m.cpu);
    const pMs = median(pcmk.map((r) => r.wallMs));
    const pCpu = median(pcmk.map((r) => r.cpuMs));
    const pRss = pcmk.find((r) => r.maxRss !== undefined)?.maxRss;

    const fullStart = g.starts === size.resources && havenStarts === size.resources;
    if (!fullStart) {
      ok = false;
      notes.push(`${tag}: not the same transition: Pacemaker starts ${g.starts}, Haven ${havenStarts}, of ${size.resources}`);
    }
    rows.push(['Haven plan()', tag, fmtInt(m.actions), fmtInt(m.edges), fmtInt(havenStarts), `${fmtInt(m.kinds['probe'] ?? 0)} (per node)`, fmtInt(m.kinds['monitor-start'] ?? 0), fmtMs(hMs), fmtMs(hCpu), fmtMb(m.maxRss)]);
    rows.push(['Haven load+plan', tag, '', '', '', '', '', fmtMs(m.e2eMs ?? Number.NaN), '', '']);
    rows.push(['crm_simulate -R', tag, fmtInt(g.actions), fmtInt(g.edges), fmtInt(g.starts), `${fmtInt(g.probes)} (per resource)`, fmtInt(g.monitors), fmtMs(pMs), fmtMs(pCpu), pRss === undefined ? '?' : fmtMb(pRss)]);
    notes.push(
      `${tag}: crm_simulate / Haven plan(): ${(pMs / hMs).toFixed(0)}× wall, ${(pCpu / hCpu).toFixed(0)}× CPU; / Haven load+plan: ${(pMs / (m.e2eMs ?? Number.NaN)).toFixed(0)}× wall. ` +
        `Same node for ${fmtInt(agree)} of ${fmtInt(g.starts)} starts. Haven ${m.times.length} run(s), crm_simulate ${pcmk.length} run(s).`,
    );
  }

  const header = ['planner', 'size', 'actions', 'edges', 'starts', 'probes', 'monitors', 'wall ms', 'cpu ms', 'peak MB'];
  process.stdout.write(`${version}; CIB written by src/convert/to-cib.ts; files in ${flags.out}\n`);
  process.stdout.write('snapshot: every node online, nothing probed or recorded; fencing off (a CIB with stonith-enabled and no device starts nothing)\n');
  process.stdout.write('compared: Haven plan(config, status, now) in a warm process vs `crm_simulate -R -Q -x CIB -G GRAPH` as a process (reads the XML, schedules, writes the graph)\n');
  process.stdout.write('Haven load+plan: JSON text → config/status schemas → whole-config rules → plan, one cold-JIT run\n\n');
  process.stdout.write(`${table(header, rows, 2)}\n\n`);
  for (const n of notes) process.stdout.write(`${n}\n`);
  return ok;
}

// --- main --------------------------------------------------------------------------------

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === '--child') {
    const [, mode, ...rest] = argv;
    if (mode === 'prepare') prepareChild(rest);
    else if (mode === 'measure') measureChild(rest);
    else throw new Error(`unknown child mode ${mode}`);
    return 0;
  }
  const flags = parseFlags(argv);
  mkdirSync(flags.out, { recursive: true });
  let ok = true;
  if (flags.pacemaker !== 'only') ok = runSchedulerBench(flags) && ok;
  if (flags.pacemaker !== 'off') ok = (await runPacemakerComparison(flags)) && ok;
  return ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
