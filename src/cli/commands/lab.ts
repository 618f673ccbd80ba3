// `haven lab …`: the network-namespace lab (docs/lab.md). up, down, status, power, fence, cut,
// partition, degrade, kill, start, heal, probe, and chaos (docs/chaos.md). The implementations are imported
// when a subcommand runs, so other `haven` commands do not pay for them; `haven lab fence` is
// also reached through a fast path in bin/haven.js that skips this file altogether.

import { spawn } from 'node:child_process';
import { InvalidArgumentError, type Command } from 'commander';
import { HavenError, UsageError } from '../../errors.js';
import { parseDuration } from '../../model/units.js';
import { action } from '../run.js';

interface Common {
  readonly name?: string;
  readonly stateDir?: string;
}

async function where(opts: Common): Promise<{ name: string; dir: string }> {
  const { stateDir } = await import('../../lab/state.js');
  return { name: opts.name ?? process.env['HAVEN_LAB'] ?? 'lab', dir: stateDir(opts.stateDir) };
}

function common(cmd: Command): Command {
  return cmd.option('--name <name>', 'the lab (default: $HAVEN_LAB, else "lab")').option('--state-dir <dir>', 'where labs keep their state (default: $HAVEN_LAB_STATE_DIR, else /run/haven-lab)');
}

function integer(flag: string, min: number, max: number): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min || n > max) throw new InvalidArgumentError(`${flag} must be an integer from ${min} to ${max}`);
    return n;
  };
}

/** A duration with a unit, or a bare number in `bare` units (ms for intervals, s for --duration). */
export function durationOption(flag: string, text: string, bare: 'ms' | 's'): number {
  const t = text.trim();
  const ms = /^\d+(\.\d+)?$/.test(t) ? Number(t) * (bare === 's' ? 1000 : 1) : parseDuration(t);
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) throw new UsageError(`${flag} "${text}" is not a duration`, { hint: `write it with a unit (10ms, 2s, 1m); a bare number is in ${bare === 's' ? 'seconds' : 'milliseconds'}` });
  return ms;
}

