// OCF agents: the environment the OCF API promises, params checked against meta-data, exit
// codes and timeouts, and Debian's own agents run unchanged: ocf:heartbeat:Dummy,
// ocf:pacemaker:Stateful (promote → 8) and ocf:heartbeat:IPaddr2 in a hvtest- namespace.

import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HavenError } from '../errors.js';
import { resourceAgentFor } from './index.js';
import { canMakeNetns, createTestNetns, type TestNetns } from './netns.test-support.js';
import { checkParams, ocfAgent, outcomeOf, parseMetaData, parseOcfKind } from './ocf.js';
import type { OperationContext, ParamValue } from './types.js';

const root = mkdtempSync(join(tmpdir(), 'hvtest-ocf-'));
after(() => rmSync(root, { recursive: true, force: true }));

function ctx(stateDir: string, params: Record<string, ParamValue> = {}, extra: Partial<OperationContext> = {}): OperationContext {
  const timeoutMs = extra.timeoutMs ?? 20_000;
  return { instance: 'r1', primitive: 'r1', params, timeoutMs, intervalMs: 0, signal: AbortSignal.timeout(timeoutMs), stateDir, ...extra };
}

const META = `<?xml version="1.0"?>
<resource-agent name="Fake" version="1.0">
  <parameters>
    <parameter name="ip" unique="1" required="1"><content type="string"/></parameter>
    <parameter name="cidr_netmask"><content type="integer" default="24"/></parameter>
    <parameter name="lvs_support"><content type="boolean" default="false"/></parameter>
  </parameters>
  <actions>
    <action name="start" timeout="20s"/>
    <action name="monitor" timeout="20s" interval="10s"/>
    <action name="monitor" timeout="20s" interval="11s" role="Promoted"/>
    <action name="meta-data" timeout="5s"/>
  </actions>
</resource-agent>`;

describe('OCF names, meta-data and params', () => {
  it('parses ocf:<provider>:<type> and refuses anything else', () => {
    assert.deepEqual(parseOcfKind('ocf:heartbeat:IPaddr2'), { provider: 'heartbeat', type: 'IPaddr2' });
    assert.equal(parseOcfKind('ocf:heartbeat'), undefined);
    assert.equal(parseOcfKind('ocf:..:x'), undefined);
    assert.equal(parseOcfKind('ocf:a/b:c'), undefined);
    assert.throws(() => ocfAgent('ocf:../x:y'), (e: unknown) => e instanceof HavenError && e.code === 'CONFIG_INVALID');
  });

  it('reads parameters and actions from meta-data XML', () => {
    const m = parseMetaData(META);
    assert.deepEqual(m.parameters, [
      { name: 'ip', required: true, type: 'string' },
      { name: 'cidr_netmask', required: false, type: 'integer' },
      { name: 'lvs_support', required: false, type: 'boolean' },
    ]);
    assert.deepEqual(m.actions, ['start', 'monitor', 'meta-data']);
    assert.throws(() => parseMetaData('<nope/>'), /no <resource-agent>/);
  });

  it('wants required params, refuses unknown ones with the closest name, checks integers and booleans', () => {
    const m = parseMetaData(META);
    assert.deepEqual(checkParams('ocf:x:Fake', { cidr_netmsk: 24, lvs_support: 'maybe', 'bad-name': 1 }, m), [
      'ocf:x:Fake: param "ip" is required',
      'ocf:x:Fake: unknown param "cidr_netmsk" (did you mean "cidr_netmask"?)',
      'ocf:x:Fake: param "lvs_support" must be a boolean, not "maybe"',
      'ocf:x:Fake: unknown param "bad-name" (known: ip, cidr_netmask, lvs_support)',
      'ocf:x:Fake: param name "bad-name" cannot be an environment variable name',
    ]);
    assert.deepEqual(checkParams('ocf:x:Fake', { ip: '10.0.0.1', cidr_netmask: 'x' }, m), ['ocf:x:Fake: param "cidr_netmask" must be an integer, not "x"']);
    assert.deepEqual(checkParams('ocf:x:Fake', { ip: '10.0.0.1', cidr_netmask: '16', lvs_support: true }, m), []);
  });

  it('names every exit code in its output; timeouts, signals and codes above 9 are rc 1', () => {
    const base = { stdout: '', stderr: 'why', signal: null, timedOut: false, durationMs: 1 };
    assert.deepEqual(outcomeOf('monitor', 1000, { ...base, code: 7 }), { rc: 7, output: 'monitor: rc 7 (not running): why' });
    assert.equal(outcomeOf('start', 1000, { ...base, code: 5 }).output, 'start: rc 5 (not installed): why');
    assert.equal(outcomeOf('monitor', 1000, { ...base, code: 8 }).output, 'monitor: rc 8 (running promoted): why');
    assert.deepEqual(outcomeOf('start', 1000, { ...base, code: 42 }), { rc: 1, output: 'start: exit 42 (not an OCF exit code), taken as 1 (generic error): why' });
    assert.equal(outcomeOf('start', 1000, { ...base, code: null, signal: 'SIGSEGV' }).rc, 1);
    const t = outcomeOf('stop', 1000, { ...base, code: null, signal: 'SIGKILL', timedOut: true });
    assert.equal(t.rc, 1);
    assert.equal(t.timedOut, true);
    assert.match(t.output, /stop timed out after 1000 ms/);
  });

  it('resourceAgentFor: process, vip, ocf kinds; an unknown kind is CONFIG_INVALID with a hint', () => {
    assert.equal(resourceAgentFor('process').kind, 'process');
    assert.equal(resourceAgentFor('vip').kind, 'vip');
    assert.equal(resourceAgentFor('ocf:heartbeat:Dummy').kind, 'ocf:heartbeat:Dummy');
    assert.equal(resourceAgentFor('ocf:heartbeat:Dummy'), resourceAgentFor('ocf:heartbeat:Dummy'));
    assert.throws(
      () => resourceAgentFor('systemd:nginx'),
      (e: unknown) => e instanceof HavenError && e.code === 'CONFIG_INVALID' && /unknown resource agent kind "systemd:nginx"/.test(e.message) && /ocf:<provider>:<type>/.test(e.hint ?? ''),
    );
  });
});

