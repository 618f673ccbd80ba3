// The controller's fencing service against the embedded store: every device run lands in the
// fence history as it ends (level, device, result, rc, who, why), the history survives a new
// service on the same store, unfencing is owed after a fence off and paid by an unfence, and no
// secret reaches the history.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { renderDevices, renderHistory } from '../cli/commands/fence.js';
import { EmbeddedStore } from '../store/embedded.js';
import { fakeAgents } from './fake-agent.test-support.js';
import { FencingService } from './service.js';

const fake = fakeAgents();
const dirs: string[] = [];
after(() => {
  fake.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function setup(): { dir: string; service: (store?: EmbeddedStore) => FencingService } {
  const dir = mkdtempSync(join(tmpdir(), 'hvtest-fencing-'));
  dirs.push(dir);
  const config = {
    fenceDevices: [
      fake.device('ipmi-n1', ['n1'], { mode: 'fail', password: 'Pw-0f-ipmi' }),
      fake.device('lab-power', ['n1', 'n2']),
      fake.device('scsi', ['n1'], {}, { unfence: true }),
    ],
    fenceTopology: [{ node: 'n1', levels: [['ipmi-n1'], ['lab-power', 'scsi']] }],
  };
  return { dir, service: (store = new EmbeddedStore(dir)) => new FencingService({ config, store, epoch: () => 7, defaultTimeoutMs: 5000, agentDir: fake.dir }) };
}

describe('FencingService', () => {
  it('records every attempt of a fence, in order, with its level, result and who asked', async () => {
    const { service } = setup();
    const s = service();
    await s.load();
    const r = await s.fence('n1', 'off', { requestedBy: 'controller', reason: 'lost on every ring' });
    assert.equal(r.ok, true);
    assert.equal(r.level, 2);
    const h = await s.history({ limit: 100 });
    assert.deepEqual(
      h.map((x) => [x.seq, x.request, x.node, x.requested, x.action, x.level, x.device, x.result, x.rc, x.requestedBy, x.reason, x.epoch]),
      [
        [1, 1, 'n1', 'off', 'off', 1, 'ipmi-n1', 'failed', 1, 'controller', 'lost on every ring', 7],
        [2, 1, 'n1', 'off', 'off', 2, 'lab-power', 'ok', 0, 'controller', 'lost on every ring', 7],
        [3, 1, 'n1', 'off', 'off', 2, 'scsi', 'ok', 0, 'controller', 'lost on every ring', 7],
      ],
    );
    assert.ok(h.every((x) => x.durationMs >= 0 && x.at > 0));
  });

  it('never writes a secret to the history', async () => {
    const { dir, service } = setup();
    const s = service();
    await s.load();
    await s.fence('n1', 'off', { requestedBy: 'operator root', reason: 'test' });
    const text = readFileSync(join(dir, 'fence-history.jsonl'), 'utf8');
    assert.match(text, /ipmi-n1/);
    assert.doesNotMatch(text, /Pw-0f-ipmi/);
    assert.doesNotMatch(renderHistory(await s.history({ limit: 10 })), /Pw-0f-ipmi/);
  });

  it('owes an unfence after a fence off, remembered by a new service on the same store', async () => {
    const { service } = setup();
    const s = service();
    await s.load();
    assert.equal(s.needsUnfence('n1'), false);
    await s.fence('n1', 'off', { requestedBy: 'controller', reason: 'lost' });
    assert.equal(s.needsUnfence('n1'), true);
    const again = service();
    await again.load();
    assert.equal(again.needsUnfence('n1'), true);
    const u = await again.unfence('n1', { requestedBy: 'controller', reason: 'n1 rejoined' });
    assert.equal(u.ok, true);
    assert.deepEqual(u.devices, ['scsi']);
    assert.equal(again.needsUnfence('n1'), false);
    const last = (await again.history({ node: 'n1', limit: 1 }))[0];
    assert.deepEqual([last?.seq, last?.requested, last?.action, last?.level, last?.device, last?.result], [4, 'on', 'on', 0, 'scsi', 'ok']);
    const third = service();
    await third.load();
    assert.equal(third.needsUnfence('n1'), false);
  });

  it('filters by node and keeps the latest records', async () => {
    const { service } = setup();
    const s = service();
    await s.load();
    await s.fence('n2', 'off', { requestedBy: 'controller', reason: 'a' });
    await s.fence('n1', 'off', { requestedBy: 'controller', reason: 'b' });
    await s.fence('n2', 'reboot', { requestedBy: 'operator', reason: 'c' });
    assert.deepEqual(
      (await s.history({ node: 'n2', limit: 10 })).map((x) => [x.seq, x.requested]),
      [
        [1, 'off'],
        [5, 'reboot'],
      ],
    );
    assert.deepEqual(
      (await s.history({ limit: 2 })).map((x) => x.seq),
      [4, 5],
    );
  });

  it('fails a fence of a node no device fences, and records nothing', async () => {
    const { service } = setup();
    const s = service();
    await s.load();
    const r = await s.fence('n3', 'off', { requestedBy: 'controller', reason: 'lost' });
    assert.equal(r.ok, false);
    assert.equal(r.why, 'no fence device can fence n3');
    assert.deepEqual(await s.history({ limit: 10 }), []);
  });
});

describe('devices', () => {
  it('shows each device with its levels and masked params; check runs monitor', async () => {
    const { service } = setup();
    const s = service();
    const plain = await s.devices(false);
    assert.deepEqual(
      plain.map((d) => [d.id, d.levels, d.unfence, d.monitor]),
      [
        ['ipmi-n1', { n1: 1 }, false, undefined],
        ['lab-power', { n1: 2, n2: 1 }, false, undefined],
        ['scsi', { n1: 2 }, true, undefined],
      ],
    );
    assert.equal(plain[0]!.params['password'], '****');
    assert.doesNotMatch(JSON.stringify(plain), /Pw-0f-ipmi/);
    const checked = await s.devices(true);
    assert.deepEqual(
      checked.map((d) => [d.id, d.monitor?.ok, d.monitor?.rc]),
      [
        ['ipmi-n1', false, 1],
        ['lab-power', true, 0],
        ['scsi', true, 0],
      ],
    );
    const text = renderDevices(checked);
    assert.match(text, /^ipmi-n1 {2}fence_fake {2}fences n1 \(level 1\) {2}timeout 5000 ms$/m);
    assert.match(text, /^ {2}params: dir=\S+ name=ipmi-n1 mode=fail password=\*\*\*\*$/m);
    assert.match(text, /^ {2}monitor: FAILED \(rc 1\) in \d+ ms: Failed: the BMC said no$/m);
    assert.match(text, /^scsi .*\[unfence\]$/m);
    assert.doesNotMatch(text, /Pw-0f-ipmi/);
  });
});

describe('haven fence history (text)', () => {
  it('prints one row per attempt, the request reason once', async () => {
    const { service } = setup();
    const s = service();
    await s.load();
    await s.fence('n1', 'off', { requestedBy: 'controller', reason: 'lost on every ring' });
    const text = renderHistory(await s.history({ limit: 10 }));
    const lines = text.trimEnd().split('\n');
    assert.equal(lines.length, 4);
    assert.match(lines[0]!, /^SEQ\s+TIME \(UTC\)\s+NODE\s+ACTION\s+LEVEL\s+DEVICE\s+RESULT\s+RC\s+TOOK\s+BY\s+REASON$/);
    assert.match(lines[1]!, /^1\s+\S+ \S+\s+n1\s+off\s+1\s+ipmi-n1\s+failed\s+1\s+\d+ ms\s+controller\s+lost on every ring$/);
    assert.match(lines[2]!, /^2\s.*lab-power\s+ok\s+0\s.*\(request 1\)$/);
    assert.equal(renderHistory([]), '(no fence attempts recorded)\n');
  });
});
