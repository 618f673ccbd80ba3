import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../config/load.js';
import type { Config } from '../model/config.js';
import { describeFixed, fixedChanges } from './reconfigure.js';

const BASE = `
cluster:
  name: c
  heartbeat: { interval: 50ms, ringTimeout: 300ms }
rings:
  - { name: r0, port: 5405 }
nodes:
  - { name: n1, addresses: { r0: 10.0.0.1 }, attributes: { rack: a } }
  - { name: n2, addresses: { r0: 10.0.0.2 } }
controllers:
  - { name: c1, addresses: { r0: 10.0.0.9 } }
resources:
  - { type: primitive, id: web, agent: process, params: { command: sleep, args: "9" } }
`;

function config(text: string): Config {
  const r = parseConfig(text, 't.yaml');
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
  return r.config;
}

const fields = (after: string): string[] => fixedChanges(config(BASE), config(after)).map((c) => c.field);

describe('what a running cluster can take (reconfigure rules)', () => {
  it('resources, constraints, cluster policy, fencing and node attributes change live', () => {
    const after = BASE.replace('args: "9"', 'args: "10"')
      .replace('  heartbeat:', '  fencing: false\n  placementStrategy: balanced\n  stopOrphans: false\n  defaults: { stickiness: 100, requires: quorum }\n  confirmation: { timeout: 500ms }\n  heartbeat:')
      .replace('attributes: { rack: a }', 'attributes: { rack: b }, standby: true')
      .concat('  - { type: primitive, id: db, agent: process, params: { command: sleep, args: "1" } }\nconstraints:\n  - { type: location, id: db-on-n2, resource: db, node: n2, score: 50 }\nfenceDevices:\n  - { id: pdu, agent: lab, nodes: [n1, n2] }\n');
    assert.deepEqual(fields(after), []);
  });

  it('writing a default out is no change', () => {
    const after = BASE.replace('name: c\n', 'name: c\n  noQuorumPolicy: stop\n  agentPort: 7410\n  quorum: { lease: 3s, controllerVotes: 1 }\n  confirmation: { enabled: true, peers: 4 }\n')
      .replace('{ name: c1, addresses: { r0: 10.0.0.9 } }', '{ name: c1, addresses: { r0: 10.0.0.9 }, apiPort: 7400 }');
    assert.deepEqual(fields(after), []);
  });

  it('nodes, addresses, rings, controllers, heartbeat timing, ports, quorum and the no-quorum policy are fixed', () => {
    assert.deepEqual(fields(BASE.replace('controllers:', '  - { name: n3, addresses: { r0: 10.0.0.3 } }\ncontrollers:')), ['nodes']);
    assert.deepEqual(fields(BASE.replace('10.0.0.2', '10.0.0.22')), ['nodes.n2.addresses']);
    assert.deepEqual(fields(BASE.replace('port: 5405', 'port: 5406')), ['rings']);
    assert.deepEqual(fields(BASE.replace('10.0.0.9', '10.0.0.8')), ['controllers']);
    assert.deepEqual(fields(BASE.replace('interval: 50ms', 'interval: 100ms')), ['cluster.heartbeat.interval']);
    assert.deepEqual(
      fields(BASE.replace('name: c\n', 'name: c\n  agentPort: 7411\n  noQuorumPolicy: freeze\n  quorum: { lease: 5s }\n  confirmation: { enabled: false, peers: 2 }\n')),
      ['cluster.agentPort', 'cluster.quorum.lease', 'cluster.noQuorumPolicy', 'cluster.confirmation.enabled', 'cluster.confirmation.peers'],
    );
    assert.deepEqual(fields(BASE.replace('name: c\n', 'name: d\n')), ['cluster.name']);
  });

  it('the refusal names each field with what changed', () => {
    const changes = fixedChanges(config(BASE), config(BASE.replace('controllers:', '  - { name: n3, addresses: { r0: 10.0.0.3 } }\ncontrollers:').replace('interval: 50ms', 'interval: 100ms')));
    assert.equal(describeFixed(changes), 'cannot change while the cluster runs: cluster.heartbeat.interval (50ms → 100ms); nodes (n3 added)');
  });
});