describe('OCF agents from a test OCF root', () => {
  const ocfRoot = join(root, 'ocf');
  const dir = join(ocfRoot, 'resource.d', 'hvtest');
  before(() => {
    mkdirSync(dir, { recursive: true });
    // Echoes its environment and argv to a file, answers the rc in OCF_RESKEY_rc, and for
    // `start` leaves a background sleeper in its group; `stop` hangs for the timeout test.
    writeFileSync(
      join(dir, 'Probe'),
      `#!/bin/sh
if [ "$1" = meta-data ]; then cat <<'X'
${META.replace('<parameter name="lvs_support">', '<parameter name="rc"><content type="integer"/></parameter><parameter name="out"><content type="string"/></parameter><parameter name="lvs_support">')}
X
exit 0; fi
env | grep -E '^(OCF_|HA_RSCTMP|HA_VARRUN)' | sort > "$OCF_RESKEY_out"
echo "argv1=$1" >> "$OCF_RESKEY_out"
case "$1" in
  stop) sleep 30 & echo $! > "$OCF_RESKEY_out.child"; sleep 30 ;;
  demote) sleep 30 & echo $! > "$OCF_RESKEY_out.child"; exit 0 ;;
esac
echo "doing $1" >&2
exit \${OCF_RESKEY_rc:-0}
`,
    );
    chmodSync(join(dir, 'Probe'), 0o755);
    writeFileSync(join(dir, 'NotExec'), '#!/bin/sh\nexit 0\n');
  });

  it('gives the agent the OCF environment and the action as argv[1]', async () => {
    const a = ocfAgent('ocf:hvtest:Probe', { ocfRoot });
    const out = join(root, 'env.txt');
    const state = join(root, 'copy-env');
    const r = await a.run('monitor', ctx(state, { ip: '10.0.0.1', out, rc: 7 }, { intervalMs: 5000, timeoutMs: 15_000, instance: 'vip:1' }));
    assert.deepEqual(r, { rc: 7, output: 'monitor: rc 7 (not running): doing monitor' });
    const env = readFileSync(out, 'utf8');
    for (const line of [
      `OCF_ROOT=${ocfRoot}`,
      'OCF_RA_VERSION_MAJOR=1',
      'OCF_RA_VERSION_MINOR=1',
      'OCF_RESOURCE_INSTANCE=vip:1',
      'OCF_RESOURCE_TYPE=Probe',
      'OCF_RESOURCE_PROVIDER=hvtest',
      'OCF_RESKEY_ip=10.0.0.1',
      'OCF_RESKEY_rc=7',
      'OCF_RESKEY_CRM_meta_timeout=15000',
      'OCF_RESKEY_CRM_meta_interval=5000',
      `HA_RSCTMP=${state}/rsctmp`,
      `HA_VARRUN=${state}/run`,
      'argv1=monitor',
    ]) {
      assert.ok(env.split('\n').includes(line), `missing ${line} in\n${env}`);
    }
    assert.ok(existsSync(join(state, 'rsctmp')));
    await a.run('start', ctx(state, { ip: '10.0.0.1', out }, { intervalMs: 5000 }));
    assert.ok(readFileSync(out, 'utf8').includes('OCF_RESKEY_CRM_meta_interval=0'), 'only monitors carry an interval');
  });

  it('validates params against meta-data fetched once per agent', async () => {
    const a = ocfAgent('ocf:hvtest:Probe', { ocfRoot });
    assert.equal(a.metaData(), a.metaData());
    assert.deepEqual(await a.validate({ ip: '1.2.3.4' }), []);
    assert.deepEqual(await a.validate({ ipp: '1.2.3.4' }), ['ocf:hvtest:Probe: param "ip" is required', 'ocf:hvtest:Probe: unknown param "ipp" (did you mean "ip"?)']);
  });

  it('a missing or non-executable agent is rc 5 with a clear message', async () => {
    for (const kind of ['ocf:hvtest:Missing', 'ocf:hvtest:NotExec']) {
      const a = ocfAgent(kind, { ocfRoot });
      const r = await a.run('start', ctx(join(root, 'copy-missing')));
      assert.equal(r.rc, 5);
      assert.match(r.output, new RegExp(`${kind} is not installed: no executable .*resource\\.d/hvtest/`));
      assert.match((await a.validate({}))[0] ?? '', /is not installed/);
    }
    assert.match((await resourceAgentFor('ocf:heartbeat:NoSuchAgent').run('start', ctx(join(root, 'x')))).output, /apt-get install resource-agents/);
  });

  it('a timeout kills the whole process group and answers rc 1 with timedOut', async () => {
    const a = ocfAgent('ocf:hvtest:Probe', { ocfRoot });
    const out = join(root, 'stop.txt');
    const t0 = performance.now();
    const r = await a.run('stop', ctx(join(root, 'copy-timeout'), { ip: '1', out }, { timeoutMs: 500 }));
    const took = performance.now() - t0;
    assert.equal(r.rc, 1);
    assert.equal(r.timedOut, true);
    assert.match(r.output, /stop timed out after 500 ms; its process group was killed/);
    assert.ok(took < 3000, `took ${took} ms`);
    const child = Number(readFileSync(`${out}.child`, 'utf8'));
    await sleep(100);
    // Killed means gone or a zombie waiting for pid 1 to reap it.
    const stat = existsSync(`/proc/${child}/stat`) ? readFileSync(`/proc/${child}/stat`, 'utf8') : '';
    assert.ok(stat === '' || /\) [ZX] /.test(stat), `the background child of the agent must be killed too: ${stat}`);
  });

  it('answers when the agent exits even if a process it left holds its output open', async () => {
    const a = ocfAgent('ocf:hvtest:Probe', { ocfRoot });
    const t0 = performance.now();
    const out = join(root, 'd.txt');
    const r = await a.run('demote', ctx(join(root, 'copy-daemon'), { ip: '1', out }));
    const took = performance.now() - t0;
    process.kill(Number(readFileSync(`${out}.child`, 'utf8')), 'SIGKILL');
    assert.equal(r.rc, 0);
    assert.ok(took < 2000, 'must not wait for the left-behind sleeper');
  });
});

