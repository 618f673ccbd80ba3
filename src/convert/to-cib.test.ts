// Haven config and status → CIB: the elements and attributes Pacemaker reads, checked on the
// parsed XML. The Pacemaker tools check the same output in pacemaker-tools.test.ts.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Config } from '../model/config.js';
import type { Status } from '../model/status.js';
import { loadConfig, loadStatus } from './convert.test-support.js';
import { operationDigest } from './pacemaker.js';
import { toCib } from './to-cib.js';
import { childNamed, childrenNamed, parseXml, type XmlElement } from './xml.js';

const config = loadConfig('rich-config.yaml');
const status = loadStatus('rich-status.yaml', config);
const doc = toCib(config, status);
const cib = parseXml(doc.xml);
const configuration = childNamed(cib, 'configuration') as XmlElement;

/** Every element below `e` (depth first). */
function all(e: XmlElement): XmlElement[] {
  return [e, ...e.children.flatMap(all)];
}
function byId(id: string): XmlElement {
  const found = all(cib).find((e) => e.attrs['id'] === id && e.name !== 'lrm_resource' && e.name !== 'node_state');
  assert.ok(found, `no element with id ${id}`);
  return found;
}
function nvpairs(e: XmlElement | undefined, tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const set of childrenNamed(e, tag)) for (const p of childrenNamed(set, 'nvpair')) out[p.attrs['name'] as string] = p.attrs['value'] as string;
  return out;
}

