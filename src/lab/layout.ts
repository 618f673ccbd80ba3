// Pure: the whole lab worked out before anything is made. `planLab` returns the state file's
// first version: every namespace, bridge and veth with its name and address, in the order
// they will be created, so the list is on disk before the first object exists.

import { bridgeName, CLIENT_HOST, CLIENT_NUMBER, controllerHost, controllerNumber, hostAddress, hostNames, interfaceName, labPrefix, namespaceName, portName, SWITCH, validateControllers, validateLabName, validateRings } from './names.js';
import { bmcBuildCommands, planBmc } from './bmc.js';
import { planEtcd } from './etcd.js';
import { UsageError } from '../errors.js';
import { labDir, type Created, type HostRole, type HostState, type LabState, type LinkState } from './state.js';

export interface LabSpec {
  readonly name: string;
  readonly id: number;
  /** A count (h1..hN) or explicit names. */
  readonly hosts: number | readonly string[];
  readonly rings: number;
  readonly stateDir: string;
  readonly config: string;
  readonly daemons: boolean;
  readonly node: string;
  readonly haven: string;
  readonly now: Date;
  /** A simulated BMC per host on a management network (bmc.ts). Default false. */
  readonly bmc?: boolean;
  /** Controller hosts: 1 (default: `controller`, embedded store) or 3 (`controller2`, `controller3` too, on etcd). */
  readonly controllers?: number;
  /** The controllers' leader lease on etcd, in whole seconds (default: the controller's). */
  readonly leaderLease?: number;
}

function host(id: number, name: string, n: number, role: HostRole, rings: readonly number[]): HostState {
  const links: LinkState[] = rings.map((ring) => {
    const address = hostAddress(id, ring, n);
    return { ring, port: portName(id, n, ring), iface: interfaceName(ring), address, cidr: `${address}/24` };
  });
  return { name, number: n, ns: namespaceName(id, name), role, links, power: 'on' };
}

export function planLab(spec: LabSpec): LabState {
  validateLabName(spec.name);
  validateRings(spec.rings);
  const controllers = validateControllers(spec.controllers ?? 1);
  if (spec.leaderLease !== undefined) {
    if (controllers === 1) throw new UsageError('--leader-lease is for the controllers on etcd: give --controllers 3 too', { hint: 'one controller runs on the embedded store and leads at once' });
    if (!Number.isInteger(spec.leaderLease) || spec.leaderLease < 1 || spec.leaderLease > 60) throw new UsageError(`--leader-lease ${spec.leaderLease} is not a whole number of seconds from 1 to 60`);
  }
  const all = Array.from({ length: spec.rings }, (_, r) => r);
  const hosts: HostState[] = [
    ...hostNames(spec.hosts).map((h, i) => host(spec.id, h, i + 1, 'host', all)),
    ...Array.from({ length: controllers }, (_, i) => host(spec.id, controllerHost(i), controllerNumber(i), 'controller', all)),
    host(spec.id, CLIENT_HOST, CLIENT_NUMBER, 'client', [0]),
  ];
  const switchNs = namespaceName(spec.id, SWITCH);
  const created: Created[] = [{ kind: 'netns', name: switchNs }, ...hosts.map((h): Created => ({ kind: 'netns', name: h.ns }))];
  for (const r of all) created.push({ kind: 'bridge', ns: switchNs, name: bridgeName(spec.id, r) });
  for (const h of hosts) {
    for (const l of h.links) created.push({ kind: 'veth', ns: switchNs, name: l.port, peerNs: h.ns, peer: l.iface });
  }
  const bmc = spec.bmc === true ? planBmc(spec.id, labDir(spec.stateDir, spec.name), hosts) : undefined;
  if (bmc !== undefined) created.push(...bmc.created);
  // Several controllers share an etcd cluster, one member on each controller host.
  const etcd = controllers > 1 ? planEtcd(labPrefix(spec.id), labDir(spec.stateDir, spec.name), hosts.filter((h) => h.role === 'controller'), spec.now) : undefined;
  return {
    version: 2,
    name: spec.name,
    id: spec.id,
    prefix: labPrefix(spec.id),
    createdAt: spec.now.toISOString(),
    rings: spec.rings,
    switchNs,
    stateDir: spec.stateDir,
    config: spec.config,
    daemons: spec.daemons,
    node: spec.node,
    haven: spec.haven,
    hosts,
    created,
    cuts: [],
    blocks: [],
    degrades: [],
    processes: [],
    ...(bmc === undefined ? {} : { bmc: bmc.bmc }),
    ...(etcd === undefined ? {} : { etcd }),
    ...(spec.leaderLease === undefined ? {} : { leaderLease: spec.leaderLease }),
  };
}

/** The ip commands, per namespace, that build the lab: the switch first (it makes the veths), then each host. */
export function buildCommands(state: LabState): { ns: string; lines: string[] }[] {
  const sw: string[] = ['link set lo up'];
  for (let r = 0; r < state.rings; r++) {
    const br = bridgeName(state.id, r);
    // No STP (ports forward at once) and no multicast snooping (heartbeats are never filtered).
    sw.push(`link add ${br} type bridge stp_state 0 mcast_snooping 0`, `link set ${br} up`);
  }
  for (const h of state.hosts) {
    for (const l of h.links) {
      sw.push(`link add ${l.port} type veth peer name ${l.iface} netns ${h.ns}`, `link set ${l.port} master ${bridgeName(state.id, l.ring)} up`);
    }
  }
  const out = [{ ns: state.switchNs, lines: sw }];
  for (const h of state.hosts) out.push({ ns: h.ns, lines: hostUpCommands(h) });
  return out;
}

/** The BMC network's ip commands (after the namespaces exist): none without BMCs. */
export function buildBmcCommands(state: LabState): { ns: string; lines: string[] }[] {
  return state.bmc === undefined ? [] : bmcBuildCommands(state.bmc);
}

/** lo up, the lab's addresses and the links up: a host as it boots (also `power on`). */
export function hostUpCommands(h: HostState): string[] {
  const lines = ['link set lo up'];
  for (const l of h.links) lines.push(`addr flush dev ${l.iface}`, `addr add ${l.cidr} dev ${l.iface}`, `link set ${l.iface} up`);
  return lines;
}

/** The links down: the host's side of the cable goes dark (`power off`). */
export function hostDownCommands(h: HostState): string[] {
  return h.links.map((l) => `link set ${l.iface} down`);
}
