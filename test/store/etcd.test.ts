// The conformance suite on the etcd store against a real one-member etcd (Debian's), plus what
// only etcd does: election between live candidates, takeover after a leader dies (kill -9) or
// is paused (SIGSTOP) and resumed, writes refused without a campaign, a damaged leader key,
// a member going away and coming back. Timings are printed as test diagnostics.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { EtcdStore } from '../../src/store/etcd.js';
import type { Store } from '../../src/store/store.js';
import { events, record, rejects, storeConformance } from './conformance.js';
import { EtcdCluster, haveEtcd } from './etcd-harness.js';

const skip = haveEtcd ? false : 'Debian etcd-server is not installed (/usr/bin/etcd); npm test installs it';
let clusterP: Promise<EtcdCluster> | undefined;
const cluster = (): Promise<EtcdCluster> => (clusterP ??= EtcdCluster.start(1));
let raw: Etcd3 | undefined;
const rawClient = async (): Promise<Etcd3> => (raw ??= new Etcd3({ hosts: (await cluster()).endpoints }));
let n = 0;
const clusterName = (): string => `t${process.pid}-${++n}`;
const stores: Store[] = [];
const children: ChildProcess[] = [];

after(async () => {
  for (const c of children) if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
    try { process.kill(c.pid, 'SIGCONT'); process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  for (const s of stores) await s.close().catch(() => undefined);
  raw?.close();
  if (clusterP) await (await clusterP).stop();
});

function openStore(endpoints: readonly string[], name: string, opts: { ttl?: number } = {}): EtcdStore {
  const s = new EtcdStore({ endpoints, cluster: name, ...(opts.ttl ? { leaseTtlSeconds: opts.ttl } : {}) });
  stores.push(s);
  return s;
}

if (haveEtcd) {
  storeConformance('etcd', {
    async fresh() {
      const c = await cluster();
      const name = clusterName();
      const prefix = `/haven/${name}/`;
      return {
        // A 2 s lease: the suite is about behaviour, not timing, and runs beside other tests.
        open: () => openStore(c.endpoints, name, { ttl: 2 }),
        // A leader paused past its lease: its key is gone, and it has not noticed yet.
        depose: async () => void (await (await rawClient()).delete().key(`${prefix}leader`)),
        corruptRecord: async () => void (await (await rawClient()).put(`${prefix}record`).value('{"format":"haven-controller-record/1","record":')),
        corruptEvent: async (seq) => void (await (await rawClient()).put(`${prefix}events/${String(seq).padStart(16, '0')}`).value('{"seq":"two"}')),
        corruptConfig: async (version) => void (await (await rawClient()).put(`${prefix}configs/${String(version).padStart(16, '0')}`).value('{"version":"two"}')),
      };
    },
  });
}

/** Runs test/store/campaign-child.js: a leader in its own process, reporting JSON lines. */
function child(endpoints: readonly string[], name: string, who: string): { proc: ChildProcess; lines: Record<string, unknown>[]; next: (event: string, timeoutMs?: number) => Promise<Record<string, unknown>> } {
  const script = fileURLToPath(new URL('./campaign-child.js', import.meta.url));
  const proc = spawn(process.execPath, [script, endpoints.join(','), name, who], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(proc);
  const lines: Record<string, unknown>[] = [];
  let buf = '';
  const waiters: (() => void)[] = [];
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
      buf = buf.slice(i + 1);
      for (const w of waiters.splice(0)) w();
    }
  });
  let seen = 0;
  const next = async (event: string, timeoutMs = 10_000): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (seen < lines.length) {
        const l = lines[seen++]!;
        if (l['event'] === event) return l;
      }
      if (Date.now() > deadline) assert.fail(`${who}: no "${event}" within ${timeoutMs} ms; saw ${JSON.stringify(lines.slice(-5))}`);
      await Promise.race([new Promise<void>((r) => waiters.push(r)), new Promise((r) => setTimeout(r, 100))]);
    }
  };
  return { proc, lines, next };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

