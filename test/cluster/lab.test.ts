// The whole system on real lab hosts (network namespaces, needs root), driven through the
// `haven` command as an operator would: an A/P web service with its VIP fails over after the
// active host is powered off (fenced first, never served twice), and a cut ring with the other
// ring alive causes no failover.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ControllerSnapshot } from '../../src/controller/controller.js';
import { controllerCli, waitFor } from '../lab/support.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = `${ROOT}bin/haven.js`;
const LAB = `t-${process.pid}`;
const isRoot = process.getuid?.() === 0;

const { haven, status, events } = controllerCli(() => ({ HAVEN_LAB: LAB, HAVEN_CONTROLLER: `unix:/run/haven-lab/${LAB}/controller.sock` }));

function active(s: ControllerSnapshot): string | undefined {
  const web = s.status.resources?.['web'] ?? {};
  const vip = s.status.resources?.['web-vip'] ?? {};
  const hosts = Object.keys(web).filter((n) => web[n]?.state === 'started' && vip[n]?.state === 'started');
  return hosts.length === 1 && s.plan === null ? hosts[0] : undefined;
}

describe('failover on lab hosts', { skip: isRoot ? false : 'needs root (network namespaces)', timeout: 180_000 }, () => {
  let vip = '';
  before(async () => {
    haven(['lab', 'up', '--name', LAB, '--hosts', '3', '--rings', '2', '--resources', 'examples/lab-web.yaml']);
    const lab = JSON.parse(haven(['lab', 'status', '--name', LAB, '--json'])) as { hosts: { name: string; addresses: Record<string, string> }[] };
    vip = `${lab.hosts[0]!.addresses['ring0']!.split('.').slice(0, 3).join('.')}.100`;
    await waitFor('the web service to run', () => active(status()));
  });
  after(() => {
    haven(['lab', 'down', '--name', LAB], false);
  });

  it('a cut ring with the other ring alive causes no failover', async () => {
    const host = active(status())!;
    const lastSeq = events().at(-1)?.seq ?? 0;
    haven(['lab', 'cut', host, '--ring', '1', '--name', LAB]);
    await waitFor('the ring reported down', () => events().some((e) => e.seq > lastSeq && e.kind === 'ring' && e.node === host && /ring1 down/.test(e.message)));
    await new Promise((r) => setTimeout(r, 1500)); // five ring timeouts
    const s = status();
    assert.equal(active(s), host, 'the service stays where it runs');
    assert.equal(s.nodes.find((n) => n.name === host)?.state, 'online');
    const later = events().filter((e) => e.seq > lastSeq);
    assert.deepEqual(later.filter((e) => e.kind === 'fence' || e.kind === 'plan').map((e) => e.message), [], 'no fence and no plan');
    haven(['lab', 'heal', '--name', LAB]);
  });

  it('powering off the active host fails the service and its VIP over, fenced first, never served twice', async () => {
    const first = active(status())!;
    const lastSeq = events().at(-1)?.seq ?? 0;
    // The probe runs as a child for 6 s while the host is powered off.
    const probe = havenAsync(['lab', 'probe', '--name', LAB, `http://${vip}:8080/`, '--duration', '6', '--json']);
    await new Promise((r) => setTimeout(r, 1500));
    haven(['lab', 'power', 'off', first, '--name', LAB]);
    const second = await waitFor('the service on another host', () => {
      const h = active(status());
      return h !== undefined && h !== first ? h : undefined;
    });
    const report = JSON.parse(await probe) as { splitBrain: unknown[]; rto: { durationMs: number; open: boolean } | null; hosts: Record<string, number> };
    assert.deepEqual(report.splitBrain, [], 'never two hosts serving at once');
    assert.ok(report.rto && !report.rto.open, 'the service came back while the probe ran');
    assert.ok(report.rto.durationMs < 5000, `RTO ${report.rto.durationMs} ms within a generous bound`);
    assert.ok((report.hosts[first] ?? 0) > 0 && (report.hosts[second] ?? 0) > 0, 'both hosts answered, one after the other');
    const later = events().filter((e) => e.seq > lastSeq);
    const fenced = later.findIndex((e) => e.kind === 'fenced' && e.node === first);
    const started = later.findIndex((e) => e.kind === 'action' && e.message.startsWith(`start web-vip@${second}`));
    assert.ok(fenced >= 0 && started > fenced, 'the VIP started only after the fence was confirmed');
    assert.equal(status().nodes.find((n) => n.name === first)?.state, 'fenced');

    haven(['lab', 'power', 'on', first, '--name', LAB]);
    const s = await waitFor(`${first} back online`, () => {
      const x = status();
      return x.nodes.find((n) => n.name === first)?.state === 'online' && x.nodes.every((n) => n.probed) && x.plan === null ? x : undefined;
    });
    assert.equal(active(s), second, 'the service stays where it went (stickiness)');
  });

  it('a host cut off from the controller alone is isolated, not fenced; at its lease end it stops and the service moves, never served twice', async () => {
    const first = active(status())!;
    const lastSeq = events().at(-1)?.seq ?? 0;
    const probe = havenAsync(['lab', 'probe', '--name', LAB, `http://${vip}:8080/`, '--duration', '9', '--json']);
    await new Promise((r) => setTimeout(r, 1500));
    haven(['lab', 'partition', first, '/', 'controller', '--name', LAB]);
    await waitFor('the host isolated', () => events().some((e) => e.seq > lastSeq && e.node === first && /is isolated: .* still hear/.test(e.message)));
    const second = await waitFor('the service on another host', () => {
      const h = active(status());
      return h !== undefined && h !== first ? h : undefined;
    });
    const report = JSON.parse(await probe) as { splitBrain: unknown[]; hosts: Record<string, number> };
    assert.deepEqual(report.splitBrain, [], 'never two hosts serving at once');
    assert.ok((report.hosts[second] ?? 0) > 0);
    const later = events().filter((e) => e.seq > lastSeq);
    assert.deepEqual(later.filter((e) => e.kind === 'fence' || e.kind === 'fenced').map((e) => e.message), [], 'a host its peers hear is never fenced');
    haven(['lab', 'heal', '--name', LAB]);
    const s = await waitFor(`${first} back`, () => {
      const x = status();
      return x.nodes.every((n) => n.state === 'online' && n.probed && !n.isolated) && x.plan === null ? x : undefined;
    });
    assert.equal(active(s), second);
  });

  it('a host the controller cannot send to (one way) lapses, says so in its heartbeats, and its service moves; back when grants get through', async () => {
    const first = active(status())!;
    const lastSeq = events().at(-1)?.seq ?? 0;
    haven(['lab', 'partition', 'controller', '/', first, '--one-way', '--name', LAB]);
    await waitFor('the host isolated as lapsed', () => events().some((e) => e.seq > lastSeq && e.node === first && /lease lapsed although it is granted/.test(e.message)));
    await waitFor('the service on another host', () => {
      const h = active(status());
      return h !== undefined && h !== first ? h : undefined;
    });
    haven(['lab', 'heal', '--name', LAB]);
    await waitFor(`${first} back`, () => {
      const x = status();
      return x.nodes.every((n) => n.state === 'online' && n.probed && !n.isolated) && x.plan === null ? x : undefined;
    });
    const later = events().filter((e) => e.seq > lastSeq);
    assert.deepEqual(later.filter((e) => e.kind === 'fence' || e.kind === 'fenced').map((e) => e.message), [], 'nothing fenced');
  });

  it('the controller cut off from every host loses quorum: it fences nothing and moves nothing, and all resumes after the heal', async () => {
    const first = active(status())!;
    const lastSeq = events().at(-1)?.seq ?? 0;
    haven(['lab', 'partition', 'controller', '/', 'h1,h2,h3', '--name', LAB]);
    await waitFor('quorum lost', () => events().some((e) => e.seq > lastSeq && e.kind === 'quorum' && /^no quorum/.test(e.message)));
    await new Promise((r) => setTimeout(r, 4000)); // past the lease: the agents self-fence
    haven(['lab', 'heal', '--name', LAB]);
    const s = await waitFor('quorum and the service back', () => {
      const x = status();
      return x.quorum.quorate && active(x) !== undefined && x.nodes.every((n) => n.state === 'online' && n.probed) ? x : undefined;
    }, 30_000);
    const later = events().filter((e) => e.seq > lastSeq);
    assert.deepEqual(later.filter((e) => e.kind === 'fence' || e.kind === 'fenced').map((e) => e.message), [], 'nothing fenced');
    assert.ok(later.some((e) => e.kind === 'self-fence' && e.node === first), 'the active host stopped the service when its lease lapsed');
    assert.ok(active(s));
  });
});

