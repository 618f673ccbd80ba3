// A lab with three controllers (`haven lab up --controllers 3`): the controller hosts and their
// addresses, the etcd members beside them, lab.yaml's controllers, the daemons' command lines
// and the CLI's finding of the leader's socket. Pure: nothing is made.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findLeader, leadsFromHealth } from '../cli/client.js';
import { controllerSocket, controllerStateDir, daemonCommand, daemonRoles, logFile } from './daemons.js';
import { etcdCommand, etcdStoreFlag } from './etcd.js';
import { labConfigText } from './lab-config.js';
import { planLab } from './layout.js';
import { controllerHost, hostNames, validateControllers } from './names.js';

const SPEC = { name: 'demo', id: 4, hosts: 2, rings: 2, stateDir: '/run/haven-lab', config: '/run/haven-lab/demo/lab.yaml', daemons: true, node: '/usr/bin/node', haven: '/src/bin/haven.js', now: new Date(0) };

describe('a lab with three controllers', () => {
  const state = planLab({ ...SPEC, controllers: 3 });
  const host = (name: string) => state.hosts.find((h) => h.name === name)!;

  it('has controller, controller2 and controller3 at .240, .241 and .242 on every ring', () => {
    assert.deepEqual(
      state.hosts.filter((h) => h.role === 'controller').map((h) => [h.name, h.number, h.ns, h.links.map((l) => l.cidr)]),
      [
        ['controller', 240, 'hvl4-controller', ['10.204.0.240/24', '10.204.1.240/24']],
        ['controller2', 241, 'hvl4-controller2', ['10.204.0.241/24', '10.204.1.241/24']],
        ['controller3', 242, 'hvl4-controller3', ['10.204.0.242/24', '10.204.1.242/24']],
      ],
    );
    for (const c of state.created) if (c.kind !== 'netns') assert.ok(c.name.length <= 15, c.name);
  });

  it('runs an etcd member on each controller host, on its ring 0 address, its data in the lab directory', () => {
    assert.deepEqual(state.etcd?.members, [
      { host: 'controller', clientUrl: 'http://10.204.0.240:2379', peerUrl: 'http://10.204.0.240:2380', dataDir: '/run/haven-lab/demo/etcd/controller' },
      { host: 'controller2', clientUrl: 'http://10.204.0.241:2379', peerUrl: 'http://10.204.0.241:2380', dataDir: '/run/haven-lab/demo/etcd/controller2' },
      { host: 'controller3', clientUrl: 'http://10.204.0.242:2379', peerUrl: 'http://10.204.0.242:2380', dataDir: '/run/haven-lab/demo/etcd/controller3' },
    ]);
    assert.ok(state.etcd!.token.startsWith('hvl4-'));
    const cmd = etcdCommand(state.etcd!, 'hvl4-controller2', state.etcd!.members[1]!);
    assert.deepEqual(cmd.slice(0, 5), ['ip', 'netns', 'exec', 'hvl4-controller2', '/usr/bin/etcd']);
    const arg = (k: string) => cmd[cmd.indexOf(k) + 1];
    assert.equal(arg('--name'), 'controller2');
    assert.equal(arg('--initial-cluster'), 'controller=http://10.204.0.240:2380,controller2=http://10.204.0.241:2380,controller3=http://10.204.0.242:2380');
    assert.equal(arg('--listen-client-urls'), 'http://10.204.0.241:2379');
    assert.equal(arg('--election-timeout'), '500');
  });

  it('starts each controller with its name, its own socket and state directory, and --store etcd:…', () => {
    assert.deepEqual(daemonRoles(state, host('controller2')), ['etcd', 'controller']);
    assert.deepEqual(daemonRoles(state, host('h1')), ['agent']);
    const cmd = daemonCommand(state, host('controller3'), 'controller');
    assert.deepEqual(cmd.slice(cmd.indexOf('controller', 5)), [
      'controller', '--config', '/run/haven-lab/demo/lab.yaml',
      '--state-dir', '/run/haven-lab/demo/controller3',
      '--socket', '/run/haven-lab/demo/controller3.sock',
      '--name', 'controller3',
      '--store', 'etcd:http://10.204.0.240:2379,http://10.204.0.241:2379,http://10.204.0.242:2379',
    ]);
    assert.equal(etcdStoreFlag(state.etcd!), 'etcd:http://10.204.0.240:2379,http://10.204.0.241:2379,http://10.204.0.242:2379');
    const leased = planLab({ ...SPEC, controllers: 3, leaderLease: 2 });
    const withLease = daemonCommand(leased, leased.hosts.find((h) => h.name === 'controller')!, 'controller');
    assert.deepEqual(withLease.slice(-2), ['--leader-lease', '2']);
    assert.equal(logFile(state, 'controller2', 'etcd'), '/run/haven-lab/demo/logs/etcd-controller2.log');
    assert.equal(logFile(state, 'controller2', 'controller'), '/run/haven-lab/demo/logs/controller2.log');
  });

  it('lists every controller in lab.yaml, so agents send heartbeats to all three', () => {
    const { config } = labConfigText(state, '/run/haven-lab');
    assert.deepEqual(config.controllers, [
      { name: 'controller', addresses: { ring0: '10.204.0.240', ring1: '10.204.1.240' } },
      { name: 'controller2', addresses: { ring0: '10.204.0.241', ring1: '10.204.1.241' } },
      { name: 'controller3', addresses: { ring0: '10.204.0.242', ring1: '10.204.1.242' } },
    ]);
  });
});