export function registerLab(program: Command): void {
  const lab = program.command('lab').description('the lab: hosts as network namespaces on this machine, with faults and probes (needs root)');

  common(lab.command('up'))
    .description('build a lab (a switch, hosts h1..hN, a controller and a client), write its lab.yaml and start its daemons')
    .option('--hosts <n>', 'number of hosts (1-99)', integer('--hosts', 1, 99), 3)
    .option('--rings <n>', 'number of heartbeat rings (1-8)', integer('--rings', 1, 8), 2)
    .option('--controllers <n>', 'controllers: 1 (embedded store) or 3 (controller, controller2, controller3, each with an etcd member)', integer('--controllers', 1, 3), 1)
    .option('--leader-lease <s>', "with --controllers 3: the controllers' leader lease on etcd, whole seconds (default: the controller's, 1)", integer('--leader-lease', 1, 60))
    .option('--resources <file>', "a YAML file with resources: and constraints: to add to the lab's configuration")
    .option('--no-daemons', 'do not start the agents and the controller')
    .option('--no-bmc', 'no simulated BMCs (ipmi_sim): hosts are fenced with the lab power switch only')
    .option('--json', "print the lab's status as JSON")
    .action(
      action(async (opts: Common & { hosts: number; rings: number; controllers: number; leaderLease?: number; resources?: string; daemons: boolean; bmc: boolean; json?: boolean }) => {
        const { name, dir } = await where(opts);
        const { createLab, labStatus } = await import('../../lab/lab.js');
        await createLab({
          name,
          stateDir: dir,
          hosts: opts.hosts,
          rings: opts.rings,
          controllers: opts.controllers,
          ...(opts.leaderLease === undefined ? {} : { leaderLease: opts.leaderLease }),
          daemons: opts.daemons,
          bmc: opts.bmc,
          ...(opts.resources === undefined ? {} : { resources: opts.resources }),
        });
        const status = await labStatus(name, dir);
        if (opts.json === true) process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
        else process.stdout.write(renderStatus(status, `lab "${name}" is up`));
      }),
    );

  common(lab.command('down'))
    .description('stop the daemons the lab started and remove everything it made (from its state file; safe to repeat)')
    .option('--keep-logs', "keep the daemons' logs (<state dir>/<name>/logs)")
    .action(
      action(async (opts: Common & { keepLogs?: boolean }) => {
        const { name, dir } = await where(opts);
        const { destroyLab } = await import('../../lab/lab.js');
        const r = await destroyLab(name, dir, { keepLogs: opts.keepLogs === true });
        if (r.wasUp) process.stdout.write(`lab "${name}" is down: removed ${r.removed.length} namespaces (${r.removed.join(', ')})\n`);
        else process.stderr.write(`haven: lab "${name}" was not up; nothing to do\n`);
      }),
    );

  common(lab.command('status'))
    .description('hosts, power, addresses, faults in force and whether the daemons live')
    .option('--json', 'print as JSON')
    .action(
      action(async (opts: Common & { json?: boolean }) => {
        const { name, dir } = await where(opts);
        const { labStatus } = await import('../../lab/lab.js');
        const { listLabs, readState, LabNotUpError } = await import('../../lab/state.js');
        if ((await readState(dir, name)) === undefined) {
          const labs = await listLabs(dir);
          const err = new LabNotUpError(name);
          throw labs.length === 0 ? err : new HavenError('LAB_NOT_UP', err.message, { hint: `labs up in ${dir}: ${labs.join(', ')} (pick one with --name)` });
        }
        const status = await labStatus(name, dir);
        process.stdout.write(opts.json === true ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status, `lab "${name}"`));
      }),
    );

  common(lab.command('power'))
    .description('pull the plug of a host (off: every process in it SIGKILLed, links down), or plug it back in (on: links up, agent started)')
    .argument('<action>', 'off, on, reboot or status')
    .argument('<host>', 'a host of the lab, or the controller')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (what: string, host: string, opts: Common & { json?: boolean }) => {
        const { name, dir } = await where(opts);
        const power = await import('../../lab/power.js');
        const { requireRoot } = await import('../../lab/lab.js');
        let result: unknown;
        switch (what) {
          case 'status':
            result = { host, power: await power.powerStatus(name, dir, host) };
            break;
          case 'off':
            requireRoot();
            result = await power.powerOff(name, dir, host);
            break;
          case 'on':
            requireRoot();
            result = await power.powerOn(name, dir, host);
            break;
          case 'reboot':
            requireRoot();
            result = await power.powerCycle(name, dir, host);
            break;
          default:
            throw new UsageError(`unknown power action "${what}"`, { hint: 'use off, on, reboot or status' });
        }
        if (opts.json === true) {
          process.stdout.write(`${JSON.stringify(result)}\n`);
          return;
        }
        const r = result as { host: string; power: string; changed?: boolean; killed?: number[]; pid?: number };
        let line = `${r.host}: power ${r.power}`;
        if (r.changed === false) line += ' (already)';
        if (r.killed !== undefined && r.killed.length > 0) line += `; killed ${r.killed.length} processes`;
        if (r.pid !== undefined) line += `; started pid ${r.pid}`;
        process.stdout.write(`${line}\n`);
      }),
    );

  lab
    .command('fence')
    .description('fence agent for the lab (fence-agents protocol: key=value lines on stdin: action=off|on|reboot|status|monitor|list|metadata plug=HOST lab=NAME)')
    .allowUnknownOption()
    .helpOption(false)
    .argument('[options...]', 'fence-agents options (-o ACTION -n HOST --lab NAME --state-dir DIR)')
    .action(async (args: string[]) => {
      const { fenceMain } = await import('../../lab/fence.js');
      process.exitCode = await fenceMain(args);
    });

  common(lab.command('cut'))
    .description("make one host's link on one ring drop every frame, both ways")
    .argument('<host>', 'a host of the lab')
    .requiredOption('--ring <r>', 'the ring (0-based)', integer('--ring', 0, 7))
    .action(
      action(async (host: string, opts: Common & { ring: number }) => {
        const { name, dir } = await where(opts);
        const { cutLink } = await import('../../lab/lab.js');
        await cutLink(name, dir, host, opts.ring);
        process.stdout.write(`${host}: ring ${opts.ring} cut\n`);
      }),
    );

  common(lab.command('partition'))
    .description('split hosts into groups that cannot reach each other on any ring: `haven lab partition h1,h2 / h3` (replaces an earlier partition)')
    .argument('<groups...>', 'groups of hosts separated by "/", hosts by commas')
    .option('--one-way', 'drop only what the first group sends to the others (an asymmetric partition)')
    .action(
      action(async (groups: string[], opts: Common & { oneWay?: boolean }) => {
        const { name, dir } = await where(opts);
        const { partitionLab } = await import('../../lab/lab.js');
        const state = await partitionLab(name, dir, groups, { oneWay: opts.oneWay === true });
        const seen: string[] = [];
        for (const b of state.blocks) if (!seen.includes(b.from.join(','))) seen.push(b.from.join(','));
        if (opts.oneWay === true) process.stdout.write(`partitioned one way: ${seen[0] ?? ''} cannot send to ${state.blocks.map((b) => b.to.join(',')).join(' / ')}\n`);
        else process.stdout.write(`partitioned: ${seen.join(' / ')}\n`);
      }),
    );

  common(lab.command('degrade'))
    .description('drop or delay the frames a host sends, on every ring (delay: an NFQUEUE delay line in the switch); 0 and 0 removes it')
    .argument('<host>', 'a host of the lab')
    .option('--loss <percent>', 'percent of its frames dropped (0-100)', '0')
    .option('--delay <d>', 'how long each frame is held (bare number: ms)', '0')
    .action(
      action(async (host: string, opts: Common & { loss: string; delay: string }) => {
        const { name, dir } = await where(opts);
        const lossPct = Number(opts.loss);
        if (!/^\d+(\.\d+)?$/.test(opts.loss.trim()) || lossPct > 100) throw new UsageError(`--loss "${opts.loss}" is not a percentage from 0 to 100`);
        const delayMs = opts.delay.trim() === '0' ? 0 : durationOption('--delay', opts.delay, 'ms');
        const { degradeHost } = await import('../../lab/lab.js');
        await degradeHost(name, dir, host, { lossPct, delayMs: Math.round(delayMs) });
        process.stdout.write(lossPct === 0 && delayMs === 0 ? `${host}: no loss, no delay\n` : `${host}: ${lossPct} % loss, ${Math.round(delayMs)} ms delay on the frames it sends\n`);
      }),
    );

  common(lab.command('kill'))
    .description("signal a host's daemon (its agent or controller; --etcd: a controller host's etcd member): KILL (a crash), TERM, STOP (a hang), CONT")
    .argument('<host>', 'a host or controller host of the lab')
    .option('--etcd', "the host's etcd member, not its controller")
    .option('--signal <sig>', 'KILL, TERM, STOP or CONT', 'KILL')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (host: string, opts: Common & { etcd?: boolean; signal: string; json?: boolean }) => {
        const { name, dir } = await where(opts);
        const { killDaemon, LAB_SIGNALS, requireRoot } = await import('../../lab/lab.js');
        const sig = opts.signal.toUpperCase().replace(/^SIG/, '');
        if (!(LAB_SIGNALS as readonly string[]).includes(sig)) throw new UsageError(`--signal ${opts.signal} is not one of ${LAB_SIGNALS.join(', ')}`);
        requireRoot();
        const pid = await killDaemon(name, dir, host, { signal: sig as (typeof LAB_SIGNALS)[number], ...(opts.etcd === true ? { role: 'etcd' as const } : {}) });
        const what = opts.etcd === true ? `${host}'s etcd member` : `${host}'s daemon`;
        if (opts.json === true) process.stdout.write(`${JSON.stringify({ host, etcd: opts.etcd === true, signal: sig, pid: pid ?? null })}\n`);
        else if (pid === undefined) process.stderr.write(`haven: ${what} was not running; nothing signalled\n`);
        else process.stdout.write(`${what}: SIG${sig} sent to pid ${pid}\n`);
      }),
    );

  common(lab.command('start'))
    .description("start a host's daemon again when it is not running (its agent or controller; --etcd: its etcd member, on its data directory)")
    .argument('<host>', 'a host or controller host of the lab')
    .option('--etcd', "the host's etcd member, not its controller")
    .option('--json', 'print the result as JSON')
    .action(
      action(async (host: string, opts: Common & { etcd?: boolean; json?: boolean }) => {
        const { name, dir } = await where(opts);
        const { startHostDaemon } = await import('../../lab/lab.js');
        const rec = await startHostDaemon(name, dir, host, opts.etcd === true ? { role: 'etcd' } : {});
        const what = opts.etcd === true ? `${host}'s etcd member` : `${host}'s daemon`;
        if (opts.json === true) process.stdout.write(`${JSON.stringify({ host, etcd: opts.etcd === true, pid: rec?.pid ?? null })}\n`);
        else if (rec === undefined) process.stderr.write(`haven: ${host} is powered off; nothing started\n`);
        else process.stdout.write(`${what}: ${rec.role} running, pid ${rec.pid}\n`);
      }),
    );

  common(lab.command('heal'))
    .description('undo every cut, partition, loss and delay')
    .action(
      action(async (opts: Common) => {
        const { name, dir } = await where(opts);
        const { healLab } = await import('../../lab/lab.js');
        await healLab(name, dir);
        process.stdout.write('healed: no cut, no partition, no loss, no delay\n');
      }),
    );

  registerChaos(lab);

  common(lab.command('probe'))
    .description("send a request every 10 ms from the lab's client and report failures, gaps (RTO), hand-overs and split brain")
    .argument('<target>', 'http://IP:PORT/path or tcp:IP:PORT (an address of the lab)')
    .option('--interval <d>', 'between requests (bare number: ms)', '10ms')
    .option('--timeout <d>', "each request's limit (bare number: ms)", '200ms')
    .option('--duration <d>', 'stop after this long (bare number: seconds); default: until SIGINT')
    .option('--split-window <d>', 'how close two answers of the old host around another host count as split brain', '1s')
    .option('--active-active', 'the target is an active/active service behind a load balancer: hosts take turns, split brain is not judged')
    .option('--json', 'print the report as JSON')
    .option('--answers', 'with --json: include every answer')
    .action(
      action(async (target: string, opts: Common & { interval: string; timeout: string; duration?: string; splitWindow: string; activeActive?: boolean; json?: boolean; answers?: boolean }) => {
        const { name, dir } = await where(opts);
        const probeOpts = {
          target,
          intervalMs: durationOption('--interval', opts.interval, 'ms'),
          timeoutMs: durationOption('--timeout', opts.timeout, 'ms'),
          splitWindowMs: durationOption('--split-window', opts.splitWindow, 'ms'),
          ...(opts.activeActive === true ? { activeActive: true } : {}),
          ...(opts.duration === undefined ? {} : { durationMs: durationOption('--duration', opts.duration, 's') }),
        };
        const { requireState } = await import('../../lab/state.js');
        const probe = await import('../../lab/probe.js');
        const state = await requireState(dir, name);
        probe.checkTargetInLab(state, probe.parseTarget(target));
        const { ns, inside } = probe.clientNamespace(state);
        if (!inside) {
          // Run the very same command inside the client namespace, and wait for it.
          const args = probe.probeArgs(name, dir, probeOpts, false);
          if (opts.json === true) args.push('--json');
          if (opts.answers === true) args.push('--answers');
          process.exitCode = await reexec(['netns', 'exec', ns, process.execPath, state.haven, ...args]);
          return;
        }
        const ac = new AbortController();
        const stop = (): void => ac.abort();
        // `on`, not `once`: a second SIGINT (the terminal's and the forwarded one) must not kill the report.
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        const { report, answers } = await probe.probeHere({ ...probeOpts, signal: ac.signal });
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        if (opts.json === true) process.stdout.write(`${JSON.stringify(opts.answers === true ? { report, answers } : report, null, 2)}\n`);
        else {
          const { renderProbeReport } = await import('../../lab/probe-report.js');
          process.stdout.write(renderProbeReport(report));
        }
      }),
    );
}

