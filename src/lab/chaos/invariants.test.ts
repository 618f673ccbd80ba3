// The chaos suite's invariants on recorded facts: fences, recovery, what must survive.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  backAt,
  doneActions,
  durableViolations,
  epochStarts,
  fenceViolations,
  lostEvents,
  lostEventsViolation,
  percentile,
  recoveryViolation,
  restartViolations,
  staleViolations,
  twiceViolations,
  withEpochs,
  type DurableView,
  type SeenEvent,
} from './invariants.js';
import type { FaultPlan } from './plan.js';

const plan = (kind: FaultPlan['kind']): FaultPlan => ({ trial: 1, kind, target: { role: 'active' }, holdMs: 1000 });
const fence = (node: string, at = 1000): { at: number; node: string; kind: string; message: string } => ({ at, node, kind: 'fence', message: `fencing ${node}` });

describe('fenceViolations', () => {
  it('lets a power cut, a partition, an asymmetric partition or an agent crash fence their target only', () => {
    for (const kind of ['power-off', 'partition', 'asym-partition', 'agent-kill'] as const) {
      assert.deepEqual(fenceViolations(plan(kind), 'h1', [fence('h1'), { ...fence('h1'), kind: 'fenced' }]), [], kind);
      const v = fenceViolations(plan(kind), 'h1', [fence('h1'), fence('h2')]);
      assert.equal(v.length, 1, kind);
      assert.match(v[0]?.message ?? '', /h2 was fenced .*h2 was not the target/);
    }
  });

  it('lets nothing else fence anybody', () => {
    for (const kind of ['cut-ring', 'loss', 'delay', 'cpu-hog', 'controller-kill', 'service-kill'] as const) {
      const v = fenceViolations(plan(kind), 'h1', [fence('h1'), { ...fence('h1'), kind: 'fence-failed' }]);
      assert.equal(v.length, 1, kind);
      assert.equal(v[0]?.invariant, 'fence');
      assert.match(v[0]?.message ?? '', new RegExp(`${kind} must fence nothing`));
    }
    assert.deepEqual(fenceViolations(plan('loss'), 'h1', []), []);
  });
});

describe('backAt and recoveryViolation', () => {
  const a = (sentAt: number, ok: boolean): { sentAt: number; ok: boolean } => ({ sentAt, ok });

  it('is the heal itself when nothing failed after it', () => {
    assert.equal(backAt([a(900, false), a(1000, true), a(1010, true)], 1000), 1000);
  });

  it('is the first success after the last failure', () => {
    assert.equal(backAt([a(1000, false), a(1010, true), a(1020, false), a(1500, true), a(1510, true)], 1000), 1500);
  });

  it('is undefined while the service still fails, or with nothing sent after the heal', () => {
    assert.equal(backAt([a(1000, true), a(1010, false)], 1000), undefined);
    assert.equal(backAt([a(900, true)], 1000), undefined);
  });

  it('flags a service back late, or never', () => {
    assert.equal(recoveryViolation('web', 1000 + 9_999, 1000, 10_000, 40_000), undefined);
    assert.match(recoveryViolation('web', 1000 + 10_001, 1000, 10_000, 40_000)?.message ?? '', /web was back 10001 ms after the heal \(bound 10000 ms\)/);
    assert.match(recoveryViolation('web', undefined, 1000, 10_000, 31_000)?.message ?? '', /web was not back 30 s after the heal/);
  });
});

describe('durableViolations', () => {
  const view: DurableView = { failures: [{ resource: 'web', node: 'h1', count: 2 }, { resource: 'web-c', node: 'h2', count: 'INFINITY' }], constraints: ['cli-ban-marker-on-h3'], resources: ['group:web-service'] };

  it('accepts the same or more', () => {
    assert.deepEqual(durableViolations(view, view, new Set()), []);
    assert.deepEqual(durableViolations(view, { ...view, failures: [{ resource: 'web', node: 'h1', count: 3 }, ...view.failures.slice(1), { resource: 'x', node: 'h3', count: 1 }] }, new Set()), []);
  });

  it('flags a lost or lowered fail count, a lost or new constraint, changed resources', () => {
    const v = durableViolations(view, { failures: [{ resource: 'web', node: 'h1', count: 1 }], constraints: ['cli-prefer-web'], resources: [] }, new Set());
    assert.deepEqual(
      v.map((x) => x.message),
      [
        'the fail count of web on h1 went down from 2 to 1',
        'the fail count of web-c on h2 (INFINITY) was lost',
        'the operator constraint cli-ban-marker-on-h3 was lost',
        'an operator constraint cli-prefer-web appeared that nobody set',
        'the configured resources changed: group:web-service → ',
      ],
    );
  });

  it("lets a fenced node lose its own fail counts, no one else's", () => {
    const after = { ...view, failures: [] };
    assert.deepEqual(
      durableViolations(view, after, new Set(['h1'])).map((x) => x.message),
      ['the fail count of web-c on h2 (INFINITY) was lost'],
    );
  });
});

describe('percentile', () => {
  it('is the nearest rank', () => {
    assert.equal(percentile([5, 1, 3, 2, 4], 50), 3);
    assert.equal(percentile([5, 1, 3, 2, 4], 99), 5);
    assert.ok(Number.isNaN(percentile([], 50)));
  });
});

