// Safety on a real cluster on loopback (the real binaries): epochs against a stale controller,
// and quorum with leases. Partitions, isolation and fencing need namespaces: test/cluster/lab.test.ts.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LoopbackCluster } from './harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sleeper = (id: string) => ({ type: 'primitive', id, agent: 'process', params: { command: 'sleep', args: '3600' }, operations: [{ name: 'monitor', interval: '1s' }] });

describe('epochs: a paused controller wakes up superseded', { timeout: 90_000 }, () => {
  const cluster = new LoopbackCluster({ nodes: 2, controllers: 2, resources: [sleeper('web')], constraints: [{ type: 'location', id: 'web-on-n1', resource: 'web', node: 'n1', score: 100 }] });
  after(() => cluster.close());

  it('a newer controller takes over without a restart; the old one, resumed, stops acting and its commands are refused', async () => {
    await cluster.start();
    const first = await cluster.status('c1');
    assert.equal(first.epoch, 1);
    const pid = cluster.pidOf('n1', 'web');
    assert.ok(pid, 'web runs on n1');

    cluster.signalController('c1', 'SIGSTOP');
    cluster.startController('c2');
    const taken = await cluster.waitFor('c2 running with epoch 2', (s) => s.phase === 'running' && s.epoch === 2 && s.quorum.quorate && s.nodes.every((n) => n.probed) && s.plan === null, 20_000, 'c2');
    assert.deepEqual(LoopbackCluster.where(taken, 'web'), ['n1']);
    assert.equal(cluster.pidOf('n1', 'web'), pid, 'the takeover restarted nothing');
    // The new controller moves web; the old one is still paused and knows nothing of it.
    const moved = await cluster.post('/v1/resources/web/move', { node: 'n2' }, 'c2');
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    await cluster.waitFor('web on n2', (s) => LoopbackCluster.where(s, 'web').join() === 'n2' && s.plan === null, 15_000, 'c2');
    const pidOnN2 = cluster.pidOf('n2', 'web');
    assert.ok(pidOnN2);

    cluster.signalController('c1', 'SIGCONT');
    const stale = await cluster.waitFor('c1 superseded', (s) => s.phase === 'superseded', 10_000, 'c1');
    assert.equal(stale.epoch, 1);
    const events = await cluster.events('c1');
    assert.ok(events.length > 0);
    // A command with the old epoch, as c1 would send it, is refused by the agent.
    const refused = await cluster.agentPost('n2', '/v1/operations', {
      epoch: 1,
      action: 'stop web@n2',
      operation: 'stop',
      instance: 'web',
      resource: { primitive: 'web', agent: 'process', params: { command: 'sleep', args: '3600' } },
      timeoutMs: 5000,
    });
    assert.equal(refused.status, 409);
    assert.match(JSON.stringify(refused.body), /epoch 1 is older than epoch 2/);
    // A write the paused controller had begun before SIGSTOP may land when it wakes (the
    // embedded store is one directory, not etcd's guarded transactions): the leader's next write
    // puts its record back, and the superseded one starts none.
    assert.equal((await cluster.post('/v1/nodes/n1/online', {}, 'c2')).status, 200);
    await sleep(1500);
    // Nothing moved back, nothing ran twice, and the record on disk carries epoch 2.
    const now = await cluster.status('c2');
    assert.deepEqual(LoopbackCluster.where(now, 'web'), ['n2']);
    assert.equal(cluster.pidOf('n2', 'web'), pidOnN2);
    assert.equal(cluster.pidOf('n1', 'web'), undefined);
    const file = JSON.parse(readFileSync(join(cluster.dir, 'controller', 'record.json'), 'utf8')) as { epoch?: number; record?: { epoch: number } };
    assert.equal(file.record?.epoch ?? file.epoch, 2, 'the superseded controller did not overwrite the record');
  });
});

describe('quorum and leases', { timeout: 90_000 }, () => {
  const cluster = new LoopbackCluster({
    nodes: 3,
    cluster: { quorum: { lease: '1s' } },
    resources: [sleeper('web')],
    constraints: [{ type: 'location', id: 'web-on-n1', resource: 'web', node: 'n1', score: 100 }],
  });
  after(() => cluster.close());

  it('without a majority the controller stops acting, the survivor self-fences when its lease lapses, and all resumes with quorum', async () => {
    await cluster.start();
    const s0 = await cluster.status();
    assert.deepEqual(s0.quorum.voters, ['n1', 'n2', 'n3']);
    assert.equal(s0.quorum.total, 4);
    const pid = cluster.pidOf('n1', 'web');
    assert.ok(pid);
    // Two of three nodes gone: the controller hears 2 of 4 votes (n1 and its own).
    await cluster.stopAgent('n2', 'SIGKILL');
    await cluster.stopAgent('n3', 'SIGKILL');
    const lost = await cluster.waitFor('no quorum', (s) => !s.quorum.quorate, 10_000);
    assert.equal(lost.quorum.heard, 2);
    // No grant for a lease: n1's agent stops web itself (no-quorum policy stop, the default).
    const deadline = Date.now() + 10_000;
    while (cluster.pidOf('n1', 'web') !== undefined && Date.now() < deadline) await sleep(50);
    assert.equal(cluster.pidOf('n1', 'web'), undefined, 'n1 self-fenced web');
    const events = await cluster.events();
    assert.ok(events.some((e) => e.kind === 'quorum' && /no quorum: hears 2 of 4 votes/.test(e.message)), JSON.stringify(events.map((e) => e.message)));
    // No plan ran without quorum: nothing was started anywhere.
    assert.ok(!events.some((e) => e.kind === 'plan' && e.at > lost.now), 'no plan without quorum');
    cluster.startAgent('n2');
    cluster.startAgent('n3');
    const back = await cluster.waitFor('quorum and web back', (s) => s.quorum.quorate && LoopbackCluster.where(s, 'web').length === 1 && s.plan === null, 20_000);
    assert.deepEqual(LoopbackCluster.where(back, 'web'), ['n1']);
  });
});
