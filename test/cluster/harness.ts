// A real cluster on loopback for integration tests: one `haven controller` and N `haven agent`
// processes (the real binaries), each node on its own 127.x addresses with two rings, running
// real `process` resources. In etcd mode (`etcd: { endpoints }`), every configured controller
// runs with `--store etcd:…` and one of them leads (the test starts etcd itself:
// test/store/etcd-harness.ts). Everything it starts it stops again: the daemons by PID, and the
// services the agents started by the process groups in their pid files. No namespaces: tests of
// power-off and cut rings use the lab (test/lab).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { copyDirName } from '../../src/agent/state-file.js';
import type { ControllerSnapshot } from '../../src/controller/controller.js';
import type { ControllerEvent } from '../../src/store/store.js';

const BIN = fileURLToPath(new URL('../../../bin/haven.js', import.meta.url));

export interface ClusterOptions {
  readonly nodes: number;
  readonly resources: unknown[];
  readonly constraints?: unknown[];
  readonly cluster?: Record<string, unknown>;
  /** How many controllers the configuration names (c1, c2, …); default 1. They share one state dir (embedded store). */
  readonly controllers?: number;
  /** etcd mode: the controllers keep their state in etcd (`--store etcd:…`), and start() starts them all. */
  readonly etcd?: { readonly endpoints: readonly string[]; readonly leaderLease?: number };
}

/** What a controller's /v1/health says. */
export interface ControllerHealth {
  readonly name: string;
  readonly role: 'leader' | 'follower';
  readonly phase: string;
  readonly epoch: number;
  readonly leader: { name: string; epoch: number; url?: string } | null;
}

export class LoopbackCluster {
  readonly dir: string;
  readonly configPath: string;
  readonly nodes: string[];
  readonly apiPort: number;
  private readonly controllers = new Map<string, ChildProcess>();
  private readonly agents = new Map<string, ChildProcess>();
  private readonly octet: number;

