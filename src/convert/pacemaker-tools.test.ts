// The CIBs Haven writes, judged by Pacemaker itself (Debian's pacemaker-cli-utils 2.1.5):
// crm_verify must accept them, and crm_simulate must see every copy where the Haven status
// says it is, in the same role, with nothing to redo for a cluster at rest (which proves the
// history's digests, monitors and roles are the ones Pacemaker expects). The realistic CIB
// fixture is also checked against Pacemaker, which cross-checks fromCib's reading of history.
// Skipped when the tools are not installed.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Config, Primitive } from '../model/config.js';
import type { Status } from '../model/status.js';
import { fixturePath, loadConfig, loadStatus, NO_TOOLS_REASON, PACEMAKER_TOOLS, readFixture, run, tempFile } from './convert.test-support.js';
import { fromCib } from './from-cib.js';
import { toCib } from './to-cib.js';
import { childNamed, childrenNamed, parseXml, type XmlElement } from './xml.js';

const skip = PACEMAKER_TOOLS ? false : NO_TOOLS_REASON;

/** crm_verify's complaint when fencing is on and no fencing device exists: expected for Haven CIBs. */
const NO_STONITH = [
  /Resource start-up disabled since no STONITH resources have been defined/,
  /Either configure some or disable STONITH with the stonith-enabled option/,
  /NOTE: Clusters with shared data need STONITH to ensure data integrity/,
  /Errors found during check: config not valid/,
];

