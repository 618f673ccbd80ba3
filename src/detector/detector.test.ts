// Unit and property tests of the pure failure detector: scripted heartbeat arrivals and ticks on a
// virtual clock, and the verdicts and link states they must give (docs/detection.md).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { configSchema } from '../model/config.js';
import { adaptivePolicy, checkOptions, Detector, type Arrival, type DetectorEvent, type DetectorOptions, type Verdict } from './detector.js';
import { detectorOptions, heartbeatTiming, IMPLICIT_RING } from './index.js';
import { ArrivalStats, phiTimeout, upperTailZ } from './stats.js';

const INTERVAL = 50;
const RING_TIMEOUT = 300;
const TICK = 10;

function options(extra: Partial<DetectorOptions> = {}): DetectorOptions {
  return { nodes: ['a', 'b'], rings: ['r1', 'r2'], interval: INTERVAL, ringTimeout: RING_TIMEOUT, start: 0, ...extra };
}

/**
 * A detector on a virtual clock. `run(until)` ticks every TICK ms up to `until` and lets the
 * scripted senders send on their slots: sender k's slot s leaves at s · INTERVAL on each ring it
 * is sending on, and arrives `delay` later.
 */
class Sim {
  readonly d: Detector;
  readonly events: DetectorEvent[] = [];
  now = 0;
  /** node → rings it sends on now, with its incarnation. */
  private readonly sending = new Map<string, { rings: Set<string>; incarnation: number; firstSlot: number }>();

  constructor(extra: Partial<DetectorOptions> = {}) {
    this.d = new Detector(options(extra));
  }

  send(node: string, rings: string[], incarnation = 1): void {
    const prev = this.sending.get(node);
    const firstSlot = prev !== undefined && prev.incarnation === incarnation ? prev.firstSlot : Math.ceil(this.now / INTERVAL);
    this.sending.set(node, { rings: new Set(rings), incarnation, firstSlot });
  }

  silence(node: string): void {
    const s = this.sending.get(node);
    if (s !== undefined) s.rings = new Set();
  }

  hb(a: Partial<Arrival> & { node: string; ring: string; seq: number }): ReturnType<Detector['heartbeat']> {
    const r = this.d.heartbeat({ incarnation: 1, receivedAt: this.now, ...a });
    this.events.push(...r.events);
    return r;
  }

  tick(t: number): DetectorEvent[] {
    this.now = Math.max(this.now, t);
    const e = this.d.tick(t);
    this.events.push(...e);
    return e;
  }

  /** Advances to `until` in TICK steps, delivering the senders' heartbeats on their slots first. */
  run(until: number): void {
    while (this.now + TICK <= until) {
      const next = this.now + TICK;
      for (let t = this.now + 1; t <= next; t++) {
        if (t % INTERVAL !== 0) continue;
        for (const [node, s] of this.sending) {
          for (const ring of s.rings) {
            const r = this.d.heartbeat({ node, ring, seq: t / INTERVAL - s.firstSlot, incarnation: s.incarnation, receivedAt: t });
            this.events.push(...r.events);
          }
        }
      }
      this.tick(next);
    }
  }

  verdict(node: string): Verdict {
    const v = this.d.verdict(node);
    assert.ok(v);
    return v;
  }

  verdictEvents(node: string): { kind: string; at: number }[] {
    return this.events.flatMap((e) => (e.type === 'verdict' && e.node === node ? [{ kind: e.verdict.kind, at: e.at }] : []));
  }
}

