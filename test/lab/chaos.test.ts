// The chaos suite on real lab hosts. First its eyes: the ground-truth watchers really see a VIP
// and a service on two hosts at once (made by hand, on a lab without daemons), so a clean chaos
// run means something. Then a short chaos pass with a fixed seed: 20 trials that draw every
// fault (power off, ring cut, partitions both ways, loss, delay, controller / agent / service
// kill -9, CPU hog) against the real controller and agents, with zero violations expected. Then
// a shorter one on three controllers on etcd (8 trials): the leader killed and paused, an etcd
// member (raft's leader) and an etcd majority killed, a follower killed, mixed with host faults.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runChaos, type ChaosResult } from '../../src/lab/chaos/harness.js';
import { FAULT_KINDS, faultsFor } from '../../src/lab/chaos/plan.js';
import { renderChaos, replayCommand } from '../../src/lab/chaos/report.js';
import { HostTimeline, overlaps, parseWatchLine } from '../../src/lab/chaos/timeline.js';
import { readState, type LabState } from '../../src/lab/state.js';
import { sleep } from '../../src/lab/system.js';
import { canRunLab, HAVEN, labPlace, makeLab, removeLab, ROOT, type TestLab } from './support.js';

const daemons = spawnSync(process.execPath, [HAVEN, 'agent', '--help']).status === 0 && spawnSync(process.execPath, [HAVEN, 'controller', '--help']).status === 0;
const tools = spawnSync('python3', ['--version']).status === 0 && spawnSync('iptables-restore', ['--version']).status === 0;
const WATCH_MAIN = fileURLToPath(new URL('../../src/lab/chaos/watch-main.js', import.meta.url));
const LAB_WEB = join(ROOT, 'scripts', 'lab-web.mjs');

/** Waits for a condition, checked every 20 ms, up to 30 s (a loaded machine is slow, not wrong). */
async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!ok()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

describe('the chaos watchers: ground truth of where the A/P service runs', { skip: canRunLab() ? false : 'needs root, ip and nft' }, () => {
  let lab: TestLab;
  let state: LabState;
  let vip = '';
  const children: ChildProcess[] = [];
  const ns = (host: string): string => state.hosts.find((h) => h.name === host)?.ns ?? assert.fail(host);
  const timelines = new Map<string, HostTimeline>();

  before(async () => {
    lab = await makeLab('watch', ['--hosts', '2', '--rings', '1', '--no-daemons', '--no-bmc']);
    state = await lab.state();
    vip = `10.${200 + state.id}.0.100`;
    for (const h of ['h1', 'h2']) {
      const t = new HostTimeline(h);
      timelines.set(h, t);
      const w = spawn('ip', ['netns', 'exec', ns(h), process.execPath, WATCH_MAIN, vip, '8080', '10'], { stdio: ['ignore', 'pipe', 'ignore'] });
      children.push(w);
      createInterface({ input: w.stdout }).on('line', (line) => {
        const s = parseWatchLine(line);
        if (s !== undefined) t.add(s);
      });
    }
    // The watchers sample before anything is asked of them (node starts slowly on a loaded machine).
    await until('both watchers sample', () => [...timelines.values()].every((t) => t.lastSampleAt !== undefined));
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await lab?.close();
  });

  const serve = (host: string): ChildProcess => {
    const c = spawn('ip', ['netns', 'exec', ns(host), process.execPath, LAB_WEB, '--port', '8080', '--name', host], { stdio: 'ignore' });
    children.push(c);
    return c;
  };
  const addVip = (host: string): void => void spawnSync('ip', ['-n', ns(host), 'addr', 'add', `${vip}/24`, 'dev', 'ring0']);
  const delVip = (host: string): void => void spawnSync('ip', ['-n', ns(host), 'addr', 'del', `${vip}/24`, 'dev', 'ring0']);

  const on = (host: string, what: 'vip' | 'service'): boolean => {
    const t = timelines.get(host) as HostTimeline;
    const last = t.intervals(what).at(-1);
    return last !== undefined && t.lastSampleAt !== undefined && last.end >= t.lastSampleAt;
  };

  it('sees a clean hand-over as no overlap', async () => {
    addVip('h1');
    const web1 = serve('h1');
    await until('h1 seen serving', () => on('h1', 'vip') && on('h1', 'service'));
    web1.kill('SIGKILL');
    delVip('h1');
    await until('h1 seen stopped', () => !on('h1', 'vip') && !on('h1', 'service'));
    addVip('h2');
    const web2 = serve('h2');
    await until('h2 seen serving', () => on('h2', 'vip') && on('h2', 'service'));
    const all = [...timelines.values()];
    assert.equal(all[0]?.intervals('vip').length, 1, 'h1 held the VIP once');
    assert.equal(all[1]?.intervals('service').length, 1, 'h2 served once');
    assert.deepEqual(overlaps(all), []);
    web2.kill('SIGKILL');
    delVip('h2');
    await until('h2 seen stopped', () => !on('h2', 'vip') && !on('h2', 'service'));
  });

  it('sees the VIP and the service on two hosts at once', async () => {
    const start = Date.now();
    addVip('h1');
    addVip('h2');
    serve('h1');
    serve('h2');
    await until('both seen serving', () => on('h1', 'service') && on('h2', 'service') && on('h1', 'vip') && on('h2', 'vip'));
    await sleep(300);
    const found = overlaps([...timelines.values()], start);
    assert.deepEqual([...new Set(found.map((o) => o.what))].sort(), ['service', 'vip']);
    for (const o of found) {
      assert.deepEqual(o.hosts, ['h1', 'h2']);
      assert.ok(o.end - o.start >= 100, `${o.what}: ${o.end - o.start} ms of overlap`);
    }
  });
});

