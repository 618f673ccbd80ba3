// Active/active behind HAProxy on a VIP, on lab hosts with the real daemons and Debian's HAProxy
// (examples/lab-api.yaml: an API clone and an HAProxy clone on three hosts, the VIP with one
// HAProxy), as a user sees it through the VIP:
// - a backend host powered off: no failed request once the bound has passed, and it gets no more traffic;
// - the backend comes back: traffic returns to it;
// - a planned drain (`haven node standby`) of a backend host: not one failed request;
// - the HAProxy host (the VIP's) powered off: the VIP comes back on another host, where HAProxy
//   already runs (fenced first).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ControllerSnapshot } from '../../src/controller/controller.js';
import { powerOff, powerOn } from '../../src/lab/power.js';
import type { ProbeAnswer, ProbeReport } from '../../src/lab/probe-report.js';
import { runProbe } from '../../src/lab/probe.js';
import { sleep } from '../../src/lab/system.js';
import { runtimeCommand } from '../../src/resources/haproxy-runtime.js';
import { canRunLab, controllerCli, makeLab, ROOT, waitFor, type TestLab } from '../lab/support.js';

const haproxy = spawnSync('haproxy', ['-v']).status === 0;
const skip = !canRunLab() ? 'needs root, ip and nft' : !haproxy ? 'haproxy is not installed (apt-get install haproxy)' : false;
const HOSTS = ['h1', 'h2', 'h3'];
/** After a backend host's power cut, no request may fail once this has passed. */
const BOUND_MS = 1000;

