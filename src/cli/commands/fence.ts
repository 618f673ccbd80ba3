// The fencing commands, like Pacemaker's `stonith_admin --fence/--unfence/--history/--list`:
// `haven fence NODE --yes` fences a node through the controller (its topology, recorded in the
// fence history), `haven fence history` prints that history, `haven fence devices [--check]`
// lists the devices (secrets masked) and runs their monitor, and `haven node unfence NODE`
// runs `on` with the node's unfence devices. A fence powers a machine off: without `--yes` it is
// refused, and nothing is sent.

import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import type { DeviceView } from '../../fencing/service.js';
import type { FenceOutcome } from '../../fencing/topology.js';
import type { FenceRecord } from '../../store/fence-history.js';
import { call, resolveEndpoint } from '../client.js';
import { action } from '../run.js';

interface Common {
  readonly controller?: string;
  readonly json?: boolean;
}

/** A fence waits for every level's devices: up to their timeouts. */
const FENCE_CALL_TIMEOUT_MS = 10 * 60_000;

function who(): string | undefined {
  try {
    return userInfo().username.slice(0, 64) || undefined;
  } catch {
    return undefined;
  }
}

function time(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/Z$/, '');
}

/** One line per device run, in columns; the request's first line carries its reason. */
export function renderHistory(records: readonly FenceRecord[]): string {
  if (records.length === 0) return '(no fence attempts recorded)\n';
  const rows = records.map((r) => [
    String(r.seq),
    time(r.at),
    r.node,
    r.requested === r.action ? r.action : `${r.requested}:${r.action}`,
    r.level === 0 ? '-' : String(r.level),
    r.device,
    r.result,
    r.rc === null ? '-' : String(r.rc),
    `${Math.round(r.durationMs)} ms`,
    r.requestedBy,
    r.seq === r.request ? r.reason : `(request ${r.request})`,
  ]);
  const head = ['SEQ', 'TIME (UTC)', 'NODE', 'ACTION', 'LEVEL', 'DEVICE', 'RESULT', 'RC', 'TOOK', 'BY', 'REASON'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(head), ...rows.map(line)].join('\n')}\n`;
}

/** One block per device: what it is, what it fences at which level, and its monitor with --check. */
export function renderDevices(devices: readonly DeviceView[]): string {
  if (devices.length === 0) return '(no fence devices configured)\n';
  const out: string[] = [];
  for (const d of devices) {
    const levels = Object.entries(d.levels).map(([node, level]) => `${node} (level ${level})`);
    const flags = [d.unfence ? 'unfence' : '', d.verify ? 'verify' : ''].filter(Boolean);
    out.push(`${d.id}  ${d.agent}  fences ${levels.join(', ') || d.nodes.join(', ')}  timeout ${d.timeoutMs} ms${flags.length ? `  [${flags.join(', ')}]` : ''}`);
    const params = Object.entries(d.params).map(([k, v]) => `${k}=${v}`);
    if (params.length > 0) out.push(`  params: ${params.join(' ')}`);
    if (d.monitor !== undefined) {
      const m = d.monitor;
      const how = m.ok ? 'ok' : m.timedOut ? 'timed out' : `FAILED (rc ${m.rc ?? '-'})`;
      const last = m.output.split('\n').filter((l) => l.trim() !== '').pop();
      out.push(`  monitor: ${how} in ${m.durationMs} ms${!m.ok && last !== undefined ? `: ${last}` : ''}`);
    }
  }
  return `${out.join('\n')}\n`;
}

function summary(node: string, r: FenceOutcome, verb: string): string {
  if (!r.ok) return '';
  const devices = r.devices.length === 0 ? 'no device (none unfences this node)' : r.devices.join(' + ');
  return `${node} ${verb} by ${devices}${r.level !== undefined && r.level > 0 ? ` at level ${r.level}` : ''} in ${Math.round(r.durationMs)} ms\n`;
}

export function registerFence(program: Command): void {
  const fence = program
    .command('fence')
    // `haven fence history --json`: options after `history` are its own, not `fence`'s.
    .enablePositionalOptions()
    .description('fence a node through the controller (its fencing topology; recorded), or show the fence history')
    .argument('[node]', 'the node to fence')
    .option('--yes', 'really fence it: it is powered off (required)')
    .option('--reboot', 'power it off, then on again (default: off, and it stays off)')
    .option('--reason <text>', 'why, for the fence history')
    .option('--controller <url>', 'http://ADDR:PORT or unix:/path (default $HAVEN_CONTROLLER or the lab)')
    .option('--json', 'print the outcome as JSON')
    .action(
      action(async (node: string | undefined, opts: Common & { yes?: boolean; reboot?: boolean; reason?: string }) => {
        if (node === undefined) throw new UsageError('name the node to fence', { hint: '`haven fence NODE --yes`, or `haven fence history`' });
        if (opts.yes !== true) {
          throw new UsageError(`fencing ${node} powers it off; nothing was done`, { hint: `add --yes to fence it: \`haven fence ${node} --yes\`` });
        }
        const user = who();
        const body = { action: opts.reboot === true ? 'reboot' : 'off', ...(opts.reason === undefined ? {} : { reason: opts.reason }), ...(user ? { user } : {}) };
        const r = await call<FenceOutcome>(resolveEndpoint(opts.controller), 'POST', `/v1/nodes/${encodeURIComponent(node)}/fence`, body, FENCE_CALL_TIMEOUT_MS);
        if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
        else if (r.ok) process.stdout.write(summary(node, r, opts.reboot === true ? 'rebooted' : 'fenced'));
        if (!r.ok) {
          process.stderr.write(`haven: fence of ${node} failed: ${r.why ?? 'no reason given'} (hint: \`haven fence history --node ${node}\` shows every attempt)\n`);
          process.exitCode = 1;
        }
      }),
    );

  fence
    .command('history')
    .description('every fence attempt: node, action, level, device, result, exit code, duration, who asked and why')
    .option('--node <node>', 'only this node')
    .option('--limit <n>', 'the latest n attempts', '100')
    .option('--controller <url>', 'http://ADDR:PORT or unix:/path')
    .option('--json', 'the records as a JSON array')
    .action(
      action(async (opts: Common & { node?: string; limit: string }) => {
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit ${opts.limit} is not a positive integer`);
        const q = new URLSearchParams({ limit: String(limit), ...(opts.node === undefined ? {} : { node: opts.node }) });
        const records = await call<FenceRecord[]>(resolveEndpoint(opts.controller), 'GET', `/v1/fence/history?${q.toString()}`);
        process.stdout.write(opts.json ? `${JSON.stringify(records, null, 2)}\n` : renderHistory(records));
      }),
    );

  fence
    .command('devices')
    .description("the fence devices: agent, nodes and levels, params (secrets masked); --check runs each one's monitor")
    .option('--check', "run each device's agent with monitor: does the device answer, do the credentials work?")
    .option('--controller <url>', 'http://ADDR:PORT or unix:/path')
    .option('--json', 'the devices as a JSON array')
    .action(
      action(async (opts: Common & { check?: boolean }) => {
        const devices = await call<DeviceView[]>(resolveEndpoint(opts.controller), 'GET', `/v1/fence/devices?check=${opts.check === true}`, undefined, FENCE_CALL_TIMEOUT_MS);
        if (opts.json) process.stdout.write(`${JSON.stringify(devices, null, 2)}\n`);
        else process.stdout.write(renderDevices(devices));
        if (devices.some((d) => d.monitor !== undefined && !d.monitor.ok)) process.exitCode = 1;
      }),
    );

  // `haven node unfence`: beside standby/online/maintenance (registered by operate.ts first).
  const node = program.commands.find((c) => c.name() === 'node') ?? program.command('node').description('operate on a node');
  node
    .command('unfence')
    .argument('<node>')
    .option('--controller <url>')
    .option('--json')
    .description("run `on` with the node's unfence devices (fabric fencing: storage access back), recorded in the fence history")
    .action(
      action(async (n: string, opts: Common) => {
        const user = who();
        const r = await call<FenceOutcome>(resolveEndpoint(opts.controller), 'POST', `/v1/nodes/${encodeURIComponent(n)}/unfence`, user ? { user } : {}, FENCE_CALL_TIMEOUT_MS);
        if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
        else if (r.ok) process.stdout.write(summary(n, r, 'unfenced'));
        if (!r.ok) {
          process.stderr.write(`haven: unfencing ${n} failed: ${r.why ?? 'no reason given'}\n`);
          process.exitCode = 1;
        }
      }),
    );
}
