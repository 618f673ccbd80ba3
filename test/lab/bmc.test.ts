// Fencing lab hosts through their simulated BMCs, with the real pieces: Debian's fence_ipmilan
// (IPMI 1.5 LAN, lanplus off) talking to ipmi_sim, whose chassis control powers the host off.
// The BMCs answer the controller only; a manual fence (`haven fence`) and a fence the controller
// decides both go through level 1 (the BMC), a BMC that does not answer falls back to level 2
// (the lab's power switch), every attempt is in the fence history, and the BMC password appears
// nowhere: logs, events, history, status, lab status, error messages.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ControllerSnapshot } from '../../src/controller/controller.js';
import { parseConfig } from '../../src/config/load.js';
import type { FenceRecord } from '../../src/store/fence-history.js';
import type { ControllerEvent } from '../../src/store/store.js';
import { canRunLab, makeLab, waitFor, type Run, type TestLab } from './support.js';

const skip = canRunLab() && existsSync('/usr/bin/ipmi_sim') && existsSync('/usr/sbin/fence_ipmilan') && existsSync('/usr/bin/ipmitool') ? false : 'needs root, ip, nft, ipmi_sim, ipmitool and fence_ipmilan';

describe('fencing through the lab BMCs (fence_ipmilan → ipmi_sim)', { skip, timeout: 240_000 }, () => {
  let lab: TestLab;
  let password = '';
  let controllerNs = '';
  /** Every command's output, to look for the password at the end. */
  const outputs: string[] = [];
  const cli = (args: string[], opts: { input?: string } = {}): Run => {
    const r = lab.haven(args, { ...opts, env: { HAVEN_CONTROLLER: `unix:${join(lab.dir, lab.name, 'controller.sock')}` } });
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  // `lab.haven` puts --name after the first two words: for operator commands, pass the endpoint instead.
  const op = (args: string[]): Run => {
    const r = spawnSync(process.execPath, [join(process.cwd(), 'bin', 'haven.js'), ...args, '--controller', `unix:${join(lab.dir, lab.name, 'controller.sock')}`], { encoding: 'utf8', timeout: 60_000 });
    const run = { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: 0 };
    outputs.push(run.stdout, run.stderr);
    return run;
  };
  const json = <T>(args: string[]): T => {
    const r = op(args);
    if (r.code !== 0) throw new Error(`haven ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  const status = (): ControllerSnapshot => json<ControllerSnapshot>(['status', '--json']);
  const history = (): FenceRecord[] => json<FenceRecord[]>(['fence', 'history', '--json']);
  const power = (host: string): string => {
    const r = cli(['lab', 'status', '--json']);
    if (r.code !== 0) throw new Error(`haven lab status exited ${r.code}: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { hosts: { name: string; power: string }[] }).hosts.find((h) => h.name === host)!.power;
  };
  const allOnline = (): boolean => status().nodes.every((n) => n.state === 'online' && n.probed);
  const ipmilan = (action: string, host: string, ns = controllerNs): { code: number | null; out: string } => {
    const state = parseConfig(readFileSync(join(lab.dir, lab.name, 'lab.yaml'), 'utf8'), 'lab.yaml');
    assert.ok(state.ok);
    const dev = state.config.fenceDevices!.find((d) => d.id === `ipmi-${host}`)!;
    const input = `action=${action}\n${Object.entries(dev.params ?? {})
      .map(([k, v]) => `${k}=${String(v)}`)
      .join('\n')}\n`;
    const r = spawnSync('ip', ['netns', 'exec', ns, '/usr/sbin/fence_ipmilan'], { input, encoding: 'utf8', timeout: 30_000, env: { ...process.env, PYTHONWARNINGS: 'ignore' } });
    return { code: r.status, out: r.stdout + r.stderr };
  };

  before(async () => {
    lab = await makeLab('bmc', ['--hosts', '2', '--rings', '1']);
    password = readFileSync(join(lab.dir, lab.name, 'bmc', 'password'), 'utf8').trim();
    controllerNs = await lab.ns('controller');
    assert.match(password, /^[A-Za-z0-9_-]{16}$/);
    await waitFor('both nodes online', allOnline, 30_000);
  });
  after(() => lab?.close());

  it('starts a BMC per host that the real fence_ipmilan reaches from the controller, and nothing else does', async () => {
    const st = JSON.parse(cli(['lab', 'status', '--json']).stdout) as { bmcs: { host: string; address: string; alive: boolean }[] };
    const state = await lab.state();
    assert.deepEqual(
      st.bmcs.map((b) => [b.host, b.address, b.alive]),
      [
        ['h1', `10.${200 + state.id}.254.1`, true],
        ['h2', `10.${200 + state.id}.254.2`, true],
      ],
    );
    const t0 = performance.now();
    const s = ipmilan('status', 'h1');
    assert.equal(s.code, 0, s.out);
    assert.match(s.out, /Status: ON/);
    const took = performance.now() - t0;
    assert.ok(took < 10_000, `status took ${took} ms`);
    // A host has no route to the management network; the client neither.
    for (const h of ['h1', 'h2', 'client']) {
      const r = spawnSync('ip', ['-n', await lab.ns(h), 'route', 'get', `10.${200 + state.id}.254.1`], { encoding: 'utf8' });
      assert.notEqual(r.status, 0, `${h} must not reach the BMCs: ${r.stdout}`);
    }
    // The wrong password is refused by the BMC.
    const bad = spawnSync('ip', ['netns', 'exec', controllerNs, '/usr/sbin/fence_ipmilan'], {
      input: `action=status\nip=10.${200 + state.id}.254.1\nusername=admin\npassword=wrong\nlanplus=0\npower_wait=0\n`,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, PYTHONWARNINGS: 'ignore' },
    });
    assert.notEqual(bad.status, 0);
    assert.equal(power('h1'), 'on');
    // The controller's view: every device answers its monitor; params masked.
    const devices = op(['fence', 'devices', '--check']);
    assert.equal(devices.code, 0, devices.stdout + devices.stderr);
    assert.match(devices.stdout, /^ipmi-h1 {2}fence_ipmilan {2}fences h1 \(level 1\) {2}timeout 5000 ms$/m);
    assert.match(devices.stdout, /^lab-power {2}lab {2}fences h1 \(level 2\), h2 \(level 2\)/m);
    assert.match(devices.stdout, /password=\*\*\*\*/);
    assert.equal((devices.stdout.match(/monitor: ok in \d+ ms/g) ?? []).length, 3);
  });

  it('haven fence NODE --yes powers the host off through its BMC (level 1), and records it', async (t) => {
    const refused = op(['fence', 'h2']);
    assert.equal(refused.code, 2, 'no --yes: refused');
    assert.equal(power('h2'), 'on');
    // Whatever happens below, h2 is on again for the next tests (quorum needs it).
    t.after(async () => {
      cli(['lab', 'power', 'on', 'h2']);
      await waitFor('h2 back online', allOnline, 60_000);
    });
    const r = op(['fence', 'h2', '--yes', '--reason', 'lab test: manual fence']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^h2 fenced by ipmi-h2 at level 1 in \d+ ms\n$/);
    assert.equal(power('h2'), 'off');
    assert.equal(ipmilan('status', 'h2').code, 2, 'the BMC says off (fence-agents: status exit 2)');
    // Only this request's records (on a loaded machine the controller may have fenced on its own).
    const h = history().filter((x) => x.reason === 'lab test: manual fence');
    assert.equal(h.length, 1);
    assert.deepEqual(
      [h[0]!.node, h[0]!.requested, h[0]!.action, h[0]!.level, h[0]!.device, h[0]!.agent, h[0]!.result, h[0]!.rc, h[0]!.reason],
      ['h2', 'off', 'off', 1, 'ipmi-h2', 'fence_ipmilan', 'ok', 0, 'lab test: manual fence'],
    );
    assert.match(h[0]!.requestedBy, /^operator/);
    assert.equal(status().nodes.find((n) => n.name === 'h2')?.state, 'fenced');
    const text = op(['fence', 'history', '--node', 'h2']).stdout;
    assert.match(text, /h2\s+off\s+1\s+ipmi-h2\s+ok\s+0\s+\d+ ms\s+operator.*lab test: manual fence/);
  });

  it('the controller fences a host it lost through fence_ipmilan, and records why', async () => {
    const before = history().length;
    const cut = cli(['lab', 'cut', 'h1', '--ring', '0']);
    assert.equal(cut.code, 0, cut.stderr);
    await waitFor('h1 powered off by its fence', () => power('h1') === 'off', 30_000);
    const mine = await waitFor('the fence recorded', () => {
      const h = history()
        .slice(before)
        .filter((r) => r.node === 'h1');
      return h.some((r) => r.result === 'ok') ? h : undefined;
    });
    assert.deepEqual(
      mine.map((r) => [r.node, r.level, r.device, r.result, r.requestedBy]),
      [['h1', 1, 'ipmi-h1', 'ok', 'controller']],
    );
    assert.match(mine[0]!.reason, /ring/);
    const events = op(['events', '--json'])
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ControllerEvent);
    assert.ok(
      events.some((e) => e.kind === 'fenced' && /h1 fenced by ipmi-h1 \(level 1\) in \d+ ms/.test(e.message)),
      events.map((e) => e.message).join('\n'),
    );
    cli(['lab', 'heal']);
    assert.equal(cli(['lab', 'power', 'on', 'h1']).code, 0);
    await waitFor('h1 back online', allOnline, 30_000);
  });

  it('falls back to the lab power switch (level 2) when a BMC does not answer', async () => {
    const state = await lab.state();
    const bmc = state.bmc!.hosts.find((b) => b.host === 'h2')!;
    // The lab started this ipmi_sim; the test stops it (checked to be that process first).
    assert.equal(readFileSync(`/proc/${bmc.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19], bmc.startTime);
    process.kill(bmc.pid!, 'SIGKILL');
    const before = history().length;
    const r = op(['fence', 'h2', '--yes', '--reason', 'BMC down']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^h2 fenced by lab-power at level 2/);
    assert.equal(power('h2'), 'off');
    const mine = history()
      .slice(before)
      .filter((x) => x.reason === 'BMC down');
    assert.deepEqual(
      mine.map((x) => [x.level, x.device, x.result === 'ok' ? 'ok' : 'not ok']),
      [
        [1, 'ipmi-h2', 'not ok'],
        [2, 'lab-power', 'ok'],
      ],
    );
    assert.equal(mine[0]!.request, mine[1]!.request, 'one request');
  });

  it('shows the BMC password nowhere: logs, events, history, status, outputs', async () => {
    const texts = [...outputs];
    texts.push(op(['events', '--json']).stdout, op(['fence', 'history', '--json']).stdout, op(['status', '--json']).stdout, cli(['lab', 'status', '--json']).stdout, cli(['lab', 'status']).stdout);
    const logs = join(lab.dir, lab.name, 'logs');
    for (const f of readdirSync(logs)) texts.push(readFileSync(join(logs, f), 'utf8'));
    for (const f of ['events.jsonl', 'fence-history.jsonl']) {
      const p = join(lab.dir, lab.name, 'controller', f);
      if (existsSync(p)) texts.push(readFileSync(p, 'utf8'));
    }
    assert.ok(texts.join('').length > 1000);
    for (const t of texts) assert.ok(!t.includes(password), `the password leaked into: ${t.slice(0, 300)}`);
    // The processes of the lab carry no password in their arguments.
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      assert.ok(!cmdline.includes(password), `process ${pid} has the password in its arguments`);
    }
  });

  it('lab down stops the BMCs and removes the BMC network', async () => {
    const state = await lab.state();
    const pids = state.bmc!.hosts.map((b) => b.pid!);
    const down = cli(['lab', 'down']);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, new RegExp(`${state.prefix}bmc`));
    for (const pid of pids) assert.equal(existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'), false, `ipmi_sim ${pid} is gone`);
    const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    assert.doesNotMatch(left, new RegExp(`${state.prefix}bmc`));
  });
});
