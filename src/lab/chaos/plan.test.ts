// The chaos suite's seeded plans: the same seed and trial give the same fault, alone or in a run.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../errors.js';
import { FAULT_KINDS, faultsFor, fenceAllowed, holdOf, leaderChangeOnly, parseControllers, parseFaults, parseReplay, planTrial, type PlanOptions } from './plan.js';
import { trialRandom } from './prng.js';

const opts: PlanOptions = { faults: faultsFor(1), holdMinMs: 1000, holdMaxMs: 3000, hosts: 3, rings: 2 };
const three: PlanOptions = { ...opts, faults: faultsFor(3), controllers: 3 };
const ETCD_FAULTS = ['leader-kill', 'leader-pause', 'etcd-kill', 'etcd-majority'];

describe('trialRandom', () => {
  it('gives the same numbers for the same seed and trial, others for another trial or seed', () => {
    const a = Array.from({ length: 5 }, ((r) => () => r.next())(trialRandom(42, 7)));
    const b = Array.from({ length: 5 }, ((r) => () => r.next())(trialRandom(42, 7)));
    const c = Array.from({ length: 5 }, ((r) => () => r.next())(trialRandom(42, 8)));
    const d = Array.from({ length: 5 }, ((r) => () => r.next())(trialRandom(43, 7)));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.notDeepEqual(a, d);
    for (const x of a) assert.ok(x >= 0 && x < 1);
  });

  it('spreads int() over its whole range', () => {
    const r = trialRandom(1, 1);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(r.int(0, 4));
    assert.deepEqual([...seen].sort(), [0, 1, 2, 3, 4]);
  });
});

describe('planTrial', () => {
  it('is a function of the seed and the trial number alone', () => {
    const run = Array.from({ length: 30 }, (_, i) => planTrial(42, i + 1, opts));
    assert.deepEqual(planTrial(42, 17, opts), run[16]);
    assert.notDeepEqual(run.map((p) => p.kind), Array.from({ length: 30 }, (_, i) => planTrial(43, i + 1, opts).kind));
  });

  it('draws every fault, holds within the range, rings and indexes that exist', () => {
    const kinds = new Set<string>();
    for (let t = 1; t <= 300; t++) {
      const p = planTrial(9, t, opts);
      kinds.add(p.kind);
      assert.ok(p.holdMs >= 1000 && p.holdMs <= 3000, `hold ${p.holdMs}`);
      if (p.kind === 'cut-ring') assert.ok(p.ring === 0 || p.ring === 1);
      if (p.kind === 'asym-partition') assert.ok(p.direction === 'in' || p.direction === 'out');
      if (p.target.role === 'other') assert.ok(p.target.index >= 0 && p.target.index <= 1);
      if (p.kind === 'controller-kill') assert.deepEqual(p.target, { role: 'controller' });
      else assert.notEqual(p.target.role, 'controller');
      if (p.kind === 'service-kill' && p.service === 'ap') assert.deepEqual(p.target, { role: 'active' });
    }
    assert.deepEqual([...kinds].sort(), faultsFor(1).sort());
  });

  it('with 3 controllers: draws every fault too, the leader, a follower (controller-kill) or an etcd member by raft role', () => {
    const kinds = new Set<string>();
    const raft = new Set<string>();
    for (let t = 1; t <= 400; t++) {
      const p = planTrial(9, t, three);
      kinds.add(p.kind);
      if (p.kind === 'leader-kill' || p.kind === 'leader-pause') assert.deepEqual(p.target, { role: 'leader' });
      if (p.kind === 'controller-kill') assert.ok(p.target.role === 'follower' && (p.target.index === 0 || p.target.index === 1), JSON.stringify(p.target));
      if (p.kind === 'etcd-kill' || p.kind === 'etcd-majority') {
        assert.equal(p.target.role, 'etcd');
        if (p.target.role === 'etcd') raft.add(`${p.kind} ${p.target.raft}`);
      }
    }
    assert.deepEqual([...kinds].sort(), [...FAULT_KINDS].sort());
    assert.deepEqual([...raft].sort(), ['etcd-kill follower', 'etcd-kill leader', 'etcd-majority follower', 'etcd-majority leader']);
  });

  it('holds a leader pause past the leader lease, an etcd majority past it and the agents\' lease too', () => {
    const leases = { leaderMs: 2000, agentMs: 3000 };
    const p = (kind: (typeof FAULT_KINDS)[number]): number => holdOf({ trial: 1, kind, target: { role: 'leader' }, holdMs: 1500 }, leases);
    assert.equal(p('leader-pause'), 3500);
    assert.equal(p('etcd-majority'), 6500);
    assert.equal(p('leader-kill'), 1500);
    assert.equal(p('etcd-kill'), 1500);
  });

  it('draws the faults of one controller as before the leader and etcd faults existed (old seeds replay the same)', () => {
    // Seed 191 of the suite's pass (test/lab/chaos.test.ts), as its run on d64e836 printed them.
    const kinds = Array.from({ length: 20 }, (_, i) => planTrial(191, i + 1, { ...opts, holdMaxMs: 2000 }).kind);
    assert.equal(new Set(kinds).size, 10);
    assert.ok(kinds.every((k) => !ETCD_FAULTS.includes(k)));
    assert.deepEqual(planTrial(191, 1, { ...opts, holdMaxMs: 2000 }), planTrial(191, 1, { ...opts, holdMaxMs: 2000, controllers: 1 }));
  });

  it('draws only from the faults asked for', () => {
    for (let t = 1; t <= 50; t++) assert.ok(['loss', 'delay'].includes(planTrial(5, t, { ...opts, faults: ['loss', 'delay'] }).kind));
  });
});

