// Who hears whom for distributed confirmation: the pure peer sets, and real senders and peer
// receivers on loopback sending and hearing exactly along them.

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import fc from 'fast-check';
import { HavenError } from '../errors.js';
import { configSchema, type Config } from '../model/config.js';
import { heardBy, hearersOf, peersPerNode } from './peers.js';
import { HeartbeatReceiver } from './receiver.js';
import { HeartbeatSender } from './sender.js';

function config(nodes: number, peers?: number, basePort = 5405): Config {
  return configSchema.parse({
    cluster: { name: 'p', ...(peers === undefined ? {} : { confirmation: { peers } }) },
    rings: [{ name: 'r1', port: basePort }],
    nodes: Array.from({ length: nodes }, (_, i) => ({ name: `n${i + 1}`, addresses: { r1: `127.0.3.${i + 1}` } })),
    controllers: [{ name: 'c1', addresses: { r1: '127.0.3.250' } }],
  });
}

describe('peer sets', () => {
  it('each node is heard by the k nodes after it, wrapping round; it hears the k before it', () => {
    const c = config(6, 2);
    assert.deepEqual(hearersOf(c, 'n1'), ['n2', 'n3']);
    assert.deepEqual(hearersOf(c, 'n6'), ['n1', 'n2']);
    assert.deepEqual(heardBy(c, 'n1'), ['n6', 'n5']);
    assert.deepEqual(heardBy(c, 'n3'), ['n2', 'n1']);
    assert.deepEqual(hearersOf(c, 'nope'), []);
  });

  it('the default is 4 peers; with fewer other nodes, all of them; one node alone has none', () => {
    assert.equal(peersPerNode(config(100)), 4);
    assert.deepEqual(hearersOf(config(3), 'n2'), ['n3', 'n1']);
    assert.deepEqual(hearersOf(config(1), 'n1'), []);
    assert.deepEqual(heardBy(config(1), 'n1'), []);
  });

  it('a peer count that is not a whole number from 1 to 64 is refused by the configuration', () => {
    for (const peers of [0, -1, 1.5, 65, '2']) {
      const r = configSchema.safeParse({ cluster: { name: 'p', confirmation: { peers } }, nodes: [{ name: 'n1' }] });
      assert.equal(r.success, false, `peers: ${JSON.stringify(peers)}`);
    }
  });

  it('property: Y hears X exactly when X is heard by Y; k distinct others each; every node heard by exactly k', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 64 }), (n, k) => {
        const c = config(n, k);
        const names = c.nodes.map((x) => x.name);
        const want = Math.min(k, n - 1);
        const count = new Map(names.map((x) => [x, 0]));
        for (const x of names) {
          const hearers = hearersOf(c, x);
          assert.equal(hearers.length, want);
          assert.equal(new Set(hearers).size, want);
          assert.ok(!hearers.includes(x));
          for (const y of hearers) {
            assert.ok(heardBy(c, y).includes(x), `${y} hears ${x}`);
            count.set(y, (count.get(y) ?? 0) + 1);
          }
          assert.deepEqual(new Set(heardBy(c, x)), new Set(names.filter((y) => hearersOf(c, y).includes(x))));
        }
        for (const v of count.values()) assert.equal(v, want);
      }),
      { seed: 20261125, numRuns: 200 },
    );
  });
});

describe('peer heartbeats on loopback', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('a node sends its peer heartbeats only to its k hearers, and a peer receiver counts only the nodes that send to it', async () => {
    let c: Config | undefined;
    const receivers = new Map<string, HeartbeatReceiver>();
    for (let attempt = 0; c === undefined; attempt++) {
      const candidate = config(6, 2, 20_000 + 2 * Math.floor(Math.random() * 20_000));
      try {
        for (const n of candidate.nodes) {
          const r = await HeartbeatReceiver.start({ config: candidate, node: n.name, nodes: heardBy(candidate, n.name) });
          receivers.set(n.name, r);
          cleanup.push(() => r.stop());
        }
        c = candidate;
      } catch (error) {
        for (const r of receivers.values()) await r.stop();
        receivers.clear();
        if (attempt < 5 && error instanceof HavenError && /EADDRINUSE/.test(error.message)) continue;
        throw error;
      }
    }
    const config6 = c;
    for (const n of config6.nodes) {
      const s = await HeartbeatSender.start({ config: config6, node: n.name, epoch: () => 0, peers: true, interval: 20 });
      cleanup.push(() => s.stop());
    }
    await new Promise((r) => setTimeout(r, 400));
    for (const n of config6.nodes) {
      const r = receivers.get(n.name)!;
      const heard = r.verdicts().filter((v) => v.kind === 'alive').map((v) => v.node).sort();
      assert.deepEqual(heard, heardBy(config6, n.name).sort(), `${n.name} hears`);
      // Nobody else sends to it: no datagram refused as from an unknown node.
      assert.equal(r.counts().refused['unknown-node'], 0, `${n.name}: heartbeats from nodes that should not send to it`);
      assert.ok(r.counts().accepted > 0);
    }
  });
});