describe('detector: verdicts', () => {
  it('starts unknown; the first heartbeat makes the node alive and the ring up', () => {
    const s = new Sim();
    assert.equal(s.verdict('a').kind, 'unknown');
    const r = s.hb({ node: 'a', ring: 'r1', seq: 0 });
    assert.equal(r.accepted, true);
    assert.deepEqual(
      r.events.map((e) => e.type),
      ['link', 'verdict'],
    );
    const v = s.verdict('a');
    assert.equal(v.kind, 'alive');
    if (v.kind === 'alive') assert.deepEqual(v.up, ['r1']);
    // The second ring joins the same verdict without a new verdict event.
    const r2 = s.hb({ node: 'a', ring: 'r2', seq: 0 });
    assert.deepEqual(
      r2.events.map((e) => e.type),
      ['link'],
    );
    const v2 = s.verdict('a');
    assert.equal(v2.kind, 'alive');
    if (v2.kind === 'alive') assert.deepEqual(v2.up, ['r1', 'r2']);
  });

  it('a node silent on one ring is degraded (naming the ring), never suspect', () => {
    const s = new Sim();
    s.send('a', ['r1', 'r2']);
    s.send('b', ['r1', 'r2']);
    s.run(1000);
    assert.equal(s.verdict('a').kind, 'alive');
    s.send('a', ['r1']); // the last heartbeat on r2 arrived at 1000
    s.run(1290);
    assert.equal(s.verdict('a').kind, 'alive', 'not before ringTimeout');
    s.run(1300);
    const v = s.verdict('a');
    assert.equal(v.kind, 'degraded');
    if (v.kind === 'degraded') {
      assert.deepEqual(v.up, ['r1']);
      assert.deepEqual(v.down, [{ ring: 'r2', since: 1300, lastHeard: 1000 }]);
      assert.equal(v.since, 1300);
      assert.match(v.reason, /silent on ring r2 \(for 300 ms\); still heard on ring r1/);
    }
    const down = s.events.find((e) => e.type === 'link' && e.state === 'down');
    assert.deepEqual(down && { node: down.node, ring: down.type === 'link' ? down.ring : '', at: down.at }, { node: 'a', ring: 'r2', at: 1300 });
    s.run(10_000);
    assert.ok(!s.verdictEvents('a').some((e) => e.kind === 'suspect'));
    assert.equal(s.verdict('a').kind, 'degraded');
    assert.equal(s.verdict('b').kind, 'alive');
  });

  it('a ring that comes back makes a degraded node alive again', () => {
    const s = new Sim();
    s.send('a', ['r1']);
    s.run(600);
    assert.equal(s.verdict('a').kind, 'degraded', 'r2 never heard: down ringTimeout after start');
    s.send('a', ['r1', 'r2']);
    s.run(700);
    assert.equal(s.verdict('a').kind, 'alive');
    assert.ok(s.events.some((e) => e.type === 'link' && e.ring === 'r2' && e.state === 'up' && /first heartbeat/.test(e.reason)));
  });

  it('a node silent on every ring is suspect exactly ringTimeout after its last heartbeat', () => {
    const s = new Sim();
    s.send('a', ['r1', 'r2']);
    s.send('b', ['r1', 'r2']);
    s.run(1000);
    s.silence('a'); // last heartbeats at 1000
    s.run(1290);
    assert.equal(s.verdict('a').kind, 'alive');
    s.run(1300);
    const v = s.verdict('a');
    assert.equal(v.kind, 'suspect');
    if (v.kind === 'suspect') {
      assert.equal(v.since, 1300);
      assert.deepEqual(v.lastHeard, { ring: 'r1', at: 1000 });
      assert.deepEqual(
        v.down.map((d) => d.ring),
        ['r1', 'r2'],
      );
      assert.match(v.reason, /silent on every ring/);
    }
    // Straight from alive to suspect when both rings pass their deadline in one tick.
    assert.deepEqual(
      s.verdictEvents('a').map((e) => e.kind),
      ['alive', 'suspect'],
    );
    assert.equal(s.verdict('b').kind, 'alive');
  });

  it('the rings of a dying node go down one by one: degraded, then suspect', () => {
    const s = new Sim();
    s.send('a', ['r1', 'r2']);
    s.run(1000);
    s.send('a', ['r1']);
    s.run(1100);
    s.silence('a');
    s.run(2000);
    assert.deepEqual(s.verdictEvents('a'), [
      { kind: 'alive', at: 50 },
      { kind: 'degraded', at: 1300 },
      { kind: 'suspect', at: 1400 },
    ]);
  });

  it('with three rings, a change in which rings are silent is a new degraded verdict naming them', () => {
    const s = new Sim({ rings: ['r1', 'r2', 'r3'] });
    s.send('a', ['r1', 'r2', 'r3']);
    s.run(1000);
    s.send('a', ['r1', 'r2']);
    s.run(1500);
    s.send('a', ['r1']);
    s.run(2000);
    s.send('a', ['r1', 'r3']);
    s.run(2500);
    const degraded = s.events.flatMap((e) => (e.type === 'verdict' && e.node === 'a' && e.verdict.kind === 'degraded' ? [e.verdict.down.map((d) => d.ring)] : []));
    assert.deepEqual(degraded, [['r3'], ['r2', 'r3'], ['r2']]);
    assert.equal(s.verdict('a').kind, 'degraded');
  });

  it('a suspect node heard again is recovered for recoveryHold, then alive', () => {
    const s = new Sim({ recoveryHold: 200 });
    s.send('a', ['r1', 'r2']);
    s.run(1000);
    s.silence('a');
    s.run(2000);
    assert.equal(s.verdict('a').kind, 'suspect');
    s.send('a', ['r1', 'r2']);
    s.run(2050);
    const v = s.verdict('a');
    assert.equal(v.kind, 'recovered');
    if (v.kind === 'recovered') {
      assert.equal(v.suspectSince, 1300);
      assert.equal(v.since, 2050);
      assert.match(v.reason, /heard again on rings r1, r2 after 750 ms suspect/);
    }
    s.run(2240);
    assert.equal(s.verdict('a').kind, 'recovered');
    s.run(2250);
    assert.equal(s.verdict('a').kind, 'alive');
    assert.deepEqual(
      s.verdictEvents('a').map((e) => e.kind),
      ['alive', 'suspect', 'recovered', 'alive'],
    );
    assert.deepEqual(s.verdictEvents('a').at(-1), { kind: 'alive', at: 2250 });
  });

  it('a node recovered on one ring only ends degraded', () => {
    const s = new Sim();
    s.send('a', ['r1', 'r2']);
    s.run(1000);
    s.silence('a');
    s.run(2000);
    s.send('a', ['r2']);
    s.run(3000);
    assert.deepEqual(
      s.verdictEvents('a').map((e) => e.kind),
      ['alive', 'suspect', 'recovered', 'degraded'],
    );
    const v = s.verdict('a');
    assert.ok(v.kind === 'degraded' && v.down[0]?.ring === 'r1' && v.up[0] === 'r2');
  });

  it('a recovered node that goes silent again is suspect again', () => {
    const s = new Sim();
    s.send('a', ['r1']);
    s.run(500);
    s.silence('a');
    s.run(1000);
    s.send('a', ['r1']);
    s.run(1100);
    assert.equal(s.verdict('a').kind, 'recovered');
    s.silence('a');
    s.run(1500);
    assert.equal(s.verdict('a').kind, 'suspect');
  });

  it('a node never heard goes down ringTimeout after start: suspect with no last heartbeat', () => {
    const s = new Sim({ start: 5000 });
    s.now = 5000;
    s.run(5290);
    assert.equal(s.verdict('a').kind, 'unknown');
    assert.match(s.verdict('a').reason, /not heard on any ring yet/);
    s.run(5300);
    const v = s.verdict('a');
    assert.equal(v.kind, 'suspect');
    if (v.kind === 'suspect') {
      assert.equal(v.since, 5300);
      assert.equal(v.lastHeard, null);
      assert.match(v.reason, /never heard/);
    }
    assert.deepEqual(s.verdictEvents('a'), [{ kind: 'suspect', at: 5300 }]);
  });

  it('reports nodes in configuration order, and a report per ring', () => {
    const s = new Sim();
    s.send('b', ['r1', 'r2']);
    s.run(500);
    assert.deepEqual(
      s.d.verdicts().map((v) => `${v.node}:${v.kind}`),
      ['a:suspect', 'b:alive'],
    );
    const report = s.d.report('b');
    assert.ok(report);
    assert.equal(report.incarnation, 1);
    assert.deepEqual(
      report.rings.map((r) => [r.ring, r.link, r.lastHeard, r.seq, r.accepted, r.refused, r.timeout]),
      [
        ['r1', 'up', 500, 10, 10, 0, 300],
        ['r2', 'up', 500, 10, 10, 0, 300],
      ],
    );
    assert.equal(report.rings[0]?.meanGap, 50);
    assert.equal(report.rings[0]?.maxGap, 50);
    assert.equal(s.d.report('nobody'), undefined);
    assert.equal(s.d.verdict('nobody'), undefined);
  });
});

