// The `vip` resource agent: a virtual IPv4 address added to a host interface with `ip addr`,
// then announced with gratuitous ARP so neighbours move their ARP caches to this host. The
// agent daemon runs inside the host's network namespace, so plain `ip` acts on the host.
// The ARP announcements go on in the background: a start answers within milliseconds.

import { spawn } from 'node:child_process';
import { isIPv4 } from 'node:net';
import { OCF_RC } from '../model/wire.js';
import { runCommand, tail } from './exec.js';
import { intParam, stringParam, unknownParams, type Params } from './params.js';
import { simpleAgent } from './simple-agent.js';
import type { OperationContext, ResourceAgent, ResourceOutcome } from './types.js';

export const VIP_PARAMS = ['ip', 'cidrNetmask', 'interface', 'arpCount'] as const;
const IP_TIMEOUT_MS = 5000;
const IFNAME_RE = /^[A-Za-z0-9_.:@-]{1,15}$/;

export interface VipSpec {
  readonly ip: string;
  readonly prefix: number;
  readonly interface: string | undefined;
  readonly arpCount: number;
}

/** Parses the params; a string[] lists every problem. */
export function parseVipParams(params: Params): VipSpec | string[] {
  const problems = unknownParams(params, VIP_PARAMS, 'vip');
  const ip = stringParam(params, 'ip');
  if (ip === undefined) problems.push('ip: required (an IPv4 address such as 192.168.10.100)');
  else if (!isIPv4(ip)) problems.push(`ip: "${ip}" is not an IPv4 address`);
  const prefix = intParam(params, 'cidrNetmask', 24, 1, 32);
  if (typeof prefix === 'string') problems.push(prefix);
  const arpCount = intParam(params, 'arpCount', 3, 0, 100);
  if (typeof arpCount === 'string') problems.push(arpCount);
  const iface = stringParam(params, 'interface');
  if (iface !== undefined && !IFNAME_RE.test(iface)) problems.push(`interface: "${iface}" is not an interface name`);
  if (problems.length > 0 || ip === undefined || typeof prefix === 'string' || typeof arpCount === 'string') return problems;
  return { ip, prefix, interface: iface, arpCount };
}

// ---- addresses ----

interface Address {
  readonly ifname: string;
  readonly local: string;
  readonly prefixlen: number;
}

