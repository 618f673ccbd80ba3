// The agent daemon on real sockets: its API over HTTP, heartbeats over UDP, reports to a fake
// controller, a close that leaves the copies running; and `haven agent` as an operator runs it.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { parseConfig } from '../config/load.js';
import { HavenError } from '../errors.js';
import type { Config } from '../model/config.js';
import { agentStateSchema, heartbeatSchema, operationResultSchema, type Heartbeat } from '../model/wire.js';
import { agentListenAddress, parseListen, reportEndpoints, startAgentDaemon } from './daemon.js';
import { alive, eventually, fakeController, killQuietly, memoryLogger, pidOf, request, tempDir } from './test-support.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const started = new Set<number>();
const removals: (() => Promise<void>)[] = [];
after(async () => {
  for (const pid of started) killQuietly(pid);
  for (const r of removals) await r();
});

function configText(opts: { ringPort: number; apiPort: number; agentPort?: number }): string {
  return `
cluster:
  name: hvtest
  agentPort: ${opts.agentPort ?? 7410}
rings:
  - name: r1
    port: ${opts.ringPort}
  - name: r2
    port: ${opts.ringPort}
nodes:
  - name: n1
    addresses: { r1: 127.0.0.1, r2: 127.0.0.2 }
  - name: n2
    addresses: { r1: 127.0.0.3, r2: 127.0.0.4 }
controllers:
  - name: c1
    addresses: { r1: 127.0.0.1, r2: 127.0.0.2 }
    apiPort: ${opts.apiPort}
`;
}

function config(text: string): Config {
  const r = parseConfig(text, 'test.yaml');
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
  return r.config;
}

describe('addresses from the configuration', () => {
  const c = config(configText({ ringPort: 5405, apiPort: 7400, agentPort: 7411 }));

  it('serves on the node’s address on the first ring, at cluster.agentPort', () => {
    assert.deepEqual(agentListenAddress(c, 'n2'), { host: '127.0.0.3', port: 7411 });
  });

  it('reports to each controller’s first-ring address at its apiPort, IPv6 in brackets', () => {
    assert.deepEqual(reportEndpoints(c), ['http://127.0.0.1:7400/v1/agents/report']);
    const v6 = config(`
cluster: { name: x }
rings: [{ name: a }]
nodes: [{ name: n1, addresses: { a: "fd00::1" } }]
controllers: [{ name: c1, addresses: { a: "fd00::9" } }]
`);
    assert.deepEqual(reportEndpoints(v6), ['http://[fd00::9]:7400/v1/agents/report']);
    assert.deepEqual(agentListenAddress(v6, 'n1'), { host: 'fd00::1', port: 7410 });
  });

  it('refuses an unknown node with the closest name, and a node without an address', () => {
    assert.throws(() => agentListenAddress(c, 'n3'), (e: unknown) => e instanceof HavenError && e.code === 'NOT_FOUND' && e.hint === 'did you mean "n1"?');
    const bare = config('cluster: { name: x }\nnodes: [{ name: n1 }]\n');
    assert.throws(() => agentListenAddress(bare, 'n1'), (e: unknown) => e instanceof HavenError && e.code === 'USAGE' && /--listen/.test(e.hint ?? ''));
  });

  it('parses --listen', () => {
    assert.deepEqual(parseListen('10.0.0.1:7410'), { host: '10.0.0.1', port: 7410 });
    assert.deepEqual(parseListen('[fd00::1]:0'), { host: 'fd00::1', port: 0 });
    for (const bad of ['10.0.0.1', ':7410', 'fd00::1:7410', 'host:99999']) assert.throws(() => parseListen(bad), /is not ADDR:PORT/, bad);
  });
});