/** Every violation of a run, one line each with the command that replays its trial; [] for none. */
function violations(result: ChaosResult): string[] {
  return [
    ...result.overall.map((v) => `overall: ${v.invariant}: ${v.message}`),
    ...result.trials.flatMap((x) => x.violations.map((v) => `trial ${x.trial} (${x.kind} on ${x.target}): ${v.invariant}: ${v.message}; replay: ${replayCommand(result, x.trial)}`)),
  ];
}

/** runChaos tore its lab down: no state, no namespace of its lab id. */
async function assertNothingLeft(place: { name: string; dir: string }, result: ChaosResult | undefined): Promise<void> {
  assert.equal(await readState(place.dir, place.name), undefined);
  const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => result !== undefined && l.startsWith(`hvl${result.lab.id}-`));
  assert.deepEqual(left, []);
}

const skipChaos = !canRunLab() ? 'needs root, ip and nft' : !daemons ? 'this build has no haven agent / controller' : !tools ? 'needs python3 and iptables (delay)' : false;

describe('haven lab chaos: a short pass (20 trials, seed 191)', { skip: skipChaos }, () => {
  const place = labPlace('chaos');
  let result: ChaosResult | undefined;
  after(async () => {
    // runChaos tears its lab down itself; this is for a crash half-way.
    await removeLab(place.name, place.dir);
  });

  it('runs every fault and breaks no invariant', async (t) => {
    result = await runChaos({
      name: place.name,
      stateDir: place.dir,
      seed: 191,
      trials: 20,
      faults: faultsFor(1),
      holdMinMs: 1000,
      holdMaxMs: 2000,
      boundMs: 10_000,
      hosts: 3,
      rings: 2,
      log: (line) => t.diagnostic(line),
    });
    const text = renderChaos(result);
    for (const line of text.trimEnd().split('\n')) t.diagnostic(line);
    assert.equal(result.trials.length, 20);
    assert.deepEqual([...new Set(result.trials.map((x) => x.kind))].sort(), faultsFor(1).sort(), 'seed 191 draws every fault of one controller');
    assert.deepEqual(violations(result), []);
    // The checks saw something: the service moved at least once, and every trial measured its recovery.
    assert.ok(result.trials.some((x) => x.apHosts.length >= 2), 'the A/P service moved in some trial');
    assert.ok(result.trials.every((x) => x.recoveryMs !== null && x.recoveryMs <= 10_000));
  });

  it('leaves nothing behind', () => assertNothingLeft(place, result));
});

