// `haven lab …`: the network-namespace lab (docs/lab.md). up, down, status, power, fence, cut,
// partition, heal, probe. The implementations are imported when a subcommand runs, so other
// `haven` commands do not pay for them; `haven lab fence` is also reached through a fast path in
// bin/haven.js that skips this file altogether.

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
    .option('--resources <file>', "a YAML file with resources: and constraints: to add to the lab's configuration")
    .option('--no-daemons', 'do not start the agents and the controller')
    .option('--no-bmc', 'no simulated BMCs (ipmi_sim): hosts are fenced with the lab power switch only')
    .option('--json', "print the lab's status as JSON")
    .action(
      action(async (opts: Common & { hosts: number; rings: number; resources?: string; daemons: boolean; bmc: boolean; json?: boolean }) => {
        const { name, dir } = await where(opts);
        const { createLab, labStatus } = await import('../../lab/lab.js');
        await createLab({ name, stateDir: dir, hosts: opts.hosts, rings: opts.rings, daemons: opts.daemons, bmc: opts.bmc, ...(opts.resources === undefined ? {} : { resources: opts.resources }) });
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
    .action(
      action(async (groups: string[], opts: Common) => {
        const { name, dir } = await where(opts);
        const { partitionLab } = await import('../../lab/lab.js');
        const state = await partitionLab(name, dir, groups);
        const seen: string[] = [];
        for (const b of state.blocks) if (!seen.includes(b.from.join(','))) seen.push(b.from.join(','));
        process.stdout.write(`partitioned: ${seen.join(' / ')}\n`);
      }),
    );

  common(lab.command('heal'))
    .description('undo every cut and partition')
    .action(
      action(async (opts: Common) => {
        const { name, dir } = await where(opts);
        const { healLab } = await import('../../lab/lab.js');
        await healLab(name, dir);
        process.stdout.write('healed: no cut, no partition\n');
      }),
    );

  common(lab.command('probe'))
    .description("send a request every 10 ms from the lab's client and report failures, gaps (RTO), hand-overs and split brain")
    .argument('<target>', 'http://IP:PORT/path or tcp:IP:PORT (an address of the lab)')
    .option('--interval <d>', 'between requests (bare number: ms)', '10ms')
    .option('--timeout <d>', "each request's limit (bare number: ms)", '200ms')
    .option('--duration <d>', 'stop after this long (bare number: seconds); default: until SIGINT')
    .option('--split-window <d>', 'how close two answers of the old host around another host count as split brain', '1s')
    .option('--json', 'print the report as JSON')
    .option('--answers', 'with --json: include every answer')
    .action(
      action(async (target: string, opts: Common & { interval: string; timeout: string; duration?: string; splitWindow: string; json?: boolean; answers?: boolean }) => {
        const { name, dir } = await where(opts);
        const probeOpts = {
          target,
          intervalMs: durationOption('--interval', opts.interval, 'ms'),
          timeoutMs: durationOption('--timeout', opts.timeout, 'ms'),
          splitWindowMs: durationOption('--split-window', opts.splitWindow, 'ms'),
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
  readonly hosts: readonly { name: string; role: string; power: string; addresses: Record<string, string>; cuts: number[]; daemons: { role: string; pid: number; alive: boolean }[] }[];
  readonly partition: string[][];
  readonly bmcs?: readonly { host: string; address: string; port: number; pid: number | null; alive: boolean }[];
}

function renderStatus(s: StatusView, title: string): string {
  const rings = Array.from({ length: s.rings }, (_, r) => `ring${r}`);
  const rows = [['host', 'role', 'power', ...rings, 'daemon']];
  for (const h of s.hosts) {
    const daemon = h.daemons.map((d) => `${d.role} ${d.pid}${d.alive ? '' : ' (dead)'}`).join(', ');
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
  const faults = s.partition.length > 0 ? `partition: ${s.partition.map((g) => g.join(',')).join(' / ')}` : 'partition: none';
  const bmcs = (s.bmcs ?? []).map((b) => `${b.host} ${b.address}:${b.port} (ipmi_sim ${b.pid ?? '-'}${b.alive ? '' : ', dead'})`);
  const bmcLine = bmcs.length > 0 ? `  BMCs (IPMI 1.5 LAN, from the controller only): ${bmcs.join(', ')}\n` : '';
  return `${title} (id ${s.id}, prefix ${s.prefix}, ${s.rings} ring${s.rings === 1 ? '' : 's'})\n${table}\n  service addresses (VIPs): 10.${200 + s.id}.<ring>.100-199\n${bmcLine}${faults}\nconfig: ${s.config}\n`;
}
