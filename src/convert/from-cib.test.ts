// CIB → Haven: round trips through toCib, the YAML the CLI writes, a realistic OpenStack
// controller CIB, and the corners of real CIBs (legacy names, sets, templates, history).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { parseConfig } from '../config/load.js';
import { parseStatus } from '../config/status.js';
import { validateConfig } from '../config/validate.js';
import type { Config, Constraint, Primitive } from '../model/config.js';
import type { Status } from '../model/status.js';
import { loadConfig, loadStatus, readFixture, withoutCorosync } from './convert.test-support.js';
import { configToDocument, statusToDocument } from './document.js';
import { CibInvalidError } from './errors.js';
import { fromCib } from './from-cib.js';
import { toCib } from './to-cib.js';

const rich = loadConfig('rich-config.yaml');
const richStatus = loadStatus('rich-status.yaml', rich);

/** A CIB around a configuration body and an optional status body. */
function cib(configuration: string, status = '', attrs = ''): string {
  return `<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0"${attrs}>
  <configuration>
    <crm_config/>
    ${configuration}
  </configuration>
  <status>${status}</status>
</cib>`;
}

const NODES = '<nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes>';
const online = (id: string, name: string, lrm: string, transient = '') =>
  `<node_state id="${id}" uname="${name}" in_ccm="true" crmd="online" join="member" expected="member">${transient}<lrm id="${id}"><lrm_resources>${lrm}</lrm_resources></lrm></node_state>`;
/** One history entry; `key` is `<rsc>_<op>_<interval>`. */
function op(rsc: string, id: string, operation: string, interval: number, rc: number, call: number, target = rc === 7 ? 7 : rc === 8 ? 8 : 0, status = 0): string {
  const tk = `${call}:1:${target}:00000000-0000-0000-0000-000000000000`;
  return `<lrm_rsc_op id="${rsc}_${id}" operation_key="${rsc}_${operation}_${interval}" operation="${operation}" transition-key="${tk}" transition-magic="${status}:${rc};${tk}" call-id="${call}" rc-code="${rc}" op-status="${status}" interval="${interval}" last-rc-change="1700000000"/>`;
}
const lrm = (rsc: string, ops: string, type = 'Dummy') => `<lrm_resource id="${rsc}" class="ocf" provider="heartbeat" type="${type}">${ops}</lrm_resource>`;

function whats(r: { unconverted: readonly { what: string }[] }): string[] {
  return r.unconverted.map((u) => u.what);
}

describe('fromCib: round trip through toCib', () => {
  test('config → CIB → config gives the config back, less what lives in corosync.conf', () => {
    const back = fromCib(toCib(rich, richStatus).xml);
    assert.deepEqual(back.config, withoutCorosync(rich));
    assert.deepEqual(whats(back), ['heartbeat rings and node addresses']);
  });

  test('status → CIB → status gives the status back', () => {
    const back = fromCib(toCib(rich, richStatus).xml);
    assert.deepEqual(back.status, richStatus);
  });

  test('every node and copy state, explicit monitors and an unprobed node survive the trip', () => {
    const config: Config = {
      cluster: { name: 'c', fencing: false },
      nodes: [{ name: 'n1' }, { name: 'n2' }, { name: 'n3' }, { name: 'n4' }, { name: 'n5' }],
      resources: [
        {
          type: 'promotable',
          id: 'db-clone',
          maxPerNode: 2,
          of: {
            type: 'primitive',
            id: 'db',
            agent: 'ocf:pacemaker:Stateful',
            operations: [
              { name: 'monitor', interval: 10_000, role: 'promoted' },
              { name: 'monitor', interval: 11_000 },
            ],
          },
        },
        { type: 'primitive', id: 'web', agent: 'process', params: { command: '/bin/web --port 80' } },
      ],
    };
    const status: Status = {
      time: 1_795_000_000_000,
      quorum: false,
      nodes: {
        n1: { state: 'online', standby: true, maintenance: false },
        n2: { state: 'online' },
        n3: { state: 'unclean' },
        n4: { state: 'fenced' },
        n5: { state: 'online', probed: false },
      },
      resources: {
        db: {
          n1: { state: 'failed', promoted: true },
          n2: { state: 'promoted', promotionScore: 7, monitors: [] },
          n3: { state: 'started', monitors: [11_000, 30_000] },
        },
        'db:1': { n2: { state: 'started' } },
        web: { n1: { state: 'unknown' }, n2: { state: 'failed' }, n3: { state: 'stopped', promotionScore: 1 } },
      },
      // Failures come back in node order.
      failures: [
        { resource: 'db', node: 'n1', count: 3, last: 1_794_999_500_000, operation: 'monitor' },
        { resource: 'web', node: 'n2', count: 'INFINITY', last: 1_794_999_000_000, operation: 'start' },
      ],
    };
    const back = fromCib(toCib(config, status).xml);
    assert.deepEqual(back.config, config);
    assert.deepEqual(back.status, status);
  });

  test('the YAML documents parse back to the same config and status', () => {
    const yamlConfig = stringify(configToDocument(rich));
    const parsed = parseConfig(yamlConfig, 'out.yaml');
    assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.errors));
    assert.deepEqual(parsed.config, rich);
    assert.match(yamlConfig, /failureTimeout: 10m/);
    assert.match(yamlConfig, /score: -INFINITY/);
    const yamlStatus = stringify(statusToDocument(richStatus));
    const st = parseStatus(yamlStatus, 'status.yaml', rich);
    assert.ok(st.ok, JSON.stringify(!st.ok && st.errors));
    assert.deepEqual(st.status, richStatus);
    assert.match(yamlStatus, /time: 2026-11-24T10:00:00.000Z/);
  });
});

