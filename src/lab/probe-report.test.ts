// The probe's analysis on crafted answer lists: gaps and RTO, hand-overs, split brain.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyzeProbe, renderProbeReport, type ProbeAnswer } from './probe-report.js';

const START = Date.parse('2026-11-24T10:00:00.000Z');
const OPTS = { target: 'http://10.200.0.100:8080/', startedAt: START, intervalMs: 10 };

/** One answer every 10 ms from `fromMs` (inclusive) to `toMs` (exclusive), 1 ms latency. */
function series(fromMs: number, toMs: number, what: { host?: string; error?: string }, seq0 = fromMs / 10): ProbeAnswer[] {
  const out: ProbeAnswer[] = [];
  for (let t = fromMs, k = 0; t < toMs; t += 10, k++) {
    const base = { seq: seq0 + k, sentMs: t };
    if (what.error !== undefined) out.push({ ...base, doneMs: t + 200, ok: false, error: what.error });
    else out.push({ ...base, doneMs: t + 1, ok: true, ...(what.host === undefined ? {} : { host: what.host }) });
  }
  return out;
}

describe('analyzeProbe', () => {
  it('reports no gap, no hand-over and no split brain when one host answered everything', () => {
    const r = analyzeProbe(series(0, 1000, { host: 'h1' }), OPTS);
    assert.equal(r.requests, 100);
    assert.equal(r.ok, 100);
    assert.equal(r.failed, 0);
    assert.deepEqual(r.hosts, { h1: 100 });
    assert.equal(r.rto, null);
    assert.deepEqual(r.gaps, []);
    assert.deepEqual(r.handovers, []);
    assert.deepEqual(r.splitBrain, []);
    assert.deepEqual(r.latencyMs, { p50: 1, p99: 1, max: 1 });
  });

  it('measures a fail-over: the gap from the first failure to the first answer after it, and the hand-over', () => {
    const answers = [...series(0, 1000, { host: 'h1' }), ...series(1000, 1300, { error: 'timeout' }), ...series(1300, 2000, { host: 'h2' })];
    const r = analyzeProbe(answers, OPTS);
    assert.equal(r.failed, 30);
    assert.deepEqual(r.errors, { timeout: 30 });
    assert.equal(r.gaps.length, 1);
    const g = r.rto;
    assert.ok(g !== null);
    assert.equal(g.startMs, 1000);
    assert.equal(g.endMs, 1300);
    assert.equal(g.durationMs, 300);
    assert.equal(g.failed, 30);
    assert.equal(g.open, false);
    assert.equal(g.before, 'h1');
    assert.equal(g.after, 'h2');
    assert.equal(g.start, '2026-11-24T10:00:01.000Z');
    assert.equal(g.end, '2026-11-24T10:00:01.300Z');
    assert.deepEqual(r.handovers, [{ from: 'h1', to: 'h2', lastFromMs: 990, firstToMs: 1300, gapMs: 310, at: '2026-11-24T10:00:01.300Z' }]);
    assert.deepEqual(r.splitBrain, []);
  });

  it('takes the longest of several gaps as the RTO', () => {
    const answers = [
      ...series(0, 100, { host: 'h1' }),
      ...series(100, 150, { error: 'refused' }),
      ...series(150, 500, { host: 'h1' }),
      ...series(500, 800, { error: 'timeout' }),
      ...series(800, 900, { host: 'h1' }),
    ];
    const r = analyzeProbe(answers, OPTS);
    assert.equal(r.gaps.length, 2);
    assert.equal(r.rto?.startMs, 500);
    assert.equal(r.rto?.durationMs, 300);
    assert.deepEqual(r.errors, { refused: 5, timeout: 30 });
    assert.deepEqual(r.handovers, [], 'the same host came back: no hand-over');
  });

  it('marks a gap that never ended as open, ending at the last failure', () => {
    const r = analyzeProbe([...series(0, 100, { host: 'h1' }), ...series(100, 300, { error: 'timeout' })], OPTS);
    assert.equal(r.rto?.open, true);
    assert.equal(r.rto?.startMs, 100);
    assert.equal(r.rto?.endMs, 290 + 200);
    assert.equal(r.rto?.after, undefined);
  });

  it('counts a gap at the start, before anything answered, without a host before it', () => {
    const r = analyzeProbe([...series(0, 200, { error: 'refused' }), ...series(200, 300, { host: 'h2' })], OPTS);
    assert.equal(r.gaps[0]?.before, undefined);
    assert.equal(r.gaps[0]?.after, 'h2');
    assert.equal(r.gaps[0]?.durationMs, 200);
  });

  it('sorts answers by send time whatever order they completed in', () => {
    const answers = [...series(0, 1000, { host: 'h1' }), ...series(1000, 1300, { error: 'timeout' }), ...series(1300, 2000, { host: 'h2' })];
    const shuffled = [...answers].reverse();
    assert.deepEqual(analyzeProbe(shuffled, OPTS), analyzeProbe(answers, OPTS));
  });

  it('sees split brain when the old host answers again after the new one did', () => {
    // h1 alone, then h1 and h2 alternating for 200 ms (both hold the service), then h2 alone.
    const both: ProbeAnswer[] = [];
    for (let t = 500, k = 50; t < 700; t += 10, k++) both.push({ seq: k, sentMs: t, doneMs: t + 1, ok: true, host: k % 2 === 0 ? 'h2' : 'h1' });
    const r = analyzeProbe([...series(0, 500, { host: 'h1' }), ...both, ...series(700, 1000, { host: 'h2' })], OPTS);
    assert.equal(r.splitBrain.length, 1);
    const s = r.splitBrain[0];
    assert.ok(s !== undefined);
    assert.deepEqual(s.hosts, ['h1', 'h2']);
    assert.equal(s.startMs, 490, 'from the last h1 answer before h2 first answered');
    assert.equal(s.endMs, 700, "to h2's first answer after h1's last");
    assert.deepEqual(s.answers, { h1: 11, h2: 11 });
    assert.ok(r.handovers.length > 10, 'alternation is many hand-overs');
    assert.match(renderProbeReport(r), /SPLIT BRAIN: h1 and h2 both answered 10:00:00\.490 → 10:00:00\.700/);
  });

  it('does not call a clean hand-over without a gap split brain', () => {
    const r = analyzeProbe([...series(0, 500, { host: 'h1' }), ...series(500, 1000, { host: 'h2' })], OPTS);
    assert.deepEqual(r.splitBrain, []);
    assert.equal(r.handovers.length, 1);
    assert.equal(r.handovers[0]?.gapMs, 10);
  });

  it('does not call a fail-back after the old host was silent longer than the window split brain', () => {
    const answers = [...series(0, 500, { host: 'h1' }), ...series(500, 3000, { host: 'h2' }), ...series(3000, 3500, { host: 'h1' })];
    assert.deepEqual(analyzeProbe(answers, OPTS).splitBrain, []);
    // With a wider window the same answers are an overlap.
    assert.equal(analyzeProbe(answers, { ...OPTS, splitWindowMs: 5000 }).splitBrain.length, 1);
  });

  it('a single stray answer from the old host after a hand-over is split brain', () => {
    const answers: ProbeAnswer[] = [
      ...series(0, 300, { host: 'h1' }),
      ...series(300, 400, { error: 'timeout' }),
      { seq: 40, sentMs: 400, doneMs: 401, ok: true, host: 'h2' },
      { seq: 41, sentMs: 410, doneMs: 411, ok: true, host: 'h2' },
      { seq: 42, sentMs: 420, doneMs: 421, ok: true, host: 'h1' },
      ...series(430, 600, { host: 'h2' }, 43),
    ];
    const r = analyzeProbe(answers, OPTS);
    assert.equal(r.splitBrain.length, 1);
    assert.deepEqual(r.splitBrain[0]?.hosts, ['h1', 'h2']);
    assert.deepEqual(r.handovers.map((h) => `${h.from}>${h.to}`), ['h1>h2', 'h2>h1', 'h1>h2']);
  });

  it('counts answers without a host name as successes without hand-overs', () => {
    const r = analyzeProbe([...series(0, 100, {}), ...series(100, 200, { host: 'h1' })], OPTS);
    assert.deepEqual(r.hosts, { '?': 10, h1: 10 });
    assert.deepEqual(r.handovers, []);
  });

  it('gives latency percentiles of the successful answers only', () => {
    const answers: ProbeAnswer[] = Array.from({ length: 100 }, (_, i) => ({ seq: i, sentMs: i * 10, doneMs: i * 10 + (i + 1), ok: true, host: 'h1' }));
    answers.push({ seq: 100, sentMs: 1000, doneMs: 1200, ok: false, error: 'timeout' });
    const r = analyzeProbe(answers, OPTS);
    assert.deepEqual(r.latencyMs, { p50: 50, p99: 99, max: 100 });
  });

  it('renders an empty probe without crashing and says nothing answered', () => {
    const r = analyzeProbe([], OPTS);
    assert.equal(r.requests, 0);
    assert.equal(r.latencyMs, null);
    assert.match(renderProbeReport(r), /0 requests/);
    assert.match(renderProbeReport(r), /no request was sent/);
    assert.doesNotMatch(renderProbeReport(r), /every request was answered/);
  });
});