function toNumber(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

/** Whether `ip` lies in the subnet `net`/`prefix`. */
export function inSubnet(ip: string, net: string, prefix: number): boolean {
  const size = 2 ** (32 - prefix);
  return Math.floor(toNumber(ip) / size) === Math.floor(toNumber(net) / size);
}

type IpResult = { ok: true; stdout: string } | { ok: false; outcome: ResourceOutcome };

async function ip(args: readonly string[], ctx: OperationContext): Promise<IpResult> {
  const r = await runCommand('ip', args, { timeoutMs: Math.min(ctx.timeoutMs, IP_TIMEOUT_MS), signal: ctx.signal });
  if (r.code === 0) return { ok: true, stdout: r.stdout };
  const cmd = `ip ${args.join(' ')}`;
  if (r.spawnError !== undefined) return { ok: false, outcome: { rc: OCF_RC.ERR_INSTALLED, output: `cannot run \`ip\`: ${r.spawnError.code ?? ''} (hint: apt-get install iproute2)` } };
  if (r.timedOut) return { ok: false, outcome: { rc: OCF_RC.ERR_GENERIC, timedOut: true, output: `\`${cmd}\` did not answer in time` } };
  return { ok: false, outcome: { rc: OCF_RC.ERR_GENERIC, output: `\`${cmd}\` failed (exit ${r.code ?? r.signal}): ${tail(r.stderr, 3)}` } };
}

/** Every IPv4 address on the host. */
async function addresses(ctx: OperationContext): Promise<Address[] | ResourceOutcome> {
  const r = await ip(['-j', '-4', 'addr', 'show'], ctx);
  if (!r.ok) return r.outcome;
  const links = JSON.parse(r.stdout) as { ifname: string; addr_info?: { family?: string; local?: string; prefixlen?: number }[] }[];
  return links.flatMap((l) =>
    (l.addr_info ?? []).filter((a) => a.family === 'inet' && a.local !== undefined).map((a) => ({ ifname: l.ifname, local: a.local as string, prefixlen: a.prefixlen ?? 32 })),
  );
}

/** The configured interface, or the one whose subnet holds the ip (other than the vip itself). */
function chooseInterface(spec: VipSpec, all: readonly Address[]): string | undefined {
  if (spec.interface !== undefined) return spec.interface;
  const own = all.find((a) => a.local === spec.ip);
  if (own !== undefined) return own.ifname;
  return all.find((a) => a.ifname !== 'lo' && inSubnet(spec.ip, a.local, a.prefixlen))?.ifname;
}

// ---- operations ----

async function start(ctx: OperationContext, spec: VipSpec): Promise<ResourceOutcome> {
  const all = await addresses(ctx);
  if (!Array.isArray(all)) return all;
  const ifname = chooseInterface(spec, all);
  if (ifname === undefined) {
    return { rc: OCF_RC.ERR_CONFIGURED, output: `no interface has a subnet that holds ${spec.ip} (set the interface param)` };
  }
  const present = all.some((a) => a.local === spec.ip && a.ifname === ifname);
  if (!present) {
    const r = await ip(['addr', 'add', `${spec.ip}/${spec.prefix}`, 'dev', ifname], ctx);
    if (!r.ok) return addFailure(r.outcome, ifname);
  }
  const arp = announce(spec, ifname);
  return { rc: OCF_RC.SUCCESS, output: `${spec.ip}/${spec.prefix} ${present ? 'already on' : 'added to'} ${ifname}; ${arp}` };
}

function addFailure(outcome: ResourceOutcome, ifname: string): ResourceOutcome {
  if (/File exists/.test(outcome.output)) return { rc: OCF_RC.SUCCESS, output: `already on ${ifname}` };
  if (/Cannot find device/.test(outcome.output)) return { rc: OCF_RC.ERR_INSTALLED, output: `no interface ${ifname} on this host: ${outcome.output}` };
  return outcome;
}

/** Starts gratuitous ARP in the background: the first packet leaves at once, the rest 1 s apart. */
function announce(spec: VipSpec, ifname: string): string {
  if (spec.arpCount === 0) return 'no gratuitous ARP (arpCount 0)';
  try {
    const child = spawn('arping', ['-U', '-c', String(spec.arpCount), '-I', ifname, spec.ip], { detached: true, stdio: 'ignore' });
    child.on('error', () => {
      // Reported below only if spawn fails synchronously; a missing arping just sends nothing.
    });
    child.unref();
    return `${spec.arpCount} gratuitous ARP announcements under way`;
  } catch (e) {
    return `no gratuitous ARP: ${(e as Error).message}`;
  }
}

async function monitor(ctx: OperationContext, spec: VipSpec): Promise<ResourceOutcome> {
  const all = await addresses(ctx);
  if (!Array.isArray(all)) return all;
  const found = all.find((a) => a.local === spec.ip && (spec.interface === undefined || a.ifname === spec.interface));
  if (found === undefined) return { rc: OCF_RC.NOT_RUNNING, output: `${spec.ip} is not on ${spec.interface ?? 'any interface'}` };
  return { rc: OCF_RC.SUCCESS, output: `${spec.ip}/${found.prefixlen} is on ${found.ifname}` };
}

async function stop(ctx: OperationContext, spec: VipSpec): Promise<ResourceOutcome> {
  const all = await addresses(ctx);
  if (!Array.isArray(all)) return all;
  const found = all.filter((a) => a.local === spec.ip && (spec.interface === undefined || a.ifname === spec.interface));
  for (const a of found) {
    const r = await ip(['addr', 'del', `${a.local}/${a.prefixlen}`, 'dev', a.ifname], ctx);
    if (!r.ok && !/Cannot assign requested address/.test(r.outcome.output)) return r.outcome;
  }
  return { rc: OCF_RC.SUCCESS, output: found.length === 0 ? `${spec.ip} was not on this host` : `${spec.ip} removed from ${found.map((a) => a.ifname).join(', ')}` };
}

export const vipAgent: ResourceAgent = simpleAgent({ kind: 'vip', parse: parseVipParams, start, stop, monitor });