describe('fromCib: an OpenStack controller CIB', () => {
  const r = fromCib(readFixture('cib', 'openstack-3ctl.xml'));
  const res = (id: string) => (r.config.resources ?? []).find((x) => x.id === id);
  const con = (id: string) => (r.config.constraints ?? []).find((x) => x.id === id);

  test('the converted config passes every Haven check, and so does the status', () => {
    const parsed = parseConfig(stringify(configToDocument(r.config)), 'openstack.yaml');
    assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.errors));
    assert.deepEqual(validateConfig(r.config), []);
    assert.ok(r.status);
    const st = parseStatus(stringify(statusToDocument(r.status)), 'status.yaml', r.config);
    assert.ok(st.ok, JSON.stringify(!st.ok && st.errors));
  });

  test('cluster options, rsc_defaults and op_defaults', () => {
    assert.deepEqual(r.config.cluster, {
      name: 'tripleo_cluster',
      fencing: true,
      noQuorumPolicy: 'stop',
      defaults: { stickiness: 1_000_000, failureTimeout: 600_000, operationTimeout: 120_000 },
    });
    assert.deepEqual(r.config.nodes.map((n) => n.name), ['controller-0', 'controller-1', 'controller-2']);
    assert.equal(r.config.nodes[0]?.attributes?.['galera-role'], true);
  });

  test('fencing devices and systemd units are listed, not converted, with what depends on them', () => {
    const w = whats(r);
    for (const n of ['1', '2', '3']) assert.ok(w.includes(`fencing device stonith-fence_ipmilan-525400aa000${n} (stonith:fence_ipmilan)`), n);
    assert.ok(w.includes('primitive openstack-cinder-volume (systemd:openstack-cinder-volume)'));
    assert.equal(res('openstack-cinder-volume'), undefined);
    assert.equal(con('order-openstack-core-clone-openstack-cinder-volume-mandatory'), undefined);
    assert.ok(w.includes('location location-stonith-fence_ipmilan-525400aa0001-controller-0--INFINITY'));
    const stonith = r.unconverted.find((u) => u.what.startsWith('fencing device'));
    assert.match(stonith?.why ?? '', /later version/);
  });

  test('systemd:haproxy becomes a process running HAProxy on its own configuration file; OCF agents stay OCF agents', () => {
    const h = res('haproxy-clone');
    assert.equal(h?.type, 'clone');
    assert.deepEqual(h?.type === 'clone' ? [(h.of as Primitive).agent, (h.of as Primitive).params] : [], ['process', { command: '/usr/sbin/haproxy -Ws -f /etc/haproxy/haproxy.cfg' }]);
    assert.equal(res('ip-192.168.24.10')?.type === 'primitive' ? (res('ip-192.168.24.10') as Primitive).agent : '', 'ocf:heartbeat:IPaddr2');
  });

  test('promotable galera, and redis from a legacy <master>', () => {
    const galera = res('galera-clone');
    assert.ok(galera?.type === 'promotable');
    assert.equal(galera.promotedMax, 3);
    assert.equal(galera.interleave, true);
    assert.deepEqual(galera.of.params?.['enable_creation'], true);
    assert.deepEqual(
      galera.of.operations?.filter((o) => o.name === 'monitor').map((o) => [o.interval, o.role]),
      [
        [20_000, undefined],
        [10_000, 'promoted'],
        [30_000, 'unpromoted'],
      ],
    );
    assert.deepEqual(galera.of.operations?.find((o) => o.name === 'promote'), { name: 'promote', timeout: 300_000, onFail: 'block' });
    const redis = res('redis-master');
    assert.ok(redis?.type === 'promotable');
    assert.equal(redis.promotedMax, 1);
    assert.ok(whats(r).includes('notify=true on promotable clone redis-master'));
  });

  test('resource sets are expanded into pairs with the same meaning', () => {
    const orders = (r.config.constraints ?? []).filter((c): c is Extract<Constraint, { type: 'order' }> => c.type === 'order' && c.id.startsWith('order-infra-then-core'));
    assert.deepEqual(
      orders.map((o) => `${o.first}:${o.firstAction} → ${o.then}:${o.thenAction} ${o.kind}`),
      [
        'galera-clone:promote → rabbitmq-clone:start mandatory',
        'galera-clone:promote → redis-master:start mandatory',
        'rabbitmq-clone:start → openstack-core-clone:start mandatory',
        'redis-master:start → openstack-core-clone:start mandatory',
      ],
    );
    assert.deepEqual(con('colocation-vips-together-1'), {
      type: 'colocation',
      id: 'colocation-vips-together-1',
      resource: 'ip-10.0.0.101',
      with: 'ip-192.168.24.10',
      score: 200,
    });
  });

  test('a ban with a lifetime (date rule) is listed, not converted', () => {
    assert.equal(con('cli-ban-ip-10.0.0.101-on-controller-2'), undefined);
    assert.ok(whats(r).includes('rule of cli-ban-ip-10.0.0.101-on-controller-2 with a date expression'));
  });

  test('status: membership, copy states from the history, the failed rabbitmq and its fail count', () => {
    const s = r.status as Status;
    assert.deepEqual(Object.values(s.nodes).map((n) => n.state), ['online', 'online', 'online']);
    assert.equal(s.time, 1_795_539_600_000);
    assert.equal(s.quorum, true);
    assert.deepEqual(s.resources?.['rabbitmq'], { 'controller-0': { state: 'started' }, 'controller-1': { state: 'failed' }, 'controller-2': { state: 'started' } });
    assert.deepEqual(s.resources?.['galera']?.['controller-1'], { state: 'promoted', promotionScore: 100 });
    assert.deepEqual(s.resources?.['redis'], {
      'controller-0': { state: 'promoted', promotionScore: 1 },
      'controller-1': { state: 'started', promotionScore: 1 },
      'controller-2': { state: 'started', promotionScore: 1 },
    });
    assert.deepEqual(s.resources?.['ip-10.0.0.101'], { 'controller-1': { state: 'started' } }, 'stopped copies are left out');
    assert.deepEqual(s.failures, [{ resource: 'rabbitmq', node: 'controller-1', count: 1, last: 1_795_539_540_000, operation: 'monitor' }]);
    assert.equal(s.resources?.['stonith-fence_ipmilan-525400aa0001'], undefined, 'no orphan for Haven to stop');
    assert.ok(whats(r).some((w) => w.startsWith('history of stonith-fence_ipmilan-525400aa0001')));
    assert.ok(whats(r).some((w) => w.startsWith('node attributes galera-last-committed')));
  });

  test('nothing is dropped silently: every unconverted item names a place in the CIB', () => {
    for (const u of r.unconverted) {
      assert.ok(u.path.startsWith('/cib') || u.path === 'corosync.conf', u.path);
      assert.ok(u.why.length > 10, u.what);
    }
  });
});

