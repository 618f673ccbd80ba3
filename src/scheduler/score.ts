// Score arithmetic with Pacemaker's infinities: -INFINITY wins over everything (a ban is a ban),
// +INFINITY absorbs finite values, and finite sums are clamped into the open range.

import { INFINITY, type Score } from '../model/units.js';

export function addScores(a: Score, b: Score): Score {
  if (a <= -INFINITY || b <= -INFINITY) return -INFINITY;
  if (a >= INFINITY || b >= INFINITY) return INFINITY;
  const s = a + b;
  if (s >= INFINITY) return INFINITY;
  if (s <= -INFINITY) return -INFINITY;
  return s;
}

/** A node with a negative score may not run the resource (as in Pacemaker). */
export function allows(score: Score): boolean {
  return score >= 0;
}
