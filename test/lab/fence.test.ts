// `haven lab fence` as the controller runs it: the fence-agents protocol on stdin, its exit
// codes, clear errors for bad input, and how long an `off` takes (it is on the failover path).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { canRunLab, exited, haven, makeLab, sh, type TestLab } from './support.js';

const skip = canRunLab() ? false : 'needs root, ip and nft';

describe('haven lab fence', { skip }, () => {
  let lab: TestLab;
  const fence = (input: string, args: string[] = []): ReturnType<typeof haven> => haven(lab.dir, ['lab', 'fence', ...args], { input });
  before(async () => {
    lab = await makeLab('fence', ['--hosts', '2', '--rings', '1', '--no-daemons']);
  });
  after(() => lab?.close());

  it('answers status 0 for a host that is on', () => {
    const r = fence(`action=status\nplug=h1\nlab=${lab.name}\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Status: ON\n');
  });

  it('powers a host off (its processes die), then status answers 2', async (t) => {
    const victim = await lab.spawnIn('h1', 'sleep', ['600']);
    await new Promise((r) => setTimeout(r, 200));
    const r = fence(`action=off\nplug=h1\nlab=${lab.name}\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Success: Powered OFF\n');
    assert.equal((await exited(victim)).signal, 'SIGKILL');
    assert.match(sh('ip', ['-n', await lab.ns('h1'), '-br', 'link', 'show', 'ring0']), /DOWN/);
    t.diagnostic(`fence off took ${r.ms.toFixed(0)} ms, process start included`);
    assert.ok(r.ms < 5_000, `fence off took ${r.ms} ms`);

    const status = fence(`action=status\nplug=h1\nlab=${lab.name}\n`);
    assert.equal(status.code, 2);
    assert.equal(status.stdout, 'Status: OFF\n');
    const again = fence(`action=off\nplug=h1\nlab=${lab.name}\n`);
    assert.equal(again.code, 0, 'off of an off host succeeds');
  });

  it('powers a host on and reboots it; options work as well as stdin', () => {
    assert.equal(fence('', ['-o', 'on', '-n', 'h1', '--lab', lab.name]).code, 0);
    assert.equal(fence(`action=status\nplug=h1\nlab=${lab.name}\n`).code, 0);
    const reboot = fence(`action=reboot\nport=h1\nlab=${lab.name}\n`);
    assert.equal(reboot.code, 0, reboot.stderr);
    assert.equal(fence(`action=status\nplug=h1\nlab=${lab.name}\n`).code, 0, 'on after a reboot');
  });

  it('lists the plugs, answers monitor and prints its metadata', () => {
    const list = fence(`action=list\nlab=${lab.name}\n`);
    assert.equal(list.code, 0);
    assert.equal(list.stdout, 'h1,h1\nh2,h2\ncontroller,controller\n');
    assert.equal(fence(`action=monitor\nlab=${lab.name}\n`).code, 0);
    const meta = fence('action=metadata\n');
    assert.equal(meta.code, 0);
    assert.match(meta.stdout, /^<\?xml version="1\.0" \?>\n<resource-agent name="haven-lab-fence"/);
    assert.match(meta.stdout, /<action name="off" \/>/);
  });

  it('fails with exit 1 and a clear message on bad input, touching nothing', () => {
    const cases: [string, RegExp][] = [
      [`action=explode\nplug=h1\nlab=${lab.name}\n`, /^haven lab fence: unknown action "explode" \(use one of off, on, reboot, status, monitor, list, metadata\)\n$/],
      [`action=off\nlab=${lab.name}\n`, /^haven lab fence: action "off" needs plug=HOST\n$/],
      [`this is not key value\n`, /^haven lab fence: cannot read input line "this is not key value": expected key=value\n$/],
      [`action=off\nplug=h9\nlab=${lab.name}\n`, /^haven lab fence: lab ".*" has no host "h9"/],
      [`action=off\nplug=client\nlab=${lab.name}\n`, /the client host has no power switch/],
      [`action=status\nplug=h1\nlab=hvtest-no-such-lab\n`, /lab "hvtest-no-such-lab" is not up/],
      [`action=monitor\nlab=hvtest-no-such-lab\n`, /lab "hvtest-no-such-lab" is not up/],
      ['', /no action given/],
    ];
    for (const [input, message] of cases) {
      const r = fence(input);
      assert.equal(r.code, 1, `exit 1 for ${JSON.stringify(input)}`);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    }
    assert.equal(fence(`action=status\nplug=h2\nlab=${lab.name}\n`).code, 0, 'h2 still on');
  });

  it('warns about keys it does not know and still acts', () => {
    const r = fence(`action=status\nplug=h2\nlab=${lab.name}\nnodename=h2\nfrobnicate=yes\n`);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, 'haven lab fence: ignoring unknown key "frobnicate"\n');
  });
});
