// The plan renderer, without a process: summary lines, the DAG in an order it may run with
// what each action waits for, one resource's scores, dot and stable JSON.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Plan } from '../model/plan.js';
import { INFINITY } from '../model/units.js';
import { orderActions, renderActions, renderDot, renderExplanation, renderPlan, renderSummary, stableJson, type Explanation } from './render-plan.js';

/** n1 went unclean while running web: fence it, then move web to n2. Listed out of order on purpose. */
const PLAN: Plan = {
  actions: [
    { id: 'monitor-start web@n2/10s', kind: 'monitor-start', resource: 'web', node: 'n2', interval: 10_000, timeout: 20_000, reason: 'watch web every 10s' },
    { id: 'start web@n2', kind: 'start', resource: 'web', node: 'n2', timeout: 20_000, reason: 'placed on n2: highest score' },
    { id: 'stop web@n1', kind: 'stop', resource: 'web', node: 'n1', implied: true, reason: 'implied by fencing n1' },
    { id: 'fence n1', kind: 'fence', node: 'n1', reason: 'n1 is unclean' },
  ],
  edges: [
    ['start web@n2', 'monitor-start web@n2/10s'],
    ['stop web@n1', 'start web@n2'],
    ['fence n1', 'stop web@n1'],
    ['fence n1', 'start web@n2'],
  ],
  transitions: [
    { kind: 'fence', subject: 'n1', reason: 'n1 is unclean' },
    { kind: 'move', subject: 'web', from: 'n1', to: 'n2', reason: 'n1 is unclean; fenced first' },
    { kind: 'start', subject: 'api:1', to: 'n3', reason: 'a copy per node' },
  ],
  placements: [],
  notes: ['quorum held by 2 of 3 nodes'],
};

describe('renderSummary', () => {
  it('prints notes, then one aligned line per transition', () => {
    assert.equal(
      renderSummary(PLAN),
      [
        'Notes:',
        '  - quorum held by 2 of 3 nodes',
        '',
        'Transition Summary:',
        '  * Fence    n1                   n1 is unclean',
        '  * Move     web    ( n1 -> n2 )  n1 is unclean; fenced first',
        '  * Start    api:1  ( n3 )        a copy per node',
        '',
      ].join('\n'),
    );
  });

  it('says when there is nothing to do', () => {
    assert.equal(renderSummary({ actions: [], edges: [], transitions: [], placements: [], notes: [] }), 'Transition Summary:\n  (nothing to do)\n');
  });

  it('colours only when asked', () => {
    assert.ok(!renderPlan(PLAN).includes('\x1b['));
    assert.ok(renderPlan(PLAN, { color: true }).includes('\x1b[31m'));
  });
});

describe('orderActions', () => {
  it('puts every action after what it waits for, ties in plan order', () => {
    const { order, waitsFor, cyclic, dangling } = orderActions(PLAN);
    assert.deepEqual(
      order.map((a) => a.id),
      ['fence n1', 'stop web@n1', 'start web@n2', 'monitor-start web@n2/10s'],
    );
    assert.deepEqual(waitsFor.get('start web@n2'), ['stop web@n1', 'fence n1']);
    assert.deepEqual(cyclic, []);
    assert.deepEqual(dangling, []);
  });

  it('keeps plan order among independent actions', () => {
    const plan: Plan = {
      actions: ['c', 'a', 'b'].map((id) => ({ id, kind: 'pseudo' as const, reason: id })),
      edges: [],
      transitions: [],
      placements: [],
      notes: [],
    };
    assert.deepEqual(
      orderActions(plan).order.map((a) => a.id),
      ['c', 'a', 'b'],
    );
  });

  it('shows a cycle and edges to missing actions instead of hiding them', () => {
    const plan: Plan = {
      actions: ['a', 'b', 'c'].map((id) => ({ id, kind: 'pseudo' as const, reason: id })),
      edges: [
        ['a', 'b'],
        ['b', 'a'],
        ['ghost', 'c'],
      ],
      transitions: [],
      placements: [],
      notes: [],
    };
    const r = orderActions(plan);
    assert.deepEqual(r.cyclic, ['a', 'b']);
    assert.deepEqual(r.dangling, ['ghost']);
    const text = renderActions(plan);
    assert.ok(text.includes('warning: these actions wait for each other in a cycle: a, b'));
    assert.ok(text.includes('warning: edges name actions that are not in the plan: ghost'));
  });
});

