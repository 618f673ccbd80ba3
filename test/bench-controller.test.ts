// The controller bench's simulated agents: their configuration is one a real controller accepts,
// every node has its own loopback address, and the generator's datagram is a heartbeat.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { parseConfig } from '../src/config/load.js';
import { simConfig, simNode } from '../bench/controller/sim.js';
import { peersPerNode } from '../src/membership/peers.js';

describe('controller bench: simulated agents', () => {
  test('10,000 nodes make a valid configuration: one ring, one controller, no resources, confirmation as by default (4 peers a node)', () => {
    const parsed = parseConfig(stringify(simConfig(10_000, 1_000), { lineWidth: 0 }), 'sim.yaml');
    assert.ok(parsed.ok, parsed.ok ? '' : JSON.stringify(parsed.errors.slice(0, 3)));
    if (!parsed.ok) return;
    assert.equal(parsed.config.nodes.length, 10_000);
    assert.equal(parsed.config.resources, undefined);
    assert.deepEqual(parsed.config.cluster.heartbeat, { interval: 1_000, ringTimeout: 6_000 });
    assert.equal(parsed.config.cluster.confirmation, undefined);
    assert.equal(peersPerNode(parsed.config), 4);
  });

  test('every node has its own address in 127/8, never .0 or .255', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 60_000; i++) {
      const { name, address } = simNode(i);
      assert.equal(name, `n${i + 1}`);
      assert.match(address, /^127\.\d+\.\d+\.\d+$/);
      const octets = address.split('.').map(Number);
      assert.ok(octets.every((o) => o >= 0 && o <= 254) && octets[3]! >= 1, address);
      assert.ok(!seen.has(address), `${address} twice`);
      seen.add(address);
    }
  });
});
