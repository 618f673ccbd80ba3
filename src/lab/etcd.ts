// The lab's etcd cluster (`haven lab up --controllers 3`): one member of Debian's /usr/bin/etcd on
// each controller host, on its ring 0 address (client :2379, peer :2380), its data directory in
// <lab dir>/etcd/<host>. The controllers share it as their store (`haven controller --store
// etcd:URL,URL,URL`, docs/store.md) and elect their leader in it.
//
// Raft runs on LAN timings (heartbeat 50 ms, election 500 ms), as the store's own tests do: etcd
// then grants leases of 1 s. Members are started, killed and restarted like the lab's other
// daemons (daemons.ts): by PID with its start time, inside their namespace. A member restarted on
// its data directory rejoins the cluster (etcd ignores --initial-cluster once it has data).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HavenError } from '../errors.js';
import { labDir, type EtcdCluster, type EtcdMember, type HostState, type LabState } from './state.js';
import { run, sleep, UnsupportedError } from './system.js';

export const ETCD_BIN = '/usr/bin/etcd';
export const ETCDCTL_BIN = '/usr/bin/etcdctl';
export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
/** Raft's timings in ms: LAN-like, so etcd grants 1 s leases (1.5 × election timeout, rounded up). */
export const ETCD_HEARTBEAT_MS = 50;
export const ETCD_ELECTION_MS = 500;

/** The members of a lab's etcd: one per controller host, on its ring 0 address. */
export function planEtcd(prefix: string, dir: string, controllers: readonly HostState[], now: Date): EtcdCluster {
  const members: EtcdMember[] = controllers.map((h) => {
    const address = h.links.find((l) => l.ring === 0)?.address;
    if (address === undefined) throw new HavenError('INTERNAL', `controller host ${h.name} has no ring 0 address`);
    return {
      host: h.name,
      clientUrl: `http://${address}:${ETCD_CLIENT_PORT}`,
      peerUrl: `http://${address}:${ETCD_PEER_PORT}`,
      dataDir: join(dir, 'etcd', h.name),
    };
  });
  // The token keeps members of two labs (or two lives of one lab) from ever joining each other.
  return { token: `${prefix}etcd-${now.getTime().toString(36)}`, members };
}

/** The client URLs, in member order. */
export function etcdEndpoints(cluster: EtcdCluster): string[] {
  return cluster.members.map((m) => m.clientUrl);
}

/** What the controllers are started with: `--store etcd:URL,URL,URL`. */
export function etcdStoreFlag(cluster: EtcdCluster): string {
  return `etcd:${etcdEndpoints(cluster).join(',')}`;
}

export function etcdMember(state: Pick<LabState, 'etcd' | 'name'>, host: string): EtcdMember {
  const m = state.etcd?.members.find((x) => x.host === host);
  if (m === undefined) {
    throw new HavenError('NOT_FOUND', `lab "${state.name}" runs no etcd member on "${host}"`, {
      hint: state.etcd === undefined ? 'etcd runs only in a lab brought up with --controllers 3' : `its members: ${state.etcd.members.map((x) => x.host).join(', ')}`,
    });
  }
  return m;
}

/** The member's command line, run inside its host's namespace (`ip netns exec` execs etcd itself). */
export function etcdCommand(cluster: EtcdCluster, ns: string, m: EtcdMember): string[] {
  return [
    'ip', 'netns', 'exec', ns, ETCD_BIN,
    '--name', m.host,
    '--data-dir', m.dataDir,
    '--listen-client-urls', m.clientUrl,
    '--advertise-client-urls', m.clientUrl,
    '--listen-peer-urls', m.peerUrl,
    '--initial-advertise-peer-urls', m.peerUrl,
    '--initial-cluster', cluster.members.map((x) => `${x.host}=${x.peerUrl}`).join(','),
    '--initial-cluster-state', 'new',
    '--initial-cluster-token', cluster.token,
    '--heartbeat-interval', String(ETCD_HEARTBEAT_MS),
    '--election-timeout', String(ETCD_ELECTION_MS),
    '--auto-compaction-mode', 'revision',
    '--auto-compaction-retention', '10000',
    '--logger', 'zap',
    '--log-level', 'warn',
  ];
}

