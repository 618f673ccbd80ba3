// Fencing topology with fake agents: levels in order, every device of a level must succeed,
// reboot across several devices, verify after off, unfencing, and the attempt record.

import assert from 'node:assert/strict';
import { after, beforeEach, describe, it } from 'node:test';
import type { Config, FenceDevice } from '../model/config.js';
import { fakeAgents } from './fake-agent.test-support.js';
import { fenceLevels, fenceNode, unfenceDevices, unfenceNode, type FenceAttempt } from './topology.js';

let fake = fakeAgents();
after(() => fake.cleanup());
beforeEach(() => {
  fake.cleanup();
  fake = fakeAgents();
});

function config(devices: FenceDevice[], topology?: Config['fenceTopology']): Pick<Config, 'fenceDevices' | 'fenceTopology'> {
  return { fenceDevices: devices, ...(topology ? { fenceTopology: topology } : {}) };
}
const opts = (): { defaultTimeoutMs: number; agentDir: string } => ({ defaultTimeoutMs: 5000, agentDir: fake.dir });

describe('fenceLevels', () => {
  it('takes the node topology levels in order', () => {
    const a = fake.device('ipmi-n1', ['n1']);
    const b = fake.device('pdu', ['n1', 'n2']);
    const f = fenceLevels(config([b, a], [{ node: 'n1', levels: [['ipmi-n1'], ['pdu']] }]), 'n1');
    assert.equal(f.fromTopology, true);
    assert.deepEqual(
      f.levels.map((l) => [l.index, l.devices.map((d) => d.id)]),
      [
        [1, ['ipmi-n1']],
        [2, ['pdu']],
      ],
    );
  });

  it('without a topology, each device listing the node is a level, in configured order', () => {
    const a = fake.device('a', ['n1']);
    const b = fake.device('b', ['n2']);
    const c = fake.device('c', ['n1', 'n2']);
    const f = fenceLevels(config([a, b, c], [{ node: 'n2', levels: [['b']] }]), 'n1');
    assert.equal(f.fromTopology, false);
    assert.deepEqual(
      f.levels.map((l) => l.devices.map((d) => d.id)),
      [['a'], ['c']],
    );
  });
});

