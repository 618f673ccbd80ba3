import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { INFINITY } from '../model/units.js';
import { addScores, allows } from './score.js';

test('a ban wins over a must', () => {
  assert.equal(addScores(INFINITY, -INFINITY), -INFINITY);
  assert.equal(addScores(-INFINITY, INFINITY), -INFINITY);
});

test('finite sums clamp to the infinities', () => {
  assert.equal(addScores(INFINITY - 1, 5), INFINITY);
  assert.equal(addScores(-INFINITY + 1, -5), -INFINITY);
  assert.equal(addScores(100, -30), 70);
});

test('addition is commutative and stays in range', () => {
  const s = fc.integer({ min: -INFINITY, max: INFINITY });
  fc.assert(
    fc.property(s, s, (a, b) => {
      const r = addScores(a, b);
      return r === addScores(b, a) && r >= -INFINITY && r <= INFINITY;
    }),
  );
});

test('negative scores forbid a node', () => {
  assert.equal(allows(0), true);
  assert.equal(allows(-1), false);
});