describe('etcd store only', { skip }, () => {
  before(async () => void (await cluster()));

  test('refuses bad options before connecting', () => {
    assert.throws(() => new EtcdStore({ endpoints: ['http://127.0.0.1:1'], cluster: 'a/b' }), /cluster name/);
    assert.throws(() => new EtcdStore({ endpoints: [], cluster: 'a' }), /no endpoints/);
    assert.throws(() => new EtcdStore({ endpoints: ['127.0.0.1:2379'], cluster: 'a' }), /client URL/);
    assert.throws(() => new EtcdStore({ endpoints: ['http://127.0.0.1:1'], cluster: 'a', leaseTtlSeconds: 0.5 }), /leaseTtlSeconds/);
  });

  test('writes without a campaign are refused: only the leader writes', async () => {
    const s = openStore((await cluster()).endpoints, clusterName());
    await rejects(s.save(record(1)), 'CONFLICT', /never campaigned/);
    await rejects(s.append(events(1, 1)), 'CONFLICT', /never campaigned/);
    assert.equal(await s.load(), undefined);
    assert.equal(await s.lastSeq(), 0);
  });

  test('the epoch is the leader key\'s create revision, and etcd grants the 1 s lease asked for', async () => {
    const name = clusterName();
    const s = openStore((await cluster()).endpoints, name);
    const t = await s.campaign('c1');
    const kv = (await (await rawClient()).get(`/haven/${name}/leader`).exec()).kvs[0]!;
    assert.equal(Number(kv.create_revision), t.epoch);
    assert.equal(t.ttlMs, 1000);
  });

  test('a leader key holding something else is refused clearly, not waited on', async () => {
    const name = clusterName();
    await (await rawClient()).put(`/haven/${name}/leader`).value('hello');
    const s = openStore((await cluster()).endpoints, name);
    await rejects(s.leader(), 'IO', /leader/);
    await rejects(s.campaign('c1', { signal: AbortSignal.timeout(5000) }), 'IO', /not a Haven leader record/);
  });

  test('two candidates: exactly one wins, the other waits and takes over when the first resigns', async (ctx) => {
    const c = await cluster();
    const name = clusterName();
    const a = openStore(c.endpoints, name);
    const b = openStore(c.endpoints, name);
    const wins: string[] = [];
    const pa = a.campaign('a').then((t) => (wins.push('a'), t));
    const pb = b.campaign('b').then((t) => (wins.push('b'), t));
    const first = await Promise.race([pa, pb]);
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(wins, [first.name], 'the other candidate is still waiting after 1.5 s');
    const started = Date.now();
    await first.resign();
    const second = await (first.name === 'a' ? pb : pa);
    const took = Date.now() - started;
    assert.ok(second.epoch > first.epoch);
    assert.ok(took < 2000, `takeover after a resign took ${took} ms`);
    ctx.diagnostic(`etcd: takeover after a resign: ${took} ms`);
  });

  test('a leader killed (kill -9): a follower takes over after its lease lapses, with a higher epoch', async (ctx) => {
    const c = await cluster();
    const name = clusterName();
    const leader = child(c.endpoints, name, 'a');
    const elected = await leader.next('leader');
    await leader.next('saved');
    const b = openStore(c.endpoints, name);
    let tookOver = 0;
    const pb = b.campaign('b').then((t) => ((tookOver = Date.now()), t));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(tookOver, 0, 'no takeover while the leader lives');
    const killed = Date.now();
    process.kill(leader.proc.pid!, 'SIGKILL');
    const tb = await pb;
    const took = tookOver - killed;
    assert.ok(tb.epoch > (elected['epoch'] as number));
    // The lease is 1 s; etcd checks for expired leases every 500 ms.
    assert.ok(took >= 500 && took < 4000, `takeover ${took} ms after kill -9`);
    ctx.diagnostic(`etcd: takeover after kill -9 of the leader (lease 1 s): ${took} ms`);
    await b.save(record(tb.epoch, 'b'));
    assert.deepEqual(await b.load(), record(tb.epoch, 'b'));
  });

  test('a leader paused (SIGSTOP) past its lease and resumed: a follower took over and the old leader writes nothing more', async () => {
    const c = await cluster();
    const name = clusterName();
    const leader = child(c.endpoints, name, 'a');
    await leader.next('leader');
    await leader.next('saved');
    const b = openStore(c.endpoints, name);
    const pb = b.campaign('b');
    process.kill(leader.proc.pid!, 'SIGSTOP');
    const tb = await pb;
    await b.save(record(tb.epoch, 'b'));
    const savedBefore = leader.lines.filter((l) => l['event'] === 'saved').length;
    process.kill(leader.proc.pid!, 'SIGCONT');
    const failed = await leader.next('failed');
    assert.equal(failed['code'], 'CONFLICT', String(failed['message']));
    const lost = leader.lines.find((l) => l['event'] === 'lost');
    assert.ok(lost, 'the old leader was told its term ended');
    await once(leader.proc, 'exit');
    assert.equal(leader.lines.filter((l) => l['event'] === 'saved').length, savedBefore, 'no save went through after the resume');
    assert.deepEqual(await b.load(), record(tb.epoch, 'b'));
  });

  test('write latency (one member, on this machine)', async (ctx) => {
    const s = openStore((await cluster()).endpoints, clusterName());
    const t = await s.campaign('c1');
    const saves: number[] = [];
    const appends: number[] = [];
    for (let i = 1; i <= 200; i++) {
      let start = performance.now();
      await s.append(events(i, i));
      appends.push(performance.now() - start);
      start = performance.now();
      await s.save(record(t.epoch, `n${i}`));
      saves.push(performance.now() - start);
    }
    saves.sort((x, y) => x - y);
    appends.sort((x, y) => x - y);
    const f = (v: number): string => v.toFixed(1);
    ctx.diagnostic(`etcd (1 member): save p50 ${f(percentile(saves, 50))} ms p99 ${f(percentile(saves, 99))} ms; append p50 ${f(percentile(appends, 50))} ms p99 ${f(percentile(appends, 99))} ms`);
    assert.ok(percentile(saves, 50) < 200, 'a save takes well under 200 ms');
  });

  test('etcd down: the leader steps down within its lease, writes fail UNREACHABLE in bounded time; etcd back: a new term works', async (ctx) => {
    // A cluster of its own: this test kills it.
    const own = await EtcdCluster.start(1);
    try {
      const s = new EtcdStore({ endpoints: own.endpoints, cluster: clusterName() });
      try {
        let lostAt = 0;
        const t = await s.campaign('c1', { onLost: () => (lostAt = Date.now()) });
        await s.append(events(1, 1));
        const killed = Date.now();
        await own.kill(0);
        const started = Date.now();
        const err = await rejects(s.save(record(t.epoch)), 'UNREACHABLE', /etcd/);
        const failedIn = Date.now() - started;
        assert.ok(failedIn < 6000, `a write failed after ${failedIn} ms`);
        for (let i = 0; i < 100 && lostAt === 0; i++) await new Promise((r) => setTimeout(r, 50));
        assert.ok(lostAt > 0, 'the term ended');
        const lostIn = lostAt - killed;
        assert.ok(lostIn < 1500, `the term ended ${lostIn} ms after etcd went away (lease 1 s)`);
        assert.equal((t.signal.reason as Error).message.includes('not renewed'), true, (t.signal.reason as Error).message);
        ctx.diagnostic(`etcd down: write refused after ${failedIn} ms (${err.message.slice(0, 80)}…); term ended ${lostIn} ms after the kill`);
        await own.restart(0);
        const back = Date.now();
        const t2 = await s.campaign('c1', { signal: AbortSignal.timeout(15_000) });
        assert.ok(t2.epoch > t.epoch);
        await s.append(events(2, 2));
        assert.equal(await s.lastSeq(), 2);
        ctx.diagnostic(`etcd back: new term ${Date.now() - back} ms after the restart`);
      } finally {
        await s.close();
      }
    } finally {
      await own.stop();
    }
  });
});