describe('fenceNode', () => {
  it('uses the first level when it works, and only it', async () => {
    const cfg = config([fake.device('ipmi', ['n1']), fake.device('pdu', ['n1'])], [{ node: 'n1', levels: [['ipmi'], ['pdu']] }]);
    const seen: FenceAttempt[] = [];
    const r = await fenceNode(fenceLevels(cfg, 'n1'), 'off', { ...opts(), onAttempt: (a) => void seen.push(a) });
    assert.equal(r.ok, true);
    assert.equal(r.level, 1);
    assert.deepEqual(r.devices, ['ipmi']);
    assert.deepEqual(fake.calls(), ['ipmi off n1']);
    assert.equal(fake.power('n1'), 'off');
    assert.deepEqual(
      seen.map((a) => [a.level, a.device, a.action, a.rc, a.ok]),
      [[1, 'ipmi', 'off', 0, true]],
    );
  });

  it('falls through to the next level when a level fails, and says why', async () => {
    const cfg = config([fake.device('ipmi', ['n1'], { mode: 'fail' }), fake.device('pdu', ['n1'])], [{ node: 'n1', levels: [['ipmi'], ['pdu']] }]);
    const r = await fenceNode(fenceLevels(cfg, 'n1'), 'off', opts());
    assert.equal(r.ok, true);
    assert.equal(r.level, 2);
    assert.deepEqual(fake.calls(), ['ipmi off n1', 'pdu off n1']);
    assert.deepEqual(
      r.attempts.map((a) => [a.level, a.device, a.ok, a.rc]),
      [
        [1, 'ipmi', false, 1],
        [2, 'pdu', true, 0],
      ],
    );
  });

  it('needs every device of a level: one failing fails the level', async () => {
    const cfg = config(
      [fake.device('psu-a', ['n1']), fake.device('psu-b', ['n1'], { mode: 'fail' }), fake.device('psu-c', ['n1'])],
      [{ node: 'n1', levels: [['psu-a', 'psu-b', 'psu-c']] }],
    );
    const r = await fenceNode(fenceLevels(cfg, 'n1'), 'off', opts());
    assert.equal(r.ok, false);
    assert.deepEqual(fake.calls(), ['psu-a off n1', 'psu-b off n1']);
    assert.match(r.why ?? '', /level 1: psu-b off failed \(rc 1: Failed: the BMC said no\)/);
  });

  it('counts a level of two devices only when both succeed', async () => {
    const cfg = config([fake.device('psu-a', ['n1']), fake.device('psu-b', ['n1'])], [{ node: 'n1', levels: [['psu-a', 'psu-b']] }]);
    const r = await fenceNode(fenceLevels(cfg, 'n1'), 'off', opts());
    assert.equal(r.ok, true);
    assert.deepEqual(r.devices, ['psu-a', 'psu-b']);
    assert.deepEqual(fake.calls(), ['psu-a off n1', 'psu-b off n1']);
  });

  it('reboots a level of several devices as all off, then all on', async () => {
    const cfg = config([fake.device('psu-a', ['n1']), fake.device('psu-b', ['n1'])], [{ node: 'n1', levels: [['psu-a', 'psu-b']] }]);
    const r = await fenceNode(fenceLevels(cfg, 'n1'), 'reboot', opts());
    assert.equal(r.ok, true);
    assert.deepEqual(fake.calls(), ['psu-a off n1', 'psu-b off n1', 'psu-a on n1', 'psu-b on n1']);
  });

  it('reboots a one-device level with the agent own reboot', async () => {
    const r = await fenceNode(fenceLevels(config([fake.device('ipmi', ['n1'])]), 'n1'), 'reboot', opts());
    assert.equal(r.ok, true);
    assert.deepEqual(fake.calls(), ['ipmi reboot n1']);
  });

  it('with verify, asks status after off and refuses a node still on', async () => {
    const liar = fake.device('liar', ['n1'], { mode: 'still-on' }, { verify: true });
    const honest = fake.device('honest', ['n1'], {}, { verify: true });
    const r = await fenceNode(fenceLevels(config([liar, honest]), 'n1'), 'off', opts());
    assert.equal(r.ok, true);
    assert.equal(r.level, 2);
    assert.deepEqual(fake.calls(), ['liar off n1', 'liar status n1', 'honest off n1', 'honest status n1']);
    assert.match(r.why ?? '', /^$/);
    assert.deepEqual(
      r.attempts.map((a) => [a.device, a.action, a.rc, a.power ?? '-']),
      [
        ['liar', 'off', 0, '-'],
        ['liar', 'status', 0, 'on'],
        ['honest', 'off', 0, '-'],
        ['honest', 'status', 2, 'off'],
      ],
    );
  });

  it('without verify, trusts the agent exit code (no second status)', async () => {
    const r = await fenceNode(fenceLevels(config([fake.device('ipmi', ['n1'])]), 'n1'), 'off', opts());
    assert.equal(r.ok, true);
    assert.deepEqual(fake.calls(), ['ipmi off n1']);
  });

  it('fails with a reason when no device can fence the node', async () => {
    const r = await fenceNode(fenceLevels(config([fake.device('ipmi', ['n2'])]), 'n1'), 'off', opts());
    assert.equal(r.ok, false);
    assert.equal(r.why, 'no fence device can fence n1');
    assert.deepEqual(fake.calls(), []);
  });

  it('fails when every level fails, naming each', async () => {
    const cfg = config([fake.device('a', ['n1'], { mode: 'fail' }), fake.device('b', ['n1'], { mode: 'hang' }, { timeout: 200 })]);
    const r = await fenceNode(fenceLevels(cfg, 'n1'), 'off', opts());
    assert.equal(r.ok, false);
    assert.match(r.why ?? '', /level 1: a off failed \(rc 1: .*\); level 2: b off failed \(timed out: timed out after 200 ms\)/);
  });
});

describe('unfencing', () => {
  it('runs on with the unfence devices only, in topology order', async () => {
    const ipmi = fake.device('ipmi', ['n1']);
    const scsi = fake.device('scsi', ['n1', 'n2'], {}, { unfence: true });
    const mpath = fake.device('mpath', ['n1'], {}, { unfence: true });
    const cfg = config([mpath, ipmi, scsi], [{ node: 'n1', levels: [['ipmi', 'scsi'], ['mpath']] }]);
    assert.deepEqual(
      unfenceDevices(cfg, 'n1').map((d) => d.id),
      ['scsi', 'mpath'],
    );
    const r = await unfenceNode(cfg, 'n1', opts());
    assert.equal(r.ok, true);
    assert.deepEqual(fake.calls(), ['scsi on n1', 'mpath on n1']);
    assert.deepEqual(
      r.attempts.map((a) => [a.level, a.action]),
      [
        [0, 'on'],
        [0, 'on'],
      ],
    );
  });

  it('fails at the first device that refuses', async () => {
    const cfg = config([fake.device('scsi', ['n1'], { mode: 'fail' }, { unfence: true }), fake.device('mpath', ['n1'], {}, { unfence: true })]);
    const r = await unfenceNode(cfg, 'n1', opts());
    assert.equal(r.ok, false);
    assert.deepEqual(fake.calls(), ['scsi on n1']);
  });

  it('succeeds with nothing to do when no device unfences', async () => {
    const r = await unfenceNode(config([fake.device('ipmi', ['n1'])]), 'n1', opts());
    assert.equal(r.ok, true);
    assert.deepEqual(r.attempts, []);
  });
});
