import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Observed } from './observed.js';

const nodes = ['n1', 'n2'];

describe('Observed: the node life cycle', () => {
  it('a node heard is online but unprobed until its agent reports; what it runs is then known', () => {
    const o = new Observed(nodes, 0);
    assert.equal(o.heard('n1', 100, 1, 'heard'), true);
    assert.deepEqual(o.status(1).nodes['n1'], { state: 'online', probed: false });
    o.probedNode('n1', [{ instance: 'web', resource: { primitive: 'web', agent: 'process', params: {} }, state: 'started', monitors: [1000] }]);
    assert.deepEqual(o.status(2).nodes['n1'], { state: 'online' });
    assert.deepEqual(o.status(2).resources?.['web'], { n1: { state: 'started', monitors: [1000] } });
  });

  it('an online node heard with a new verdict is no change to act on, but its reason says what is heard now', () => {
    const o = new Observed(nodes, 0);
    o.heard('n1', 100, 1, 'heard again on ring r0 after 700 ms suspect; still silent on r1 (never heard)');
    assert.equal(o.heard('n1', 100, 2, 'heard on rings r0, r1'), false);
    assert.equal(o.node('n1')?.reason, 'heard on rings r0, r1');
    assert.equal(o.node('n1')?.since, 1, 'online since the first time it was heard');
  });

  it('a node silent on every ring is unclean, and fenced only when the fence is confirmed; its copies are then gone', () => {
    const o = new Observed(nodes, 0);
    o.heard('n1', 100, 1, 'heard');
    o.probedNode('n1', [{ instance: 'web', resource: { primitive: 'web', agent: 'process', params: {} }, state: 'started', monitors: [] }]);
    assert.equal(o.silent('n1', 5, 'silent'), true);
    assert.equal(o.status(5).nodes['n1']?.state, 'unclean');
    assert.ok(o.status(5).resources?.['web']?.['n1'], 'still counted as running until fenced');
    o.fenceStarted('n1');
    assert.equal(o.heard('n1', 100, 6, 'a late heartbeat'), false, 'a fence under way finishes first');
    o.fenceDone('n1', false, 7, 'device failed');
    assert.equal(o.status(7).nodes['n1']?.state, 'unclean', 'a failed fence proves nothing');
    o.fenceDone('n1', true, 8, 'fenced');
    assert.equal(o.status(8).nodes['n1']?.state, 'fenced');
    assert.equal(o.status(8).resources?.['web'], undefined);
  });

  it('a node heard again by the same agent run before any fence is online again, with its copies', () => {
    const o = new Observed(nodes, 0);
    o.heard('n1', 100, 1, 'heard');
    o.probedNode('n1', [{ instance: 'web', resource: { primitive: 'web', agent: 'process', params: {} }, state: 'started', monitors: [] }]);
    o.silent('n1', 5, 'silent');
    assert.equal(o.heard('n1', 100, 6, 'back'), true);
    assert.deepEqual(o.status(6).nodes['n1'], { state: 'online' });
    assert.ok(o.status(6).resources?.['web']?.['n1']);
  });

  it('a node never heard after a restart is offline, or unclean when copies were known to run there', () => {
    const durable = { nodes: { n1: { state: 'online' as const }, n2: { state: 'online' as const } }, copies: { web: { n1: { state: 'started' as const } } }, failures: [] };
    const o = new Observed(nodes, 0, durable);
    assert.equal(o.status(0).nodes['n1']?.state, 'unclean', 'not judged yet, and something ran there');
    o.silent('n1', 400, 'never heard');
    o.silent('n2', 400, 'never heard');
    assert.equal(o.status(400).nodes['n1']?.state, 'unclean');
    assert.equal(o.status(400).nodes['n2']?.state, 'offline');
  });

  it('counts failures per resource and node; a failed start is fatal', () => {
    const o = new Observed(nodes, 0);
    assert.equal(o.recordFailure('web', 'n1', 'monitor', 10).count, 1);
    assert.equal(o.recordFailure('web', 'n1', 'monitor', 20).count, 2);
    assert.equal(o.recordFailure('web', 'n2', 'start', 30, true).count, 'INFINITY');
    assert.equal(o.clearFailures((f) => f.node === 'n1'), 1);
    assert.deepEqual(o.status(40).failures, [{ resource: 'web', node: 'n2', count: 'INFINITY', last: 30, operation: 'start' }]);
  });
});