describe('HAProxy on a VIP in front of an active/active API clone, on lab hosts', { skip, timeout: 300_000 }, () => {
  let lab: TestLab;
  let vip = '';
  let socket = '';

  const { haven, status, events } = controllerCli(() => ({ HAVEN_CONTROLLER: `unix:${socket}` }));
  const where = (s: ControllerSnapshot, prim: string): string[] =>
    Object.entries(s.status.resources?.[prim] ?? {})
      .filter(([, c]) => c.state === 'started')
      .map(([n]) => n)
      .sort();

  /** Steady: every host online, the API and HAProxy on all of them, the VIP on one, no plan running. */
  const steady = (): Promise<{ lbHost: string }> =>
    waitFor('a steady cluster', () => {
      const s = status();
      const vip = where(s, 'lb-vip');
      const ok = s.plan === null && s.nodes.every((n) => n.state === 'online' && n.probed && !n.standby) && where(s, 'api-web').join() === HOSTS.join() && where(s, 'lb-haproxy').join() === HOSTS.join() && vip.length === 1;
      return ok ? { lbHost: vip[0] as string } : undefined;
    }, 60_000);

  /** Connections the HAProxy on `host` has taken on its `api` frontend. */
  async function frontendSessions(host: string): Promise<number> {
    const socket = join(lab.dir, lab.name, 'hosts', host, 'copies', 'copy-lb-haproxy', 'stats.sock');
    const csv = await runtimeCommand(socket, 'show stat -1 1 -1', { timeoutMs: 2000 });
    const lines = csv.split('\n');
    const cols = (lines[0] ?? '').slice(2).split(',');
    const row = lines.find((l) => l.startsWith('fe_api,FRONTEND,'))?.split(',') ?? [];
    return Number(row[cols.indexOf('stot')] ?? 0);
  }

  /**
   * A probe of the VIP for `ms`, with `during` run `atMs` after the probe is seen hitting the
   * VIP's HAProxy (it starts in the client namespace a moment after its launch: seconds on a
   * loaded machine); answers included, and when the fault began on the probe's clock.
   */
  async function probe(ms: number, atMs: number, during: () => Promise<unknown>): Promise<{ report: ProbeReport; answers: readonly ProbeAnswer[]; faultAt: number }> {
    const host = where(status(), 'lb-vip')[0] as string;
    const before = await frontendSessions(host);
    const running = runProbe({ lab: lab.name, stateDir: lab.dir, target: `http://${vip}/`, durationMs: ms, activeActive: true });
    await waitFor('the probe to reach the VIP', async () => ((await frontendSessions(host)) >= before + 20 ? true : undefined), 20_000);
    await sleep(atMs);
    const faultAt = Date.now();
    await during();
    const r = await running;
    // On the probe's clock: ms since it started (its startedAt is the same wall clock as ours).
    const at = faultAt - Date.parse(r.report.startedAt);
    assert.ok(at > 300, `the probe ran for ${Math.round(at)} ms before the fault: it must have started first`);
    return { ...r, faultAt: at };
  }

  before(async () => {
    lab = await makeLab('lb', ['--hosts', '3', '--rings', '2', '--resources', join(ROOT, 'examples', 'lab-api.yaml')]);
    const state = await lab.state();
    vip = `10.${200 + state.id}.0.100`;
    socket = join(lab.dir, lab.name, 'controller.sock');
    await steady();
    const { report } = await runProbe({ lab: lab.name, stateDir: lab.dir, target: `http://${vip}/`, durationMs: 600, activeActive: true });
    assert.deepEqual(Object.keys(report.hosts).sort(), HOSTS, 'every host answers through the VIP');
  });
  after(async () => {
    await lab?.close();
  });

  it('a backend host powered off: no failed request after the bound, and no more traffic to it', async () => {
    const { lbHost } = await steady();
    const victim = HOSTS.find((h) => h !== lbHost) as string;
    const from = events().at(-1)?.seq ?? 0;
    const { report, answers, faultAt } = await probe(7000, 1000, () => powerOff(lab.name, lab.dir, victim));
    const late = answers.filter((a) => a.sentMs > faultAt + BOUND_MS);
    assert.deepEqual(late.filter((a) => !a.ok).map((a) => a.error), [], `no failed request ${BOUND_MS} ms after the power cut`);
    assert.equal(late.filter((a) => a.host === victim).length, 0, `${victim} gets no traffic once it is out`);
    assert.ok(late.length > 200, 'the probe ran on');
    assert.ok((report.availability?.requestsPercent ?? 0) > 95, `availability ${JSON.stringify(report.availability)}`);
    const out = await waitFor('the out-of-rotation event', () => events().find((e) => e.seq > from && e.kind === 'lb' && e.node === victim && /out of rotation/.test(e.message)), 30_000);
    assert.match(out.message, /silent on every ring|is unclean|is fenced/);
  });

  it('the backend comes back: traffic returns to it', async () => {
    const s = status();
    const off = s.nodes.find((n) => n.state !== 'online')?.name;
    assert.ok(off !== undefined, 'a host is still off from the test before');
    await powerOn(lab.name, lab.dir, off);
    await steady();
    const { report } = await runProbe({ lab: lab.name, stateDir: lab.dir, target: `http://${vip}/`, durationMs: 1500, activeActive: true });
    assert.ok((report.hosts[off] ?? 0) > 20, `${off} answers again (${JSON.stringify(report.hosts)})`);
    assert.equal(report.failed, 0);
  });

  it('a planned drain (haven node standby) of a backend host costs not one request', async () => {
    const { lbHost } = await steady();
    const victim = HOSTS.filter((h) => h !== lbHost).at(-1) as string;
    const from = events().at(-1)?.seq ?? 0;
    try {
      const { report } = await probe(6000, 1000, async () => {
        haven(['node', 'standby', victim]);
        await waitFor(`api-web stopped on ${victim}`, () => !where(status(), 'api-web').includes(victim), 10_000);
      });
      assert.equal(report.failed, 0, `failed: ${JSON.stringify(report.errors)}`);
      assert.ok((report.hosts[victim] ?? 0) > 0, 'it served before the drain');
      const later = events().filter((e) => e.seq > from);
      const drained = later.findIndex((e) => e.kind === 'lb' && e.node === victim && /draining/.test(e.message));
      const stopped = later.findIndex((e) => e.kind === 'action' && e.message.startsWith(`stop api-web@${victim}`));
      assert.ok(drained >= 0 && stopped > drained, 'drained before the stop');
    } finally {
      haven(['node', 'online', victim]);
    }
    await steady();
  });

  it('the HAProxy host powered off: the VIP comes back on another host where HAProxy runs, fenced first', async () => {
    const { lbHost } = await steady();
    const from = events().at(-1)?.seq ?? 0;
    const { report } = await probe(8000, 1000, () => powerOff(lab.name, lab.dir, lbHost));
    const moved = await waitFor('the VIP on another host', () => {
      const s = status();
      const vip = where(s, 'lb-vip');
      return vip.length === 1 && vip[0] !== lbHost && where(s, 'lb-haproxy').includes(vip[0] as string) ? vip[0] : undefined;
    }, 30_000);
    assert.ok(report.rto !== null && !report.rto.open, `the service was lost and came back while the probe ran: ${JSON.stringify(report.rto)}`);
    assert.ok(report.rto.durationMs < 5000, `RTO ${report.rto.durationMs} ms within a generous bound`);
    const after = Object.keys(report.hosts).filter((h) => h !== lbHost);
    assert.equal(after.length, 2, 'both remaining hosts serve behind the new HAProxy');
    const later = events().filter((e) => e.seq > from);
    const fenced = later.findIndex((e) => e.kind === 'fenced' && e.node === lbHost);
    const started = later.findIndex((e) => e.kind === 'action' && e.message.startsWith(`start lb-vip@${moved}`));
    assert.ok(fenced >= 0 && started > fenced, 'the VIP started elsewhere only after the fence');
    await powerOn(lab.name, lab.dir, lbHost);
  });
});
