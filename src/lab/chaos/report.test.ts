// The chaos suite's table, summary and replay lines.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChaosResult, TrialResult } from './harness.js';
import { FAULT_KINDS, faultsFor } from './plan.js';
import { failed, renderChaos, replayCommand, summarize } from './report.js';

const trial = (n: number, over: Partial<TrialResult> = {}): TrialResult => ({
  trial: n,
  kind: 'power-off',
  target: 'h1',
  role: 'active',
  holdMs: 1500,
  recoveryMs: 1200,
  vipGapMs: 540,
  fenced: ['h1'],
  apHosts: ['h1', 'h2'],
  violations: [],
  startedAt: 0,
  injectedAt: 1,
  healedAt: 2,
  endedAt: 3,
  ...over,
});

const result = (trials: TrialResult[], over: Partial<ChaosResult> = {}): ChaosResult => ({
  seed: 42,
  lab: { name: 'chaos', id: 0, hosts: 3, rings: 2 },
  options: { faults: faultsFor(1), holdMinMs: 1000, holdMaxMs: 3000, boundMs: 10_000, trials: trials.length },
  trials,
  overall: [],
  aborted: false,
  durationMs: 60_000,
  ...over,
});

describe('the chaos report', () => {
  it('prints a row per trial and the summary, and passes a clean run', () => {
    const r = result([trial(1), trial(2, { kind: 'cut-ring', detail: 'ring1', role: 'other', target: 'h3', recoveryMs: 0, vipGapMs: null, fenced: [], apHosts: ['h2'] })]);
    const text = renderChaos(r);
    assert.match(text, /trial\s+fault\s+target\s+held\s+recovery\s+VIP gap\s+VIP on\s+fenced\s+violations/);
    assert.match(text, /\n\s+1\s+power-off\s+h1 \(active\)\s+1500 ms\s+1200 ms\s+540 ms\s+h1→h2\s+h1\s+-/);
    assert.match(text, /\n\s+2\s+cut-ring \(ring1\)\s+h3\s+/);
    assert.match(text, /2 trials, 0 violations, recovery p50 0 ms \/ p99 1200 ms/);
    assert.doesNotMatch(text, /replay/);
    assert.equal(failed(r), false);
  });

  it('prints each violation, the command to replay its trial, and fails', () => {
    const r = result([trial(1), trial(7, { kind: 'delay', fenced: ['h1'], violations: [{ invariant: 'fence', message: 'h1 was fenced' }] })], { options: { faults: ['delay', 'power-off'], holdMinMs: 1000, holdMaxMs: 2000, boundMs: 10_000, trials: 7 } });
    const text = renderChaos(r);
    assert.match(text, /trial 7 \(delay on h1\): fence: h1 was fenced/);
    assert.match(text, /haven lab chaos --replay 42:7 --faults delay,power-off --hold 1000ms-2000ms --bound 10000ms/);
    assert.equal(replayCommand(r, 7), 'haven lab chaos --replay 42:7 --faults delay,power-off --hold 1000ms-2000ms --bound 10000ms');
    assert.equal(summarize(r).violations, 1);
    assert.equal(failed(r), true);
  });

  it('with 3 controllers: names the shape, the roles hit, and replays with --controllers 3', () => {
    const r = result(
      [
        trial(1, { kind: 'leader-kill', role: 'leader', target: 'controller2', fenced: [], apHosts: ['h1'] }),
        trial(2, { kind: 'etcd-majority', role: 'etcd', target: 'controller,controller3', detail: 'raft leader left', fenced: [], apHosts: ['h1'], violations: [{ invariant: 'restarted', message: 'x' }] }),
      ],
      { lab: { name: 'chaos', id: 0, hosts: 3, rings: 2, controllers: 3, leaderLease: 2 }, options: { faults: [...FAULT_KINDS], holdMinMs: 1000, holdMaxMs: 3000, boundMs: 10_000, trials: 2 } },
    );
    const text = renderChaos(r);
    assert.match(text, /\(3 hosts, 2 rings, 3 controllers on etcd, leader lease 2 s\)/);
    assert.match(text, /\n\s+1\s+leader-kill\s+controller2 \(leader\)\s+/);
    assert.match(text, /\n\s+2\s+etcd-majority \(raft leader left\)\s+etcd@controller,controller3\s+/);
    assert.equal(replayCommand(r, 2), 'haven lab chaos --replay 42:2 --controllers 3 --hold 1000ms-3000ms --bound 10000ms');
    assert.equal(replayCommand({ ...r, options: { ...r.options, faults: ['leader-pause'] } }, 2), 'haven lab chaos --replay 42:2 --controllers 3 --faults leader-pause --hold 1000ms-3000ms --bound 10000ms');
  });

  it('counts harness errors apart from violations, and fails on them too', () => {
    const r = result([trial(1, { recoveryMs: null, violations: [{ invariant: 'harness', message: 'could not inject' }] })]);
    const s = summarize(r);
    assert.equal(s.violations, 0);
    assert.equal(s.harnessErrors, 1);
    assert.equal(s.recovery.notBack, 1);
    assert.equal(failed(r), true);
    assert.match(renderChaos(r), /0 violations, 1 harness error/);
  });
});