  constructor(private readonly opts: ClusterOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'haven-cluster-'));
    // A random third octet and ports, so parallel runs and leftovers never collide.
    this.octet = 20 + Math.floor(Math.random() * 200);
    const base = 20000 + Math.floor(Math.random() * 20000);
    this.apiPort = base;
    this.nodes = Array.from({ length: opts.nodes }, (_, i) => `n${i + 1}`);
    const config = {
      cluster: { name: 'loop', heartbeat: { interval: '50ms', ringTimeout: '300ms' }, agentPort: base + 1, fencing: false, ...(opts.cluster ?? {}) },
      rings: [
        { name: 'r0', port: base + 2 },
        { name: 'r1', port: base + 3 },
      ],
      nodes: this.nodes.map((n, i) => ({ name: n, addresses: { r0: this.addr(0, i + 2), r1: this.addr(1, i + 2) } })),
      controllers: Array.from({ length: opts.controllers ?? 1 }, (_, i) => ({ name: `c${i + 1}`, addresses: { r0: this.controllerAddr(0, i), r1: this.controllerAddr(1, i) }, apiPort: base + (i === 0 ? 0 : 10 + i) })),
      resources: opts.resources,
      ...(opts.constraints ? { constraints: opts.constraints } : {}),
    };
    this.configPath = join(this.dir, 'cluster.yaml');
    writeFileSync(this.configPath, stringify(config));
  }

  private addr(ring: number, host: number): string {
    return `127.${100 + ring}.${this.octet}.${host}`;
  }

  /** Controller i (0-based): c1 at .1, the others at .240, .241, … */
  private controllerAddr(ring: number, i: number): string {
    return this.addr(ring, i === 0 ? 1 : 239 + i);
  }

  controllerUrl(name: string): string {
    const i = Number(name.slice(1)) - 1;
    return `http://${this.controllerAddr(0, i)}:${this.apiPort + (i === 0 ? 0 : 10 + i)}`;
  }

  async start(): Promise<void> {
    if (this.opts.etcd) for (const name of this.controllerNames) this.startController(name);
    else this.startController();
    for (const n of this.nodes) this.startAgent(n);
    if (this.opts.etcd) {
      await this.waitForLeader('a leader, every node online and the plan idle', (s) => s.phase === 'running' && s.nodes.every((n) => n.state === 'online' && n.probed) && s.plan === null, 30_000);
      return;
    }
    await this.waitFor('every node online and the plan idle', (s) => s.phase === 'running' && s.nodes.every((n) => n.state === 'online' && n.probed) && s.plan === null, 20_000);
  }

  /** Every controller the configuration names. */
  get controllerNames(): string[] {
    return Array.from({ length: this.opts.controllers ?? 1 }, (_, i) => `c${i + 1}`);
  }

  startController(name = 'c1'): void {
    const log = name === 'c1' ? 'controller' : `controller-${name}`;
    const store = this.opts.etcd
      ? ['--store', `etcd:${this.opts.etcd.endpoints.join(',')}`, ...(this.opts.etcd.leaderLease !== undefined ? ['--leader-lease', String(this.opts.etcd.leaderLease)] : [])]
      : ['--state-dir', join(this.dir, 'controller')];
    this.controllers.set(name, this.spawn(log, ['controller', '--config', this.configPath, '--name', name, ...store, '--log-level', 'warn']));
  }

  /** The PID of a running controller process. */
  controllerPid(name: string): number | undefined {
    return this.controllers.get(name)?.pid;
  }

  /** A controller's /v1/health (throws when it does not answer within `timeoutMs`). */
  async health(name: string, timeoutMs = 1000): Promise<ControllerHealth> {
    const res = await fetch(`${this.controllerUrl(name)}/v1/health`, { signal: AbortSignal.timeout(timeoutMs) });
    return (await res.json()) as ControllerHealth;
  }

  /**
   * Polls every running controller until one says it leads and its status satisfies `ok`;
   * `exclude` names controllers not to ask (a paused one would not answer).
   */
  async waitForLeader(what: string, ok: (s: ControllerSnapshot) => boolean, timeoutMs = 15_000, exclude: readonly string[] = []): Promise<{ name: string; status: ControllerSnapshot }> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      for (const name of this.controllers.keys()) {
        if (exclude.includes(name)) continue;
        try {
          const s = await this.status(name, 1000);
          last = { name, role: s.role, phase: s.phase, epoch: s.epoch, leader: s.leader, status: s.status };
          if (s.role === 'leader' && ok(s)) return { name, status: s };
        } catch (err) {
          last = err;
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}\n${this.logs()}`);
  }

  /** Sends a signal to a controller (SIGSTOP / SIGCONT to pause and wake it). */
  signalController(name: string, signal: NodeJS.Signals): void {
    this.controllers.get(name)?.kill(signal);
  }

  startAgent(node: string): void {
    this.agents.set(node, this.spawn(`agent-${node}`, ['agent', '--config', this.configPath, '--node', node, '--state-dir', join(this.dir, 'agents', node)]));
  }

  private spawn(name: string, args: string[]): ChildProcess {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr!.on('data', (b: Buffer) => {
      log = (log + b.toString()).slice(-20_000);
    });
    child.on('exit', () => writeFileSync(join(this.dir, `${name}.log`), log));
    return child;
  }

  async stopController(signal: NodeJS.Signals = 'SIGTERM', name = 'c1'): Promise<void> {
    const child = this.controllers.get(name);
    if (signal !== 'SIGCONT') child?.kill('SIGCONT'); // a paused one must run to die of SIGTERM
    await stopChild(child, signal);
    this.controllers.delete(name);
  }

  async stopAgent(node: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await stopChild(this.agents.get(node), signal);
    this.agents.delete(node);
  }

  async status(controller = 'c1', timeoutMs = 5000): Promise<ControllerSnapshot> {
    return (await this.get('/v1/status', controller, timeoutMs)) as ControllerSnapshot;
  }

  async events(controller = 'c1'): Promise<ControllerEvent[]> {
    return (await this.get('/v1/events?since=0&limit=10000', controller)) as ControllerEvent[];
  }

  async post(path: string, body: unknown, controller = 'c1'): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${this.controllerUrl(controller)}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    return { status: res.status, body: await res.json() };
  }

  /** POSTs straight to a node's agent API (as a controller would). */
  async agentPost(node: string, path: string, body: unknown): Promise<{ status: number; body: unknown }> {
    const i = this.nodes.indexOf(node);
    const res = await fetch(`http://${this.addr(0, i + 2)}:${this.apiPort + 1}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    return { status: res.status, body: await res.json() };
  }

  private async get(path: string, controller = 'c1', timeoutMs = 5000): Promise<unknown> {
    const res = await fetch(`${this.controllerUrl(controller)}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.json();
  }

  /** Polls a controller's status until `ok` holds; throws with the last status otherwise. */
  async waitFor(what: string, ok: (s: ControllerSnapshot) => boolean, timeoutMs = 15_000, controller = 'c1'): Promise<ControllerSnapshot> {
    const deadline = Date.now() + timeoutMs;
    let last: ControllerSnapshot | undefined;
    let lastErr: unknown;
    while (Date.now() < deadline) {
      try {
        last = await this.status(controller);
        if (ok(last)) return last;
      } catch (err) {
        lastErr = err;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${what}; last status: ${JSON.stringify(last?.status ?? lastErr)}\n${this.logs()}`);
  }

  /** Where a copy runs now (its active states by node). */
  static where(s: ControllerSnapshot, key: string): string[] {
    return Object.entries(s.status.resources?.[key] ?? {})
      .filter(([, c]) => c.state === 'started' || c.state === 'promoted')
      .map(([n]) => n)
      .sort();
  }

  /** PID of a process-resource copy on a node, from its pid file. */
  pidOf(node: string, instance: string): number | undefined {
    const dir = join(this.dir, 'agents', node, 'copies');
    if (!existsSync(dir)) return undefined;
    const f = join(dir, copyDirName(instance), 'process.pid');
    if (!existsSync(f)) return undefined;
    const pid = Number(readFileSync(f, 'utf8').trim().split(/\s+/)[0]);
    return pid > 0 && alive(pid) ? pid : undefined;
  }

  logs(): string {
    return readdirSync(this.dir)
      .filter((f) => f.endsWith('.log'))
      .map((f) => `--- ${f}\n${readFileSync(join(this.dir, f), 'utf8').split('\n').slice(-15).join('\n')}`)
      .join('\n');
  }

  /** Stops every daemon, then every service the agents started (their process groups). */
  async close(): Promise<void> {
    for (const name of [...this.controllers.keys()]) await this.stopController('SIGTERM', name);
    for (const n of [...this.agents.keys()]) await this.stopAgent(n);
    const agentsDir = join(this.dir, 'agents');
    if (existsSync(agentsDir)) {
      for (const node of readdirSync(agentsDir)) {
        const copies = join(agentsDir, node, 'copies');
        if (!existsSync(copies)) continue;
        for (const d of readdirSync(copies)) {
          const f = join(copies, d, 'process.pid');
          if (!existsSync(f)) continue;
          const pid = Number(readFileSync(f, 'utf8').trim().split(/\s+/)[0]);
          if (pid > 0 && alive(pid)) {
            try {
              process.kill(-pid, 'SIGKILL');
            } catch {
              // already gone
            }
          }
        }
      }
    }
    if (process.env['HAVEN_KEEP_TEST_DIRS'] === undefined) rmSync(this.dir, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}