describe('lostEvents', () => {
  const e = (at: number, kind: string, message: string): { at: number; kind: string; message: string } => ({ at, kind, message });

  it('finds what the controller logged but its event log lacks', () => {
    const logged = [e(1000, 'fence', 'fencing h1'), e(2000, 'failure', 'web failed on h2')];
    assert.deepEqual(lostEvents(logged, [e(1001, 'fence', 'fencing h1'), e(2000, 'failure', 'web failed on h2')]), []);
    assert.deepEqual(lostEvents(logged, [e(1001, 'fence', 'fencing h1')]), [logged[1]]);
    assert.match(lostEventsViolation(lostEvents(logged, []))?.message ?? '', /^2 events the controller logged are not in its event log .*: fence: fencing h1$/);
    assert.equal(lostEventsViolation([]), undefined);
  });

  it("ignores what a controller logged while not the leader (it writes no events then)", () => {
    assert.deepEqual(lostEvents([{ ...e(1000, 'observed', 'h1 alive'), follower: true }], []), []);
  });

  it('spares what was logged just before a kill -9', () => {
    const logged = [e(1000, 'action', 'start web'), e(5000, 'plan', 'plan of 1')];
    assert.deepEqual(lostEvents(logged, [], [{ from: 50, until: 1050 }]), [logged[1]]);
  });

  it("spares only the controller, and the epochs, a spare names", () => {
    const logged: SeenEvent[] = [
      { ...e(1000, 'ring', 'h1: ring 0 down'), controller: 'controller2', epoch: 4 },
      { ...e(1200, 'ring', 'h1: ring 0 up'), controller: 'controller3', epoch: 5 },
    ];
    assert.deepEqual(lostEvents(logged, [], [{ from: 0, until: 2000, controller: 'controller2' }]), [logged[1]]);
    assert.deepEqual(lostEvents(logged, [], [{ from: 0, until: 2000, maxEpoch: 4 }]), [logged[1]]);
    assert.deepEqual(lostEvents(logged, [], [{ from: 0, until: 2000, maxEpoch: 5 }]), []);
  });
});

describe('across a leader change: actions done twice or by a deposed leader, services restarted', () => {
  const action = (at: number, message: string, epoch?: number, controller?: string): SeenEvent => ({ at, kind: 'action', message, ...(epoch === undefined ? {} : { epoch }), ...(controller === undefined ? {} : { controller }) });
  const leads = (at: number, epoch: number, seq = 0): SeenEvent & { seq: number } => ({ seq, at, kind: 'controller', message: `controller controller2 leads with epoch ${epoch} (state restored)` });

  it('reads the action id, its epoch and when it was sent from an action event', () => {
    assert.deepEqual(doneActions([action(5000, 'start web@h2 done in 1200 ms: web-service moves to h2', 7, 'controller3'), action(6000, 'start x@h1 done in 3 ms: y'), { ...action(7000, 'stop web@h1 done in 5 ms: z', 7), kind: 'plan' }]), [
      { id: 'start web@h2', epoch: 7, sentAt: 3800, at: 5000, controller: 'controller3' },
    ]);
  });

  it('dates stored events by the last leads-with-epoch event before them', () => {
    const stored = [{ ...action(3000, 'start a@h1 done in 1 ms: r'), seq: 12 }, leads(2000, 8, 11), { ...action(1000, 'start b@h1 done in 1 ms: r'), seq: 10 }];
    assert.deepEqual(withEpochs(stored, 7).map((e) => [e.message.slice(0, 7), e.epoch]), [['start b', 7], ['control', 8], ['start a', 8]]);
    assert.deepEqual([...epochStarts([leads(2000, 8), leads(1500, 8), leads(4000, 9)])], [[8, 1500], [9, 4000]]);
  });

  it('finds one action done by two epochs, but not a probe, nor the same action twice in one term', () => {
    const acts = doneActions([
      action(1000, 'start web@h2 done in 10 ms: r', 7),
      action(1005, 'start web@h2 done in 10 ms: r', 7),
      action(1000, 'probe *@h1 done in 10 ms: r', 7),
      action(5000, 'probe *@h1 done in 10 ms: r', 8),
    ]);
    assert.deepEqual(twiceViolations(acts), []);
    const again = twiceViolations([...acts, ...doneActions([action(6000, 'start web@h2 done in 10 ms: r', 8)])]);
    assert.equal(again.length, 1);
    assert.match(again[0]?.message ?? '', /^start web@h2 was done by 2 leaders: epoch 7 at .*, epoch 8 at /);
    assert.equal(again[0]?.invariant, 'twice');
  });

  it('finds an action sent by a leader after a newer epoch began', () => {
    const starts = new Map([[8, 5000]]);
    assert.deepEqual(staleViolations(doneActions([action(4000, 'stop web@h1 done in 10 ms: r', 7), action(6000, 'stop web@h1 done in 10 ms: r', 8), action(5500, 'start web@h1 done in 2000 ms: r', 7)]), starts), []);
    const v = staleViolations(doneActions([action(6000, 'fence h1 done in 10 ms: r', 7, 'controller')]), starts);
    assert.equal(v.length, 1);
    assert.match(v[0]?.message ?? '', /^fence h1 was sent at .* by epoch 7 \(controller\) and done, although epoch 8 had begun/);
  });

  it('finds a lab-web process gone or new after a leader change', () => {
    assert.deepEqual(restartViolations(['h1:8080:10', 'h2:8081:11'], ['h2:8081:11', 'h1:8080:10']), []);
    const v = restartViolations(['h1:8080:10', 'h2:8081:11'], ['h1:8080:12', 'h2:8081:11']);
    assert.deepEqual(v.map((x) => x.invariant), ['restarted']);
    assert.match(v[0]?.message ?? '', /gone h1:8080:10; new h1:8080:12/);
  });
});
