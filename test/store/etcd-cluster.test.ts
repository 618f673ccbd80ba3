// The etcd store on a real 3-member etcd cluster on 127.0.0.1: one member lost (the raft leader,
// the worst one) changes nothing a controller would notice beyond a short pause; a majority lost
// makes writes fail with UNREACHABLE within a bounded time and ends the leader's term; the
// members back, a new term starts and every acknowledged event is there exactly once.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { HavenError } from '../../src/errors.js';
import { EtcdStore } from '../../src/store/etcd.js';
import { events, record, rejects } from './conformance.js';
import { EtcdCluster, haveEtcd } from './etcd-harness.js';

const skip = haveEtcd ? false : 'Debian etcd-server is not installed (/usr/bin/etcd); npm test installs it';

/** Which member is raft's leader now. */
async function raftLeader(cluster: EtcdCluster, size: number): Promise<number> {
  for (let i = 0; i < size; i++) {
    if (cluster.pid(i) === undefined) continue;
    const c = new Etcd3({ hosts: [cluster.endpoint(i)], defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 1000 }) });
    try {
      const s = await c.maintenance.status();
      if (s.leader === s.header.member_id) return i;
    } catch {
      // not answering: not the leader
    } finally {
      c.close();
    }
  }
  throw new Error('no raft leader');
}

