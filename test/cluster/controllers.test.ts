// Three controllers on etcd, on loopback with the real binaries: a 3-member etcd on 127.0.0.1
// (test/store/etcd-harness.ts), three `haven controller --store etcd:…` and an agent per node
// (test/cluster/harness.ts). The faults of issue 5: the leader killed (kill -9), the leader
// paused (SIGSTOP) and resumed, one etcd member lost, a majority of etcd lost and back. What is
// checked is what a user would notice: who leads, whether a service was restarted (its PID),
// whether an action ran twice (the event log), and how long a takeover took (printed).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { ControllerSnapshot } from '../../src/controller/controller.js';
import type { ControllerEvent } from '../../src/store/store.js';
import { Etcd3 } from 'etcd3';
import { EtcdCluster, haveEtcd } from '../store/etcd-harness.js';
import { LoopbackCluster } from './harness.js';

const skip = haveEtcd ? false : 'Debian etcd-server is not installed (/usr/bin/etcd); npm test installs it';
// For measuring other settings (docs/operations.md#three-controllers): the leader lease in s and etcd's election timeout in ms.
const LEASE = process.env['HAVEN_TEST_LEADER_LEASE'] ? Number(process.env['HAVEN_TEST_LEADER_LEASE']) : undefined;
const ELECTION_MS = Number(process.env['HAVEN_TEST_ETCD_ELECTION_MS'] ?? 500);
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
    etcd = await EtcdCluster.start(3, { heartbeatMs: Math.max(10, Math.round(ELECTION_MS / 10)), electionMs: ELECTION_MS });
    console.log(`etcd election timeout ${ELECTION_MS} ms, leader lease ${LEASE ?? 'default'}`);
  });
  after(async () => {
    await etcd?.stop();
  });

  function cluster(): LoopbackCluster {
    const { resources: r, constraints } = resources();
    return new LoopbackCluster({
      nodes: 3,
      controllers: 3,
      etcd: { endpoints: etcd.endpoints, ...(LEASE !== undefined ? { leaderLease: LEASE } : {}) },
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

      // The CLI given every controller finds the leader; given a follower alone, it reads from it.
      const every = c.controllerNames.map((n) => c.controllerUrl(n)).join(',');
      const moved = await haven(['resource', 'move', 'keep', '--node', 'n3', '--controller', every]);
      assert.equal(moved.code, 0, moved.stderr);
      await c.waitForLeader('keep on n3', (s) => LoopbackCluster.where(s, 'keep').join() === 'n3' && s.plan === null);
      const viaFollower = await haven(['status', '--json', '--controller', c.controllerUrl(old)]);
      assert.equal(viaFollower.code, 0, viaFollower.stderr);
      const fs = JSON.parse(viaFollower.stdout) as ControllerSnapshot;
      assert.equal(fs.role, 'follower');
      assert.equal(fs.leader?.name, after.name);
      const text = await haven(['status', '--controller', c.controllerUrl(old)]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, new RegExp(`controller ${old} follows: ${after.name} leads with epoch ${after.status.epoch}`));
      const refused = await haven(['resource', 'clear', 'keep', '--controller', c.controllerUrl(old)]);
      assert.equal(refused.code, 9, 'CONFLICT');
      assert.match(refused.stderr, new RegExp(`${after.name} leads[\\s\\S]*${c.controllerUrl(after.name).replace(/[.]/g, '\\.')}`));
    });
  });

  describe('the leader paused (SIGSTOP) and resumed', () => {
    let c: LoopbackCluster;
    after(() => c?.close());

    it('a follower takes over; the old leader, resumed, steps down at once, its commands are refused, nothing runs twice', async () => {
      c = cluster();
      await c.start();
      const before = await c.waitForLeader('steady', (s) => s.plan === null && LoopbackCluster.where(s, 'web').join() === 'n1' && LoopbackCluster.where(s, 'api-p').length === 3);
      const old = before.name;
      const running = pids(c, before.status);

      c.signalController(old, 'SIGSTOP');
      const pausedAt = Date.now();
      const after = await c.waitForLeader('a new leader while the old one is paused', (s) => s.name !== old && s.phase === 'running' && s.nodes.every((n) => n.probed) && s.plan === null, 15_000, [old]);
      console.log(`takeover of a paused leader: a new leader idle ${Date.now() - pausedAt} ms after the pause`);
      assert.ok(after.status.epoch > before.status.epoch);
      assert.deepEqual(pids(c, after.status), running, 'the takeover restarted nothing');
      // The new leader moves web; the paused one knows nothing of it.
      const moved = await c.post('/v1/resources/web/move', { node: 'n2' }, after.name);
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      const movedStatus = await c.waitForLeader('web on n2', (s) => s.name === after.name && LoopbackCluster.where(s, 'web').join() === 'n2' && s.plan === null, 15_000, [old]);
      const webOnN2 = c.pidOf('n2', 'web');
      assert.ok(webOnN2);
      const seqBefore = (await c.events(after.name)).length;

      c.signalController(old, 'SIGCONT');
      // Its first act after the pause finds its term over: it follows.
      const stepped = await waitHealth(c, old, (h) => h.role === 'follower' && h.leader?.name === after.name, 5_000);
      assert.equal(stepped.phase, 'following');
      const refused = await c.post('/v1/resources/web/move', { node: 'n3' }, old);
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      const body = refused.body as { code: string; message: string; hint?: string; leader?: { name: string; url?: string } };
      assert.equal(body.code, 'CONFLICT');
      assert.equal(body.leader?.name, after.name);
      assert.match(body.hint ?? '', new RegExp(c.controllerUrl(after.name).replace(/[.]/g, '\\.')));
      const oldStatus = await c.status(old);
      assert.equal(oldStatus.role, 'follower');
      // A command with the old epoch, as the old leader would have sent it, is refused by the agent.
      const stale = await c.agentPost('n2', '/v1/operations', {
        epoch: before.status.epoch,
        action: 'stop web@n2',
        operation: 'stop',
        instance: 'web',
        resource: { primitive: 'web', agent: 'process', params: { command: 'sleep', args: '3600' } },
        timeoutMs: 5000,
      });
      assert.equal(stale.status, 409);
      await sleep(2000);
      const now = await c.status(after.name);
      assert.equal(now.role, 'leader');
      assert.equal(now.epoch, movedStatus.status.epoch, 'the new leader kept its term');
      assert.deepEqual(LoopbackCluster.where(now, 'web'), ['n2']);
      assert.equal(c.pidOf('n2', 'web'), webOnN2);
      assert.equal(c.pidOf('n1', 'web'), undefined);
      const all = await c.events(after.name);
      assertLogWhole(all);
      assert.deepEqual(changes(all.slice(seqBefore)), [], 'nothing acted after the old leader woke up');
    });
  });

  describe('etcd members lost', () => {
    let c: LoopbackCluster;
    after(async () => {
      await c?.close();
      for (let i = 0; i < 3; i++) await etcd.restart(i).catch(() => undefined);
    });

    it('one member (not raft leader) lost: nothing visible; raft leader lost: no service interruption', async () => {
      c = cluster();
      await c.start();
      const before = await c.waitForLeader('steady', (s) => s.plan === null && LoopbackCluster.where(s, 'web').join() === 'n1' && LoopbackCluster.where(s, 'api-p').length === 3);
      const running = pids(c, before.status);
      const raft = await raftLeader(etcd);
      const follower = [0, 1, 2].find((i) => i !== raft)!;
      await etcd.kill(follower);
      // A command goes through, and the leader keeps its term.
      const moved = await c.post('/v1/resources/keep/move', { node: 'n3' }, before.name);
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      const kept = await c.waitForLeader('keep on n3', (s) => LoopbackCluster.where(s, 'keep').join() === 'n3' && s.plan === null, 15_000);
      assert.equal(kept.name, before.name);
      assert.equal(kept.status.epoch, before.status.epoch, 'one etcd member lost: the term held');
      await sleep(1500);
      assert.equal((await c.status(before.name)).epoch, before.status.epoch);
      await etcd.restart(follower);

      // Raft's leader lost: etcd elects another; the controllers must not interrupt any service.
      const seq = (await c.events(before.name)).length;
      const steady = pids(c, await c.status(before.name));
      const raft2 = await raftLeader(etcd);
      const lostAt = Date.now();
      await etcd.kill(raft2);
      await sleep(4000); // longer than the nodes' 3 s lease: a lapse would show
      const s = await c.waitForLeader('a leader after raft lost its leader', (x) => x.phase === 'running' && x.plan === null, 15_000);
      const events = await c.events(s.name);
      const terms = events.filter((e) => e.seq > seq && e.kind === 'controller' && /leads with epoch/.test(e.message));
      console.log(`raft leader lost: controller term ${s.status.epoch === before.status.epoch ? 'held' : `ended; ${s.name} leads with epoch ${s.status.epoch} from ${terms[0] ? terms[0].at - lostAt : '?'} ms`}`);
      assert.deepEqual(pids(c, s.status), steady, 'no copy restarted');
      assert.deepEqual(events.filter((e) => e.seq > seq && e.kind === 'self-fence'), [], 'no agent lost its lease');
      assert.deepEqual(changes(events.slice(seq)), [], 'nothing acted');
      assertLogWhole(events);
      await etcd.restart(raft2);
      void running;
    });

    it('a majority lost: the controllers stop deciding, leases lapse (stop: web and api stop, keep runs), and all resumes when etcd is back', async () => {
      const before = await c.waitForLeader('steady', (s) => s.plan === null && LoopbackCluster.where(s, 'web').join() === 'n1');
      const keepPid = c.pidOf('n3', 'keep');
      assert.ok(keepPid);
      const seq = (await c.events(before.name)).length;
      const raft = await raftLeader(etcd);
      const others = [0, 1, 2].filter((i) => i !== raft);
      const lostAt = Date.now();
      await etcd.kill(others[0]!);
      await etcd.kill(others[1]!);
      // No controller leads: commands are refused with 503, status still answers.
      for (const name of c.controllerNames) await waitHealth(c, name, (h) => h.role === 'follower', 10_000);
      console.log(`etcd majority lost: every controller follows ${Date.now() - lostAt} ms later`);
      const refused = await c.post('/v1/resources/web/move', { node: 'n2' }, before.name);
      assert.equal(refused.status, 503, JSON.stringify(refused.body));
      // The agents' leases lapse (3 s): what needs quorum stops, `keep` (requires nothing) runs on.
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && (c.pidOf('n1', 'web') !== undefined || c.nodes.some((n) => c.pidOf(n, 'api-p') !== undefined))) await sleep(100);
      assert.equal(c.pidOf('n1', 'web'), undefined, 'web stopped by its agent when the lease lapsed');
      assert.equal(c.pidOf('n2', 'api-p'), undefined);
      assert.equal(c.pidOf('n3', 'keep'), keepPid, 'keep needs nothing: it runs on');
      const f = await c.status(before.name);
      assert.equal(f.role, 'follower');

      for (const i of others) await etcd.restart(i);
      const backAt = Date.now();
      const back = await c.waitForLeader('a leader again, web and api running', (s) => s.phase === 'running' && s.plan === null && LoopbackCluster.where(s, 'web').length === 1 && LoopbackCluster.where(s, 'api-p').length === 3, 30_000);
      console.log(`etcd back: ${back.name} leads with epoch ${back.status.epoch}, services back ${Date.now() - backAt} ms after the members`);
      assert.ok(back.status.epoch > before.status.epoch);
      assert.equal(c.pidOf('n3', 'keep'), keepPid, 'keep was never restarted');
      const events = await c.events(back.name);
      assertLogWhole(events);
      // Each stopped copy started once again, no more (a start an agent refused because its lease
      // had not been renewed yet did not run, and is tried again).
      const starts = events.slice(seq).filter((e) => e.kind === 'action' && /^start /.test(e.message)).map((e) => e.message);
      assert.equal(starts.filter((m) => /^start web@/.test(m)).length, 1, starts.join('\n'));
      assert.equal(starts.filter((m) => /^start api-p@/.test(m)).length, 3, starts.join('\n'));
      assert.equal(starts.filter((m) => /^start keep@/.test(m)).length, 0, starts.join('\n'));
    });
  });
});

/** Which etcd member is raft's leader now. */
async function raftLeader(cluster: EtcdCluster): Promise<number> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    for (let i = 0; i < 3; i++) {
      if (cluster.pid(i) === undefined) continue;
      const client = new Etcd3({ hosts: [cluster.endpoint(i)], defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 1000 }) });
      try {
        const st = await client.maintenance.status();
        if (st.leader === st.header.member_id) return i;
      } catch {
        // not answering: not the leader
      } finally {
        client.close();
      }
    }
    await sleep(100);
  }
  throw new Error('no raft leader');
}

/** Runs the real `haven` CLI; resolves with its exit code and output. */
function haven(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [fileURLToPath(new URL('../../../bin/haven.js', import.meta.url)), ...args], { timeout: 30_000, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

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