describe('detector: sequence, incarnation and input guards', () => {
  it('refuses a duplicate or older seq on a ring, and takes the same seq on another ring', () => {
    const s = new Sim();
    s.now = 10;
    assert.equal(s.hb({ node: 'a', ring: 'r1', seq: 5 }).accepted, true);
    assert.deepEqual(s.hb({ node: 'a', ring: 'r1', seq: 5 }), { accepted: false, reason: 'old-seq', events: [] });
    assert.deepEqual(s.hb({ node: 'a', ring: 'r1', seq: 4 }), { accepted: false, reason: 'old-seq', events: [] });
    assert.equal(s.hb({ node: 'a', ring: 'r2', seq: 5 }).accepted, true);
    assert.equal(s.hb({ node: 'a', ring: 'r1', seq: 6 }).accepted, true);
    const report = s.d.report('a');
    assert.deepEqual(
      report?.rings.map((r) => [r.accepted, r.refused, r.seq]),
      [
        [2, 2, 6],
        [1, 0, 5],
      ],
    );
  });

  it('a refused duplicate does not keep a silent ring alive', () => {
    const s = new Sim();
    s.now = 50;
    s.hb({ node: 'a', ring: 'r1', seq: 1 });
    s.hb({ node: 'a', ring: 'r2', seq: 1 });
    for (let t = 60; t <= 400; t += 10) {
      s.now = t;
      s.hb({ node: 'a', ring: 'r2', seq: 1 }); // a replayed datagram, over and over
      s.tick(t);
    }
    const v = s.verdict('a');
    assert.equal(v.kind, 'suspect');
  });

  it('refuses an older incarnation; a newer one (agent restart) is taken with its seq starting over', () => {
    const s = new Sim();
    s.now = 50;
    s.hb({ node: 'a', ring: 'r1', seq: 100, incarnation: 7 });
    s.now = 60;
    assert.deepEqual(s.hb({ node: 'a', ring: 'r1', seq: 101, incarnation: 6 }), { accepted: false, reason: 'old-incarnation', events: [] });
    s.now = 70;
    const r = s.hb({ node: 'a', ring: 'r1', seq: 0, incarnation: 8 });
    assert.equal(r.accepted, true);
    assert.deepEqual(r.events[0], { type: 'restarted', node: 'a', ring: 'r1', from: 7, to: 8, at: 70 });
    assert.equal(s.d.report('a')?.incarnation, 8);
    // The old incarnation is now refused on every ring, and the new one goes on.
    assert.equal(s.hb({ node: 'a', ring: 'r2', seq: 102, incarnation: 7 }).accepted, false);
    assert.equal(s.hb({ node: 'a', ring: 'r2', seq: 0, incarnation: 8 }).accepted, true);
    assert.equal(s.hb({ node: 'a', ring: 'r1', seq: 1, incarnation: 8 }).accepted, true);
  });

  it('an agent that restarts while alive stays alive (no suspicion, no flap)', () => {
    const s = new Sim();
    s.send('a', ['r1', 'r2'], 1);
    s.run(1000);
    s.send('a', ['r1', 'r2'], 2);
    s.run(2000);
    assert.deepEqual(
      s.verdictEvents('a').map((e) => e.kind),
      ['alive'],
    );
    assert.equal(s.events.filter((e) => e.type === 'restarted').length, 1);
  });

  it('refuses unknown nodes, unknown rings and malformed arrivals, changing nothing', () => {
    const s = new Sim();
    assert.deepEqual(s.hb({ node: 'zz', ring: 'r1', seq: 1 }), { accepted: false, reason: 'unknown-node', events: [] });
    assert.deepEqual(s.hb({ node: 'a', ring: 'r9', seq: 1 }), { accepted: false, reason: 'unknown-ring', events: [] });
    for (const bad of [{ seq: -1 }, { seq: 1.5 }, { incarnation: -1 }, { receivedAt: Number.NaN }, { epoch: -3 }, { seq: Number.MAX_SAFE_INTEGER + 2 }]) {
      assert.deepEqual(s.hb({ node: 'a', ring: 'r1', seq: 1, ...bad }), { accepted: false, reason: 'invalid', events: [] }, JSON.stringify(bad));
    }
    assert.equal(s.verdict('a').kind, 'unknown');
    assert.equal(s.d.report('a')?.rings[0]?.refused, 6);
  });

  it('records the highest epoch a node reports', () => {
    const s = new Sim();
    s.hb({ node: 'a', ring: 'r1', seq: 1, epoch: 3 });
    s.hb({ node: 'a', ring: 'r2', seq: 1, epoch: 2 });
    s.hb({ node: 'a', ring: 'r1', seq: 2, epoch: 4 });
    assert.equal(s.d.report('a')?.epoch, 4);
  });

  it('a datagram that lags the node\u2019s newest seq is credited with its sending time: a queued one cannot revive a dead ring', () => {
    const s = new Sim();
    s.send('a', ['r1', 'r2']);
    s.run(1000); // seq k is sent at k · 50: the last on r2 is seq 20
    s.send('a', ['r1']);
    s.run(1500); // r1 is at seq 30
    assert.equal(s.verdict('a').kind, 'degraded');
    // A datagram of seq 23 (sent at 1150) that sat in a queue arrives on r2 now (1500): it left
    // 150 ms after r2's last heartbeat but is itself 350 ms old, so r2 stays down...
    const r = s.hb({ node: 'a', ring: 'r2', seq: 23 });
    assert.equal(r.accepted, true);
    assert.equal(s.d.report('a')?.rings[1]?.link, 'down');
    assert.equal(s.d.report('a')?.rings[1]?.lastEvidence, 1150);
    assert.equal(s.d.report('a')?.rings[1]?.lastHeard, 1500);
    // ...while a fresh one (the newest slot) brings it up.
    s.now = 1510;
    const fresh = s.hb({ node: 'a', ring: 'r2', seq: 30 });
    assert.ok(fresh.events.some((e) => e.type === 'link' && e.state === 'up'));
    assert.equal(s.verdict('a').kind, 'alive');
  });

  it('an arrival time before the detector\u2019s clock is taken as the clock (time never runs back)', () => {
    const s = new Sim();
    s.tick(500);
    s.hb({ node: 'a', ring: 'r1', seq: 1, receivedAt: 100 });
    assert.equal(s.d.report('a')?.rings[0]?.lastHeard, 500);
    assert.equal(s.d.now, 500);
    s.tick(200);
    assert.equal(s.d.now, 500);
  });
});

