// The lab worked out before it is made: names, addresses, the order of creation, the ip commands.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildCommands, hostDownCommands, hostUpCommands, planLab } from './layout.js';
import { hostNames, inLabRange, portName } from './names.js';

const SPEC = { name: 'demo', id: 3, hosts: 2, rings: 2, stateDir: '/run/haven-lab', config: '/run/haven-lab/demo/lab.yaml', daemons: false, node: '/usr/bin/node', haven: '/src/bin/haven.js', now: new Date(0) };

describe('planLab', () => {
  const state = planLab(SPEC);

  it('has hosts h1..hN, a controller on every ring and a client on ring 0, each in its own namespace', () => {
    assert.deepEqual(
      state.hosts.map((h) => [h.name, h.role, h.number, h.ns, h.links.map((l) => l.cidr)]),
      [
        ['h1', 'host', 1, 'hvl3-h1', ['10.203.0.1/24', '10.203.1.1/24']],
        ['h2', 'host', 2, 'hvl3-h2', ['10.203.0.2/24', '10.203.1.2/24']],
        ['controller', 'controller', 240, 'hvl3-controller', ['10.203.0.240/24', '10.203.1.240/24']],
        ['client', 'client', 250, 'hvl3-client', ['10.203.0.250/24']],
      ],
    );
    assert.ok(state.hosts.every((h) => h.power === 'on'));
  });

  it('records every object with the lab prefix, namespaces first, the switch before the hosts', () => {
    assert.equal(state.prefix, 'hvl3-');
    assert.equal(state.switchNs, 'hvl3-switch');
    assert.deepEqual(state.created.slice(0, 5), [
      { kind: 'netns', name: 'hvl3-switch' },
      { kind: 'netns', name: 'hvl3-h1' },
      { kind: 'netns', name: 'hvl3-h2' },
      { kind: 'netns', name: 'hvl3-controller' },
      { kind: 'netns', name: 'hvl3-client' },
    ]);
    for (const c of state.created) assert.ok(c.name.startsWith('hvl3-'), c.name);
    assert.equal(state.created.filter((c) => c.kind === 'bridge').length, 2);
    assert.equal(state.created.filter((c) => c.kind === 'veth').length, 2 * 2 + 2 + 1);
  });

  it('keeps interface names within the kernel limit of 15 characters', () => {
    for (const c of state.created) if (c.kind !== 'netns') assert.ok(c.name.length <= 15, c.name);
    assert.ok(portName(55, 250, 7).length <= 15);
  });

  it('refuses bad names and sizes before anything is made', () => {
    assert.throws(() => planLab({ ...SPEC, name: 'Bad Name' }), { code: 'USAGE' });
    assert.throws(() => planLab({ ...SPEC, rings: 0 }), { code: 'USAGE' });
    assert.throws(() => planLab({ ...SPEC, rings: 9 }), { code: 'USAGE' });
    assert.throws(() => planLab({ ...SPEC, hosts: 0 }), { code: 'USAGE' });
    assert.throws(() => planLab({ ...SPEC, hosts: 100 }), { code: 'USAGE' });
    assert.throws(() => hostNames(['a', 'controller']), /reserved/);
    assert.throws(() => hostNames(['a', 'a']), /named twice/);
  });
});

describe('the ip commands', () => {
  const state = planLab(SPEC);
  it('builds the switch (bridges without STP, the veths into each host) and then each host', () => {
    const cmds = buildCommands(state);
    assert.equal(cmds[0]?.ns, 'hvl3-switch');
    assert.ok(cmds[0]?.lines.includes('link add hvl3-ring0 type bridge stp_state 0 mcast_snooping 0'));
    assert.ok(cmds[0]?.lines.includes('link add hvl3-h1r1 type veth peer name ring1 netns hvl3-h1'));
    assert.ok(cmds[0]?.lines.includes('link set hvl3-h1r1 master hvl3-ring1 up'));
    assert.deepEqual(
      cmds.map((c) => c.ns),
      ['hvl3-switch', 'hvl3-h1', 'hvl3-h2', 'hvl3-controller', 'hvl3-client'],
    );
  });

  it('boots a host with only its own addresses, and powers it off by its links', () => {
    const h1 = state.hosts[0];
    assert.ok(h1 !== undefined);
    assert.deepEqual(hostUpCommands(h1), [
      'link set lo up',
      'addr flush dev ring0',
      'addr add 10.203.0.1/24 dev ring0',
      'link set ring0 up',
      'addr flush dev ring1',
      'addr add 10.203.1.1/24 dev ring1',
      'link set ring1 up',
    ]);
    assert.deepEqual(hostDownCommands(h1), ['link set ring0 down', 'link set ring1 down']);
  });
});

describe('inLabRange', () => {
  it("is true only for the lab's own /16", () => {
    assert.equal(inLabRange(3, '10.203.0.100'), true);
    assert.equal(inLabRange(3, '10.204.0.100'), false);
    assert.equal(inLabRange(3, '8.8.8.8'), false);
    assert.equal(inLabRange(3, '10.203.9.1'), false, 'no ring 9');
  });
});
