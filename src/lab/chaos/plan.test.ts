// The chaos suite's seeded plans: the same seed and trial give the same fault, alone or in a run.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../errors.js';
import { FAULT_KINDS, fenceAllowed, parseFaults, parseReplay, planTrial, type PlanOptions } from './plan.js';
import { trialRandom } from './prng.js';

const opts: PlanOptions = { faults: FAULT_KINDS, holdMinMs: 1000, holdMaxMs: 3000, hosts: 3, rings: 2 };

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
    assert.deepEqual([...kinds].sort(), [...FAULT_KINDS].sort());
  });

  it('draws only from the faults asked for', () => {
    for (let t = 1; t <= 50; t++) assert.ok(['loss', 'delay'].includes(planTrial(5, t, { ...opts, faults: ['loss', 'delay'] }).kind));
  });
});

describe('parseFaults, parseReplay', () => {
  it('takes a list of known faults, all, or nothing', () => {
    assert.deepEqual(parseFaults('power-off, delay,power-off'), ['power-off', 'delay']);
    assert.deepEqual(parseFaults(undefined), [...FAULT_KINDS]);
    assert.deepEqual(parseFaults('all'), [...FAULT_KINDS]);
    assert.throws(() => parseFaults('power-off,meteor'), (e: unknown) => e instanceof UsageError && /unknown fault "meteor"/.test(e.message));
    assert.throws(() => parseFaults(','), UsageError);
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
});
