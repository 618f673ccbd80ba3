// The lab with its daemons: `haven lab up` starts the controller and an agent per host, they run
// a web service behind a VIP from a resources file, and when the host serving it loses power the
// controller fences it through `haven lab fence` and the service comes back on the other host.
// The probe measures what a user saw. Skipped when this build has no agent or controller.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { powerOff, powerOn } from '../../src/lab/power.js';
import { runProbe } from '../../src/lab/probe.js';
import { labPlace, HAVEN, canRunLab, makeLab, WEB_GROUP, type TestLab } from './support.js';
import { sleep } from '../../src/lab/system.js';

const daemons = spawnSync(process.execPath, [HAVEN, 'agent', '--help']).status === 0 && spawnSync(process.execPath, [HAVEN, 'controller', '--help']).status === 0;
const skip = !canRunLab() ? 'needs root, ip and nft' : !daemons ? 'this build has no haven agent / controller' : false;

const RESOURCES = `resources:
${WEB_GROUP}`;

describe('a lab with its daemons: fail-over after a power cut', { skip }, () => {
  let lab: TestLab;
  let vip: string;
  let resDir = '';
  before(async () => {
    const { dir } = labPlace('res');
    resDir = dir;
    const file = join(dir, 'web.yaml');
    writeFileSync(file, RESOURCES);
    lab = await makeLab('failover', ['--hosts', '2', '--rings', '2', '--resources', file]);
    vip = `10.${200 + (await lab.state()).id}.0.100`;
  });
  after(async () => {
    await lab?.close();
    rmSync(resDir, { recursive: true, force: true });
  });

  it('starts the controller and one agent per host, each in its namespace', async () => {
    const state = await lab.state();
    assert.deepEqual(state.processes.map((p) => `${p.role}@${p.host}`).sort(), ['agent@h1', 'agent@h2', 'controller@controller']);
    const status = JSON.parse(lab.haven(['lab', 'status', '--json']).stdout) as { hosts: { name: string; daemons: { alive: boolean }[] }[] };
    for (const h of status.hosts.filter((x) => x.name !== 'client')) assert.deepEqual(h.daemons.map((d) => d.alive), [true], h.name);
    for (const p of state.processes) {
      const ns = state.hosts.find((h) => h.name === p.host)?.ns as string;
      assert.ok(spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').includes(String(p.pid)), `${p.role} runs in ${ns}`);
    }
  });

  it('moves the service to the other host when its host loses power, fenced by the lab, without split brain', async (t) => {
    let first: string | undefined;
    for (let i = 0; i < 100 && first === undefined; i++) {
      const { report } = await runProbe({ lab: lab.name, stateDir: lab.dir, target: `http://${vip}:8080/`, durationMs: 200 });
      first = Object.keys(report.hosts)[0];
      if (first === undefined) await sleep(200);
    }
    assert.ok(first !== undefined, 'the web service answered');
    const other = first === 'h1' ? 'h2' : 'h1';

    const ac = new AbortController();
    const running = runProbe({ lab: lab.name, stateDir: lab.dir, target: `http://${vip}:8080/`, durationMs: 30_000, signal: ac.signal });
    await sleep(1000);
    await powerOff(lab.name, lab.dir, first);
    // Wait until the other host has answered for a while, then stop the probe.
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      await sleep(500);
      const log = readFileSync(join(lab.dir, lab.name, 'logs', 'controller.log'), 'utf8');
      if (new RegExp(`start web-server@${other} done`).test(log)) break;
    }
    await sleep(1000);
    ac.abort();
    const { report } = await running;
    t.diagnostic(`RTO ${report.rto?.durationMs} ms (${report.rto?.failed} failed of ${report.requests})`);
    assert.deepEqual(
      report.handovers.map((h) => `${h.from}>${h.to}`),
      [`${first}>${other}`],
    );
    assert.ok(report.rto !== null && !report.rto.open, 'the service came back');
    assert.ok(report.rto.durationMs < 15_000, `RTO ${report.rto.durationMs} ms`);
    assert.deepEqual(report.splitBrain, []);
    const log = readFileSync(join(lab.dir, lab.name, 'logs', 'controller.log'), 'utf8');
    assert.match(log, new RegExp(`${first} fenced by (ipmi-${first}|lab-power)`));
  });

  it('power on starts the host agent again', async () => {
    const state = await lab.state();
    const off = state.hosts.find((h) => h.power === 'off');
    assert.ok(off !== undefined);
    const r = await powerOn(lab.name, lab.dir, off.name);
    assert.ok(r.pid !== undefined);
    const status = JSON.parse(lab.haven(['lab', 'status', '--json']).stdout) as { hosts: { name: string; power: string; daemons: { role: string; alive: boolean }[] }[] };
    const h = status.hosts.find((x) => x.name === off.name);
    assert.equal(h?.power, 'on');
    assert.deepEqual(h?.daemons.map((d) => [d.role, d.alive]), [['agent', true]]);
  });
});
