// The fence-agents protocol as Haven speaks it: key=value lines on stdin (never the params in
// argv), exit codes read as fence-agents define them, timeouts, and secrets masked in whatever
// comes back. Runs a fake agent (a shell script) in a temporary directory.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { fakeAgents } from './fake-agent.test-support.js';
import { fenceCommand, fenceInput, interpretRc, maskedParams, maskSecrets, runFenceDevice } from './fencer.js';

const fake = fakeAgents();
after(() => fake.cleanup());
const opts = { timeoutMs: 5000, agentDir: fake.dir };

describe('fence agent input', () => {
  it('is the action, the plug and the params, one key=value a line', () => {
    const text = fenceInput({ params: { ip: '10.0.0.1', lanplus: 0, password: 'pw' } }, 'off', 'h1');
    assert.equal(text, 'action=off\nplug=h1\nnodename=h1\nip=10.0.0.1\nlanplus=0\npassword=pw\n');
  });

  it('lets no param override the action or plug, nor smuggle a line in', () => {
    const text = fenceInput({ params: { action: 'on', plug: 'h9', evil: 'x\naction=on' } }, 'off', 'h1');
    assert.equal(text, 'action=off\nplug=h1\nnodename=h1\n');
  });

  it('has no plug for device-wide actions', () => {
    assert.equal(fenceInput({}, 'monitor'), 'action=monitor\n');
  });

  it('runs fence_* agents from the agent directory with no arguments', () => {
    assert.deepEqual(fenceCommand({ agent: 'fence_ipmilan' }), ['/usr/sbin/fence_ipmilan']);
    assert.deepEqual(fenceCommand({ agent: 'fence_ipmilan' }, '/opt/fence'), ['/opt/fence/fence_ipmilan']);
  });
});

describe('exit codes', () => {
  it('status: 0 on, 2 off, anything else an error', () => {
    assert.deepEqual(interpretRc('status', 0), { ok: true, power: 'on' });
    assert.deepEqual(interpretRc('status', 2), { ok: true, power: 'off' });
    assert.deepEqual(interpretRc('status', 1), { ok: false });
    assert.deepEqual(interpretRc('status', null), { ok: false });
  });

  it('every other action: 0 is success, anything else a failure', () => {
    for (const a of ['off', 'on', 'reboot', 'monitor', 'list', 'metadata'] as const) {
      assert.deepEqual(interpretRc(a, 0), { ok: true });
      assert.deepEqual(interpretRc(a, 2), { ok: false }, a);
      assert.deepEqual(interpretRc(a, 1), { ok: false });
    }
  });
});

describe('runFenceDevice', () => {
  it('powers a plug off and reads its status back as off (rc 2)', async () => {
    const d = fake.device('d1', ['n1']);
    const off = await runFenceDevice(d, 'off', 'n1', opts);
    assert.equal(off.ok, true);
    assert.equal(off.rc, 0);
    assert.match(off.output, /Powered OFF/);
    const st = await runFenceDevice(d, 'status', 'n1', opts);
    assert.deepEqual([st.ok, st.rc, st.power], [true, 2, 'off']);
    await runFenceDevice(d, 'on', 'n1', opts);
    const on = await runFenceDevice(d, 'status', 'n1', opts);
    assert.deepEqual([on.ok, on.rc, on.power], [true, 0, 'on']);
  });

  it('runs monitor, list and metadata without a plug', async () => {
    const d = fake.device('d1', ['n1']);
    assert.equal((await runFenceDevice(d, 'monitor', undefined, opts)).ok, true);
    const list = await runFenceDevice(d, 'list', undefined, opts);
    assert.equal(list.output, 'h1,h1\nh2,h2');
    assert.match((await runFenceDevice(d, 'metadata', undefined, opts)).output, /resource-agent name="fence_fake"/);
    assert.doesNotMatch(fake.lastStdin(), /plug=/);
  });

  it('reports a failing agent with its exit code and message', async () => {
    const r = await runFenceDevice(fake.device('bad', ['n1'], { mode: 'fail' }), 'off', 'n1', opts);
    assert.deepEqual([r.ok, r.rc, r.timedOut], [false, 1, false]);
    assert.match(r.output, /the BMC said no/);
  });

  it('kills an agent at its timeout', async () => {
    const t0 = Date.now();
    const r = await runFenceDevice(fake.device('slow', ['n1'], { mode: 'hang' }), 'off', 'n1', { ...opts, timeoutMs: 300 });
    assert.deepEqual([r.ok, r.rc, r.timedOut], [false, null, true]);
    assert.match(r.output, /timed out after 300 ms/);
    assert.ok(Date.now() - t0 < 5000);
  });

  it('reports an agent that does not exist', async () => {
    const r = await runFenceDevice({ id: 'x', agent: 'fence_nothing_here', nodes: ['n1'] }, 'off', 'n1', opts);
    assert.equal(r.ok, false);
    assert.equal(r.rc, null);
    assert.match(r.output, /cannot run .*fence_nothing_here/);
  });

  it('gives the password on stdin only, and masks it in what comes back', async () => {
    const d = fake.device('ipmi', ['n1'], { password: 'S3cret-pw' });
    const r = await runFenceDevice(d, 'off', 'n1', opts);
    assert.equal(r.ok, true);
    assert.match(fake.lastStdin(), /^password=S3cret-pw$/m);
    assert.doesNotMatch(fake.lastArgv(), /S3cret/);
    assert.doesNotMatch(r.output, /S3cret/);
    assert.match(r.output, /password \*\*\*\*/);
  });
});

describe('secrets', () => {
  it('masks every param whose name says it is a secret', () => {
    const d = { params: { password: 'a1', passwd: 'b2', snmp_community: 'c3', hexadecimal_kg: 'd4', api_token: 'e5', ip: '10.0.0.1', login: 'admin' } };
    assert.deepEqual(maskedParams(d), { password: '****', passwd: '****', snmp_community: '****', hexadecimal_kg: '****', api_token: '****', ip: '10.0.0.1', login: 'admin' });
    assert.equal(maskSecrets(d, 'a1 b2 c3 d4 e5 admin'), '**** **** **** **** **** admin');
  });
});
