// The cluster the chaos suite runs, and how it reads the controller: an active/passive web
// service (a VIP and lab-web in a group, as in examples/lab-web.yaml), the same lab-web cloned
// on every host on another port, and `marker`, a primitive that only carries an operator ban
// (config that must survive a controller crash). The controller is read through its API on the
// lab's Unix socket.

import { request } from 'node:http';
import { HavenError } from '../../errors.js';
import type { DurableView } from './invariants.js';

export const AP_GROUP = 'web-service';
export const AP_VIP = 'web-vip';
export const AP_SERVICE = 'web';
export const AP_PORT = 8080;
export const CLONE = 'web-clone';
export const CLONE_COPY = 'web-c';
export const CLONE_PORT = 8081;
export const MARKER = 'marker';

/** The resources file given to `createLab` (${LAB_NET} and ${HAVEN_ROOT} filled in by the lab). */
export const CHAOS_RESOURCES = `# haven lab chaos: the services under test
resources:
  - type: group
    id: ${AP_GROUP}
    stickiness: 100
    members:
      - type: primitive
        id: ${AP_VIP}
        agent: vip
        params: { ip: "\${LAB_NET}.0.100", cidrNetmask: 24, arpCount: 1 }
        operations:
          - { name: monitor, interval: 1s, timeout: 5s }
      - type: primitive
        id: ${AP_SERVICE}
        agent: process
        params: { command: node, args: "\${HAVEN_ROOT}/scripts/lab-web.mjs --port ${AP_PORT}", check: "http://127.0.0.1:${AP_PORT}/" }
        operations:
          - { name: start, timeout: 10s }
          - { name: monitor, interval: 1s, timeout: 5s }
  - type: clone
    id: ${CLONE}
    of:
      type: primitive
      id: ${CLONE_COPY}
      agent: process
      params: { command: node, args: "\${HAVEN_ROOT}/scripts/lab-web.mjs --port ${CLONE_PORT}", check: "http://127.0.0.1:${CLONE_PORT}/" }
      operations:
        - { name: start, timeout: 10s }
        - { name: monitor, interval: 1s, timeout: 5s }
  - type: primitive
    id: ${MARKER}
    agent: process
    params: { command: sleep, args: "infinity" }
    operations:
      - { name: monitor, interval: 5s, timeout: 5s }
`;

/** The parts of GET /v1/status the suite reads (src/controller/controller.ts, ControllerSnapshot). */
export interface Snapshot {
  readonly epoch: number;
  readonly phase: string;
  /** The controller's name and whether it leads (three controllers: only the leader's view counts). */
  readonly name?: string;
  readonly role?: 'leader' | 'follower';
  readonly nodes: readonly { name: string; state: string; probed: boolean; fencing: boolean }[];
  readonly status: {
    readonly resources?: Readonly<Record<string, Readonly<Record<string, { state: string }>>>>;
    readonly failures?: readonly { resource: string; node: string; count: number | 'INFINITY' }[];
  };
  readonly operatorConstraints: readonly { id: string }[];
  readonly plan: unknown;
  readonly resources: readonly { id: string; type: string }[];
}

/** GET /v1/health of one controller (src/controller/api.ts). */
export interface Health {
  readonly name: string;
  readonly role: 'leader' | 'follower';
  readonly phase: string;
  readonly epoch: number;
  readonly leader: { readonly name: string; readonly epoch: number } | null;
}

/**
 * Why the controllers are not as a settled cluster of three has them, or undefined: each answers,
 * one leads, and the others follow it (a controller that leads in its own eyes after a pause has
 * not stepped down yet). `healths` in controller order, undefined for one that did not answer.
 */
