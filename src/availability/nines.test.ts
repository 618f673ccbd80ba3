// Availability arithmetic: nines and their rendering.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allowedDowntimeMs, formatNines, formatPercent, nines } from './nines.js';

describe('nines', () => {
  it('turns availabilities into nines', () => {
    assert.equal(nines(0.9), 1);
    assert.ok(Math.abs(nines(0.999) - 3) < 1e-9);
    assert.equal(formatNines(nines(0.9995)), '3.3');
    assert.equal(formatNines(nines(0.99999)), '5.0');
    assert.equal(nines(1), Infinity);
    assert.equal(formatNines(nines(1)), '∞');
    assert.equal(nines(0), 0);
  });

  it('shows a percentage with the digits its nines need, never rounding a failure to 100', () => {
    assert.equal(formatPercent(0.9995), '99.95');
    assert.equal(formatPercent(0.99997), '99.997');
    assert.equal(formatPercent(0.9), '90.0');
    assert.equal(formatPercent(0.99), '99.0');
    assert.equal(formatPercent(1), '100');
    assert.notEqual(formatPercent(0.999999999), '100');
  });

  it('says how much downtime an availability allows', () => {
    const year = 365 * 24 * 3600 * 1000;
    assert.ok(Math.abs(allowedDowntimeMs(0.9999, year) / 60_000 - 52.56) < 0.01);
  });
});