function verify(xml: string): { status: number | null; lines: string[] } {
  const r = run('crm_verify', ['--verbose', '--xml-file', tempFile('cib.xml', xml)]);
  return { status: r.status, lines: `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '') };
}

interface PacemakerView {
  /** `<primitive>@<node>` → role and whether Pacemaker counts the copy failed. */
  readonly copies: Map<string, { role: string; failed: boolean }>;
  readonly nodes: Map<string, Readonly<Record<string, string>>>;
  /** `<action> <primitive> <node>`, instance numbers removed, sorted. */
  readonly actions: string[];
}

/** What crm_simulate (XML output) says about a CIB: current copies, nodes and, with -S, the transition summary. */
function simulate(xml: string, args: string[] = []): PacemakerView {
  const r = run('crm_simulate', ['--xml-file', tempFile('cib.xml', xml), '--output-as=xml', ...args]);
  assert.equal(r.status, 0, r.stderr);
  const out = parseXml(r.stdout);
  const current = childNamed(out, 'cluster_status');
  const copies = new Map<string, { role: string; failed: boolean }>();
  const walk = (e: XmlElement): void => {
    if (e.name === 'resource') {
      for (const n of childrenNamed(e, 'node')) {
        copies.set(`${e.attrs['id']}@${n.attrs['name']}`, { role: e.attrs['role'] ?? '?', failed: e.attrs['failed'] === 'true' });
      }
      return;
    }
    e.children.forEach(walk);
  };
  walk(childNamed(current, 'resources') as XmlElement);
  const nodes = new Map(childrenNamed(childNamed(current, 'nodes'), 'node').map((n) => [n.attrs['name'] ?? '', n.attrs]));
  const actions = childrenNamed(childNamed(out, 'actions'), 'rsc_action')
    .map((a) => `${a.attrs['action']} ${(a.attrs['resource'] ?? '').replace(/:\d+$/, '')} ${a.attrs['node'] ?? a.attrs['source'] ?? ''}`)
    .sort();
  return { copies, nodes, actions };
}

/** The Haven status as crm_simulate would print it: running copies only, promotable replicas Unpromoted. */
function expectedCopies(config: Config, status: Status): Map<string, { role: string; failed: boolean }> {
  const promotable = new Set((config.resources ?? []).flatMap((r) => (r.type === 'promotable' ? [r.of.id] : [])));
  const out = new Map<string, { role: string; failed: boolean }>();
  for (const [rsc, copies] of Object.entries(status.resources ?? {})) {
    for (const [node, c] of Object.entries(copies)) {
      const id = rsc.replace(/:\d+$/, '');
      if (c.state === 'started') out.set(`${id}@${node}`, { role: promotable.has(id) ? 'Unpromoted' : 'Started', failed: false });
      if (c.state === 'promoted') out.set(`${id}@${node}`, { role: 'Promoted', failed: false });
      if (c.state === 'failed') out.set(`${id}@${node}`, { role: c.promoted === true ? 'Promoted' : promotable.has(id) ? 'Unpromoted' : 'Started', failed: true });
    }
  }
  return out;
}

function sorted(m: Map<string, { role: string; failed: boolean }>): string[] {
  return [...m].map(([k, v]) => `${k} ${v.role}${v.failed ? ' FAILED' : ''}`).sort();
}

/** The rich example with fencing off, and the settings that need fencing relaxed as Pacemaker would. */
function withoutFencing(config: Config): Config {
  const relax = <T extends Primitive>(p: T): T => ({
    ...p,
    ...(p.requires === 'fencing' ? { requires: 'quorum' as const } : {}),
    operations: p.operations?.map((o) => (o.onFail === 'fence' ? { ...o, onFail: 'stop' as const } : o)),
  });
  return {
    ...config,
    cluster: { ...config.cluster, fencing: false },
    resources: config.resources?.map((r) => {
      switch (r.type) {
        case 'primitive':
          return relax(r);
        case 'group':
          return { ...r, members: r.members.map(relax) };
        case 'clone':
          return { ...r, of: r.of.type === 'group' ? { ...r.of, members: r.of.members.map(relax) } : relax(r.of) };
        case 'promotable':
          return { ...r, of: relax(r.of) };
        default:
          return r;
      }
    }),
  };
}

describe('Pacemaker tools on CIBs Haven writes', { skip }, () => {
  const rich = loadConfig('rich-config.yaml');
  const richStatus = loadStatus('rich-status.yaml', rich);

  test('crm_verify: with fencing on, nothing but "no STONITH devices" (Haven does not write fence devices yet)', () => {
    const { status, lines } = verify(toCib(rich, richStatus).xml);
    assert.notEqual(status, 0, 'crm_verify refuses a fencing cluster without devices');
    const other = lines.filter((l) => !NO_STONITH.some((re) => re.test(l)));
    assert.deepEqual(other, []);
    assert.ok(lines.some((l) => NO_STONITH[0]?.test(l)), lines.join('\n'));
  });

  test('crm_verify: with fencing off, the CIB is valid without a single message', () => {
    const config = withoutFencing(rich);
    assert.deepEqual(verify(toCib(config).xml), { status: 0, lines: [] });
    assert.deepEqual(verify(toCib(config, richStatus).xml), { status: 0, lines: [] });
  });

  test('crm_simulate reads every copy where the Haven status has it, in the same role', () => {
    const view = simulate(toCib(rich, richStatus).xml);
    assert.deepEqual(sorted(view.copies), sorted(expectedCopies(rich, richStatus)));
    assert.equal(view.copies.get('galera@ctl1')?.role, 'Promoted');
    assert.equal(view.copies.get('galera@ctl3')?.role, 'Unpromoted');
    assert.equal(view.copies.get('nova-api@ctl1')?.failed, true);
    assert.equal(view.nodes.get('ctl2')?.['online'], 'true');
    assert.equal(view.nodes.get('ctl3')?.['online'], 'false');
    assert.equal(view.nodes.get('ctl3')?.['unclean'], 'true', 'unclean: Pacemaker wants it fenced');
    // nova-api's monitor has onFail: fence, so Pacemaker also wants ctl1 fenced: the policy came across.
    assert.equal(view.nodes.get('ctl1')?.['unclean'], 'true');
  });

  test('crm_simulate, text output: "Current cluster status" shows the same placement', () => {
    const r = run('crm_simulate', ['--simulate', '--xml-file', tempFile('cib.xml', toCib(rich, richStatus).xml)]);
    assert.equal(r.status, 0, r.stderr);
    const current = r.stdout.split('Transition Summary:')[0] ?? '';
    assert.match(current, /Current cluster status:/);
    assert.match(current, /vip-public\s+\(ocf:heartbeat:IPaddr2\):\s+Started ctl1/);
    assert.match(current, /cinder-volume\s+\(ocf:heartbeat:anything\):\s+Started ctl3 \(UNCLEAN\)/);
    assert.match(current, /nova-api\s+\(ocf:openstack:nova-api\):\s+FAILED ctl1/);
    assert.match(current, /Promoted: \[ ctl1 ctl2 \]/);
  });

  test('a cluster at rest stays at rest: Pacemaker finds nothing to start, stop, restart or re-monitor', () => {
    const config = loadConfig('steady-config.yaml');
    const status = loadStatus('steady-status.yaml', config);
    const xml = toCib(config, status).xml;
    assert.deepEqual(verify(xml), { status: 0, lines: [] });
    const view = simulate(xml, ['--simulate']);
    assert.deepEqual(sorted(view.copies), sorted(expectedCopies(config, status)));
    assert.deepEqual(view.actions, []);
    const text = run('crm_simulate', ['--simulate', '--xml-file', tempFile('cib.xml', xml)]).stdout;
    assert.doesNotMatch(text, /Resource action|definition change/);
  });

  test('node states and operator overrides as Pacemaker sees them', () => {
    const config: Config = {
      cluster: { name: 'c', fencing: false },
      nodes: ['n1', 'n2', 'n3', 'n4', 'n5'].map((name) => ({ name })),
      resources: [{ type: 'primitive', id: 'a', agent: 'ocf:heartbeat:Dummy' }],
    };
    const status: Status = {
      nodes: {
        n1: { state: 'online', standby: true },
        n2: { state: 'online', maintenance: true },
        n3: { state: 'offline' },
        n4: { state: 'fenced' },
        n5: { state: 'unclean' },
      },
    };
    const { nodes } = simulate(toCib(config, status).xml);
    const pick = (n: string) => ['online', 'standby', 'maintenance', 'unclean'].map((k) => `${k}=${nodes.get(n)?.[k]}`).join(' ');
    assert.equal(pick('n1'), 'online=true standby=true maintenance=false unclean=false');
    assert.equal(pick('n2'), 'online=true standby=false maintenance=true unclean=false');
    assert.equal(pick('n3'), 'online=false standby=false maintenance=false unclean=false');
    assert.equal(pick('n4'), 'online=false standby=false maintenance=false unclean=false');
    // With fencing off Pacemaker does not call an unclean node unclean; with it on, it does.
    const fenced = simulate(toCib({ ...config, cluster: { name: 'c' } }, status).xml);
    assert.equal(fenced.nodes.get('n5')?.['unclean'], 'true');
  });
});

describe('Pacemaker tools on the OpenStack fixture', { skip }, () => {
  const xml = readFixture('cib', 'openstack-3ctl.xml');

  test('the fixture is a CIB Pacemaker accepts as is', () => {
    const r = run('crm_verify', ['--xml-file', fixturePath('cib', 'openstack-3ctl.xml')]);
    assert.equal(r.status, 0, r.stderr);
  });

  test("fromCib reads the history as Pacemaker does: same copies, roles and failures", () => {
    const { config, status } = fromCib(xml);
    assert.ok(status);
    const view = simulate(xml);
    const converted = new Set(Object.keys(status.resources ?? {}));
    const theirs = new Map([...view.copies].filter(([k]) => converted.has(k.split('@')[0] ?? '')));
    assert.deepEqual(sorted(theirs), sorted(expectedCopies(config, status)));
    assert.equal(theirs.get('rabbitmq@controller-1')?.failed, true);
  });

  test('written back with toCib, Pacemaker sees the same copies again', () => {
    const { config, status } = fromCib(xml);
    assert.ok(status);
    const again = simulate(toCib(config, status).xml);
    assert.deepEqual(sorted(again.copies), sorted(expectedCopies(config, status)));
  });
});
