// Test etcd clusters: Debian's /usr/bin/etcd started as child processes on 127.0.0.1 with free
// ports and a temporary data directory, members killed and restarted by PID. Raft timings are
// LAN-like (heartbeat 50 ms, election 500 ms), which lets etcd grant 1 s leases.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';

export const ETCD = '/usr/bin/etcd';
export const haveEtcd = existsSync(ETCD);

interface Member {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly logPath: string;
  proc: ChildProcess | undefined;
}

/** Every member any test started, killed when the process exits however it exits. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) if (p.pid !== undefined) try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
});

/** etcd's --heartbeat-interval and --election-timeout, in ms. */
export interface RaftTimings {
  readonly heartbeatMs: number;
  readonly electionMs: number;
}

export class EtcdCluster {
  private constructor(
    private readonly dir: string,
    private readonly members: Member[],
    private readonly initialCluster: string,
    private readonly token: string,
    private readonly raft: RaftTimings,
  ) {}

  /** Starts `size` members and waits until the cluster answers. */
  static async start(size: number, raft: RaftTimings = { heartbeatMs: 50, electionMs: 500 }): Promise<EtcdCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'hvtest-etcd-'));
    const ports = await freePorts(size * 2);
    const members: Member[] = [];
    for (let i = 0; i < size; i++) {
      members.push({
        name: `m${i}`,
        clientUrl: `http://127.0.0.1:${ports[2 * i]}`,
        peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}`,
        dataDir: join(dir, `m${i}`),
        logPath: join(dir, `m${i}.log`),
        proc: undefined,
      });
    }
    const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    const cluster = new EtcdCluster(dir, members, initialCluster, `hvtest-${process.pid}-${Date.now()}`, raft);
    try {
      for (let i = 0; i < size; i++) cluster.launch(i);
      await cluster.waitHealthy(members.map((_, i) => i), 20_000);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  get endpoints(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  endpoint(i: number): string {
    return this.members[i]!.clientUrl;
  }

  pid(i: number): number | undefined {
    return this.members[i]!.proc?.pid;
  }

  /** kill -9 of one member, by its PID; resolves once it exited. */
  async kill(i: number): Promise<void> {
    const m = this.members[i]!;
    const p = m.proc;
    if (!p || p.pid === undefined) return;
    m.proc = undefined;
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    process.kill(p.pid, 'SIGKILL');
    await exited;
    live.delete(p);
  }

  /** Starts a killed member again on its data directory and waits until it answers. */
  async restart(i: number): Promise<void> {
    if (this.members[i]!.proc) return;
    this.launch(i);
    await this.waitHealthy([i], 20_000);
  }

  /** Kills every member and removes the data directories. */
  async stop(): Promise<void> {
    for (let i = 0; i < this.members.length; i++) await this.kill(i);
    await rm(this.dir, { recursive: true, force: true });
  }

  /** The end of a member's log, for a failure message. */
  async log(i: number): Promise<string> {
    const text = await readFile(this.members[i]!.logPath, 'utf8').catch(() => '');
    return text.split('\n').slice(-20).join('\n');
  }

  private launch(i: number): void {
    const m = this.members[i]!;
    const fd = openSync(m.logPath, 'a');
    const args = [
      '--name', m.name,
      '--data-dir', m.dataDir,
      '--listen-client-urls', m.clientUrl,
      '--advertise-client-urls', m.clientUrl,
      '--listen-peer-urls', m.peerUrl,
      '--initial-advertise-peer-urls', m.peerUrl,
      '--initial-cluster', this.initialCluster,
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', this.token,
      '--heartbeat-interval', String(this.raft.heartbeatMs),
      '--election-timeout', String(this.raft.electionMs),
      '--logger', 'zap',
      '--log-level', 'warn',
    ];
    const p = spawn(ETCD, args, { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    live.add(p);
    p.once('exit', () => live.delete(p));
    m.proc = p;
  }

  private async waitHealthy(indexes: readonly number[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const i of indexes) {
      const client = new Etcd3({ hosts: [this.members[i]!.clientUrl], defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 1000 }) });
      try {
        for (;;) {
          const proc = this.members[i]!.proc;
          if (!proc || proc.exitCode !== null) throw new Error(`etcd member m${i} exited at start:\n${await this.log(i)}`);
          try {
            // A linearizable read: answers only once the member is in a cluster with a leader.
            await client.get('hvtest-health').string();
            break;
          } catch (err) {
            if (Date.now() > deadline) throw new Error(`etcd member m${i} not healthy within ${timeoutMs} ms (${(err as Error).message}):\n${await this.log(i)}`);
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      } finally {
        client.close();
      }
    }
  }
}

/** Ports the kernel hands out for 127.0.0.1 right now (all held at once, so they differ). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<import('node:net').Server>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