describe('the daemon on real sockets', () => {
  it('serves the API, sends heartbeats on every ring with its epoch, reports, and closes leaving copies running', async () => {
    const dir = await tempDir();
    removals.push(dir.remove);
    const ctl = await fakeController();
    removals.push(ctl.close);
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    const ringPort = (udp.address() as AddressInfo).port;
    const beats: Heartbeat[] = [];
    udp.on('message', (m) => beats.push(heartbeatSchema.parse(JSON.parse(m.toString('utf8')))));
    removals.push(() => new Promise<void>((r) => udp.close(() => r())));
    // The controller's address on r2 is 127.0.0.2, on the same port.
    const udp2 = dgram.createSocket('udp4');
    await new Promise<void>((r) => udp2.bind(ringPort, '127.0.0.2', r));
    udp2.on('message', (m) => beats.push(heartbeatSchema.parse(JSON.parse(m.toString('utf8')))));
    removals.push(() => new Promise<void>((r) => udp2.close(() => r())));
    const c = config(configText({ ringPort, apiPort: Number(new URL(ctl.url).port) }));

    const { log, lines } = memoryLogger('n1');
    const daemon = await startAgentDaemon({ config: c, node: 'n1', stateDir: dir.path, listen: { host: '127.0.0.1', port: 0 }, log });
    const base = `http://127.0.0.1:${daemon.address.port}`;
    const health = await fetch(`${base}/v1/health`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { node: string }).node, 'n1');

    const res = await fetch(`${base}/v1/operations`, { method: 'POST', body: JSON.stringify(request({ operation: 'start', epoch: 7 })) });
    assert.equal(res.status, 200);
    assert.equal(operationResultSchema.parse(await res.json()).rc, 0);
    const pid = pidOf(dir.path, 'web') as number;
    started.add(pid);

    await eventually(() => beats.some((b) => b.epoch === 7), 3_000, 'a heartbeat carries the accepted epoch');
    await eventually(() => beats.some((b) => b.epoch === 7 && b.ring === 'r2'), 3_000, 'on both rings');
    const beat = beats.find((b) => b.epoch === 7) as Heartbeat;
    assert.equal(beat.node, 'n1');
    assert.equal(beat.incarnation, daemon.agent.incarnation, 'heartbeats and reports share the incarnation');

    killQuietly(pid);
    const report = await ctl.waitFor((r) => r.events.length > 0, 5_000);
    assert.equal(report.incarnation, daemon.agent.incarnation);
    assert.equal(report.events[0]?.instance, 'web');

    const res2 = await fetch(`${base}/v1/operations`, { method: 'POST', body: JSON.stringify(request({ operation: 'start', epoch: 7 })) });
    assert.equal(operationResultSchema.parse(await res2.json()).rc, 0);
    const pid2 = pidOf(dir.path, 'web') as number;
    started.add(pid2);

    await daemon.close();
    assert.equal(daemon.agent.lifecycle, 'stopped');
    assert.ok(alive(pid2), 'the copy keeps running after the agent closed');
    await assert.rejects(fetch(`${base}/v1/health`), 'the API is closed');
    const n = beats.length;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(beats.length, n, 'no heartbeat after close');
    assert.ok(lines.some((l) => l['msg'] === 'agent stopped'));
  });
});

describe('haven agent', () => {
  function haven(args: string[]): { code: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, ['bin/haven.js', 'agent', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('refuses a bad configuration with file:line errors and exit 1', async () => {
    const dir = await tempDir();
    removals.push(dir.remove);
    const file = join(dir.path, 'bad.yaml');
    await writeFile(file, 'cluster:\n  name: x\n  agentPort: seventy\nnodes: [{ name: n1 }]\n');
    const r = haven(['--config', file, '--node', 'n1', '--state-dir', dir.path]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.yaml:3:\d+: cluster\.agentPort/);
    assert.match(r.stderr, /configuration refused/);

    const lonely = join(dir.path, 'lonely.yaml');
    await writeFile(lonely, 'cluster: { name: x }\nrings: [{ name: r1 }]\nnodes: [{ name: n1, addresses: { r1: 127.0.0.1 } }]\n');
    const none = haven(['--config', lonely, '--node', 'n1', '--state-dir', join(dir.path, 'state'), '--listen', '127.0.0.1:0']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /names no controllers/);
    assert.equal(existsSync(join(dir.path, 'state')), false, 'nothing was created');
  });

  it('refuses an unknown node (exit 3) and a bad --listen (exit 2)', async () => {
    const dir = await tempDir();
    removals.push(dir.remove);
    const file = join(dir.path, 'c.yaml');
    await writeFile(file, configText({ ringPort: 5405, apiPort: 7400 }));
    const r = haven(['--config', file, '--node', 'db1', '--state-dir', dir.path]);
    assert.equal(r.code, 3);
    assert.equal(r.stderr, 'haven: node "db1" is not in the configuration (hint: configured nodes: n1, n2)\n');
    assert.equal(haven(['--config', file, '--node', 'n1', '--listen', 'nowhere']).code, 2);
    assert.equal(haven(['--config', file]).code, 2, '--node is required');
  });

  it('runs until SIGTERM, then exits 0 and leaves its state dir', async () => {
    const dir = await tempDir();
    removals.push(dir.remove);
    const file = join(dir.path, 'c.yaml');
    await writeFile(file, configText({ ringPort: 5405, apiPort: 1 }));
    const child = spawn(process.execPath, ['bin/haven.js', 'agent', '--config', file, '--node', 'n1', '--state-dir', join(dir.path, 'state'), '--listen', '127.0.0.1:0'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.add(child.pid as number);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    await eventually(() => stderr.includes('agent API listening'), 10_000, 'the agent listens');
    const line = stderr.split('\n').find((l) => l.includes('agent API listening')) as string;
    const port = Number((JSON.parse(line) as { listen: string }).listen.split(':')[1]);
    const state = agentStateSchema.parse(await (await fetch(`http://127.0.0.1:${port}/v1/state`)).json());
    assert.equal(state.node, 'n1');
    const code = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    child.kill('SIGTERM');
    assert.equal(await code, 0);
    assert.match(stderr, /"msg":"agent stopped"/);
    assert.equal(child.stdout.read(), null, 'nothing on stdout');
  });
});
