// Three controllers on etcd, on loopback with the real binaries: a 3-member etcd on 127.0.0.1
// (test/store/etcd-harness.ts), three `haven controller --store etcd:…` and an agent per node
// (test/cluster/harness.ts). The faults of issue 5: the leader killed (kill -9), the leader
// paused (SIGSTOP) and resumed, one etcd member lost, a majority of etcd lost and back. What is
// checked is what a user would notice: who leads, whether a service was restarted (its PID),
// whether an action ran twice (the event log), and how long a takeover took (printed).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ControllerSnapshot } from '../../src/controller/controller.js';
import type { ControllerEvent } from '../../src/store/store.js';
import { EtcdCluster, haveEtcd } from '../store/etcd-harness.js';
import { LoopbackCluster } from './harness.js';

const skip = haveEtcd ? false : 'Debian etcd-server is not installed (/usr/bin/etcd); npm test installs it';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sleeper = (id: string, extra: Record<string, unknown> = {}) => ({ type: 'primitive', id, agent: 'process', params: { command: 'sleep', args: '3600' }, operations: [{ name: 'monitor', interval: '1s' }], ...extra });

/** web (A/P, needs quorum: the default without fencing) on n1, a clone everywhere, and `keep` that needs nothing. */
function resources(): { resources: unknown[]; constraints: unknown[] } {
  return {
    resources: [sleeper('web'), { type: 'clone', id: 'api', of: sleeper('api-p') }, sleeper('keep', { requires: 'nothing' })],
    constraints: [
      { type: 'location', id: 'web-on-n1', resource: 'web', node: 'n1', score: 100 },
      { type: 'location', id: 'keep-on-n2', resource: 'keep', node: 'n2', score: 100 },
    ],
  };
}

/** The PIDs of every copy, by `instance@node`. */
function pids(cluster: LoopbackCluster, s: ControllerSnapshot): Record<string, number | undefined> {
  const out: Record<string, number | undefined> = {};
  for (const [key, perNode] of Object.entries(s.status.resources ?? {})) {
    for (const [node, c] of Object.entries(perNode)) if (c.state === 'started' || c.state === 'promoted') out[`${key}@${node}`] = cluster.pidOf(node, key);
  }
  return out;
}

/** Actions that changed something (not a probe): starts, stops, monitors, fences. */
function changes(events: readonly ControllerEvent[]): string[] {
  return events.filter((e) => (e.kind === 'action' || e.kind === 'action-failed') && !/^probe /.test(e.message)).map((e) => e.message);
}

/** Every seq once, in order, from 1: no event written twice, none lost between terms. */
function assertLogWhole(events: readonly ControllerEvent[]): void {
  events.forEach((e, i) => assert.equal(e.seq, i + 1, `event ${i + 1} has seq ${e.seq}`));
}

function firstAfter(events: readonly ControllerEvent[], from: number, match: (e: ControllerEvent) => boolean): ControllerEvent | undefined {
  return events.find((e) => e.seq > from && match(e));
}

describe('three controllers on etcd', { skip, timeout: 300_000 }, () => {
  let etcd: EtcdCluster;
  before(async () => {
    etcd = await EtcdCluster.start(3);
  });
  after(async () => {
    await etcd?.stop();
  });

  function cluster(): LoopbackCluster {
    const { resources: r, constraints } = resources();
    return new LoopbackCluster({
      nodes: 3,
      controllers: 3,
      etcd: { endpoints: etcd.endpoints },
      // Its own key prefix in the shared etcd.
      cluster: { name: `loop-${process.pid}-${Math.floor(Math.random() * 1e6)}` },
      resources: r,
      constraints,
    });
  }

  describe('the leader killed (kill -9)', () => {
    let c: LoopbackCluster;
    after(() => c?.close());

    it('a follower takes over within the lease, restarts nothing and runs no action twice; the killed one comes back as a follower', async () => {
      c = cluster();
      await c.start();
      const before = await c.waitForLeader('steady', (s) => s.plan === null && LoopbackCluster.where(s, 'web').join() === 'n1' && LoopbackCluster.where(s, 'api-p').length === 3 && LoopbackCluster.where(s, 'keep').join() === 'n2');
      const old = before.name;
      const running = pids(c, before.status);
      assert.equal(Object.keys(running).length, 5, JSON.stringify(running));
      assert.ok(Object.values(running).every((p) => p !== undefined), JSON.stringify(running));
      for (const name of c.controllerNames.filter((n) => n !== old)) {
        const h = await c.health(name);
        assert.equal(h.role, 'follower');
        assert.equal(h.leader?.name, old);
      }
      const lastSeq = (await c.events(old)).length;

      const killedAt = Date.now();
      await c.stopController('SIGKILL', old);
      const after = await c.waitForLeader('a new leader, settled and idle', (s) => s.name !== old && s.phase === 'running' && s.nodes.every((n) => n.probed) && s.plan === null, 15_000);
      assert.notEqual(after.name, old);
      assert.ok(after.status.epoch > before.status.epoch, `epoch ${after.status.epoch} after ${before.status.epoch}`);
      const events = await c.events(after.name);
      const took = firstAfter(events, lastSeq, (e) => e.kind === 'controller' && /leads with epoch/.test(e.message));
      const settled = firstAfter(events, lastSeq, (e) => e.kind === 'controller' && /^settled/.test(e.message));
      const plan = firstAfter(events, lastSeq, (e) => e.kind === 'plan');
      assert.ok(took && settled && plan, JSON.stringify(events.slice(lastSeq)));
      console.log(`takeover after kill -9: leads ${took.at - killedAt} ms, settled ${settled.at - killedAt} ms, first plan ${plan.at - killedAt} ms after the kill`);
      // Within the lease's bound (1 s lease: 1.5 s at worst, plus the machine's load).
      assert.ok(plan.at - killedAt < 4000, `first decision ${plan.at - killedAt} ms after the kill`);

      await sleep(1500);
      const now = await c.status(after.name);
      assert.deepEqual(pids(c, now), running, 'every copy runs with the same PID: nothing was restarted');
      const all = await c.events(after.name);
      assertLogWhole(all);
      assert.deepEqual(changes(all.slice(lastSeq)), [], 'the new leader only probed');
      assert.deepEqual(all.filter((e) => e.kind === 'self-fence'), [], 'no agent lost its lease');

      c.startController(old);
      const back = await waitHealth(c, old, (h) => h.role === 'follower' && h.leader?.name === after.name);
      assert.equal(back.phase, 'following');
    });
  });
});

async function waitHealth(c: LoopbackCluster, name: string, ok: (h: Awaited<ReturnType<LoopbackCluster['health']>>) => boolean, timeoutMs = 15_000): Promise<Awaited<ReturnType<LoopbackCluster['health']>>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const h = await c.health(name);
      last = h;
      if (ok(h)) return h;
    } catch (err) {
      last = err;
    }
    await sleep(50);
  }
  throw new Error(`${name}: timed out; last health ${JSON.stringify(last)}\n${c.logs()}`);
}
