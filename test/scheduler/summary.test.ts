// The corpus's plan summary: what a reviewer of expected.txt relies on — actions listed in an order
// they may run, stable whatever order the scheduler emitted them in, and lines that say where.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { Action, Plan } from '../../src/model/plan.js';
import { runOrder, summarizePlan, transitionLine } from './summary.js';

const act = (id: string, kind: Action['kind']): Action => ({ id, kind, reason: `why ${id}` });

function planOf(actions: Action[], edges: Array<[string, string]>): Plan {
  return { actions, edges, transitions: [], placements: [], notes: [] };
}

describe('corpus summary', () => {
  test('lists actions after everything they wait for, whatever the emitted order', () => {
    const actions = [act('start web@n2', 'start'), act('stop web@n1', 'stop'), act('fence n1', 'fence')];
    const edges: Array<[string, string]> = [
      ['fence n1', 'stop web@n1'],
      ['stop web@n1', 'start web@n2'],
    ];
    const ids = runOrder(planOf(actions, edges)).map((a) => a.id);
    assert.deepEqual(ids, ['fence n1', 'stop web@n1', 'start web@n2']);
    const reversed = runOrder(planOf([...actions].reverse(), [...edges].reverse())).map((a) => a.id);
    assert.deepEqual(reversed, ids);
  });

  test('among ready actions: kind first (stops before starts), then id', () => {
    const ids = runOrder(planOf([act('start a@n1', 'start'), act('stop b@n2', 'stop'), act('start a@n0', 'start')], [])).map((a) => a.id);
    assert.deepEqual(ids, ['stop b@n2', 'start a@n0', 'start a@n1']);
  });

  test('actions caught in a cycle are still listed, after the others', () => {
    const ids = runOrder(
      planOf([act('x', 'start'), act('y', 'start'), act('z', 'stop')], [
        ['x', 'y'],
        ['y', 'x'],
      ]),
    ).map((a) => a.id);
    assert.deepEqual(ids, ['z', 'x', 'y']);
  });

  test('transition lines say where: a move, a copy, a blocked copy with its condition', () => {
    assert.equal(transitionLine({ kind: 'move', subject: 'web', from: 'n1', to: 'n2', reason: 'r' }), 'move web n1 -> n2: r');
    assert.equal(transitionLine({ kind: 'start', subject: 'web', to: 'n2', reason: 'r' }), 'start web@n2: r');
    assert.equal(transitionLine({ kind: 'blocked', subject: 'web@n1', from: 'failed', reason: 'r' }), 'blocked web@n1 (failed): r');
    assert.equal(transitionLine({ kind: 'fence', subject: 'n1', reason: 'r' }), 'fence n1: r');
  });

  test('an empty plan says (none) in every section', () => {
    assert.deepEqual(summarizePlan(planOf([], [])), ['notes:', '  (none)', 'transitions:', '  (none)', 'actions:', '  (none)', 'edges:', '  (none)']);
  });
});