describe('Debian resource agents, unchanged', () => {
  const installed = (p: string): boolean => existsSync(`/usr/lib/ocf/resource.d/${p}`);

  it('ocf:heartbeat:Dummy: probe 7, start 0, monitor 0, stop 0, monitor 7, stop again 0; state file in the copy state dir', { skip: !installed('heartbeat/Dummy') && 'resource-agents not installed' }, async () => {
    const a = resourceAgentFor('ocf:heartbeat:Dummy');
    const state = join(root, 'dummy');
    assert.deepEqual(await a.validate({ fake: 'x' }), []);
    assert.deepEqual(await a.validate({ fak: 'x' }), ['ocf:heartbeat:Dummy: unknown param "fak" (did you mean "fake"?)']);
    assert.equal((await a.run('monitor', ctx(state))).rc, 7);
    assert.equal((await a.run('start', ctx(state))).rc, 0);
    assert.ok(existsSync(join(state, 'rsctmp', 'Dummy-r1.state')));
    assert.equal((await a.run('monitor', ctx(state, {}, { intervalMs: 10_000 }))).rc, 0);
    // A second copy in another state dir (another lab host on the same filesystem) is separate.
    assert.equal((await a.run('monitor', ctx(join(root, 'dummy-other')))).rc, 7);
    assert.equal((await a.run('stop', ctx(state))).rc, 0);
    assert.equal((await a.run('monitor', ctx(state))).rc, 7);
    assert.equal((await a.run('stop', ctx(state))).rc, 0);
  });

  it('ocf:pacemaker:Stateful: promote makes monitor answer 8, demote 0', { skip: !installed('pacemaker/Stateful') && 'pacemaker-resource-agents not installed' }, async () => {
    const a = resourceAgentFor('ocf:pacemaker:Stateful');
    const state = join(root, 'stateful');
    const rc = async (op: 'start' | 'stop' | 'monitor' | 'promote' | 'demote'): Promise<number> => (await a.run(op, ctx(state))).rc;
    assert.equal(await rc('monitor'), 7);
    assert.equal(await rc('start'), 0);
    assert.equal(await rc('monitor'), 0);
    assert.equal(await rc('promote'), 0);
    assert.equal(await rc('monitor'), 8);
    assert.equal(await rc('demote'), 0);
    assert.equal(await rc('monitor'), 0);
    assert.equal(await rc('stop'), 0);
    assert.equal(await rc('monitor'), 7);
  });

  describe('ocf:heartbeat:IPaddr2 in a network namespace', { skip: (!canMakeNetns() && 'needs root and ip netns') || (!installed('heartbeat/IPaddr2') && 'resource-agents not installed') }, () => {
    let ns: TestNetns;
    before(() => {
      ns = createTestNetns();
    });
    after(() => ns.close());

    it('start adds the address, monitor 0, stop removes it, monitor 7', async () => {
      const ip = `${ns.subnet}.50`;
      const params = { ip, cidr_netmask: 24, nic: ns.dev };
      assert.deepEqual(await resourceAgentFor('ocf:heartbeat:IPaddr2').validate(params), []);
      const has = (): boolean => ns.ip('-4', 'addr', 'show', 'dev', ns.dev).includes(` ${ip}/24 `);
      assert.equal((await ns.run('ocf:heartbeat:IPaddr2', 'monitor', params)).rc, 7);
      const s = await ns.run('ocf:heartbeat:IPaddr2', 'start', params);
      assert.equal(s.rc, 0, s.output);
      console.log(`# IPaddr2 start took ${s.ms.toFixed(0)} ms`);
      assert.ok(has());
      assert.equal((await ns.run('ocf:heartbeat:IPaddr2', 'monitor', params)).rc, 0);
      assert.equal((await ns.run('ocf:heartbeat:IPaddr2', 'stop', params)).rc, 0);
      assert.equal(has(), false);
      assert.equal((await ns.run('ocf:heartbeat:IPaddr2', 'monitor', params)).rc, 7);
    });
  });
});
