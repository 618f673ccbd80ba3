// Loss, delay and one-way partitions on a real lab (no daemons): `haven lab degrade` drops a share
// of what a host sends (nftables on the bridges) or holds it 200 ms (delay-queue.py on NFQUEUE,
// in the switch namespace); `haven lab partition --one-way` drops one direction only; heal
// undoes them all and stops the delay line; down leaves no delay line behind.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { isZombie, namespacePids } from '../../src/lab/system.js';
import type { LabState } from '../../src/lab/state.js';
import { canRunLab, makeLab, ping, type TestLab } from './support.js';

const python = spawnSync('python3', ['--version']).status === 0;
const iptables = spawnSync('iptables-restore', ['--version']).status === 0;
const skip = !canRunLab() ? 'needs root, ip and nft' : !python || !iptables ? 'needs python3 and iptables' : false;

/** Round-trip times of `count` pings (ms), and how many were answered. */
function pings(ns: string, address: string, count: number, intervalS = 0.05): { rtts: number[]; received: number } {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'ping', '-n', '-c', String(count), '-i', String(intervalS), '-W', '2', address], { encoding: 'utf8', timeout: 60_000 });
  const rtts = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  return { rtts, received: rtts.length };
}

/** Whether UDP datagrams sent from `fromNs` to `address` arrive (a listener in `toNs`). */
async function udpArrives(fromNs: string, toNs: string, address: string): Promise<boolean> {
  const port = 40_000 + Math.floor(Math.random() * 1000);
  const listen = `const s=require('dgram').createSocket('udp4');s.on('message',()=>{process.stdout.write('got');process.exit(0)});s.bind(${port},'${address}',()=>process.stdout.write('ready '));setTimeout(()=>process.exit(1),1500)`;
  const send = `const s=require('dgram').createSocket('udp4');let n=0;const t=setInterval(()=>{s.send('x',${port},'${address}');if(++n>5){clearInterval(t);s.close()}},100)`;
  const listener = spawn('ip', ['netns', 'exec', toNs, process.execPath, '-e', listen], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  listener.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  const done = new Promise<void>((resolve) => listener.on('close', () => resolve()));
  for (let i = 0; i < 100 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 20));
  spawnSync('ip', ['netns', 'exec', fromNs, process.execPath, '-e', send], { timeout: 10_000 });
  await done;
  return out.includes('got');
}

describe('haven lab degrade / partition --one-way', { skip }, () => {
  let lab: TestLab;
  let state: LabState;
  const addr = (host: string, ring: number): string => state.hosts.find((h) => h.name === host)?.links.find((l) => l.ring === ring)?.address ?? assert.fail(host);
  const ns = (host: string): string => state.hosts.find((h) => h.name === host)?.ns ?? assert.fail(host);
  const delayLines = (): number[] =>
    namespacePids(state.switchNs).filter((pid) => {
      const r = spawnSync('cat', [`/proc/${pid}/cmdline`], { encoding: 'utf8' });
      return r.stdout.includes('delay-queue.py');
    });

  before(async () => {
    lab = await makeLab('degrade', ['--hosts', '3', '--rings', '2', '--no-daemons', '--no-bmc']);
    state = await lab.state();
    assert.ok(ping(ns('h2'), addr('h1', 0)));
  });
  after(() => lab?.close());

  it('delays what a host sends by 200 ms on every ring, and only that host', () => {
    const r = lab.haven(['lab', 'degrade', 'h1', '--delay', '200ms']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'h1: 0 % loss, 200 ms delay on the frames it sends\n');
    for (const ring of [0, 1]) {
      const { rtts } = pings(ns('h2'), addr('h1', ring), 5, 0.2);
      assert.equal(rtts.length, 5, `ring ${ring}: every ping answered`);
      for (const t of rtts) assert.ok(t >= 199 && t < 400, `ring ${ring}: rtt ${t} ms`);
    }
    const other = pings(ns('h2'), addr('h3', 0), 5, 0.2).rtts;
    assert.ok(Math.max(...other) < 100, `h2 → h3 is not delayed (${other.join(', ')} ms)`);
    assert.equal(delayLines().length, 1, 'one delay line in the switch');
    const status = JSON.parse(lab.haven(['lab', 'status', '--json']).stdout) as { degrades: unknown[] };
    assert.deepEqual(status.degrades, [{ host: 'h1', lossPct: 0, delayMs: 200 }]);
    assert.match(lab.haven(['lab', 'status']).stdout, /h1: 0 % loss, 200 ms delay on what it sends/);
  });

  it('heals the delay: the rules and the delay line are gone', () => {
    const r = lab.haven(['lab', 'heal']);
    assert.equal(r.code, 0, r.stderr);
    const { rtts } = pings(ns('h2'), addr('h1', 0), 5, 0.1);
    assert.ok(rtts.length === 5 && Math.max(...rtts) < 100, `rtt ${rtts.join(', ')} ms`);
    assert.deepEqual(delayLines(), []);
    const rules = spawnSync('ip', ['netns', 'exec', state.switchNs, 'iptables', '-S', 'FORWARD'], { encoding: 'utf8' }).stdout;
    assert.doesNotMatch(rules, /NFQUEUE/);
  });

  it('drops about 30 % of what a lossy host sends', () => {
    assert.equal(lab.haven(['lab', 'degrade', 'h1', '--loss', '30']).code, 0);
    const { received } = pings(ns('h2'), addr('h1', 0), 200, 0.01);
    // Only the replies cross h1's loss: 30 % expected; 200 samples put it within 15-45 % by far.
    assert.ok(received >= 110 && received <= 170, `${received} of 200 answered`);
    assert.equal(lab.haven(['lab', 'heal']).code, 0);
    assert.equal(pings(ns('h2'), addr('h1', 0), 50, 0.01).received, 50);
  });

  it('refuses bad input and changes nothing', () => {
    for (const args of [['--loss', '130'], ['--loss', 'x'], ['--delay', 'soon']]) {
      const r = lab.haven(['lab', 'degrade', 'h1', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    }
    assert.notEqual(lab.haven(['lab', 'degrade', 'h9', '--loss', '10']).code, 0);
    const status = JSON.parse(lab.haven(['lab', 'status', '--json']).stdout) as { degrades: unknown[] };
    assert.deepEqual(status.degrades, []);
  });

  it('partitions one way: the first group cannot send to the others, the others still reach it', async () => {
    // ARP needs both ways: h1 and h2 learn each other's addresses first, as hosts that talked before.
    assert.ok(ping(ns('h2'), addr('h1', 1)));
    const r = lab.haven(['lab', 'partition', 'h1', '/', 'h2,h3', '--one-way']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'partitioned one way: h1 cannot send to h2,h3\n');
    assert.equal(await udpArrives(ns('h1'), ns('h2'), addr('h2', 1)), false, 'h1 → h2 is dropped');
    assert.equal(await udpArrives(ns('h2'), ns('h1'), addr('h1', 1)), true, 'h2 → h1 passes');
    assert.equal(lab.haven(['lab', 'heal']).code, 0);
    assert.equal(await udpArrives(ns('h1'), ns('h2'), addr('h2', 1)), true, 'healed');
  });

  it('takes a delay line down with the lab', async () => {
    assert.equal(lab.haven(['lab', 'degrade', 'h2', '--delay', '50']).code, 0);
    const pids = delayLines();
    assert.equal(pids.length, 1);
    await lab.close();
    // Gone, or a zombie waiting for a parent that is not this lab (it was detached).
    for (const pid of pids) assert.ok(isZombie(pid), `the delay line ${pid} is gone`);
  });
});