describe('a lab with one controller', () => {
  const state = planLab(SPEC);

  it('has no etcd, and its controller runs on the embedded store as before', () => {
    assert.equal(state.etcd, undefined);
    const h = state.hosts.find((x) => x.name === 'controller')!;
    assert.deepEqual(daemonRoles(state, h), ['controller']);
    const cmd = daemonCommand(state, h, 'controller');
    assert.ok(!cmd.includes('--store') && !cmd.includes('--name'));
    assert.equal(controllerSocket(state), '/run/haven-lab/demo/controller.sock');
    assert.equal(controllerStateDir(state), '/run/haven-lab/demo/controller');
  });

  it('refuses 2 controllers (and 0, 4) and the controller hosts as host names', () => {
    assert.equal(validateControllers(1), 1);
    assert.equal(validateControllers(3), 3);
    for (const n of [0, 2, 4]) assert.throws(() => planLab({ ...SPEC, controllers: n }), { code: 'USAGE' });
    assert.throws(() => planLab({ ...SPEC, leaderLease: 2 }), { code: 'USAGE', message: /--controllers 3/ });
    assert.throws(() => planLab({ ...SPEC, controllers: 3, leaderLease: 0 }), { code: 'USAGE' });
    assert.deepEqual([0, 1, 2].map(controllerHost), ['controller', 'controller2', 'controller3']);
    assert.throws(() => hostNames(['h1', 'controller3']), /reserved/);
  });
});

describe('leadsFromHealth', () => {
  it('reads role or a leader flag, and says nothing for a controller that does not tell', () => {
    assert.equal(leadsFromHealth({ ok: true, role: 'leader' }), true);
    assert.equal(leadsFromHealth({ ok: true, role: 'follower' }), false);
    assert.equal(leadsFromHealth({ ok: true, leader: false }), false);
    assert.equal(leadsFromHealth({ ok: true, phase: 'running', epoch: 3 }), undefined);
    assert.equal(leadsFromHealth('nonsense'), undefined);
  });
});

describe('findLeader', () => {
  it('asks every socket and picks the one that leads; without one, says so within its wait', async () => {
    const { createServer } = await import('node:http');
    const dir = mkdtempSync(join(tmpdir(), 'hvtest-sock-'));
    const servers: import('node:http').Server[] = [];
    try {
      const roles = { a: 'follower', b: 'leader' } as Record<string, string>;
      for (const n of ['a', 'b']) {
        const s = createServer((_req, res) => res.end(JSON.stringify({ ok: true, role: roles[n] })));
        await new Promise<void>((r) => s.listen(join(dir, `${n}.sock`), r));
        servers.push(s);
      }
      // A socket file nobody listens on (a controller killed -9) is skipped.
      mkdirSync(join(dir, 'sub'));
      writeFileSync(join(dir, 'dead.sock'), '');
      const ep = await findLeader([join(dir, 'dead.sock'), join(dir, 'a.sock'), join(dir, 'b.sock')]);
      assert.equal(ep.socketPath, join(dir, 'b.sock'));
      roles['b'] = 'follower';
      const t0 = Date.now();
      await assert.rejects(findLeader([join(dir, 'a.sock'), join(dir, 'b.sock')], 400), { code: 'UNREACHABLE', message: /no controller leads: 2 of 2 answered/ });
      assert.ok(Date.now() - t0 < 5_000);
    } finally {
      for (const s of servers) s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
