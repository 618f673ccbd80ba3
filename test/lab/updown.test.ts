// `haven lab up` and `haven lab down` on real namespaces: what up makes, that down removes it
// and nothing else (also after a crash, and twice), and that bad input changes nothing.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { claimFreeId } from '../../src/lab/lab.js';
import { planLab } from '../../src/lab/layout.js';
import { IDS_DIR, readState, writeState } from '../../src/lab/state.js';
import { listNamespaces, namespacePids } from '../../src/lab/system.js';
import { canRunLab, exited, haven, HAVEN, labPlace, machineSnapshot, makeLab, removeLab, sh } from './support.js';

const skip = canRunLab() ? false : 'needs root, ip and nft';

describe('haven lab up / down', { skip }, () => {
  it('builds the switch, the hosts, the controller and the client, writes a valid lab.yaml, and down removes exactly that', async () => {
    const before = machineSnapshot();
    const lab = await makeLab('updown', ['--hosts', '2', '--rings', '2', '--no-daemons']);
    let closed = false;
    after(async () => {
      if (!closed) await lab.close();
    });
    const state = await lab.state();
    const namespaces = state.created.filter((c) => c.kind === 'netns').map((c) => c.name);
    assert.deepEqual(namespaces, [`${state.prefix}switch`, `${state.prefix}h1`, `${state.prefix}h2`, `${state.prefix}controller`, `${state.prefix}client`, `${state.prefix}bmc`]);
    const present = await listNamespaces();
    for (const ns of namespaces) assert.ok(present.includes(ns), `${ns} exists`);
    assert.ok(existsSync(join(IDS_DIR, String(state.id))), 'the id is claimed');

    // The summary names the hosts, their addresses and the config.
    assert.match(lab.up.stdout, new RegExp(`lab "${lab.name}" is up \\(id ${state.id}, prefix ${state.prefix}, 2 rings\\)`));
    assert.match(lab.up.stdout, new RegExp(`h1 +host +on +10\\.${200 + state.id}\\.0\\.1 +10\\.${200 + state.id}\\.1\\.1`));
    assert.match(lab.up.stdout, /controller +controller +on +10\.\d+\.0\.240/);
    assert.match(lab.up.stdout, new RegExp(`config: ${state.config}`));

    // lo is up in every namespace; each host has one interface per ring with its address.
    for (const h of state.hosts) {
      assert.match(sh('ip', ['-n', h.ns, '-br', 'link', 'show', 'lo']), /UNKNOWN|UP/);
      for (const l of h.links) assert.match(sh('ip', ['-n', h.ns, '-br', 'addr', 'show', l.iface]), new RegExp(`UP +${l.cidr.replace(/\./g, '\\.')}`));
    }
    // lab.yaml is a configuration `haven check` accepts.
    const check = haven(lab.dir, ['check', state.config]);
    assert.equal(check.code, 0, check.stderr);
    assert.equal(check.stdout, 'ok: 2 nodes, 0 resources, 0 constraints\n');

    const down = lab.haven(['lab', 'down']);
    closed = true;
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /is down: removed 6 namespaces/);
    const left = (await listNamespaces()).filter((n) => n.startsWith(state.prefix));
    assert.deepEqual(left, [], 'no namespace of the lab is left');
    assert.deepEqual(machineSnapshot(), before, 'namespaces and links of the machine are as they were');
    assert.equal(existsSync(join(IDS_DIR, String(state.id))), false, 'the id is released');
    assert.deepEqual(readdirSync(lab.dir), [], 'nothing is left in the state directory');

    const again = lab.haven(['lab', 'down']);
    assert.equal(again.code, 0, 'down is idempotent');
    assert.match(again.stderr, /was not up; nothing to do/);
    await lab.close();
  });

  it('refuses a second lab of the same name and leaves the first alone', async () => {
    const lab = await makeLab('twice');
    after(() => lab.close());
    const r = haven(lab.dir, ['lab', 'up', '--name', lab.name, '--no-daemons']);
    assert.equal(r.code, 5);
    assert.match(r.stderr, /lab ".*" is already up/);
    const state = await lab.state();
    assert.ok((await listNamespaces()).includes(state.switchNs));
  });

  it('refuses a bad resources file before creating anything, pointing at the line', async () => {
    const { name, dir } = labPlace('badres');
    after(() => removeLab(name, dir));
    const file = join(dir, 'res.yaml');
    writeFileSync(file, 'resources:\n  - type: primitive\n    id: web\n    agent: proces\n');
    const r = haven(dir, ['lab', 'up', '--name', name, '--no-daemons', '--resources', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^${file.replace(/[.]/g, '\\.')}:4:12: resources\\[0\\]\\.agent: `));
    assert.match(r.stderr, /configuration refused \(1 error\)/);
    assert.equal(await readState(dir, name), undefined);
    for (const f of existsSync(IDS_DIR) ? readdirSync(IDS_DIR) : []) {
      assert.doesNotMatch(readFileSync(join(IDS_DIR, f), 'utf8'), new RegExp(name), 'no lab id was claimed for it');
    }
    assert.deepEqual(readdirSync(dir), ['res.yaml']);
  });

  it('refuses bad options with a usage error', () => {
    const { dir } = labPlace('usage');
    after(() => sh('rm', ['-rf', dir]));
    assert.equal(haven(dir, ['lab', 'up', '--name', 'Bad Name', '--no-daemons']).code, 2);
    assert.equal(haven(dir, ['lab', 'up', '--name', 'hvtest-x', '--hosts', '0', '--no-daemons']).code, 2);
    assert.equal(haven(dir, ['lab', 'up', '--name', 'hvtest-x', '--rings', '9', '--no-daemons']).code, 2);
    const notUp = haven(dir, ['lab', 'status', '--name', 'hvtest-none']);
    assert.equal(notUp.code, 5);
    assert.match(notUp.stderr, /lab "hvtest-none" is not up/);
    assert.equal(haven(dir, ['lab', 'cut', 'h1', '--ring', '0', '--name', 'hvtest-none']).code, 5);
  });

  it('removes a lab that crashed half-way through up, from its state file alone', async () => {
    const { name, dir } = labPlace('crash');
    after(() => removeLab(name, dir));
    const id = await claimFreeId(name, dir);
    const state = planLab({ name, id, hosts: 2, rings: 1, stateDir: dir, config: join(dir, name, 'lab.yaml'), daemons: false, node: process.execPath, haven: HAVEN, now: new Date() });
    await writeState(state);
    // Only part of it was made, and a process runs in one of the namespaces.
    sh('ip', ['netns', 'add', state.switchNs]);
    sh('ip', ['netns', 'add', `${state.prefix}h1`]);
    const sleeper = spawn('ip', ['netns', 'exec', `${state.prefix}h1`, 'sleep', '600'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(namespacePids(`${state.prefix}h1`).length, 1);

    const r = haven(dir, ['lab', 'down', '--name', name]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await exited(sleeper)).signal, 'SIGKILL');
    assert.deepEqual((await listNamespaces()).filter((n) => n.startsWith(state.prefix)), []);
    assert.equal(await readState(dir, name), undefined);
    assert.equal(existsSync(join(IDS_DIR, String(id))), false);
  });
});
