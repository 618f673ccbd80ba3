// The lab's simulated BMCs: one `ipmi_sim` (Debian's openipmi) per host, on a management
// network that only the controller reaches, so the controller fences a lab host the way it
// fences a real machine: Debian's `fence_ipmilan` talks IPMI 1.5 over LAN (lanplus off, MD5
// authentication) to the host's BMC address, and the BMC's chassis control powers the host off
// or on with the lab's own power switch (`haven lab fence`, the same code as `haven lab power`).
//
// Layout: a namespace `hvl<id>-bmc` (the BMC network) holding a bridge `mgmt`, joined to every
// controller's namespace by a veth (`mgmt` on the controller's side, `c<number>` on the bridge);
// a controller is 10.<200+id>.254.<its number>/24 (.240, .241, .242), the BMC of host number n
// listens on 10.<200+id>.254.n:623 (an address of the bridge). No host and no ring reaches it. Each BMC's files are in
// <lab dir>/bmc/<host>/ (lan.conf and the password file are 0600); its PID is recorded with its
// start time, and only that process, in that namespace, is ever signalled.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HavenError } from '../errors.js';
import { labPrefix } from './names.js';
import { powerMarker } from './power-marker.js';
import { labDir, type Created, type HostState, type LabState } from './state.js';
import { isZombie, namespaceInode, processNamespaceInode, processStartTime, sleep, UnsupportedError } from './system.js';

/** The management network's third octet: 10.<200+id>.254.0/24. */
export const MGMT_OCTET = 254;
/** The controllers' interface, and the bridge in the BMC namespace. */
export const MGMT_IFACE = 'mgmt';
export const BMC_PORT = 623;
export const BMC_USER = 'admin';
/** IPMI 1.5 passwords are at most 16 bytes. */
const PASSWORD_BYTES = 12;

/** One host's BMC. */
export interface BmcHost {
  readonly host: string;
  readonly address: string;
  readonly port: number;
  /** <lab dir>/bmc/<host>: lan.conf, sim.emu, chassis, state/. */
  readonly dir: string;
  readonly log: string;
  /** The running ipmi_sim, once started. */
  pid?: number;
  startTime?: string;
  startedAt?: string;
}

/** The management network and its BMCs, as the lab state records them. */
export interface BmcNetwork {
  readonly ns: string;
  /** The bridge in `ns` that carries the BMC addresses. */
  readonly iface: string;
  /** Every controller on the management network: its namespace, address and bridge port. */
  readonly controllers: readonly { readonly host: string; readonly ns: string; readonly address: string; readonly port: string }[];
  readonly hosts: BmcHost[];
}

export function bmcNamespace(id: number): string {
  return `${labPrefix(id)}bmc`;
}

export function mgmtAddress(id: number, n: number): string {
  return `10.${200 + id}.${MGMT_OCTET}.${n}`;
}

/** Pure: the BMC network of a lab and what it creates (in creation order). */
export function planBmc(id: number, labDir: string, hosts: readonly HostState[]): { bmc: BmcNetwork; created: Created[] } {
  const ns = bmcNamespace(id);
  const controllers = hosts.filter((h) => h.role === 'controller').map((h) => ({ host: h.name, ns: h.ns, address: mgmtAddress(id, h.number), port: `c${h.number}` }));
  const bmc: BmcNetwork = {
    ns,
    iface: MGMT_IFACE,
    controllers,
    hosts: hosts
      .filter((h) => h.role === 'host')
      .map((h) => ({ host: h.name, address: mgmtAddress(id, h.number), port: BMC_PORT, dir: join(labDir, 'bmc', h.name), log: join(labDir, 'logs', `bmc-${h.name}.log`) })),
  };
  const created: Created[] = [
    { kind: 'netns', name: ns },
    { kind: 'bridge', ns, name: MGMT_IFACE },
    ...controllers.map((c): Created => ({ kind: 'veth', ns: c.ns, name: MGMT_IFACE, peerNs: ns, peer: c.port })),
  ];
  return { bmc, created };
}

/**
 * The ip commands that wire the BMC network, in order: the bridge, a veth from every controller
 * (its end in the BMC namespace a port of the bridge), then the BMC addresses on the bridge.
 */
export function bmcBuildCommands(bmc: BmcNetwork): { ns: string; lines: string[] }[] {
  return [
    { ns: bmc.ns, lines: ['link set lo up', `link add ${MGMT_IFACE} type bridge stp_state 0`, `link set ${MGMT_IFACE} up`] },
    ...bmc.controllers.map((c) => ({ ns: c.ns, lines: [`link add ${MGMT_IFACE} type veth peer name ${c.port} netns ${bmc.ns}`, `addr add ${c.address}/24 dev ${MGMT_IFACE}`, `link set ${MGMT_IFACE} up`] })),
    { ns: bmc.ns, lines: [...bmc.controllers.map((c) => `link set ${c.port} master ${MGMT_IFACE} up`), ...bmc.hosts.map((b) => `addr add ${b.address}/24 dev ${MGMT_IFACE}`)] },
  ];
}