export function controllersUnsettled(names: readonly string[], healths: readonly (Health | undefined)[]): string | undefined {
  const silent = names.filter((_, i) => healths[i] === undefined);
  if (silent.length > 0) return `controller${silent.length === 1 ? '' : 's'} ${silent.join(', ')} ${silent.length === 1 ? 'does' : 'do'} not answer`;
  const all = healths as readonly Health[];
  const leaders = all.filter((h) => h.role === 'leader');
  if (leaders.length !== 1) return leaders.length === 0 ? 'no controller leads' : `${leaders.map((h) => h.name).join(' and ')} ${leaders.length === 2 ? 'both' : 'all'} lead`;
  const leader = leaders[0] as Health;
  const astray = all.filter((h) => h !== leader && (h.phase !== 'following' || h.leader?.name !== leader.name));
  if (astray.length > 0) return astray.map((h) => `${h.name} is ${h.phase}${h.leader === null ? ', with no leader' : `, its leader ${h.leader.name}`}`).join('; ');
  return undefined;
}

export interface ControllerEvent {
  readonly seq: number;
  readonly at: number;
  readonly kind: string;
  readonly node?: string;
  readonly message: string;
}

/** One request to the controller's API on its Unix socket; throws on an error or a timeout. */
export function controllerCall<T>(socketPath: string, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 2_000): Promise<T> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<T>((resolve, reject) => {
    const req = request(
      { socketPath, path, method, timeout: timeoutMs, headers: { 'content-type': 'application/json', ...(payload === undefined ? {} : { 'content-length': Buffer.byteLength(payload) }) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          if ((res.statusCode ?? 500) >= 300) {
            reject(new HavenError('UNREACHABLE', `controller: ${method} ${path}: ${res.statusCode}: ${text.slice(0, 300)}`));
            return;
          }
          try {
            resolve(JSON.parse(text) as T);
          } catch (err) {
            reject(new HavenError('UNREACHABLE', `controller: ${method} ${path}: not JSON: ${(err as Error).message}`));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', (err) => reject(new HavenError('UNREACHABLE', `controller: ${method} ${path}: ${err.message}`)));
    req.end(payload);
  });
}

function startedOn(s: Snapshot, resource: string): string[] {
  const byNode = s.status.resources?.[resource] ?? {};
  return Object.keys(byNode)
    .filter((n) => byNode[n]?.state === 'started' || byNode[n]?.state === 'promoted')
    .sort();
}

/** The host running the A/P service (its VIP and its process, both on that one host), if one does. */
export function activeHost(s: Snapshot): string | undefined {
  const vip = startedOn(s, AP_VIP);
  const web = startedOn(s, AP_SERVICE);
  return vip.length === 1 && web.length === 1 && vip[0] === web[0] ? vip[0] : undefined;
}

/**
 * Why the cluster is not settled yet, or undefined when it is: the controller running with no
 * plan in flight, every host online and probed, the A/P service on one host, a clone copy on
 * every host, the marker on one.
 */
export function unsettled(s: Snapshot, hosts: readonly string[]): string | undefined {
  if (s.phase !== 'running') return `the controller is ${s.phase}`;
  for (const h of hosts) {
    const n = s.nodes.find((x) => x.name === h);
    if (n === undefined || n.state !== 'online' || !n.probed || n.fencing) return `${h} is ${n === undefined ? 'unknown' : n.fencing ? 'being fenced' : n.probed ? n.state : `${n.state}, not probed yet`}`;
  }
  if (s.plan !== null) return 'a plan is running';
  if (activeHost(s) === undefined) return `the A/P service is not on exactly one host (${AP_VIP}: ${startedOn(s, AP_VIP).join(',') || 'none'}, ${AP_SERVICE}: ${startedOn(s, AP_SERVICE).join(',') || 'none'})`;
  const copies = startedOn(s, CLONE_COPY);
  const missing = hosts.filter((h) => !copies.includes(h));
  if (missing.length > 0) return `no clone copy on ${missing.join(', ')}`;
  if (startedOn(s, MARKER).length !== 1) return `${MARKER} is not on exactly one host`;
  return undefined;
}

/** What must survive a fault (invariant 4), from a status snapshot. */
export function durableView(s: Snapshot): DurableView {
  return {
    failures: (s.status.failures ?? []).map((f) => ({ resource: f.resource, node: f.node, count: f.count })),
    constraints: s.operatorConstraints.map((c) => c.id).sort(),
    resources: s.resources.map((r) => `${r.type}:${r.id}`),
  };
}