/** `--hold 1s-3s` (or one duration, held exactly): the range a fault is held for. */
export function holdRange(text: string): { minMs: number; maxMs: number } {
  const parts = text.split(/-(?=\d)/);
  if (parts.length > 2) throw new UsageError(`--hold "${text}" is not MIN-MAX`, { hint: 'e.g. --hold 1s-3s or --hold 2s' });
  const minMs = durationOption('--hold', parts[0] as string, 'ms');
  const maxMs = parts.length === 2 ? durationOption('--hold', parts[1] as string, 'ms') : minMs;
  if (maxMs < minMs) throw new UsageError(`--hold "${text}": the maximum is below the minimum`);
  if (maxMs > 600_000) throw new UsageError(`--hold "${text}": at most 10 minutes`);
  return { minMs, maxMs };
}

function registerChaos(lab: Command): void {
  common(lab.command('chaos'))
    .description('bring up a lab, inject random faults (seeded) while probing an A/P and a clone service, heal, check the invariants; exit 1 on a violation (needs root)')
    .option('--trials <n>', 'how many trials', integer('--trials', 1, 100_000), 20)
    .option('--seed <s>', 'the seed of the fault sequence (default: a new one, printed)', integer('--seed', 0, 4_294_967_295))
    .option('--faults <list>', 'the faults to draw from, comma-separated (default: all that apply): power-off, cut-ring, partition, asym-partition, loss, delay, controller-kill, agent-kill, service-kill, cpu-hog; with --controllers 3 also leader-kill, leader-pause, etcd-kill, etcd-majority')
    .option('--controllers <n>', 'controllers: 1 (embedded store) or 3 (on a 3-member etcd, as lab up --controllers 3)', integer('--controllers', 1, 3), 1)
    .option('--leader-lease <s>', "with --controllers 3: the controllers' leader lease on etcd, whole seconds", integer('--leader-lease', 1, 60))
    .option('--hold <range>', 'how long a fault is held, drawn from MIN-MAX', '1s-3s')
    .option('--bound <d>', 'every service must answer again within this long after the heal (bare number: seconds)', '10s')
    .option('--hosts <n>', 'hosts in the lab', integer('--hosts', 2, 9), 3)
    .option('--rings <n>', 'heartbeat rings (cut-ring needs 2)', integer('--rings', 1, 4), 2)
    .option('--replay <seed:trial>', 'run only this trial of this seed (what a failing run prints)')
    .option('--keep-logs', "keep the lab's logs when it is torn down (<state dir>/<name>/logs)")
    .option('--json', 'print the result as JSON')
    .action(
      action(async (opts: Common & { trials: number; seed?: number; faults?: string; controllers: number; leaderLease?: number; hold: string; bound: string; hosts: number; rings: number; replay?: string; keepLogs?: boolean; json?: boolean }) => {
        const { dir } = await where(opts);
        const name = opts.name ?? 'chaos';
        const plan = await import('../../lab/chaos/plan.js');
        const controllers = plan.parseControllers(opts.controllers);
        if (opts.leaderLease !== undefined && controllers !== 3) throw new UsageError('--leader-lease applies to --controllers 3 only', { hint: 'one controller runs on the embedded store and leads at once' });
        const faults = plan.parseFaults(opts.faults, controllers);
        const hold = holdRange(opts.hold);
        const boundMs = durationOption('--bound', opts.bound, 's');
        const replay = opts.replay === undefined ? undefined : plan.parseReplay(opts.replay);
        if (replay !== undefined && opts.seed !== undefined && opts.seed !== replay.seed) throw new UsageError(`--seed ${opts.seed} and --replay ${opts.replay} name two seeds`);
        if (faults.includes('cut-ring') && opts.rings < 2 && opts.faults !== undefined) throw new UsageError('cut-ring needs 2 rings at least', { hint: 'pass --rings 2, or leave cut-ring out of --faults' });
        const chosen = opts.rings < 2 ? faults.filter((f) => f !== 'cut-ring') : faults;
        const { freshSeed } = await import('../../lab/chaos/prng.js');
        const seed = replay?.seed ?? opts.seed ?? freshSeed();
        const { runChaos } = await import('../../lab/chaos/harness.js');
        const report = await import('../../lab/chaos/report.js');
        const ac = new AbortController();
        let interrupts = 0;
        const stop = (): void => {
          interrupts++;
          if (interrupts === 1) process.stderr.write('haven: lab chaos: stopping; tearing the lab down (this takes a few seconds)\n');
          ac.abort(new HavenError('USAGE', 'interrupted'));
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        process.stderr.write(`haven: lab chaos: seed ${seed}${replay === undefined ? `, ${opts.trials} trials` : `, trial ${replay.trial} only`}\n`);
        try {
          const result = await runChaos({
            name,
            stateDir: dir,
            seed,
            trials: opts.trials,
            ...(replay === undefined ? {} : { replay: replay.trial }),
            faults: chosen,
            holdMinMs: hold.minMs,
            holdMaxMs: hold.maxMs,
            boundMs,
            hosts: opts.hosts,
            rings: opts.rings,
            controllers,
            ...(opts.leaderLease === undefined ? {} : { leaderLease: opts.leaderLease }),
            keepLogs: opts.keepLogs === true,
            signal: ac.signal,
            log: (line) => process.stderr.write(`haven: lab ${line}\n`),
            onTrial: (t) => process.stderr.write(`haven: lab chaos: ${report.renderTrialLine(t)}\n`),
          });
          process.stdout.write(opts.json === true ? `${JSON.stringify({ ...result, summary: report.summarize(result) }, null, 2)}\n` : report.renderChaos(result));
          process.exitCode = result.aborted ? 130 : report.failed(result) ? 1 : 0;
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
      }),
    );
}

/**
 * Runs `ip ARGS` with this terminal and waits. SIGINT and SIGTERM are passed on to the child (a
 * terminal's ^C reaches it too: the probe takes a second SIGINT calmly), so it stops and reports.
 */
function reexec(args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn('ip', args, { stdio: 'inherit' });
    const onInt = (): void => {
      child.kill('SIGINT');
    };
    const onTerm = (): void => {
      child.kill('SIGTERM');
    };
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    child.on('close', (code, sig) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(code ?? (sig === null ? 1 : 130));
    });
    child.on('error', () => resolve(1));
  });
}