describe('detector: the pause guard', () => {
  it('a pause of the detector itself holds every ring for pauseGrace: heartbeats queued meanwhile are read first', () => {
    const s = new Sim();
    s.send('a', ['r1', 'r2']);
    s.run(1000);
    // The event loop stalls 1000 → 1600; then the late tick, then the datagrams queued meanwhile.
    const e = s.tick(1600);
    assert.deepEqual(e, [], 'no ring goes down on the tick after a pause');
    for (let seq = 21; seq <= 32; seq++) s.hb({ node: 'a', ring: 'r1', seq, receivedAt: 1601 });
    for (let seq = 21; seq <= 32; seq++) s.hb({ node: 'a', ring: 'r2', seq, receivedAt: 1601 });
    s.run(2500);
    assert.deepEqual(
      s.verdictEvents('a').map((e) => e.kind),
      ['alive'],
    );
  });

  it('a node that really died during the pause is suspect pauseGrace after the pause, not before', () => {
    const s = new Sim();
    s.send('a', ['r1', 'r2']);
    s.run(1000);
    s.silence('a');
    s.tick(1600);
    assert.equal(s.verdict('a').kind, 'alive');
    s.run(1890);
    assert.equal(s.verdict('a').kind, 'alive');
    s.run(1900);
    assert.equal(s.verdict('a').kind, 'suspect');
    assert.deepEqual(s.verdictEvents('a').at(-1), { kind: 'suspect', at: 1900 });
  });

  it('regular ticks are no pause', () => {
    const s = new Sim({ pauseThreshold: 100 });
    s.send('a', ['r1', 'r2']);
    s.run(1000);
    s.silence('a');
    for (let t = 1090; t <= 1400; t += 90) s.tick(t);
    assert.equal(s.verdict('a').kind, 'suspect', 'ticks 90 ms apart are below the 100 ms threshold');
  });
});