const etcd = spawnSync('/usr/bin/etcd', ['--version']).status === 0 && spawnSync('/usr/bin/etcdctl', ['version']).status === 0;

describe('haven lab chaos: three controllers on etcd, a short pass (8 trials, seed 2418)', { skip: skipChaos === false && !etcd ? 'Debian etcd-server and etcd-client are not installed' : skipChaos }, () => {
  const place = labPlace('chaos3');
  let result: ChaosResult | undefined;
  after(async () => {
    await removeLab(place.name, place.dir);
  });

  it('kills and pauses the leader, kills etcd members, a follower and hosts, and breaks no invariant', async (t) => {
    result = await runChaos({
      name: place.name,
      stateDir: place.dir,
      seed: 2418,
      trials: 8,
      faults: faultsFor(3),
      holdMinMs: 1000,
      holdMaxMs: 2000,
      boundMs: 10_000,
      hosts: 3,
      rings: 2,
      controllers: 3,
      log: (line) => t.diagnostic(line),
    });
    const text = renderChaos(result);
    for (const line of text.trimEnd().split('\n')) t.diagnostic(line);
    assert.equal(result.trials.length, 8);
    const kinds = new Set(result.trials.map((x) => x.kind));
    for (const k of ['leader-kill', 'leader-pause', 'etcd-kill', 'etcd-majority', 'controller-kill', 'power-off', 'partition']) assert.ok(kinds.has(k as never), `seed 2418 draws ${k}`);
    assert.deepEqual(violations(result), []);
    // The roles were found: the leader, a follower, raft's leader member among the etcd hosts.
    const controllers = ['controller', 'controller2', 'controller3'];
    for (const x of result.trials) {
      if (x.kind === 'leader-kill' || x.kind === 'leader-pause') assert.ok(x.role === 'leader' && controllers.includes(x.target), `${x.kind}: ${x.target}`);
      if (x.kind === 'controller-kill') assert.ok(x.role === 'follower' && controllers.includes(x.target), `controller-kill: ${x.target}`);
      if (x.kind === 'etcd-kill') assert.ok(controllers.includes(x.target), `etcd-kill: ${x.target}`);
      if (x.kind === 'etcd-majority') assert.equal(x.target.split(',').filter((h) => controllers.includes(h)).length, 2, `etcd-majority: ${x.target}`);
    }
    assert.ok(result.trials.every((x) => x.recoveryMs !== null && x.recoveryMs <= 10_000));
    assert.match(text, /3 controllers on etcd/);
  });

  it('leaves nothing behind', () => assertNothingLeft(place, result));
});

describe('haven lab chaos: the command line', { skip: canRunLab() ? false : 'needs root, ip and nft' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'hvtest-chaos-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const chaos = (args: string[]): { code: number | null; stderr: string } => {
    const r = spawnSync(process.execPath, [HAVEN, 'lab', 'chaos', '--name', 'hvtest-chaos-cli', '--state-dir', dir, ...args], { encoding: 'utf8', timeout: 30_000 });
    return { code: r.status, stderr: r.stderr };
  };

  it('refuses bad flags before making anything', () => {
    for (const args of [['--faults', 'meteor'], ['--replay', '42'], ['--hold', '3s-1s'], ['--bound', 'soon'], ['--trials', '0'], ['--seed', '42', '--replay', '43:1'], ['--controllers', '2'], ['--leader-lease', '2']]) {
      const r = chaos(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    }
    // A fault of three controllers asked of a lab of one: refused, saying what it needs.
    for (const f of ['leader-kill', 'leader-pause', 'etcd-kill', 'etcd-majority']) {
      const r = chaos(['--faults', `power-off,${f}`]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`${f} needs a lab with 3 controllers on etcd; this one has 1.*--controllers 3`, 's'));
    }
    assert.deepEqual(spawnSync('ls', [dir], { encoding: 'utf8' }).stdout, '');
  });
});
