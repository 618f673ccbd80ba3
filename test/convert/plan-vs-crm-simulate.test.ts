// The comparison docs/pacemaker.md describes: one snapshot of a real-looking OpenStack cluster,
// read by `haven convert from-cib`, planned by Haven's scheduler and by Pacemaker's
// (crm_simulate). On this snapshot (rabbitmq's monitor failed on one controller) the two agree
// on what to do. Skipped when crm_simulate is not installed.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { fixturePath, NO_TOOLS_REASON, PACEMAKER_TOOLS, readFixture, run } from '../../src/convert/convert.test-support.js';
import { childNamed, childrenNamed, parseXml } from '../../src/convert/xml.js';
import { fromCib } from '../../src/convert/from-cib.js';
import { plan } from '../../src/scheduler/index.js';

describe('haven plan vs crm_simulate on the same snapshot', { skip: PACEMAKER_TOOLS ? false : NO_TOOLS_REASON }, () => {
  test('the OpenStack fixture: both recover rabbitmq on controller-1 and restart what depends on it', () => {
    const { config, status } = fromCib(readFixture('cib', 'openstack-3ctl.xml'));
    assert.ok(status);
    const ours = plan(config, status, status.time ?? 0)
      .transitions.map((t) => `${t.kind} ${t.subject} ${t.from ?? t.to ?? ''}`)
      .sort();

    const r = run('crm_simulate', ['--simulate', '--xml-file', fixturePath('cib', 'openstack-3ctl.xml'), '--output-as=xml']);
    assert.equal(r.status, 0, r.stderr);
    const theirs = childrenNamed(childNamed(parseXml(r.stdout), 'actions'), 'rsc_action')
      .map((a) => `${(a.attrs['action'] ?? '').toLowerCase()} ${(a.attrs['resource'] ?? '').replace(/:\d+$/, '')} ${a.attrs['node'] ?? a.attrs['source'] ?? ''}`)
      .sort();

    assert.deepEqual(theirs, ['recover rabbitmq controller-1', 'restart openstack-core controller-1']);
    assert.deepEqual(ours, theirs);
  });
});
