import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Action, Plan } from '../model/plan.js';
import { executePlan, type ActionOutcome } from './executor.js';

function planOf(ids: string[], edges: [string, string][]): Plan {
  const actions: Action[] = ids.map((id) => ({ id, kind: 'start', resource: id, node: 'n1', reason: 'test' }));
  return { actions, edges, transitions: [], placements: [], notes: [] } as unknown as Plan;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('executePlan', () => {
  it('runs an action only after everything before it succeeded, and independent ones at once', async () => {
    const log: string[] = [];
    let running = 0;
    let peak = 0;
    const p = planOf(['a', 'b', 'c', 'd'], [['a', 'c'], ['b', 'c'], ['c', 'd']]);
    const r = await executePlan(p, {
      parallelism: 8,
      run: async (a) => {
        running++;
        peak = Math.max(peak, running);
        log.push(`start ${a.id}`);
        await sleep(5);
        log.push(`end ${a.id}`);
        running--;
        return { ok: true };
      },
    });
    assert.deepEqual(r.done.slice(2), ['c', 'd']);
    assert.equal(peak, 2, 'a and b ran together');
    assert.ok(log.indexOf('start c') > log.indexOf('end a') && log.indexOf('start c') > log.indexOf('end b'));
    assert.ok(log.indexOf('start d') > log.indexOf('end c'));
    assert.equal(r.skipped, 0);
    assert.equal(r.aborted, false);
  });

  it('keeps to the parallelism limit', async () => {
    let running = 0;
    let peak = 0;
    const ids = Array.from({ length: 20 }, (_, i) => `x${i}`);
    await executePlan(planOf(ids, []), {
      parallelism: 3,
      run: async () => {
        peak = Math.max(peak, ++running);
        await sleep(2);
        running--;
        return { ok: true };
      },
    });
    assert.equal(peak, 3);
  });

  it('starts nothing new after a failure, lets running actions finish, and reports the first failure', async () => {
    const ended: string[] = [];
    const p = planOf(['a', 'slow', 'after-a'], [['a', 'after-a']]);
    const r = await executePlan(p, {
      parallelism: 8,
      run: async (a): Promise<ActionOutcome> => {
        if (a.id === 'a') return { ok: false, why: 'rc 1' };
        await sleep(20);
        ended.push(a.id);
        return { ok: true };
      },
    });
    assert.deepEqual(r.failed, { action: 'a', why: 'rc 1' });
    assert.deepEqual(ended, ['slow'], 'the running action finished; the dependent one never started');
    assert.equal(r.skipped, 1);
  });

  it('turns a thrown error into a failure', async () => {
    const r = await executePlan(planOf(['a'], []), {
      parallelism: 1,
      run: () => Promise.reject(new Error('agent unreachable')),
    });
    assert.equal(r.failed?.why, 'agent unreachable');
  });

  it('stops starting actions when aborted from outside', async () => {
    const ac = new AbortController();
    const started: string[] = [];
    const r = await executePlan(planOf(['a', 'b'], [['a', 'b']]), {
      parallelism: 1,
      signal: ac.signal,
      run: async (a) => {
        started.push(a.id);
        ac.abort(new Error('node lost'));
        return { ok: true };
      },
    });
    assert.deepEqual(started, ['a']);
    assert.equal(r.aborted, true);
    assert.equal(r.skipped, 1);
  });
});
