// `haven lab probe` on a real lab: lab-web answers with its host's name, the probe runs from the
// client namespace, keeps its 10 ms cadence when requests hang, and reports a hand-over when
// the service moves from one host to another.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { powerOff } from '../../src/lab/power.js';
import { runProbe } from '../../src/lab/probe.js';
import type { ProbeReport } from '../../src/lab/probe-report.js';
import type { LabState } from '../../src/lab/state.js';
import { sleep } from '../../src/lab/system.js';
import { canRunLab, makeLab, sh, type TestLab } from './support.js';

const skip = canRunLab() ? false : 'needs root, ip and nft';

describe('haven lab probe', { skip }, () => {
  let lab: TestLab;
  let state: LabState;
  let net: string;
  let vip: string;
  const ns = (host: string): string => state.hosts.find((h) => h.name === host)?.ns ?? assert.fail(host);
  const probe = (target: string, durationMs: number, extra: Partial<Parameters<typeof runProbe>[0]> = {}): ReturnType<typeof runProbe> =>
    runProbe({ lab: lab.name, stateDir: lab.dir, target, durationMs, ...extra });

  before(async () => {
    lab = await makeLab('probe', ['--hosts', '2', '--rings', '1', '--no-daemons']);
    state = await lab.state();
    net = `10.${200 + state.id}`;
    vip = `${net}.0.100`;
    await lab.spawnIn('h1', process.execPath, ['scripts/lab-web.mjs', '--port', '8080', '--name', 'h1']);
    await lab.spawnIn('h2', process.execPath, ['scripts/lab-web.mjs', '--port', '8080', '--name', 'h2']);
    sh('ip', ['-n', ns('h1'), 'addr', 'add', `${vip}/24`, 'dev', 'ring0']);
    for (let i = 0; i < 50; i++) {
      const { report } = await probe(`http://${vip}:8080/`, 100);
      if (report.ok > 0) return;
      await sleep(100);
    }
    assert.fail('lab-web did not come up on h1');
  });
  after(() => lab?.close());

  it('records which host answered each request, from the client namespace', async () => {
    const { report, answers } = await probe(`http://${vip}:8080/`, 1000);
    assert.ok(report.requests >= 50 && report.requests <= 101, `${report.requests} requests in 1 s at 10 ms`);
    assert.equal(report.requests + report.missedSlots <= 101, true, 'never more than one request per slot');
    assert.equal(report.failed, 0);
    assert.deepEqual(report.hosts, { h1: report.requests });
    assert.equal(report.rto, null);
    assert.deepEqual(report.handovers, []);
    assert.ok(answers.every((a) => a.ok && a.host === 'h1'));
  });

  it('keeps its cadence when every request hangs until its timeout', async () => {
    // Nobody holds .199: ARP goes unanswered and each request waits out its 200 ms timeout.
    const { report } = await probe(`http://${net}.0.199:8080/`, 1000);
    assert.ok(report.requests >= 50 && report.requests <= 101, `${report.requests} requests in 1 s although each took 200 ms`);
    assert.equal(report.ok, 0);
    assert.ok((report.errors['timeout'] ?? 0) > 0, JSON.stringify(report.errors));
    assert.equal(report.rto?.open, true);
  });

  it('sees the hand-over when the service moves to another host, with the gap it caused', async () => {
    const ac = new AbortController();
    const running = probe(`http://${vip}:8080/`, 20_000, { signal: ac.signal });
    await sleep(2000); // the probe starts in the client namespace: slow on a loaded machine
    await powerOff(lab.name, lab.dir, 'h1');
    await sleep(200);
    sh('ip', ['-n', ns('h2'), 'addr', 'add', `${vip}/24`, 'dev', 'ring0']);
    sh('ip', ['-n', ns('client'), 'neigh', 'flush', 'all']);
    await sleep(800);
    ac.abort();
    const { report } = await running;
    assert.ok((report.hosts['h1'] ?? 0) > 0 && (report.hosts['h2'] ?? 0) > 0, JSON.stringify(report.hosts));
    assert.deepEqual(
      report.handovers.map((h) => `${h.from}>${h.to}`),
      ['h1>h2'],
    );
    const rto = report.rto;
    assert.ok(rto !== null && !rto.open);
    assert.equal(rto.before, 'h1');
    assert.equal(rto.after, 'h2');
    assert.ok(rto.durationMs >= 150 && rto.durationMs < 10_000, `gap ${rto.durationMs} ms`);
    assert.deepEqual(report.splitBrain, []);
  });

  it('runs from the command line, re-executing itself in the client namespace, with --json', () => {
    const r = lab.haven(['lab', 'probe', `tcp:${vip}:8080`, '--duration', '0.5', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as ProbeReport;
    assert.equal(report.target, `tcp:${vip}:8080`);
    assert.ok(report.ok > 0);
    assert.deepEqual(Object.keys(report.hosts), ['?'], 'tcp answers name no host');
    const text = lab.haven(['lab', 'probe', `http://${vip}:8080/`, '--duration', '500ms']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^probe http:\/\/.*: \d+ requests in 0\.\d\d s, one every 10 ms\n {2}answered \d+, failed 0\n {2}answered by: h2 \d+\n/);
  });

  it('refuses a target outside the lab and a malformed one, sending nothing', () => {
    const outside = lab.haven(['lab', 'probe', 'http://192.0.2.1:80/', '--duration', '1']);
    assert.equal(outside.code, 2);
    assert.match(outside.stderr, /probe target 192\.0\.2\.1 is not an address of lab/);
    const bad = lab.haven(['lab', 'probe', 'ftp://x', '--duration', '1']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /probe target "ftp:\/\/x": unknown scheme/);
    assert.equal(lab.haven(['lab', 'probe', `http://${vip}:8080/`, '--interval', 'soon']).code, 2);
  });
});
