// The lab's BMCs without root: where they listen (a management network only the controller is
// on), what ipmi_sim is told (lan.conf: MD5 only, the chassis script), what the chassis script
// answers ipmi_sim (power:1/power:0 from the power marker, power commands through the lab's
// fence agent), and the fence devices lab.yaml gets (fence_ipmilan first, the power switch second).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { validateConfig } from '../config/validate.js';
import { bmcBuildCommands, chassisScript, lanConf, planBmc, udpBound, writeBmcFiles } from './bmc.js';
import { labConfigText } from './lab-config.js';
import { planLab } from './layout.js';

const spec = { name: 'demo', id: 3, hosts: 3, rings: 2, stateDir: '/run/haven-lab', config: '/run/haven-lab/demo/lab.yaml', daemons: true, node: '/usr/bin/node', haven: '/opt/haven/bin/haven.js', now: new Date(0), bmc: true };
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('the BMC network', () => {
  it('puts one BMC per host on 10.<200+id>.254.<n>, the controller on .240, in the lab namespace hvl<id>-bmc', () => {
    const state = planLab(spec);
    assert.ok(state.bmc);
    assert.equal(state.bmc.ns, 'hvl3-bmc');
    assert.deepEqual(state.bmc.controllers, [{ host: 'controller', ns: 'hvl3-controller', address: '10.203.254.240', port: 'c240' }]);
    assert.deepEqual(
      state.bmc.hosts.map((b) => [b.host, b.address, b.port]),
      [
        ['h1', '10.203.254.1', 623],
        ['h2', '10.203.254.2', 623],
        ['h3', '10.203.254.3', 623],
      ],
    );
    // Recorded as made, after everything else: a netns, its bridge and the veth from the controller.
    assert.deepEqual(state.created.slice(-3), [
      { kind: 'netns', name: 'hvl3-bmc' },
      { kind: 'bridge', ns: 'hvl3-bmc', name: 'mgmt' },
      { kind: 'veth', ns: 'hvl3-controller', name: 'mgmt', peerNs: 'hvl3-bmc', peer: 'c240' },
    ]);
    assert.equal(planLab({ ...spec, bmc: false }).bmc, undefined);
  });

  it('is wired to the controllers only', () => {
    const state = planLab(spec);
    const cmds = bmcBuildCommands(state.bmc!);
    assert.deepEqual(cmds, [
      { ns: 'hvl3-bmc', lines: ['link set lo up', 'link add mgmt type bridge stp_state 0', 'link set mgmt up'] },
      { ns: 'hvl3-controller', lines: ['link add mgmt type veth peer name c240 netns hvl3-bmc', 'addr add 10.203.254.240/24 dev mgmt', 'link set mgmt up'] },
      { ns: 'hvl3-bmc', lines: ['link set c240 master mgmt up', 'addr add 10.203.254.1/24 dev mgmt', 'addr add 10.203.254.2/24 dev mgmt', 'addr add 10.203.254.3/24 dev mgmt'] },
    ]);
    const { bmc } = planBmc(3, '/x', state.hosts);
    assert.ok(!bmc.hosts.some((b) => b.host === 'controller' || b.host === 'client'));
  });

  it('reaches every controller of a lab with three', () => {
    const hosts = [...planLab(spec).hosts];
    const c = hosts.find((h) => h.role === 'controller')!;
    hosts.push({ ...c, name: 'controller2', number: 241, ns: 'hvl3-controller2' }, { ...c, name: 'controller3', number: 242, ns: 'hvl3-controller3' });
    const { bmc, created } = planBmc(3, '/x', hosts);
    assert.deepEqual(
      bmc.controllers.map((x) => [x.host, x.address, x.port]),
      [
        ['controller', '10.203.254.240', 'c240'],
        ['controller2', '10.203.254.241', 'c241'],
        ['controller3', '10.203.254.242', 'c242'],
      ],
    );
    assert.equal(created.filter((x) => x.kind === 'veth').length, 3);
    assert.deepEqual(bmcBuildCommands(bmc).at(-1)?.lines.slice(0, 3), ['link set c240 master mgmt up', 'link set c241 master mgmt up', 'link set c242 master mgmt up']);
  });
});

describe('ipmi_sim configuration', () => {
  it('listens on the BMC address, MD5 only, one admin user, the chassis script', () => {
    const b = planLab(spec).bmc!.hosts[0]!;
    const text = lanConf(b, 'hvl3-h1', 'Pw123');
    assert.match(text, /^name "hvl3-h1"$/m);
    assert.match(text, /^ {4}addr 10\.203\.254\.1 623$/m);
    for (const priv of ['callback', 'user', 'operator', 'admin']) assert.match(text, new RegExp(`^ {4}allowed_auths_${priv} md5$`, 'm'));
    assert.match(text, /^ {2}chassis_control "\/run\/haven-lab\/demo\/bmc\/h1\/chassis 0x20"$/m);
    assert.match(text, /^ {2}user 2 true "admin" "Pw123" admin 10 md5$/m);
    assert.doesNotMatch(text, /none|straight/);
  });

  it('keeps the password in 0600 files only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hvtest-bmc-'));
    dirs.push(dir);
    const state = planLab({ ...spec, stateDir: dir });
    writeBmcFiles(state, state.bmc!, join(dir, 'demo'), 'S3cr3t-pw');
    assert.equal(statSync(join(dir, 'demo', 'bmc', 'password')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'demo', 'bmc', 'h1', 'lan.conf')).mode & 0o777, 0o600);
    assert.doesNotMatch(readFileSync(join(dir, 'demo', 'bmc', 'h1', 'chassis'), 'utf8'), /S3cr3t/);
    assert.equal(readFileSync(join(dir, 'demo', 'power', 'h2'), 'utf8'), 'on\n');
  });
});

