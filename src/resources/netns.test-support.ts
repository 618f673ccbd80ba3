// Test support: a throwaway network namespace `hvtest-<random>` with a veth pair and a 10.x
// address, and a runner process inside it that runs resource-agent operations on request, as
// the agent daemon does when it is started with `ip netns exec`. Everything is removed by
// `close()`, which tests call from `after` so a failing test leaves nothing behind.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { ParamValue, ResourceOperation, ResourceOutcome } from './types.js';

export interface TestNetns {
  readonly name: string;
  /** The veth end carrying `subnet`.1/24. */
  readonly dev: string;
  /** The first three octets: `10.N.M`. */
  readonly subnet: string;
  /** Packets sent by `dev` so far. */
  txPackets(dev: string): number;
  /** Runs `ip ARGS` inside the namespace and returns its stdout. */
  ip(...args: string[]): string;
  /** Runs one operation by the agent of `kind` inside the namespace. */
  run(kind: string, op: ResourceOperation, params: Record<string, ParamValue>, opts?: { stateDir?: string; timeoutMs?: number; instance?: string }): Promise<ResourceOutcome & { ms: number }>;
  close(): void;
}

/** Whether this machine can make network namespaces (root, iproute2). */
export function canMakeNetns(): boolean {
  return process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0;
}

function sh(cmd: string, args: readonly string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

export function createTestNetns(): TestNetns {
  const id = randomBytes(3).toString('hex');
  const name = `hvtest-${id}`;
  const subnet = `10.${200 + (parseInt(id.slice(0, 2), 16) % 50)}.${parseInt(id.slice(2, 4), 16)}`;
  sh('ip', ['netns', 'add', name]);
  let runner: Runner | undefined;
  const close = (): void => {
    runner?.child.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', name]);
    rmSync(`/tmp/${name}`, { recursive: true, force: true });
  };
  try {
    const ip = (...args: string[]): string => sh('ip', ['-n', name, ...args]);
    // No IPv6 chatter, so every packet leaving hv0 is one the test caused.
    sh('ip', ['netns', 'exec', name, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    ip('link', 'add', 'hv0', 'type', 'veth', 'peer', 'name', 'hv1');
    ip('link', 'set', 'lo', 'up');
    ip('link', 'set', 'hv0', 'up');
    ip('link', 'set', 'hv1', 'up');
    ip('addr', 'add', `${subnet}.1/24`, 'dev', 'hv0');
    return {
      name,
      dev: 'hv0',
      subnet,
      ip,
      txPackets: (dev) => (JSON.parse(ip('-s', '-j', 'link', 'show', dev)) as { stats64: { tx: { packets: number } } }[])[0]?.stats64.tx.packets ?? 0,
      run: (kind, op, params, opts = {}) => {
        runner ??= startRunner(name);
        return runner.call({ kind, op, params, stateDir: opts.stateDir ?? `/tmp/${name}`, timeoutMs: opts.timeoutMs ?? 20_000, instance: opts.instance ?? 'r' });
      },
      close,
    };
  } catch (e) {
    close();
    throw e;
  }
}

interface Runner {
  readonly child: ChildProcess;
  call(req: object): Promise<ResourceOutcome & { ms: number }>;
}

const RUNNER_CODE = `
import { createInterface } from 'node:readline';
const { resourceAgentFor } = await import(process.argv[1]);
for await (const line of createInterface({ input: process.stdin })) {
  const q = JSON.parse(line);
  const t0 = performance.now();
  const out = await resourceAgentFor(q.kind).run(q.op, { instance: q.instance, primitive: q.instance, params: q.params, timeoutMs: q.timeoutMs, intervalMs: 0, signal: AbortSignal.timeout(q.timeoutMs), stateDir: q.stateDir });
  process.stdout.write(JSON.stringify({ id: q.id, ...out, ms: performance.now() - t0 }) + '\\n');
}`;

function startRunner(ns: string): Runner {
  const index = new URL('./index.js', import.meta.url).href;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', RUNNER_CODE, index], { stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting = new Map<number, (v: ResourceOutcome & { ms: number }) => void>();
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const msg = JSON.parse(line) as ResourceOutcome & { id: number; ms: number };
    waiting.get(msg.id)?.(msg);
    waiting.delete(msg.id);
  });
  child.unref();
  let next = 0;
  return {
    child,
    call: (req) =>
      new Promise((resolve) => {
        const id = next++;
        waiting.set(id, resolve);
        child.stdin?.write(`${JSON.stringify({ id, ...req })}\n`);
      }),
  };
}