describe('detector: adaptive timeout policy', () => {
  it('uses ringTimeout until minSamples gaps, then a phi timeout from the ring\u2019s gaps, clamped', () => {
    const policy = adaptivePolicy(INTERVAL, RING_TIMEOUT);
    assert.ok(policy.kind === 'adaptive');
    const s = new Sim({ policy });
    s.send('a', ['r1', 'r2']);
    s.run(16 * INTERVAL);
    assert.equal(s.d.report('a')?.rings[0]?.timeout, RING_TIMEOUT, '15 gaps: not enough yet');
    s.run(17 * INTERVAL);
    // Perfectly regular 50 ms gaps: sd floored at interval / 2, phi 8 → 50 + 25 · 5.6 ≈ 190 ms.
    const timeout = s.d.report('a')?.rings[0]?.timeout ?? 0;
    assert.ok(Math.abs(timeout - (50 + 25 * upperTailZ(1e-8))) < 1e-6, String(timeout));
    assert.ok(timeout >= policy.minTimeout && timeout <= policy.maxTimeout);
    s.silence('a');
    const last = 17 * INTERVAL;
    s.run(last + 180);
    assert.equal(s.verdict('a').kind, 'alive');
    s.run(last + 200);
    assert.equal(s.verdict('a').kind, 'suspect', 'suspect sooner than the fixed 300 ms');
  });

  it('the silence of a cut ring does not count as a gap (it would inflate the timeout for long after)', () => {
    const s = new Sim({ policy: adaptivePolicy(INTERVAL, RING_TIMEOUT) });
    s.send('a', ['r1', 'r2']);
    s.run(2000);
    const before = s.d.report('a')?.rings[1]?.timeout ?? 0;
    s.send('a', ['r1']);
    s.run(12_000); // r2 cut for 10 s
    s.send('a', ['r1', 'r2']);
    s.run(12_500);
    const report = s.d.report('a');
    assert.equal(report?.rings[1]?.link, 'up');
    assert.ok(Math.abs((report?.rings[1]?.timeout ?? 0) - before) < 1e-6, 'the 10 s outage is not a gap of a live ring');
    assert.equal(report?.rings[1]?.maxGap, 50);
  });

  it('a jittery ring gets a longer timeout than a regular one', () => {
    const policy = adaptivePolicy(INTERVAL, RING_TIMEOUT);
    const d = new Detector(options({ policy, nodes: ['a'], rings: ['r1'] }));
    let t = 0;
    for (let seq = 0; seq < 65; seq++) {
      t += seq % 2 === 0 ? 10 : 90; // mean 50, sd 40
      d.heartbeat({ node: 'a', ring: 'r1', seq, incarnation: 1, receivedAt: t });
      d.tick(t);
    }
    const timeout = d.report('a')?.rings[0]?.timeout ?? 0;
    assert.ok(Math.abs(timeout - phiTimeout(50, 40, 8)) < 1e-6, String(timeout));
    assert.ok(timeout > 250);
  });
});