describe('the chassis script', () => {
  /** A lab directory with the script of h1, and a stand-in `haven` that logs what it is asked. */
  function setup(): { dir: string; run: (...args: string[]) => { code: number | null; stdout: string }; asked: () => string } {
    const dir = mkdtempSync(join(tmpdir(), 'hvtest-chassis-'));
    dirs.push(dir);
    const fake = join(dir, 'fake-haven.sh');
    // Answers like `haven lab fence`: status of h1 is whatever the file says (0 on, 2 off).
    writeFileSync(fake, `shift 2\ninput=$(cat)\necho "$input" >> ${dir}/asked\ncase "$input" in action=status*) exit $(cat ${dir}/status-rc 2>/dev/null || echo 0);; esac\nexit $(cat ${dir}/rc 2>/dev/null || echo 0)\n`);
    chmodSync(fake, 0o755);
    const state = planLab({ ...spec, stateDir: dir, node: '/bin/sh', haven: fake });
    const b = state.bmc!.hosts[0]!;
    const script = join(dir, 'chassis');
    writeFileSync(script, chassisScript(state, { ...b, log: join(dir, 'log') }));
    chmodSync(script, 0o755);
    return {
      dir,
      run: (...args) => {
        const r = spawnSync(script, args, { encoding: 'utf8' });
        return { code: r.status, stdout: r.stdout };
      },
      asked: () => {
        try {
          return readFileSync(join(dir, 'asked'), 'utf8');
        } catch {
          return '';
        }
      },
    };
  }

  it('answers get power from the power marker, without asking the switch', () => {
    const t = setup();
    mkdirSync(join(t.dir, 'demo', 'power'), { recursive: true });
    writeFileSync(join(t.dir, 'demo', 'power', 'h1'), 'off\n');
    assert.deepEqual(t.run('0x20', 'get', 'power'), { code: 0, stdout: 'power:0\n' });
    writeFileSync(join(t.dir, 'demo', 'power', 'h1'), 'on\n');
    assert.deepEqual(t.run('0x20', 'get', 'power'), { code: 0, stdout: 'power:1\n' });
    assert.equal(t.asked(), '');
  });

  it('asks the lab switch for the status when there is no marker (0 on, 2 off, else an error)', () => {
    const t = setup();
    assert.deepEqual(t.run('0x20', 'get', 'power'), { code: 0, stdout: 'power:1\n' });
    writeFileSync(join(t.dir, 'status-rc'), '2');
    assert.deepEqual(t.run('0x20', 'get', 'power'), { code: 0, stdout: 'power:0\n' });
    writeFileSync(join(t.dir, 'status-rc'), '1');
    assert.equal(t.run('0x20', 'get', 'power').code, 1);
    assert.match(t.asked(), /^action=status\nplug=h1\nlab=demo\nstate_dir=\/tmp\/hvtest-chassis-[^\n]+\n/);
  });

  it('turns set power 0/1 and reset into the lab switch off, on and reboot of its host', () => {
    const t = setup();
    assert.equal(t.run('0x20', 'set', 'power', '0').code, 0);
    assert.equal(t.run('0x20', 'set', 'power', '1').code, 0);
    assert.equal(t.run('0x20', 'set', 'reset', '1').code, 0);
    assert.deepEqual(
      t.asked().split('\n').filter((l) => l.startsWith('action=')),
      ['action=off', 'action=on', 'action=reboot'],
    );
    assert.ok(t.asked().split('\n').filter((l) => l.startsWith('plug=')).every((l) => l === 'plug=h1'));
  });

  it('fails when the switch fails, and on what it does not know', () => {
    const t = setup();
    writeFileSync(join(t.dir, 'rc'), '1');
    assert.equal(t.run('0x20', 'set', 'power', '0').code, 1);
    assert.equal(t.run('0x20', 'frobnicate').code, 1);
    assert.equal(t.run('0x20', 'get', 'temperature').code, 1);
  });
});

describe("lab.yaml's fence devices", () => {
  it('fences each host through its BMC first and the power switch second, with lanplus off', () => {
    const { config, text } = labConfigText(planLab(spec), '/run/haven-lab', undefined, 'Pw-of-bmc');
    assert.deepEqual(validateConfig(config), []);
    const ipmi = config.fenceDevices?.find((d) => d.id === 'ipmi-h2');
    assert.deepEqual(ipmi, {
      id: 'ipmi-h2',
      agent: 'fence_ipmilan',
      nodes: ['h2'],
      params: { ip: '10.203.254.2', ipport: 623, username: 'admin', password: 'Pw-of-bmc', lanplus: 0, auth: 'md5', power_wait: 0 },
      timeout: 5000,
    });
    assert.deepEqual(
      config.fenceTopology?.map((t) => [t.node, t.levels]),
      [
        ['h1', [['ipmi-h1'], ['lab-power']]],
        ['h2', [['ipmi-h2'], ['lab-power']]],
        ['h3', [['ipmi-h3'], ['lab-power']]],
      ],
    );
    assert.match(text, /password: Pw-of-bmc/);
  });
});

describe('udpBound', () => {
  it('finds this process’s own UDP socket by address and port', async () => {
    const { createSocket } = await import('node:dgram');
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const port = s.address().port;
    assert.equal(udpBound(process.pid, '127.0.0.1', port), true);
    assert.equal(udpBound(process.pid, '127.0.0.2', port), false);
    s.close();
  });
});