describe('parseFaults, parseReplay', () => {
  it('takes a list of known faults, all, or nothing', () => {
    assert.deepEqual(parseFaults('power-off, delay,power-off'), ['power-off', 'delay']);
    assert.deepEqual(parseFaults(undefined), faultsFor(1));
    assert.deepEqual(parseFaults('all'), faultsFor(1));
    assert.deepEqual(parseFaults('all', 3), [...FAULT_KINDS]);
    assert.deepEqual(faultsFor(1).filter((k) => ETCD_FAULTS.includes(k)), []);
    assert.throws(() => parseFaults('power-off,meteor'), (e: unknown) => e instanceof UsageError && /unknown fault "meteor"/.test(e.message));
    assert.throws(() => parseFaults(','), UsageError);
  });

  it('refuses a fault that needs 3 controllers on a lab of one, and takes it with 3', () => {
    for (const f of ETCD_FAULTS) {
      assert.throws(() => parseFaults(`power-off,${f}`), (e: unknown) => e instanceof UsageError && e.message === `${f} needs a lab with 3 controllers on etcd; this one has 1` && /--controllers 3/.test(e.hint ?? ''), f);
      assert.deepEqual(parseFaults(`power-off,${f}`, 3), ['power-off', f]);
    }
    assert.deepEqual(parseFaults('controller-kill'), ['controller-kill']);
    assert.equal(parseControllers(3), 3);
    assert.throws(() => parseControllers(2), UsageError);
  });

  it('reads SEED:TRIAL', () => {
    assert.deepEqual(parseReplay('42:17'), { seed: 42, trial: 17 });
    for (const bad of ['42', '42:0', 'x:1', '42:1:2', '4294967296:1']) assert.throws(() => parseReplay(bad), UsageError, bad);
  });
});

describe('fenceAllowed', () => {
  it('lets only death and unreachability fence', () => {
    const allowed = FAULT_KINDS.filter((k) => fenceAllowed(k).allowed).sort();
    assert.deepEqual(allowed, ['agent-kill', 'asym-partition', 'partition', 'power-off']);
  });

  it('counts as a leader change alone: the leader and etcd-kill faults, and a follower killed (3 controllers)', () => {
    assert.deepEqual(FAULT_KINDS.filter((k) => leaderChangeOnly(k, 3)).sort(), ['controller-kill', 'etcd-kill', 'leader-kill', 'leader-pause']);
    assert.deepEqual(FAULT_KINDS.filter((k) => leaderChangeOnly(k, 1)).sort(), ['etcd-kill', 'leader-kill', 'leader-pause']);
  });
});