/** The programs the BMCs need: refused before anything is made when one is missing. */
export function checkBmcAvailable(): void {
  const missing = ['/usr/bin/ipmi_sim', '/usr/sbin/fence_ipmilan', '/usr/bin/ipmitool'].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new UnsupportedError(`the lab's BMCs need ${missing.join(', ')}`, { hint: 'run `node scripts/setup.mjs` as root (Debian packages openipmi, ipmitool, fence-agents), or bring the lab up with --no-bmc' });
  }
}

export function generatePassword(): string {
  return randomBytes(PASSWORD_BYTES).toString('base64url');
}

function passwordFile(labDir: string): string {
  return join(labDir, 'bmc', 'password');
}

/** The BMCs' password (one per lab), from its 0600 file. */
export function readBmcPassword(labDir: string): string {
  try {
    return readFileSync(passwordFile(labDir), 'utf8').trim();
  } catch (err) {
    throw new HavenError('IO', `cannot read the lab's BMC password (${passwordFile(labDir)}): ${(err as Error).message}`);
  }
}

/** lan.conf of one BMC: one LAN channel on its address, MD5 only, one admin user, the chassis script. */
export function lanConf(b: BmcHost, name: string, password: string): string {
  const guid = randomBytes(16).toString('hex');
  return [
    `# The simulated BMC of lab host ${b.host}, written by \`haven lab up\` (ipmi_lan(5)).`,
    `name "${name}"`,
    'set_working_mc 0x20',
    '  startlan 1',
    `    addr ${b.address} ${b.port}`,
    '    priv_limit admin',
    '    allowed_auths_callback md5',
    '    allowed_auths_user md5',
    '    allowed_auths_operator md5',
    '    allowed_auths_admin md5',
    `    guid ${guid}`,
    '  endlan',
    `  chassis_control "${join(b.dir, 'chassis')} 0x20"`,
    `  user 2 true "${BMC_USER}" "${password}" admin 10 md5`,
    '',
  ].join('\n');
}

/** The emulated management controller: a BMC at IPMB address 0x20 (ipmi_sim_cmd(5)). */
export const SIM_EMU = ['mc_setbmc 0x20', 'mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02', 'mc_enable 0x20', ''].join('\n');

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The chassis control script ipmi_sim runs (`chassis 0x20 get power`, `chassis 0x20 set power 0`):
 * it asks the lab's fence agent (`haven lab fence`, through its fast path) and answers in
 * ipmi_sim's terms (`power:1` on, `power:0` off; exit 1 when it cannot tell or do it).
 */
export function chassisScript(state: Pick<LabState, 'name' | 'stateDir' | 'node' | 'haven'>, b: BmcHost): string {
  const marker = shellQuote(powerMarker(labDir(state.stateDir, state.name), b.host));
  const fence = `printf 'action=%s\\nplug=%s\\nlab=%s\\nstate_dir=%s\\n' "$1" ${shellQuote(b.host)} ${shellQuote(state.name)} ${shellQuote(state.stateDir)} | ${shellQuote(state.node)} ${shellQuote(state.haven)} lab fence`;
  return `#!/bin/sh
# Chassis control of the simulated BMC of lab host ${b.host} (ipmi_sim's chassis_control):
#   chassis MC get power|boot...     prints power:1 (on) or power:0 (off)
#   chassis MC set power 0|1 | reset 1 | shutdown 1 | boot V | identify V
# Power goes through the lab's power switch, exactly as \`haven lab power\` does.
fence() { ${fence} >>${shellQuote(b.log)} 2>&1; }
[ $# -ge 2 ] || exit 1
shift
op=$1; shift
case $op in
  get)
    for p in "$@"; do
      case $p in
        power)
          # The power switch's marker (power-marker.ts) when there is one, else ask the switch.
          if [ -r ${marker} ]; then
            case $(cat ${marker}) in on) echo power:1;; off) echo power:0;; *) exit 1;; esac
          else
            fence status; rc=$?; case $rc in 0) echo power:1;; 2) echo power:0;; *) exit 1;; esac
          fi;;
        boot) echo boot:default;;
        *) exit 1;;
      esac
    done;;
  set)
    while [ $# -ge 2 ]; do
      case $1 in
        power) if [ "$2" = 1 ]; then fence on || exit 1; else fence off || exit 1; fi;;
        reset) fence reboot || exit 1;;
        shutdown) fence off || exit 1;;
        boot|identify) ;;
        *) exit 1;;
      esac
      shift 2
    done;;
  *) exit 1;;
esac
exit 0
`;
}

