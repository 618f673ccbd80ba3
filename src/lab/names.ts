// Pure: what a lab is called and where its hosts live. Every object a lab makes carries its
// prefix `hvl<id>-` (namespaces, bridges, veths); every address sits in its own /16,
// 10.<200+id>.<ring>.<n>/24, and exists only inside the lab's own namespaces.
//
// Per ring, host number i (1-based, in the order given) is .i; .100–.199 are never given to a
// host, so they are free for service addresses (VIPs); the controller is .240 (on every ring),
// with --controllers 3 the second and third controllers .241 and .242, the client .250 (ring 0 only).

import { UsageError } from '../errors.js';

/** How many labs can exist at once: ids 0..MAX_LAB_ID, second octets 200..255. */
export const MAX_LAB_ID = 55;
export const MAX_HOSTS = 99;
export const MAX_RINGS = 8;
/** The dedicated client host: on ring 0 only, where probes run from. */
export const CLIENT_HOST = 'client';
export const CLIENT_NUMBER = 250;
/** The controller's host: on every ring, where `haven controller` runs. */
export const CONTROLLER_HOST = 'controller';
export const CONTROLLER_NUMBER = 240;
/** How many controllers a lab may run: one (the embedded store) or three (on a 3-member etcd). */
export const CONTROLLER_COUNTS = [1, 3] as const;
export const MAX_CONTROLLERS = 3;
export const SWITCH = 'switch';
/** Names a lab keeps for its own namespaces; no host may take them. */
const RESERVED = new Set([CLIENT_HOST, SWITCH, ...Array.from({ length: MAX_CONTROLLERS }, (_, i) => controllerHost(i))]);

/** The i-th controller host (0-based): `controller`, `controller2`, `controller3`. */
export function controllerHost(i: number): string {
  return i === 0 ? CONTROLLER_HOST : `${CONTROLLER_HOST}${i + 1}`;
}

/** The i-th controller's host number (0-based): .240, .241, .242 on every ring. */
export function controllerNumber(i: number): number {
  return CONTROLLER_NUMBER + i;
}

export function validateControllers(n: number): number {
  if (!(CONTROLLER_COUNTS as readonly number[]).includes(n)) {
    throw new UsageError(`--controllers ${n}: a lab runs 1 controller (embedded store) or 3 (on etcd)`, { hint: 'an etcd cluster needs an odd number of members; 3 survives the loss of one' });
  }
  return n;
}

const HOST_NAME = /^[a-z][a-z0-9-]{0,30}$/;
const LAB_NAME = /^[a-z0-9][a-z0-9_.-]{0,39}$/;

export function labPrefix(id: number): string {
  return `hvl${id}-`;
}

/** The namespace of a host (or of the switch, or of the client). */
export function namespaceName(id: number, host: string): string {
  return `${labPrefix(id)}${host}`;
}

/** The bridge of one ring, inside the switch namespace. */
export function bridgeName(id: number, ring: number): string {
  return `${labPrefix(id)}ring${ring}`;
}

/** The switch-side end of host number n's veth on one ring (≤ 15 characters, IFNAMSIZ). */
export function portName(id: number, n: number, ring: number): string {
  return `${labPrefix(id)}h${n}r${ring}`;
}

/** The host-side end of a veth, inside the host's own namespace; also the ring's name in lab.yaml. */
export function interfaceName(ring: number): string {
  return `ring${ring}`;
}

/** The ring's name in the lab's config (`ring0`, `ring1`, …). */
export function ringName(ring: number): string {
  return `ring${ring}`;
}

/** The /24 of one ring: `10.<200+id>.<ring>.0/24`. */
export function ringSubnet(id: number, ring: number): string {
  return `10.${200 + id}.${ring}.0/24`;
}

/** A host's address on a ring, without the prefix length. */
export function hostAddress(id: number, ring: number, n: number): string {
  return `10.${200 + id}.${ring}.${n}`;
}

/** A free service address (VIP) on a ring: k = 0..99 gives .100–.199. */
export function serviceAddress(id: number, ring: number, k: number): string {
  if (!Number.isInteger(k) || k < 0 || k > 99) throw new UsageError(`service address index ${k} is out of range (0..99)`);
  return hostAddress(id, ring, 100 + k);
}

/** Whether an IPv4 address lies inside this lab's own range (10.<200+id>.0.0/16). */
export function inLabRange(id: number, address: string): boolean {
  const m = /^10\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  if (m === null) return false;
  return Number(m[1]) === 200 + id && Number(m[2]) < MAX_RINGS && Number(m[3]) <= 255;
}

export function validateLabName(name: string): string {
  if (!LAB_NAME.test(name)) {
    throw new UsageError(`lab name "${name}" is not allowed`, { hint: 'use 1 to 40 of a-z, 0-9, "_", "." and "-", starting with a letter or digit' });
  }
  return name;
}

/** The host names of a lab: `n` gives h1..hn; a list is checked (unique, short, not reserved). */
export function hostNames(hosts: number | readonly string[]): string[] {
  if (typeof hosts === 'number') {
    if (!Number.isInteger(hosts) || hosts < 1 || hosts > MAX_HOSTS) {
      throw new UsageError(`--hosts ${hosts}: a lab has 1 to ${MAX_HOSTS} hosts`);
    }
    return Array.from({ length: hosts }, (_, i) => `h${i + 1}`);
  }
  if (hosts.length < 1 || hosts.length > MAX_HOSTS) throw new UsageError(`a lab has 1 to ${MAX_HOSTS} hosts, not ${hosts.length}`);
  const seen = new Set<string>();
  for (const h of hosts) {
    if (!HOST_NAME.test(h)) throw new UsageError(`host name "${h}" is not allowed`, { hint: 'use a-z, 0-9 and "-", starting with a letter, at most 31 characters' });
    if (RESERVED.has(h)) throw new UsageError(`host name "${h}" is reserved for the lab's own ${h} namespace`);
    if (seen.has(h)) throw new UsageError(`host "${h}" is named twice`);
    seen.add(h);
  }
  return [...hosts];
}

export function validateRings(rings: number): number {
  if (!Number.isInteger(rings) || rings < 1 || rings > MAX_RINGS) throw new UsageError(`--rings ${rings}: a lab has 1 to ${MAX_RINGS} rings`);
  return rings;
}