describe('detector: options', () => {
  it('refuses unusable options with every problem named', () => {
    assert.deepEqual(checkOptions(options()), []);
    const problems = checkOptions(options({ rings: [], ringTimeout: 0, interval: -1, start: Number.NaN, nodes: ['a', 'a'] }));
    assert.equal(problems.length, 5, problems.join('\n'));
    assert.throws(() => new Detector(options({ rings: ['r', 'r'] })), /ring names must be unique/);
    assert.throws(
      () => new Detector(options({ rings: Array.from({ length: 32 }, (_, i) => `r${i}`) })),
      /need 1 to 31 rings/,
    );
    assert.match(
      checkOptions(options({ policy: { kind: 'adaptive', threshold: 8, minTimeout: 100, maxTimeout: 50, minStdDev: 1, minSamples: 0 } })).join('; '),
      /maxTimeout must be ≥ policy.minTimeout; policy.minSamples must be an integer ≥ 1/,
    );
  });

  it('31 rings work: suspect only when all 31 are silent', () => {
    const rings = Array.from({ length: 31 }, (_, i) => `r${i}`);
    const d = new Detector(options({ nodes: ['a'], rings }));
    for (let t = 0; t <= 1000; t += 10) {
      if (t % 50 === 0) d.heartbeat({ node: 'a', ring: 'r30', seq: t / 50, incarnation: 1, receivedAt: t });
      d.tick(t);
    }
    const v = d.verdict('a');
    assert.equal(v?.kind, 'degraded');
    if (v?.kind === 'degraded') assert.equal(v.down.length, 30);
    for (let t = 1010; t <= 1400; t += 10) d.tick(t);
    assert.equal(d.verdict('a')?.kind, 'suspect');
  });

  it('builds options from a configuration: its nodes, rings and heartbeat timing', () => {
    const config = configSchema.parse({
      cluster: { name: 'c', heartbeat: { interval: '100ms', ringTimeout: '1s' } },
      rings: [{ name: 'x' }, { name: 'y' }],
      nodes: [{ name: 'n1' }, { name: 'n2' }],
    });
    assert.deepEqual(detectorOptions(config, 42, { recoveryHold: 5 }), { nodes: ['n1', 'n2'], rings: ['x', 'y'], interval: 100, ringTimeout: 1000, start: 42, recoveryHold: 5 });
    const bare = configSchema.parse({ cluster: { name: 'c' }, nodes: [{ name: 'n1' }] });
    assert.deepEqual(heartbeatTiming(bare), { interval: 50, ringTimeout: 300 });
    assert.deepEqual(detectorOptions(bare, 0).rings, [IMPLICIT_RING]);
  });
});