describe('availability', () => {
  it('gives the share of requests answered and of time outside gaps, in percent and nines', () => {
    // 2000 requests over 20 s; 10 failed in one 100 ms gap.
    const answers = [...series(0, 10_000, { host: 'h1' }), ...series(10_000, 10_100, { error: 'timeout' }), ...series(10_100, 20_000, { host: 'h2' })];
    const r = analyzeProbe(answers, { ...OPTS, durationMs: 20_000 });
    const a = r.availability;
    assert.ok(a !== null);
    assert.equal(a.requestsPercent, 99.5);
    assert.equal(a.requestsNines, 2.3);
    assert.equal(a.downtimeMs, 100);
    assert.equal(a.timePercent, 99.5);
    assert.match(renderProbeReport(r), /availability: 99\.5 % \(2\.3 nines\) of requests, 99\.5 % \(2\.3 nines\) of the time \(100 ms in gaps\)/);
  });

  it('has no finite nines when nothing failed, and none at all without requests', () => {
    const r = analyzeProbe(series(0, 1000, { host: 'h1' }), OPTS);
    assert.deepEqual(r.availability, { requestsPercent: 100, requestsNines: null, timePercent: 100, timeNines: null, downtimeMs: 0 });
    assert.match(renderProbeReport(r), /availability: 100 % \(no failure in 100 requests\)/);
    assert.equal(analyzeProbe([], OPTS).availability, null);
  });

  it('does not judge split brain for an active/active service, where hosts take turns', () => {
    const answers: ProbeAnswer[] = [];
    for (let i = 0; i < 100; i++) answers.push({ seq: i, sentMs: i * 10, doneMs: i * 10 + 1, ok: true, host: `h${(i % 3) + 1}` });
    assert.ok(analyzeProbe(answers, OPTS).splitBrain.length > 0, 'as active/passive it would be split brain');
    const r = analyzeProbe(answers, { ...OPTS, activeActive: true });
    assert.deepEqual(r.splitBrain, []);
    assert.equal(r.activeActive, true);
    const text = renderProbeReport(r);
    assert.match(text, /hand-overs: 99 \(active\/active/);
    assert.doesNotMatch(text, /SPLIT BRAIN|hand-over: /);
  });
});