describe('toCib: configuration', () => {
  test('the root names the Pacemaker 2.1.5 schema and the snapshot time', () => {
    assert.equal(cib.name, 'cib');
    assert.equal(cib.attrs['validate-with'], 'pacemaker-3.9');
    assert.equal(cib.attrs['have-quorum'], '1');
    assert.equal(cib.attrs['execution-date'], String(Date.parse('2026-11-24T10:00:00Z') / 1000));
  });

  test('cluster options and defaults', () => {
    assert.deepEqual(nvpairs(childNamed(configuration, 'crm_config'), 'cluster_property_set'), {
      'cluster-name': 'openstack-ctl',
      'stonith-enabled': 'true',
      'no-quorum-policy': 'stop',
      'symmetric-cluster': 'true',
      'placement-strategy': 'utilization',
      'stop-orphan-resources': 'true',
      'maintenance-mode': 'false',
    });
    assert.deepEqual(nvpairs(childNamed(configuration, 'rsc_defaults'), 'meta_attributes'), {
      'resource-stickiness': '100',
      'migration-threshold': '3',
      'failure-timeout': '600s',
      requires: 'quorum',
    });
    assert.deepEqual(nvpairs(childNamed(configuration, 'op_defaults'), 'meta_attributes'), { timeout: '30s', 'on-fail': 'restart' });
  });

  test('nodes carry attributes, capacity as utilization, standby and maintenance', () => {
    const nodes = childrenNamed(childNamed(configuration, 'nodes'), 'node');
    assert.deepEqual(nodes.map((n) => [n.attrs['id'], n.attrs['uname']]), [['1', 'ctl1'], ['2', 'ctl2'], ['3', 'ctl3']]);
    assert.deepEqual(nvpairs(nodes[0], 'instance_attributes'), { rack: 'r1', ssd: 'true', weight: '10' });
    assert.deepEqual(nvpairs(nodes[0], 'utilization'), { cpu: '16', memory: '65536' });
    assert.deepEqual(nvpairs(nodes[2], 'instance_attributes'), { rack: 'r3', ssd: 'false', weight: '5', standby: 'off', maintenance: 'off' });
  });

  test("Haven's agent kinds become Pacemaker agents, marked so they read back", () => {
    const vip = byId('vip-public');
    assert.deepEqual([vip.attrs['class'], vip.attrs['provider'], vip.attrs['type']], ['ocf', 'heartbeat', 'IPaddr2']);
    assert.deepEqual(nvpairs(vip, 'instance_attributes'), { ip: '192.0.2.10', cidr_netmask: '24', nic: 'eth0' });
    assert.equal(nvpairs(vip, 'meta_attributes')['haven-agent'], 'vip');

    const cinder = byId('cinder-volume');
    assert.deepEqual([cinder.attrs['class'], cinder.attrs['provider'], cinder.attrs['type']], ['ocf', 'heartbeat', 'anything']);
    assert.deepEqual(nvpairs(cinder, 'instance_attributes'), {
      binfile: '/usr/bin/cinder-volume',
      cmdline_options: '--config-file /etc/cinder/cinder.conf',
      user: 'cinder',
    });

    const haproxy = byId('haproxy');
    assert.deepEqual([haproxy.attrs['class'], haproxy.attrs['provider'], haproxy.attrs['type']], ['systemd', undefined, 'haproxy']);

    const galera = byId('galera');
    assert.deepEqual([galera.attrs['class'], galera.attrs['provider'], galera.attrs['type']], ['ocf', 'heartbeat', 'galera']);
    assert.equal(nvpairs(galera, 'meta_attributes')['haven-agent'], undefined);
  });

  test('resource policy becomes meta attributes; a resource-level onFail lands on its operations', () => {
    const cinder = byId('cinder-volume');
    assert.deepEqual(nvpairs(cinder, 'meta_attributes'), {
      'haven-agent': 'process',
      'target-role': 'Started',
      'is-managed': 'true',
      'resource-stickiness': '200',
      'migration-threshold': 'INFINITY',
      'failure-timeout': '90s',
      requires: 'fencing',
      priority: '5',
      'haven-on-fail': 'stop',
    });
    assert.deepEqual(nvpairs(cinder, 'utilization'), { cpu: '2', memory: '2048' });
    const ops = childrenNamed(childNamed(cinder, 'operations'), 'op').map((o) => o.attrs);
    assert.deepEqual(
      ops.map((o) => [o['name'], o['interval'], o['timeout'], o['on-fail']]),
      [
        ['start', '0s', '120s', 'stop'],
        ['stop', '0s', '60s', 'block'],
        ['monitor', '30s', '30s', 'stop'],
      ],
    );
    assert.equal(nvpairs(byId('vip-public'), 'meta_attributes')['resource-stickiness'], 'INFINITY');
  });

  test('groups, clones and promotable clones', () => {
    const group = byId('api-group');
    assert.equal(group.name, 'group');
    assert.deepEqual(childrenNamed(group, 'primitive').map((p) => p.attrs['id']), ['keystone', 'nova-api']);
    // The group's onFail restart reaches keystone's monitor; nova-api's own fence wins.
    const op = (rsc: string) => childrenNamed(childNamed(byId(rsc), 'operations'), 'op')[0]?.attrs['on-fail'];
    assert.equal(op('keystone'), 'restart');
    assert.equal(op('nova-api'), 'fence');

    const cache = byId('memcached-clone');
    assert.equal(cache.name, 'clone');
    assert.deepEqual(nvpairs(cache, 'meta_attributes'), { 'clone-max': '3', 'clone-node-max': '1', interleave: 'false', 'target-role': 'Started' });
    assert.equal(childNamed(cache, 'group')?.attrs['id'], 'cache-group');

    const galera = byId('galera-clone');
    assert.equal(galera.name, 'clone');
    assert.deepEqual(nvpairs(galera, 'meta_attributes'), {
      promotable: 'true',
      'clone-max': '3',
      interleave: 'true',
      'promoted-max': '3',
      'promoted-node-max': '1',
      'migration-threshold': '2',
    });
    const roles = childrenNamed(childNamed(byId('galera'), 'operations'), 'op').map((o) => [o.attrs['name'], o.attrs['role'], o.attrs['on-fail']]);
    assert.deepEqual(roles, [
      ['start', undefined, undefined],
      ['promote', undefined, 'block'],
      ['demote', undefined, undefined],
      ['monitor', 'Unpromoted', undefined],
      ['monitor', 'Promoted', 'demote'],
    ]);
  });

  test('constraints, with scores spelled INFINITY and rules with their expressions', () => {
    assert.deepEqual(byId('vip-prefers-ctl1').attrs, { id: 'vip-prefers-ctl1', rsc: 'vip-public', score: '50', node: 'ctl1' });
    assert.equal(byId('tool-never-ctl3').attrs['score'], '-INFINITY');
    const rules = childrenNamed(byId('galera-on-ssd'), 'rule');
    assert.deepEqual(rules.map((r) => [r.attrs['score'], r.attrs['boolean-op']]), [['-INFINITY', 'or'], ['100', 'and']]);
    assert.deepEqual(
      childrenNamed(rules[0], 'expression').map((x) => [x.attrs['attribute'], x.attrs['operation'], x.attrs['value'], x.attrs['type']]),
      [
        ['ssd', 'ne', 'true', undefined],
        ['rack', 'not_defined', undefined, undefined],
      ],
    );
    assert.deepEqual(
      childrenNamed(rules[1], 'expression').map((x) => [x.attrs['operation'], x.attrs['value'], x.attrs['type']]),
      [
        ['gte', '10', 'number'],
        ['lt', '100', 'number'],
        ['defined', undefined, undefined],
      ],
    );
    assert.equal(byId('galera-promote-pref').attrs['role'], 'Promoted');
    assert.equal(childrenNamed(childNamed(byId('galera-promote-pref'), 'rule'), 'expression')[0]?.attrs['attribute'], '#uname');
    assert.deepEqual(byId('api-with-galera-primary').attrs, {
      id: 'api-with-galera-primary',
      score: '500',
      rsc: 'api-group',
      'with-rsc': 'galera-clone',
      'rsc-role': 'Started',
      'with-rsc-role': 'Promoted',
    });
    assert.equal(byId('vip-with-haproxy').attrs['score'], 'INFINITY');
    assert.deepEqual(byId('galera-then-api').attrs, {
      id: 'galera-then-api',
      first: 'galera-clone',
      'first-action': 'promote',
      then: 'api-group',
      'then-action': 'start',
      kind: 'Mandatory',
      symmetrical: 'true',
    });
    assert.equal(byId('cinder-serial-api').attrs['kind'], 'Serialize');
    assert.equal(byId('haproxy-then-vip').attrs['kind'], 'Optional');
  });

  test('ids are unique, as the schema requires', () => {
    const ids = all(configuration).map((e) => e.attrs['id']).filter((x): x is string => x !== undefined);
    assert.equal(new Set(ids).size, ids.length, `duplicates: ${ids.filter((x, i) => ids.indexOf(x) !== i).join(', ')}`);
  });

  test('corosync matters are listed as not converted', () => {
    assert.deepEqual(
      doc.unconverted.map((u) => u.path),
      ['rings', 'nodes[0].addresses', 'nodes[1].addresses', 'nodes[2].addresses'],
    );
  });

  test('the same input gives the same bytes', () => {
    assert.equal(toCib(config, status).xml, doc.xml);
  });

  test('generated ids step around Haven ids that look like them', () => {
    const c: Config = {
      cluster: { name: 'c' },
      nodes: [{ name: 'n1' }],
      resources: [
        { type: 'primitive', id: 'a', agent: 'ocf:heartbeat:Dummy', params: { x: 1 } },
        { type: 'primitive', id: 'a-instance_attributes', agent: 'ocf:heartbeat:Dummy' },
      ],
    };
    const x = parseXml(toCib(c).xml);
    const ids = all(x).map((e) => e.attrs['id']).filter((v): v is string => v !== undefined && !/^\d+$/.test(v));
    assert.equal(new Set(ids).size, ids.length);
  });
});

