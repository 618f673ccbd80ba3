// Power on a real lab: off kills every process in the host's namespace at once and takes its
// links down; on brings the links back with only the lab's own addresses.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LabState } from '../../src/lab/state.js';
import { canRunLab, exited, makeLab, ping, sh, type TestLab } from './support.js';

const skip = canRunLab() ? false : 'needs root, ip and nft';

describe('haven lab power', { skip }, () => {
  let lab: TestLab;
  let state: LabState;
  const ns = (host: string): string => state.hosts.find((h) => h.name === host)?.ns ?? assert.fail(host);
  const addr = (host: string, ring: number): string => state.hosts.find((h) => h.name === host)?.links.find((l) => l.ring === ring)?.address ?? assert.fail(host);

  before(async () => {
    lab = await makeLab('power', ['--hosts', '2', '--rings', '2', '--no-daemons']);
    state = await lab.state();
  });
  after(() => lab?.close());

  it('off SIGKILLs every process in the host and sets its links down', async () => {
    const a = await lab.spawnIn('h1', 'sleep', ['600']);
    const b = await lab.spawnIn('h1', 'sh', ['-c', 'sleep 600; true']);
    const other = await lab.spawnIn('h2', 'sleep', ['600']);
    await new Promise((r) => setTimeout(r, 200));
    // A service address the host held before the power cut.
    sh('ip', ['-n', ns('h1'), 'addr', 'add', `${addr('h1', 0).replace(/\.\d+$/, '.150')}/24`, 'dev', 'ring0']);

    const r = lab.haven(['lab', 'power', 'off', 'h1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^h1: power off; killed [3-9] processes\n$/);
    assert.equal((await exited(a)).signal, 'SIGKILL');
    assert.equal((await exited(b)).signal, 'SIGKILL');
    assert.equal(other.exitCode, null, 'a process on another host lives on');
    assert.equal(other.signalCode, null);
    assert.equal(sh('ip', ['netns', 'pids', ns('h1')]).trim(), '');
    for (const l of ['ring0', 'ring1']) assert.match(sh('ip', ['-n', ns('h1'), '-br', 'link', 'show', l]), /DOWN/);
    assert.equal(ping(ns('h2'), addr('h1', 0), 1), false);
    assert.equal(ping(ns('h2'), addr('h1', 1), 1), false);

    const status = JSON.parse(lab.haven(['lab', 'status', '--json']).stdout) as { hosts: { name: string; power: string }[] };
    assert.equal(status.hosts.find((h) => h.name === 'h1')?.power, 'off');
    assert.deepEqual(JSON.parse(lab.haven(['lab', 'power', 'status', 'h1', '--json']).stdout), { host: 'h1', power: 'off' });
    const again = lab.haven(['lab', 'power', 'off', 'h1']);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /\(already\)/);
  });

  it('on brings the links up with only the lab addresses, and the host answers again', () => {
    const r = lab.haven(['lab', 'power', 'on', 'h1']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'h1: power on\n');
    for (const ring of [0, 1]) {
      assert.match(sh('ip', ['-n', ns('h1'), '-br', 'link', 'show', `ring${ring}`]), /UP/);
      assert.ok(ping(ns('h2'), addr('h1', ring), 3), `h2 → h1 on ring ${ring}`);
    }
    const v4 = sh('ip', ['-n', ns('h1'), '-4', '-o', 'addr', 'show', 'dev', 'ring0']);
    assert.match(v4, new RegExp(addr('h1', 0).replace(/\./g, '\\.')));
    assert.doesNotMatch(v4, /\.150\//, 'the service address did not survive the power cycle');
    const status = JSON.parse(lab.haven(['lab', 'status', '--json']).stdout) as { hosts: { name: string; power: string }[] };
    assert.equal(status.hosts.find((h) => h.name === 'h1')?.power, 'on');
  });

  it('refuses the client, unknown hosts and unknown actions', () => {
    assert.equal(lab.haven(['lab', 'power', 'off', 'client']).code, 2);
    const unknown = lab.haven(['lab', 'power', 'off', 'h7']);
    assert.equal(unknown.code, 3);
    assert.match(unknown.stderr, /no host "h7" \(hint: its hosts: h1, h2, controller\)/);
    assert.equal(lab.haven(['lab', 'power', 'explode', 'h1']).code, 2);
  });
});