/** Writes every BMC's files, and the password file (0600). */
export function writeBmcFiles(state: Pick<LabState, 'name' | 'stateDir' | 'node' | 'haven' | 'prefix'>, bmc: BmcNetwork, labDir: string, password: string): void {
  mkdirSync(join(labDir, 'bmc'), { recursive: true, mode: 0o700 });
  mkdirSync(join(labDir, 'logs'), { recursive: true });
  writeFileSync(passwordFile(labDir), `${password}\n`, { mode: 0o600 });
  // Every host starts powered on (power.ts keeps the markers from then on).
  mkdirSync(join(labDir, 'power'), { recursive: true, mode: 0o755 });
  for (const b of bmc.hosts) writeFileSync(powerMarker(labDir, b.host), 'on\n', { mode: 0o644 });
  for (const b of bmc.hosts) {
    mkdirSync(join(b.dir, 'state'), { recursive: true, mode: 0o700 });
    writeFileSync(join(b.dir, 'lan.conf'), lanConf(b, `${state.prefix}${b.host}`, password), { mode: 0o600 });
    writeFileSync(join(b.dir, 'sim.emu'), SIM_EMU, { mode: 0o644 });
    writeFileSync(join(b.dir, 'chassis'), chassisScript(state, b), { mode: 0o755 });
  }
}

/** `ip netns exec NS ipmi_sim …`: ip execs, so the PID is ipmi_sim's own. */
export function bmcCommand(bmc: BmcNetwork, b: BmcHost): string[] {
  return ['ip', 'netns', 'exec', bmc.ns, 'ipmi_sim', '-c', join(b.dir, 'lan.conf'), '-f', join(b.dir, 'sim.emu'), '-s', join(b.dir, 'state'), '-n'];
}

/** Whether a process (in its namespace) has a UDP socket bound to address:port (/proc/PID/net/udp). */
export function udpBound(pid: number, address: string, port: number): boolean {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/net/udp`, 'utf8');
  } catch {
    return false;
  }
  const hex = address
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .reverse()
    .join('')
    .toUpperCase();
  const want = `${hex}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return text.split('\n').some((l) => l.trim().split(/\s+/)[1] === want);
}

/** Starts every BMC (records PID and start time in `bmc`) and waits until each listens. */
export async function startBmcs(bmc: BmcNetwork, timeoutMs = 5_000): Promise<void> {
  for (const b of bmc.hosts) {
    mkdirSync(join(b.dir, 'state'), { recursive: true, mode: 0o700 });
    const fd = openSync(b.log, 'a');
    try {
      const [cmd, ...args] = bmcCommand(bmc, b);
      const child = spawn(cmd as string, args, { detached: true, stdio: ['ignore', fd, fd], cwd: b.dir });
      child.on('error', () => undefined);
      child.unref();
      if (child.pid === undefined) throw new HavenError('SYSTEM_COMMAND_FAILED', `could not start the BMC of ${b.host}`);
      b.pid = child.pid;
      b.startTime = processStartTime(child.pid) ?? '';
      b.startedAt = new Date().toISOString();
    } finally {
      closeSync(fd);
    }
  }
  const deadline = Date.now() + timeoutMs;
  for (const b of bmc.hosts) {
    while (!udpBound(b.pid!, b.address, b.port)) {
      // Not bmcRunning: until `ip netns exec` has entered the namespace, the process is still outside it.
      if (processStartTime(b.pid!) !== b.startTime || isZombie(b.pid!)) throw new HavenError('SYSTEM_COMMAND_FAILED', `the BMC of ${b.host} (ipmi_sim) exited at start`, { hint: `see ${b.log}` });
      if (Date.now() > deadline) throw new HavenError('SYSTEM_COMMAND_FAILED', `the BMC of ${b.host} does not listen on ${b.address}:${b.port} after ${timeoutMs} ms`, { hint: `see ${b.log}` });
      await sleep(10);
    }
  }
}

/** Whether the recorded ipmi_sim is still that process, alive, in the BMC namespace. */
export function bmcRunning(bmc: BmcNetwork, b: BmcHost): boolean {
  if (b.pid === undefined) return false;
  const start = processStartTime(b.pid);
  return start !== undefined && start === b.startTime && !isZombie(b.pid) && processNamespaceInode(b.pid) === namespaceInode(bmc.ns);
}

/** Stops the BMCs: SIGTERM, then SIGKILL after graceMs; only the recorded processes. */
export async function stopBmcs(bmc: BmcNetwork, graceMs = 1_000): Promise<void> {
  let left = bmc.hosts.filter((b) => bmcRunning(bmc, b));
  const signal = (b: BmcHost, sig: NodeJS.Signals): void => {
    try {
      process.kill(b.pid!, sig);
    } catch {
      // gone
    }
  };
  for (const b of left) signal(b, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(20);
    left = left.filter((b) => bmcRunning(bmc, b));
  }
  for (const b of left.filter((x) => bmcRunning(bmc, x))) signal(b, 'SIGKILL');
}

export interface BmcStatus {
  readonly host: string;
  readonly address: string;
  readonly port: number;
  readonly pid: number | null;
  readonly alive: boolean;
}

/** What `haven lab status` shows of the BMCs (never the password). */
export function bmcStatus(bmc: BmcNetwork | undefined): BmcStatus[] {
  return (bmc?.hosts ?? []).map((b) => ({ host: b.host, address: b.address, port: b.port, pid: b.pid ?? null, alive: bmcRunning(bmc!, b) }));
}