describe('a two-node cluster on lab hosts', { skip: isRoot ? false : 'needs root (network namespaces)', timeout: 180_000 }, () => {
  const TWO = `${LAB}-2`;
  const { haven: two, status: st } = controllerCli(() => ({ HAVEN_LAB: TWO, HAVEN_CONTROLLER: `unix:/run/haven-lab/${TWO}/controller.sock` }));
  before(async () => {
    two(['lab', 'up', '--hosts', '2', '--rings', '2', '--resources', 'examples/lab-web.yaml']);
    await waitFor('the web service to run', () => active(st()));
  });
  after(() => {
    two(['lab', 'down'], false);
  });

  it('the controller is the third vote: a host cut off from everything is fenced and the other takes over; then power off of the other', async () => {
    const s0 = st();
    assert.equal(s0.quorum.total, 3);
    const first = active(s0)!;
    const other = first === 'h1' ? 'h2' : 'h1';
    two(['lab', 'partition', first, '/', `${other},controller`]);
    await waitFor('the service on the other host', () => (active(st()) === other ? true : undefined));
    const s1 = st();
    assert.equal(s1.nodes.find((n) => n.name === first)?.state, 'fenced', 'the cut-off host was fenced, not just abandoned');
    assert.ok(s1.quorum.quorate, 'one host and the controller are a majority of 3');
    two(['lab', 'heal']);
    two(['lab', 'power', 'on', first]);
    await waitFor(`${first} back`, () => {
      const x = st();
      return x.nodes.every((n) => n.state === 'online' && n.probed) && x.plan === null ? x : undefined;
    });
    two(['lab', 'power', 'off', other]);
    await waitFor('the service back on the first host', () => (active(st()) === first ? true : undefined));
  });
});

function havenAsync(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, HAVEN_LAB: LAB } });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`haven ${args.join(' ')} exited ${code}`))));
  });
}