describe('fromCib: invalid input', () => {
  test('XML that is not well-formed is refused with CIB_INVALID and a position', () => {
    assert.throws(
      () => fromCib('<cib>\n  <configuration>\n</cib>'),
      (err: unknown) => err instanceof CibInvalidError && err.code === 'CIB_INVALID' && err.exitCode === 1 && err.line === 3,
    );
    assert.throws(() => fromCib(''), CibInvalidError);
  });

  test('XML that is not a CIB is refused', () => {
    assert.throws(() => fromCib('<project><name>x</name></project>'), /not a Pacemaker CIB/);
    assert.throws(() => fromCib('<cib epoch="1"><status/></cib>'), /no <configuration>/);
  });
});

describe('fromCib: corners of real CIBs', () => {
  test('legacy names: master element, master-max, Slave/Master roles, kind-less order scores', () => {
    const r = fromCib(
      cib(`${NODES}
      <resources>
        <master id="ms">
          <meta_attributes id="ms-m"><nvpair id="a" name="master-max" value="1"/><nvpair id="b" name="master-node-max" value="1"/></meta_attributes>
          <primitive id="st" class="ocf" provider="pacemaker" type="Stateful">
            <operations><op id="o1" name="monitor" interval="5" role="Master"/><op id="o2" name="monitor" interval="6" role="Slave"/></operations>
          </primitive>
        </master>
        <primitive id="d" class="ocf" provider="heartbeat" type="Dummy"/>
      </resources>
      <constraints>
        <rsc_colocation id="c" rsc="d" with-rsc="ms" with-rsc-role="Master" score="INFINITY"/>
        <rsc_order id="o" first="ms" then="d" score="0"/>
        <rsc_order id="o2" first="ms" then="d" score="100"/>
      </constraints>`),
    );
    const ms = r.config.resources?.[0];
    assert.ok(ms?.type === 'promotable');
    assert.deepEqual([ms.promotedMax, ms.promotedMaxPerNode], [1, 1]);
    assert.deepEqual(ms.of.operations, [
      { name: 'monitor', interval: 5000, role: 'promoted' },
      { name: 'monitor', interval: 6000, role: 'unpromoted' },
    ]);
    assert.deepEqual(r.config.constraints, [
      { type: 'colocation', id: 'c', resource: 'd', with: 'ms', withRole: 'promoted', score: 1_000_000 },
      { type: 'order', id: 'o', first: 'ms', then: 'd', kind: 'optional' },
      { type: 'order', id: 'o2', first: 'ms', then: 'd', kind: 'mandatory' },
    ]);
  });

  test('a template is copied into its primitives; their own settings win', () => {
    const r = fromCib(
      cib(`${NODES}
      <resources>
        <template id="vm-tpl" class="ocf" provider="heartbeat" type="VirtualDomain">
          <instance_attributes id="t-ia"><nvpair id="t1" name="hypervisor" value="qemu:///system"/><nvpair id="t2" name="config" value="/etc/tpl.xml"/></instance_attributes>
          <operations><op id="t-mon" name="monitor" interval="30s" timeout="30s"/></operations>
        </template>
        <primitive id="vm1" template="vm-tpl">
          <instance_attributes id="v-ia"><nvpair id="v1" name="config" value="/etc/vm1.xml"/></instance_attributes>
          <operations><op id="v-mon" name="monitor" interval="30s" timeout="60s"/></operations>
        </primitive>
      </resources>`),
    );
    assert.deepEqual(r.config.resources, [
      {
        type: 'primitive',
        id: 'vm1',
        agent: 'ocf:heartbeat:VirtualDomain',
        params: { hypervisor: 'qemu:///system', config: '/etc/vm1.xml' },
        operations: [{ name: 'monitor', interval: 30_000, timeout: 60_000 }],
      },
    ]);
    assert.ok(whats(r).includes('resource template vm-tpl'));
  });

  test('constraints naming what a clone holds name the clone; group members cannot be named', () => {
    const r = fromCib(
      cib(`${NODES}
      <resources>
        <clone id="c"><primitive id="p" class="ocf" provider="heartbeat" type="Dummy"/></clone>
        <group id="g"><primitive id="m1" class="ocf" provider="heartbeat" type="Dummy"/><primitive id="m2" class="ocf" provider="heartbeat" type="Dummy"/></group>
      </resources>
      <constraints>
        <rsc_location id="l1" rsc="p" node="n1" score="10"/>
        <rsc_location id="l2" rsc="m2" node="n1" score="10"/>
        <rsc_location id="l3" rsc="nothing" node="n1" score="10"/>
        <rsc_location id="l4" rsc="c" node="n9" score="10"/>
      </constraints>`),
    );
    assert.deepEqual(r.config.constraints, [{ type: 'location', id: 'l1', resource: 'c', node: 'n1', score: 10 }]);
    const why = (id: string) => r.unconverted.find((u) => u.what === `location ${id}`)?.why ?? '';
    assert.match(why('l2'), /member of group g/);
    assert.match(why('l3'), /not a resource/);
    assert.match(why('l4'), /node n9, which is not a cluster node/);
  });

  test('location sets, rules with or, numbers, score-attribute, #attributes and nested rules', () => {
    const r = fromCib(
      cib(`${NODES}
      <resources><primitive id="a" class="ocf" provider="heartbeat" type="Dummy"/><primitive id="b" class="ocf" provider="heartbeat" type="Dummy"/></resources>
      <constraints>
        <rsc_location id="set" node="n2" score="-INFINITY"><resource_set id="s"><resource_ref id="a"/><resource_ref id="b"/></resource_set></rsc_location>
        <rsc_location id="rules" rsc="a">
          <rule id="r1" score="20" boolean-op="or">
            <expression id="e1" attribute="mem" operation="gte" value="64" type="integer"/>
            <expression id="e2" attribute="kind" operation="not_defined"/>
          </rule>
          <rule id="r2" score-attribute="weight"><expression id="e3" attribute="x" operation="defined"/></rule>
          <rule id="r3" score="5"><expression id="e4" attribute="#kind" operation="eq" value="remote"/></rule>
          <rule id="r4" score="5"><rule id="r4a"><expression id="e5" attribute="x" operation="defined"/></rule></rule>
        </rsc_location>
      </constraints>`),
    );
    assert.deepEqual(r.config.constraints, [
      { type: 'location', id: 'set-a', resource: 'a', node: 'n2', score: -1_000_000 },
      { type: 'location', id: 'set-b', resource: 'b', node: 'n2', score: -1_000_000 },
      {
        type: 'location',
        id: 'rules',
        resource: 'a',
        rules: [
          {
            score: 20,
            match: 'any',
            expressions: [
              { attribute: 'mem', op: 'gte', value: 64 },
              { attribute: 'kind', op: 'not-defined' },
            ],
          },
        ],
      },
    ]);
    const w = whats(r);
    assert.ok(w.includes('rule of rules scored by attribute weight'));
    assert.ok(w.includes('rule of rules with a nested rule'));
    assert.ok(r.unconverted.some((u) => /#kind/.test(u.why)));
  });

  test('order sets: sequential chains, and every end of one set before every start of the next', () => {
    const prims = ['a', 'b', 'c', 'd', 'e'].map((x) => `<primitive id="${x}" class="ocf" provider="heartbeat" type="Dummy"/>`).join('');
    const r = fromCib(
      cib(`${NODES}<resources>${prims}</resources>
      <constraints>
        <rsc_order id="o" symmetrical="false">
          <resource_set id="s1"><resource_ref id="a"/><resource_ref id="b"/></resource_set>
          <resource_set id="s2" sequential="false"><resource_ref id="c"/><resource_ref id="d"/></resource_set>
          <resource_set id="s3"><resource_ref id="e"/></resource_set>
        </rsc_order>
        <rsc_order id="any"><resource_set id="s4" require-all="false" sequential="false"><resource_ref id="a"/><resource_ref id="b"/></resource_set><resource_set id="s5"><resource_ref id="e"/></resource_set></rsc_order>
        <rsc_colocation id="three" score="INFINITY"><resource_set id="s6" role="Started"><resource_ref id="a"/><resource_ref id="b"/><resource_ref id="c"/></resource_set></rsc_colocation>
        <rsc_colocation id="two-sets" score="INFINITY"><resource_set id="s7"><resource_ref id="d"/></resource_set><resource_set id="s8"><resource_ref id="e"/></resource_set></rsc_colocation>
      </constraints>`),
    );
    const text = (r.config.constraints ?? []).map((c) =>
      c.type === 'order' ? `${c.first}<${c.then}${c.symmetrical === false ? '!' : ''}` : c.type === 'colocation' ? `${c.resource}@${c.with}:${c.role ?? ''}` : c.id,
    );
    assert.deepEqual(text, ['a<b!', 'b<c!', 'b<d!', 'c<e!', 'd<e!', 'b@a:started', 'c@b:started']);
    assert.ok(whats(r).includes('order any: set option require-all=false'));
    assert.ok(whats(r).includes('colocation two-sets between 2 resource sets'));
  });

  test('nvsets: id-refs are followed, higher scores win, sets under rules are listed; negative stickiness is listed', () => {
    const r = fromCib(
      cib(`${NODES}
      <resources>
        <primitive id="a" class="ocf" provider="heartbeat" type="Dummy">
          <instance_attributes id="low" score="1"><nvpair id="p1" name="x" value="low"/><nvpair id="p2" name="y" value="only-low"/></instance_attributes>
          <instance_attributes id="high" score="10"><nvpair id="p3" name="x" value="high"/></instance_attributes>
          <instance_attributes id="ruled"><rule id="rr" score="0"><expression id="re" attribute="#uname" operation="eq" value="n1"/></rule><nvpair id="p4" name="z" value="n1-only"/></instance_attributes>
          <meta_attributes id="shared"><nvpair id="p5" name="resource-stickiness" value="7"/></meta_attributes>
        </primitive>
        <primitive id="b" class="ocf" provider="heartbeat" type="Dummy"><meta_attributes id-ref="shared"/></primitive>
        <primitive id="c" class="ocf" provider="heartbeat" type="Dummy"><meta_attributes id="neg"><nvpair id="p6" name="resource-stickiness" value="-5"/></meta_attributes></primitive>
      </resources>`),
    );
    const [a, b, c] = r.config.resources as [Primitive, Primitive, Primitive];
    assert.deepEqual(a.params, { x: 'high', y: 'only-low' });
    assert.equal(a.stickiness, 7);
    assert.equal(b.stickiness, 7);
    assert.equal(c.stickiness, undefined);
    assert.ok(whats(r).includes('instance_attributes z under a rule'));
    assert.ok(whats(r).includes('resource-stickiness=-5'));
  });

  test('operations Haven does not configure are listed together; bundles and tickets are listed', () => {
    const r = fromCib(
      cib(`${NODES}
      <resources>
        <primitive id="vm" class="ocf" provider="heartbeat" type="VirtualDomain">
          <meta_attributes id="m"><nvpair id="m1" name="allow-migrate" value="true"/></meta_attributes>
          <operations>
            <op id="o1" name="migrate_to" interval="0" timeout="120"/><op id="o2" name="meta-data" interval="0"/>
            <op id="o3" name="monitor" interval="0" timeout="30"/><op id="o4" name="monitor" interval="10" enabled="false"/>
            <op id="o5" name="start" interval="0" timeout="90"/>
          </operations>
        </primitive>
        <bundle id="bun"><podman image="x"/></bundle>
      </resources>
      <constraints><rsc_ticket id="t" rsc="vm" ticket="site-a"/></constraints>`),
    );
    assert.deepEqual((r.config.resources?.[0] as Primitive).operations, [{ name: 'start', timeout: 90_000 }]);
    const w = whats(r);
    assert.ok(w.includes('operations migrate_to, meta-data of vm'));
    assert.ok(w.includes('probe settings of vm (monitor with interval 0)'));
    assert.ok(w.includes('disabled operation monitor of vm'));
    assert.ok(w.includes('meta attribute allow-migrate=true of primitive vm'));
    assert.ok(w.includes('bundle bun'));
    assert.ok(w.includes('ticket constraint t (ticket site-a)'));
  });

  test('fencing disabled: on-fail=fence and requires=fencing read as Pacemaker reads them', () => {
    const r = fromCib(
      cib(`${NODES}
      <resources><primitive id="a" class="ocf" provider="heartbeat" type="Dummy">
        <meta_attributes id="m"><nvpair id="m1" name="requires" value="fencing"/></meta_attributes>
        <operations><op id="o" name="monitor" interval="10s" on-fail="fence"/></operations>
      </primitive></resources>`).replace('<crm_config/>', '<crm_config><cluster_property_set id="o"><nvpair id="se" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>'),
    );
    const a = r.config.resources?.[0] as Primitive;
    assert.equal(a.requires, 'quorum');
    assert.equal(a.operations?.[0]?.onFail, 'stop');
    assert.deepEqual(validateConfig(r.config), []);
  });
});

describe('fromCib: history replay and membership', () => {
  const config = `${NODES}<resources>
    <clone id="ms"><meta_attributes id="m"><nvpair id="p" name="promotable" value="true"/></meta_attributes>
      <primitive id="db" class="ocf" provider="heartbeat" type="Dummy"><operations><op id="o1" name="monitor" interval="10s" role="Promoted"/><op id="o2" name="monitor" interval="20s" role="Unpromoted"/></operations></primitive></clone>
    <primitive id="web" class="ocf" provider="heartbeat" type="Dummy"><operations><op id="o3" name="monitor" interval="10s"/></operations></primitive>
  </resources>`;
  const read = (n1: string, n2 = '') => fromCib(cib(config, online('1', 'n1', n1) + (n2 || online('2', 'n2', '')))).status as Status;

  test('the last operation by call id decides, whatever the order in the file', () => {
    const s = read(lrm('web', op('web', 'monitor_10000', 'monitor', 10_000, 0, 5) + op('web', 'last_0', 'start', 0, 0, 4)) + lrm('db', op('db', 'last_0', 'monitor', 0, 7, 2)));
    assert.deepEqual(s.resources?.['web']?.['n1'], { state: 'started' });
    assert.equal(s.resources?.['db']?.['n1'], undefined, 'probed stopped');
  });

  test('rc 8 from a probe or promote is promoted; rc 9 from a monitor is a failed promoted copy', () => {
    assert.deepEqual(read(lrm('db', op('db', 'last_0', 'monitor', 0, 8, 3)) + lrm('web', op('web', 'last_0', 'monitor', 0, 7, 1))).resources?.['db']?.['n1'], {
      state: 'promoted',
      monitors: [],
    });
    const s = read(lrm('db', op('db', 'last_0', 'promote', 0, 0, 3) + op('db', 'monitor_10000', 'monitor', 10_000, 9, 4, 8)) + lrm('web', op('web', 'last_0', 'monitor', 0, 7, 1)));
    assert.deepEqual(s.resources?.['db']?.['n1'], { state: 'failed', promoted: true });
  });

  test('a recurring monitor answering 7 is a failure; a failed start or stop is a failure', () => {
    const s1 = read(lrm('web', op('web', 'last_0', 'start', 0, 0, 3) + op('web', 'monitor_10000', 'monitor', 10_000, 7, 4, 0)) + lrm('db', op('db', 'last_0', 'monitor', 0, 7, 1)));
    assert.deepEqual(s1.resources?.['web']?.['n1'], { state: 'failed' });
    const s2 = read(lrm('web', op('web', 'last_0', 'stop', 0, 1, 6, 0)) + lrm('db', op('db', 'last_0', 'monitor', 0, 7, 1)));
    assert.deepEqual(s2.resources?.['web']?.['n1'], { state: 'failed' });
    const s3 = read(lrm('web', op('web', 'last_0', 'start', 0, 0, 3, 0, 2)) + lrm('db', op('db', 'last_0', 'monitor', 0, 7, 1)));
    assert.deepEqual(s3.resources?.['web']?.['n1'], { state: 'failed' }, 'op-status 2: timed out');
  });

  test('a demoted copy is started; cancelled monitors do not count as running', () => {
    const s = read(
      lrm('db', op('db', 'last_0', 'demote', 0, 0, 7) + op('db', 'monitor_10000', 'monitor', 10_000, 8, 5) + op('db', 'monitor_20000', 'monitor', 20_000, 0, 8, 0, 1)) +
        lrm('web', op('web', 'last_0', 'monitor', 0, 7, 1)),
    );
    assert.deepEqual(s.resources?.['db']?.['n1'], { state: 'started', monitors: [] });
  });

  test('a pending operation keeps the state before it and is listed', () => {
    const r = fromCib(cib(config, online('1', 'n1', lrm('web', op('web', 'last_0', 'start', 0, 0, 3) + op('web', 'last_0', 'stop', 0, 0, -1, 0, -1)) + lrm('db', op('db', 'last_0', 'monitor', 0, 7, 1)))));
    assert.equal(r.status?.resources?.['web']?.['n1']?.state, 'started');
    assert.ok(whats(r).includes('pending stop of web'));
  });

  test('a node that has reported some resources has the rest unknown; one that reported none is unprobed', () => {
    const s = read(lrm('web', op('web', 'last_0', 'monitor', 0, 7, 1)));
    assert.deepEqual(s.resources?.['db']?.['n1'], { state: 'unknown' });
    assert.deepEqual(s.nodes['n2'], { state: 'online', probed: false });
  });

  test('node_state membership: offline, unclean, fenced, never seen', () => {
    const states =
      '<node_state id="1" uname="n1" in_ccm="false" crmd="offline" join="down" expected="member"/>' +
      '<node_state id="2" uname="n2" in_ccm="false" crmd="offline" join="down" expected="down" crm-debug-origin="send_stonith_update"/>';
    const r = fromCib(cib(NODES.replace('</nodes>', '<node id="3" uname="n3"/><node id="4" uname="n4"/></nodes>'), states + '<node_state id="3" uname="n3" in_ccm="true" crmd="offline" join="down" expected="down"/>'));
    assert.deepEqual(r.status?.nodes, {
      n1: { state: 'unclean' },
      n2: { state: 'fenced' },
      n3: { state: 'offline' },
      n4: { state: 'offline' },
    });
    assert.ok(r.unconverted.some((u) => u.what === 'status of node n4' && /never seen/.test(u.why)));
  });

  test('newer Pacemaker spells membership as timestamps', () => {
    const r = fromCib(cib(NODES, '<node_state id="1" uname="n1" in_ccm="1795500000" crmd="1795500001" join="member" expected="member"/>'));
    assert.equal(r.status?.nodes['n1']?.state, 'online');
  });

  test('fail counts: per operation, INFINITY, legacy names, clone instance suffixes', () => {
    const transient = `<transient_attributes id="1"><instance_attributes id="s1">
      <nvpair id="a" name="fail-count-web#start_0" value="INFINITY"/><nvpair id="b" name="last-failure-web#start_0" value="1700000100"/>
      <nvpair id="c" name="fail-count-db:0" value="2"/><nvpair id="d" name="last-failure-db:0" value="1700000200"/>
      <nvpair id="e" name="fail-count-gone#monitor_10000" value="1"/>
      <nvpair id="f" name="shutdown" value="0"/><nvpair id="g" name="standby" value="on"/>
    </instance_attributes></transient_attributes>`;
    const r = fromCib(cib(config, online('1', 'n1', '', transient)));
    assert.deepEqual(r.status?.failures, [
      { resource: 'web', node: 'n1', count: 'INFINITY', last: 1_700_000_100_000, operation: 'start' },
      { resource: 'db', node: 'n1', count: 2, last: 1_700_000_200_000 },
    ]);
    assert.equal(r.status?.nodes['n1']?.standby, true);
    assert.ok(r.unconverted.some((u) => u.what === 'history of gone on n1'));
  });
});
