// The controller and agents as real processes on loopback: ordered group start, a killed
// service restarted in place and then moved at the migration threshold, a controller restart
// that restarts nothing, operator moves and bans that say how long they last, bad requests
// refused without effect. (Power off, cut rings and fencing: test/lab.)

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LoopbackCluster } from './harness.js';

const where = LoopbackCluster.where;
const sleepProcess = (id: string, seconds: number, extra: Record<string, unknown> = {}) => ({
  type: 'primitive',
  id,
  agent: 'process',
  params: { command: 'sleep', args: String(seconds) },
  operations: [{ name: 'monitor', interval: '1s', timeout: '5s' }],
  ...extra,
});

describe('a cluster on loopback', { timeout: 180_000 }, () => {
  let c: LoopbackCluster;
  before(async () => {
    c = new LoopbackCluster({
      nodes: 3,
      resources: [
        {
          type: 'group',
          id: 'compute-stack',
          members: [sleepProcess('ovs-agent', 100001), sleepProcess('ceilometer', 100002), sleepProcess('nova-compute', 100003)],
        },
        sleepProcess('web', 100004, { migrationThreshold: 2, stickiness: 100 }),
        { type: 'primitive', id: 'dummy', agent: 'ocf:heartbeat:Dummy', operations: [{ name: 'monitor', interval: '1s', timeout: '10s' }] },
      ],
    });
    await c.start();
  });
  after(async () => {
    await c?.close();
  });

  it('starts a group in order on one node (ovs-agent → ceilometer → nova-compute)', async () => {
    const s = await c.waitFor('the stack running', (x) => ['ovs-agent', 'ceilometer', 'nova-compute'].every((r) => where(x, r).length === 1));
    const nodes = new Set(['ovs-agent', 'ceilometer', 'nova-compute'].map((r) => where(s, r)[0]));
    assert.equal(nodes.size, 1, 'every member on the same node');
    const events = await c.events();
    const done = (r: string) => events.findIndex((e) => e.kind === 'action' && e.message.startsWith(`start ${r}@`));
    assert.ok(done('ovs-agent') >= 0 && done('ovs-agent') < done('ceilometer') && done('ceilometer') < done('nova-compute'), 'started in order');
    for (const r of ['ovs-agent', 'ceilometer', 'nova-compute']) assert.ok(c.pidOf([...nodes][0]!, r), `${r} has a live process`);
  });

  it('restarts a killed service in place, then moves it at the migration threshold', async () => {
    let s = await c.waitFor('web running', (x) => where(x, 'web').length === 1);
    const home = where(s, 'web')[0]!;
    const pid1 = c.pidOf(home, 'web');
    assert.ok(pid1, 'web has a live process');
    process.kill(pid1, 'SIGKILL');
    s = await c.waitFor('web restarted in place', (x) => (x.status.failures ?? []).some((f) => f.resource === 'web' && f.count === 1) && where(x, 'web').length === 1 && x.plan === null);
    assert.deepEqual(where(s, 'web'), [home], 'restarted on the same node');
    const pid2 = c.pidOf(home, 'web');
    assert.ok(pid2 && pid2 !== pid1, 'a new process');

    process.kill(pid2, 'SIGKILL');
    s = await c.waitFor('web moved', (x) => where(x, 'web').length === 1 && where(x, 'web')[0] !== home && x.plan === null);
    const failure = (s.status.failures ?? []).find((f) => f.resource === 'web' && f.node === home);
    assert.equal(failure?.count, 2);
    const events = await c.events();
    assert.ok(events.some((e) => e.kind === 'failure' && e.resource === 'web'), 'the failure is in the event log');
  });

  it('a controller restart restarts nothing', async () => {
    const before = await c.waitFor('idle', (x) => x.plan === null);
    const pids = new Map<string, number | undefined>();
    for (const r of ['ovs-agent', 'ceilometer', 'nova-compute', 'web']) pids.set(r, c.pidOf(where(before, r)[0]!, r));
    const lastSeq = (await c.events()).at(-1)?.seq ?? 0;
    await c.stopController();
    c.startController();
    const s = await c.waitFor('the new controller settled and idle', (x) => x.epoch === before.epoch + 1 && x.phase === 'running' && x.plan === null && x.nodes.every((n) => n.probed));
    for (const r of ['ovs-agent', 'ceilometer', 'nova-compute', 'web']) {
      assert.deepEqual(where(s, r), where(before, r), `${r} stays where it ran`);
      assert.equal(c.pidOf(where(s, r)[0]!, r), pids.get(r), `${r} is the same process`);
    }
    const after = (await c.events()).filter((e) => e.seq > lastSeq);
    const acted = after.filter((e) => e.kind === 'action' && /^(start|stop) /.test(e.message));
    assert.deepEqual(acted.map((e) => e.message), [], 'no start or stop after the restart');
    assert.equal((s.status.failures ?? []).find((f) => f.resource === 'web')?.count, 2, 'fail counts survive the restart');
  });

  it('a ban moves the resource, says how long it lasts, and clears', async () => {
    const s0 = await c.waitFor('idle', (x) => x.plan === null);
    const from = where(s0, 'web')[0]!;
    const r = await c.post('/v1/resources/web/ban', { node: from, lifetime: '10m' });
    assert.equal(r.status, 200);
    const s = await c.waitFor('web away from the banned node', (x) => where(x, 'web').length === 1 && where(x, 'web')[0] !== from && x.plan === null);
    const ban = s.operatorConstraints.find((x) => x.resource === 'web');
    assert.ok(ban?.expires && ban.expires - Date.now() > 9 * 60_000, 'the ban lasts 10 minutes');
    const cleared = await c.post('/v1/resources/web/clear', {});
    assert.deepEqual(cleared.body, { cleared: 1 });
  });

  it("runs Debian's OCF Dummy agent unchanged, and restarts it through the API", async () => {
    const s = await c.waitFor('dummy running', (x) => where(x, 'dummy').length === 1 && x.plan === null);
    const node = where(s, 'dummy')[0]!;
    assert.deepEqual(s.status.resources?.['dummy']?.[node]?.monitors, [1000], 'its monitor runs');
    const lastSeq = (await c.events()).at(-1)?.seq ?? 0;
    assert.equal((await c.post('/v1/resources/dummy/restart', {})).status, 200);
    await c.waitFor('dummy running again', (x) => where(x, 'dummy').length === 1 && x.plan === null && x.restarting.length === 0);
    const acted = (await c.events()).filter((e) => e.seq > lastSeq && e.kind === 'action').map((e) => e.message.split(' done')[0] ?? '');
    assert.ok(acted.some((m) => m.startsWith('stop dummy@')) && acted.some((m) => m.startsWith('start dummy@')), `stopped and started again: ${acted.join('; ')}`);
  });

  it('refuses bad requests and changes nothing', async () => {
    const before = await c.status();
    for (const [path, body] of [
      ['/v1/resources/web/ban', { node: 'nowhere' }],
      ['/v1/resources/nope/move', {}],
      ['/v1/resources/web/ban', { node: 'n1', lifetime: 'forever' }],
      ['/v1/agents/report', { node: 'n1', events: 'x' }],
      ['/v1/nodes/n1/explode', {}],
    ] as const) {
      const r = await c.post(path, body);
      assert.ok(r.status >= 400 && r.status < 500, `${path} ${JSON.stringify(body)} → ${r.status}`);
      assert.ok(typeof (r.body as { message?: unknown }).message === 'string');
    }
    const after = await c.status();
    assert.deepEqual(after.operatorConstraints, before.operatorConstraints);
    assert.deepEqual(after.status.resources, before.status.resources);
  });
});