describe('etcd store on a 3-member cluster', { skip }, () => {
  let cluster: EtcdCluster;
  let store: EtcdStore;
  before(async () => {
    cluster = await EtcdCluster.start(3);
    // A 2 s lease, which rides through a raft election (docs/store.md: election and timings).
    store = new EtcdStore({ endpoints: cluster.endpoints, cluster: `c3-${process.pid}`, leaseTtlSeconds: 2 });
  });
  after(async () => {
    await store?.close().catch(() => undefined);
    await cluster?.stop();
  });

  test('one member lost, then a majority lost, then back: bounded failures, nothing acknowledged lost or doubled', async (ctx) => {
    // Set by onLost (a holder, as closures assign it).
    const ended: { why: Error | undefined; at: number } = { why: undefined, at: 0 };
    const onLost = (why: Error): void => {
      ended.why = why;
      ended.at = Date.now();
    };
    let term = await store.campaign('c1', { onLost });
    const acknowledged = new Set<number>();
    let seq = 0;
    /** Appends the next event and saves; the seq is only used once acknowledged or retried. */
    const write = async (): Promise<void> => {
      const e = events(seq + 1, seq + 1);
      await store.append(e);
      seq += 1;
      acknowledged.add(seq);
      await store.save(record(term.epoch, `after ${seq}`));
    };

    // Latency with three members.
    const lat: number[] = [];
    for (let i = 0; i < 100; i++) {
      const t0 = performance.now();
      await write();
      lat.push(performance.now() - t0);
    }
    lat.sort((a, b) => a - b);
    ctx.diagnostic(`3 members: append+save p50 ${lat[50]!.toFixed(1)} ms, p99 ${lat[98]!.toFixed(1)} ms`);

    // One member lost, not raft's leader: nothing a controller would notice.
    let leaderIndex = await raftLeader(cluster, 3);
    const follower = [0, 1, 2].find((i) => i !== leaderIndex)!;
    await cluster.kill(follower);
    let worst = 0;
    for (let i = 0; i < 40; i++) {
      const t0 = Date.now();
      await write();
      worst = Math.max(worst, Date.now() - t0);
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(ended.why, undefined, 'the term holds with two members of three');
    ctx.diagnostic(`a follower member (m${follower}) killed: 40 writes, all ok, slowest ${worst} ms, term kept`);
    await cluster.restart(follower);

    // One member lost: raft's leader, killed -9. etcd elects another within about its election
    // timeout; meanwhile nothing is written and no lease renewed: a 2 s lease rides through it
    // (a 1 s one may not; the controller then campaigns again).
    leaderIndex = await raftLeader(cluster, 3);
    await cluster.kill(leaderIndex);
    const killed = Date.now();
    let failures = 0;
    let firstOk = 0;
    let newTerms = 0;
    worst = 0;
    while (Date.now() - killed < 4000) {
      const t0 = Date.now();
      try {
        if (ended.why) {
          // What a controller does when its term ends: campaign again (a new, higher epoch).
          const before = term.epoch;
          term = await store.campaign('c1', { signal: AbortSignal.timeout(10_000), onLost });
          assert.ok(term.epoch > before);
          ended.why = undefined;
          newTerms += 1;
        }
        await write();
        if (!firstOk) firstOk = Date.now() - killed;
      } catch (err) {
        assert.ok(err instanceof HavenError && (err.code === 'UNREACHABLE' || err.code === 'CONFLICT'), `while raft elects a leader: ${String(err)}`);
        failures += 1;
      }
      worst = Math.max(worst, Date.now() - t0);
      await new Promise((r) => setTimeout(r, 20));
    }
    ctx.diagnostic(`raft leader m${leaderIndex} killed: first write ok after ${firstOk} ms, ${failures} failed writes, slowest write ${worst} ms, ${newTerms ? `the term ended and a new one began (epoch ${term.epoch})` : 'term kept'}`);
    assert.ok(firstOk > 0 && firstOk < 4000, `writes work again ${firstOk} ms after losing raft's leader`);
    for (let i = 0; i < 20; i++) await write();
    assert.equal(ended.why, undefined, 'the term holds once raft has a leader again');

    // A majority lost: writes fail with UNREACHABLE within a bounded time; the term ends.
    const second = [0, 1, 2].find((i) => i !== leaderIndex)!;
    await cluster.kill(second);
    const majorityLost = Date.now();
    const t0 = Date.now();
    const pending = events(seq + 1, seq + 1);
    await rejects(store.append(pending), 'UNREACHABLE', /etcd member/);
    const failedIn = Date.now() - t0;
    assert.ok(failedIn < 6000, `a write failed after ${failedIn} ms`);
    await rejects(store.load(), 'UNREACHABLE');
    for (let i = 0; i < 150 && !ended.why; i++) await new Promise((r) => setTimeout(r, 50));
    const why = ended.why as Error | undefined;
    assert.ok(why instanceof HavenError, 'the term ended');
    const termEnded = ended.at - majorityLost;
    // Raft's remaining leader renews leases until it notices (after its election timeout) that it lost quorum.
    assert.ok(termEnded < 4000, `the term ended ${termEnded} ms after the majority was lost (lease 2 s)`);
    ctx.diagnostic(`majority lost: a write failed UNREACHABLE after ${failedIn} ms; term ended after ${termEnded} ms (${why.message})`);

    // The members back: a new term, a higher epoch; the write whose outcome was unknown is
    // retried as it was (skipped if it went through), and the log holds every acknowledged
    // event exactly once.
    await cluster.restart(leaderIndex);
    await cluster.restart(second);
    const backAt = Date.now();
    const term2 = await store.campaign('c1', { signal: AbortSignal.timeout(20_000) });
    ctx.diagnostic(`members back: new term after ${Date.now() - backAt} ms (the old lease lapses first), epoch ${term.epoch} → ${term2.epoch}`);
    assert.ok(term2.epoch > term.epoch);
    term = term2;
    await store.append(pending);
    seq += 1;
    acknowledged.add(seq);
    await write();
    const log = await store.events(0, 10_000);
    assert.deepEqual(log.map((e) => e.seq), Array.from({ length: seq }, (_, i) => i + 1), 'contiguous, no duplicates');
    for (const s of acknowledged) assert.ok(log.some((e) => e.seq === s), `acknowledged event ${s} kept`);
    assert.deepEqual(await store.load(), record(term.epoch, `after ${seq}`));
  });
});