describe('renderActions', () => {
  it('numbers the actions, gives each its reason and what it waits for', () => {
    assert.equal(
      renderActions(PLAN),
      [
        'Actions (4, in an order they may run):',
        '  1. fence n1                    n1 is unclean',
        '  2. stop web@n1 (implied)       implied by fencing n1',
        '     waits for: fence n1 [1]',
        '  3. start web@n2 (timeout 20s)  placed on n2: highest score',
        '     waits for: stop web@n1 [2], fence n1 [1]',
        '  4. monitor-start web@n2/10s    watch web every 10s',
        '     waits for: start web@n2 [3]',
        '',
      ].join('\n'),
    );
  });
});

describe('renderExplanation', () => {
  const explanation: Explanation = {
    placement: {
      resource: 'web',
      nodes: ['n2'],
      baseScore: 0,
      scores: { n1: -INFINITY, n2: 150 },
      contributions: [
        { node: 'n1', score: -INFINITY, source: 'node n1 is unclean' },
        { node: 'n2', score: 50, source: 'location prefer-n2' },
        { node: 'n2', score: 100, source: 'stickiness' },
      ],
      decision: 'placed on n2: highest score 150',
    },
    rows: [
      { node: 'n1', score: -INFINITY, eligible: false, unavailable: 'n1 is unclean', chosen: false, promoted: false },
      { node: 'n2', score: 150, eligible: true, chosen: true, promoted: false },
      { node: 'n3', score: 0, eligible: true, chosen: false, promoted: false },
    ],
  };

  it('prints every node with its score, the contributions with their sources, and the decision', () => {
    assert.equal(
      renderExplanation(explanation),
      [
        'Placement of web:',
        '  Node  Score      Result',
        '  n1    -INFINITY  cannot host: n1 is unclean',
        '  n2    150        runs here',
        '  n3    0 (base)',
        '',
        'Contributions:',
        '  *     0          base score (every node without its own)',
        '  n1    -INFINITY  node n1 is unclean',
        '  n2    50         location prefer-n2',
        '  n2    100        stickiness',
        '',
        'Decision: placed on n2: highest score 150',
        '',
      ].join('\n'),
    );
  });
});

describe('renderDot', () => {
  it('draws one node per action, dashed when implied, and one arrow per edge, escaping quotes', () => {
    const plan: Plan = {
      ...PLAN,
      actions: [...PLAN.actions, { id: 'pseudo "all stopped"', kind: 'pseudo', reason: 'a "barrier"' }],
    };
    const dot = renderDot(plan);
    assert.ok(dot.startsWith('digraph plan {\n'));
    assert.ok(dot.endsWith('}\n'));
    assert.ok(dot.includes('"stop web@n1" [label="stop web@n1", tooltip="implied by fencing n1", color=red, fontcolor=red, style=dashed];'));
    assert.ok(dot.includes('"fence n1" -> "stop web@n1";'));
    assert.ok(dot.includes('"pseudo \\"all stopped\\"" [label="pseudo \\"all stopped\\"", tooltip="a \\"barrier\\""'));
    assert.equal(dot.split('->').length - 1, PLAN.edges.length);
  });
});

describe('stableJson', () => {
  it('prints the same bytes whatever order the keys were built in', () => {
    const a = { notes: [], edges: [], actions: [{ reason: 'r', kind: 'fence', id: 'fence n1', node: 'n1' }], placements: [], transitions: [] };
    const b = { actions: [{ id: 'fence n1', node: 'n1', kind: 'fence', reason: 'r' }], transitions: [], placements: [], edges: [], notes: [] };
    assert.equal(stableJson(a), stableJson(b));
    assert.ok(stableJson(a).indexOf('"actions"') < stableJson(a).indexOf('"edges"'));
    assert.ok(stableJson(a).indexOf('"id"') < stableJson(a).indexOf('"reason"'));
  });

  it('sorts records keyed by data and drops undefined fields', () => {
    assert.equal(stableJson({ scores: { n2: 1, n10: 2, n1: 3 }, x: undefined }, 0), '{"scores":{"n1":3,"n10":2,"n2":1}}\n');
  });

  it('round-trips a plan', () => {
    assert.deepEqual(JSON.parse(stableJson(PLAN)), JSON.parse(JSON.stringify(PLAN)));
  });
});