describe('stats', () => {
  it('keeps a sliding window of gaps with O(1) mean and standard deviation', () => {
    const s = new ArrivalStats(4);
    assert.equal(s.mean, 0);
    assert.equal(s.stdDev, 0);
    for (const g of [10, 20, 30, 40]) s.add(g);
    assert.equal(s.mean, 25);
    assert.ok(Math.abs(s.stdDev - Math.sqrt(125)) < 1e-9);
    s.add(50); // 10 leaves the window
    assert.equal(s.samples, 4);
    assert.equal(s.mean, 35);
    assert.equal(s.max, 50);
    assert.throws(() => new ArrivalStats(0), RangeError);
  });

  it('upperTailZ inverts the normal tail', () => {
    assert.ok(Math.abs(upperTailZ(0.5)) < 1e-9);
    assert.ok(Math.abs(upperTailZ(0.025) - 1.959964) < 1e-5);
    assert.ok(Math.abs(upperTailZ(1e-8) - 5.612001) < 1e-5);
    assert.ok(Math.abs(upperTailZ(0.975) + 1.959964) < 1e-5);
    assert.throws(() => upperTailZ(0), RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties. A sender is modelled as agents really send: slot k leaves at k · interval with
// seq k on every ring; each ring may drop a datagram or deliver it after a delay. Inputs are fed
// in time order, with ticks at random gaps below the pause threshold.

const SEED = Number(process.env['HAVEN_PROPERTY_SEED'] ?? 20261124);
const RUNS = Number(process.env['HAVEN_PROPERTY_RUNS'] ?? 300);

/** Ring r's fate for slot k: undefined = dropped, else the delivery delay. */
type Fate = number | undefined;

interface Scenario {
  /** Per slot, per ring (r1, r2, r3). */
  readonly slots: readonly (readonly Fate[])[];
  /** Gaps between ticks. */
  readonly ticks: readonly number[];
}

type Input = { t: number; order: number; kind: 'hb'; ring: string; seq: number } | { t: number; order: number; kind: 'tick' };

const RINGS3 = ['r1', 'r2', 'r3'];
/** The largest delay the properties use: below ringTimeout − interval, so a steady ring never lapses. */
const MAX_DELAY = RING_TIMEOUT - INTERVAL - 20;

function inputs(sc: Scenario, end: number): Input[] {
  const out: Input[] = [];
  let order = 0;
  sc.slots.forEach((fates, k) => {
    fates.forEach((delay, r) => {
      if (delay !== undefined) out.push({ t: k * INTERVAL + delay, order: order++, kind: 'hb', ring: RINGS3[r] as string, seq: k });
    });
  });
  let t = 0;
  for (let i = 0; t <= end; i++) {
    t += sc.ticks[i % sc.ticks.length] as number;
    out.push({ t, order: order++, kind: 'tick' });
  }
  // Same time: heartbeats before ticks (a datagram that arrived is read before the deadline is judged).
  return out.sort((x, y) => x.t - y.t || (x.kind === y.kind ? x.order - y.order : x.kind === 'hb' ? -1 : 1));
}

function feed(d: Detector, input: readonly Input[], check?: (d: Detector, events: readonly DetectorEvent[], t: number) => void): DetectorEvent[] {
  const all: DetectorEvent[] = [];
  for (const i of input) {
    const events = i.kind === 'hb' ? d.heartbeat({ node: 'a', ring: i.ring, seq: i.seq, incarnation: 1, receivedAt: i.t }).events : d.tick(i.t);
    all.push(...events);
    check?.(d, events, i.t);
  }
  return all;
}

/** Invariants at every step: suspect iff every ring is down; degraded iff some ring down and some up. */
function consistent(d: Detector): void {
  const report = d.report('a');
  assert.ok(report);
  const links = report.rings.map((r) => r.link);
  const allDown = links.every((l) => l === 'down');
  assert.equal(report.verdict.kind === 'suspect', allDown, `verdict ${report.verdict.kind} with links ${links.join(',')}`);
  if (report.verdict.kind === 'degraded') assert.ok(links.includes('down') && links.includes('up'));
  if (report.verdict.kind === 'alive') assert.ok(!links.includes('down'));
}

const tickGaps = fc.array(fc.integer({ min: 1, max: RING_TIMEOUT / 2 - 1 }), { minLength: 1, maxLength: 20 });
const delay = fc.integer({ min: 0, max: MAX_DELAY });

describe('detector: properties', () => {
  it('a node that keeps sending on one ring is never suspect, whatever the other rings do', () => {
    const scenario = fc.record({
      steady: fc.integer({ min: 0, max: 2 }),
      steadyDelays: fc.array(delay, { minLength: 60, maxLength: 60 }),
      others: fc.array(fc.array(fc.option(delay, { nil: undefined }), { minLength: 3, maxLength: 3 }), { minLength: 60, maxLength: 60 }),
      ticks: tickGaps,
    });
    fc.assert(
      fc.property(scenario, ({ steady, steadyDelays, others, ticks }) => {
        const slots = others.map((fates, k) => fates.map((f, r) => (r === steady ? steadyDelays[k] : f)));
        const d = new Detector(options({ nodes: ['a'], rings: RINGS3 }));
        const events = feed(d, inputs({ slots, ticks }, 60 * INTERVAL), consistent);
        assert.ok(!events.some((e) => e.type === 'verdict' && e.verdict.kind === 'suspect'));
        assert.equal(d.report('a')?.rings[steady]?.link, 'up');
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('a node that stops on every ring is suspect within ringTimeout + a tick of its last heartbeat, and not before ringTimeout after its last slot', () => {
    const scenario = fc.record({
      slots: fc.array(fc.array(fc.option(delay, { nil: undefined, freq: 3 }), { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 60 }),
      ticks: tickGaps,
    });
    fc.assert(
      fc.property(scenario, (sc) => {
        const input = inputs(sc, sc.slots.length * INTERVAL + MAX_DELAY + 3 * RING_TIMEOUT);
        const d = new Detector(options({ nodes: ['a'], rings: RINGS3 }));
        const events = feed(d, input, consistent);
        const arrivals = input.filter((i): i is Extract<Input, { kind: 'hb' }> => i.kind === 'hb');
        const lastArrival = arrivals.at(-1)?.t ?? 0;
        const lastSlot = arrivals.reduce((m, a) => Math.max(m, a.seq), -1);
        const v = d.verdict('a');
        assert.equal(v?.kind, 'suspect');
        const suspect = events.filter((e): e is Extract<DetectorEvent, { type: 'verdict' }> => e.type === 'verdict' && e.verdict.kind === 'suspect').at(-1);
        assert.ok(suspect);
        // Declared at the deadline: ringTimeout after the freshest evidence, never after the last arrival's.
        assert.ok(suspect.at <= Math.max(lastArrival, 0) + RING_TIMEOUT, `suspect at ${suspect.at}, last arrival ${lastArrival}`);
        assert.ok(suspect.at >= Math.max(lastSlot * INTERVAL, 0) + RING_TIMEOUT, `suspect at ${suspect.at}, last slot sent at ${lastSlot * INTERVAL}`);
        // Emitted by the first tick at or after that deadline: at most one tick gap later.
        const tickAt = input.find((i) => i.kind === 'tick' && i.t >= suspect.at)?.t;
        assert.ok(tickAt !== undefined && tickAt - suspect.at < RING_TIMEOUT / 2);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('a tick leaves no ring up past its deadline, downs only rings whose deadline passed, and reports nodes in configured order (any number of nodes, both policies)', () => {
    const NODES = ['a', 'b', 'c', 'd'];
    const scenario = fc.record({
      // Per node: per slot, per ring, dropped or delivered after a delay (up to past the timeout).
      nodes: fc.array(fc.array(fc.array(fc.option(fc.integer({ min: 0, max: 2 * RING_TIMEOUT }), { nil: undefined, freq: 2 }), { minLength: 3, maxLength: 3 }), { minLength: 0, maxLength: 40 }), {
        minLength: NODES.length,
        maxLength: NODES.length,
      }),
      ticks: tickGaps,
    });
    fc.assert(
      fc.property(scenario, fc.boolean(), (sc, adaptive) => {
        const d = new Detector(options({ nodes: NODES, rings: RINGS3, ...(adaptive ? { policy: adaptivePolicy(INTERVAL, RING_TIMEOUT) } : {}) }));
        type In = { t: number; order: number; node?: string; ring?: string; seq?: number };
        const input: In[] = [];
        let order = 0;
        sc.nodes.forEach((slots, n) =>
          slots.forEach((fates, k) =>
            fates.forEach((delay, r) => {
              if (delay !== undefined) input.push({ t: k * INTERVAL + delay, order: order++, node: NODES[n] as string, ring: RINGS3[r] as string, seq: k });
            }),
          ),
        );
        for (let t = 0, i = 0; t <= 40 * INTERVAL + 3 * RING_TIMEOUT; i++) {
          t += sc.ticks[i % sc.ticks.length] as number;
          input.push({ t, order: order++ });
        }
        // Same time: heartbeats before ticks.
        input.sort((x, y) => x.t - y.t || Number(x.node === undefined) - Number(y.node === undefined) || x.order - y.order);
        for (const i of input) {
          if (i.node !== undefined) {
            d.heartbeat({ node: i.node, ring: i.ring as string, seq: i.seq as number, incarnation: 1, receivedAt: i.t });
            continue;
          }
          const events = d.tick(i.t);
          let last = -1;
          for (const e of events) {
            const at = NODES.indexOf(e.node);
            assert.ok(at >= last, `events out of node order: ${events.map((x) => x.node).join(',')}`);
            last = at;
            if (e.type === 'link') assert.ok(e.state === 'down' && e.at <= i.t, `a ring went ${e.type === 'link' ? e.state : ''} at ${e.at} in a tick at ${i.t}`);
          }
          if (i.t < RING_TIMEOUT) continue; // nothing goes down before start + ringTimeout
          for (const node of NODES) {
            for (const r of d.report(node)?.rings ?? []) {
              if (r.link !== 'down') assert.ok(r.lastEvidence + r.timeout > i.t, `${node} ${r.ring} still ${r.link} at ${i.t}, deadline ${r.lastEvidence + r.timeout}`);
            }
          }
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('the same inputs give the same events (determinism)', () => {
    const scenario = fc.record({
      slots: fc.array(fc.array(fc.option(fc.integer({ min: 0, max: 2 * RING_TIMEOUT }), { nil: undefined }), { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 40 }),
      ticks: fc.array(fc.integer({ min: 1, max: 2 * RING_TIMEOUT }), { minLength: 1, maxLength: 10 }),
    });
    fc.assert(
      fc.property(scenario, fc.boolean(), (sc, adaptive) => {
        const make = (): Detector => new Detector(options({ nodes: ['a'], rings: RINGS3, ...(adaptive ? { policy: adaptivePolicy(INTERVAL, RING_TIMEOUT) } : {}) }));
        const input = inputs(sc, sc.slots.length * INTERVAL + 1000);
        const d1 = make();
        const d2 = make();
        assert.deepEqual(feed(d1, input), feed(d2, input));
        assert.deepEqual(d1.report('a'), d2.report('a'));
      }),
      { seed: SEED, numRuns: Math.ceil(RUNS / 3) },
    );
  });
});