interface StatusView {
  readonly prefix: string;
  readonly id: number;
  readonly rings: number;
  readonly config: string;
  readonly hosts: readonly { name: string; role: string; power: string; addresses: Record<string, string>; cuts: number[]; daemons: { role: string; pid: number; alive: boolean; paused?: boolean }[] }[];
  readonly etcd?: { readonly endpoints: readonly string[] };
  readonly partition: string[][];
  readonly degrades?: readonly { host: string; lossPct: number; delayMs: number }[];
  readonly bmcs?: readonly { host: string; address: string; port: number; pid: number | null; alive: boolean }[];
}

function renderStatus(s: StatusView, title: string): string {
  const rings = Array.from({ length: s.rings }, (_, r) => `ring${r}`);
  const rows = [['host', 'role', 'power', ...rings, 'daemon']];
  for (const h of s.hosts) {
    const daemon = h.daemons.map((d) => `${d.role} ${d.pid}${d.alive ? (d.paused === true ? ' (paused)' : '') : ' (dead)'}`).join(', ');
    rows.push([
      h.name,
      h.role,
      h.role === 'client' ? '' : h.power,
      ...rings.map((r, i) => `${(h.addresses[r] ?? '-').replace(/\/\d+$/, '')}${h.cuts.includes(i) ? ' (cut)' : ''}`),
      daemon === '' ? '-' : daemon,
    ]);
  }
  const widths = (rows[0] as string[]).map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const table = rows.map((r) => `  ${r.map((x, c) => x.padEnd(widths[c] as number)).join('  ')}`.trimEnd()).join('\n');
  let faults = s.partition.length > 0 ? `partition: ${s.partition.map((g) => g.join(',')).join(' / ')}` : 'partition: none';
  for (const d of s.degrades ?? []) faults += `\n${d.host}: ${d.lossPct} % loss, ${d.delayMs} ms delay on what it sends`;
  const bmcs = (s.bmcs ?? []).map((b) => `${b.host} ${b.address}:${b.port} (ipmi_sim ${b.pid ?? '-'}${b.alive ? '' : ', dead'})`);
  const bmcLine = bmcs.length > 0 ? `  BMCs (IPMI 1.5 LAN, from the controller only): ${bmcs.join(', ')}\n` : '';
  const etcdLine = s.etcd === undefined ? '' : `  etcd (the controllers' store): ${s.etcd.endpoints.join(',')}\n`;
  return `${title} (id ${s.id}, prefix ${s.prefix}, ${s.rings} ring${s.rings === 1 ? '' : 's'})\n${table}\n  service addresses (VIPs): 10.${200 + s.id}.<ring>.100-199\n${bmcLine}${etcdLine}${faults}\nconfig: ${s.config}\n`;
}