/** etcd and etcdctl must be installed (Debian's etcd-server and etcd-client; scripts/setup.mjs). */
export function checkEtcdAvailable(): void {
  for (const bin of [ETCD_BIN, ETCDCTL_BIN]) {
    if (!existsSync(bin)) throw new UnsupportedError(`${bin} is not installed: a lab with 3 controllers runs etcd`, { hint: 'apt install etcd-server etcd-client (node scripts/setup.mjs does), or bring the lab up with one controller' });
  }
}

/**
 * Whether a member answers a linearizable request (it is in a cluster with a leader): etcdctl
 * endpoint health from inside the member's namespace (the lab's addresses exist only there).
 */
export async function etcdHealthy(ns: string, m: EtcdMember, signal?: AbortSignal): Promise<boolean> {
  const r = await run('ip', ['netns', 'exec', ns, ETCDCTL_BIN, '--endpoints', m.clientUrl, '--dial-timeout', '1s', '--command-timeout', '1s', 'endpoint', 'health'], {
    allowFailure: true,
    timeoutMs: 5_000,
    ...(signal === undefined ? {} : { signal }),
  });
  return r.code === 0;
}

/** Waits until every member named answers (a cluster with a leader), or throws after timeoutMs. */
export async function waitEtcdHealthy(state: LabState, hosts: readonly string[], timeoutMs = 30_000, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const host of hosts) {
    const m = etcdMember(state, host);
    const ns = state.hosts.find((h) => h.name === host)?.ns;
    if (ns === undefined) throw new HavenError('INTERNAL', `no namespace for ${host}`);
    while (!(await etcdHealthy(ns, m, signal))) {
      if (Date.now() > deadline) {
        throw new HavenError('SYSTEM_COMMAND_FAILED', `etcd member ${host} (${m.clientUrl}) is not healthy within ${Math.round(timeoutMs / 1000)} s`, {
          hint: `see ${join(labDir(state.stateDir, state.name), 'logs', `etcd-${host}.log`)}`,
        });
      }
      await sleep(200);
    }
  }
}

/**
 * The member raft elected leader, by its host (etcdctl endpoint status, from inside the first
 * member's host): undefined when no member answers, or those that do name no leader among them.
 */
export async function etcdRaftLeader(state: LabState, signal?: AbortSignal): Promise<string | undefined> {
  const cluster = state.etcd;
  if (cluster === undefined) throw new HavenError('INTERNAL', `lab "${state.name}" runs no etcd`);
  const ns = state.hosts.find((h) => cluster.members.some((m) => m.host === h.name))?.ns;
  if (ns === undefined) throw new HavenError('INTERNAL', `no namespace for the etcd members of lab "${state.name}"`);
  const r = await run('ip', ['netns', 'exec', ns, ETCDCTL_BIN, '--endpoints', etcdEndpoints(cluster).join(','), '--dial-timeout', '1s', '--command-timeout', '1s', 'endpoint', 'status', '-w', 'json'], {
    allowFailure: true,
    timeoutMs: 5_000,
    ...(signal === undefined ? {} : { signal }),
  });
  let answers: { Endpoint?: string; Status?: { header?: { member_id?: number | string }; leader?: number | string } }[];
  try {
    // Member ids are uint64: read as text, as a JSON number above 2^53 loses digits.
    answers = JSON.parse(r.stdout.replace(/"(member_id|leader)":(\d+)/g, '"$1":"$2"')) as typeof answers;
  } catch {
    return undefined;
  }
  const leader = answers.find((a) => a.Status?.leader !== undefined && String(a.Status.header?.member_id) === String(a.Status.leader));
  return cluster.members.find((m) => m.clientUrl === leader?.Endpoint)?.host;
}