describe('toCib: status', () => {
  const statusEl = childNamed(cib, 'status') as XmlElement;
  const state = (name: string): XmlElement => {
    const s = childrenNamed(statusEl, 'node_state').find((n) => n.attrs['uname'] === name);
    assert.ok(s, `no node_state for ${name}`);
    return s;
  };
  const history = (node: string, rsc: string): Record<string, string>[] => {
    const lr = childrenNamed(childNamed(childNamed(state(node), 'lrm'), 'lrm_resources'), 'lrm_resource').find((r) => r.attrs['id'] === rsc);
    return childrenNamed(lr, 'lrm_rsc_op').map((o) => ({ ...o.attrs }));
  };
  const summary = (ops: Record<string, string>[]) => ops.map((o) => `${o['id']} ${o['operation_key']} rc=${o['rc-code']}`);

  test('membership per node state', () => {
    const pick = (e: XmlElement) => [e.attrs['in_ccm'], e.attrs['crmd'], e.attrs['join'], e.attrs['expected']];
    assert.deepEqual(pick(state('ctl1')), ['true', 'online', 'member', 'member']);
    assert.deepEqual(pick(state('ctl3')), ['false', 'offline', 'down', 'member'], 'unclean: left while expected');
    const s: Status = { nodes: { n1: { state: 'fenced' }, n2: { state: 'offline' } } };
    const c: Config = { cluster: { name: 'c' }, nodes: [{ name: 'n1' }, { name: 'n2' }] };
    const st = childrenNamed(childNamed(parseXml(toCib(c, s).xml), 'status'), 'node_state');
    assert.deepEqual(st.map((e) => [...pick(e), e.attrs['crm-debug-origin']]), [
      ['false', 'offline', 'down', 'down', 'send_stonith_update'],
      ['false', 'offline', 'down', 'down', undefined],
    ]);
  });

  test('a started copy: its start, then its monitors, with the digests Pacemaker computes', () => {
    const ops = history('ctl1', 'vip-public');
    assert.deepEqual(summary(ops), ['vip-public_last_0 vip-public_start_0 rc=0', 'vip-public_monitor_10000 vip-public_monitor_10000 rc=0']);
    const params = { ip: '192.0.2.10', cidr_netmask: '24', nic: 'eth0' };
    assert.equal(ops[0]?.['op-digest'], operationDigest(params));
    assert.equal(ops[1]?.['op-digest'], operationDigest(params, 20_000));
    assert.ok(Number(ops[1]?.['call-id']) > Number(ops[0]?.['call-id']), 'monitor after start');
    assert.equal(ops[0]?.['transition-key']?.split(':')[2], '0', 'expected rc in the transition key');
  });

  test('a stopped copy on a running node: a probe that found it not running', () => {
    assert.deepEqual(summary(history('ctl2', 'vip-public')), ['vip-public_last_0 vip-public_monitor_0 rc=7']);
  });

  test('a promoted copy: promote, then its promoted monitor answering 8', () => {
    const ops = history('ctl1', 'galera');
    assert.deepEqual(summary(ops), ['galera_last_0 galera_promote_0 rc=0', 'galera_monitor_10000 galera_monitor_10000 rc=8']);
    assert.equal(ops[1]?.['transition-key']?.split(':')[2], '8');
    assert.deepEqual(summary(history('ctl3', 'galera')), ['galera_last_0 galera_start_0 rc=0', 'galera_monitor_20000 galera_monitor_20000 rc=0']);
  });

  test('a failed copy: its monitor failed last; a recovered one keeps its last failure', () => {
    assert.deepEqual(summary(history('ctl1', 'nova-api')), [
      'nova-api_last_0 nova-api_start_0 rc=0',
      'nova-api_monitor_20000 nova-api_monitor_20000 rc=1',
      'nova-api_last_failure_0 nova-api_monitor_20000 rc=1',
    ]);
    assert.deepEqual(summary(history('ctl1', 'keystone')), [
      'keystone_last_failure_0 keystone_monitor_15000 rc=1',
      'keystone_last_0 keystone_start_0 rc=0',
      'keystone_monitor_15000 keystone_monitor_15000 rc=0',
    ]);
  });

  test('transient attributes: fail counts by operation and interval, promotion scores', () => {
    const attrs = nvpairs(childNamed(state('ctl1'), 'transient_attributes'), 'instance_attributes');
    assert.equal(attrs['fail-count-keystone#monitor_15000'], '1');
    assert.equal(attrs['last-failure-keystone#monitor_15000'], String(Date.parse('2026-11-24T09:58:00Z') / 1000));
    assert.equal(attrs['fail-count-nova-api#monitor_20000'], '2');
    assert.equal(attrs['master-galera'], '100');
    assert.equal(nvpairs(childNamed(state('ctl2'), 'transient_attributes'), 'instance_attributes')['standby'], 'off');
  });

  test('an unprobed node has no history for what it has not reported', () => {
    const c: Config = { cluster: { name: 'c' }, nodes: [{ name: 'n1' }], resources: [{ type: 'primitive', id: 'a', agent: 'ocf:heartbeat:Dummy' }] };
    const probed = parseXml(toCib(c, { nodes: { n1: { state: 'online' } } }).xml);
    const unprobed = parseXml(toCib(c, { nodes: { n1: { state: 'online', probed: false } } }).xml);
    const count = (x: XmlElement) => all(x).filter((e) => e.name === 'lrm_rsc_op').length;
    assert.equal(count(probed), 1);
    assert.equal(count(unprobed), 0);
  });

  test('what a CIB cannot hold is listed', () => {
    const c: Config = { cluster: { name: 'c' }, nodes: [{ name: 'n1' }] };
    const r = toCib(c, { nodes: { n1: { state: 'unclean', fencing: true }, n9: { state: 'online' } }, resources: { ghost: { n1: { state: 'started' } } } });
    assert.deepEqual(r.unconverted.map((u) => u.path), ['status.nodes.n9', 'status.resources.ghost', 'status.nodes.n1.fencing']);
  });
});
