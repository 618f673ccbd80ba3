// The shared Pacemaker vocabulary: durations, booleans, attribute values, and the op-digest,
// whose expected values were produced by Pacemaker 2.1.5's crm_simulate.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { attrFromCib, cibDuration, cibTrue, monitorsFor, operationDigest, parseCibDuration, roleFromCib, targetRoleFromCib } from './pacemaker.js';

describe('durations', () => {
  test('are written in seconds or milliseconds, which every Pacemaker reads', () => {
    assert.equal(cibDuration(10_000), '10s');
    assert.equal(cibDuration(86_400_000), '86400s');
    assert.equal(cibDuration(1500), '1500ms');
    assert.equal(cibDuration(0), '0s');
  });

  test('are read in every spelling Pacemaker accepts', () => {
    assert.equal(parseCibDuration('10'), 10_000);
    assert.equal(parseCibDuration('10s'), 10_000);
    assert.equal(parseCibDuration('10sec'), 10_000);
    assert.equal(parseCibDuration('500ms'), 500);
    assert.equal(parseCibDuration('2min'), 120_000);
    assert.equal(parseCibDuration('2m'), 120_000);
    assert.equal(parseCibDuration('1h'), 3_600_000);
    assert.equal(parseCibDuration('1hr'), 3_600_000);
    assert.equal(parseCibDuration('PT1M30S'), 90_000);
    assert.equal(parseCibDuration('P1DT1H'), 90_000_000);
    assert.equal(parseCibDuration('P1M'), undefined, 'months have no fixed length');
    assert.equal(parseCibDuration('soon'), undefined);
    assert.equal(parseCibDuration('10 fortnights'), undefined);
  });
});

describe('values', () => {
  test('booleans follow crm_is_true', () => {
    for (const t of ['true', 'on', 'yes', 'y', '1', 'TRUE']) assert.equal(cibTrue(t), true, t);
    for (const f of ['false', 'off', 'no', '0', '', undefined]) assert.equal(cibTrue(f), false, String(f));
  });

  test('attribute text reads back as the type a config would have used', () => {
    assert.equal(attrFromCib('true'), true);
    assert.equal(attrFromCib('false'), false);
    assert.equal(attrFromCib('24'), 24);
    assert.equal(attrFromCib('-3.5'), -3.5);
    assert.equal(attrFromCib('1.10'), '1.10', 'not canonical: a version, kept as text');
    assert.equal(attrFromCib('007'), '007');
    assert.equal(attrFromCib('192.0.2.1'), '192.0.2.1');
    assert.equal(attrFromCib('on'), 'on');
  });

  test('roles, old spellings included', () => {
    assert.equal(roleFromCib('Master'), 'promoted');
    assert.equal(roleFromCib('Slave'), 'unpromoted');
    assert.equal(roleFromCib('Promoted'), 'promoted');
    assert.equal(roleFromCib('Stopped'), undefined);
    assert.equal(targetRoleFromCib('Stopped'), 'stopped');
  });
});

describe('operationDigest', () => {
  // Values from crm_simulate -S -O on a CIB with these parameters (Pacemaker 2.1.5).
  test('matches Pacemaker for a resource without parameters', () => {
    assert.equal(operationDigest({}), 'f2317cad3d54cec5d7d7aa7d0bf35cf8');
  });

  test('matches Pacemaker for a start and for a recurring monitor (which adds its timeout)', () => {
    assert.equal(operationDigest({ state: '/tmp/x' }), 'da2966e66af8c8610dc707594b973282');
    assert.equal(operationDigest({ state: '/tmp/x' }, 20_000), '3b3f72bb490da9a0325488846f81f865');
    assert.equal(operationDigest({ state: '/tmp/x' }, 45_000), 'f7ec50b66ce32890eb48ce2961410827');
  });

  test('does not depend on the order parameters are given in', () => {
    assert.equal(operationDigest({ b: '2', a: '1' }), operationDigest({ a: '1', b: '2' }));
    assert.notEqual(operationDigest({ a: '1' }), operationDigest({ a: '2' }));
  });
});

describe('monitorsFor', () => {
  const ops = [
    { name: 'monitor' as const, interval: 20_000 },
    { name: 'monitor' as const, interval: 10_000, role: 'promoted' as const },
    { name: 'monitor' as const, interval: 30_000, role: 'unpromoted' as const },
    { name: 'start' as const },
  ];
  test("follows Haven's scheduler: role-specific monitors win in a promotable clone", () => {
    assert.deepEqual(monitorsFor(ops, true, 'promoted').map((o) => o.interval), [10_000]);
    assert.deepEqual(monitorsFor(ops, true, 'started').map((o) => o.interval), [30_000]);
    assert.deepEqual(monitorsFor([ops[0] as (typeof ops)[number]], true, 'promoted').map((o) => o.interval), [20_000]);
    assert.deepEqual(monitorsFor(ops, false, 'started').map((o) => o.interval), [20_000, 30_000]);
  });
});
