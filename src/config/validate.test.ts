// Whole-config rules: each kind of mistake is reported at the line:column of the node to fix,
// with a message an operator understands; a sound config passes; every error comes at once.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { SourceError } from '../errors.js';
import type { Config } from '../model/config.js';
import { formatConfigErrors, parseConfig } from './load.js';
import { validateConfig } from './validate.js';

/** Lines joined by newlines: line N of the file is the N-th argument. */
function doc(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

/** Lines 1–9: a cluster of three nodes on two rings. Tests append from line 10. */
const HEAD = [
  'cluster:',
  '  name: lab',
  'rings:',
  '  - { name: r1 }',
  '  - { name: r2 }',
  'nodes:',
  '  - { name: n1, addresses: { r1: 10.0.0.1, r2: 10.1.0.1 }, attributes: { role: ctl } }',
  '  - { name: n2, addresses: { r1: 10.0.0.2, r2: 10.1.0.2 }, attributes: { role: ctl } }',
  '  - { name: n3, addresses: { r1: 10.0.0.3, r2: 10.1.0.3 }, attributes: { role: compute } }',
];

/** Lines 10–19: resources. Tests append constraints from line 20 (line 20 is `constraints:`). */
const RESOURCES = [
  'resources:',
  '  - { type: primitive, id: vip, agent: vip }',
  '  - { type: group, id: g, members: [{ type: primitive, id: m1, agent: process }, { type: primitive, id: m2, agent: process }] }',
  '  - type: clone',
  '    id: api-clone',
  '    of: { type: primitive, id: api, agent: process }',
  '  - type: promotable',
  '    id: db-clone',
  '    of: { type: primitive, id: db, agent: "ocf:heartbeat:galera" }',
  '  - { type: primitive, id: web, agent: process }',
];

function withConstraints(...lines: string[]): string {
  return doc(...HEAD, ...RESOURCES, 'constraints:', ...lines);
}

function errorsOf(text: string): readonly SourceError[] {
  const r = parseConfig(text, 'c.yaml');
  if (r.ok) assert.fail('expected the config to be refused');
  return r.errors;
}

function expectError(errors: readonly SourceError[], at: string, fragment: string, hint?: string): SourceError {
  const found = errors.filter((e) => `${e.line}:${e.column}` === at && e.message.includes(fragment));
  assert.equal(found.length, 1, `no error at ${at} containing "${fragment}"; got:\n${formatConfigErrors(errors)}`);
  const e = found[0] as SourceError;
  if (hint !== undefined) assert.ok(e.hint?.includes(hint), `hint at ${at} should contain "${hint}", got "${e.hint ?? ''}"`);
  return e;
}

function expectOnly(text: string, at: string, fragment: string, hint?: string): SourceError {
  const errors = errorsOf(text);
  assert.equal(errors.length, 1, `expected exactly one error; got:\n${formatConfigErrors(errors)}`);
  return expectError(errors, at, fragment, hint);
}

describe('validateConfig: a sound configuration', () => {
  it('accepts the base cluster with constraints of every kind', () => {
    const r = parseConfig(
      withConstraints(
        '  - { type: location, id: l1, resource: vip, node: n1, score: 100 }',
        '  - { type: colocation, id: c1, resource: vip, with: api-clone, score: INFINITY }',
        '  - { type: order, id: o1, first: db-clone, firstAction: promote, then: api-clone, thenAction: start }',
        '  - { type: order, id: o2, first: api-clone, then: vip }',
      ),
      'c.yaml',
    );
    assert.equal(r.ok, true, r.ok ? '' : formatConfigErrors(r.errors));
  });

  it('accepts the example cluster', () => {
    const text = readFileSync(new URL('../../../examples/three-node.yaml', import.meta.url), 'utf8');
    const r = parseConfig(text, 'examples/three-node.yaml');
    assert.equal(r.ok, true, r.ok ? '' : formatConfigErrors(r.errors));
  });

  it('is pure: a Config in, problems with paths out', () => {
    const config: Config = {
      cluster: { name: 'x' },
      nodes: [{ name: 'n1' }, { name: 'n1' }],
    };
    assert.deepEqual(
      validateConfig(config).map((p) => [p.path, p.message]),
      [[['nodes', 1, 'name'], 'duplicate node "n1"']],
    );
  });
});

describe('validateConfig: names', () => {
  it('refuses a duplicate id across resources, group members and clone children', () => {
    const errors = errorsOf(
      doc(...HEAD, 'resources:', '  - { type: primitive, id: a, agent: vip }', '  - type: clone', '    id: c', '    of: { type: primitive, id: a, agent: process }'),
    );
    const e = expectError(errors, '14:32', 'duplicate id "a": already used by a primitive');
    assert.ok(e.hint?.includes('first defined at line 11:28'), e.hint);
  });

  it('refuses a constraint id that a resource already has', () => {
    expectOnly(withConstraints('  - { type: location, id: web, resource: vip, node: n1, score: 1 }'), '21:27', 'duplicate id "web"');
  });

  it('refuses a duplicate node name', () => {
    const errors = errorsOf(doc('cluster:', '  name: lab', 'nodes:', '  - name: n1', '  - name: n1'));
    expectError(errors, '5:11', 'duplicate node "n1"', 'first defined at line 4:11');
  });

  it('refuses a duplicate ring name', () => {
    const errors = errorsOf(doc('cluster:', '  name: lab', 'rings:', '  - name: r1', '  - name: r1', 'nodes:', '  - { name: n1, addresses: { r1: 10.0.0.1 } }'));
    assert.equal(errors.length, 1, formatConfigErrors(errors));
    expectError(errors, '5:11', 'duplicate ring "r1"', 'first defined at line 4:11');
  });

  it('refuses an address on an undeclared ring, at the ring name', () => {
    const errors = errorsOf(doc('cluster:', '  name: lab', 'rings: [{ name: r1 }]', 'nodes:', '  - { name: n1, addresses: { r1: 10.0.0.1, rr: 10.0.0.9 } }'));
    expectError(errors, '5:44', 'address on ring "rr", which is not declared', 'did you mean "r1"?');
  });

  it('says to declare rings when there are none', () => {
    const errors = errorsOf(doc('cluster:', '  name: lab', 'nodes:', '  - { name: n1, addresses: { r1: 10.0.0.1 } }'));
    expectError(errors, '4:30', 'ring "r1", which is not declared', 'declare the heartbeat rings under rings:');
  });

  it('needs an address on every declared ring', () => {
    const errors = errorsOf(doc('cluster:', '  name: lab', 'rings: [{ name: r1 }, { name: r2 }]', 'nodes:', '  - name: n1', '    addresses: { r1: 10.0.0.1 }', '  - name: n2'));
    expectError(errors, '6:5', 'node "n1" has no address on ring "r2"');
    // n2 has no addresses at all: the error points at the node.
    expectError(errors, '7:5', 'node "n2" has no address on ring "r1"');
    expectError(errors, '7:5', 'node "n2" has no address on ring "r2"');
  });

  it('refuses two nodes with one address on the same ring', () => {
    const errors = errorsOf(
      doc('cluster:', '  name: lab', 'rings: [{ name: r1 }]', 'nodes:', '  - { name: n1, addresses: { r1: 10.0.0.1 } }', '  - { name: n2, addresses: { r1: 10.0.0.1 } }'),
    );
    expectError(errors, '6:34', 'the same address "10.0.0.1" on ring "r1" as node "n1"');
  });

  it('refuses node attributes that shadow #uname', () => {
    const errors = errorsOf(doc('cluster:', '  name: lab', 'nodes:', '  - { name: n1, attributes: { "#uname": x } }'));
    expectError(errors, '4:31', 'attribute names starting with "#" are reserved');
  });
});

describe('validateConfig: heartbeat timing', () => {
  const withHeartbeat = (line: string): string => doc('cluster:', '  name: lab', `  heartbeat: ${line}`, 'nodes:', '  - name: n1');

  it('accepts a ring timeout of two intervals or more', () => {
    const r = parseConfig(withHeartbeat('{ interval: 100ms, ringTimeout: 200ms }'), 'c.yaml');
    assert.equal(r.ok, true, r.ok ? '' : formatConfigErrors(r.errors));
  });

  it('refuses a ring timeout shorter than two intervals, with the smallest that works', () => {
    expectOnly(withHeartbeat('{ interval: 100ms, ringTimeout: 150ms }'), '3:46', 'ringTimeout 150ms is shorter than two heartbeat intervals', 'at least 200ms');
  });

  it('measures an interval alone against the default ring timeout', () => {
    expectOnly(withHeartbeat('{ interval: 1s }'), '3:26', 'ringTimeout 300ms is shorter than two heartbeat intervals (1s each)');
  });

  it('refuses zero durations', () => {
    const errors = errorsOf(withHeartbeat('{ interval: 0ms, ringTimeout: 0s }'));
    assert.equal(errors.length, 2, formatConfigErrors(errors));
    expectError(errors, '3:26', 'heartbeat interval must be more than 0');
    expectError(errors, '3:44', 'ringTimeout must be more than 0');
  });
});

describe('validateConfig: constraint references', () => {
  it('refuses an unknown resource and suggests the closest', () => {
    expectOnly(withConstraints('  - { type: location, id: l1, resource: wbe, node: n1, score: 1 }'), '21:41', 'location "l1" names resource "wbe", which is not configured', 'did you mean "web"?');
  });

  it('refuses a primitive inside a group, naming the group in the hint', () => {
    expectOnly(
      withConstraints('  - { type: colocation, id: c1, resource: m2, with: vip, score: 10 }'),
      '21:43',
      'colocation "c1" names "m2", which is a member of group "g"',
      'constraints may name only top-level resources (a primitive, group, clone or promotable); name "g" instead',
    );
  });

  it('refuses the primitive inside a clone, naming the clone in the hint', () => {
    expectOnly(withConstraints('  - { type: order, id: o1, first: vip, then: api }'), '21:46', 'which is inside clone "api-clone"', 'name "api-clone" instead');
  });

  it('refuses an unknown node', () => {
    expectOnly(withConstraints('  - { type: location, id: l1, resource: web, node: n4, score: 1 }'), '21:52', 'names node "n4", which is not configured');
  });

  it('refuses a #uname rule comparing with an unknown node', () => {
    expectOnly(
      withConstraints('  - { type: location, id: l1, resource: web, rules: [{ score: 5, expressions: [{ attribute: "#uname", op: eq, value: nn1 }] }] }'),
      '21:118',
      'compares #uname with "nn1", which is not a configured node',
      'did you mean "n1"?',
    );
  });
});

describe('validateConfig: location shape', () => {
  it('needs a score with a node', () => {
    expectOnly(withConstraints('  - { type: location, id: l1, resource: web, node: n1 }'), '21:5', 'location "l1" names node "n1" but gives no score', 'score: INFINITY');
  });

  it('needs a node with a score', () => {
    expectOnly(withConstraints('  - { type: location, id: l1, resource: web, score: 10 }'), '21:5', 'location "l1" has a score but no node');
  });

  it('needs node and score, or rules', () => {
    expectOnly(withConstraints('  - { type: location, id: l1, resource: web }'), '21:5', 'location "l1" needs either node and score, or rules');
  });

  it('takes node and score, or rules, not both', () => {
    expectOnly(
      withConstraints('  - { type: location, id: l1, resource: web, node: n1, score: 5, rules: [{ score: 1, expressions: [{ attribute: role, op: defined }] }] }'),
      '21:52',
      'location "l1" has both rules and node',
    );
  });

  it('needs a value for a comparison and none for defined', () => {
    const errors = errorsOf(
      withConstraints(
        '  - type: location',
        '    id: l1',
        '    resource: web',
        '    rules:',
        '      - score: 5',
        '        expressions:',
        '          - { attribute: role, op: eq }',
        '          - { attribute: role, op: defined, value: x }',
      ),
    );
    expectError(errors, '27:13', 'op eq needs a value to compare "role" with');
    expectError(errors, '28:52', 'op defined takes no value');
  });
});

describe('validateConfig: roles and actions', () => {
  it('refuses role promoted on a non-promotable resource', () => {
    expectOnly(
      withConstraints('  - { type: location, id: l1, resource: web, node: n1, score: 5, role: promoted }'),
      '21:72',
      'location "l1" uses role promoted, but "web" is a primitive, not a promotable clone',
    );
  });

  it('refuses withRole unpromoted on a clone', () => {
    expectOnly(
      withConstraints('  - { type: colocation, id: c1, resource: web, with: api-clone, score: 5, withRole: unpromoted }'),
      '21:85',
      'uses role unpromoted, but "api-clone" is a clone',
    );
  });

  it('accepts roles on a promotable', () => {
    const r = parseConfig(withConstraints('  - { type: colocation, id: c1, resource: vip, with: db-clone, withRole: promoted, score: INFINITY }'), 'c.yaml');
    assert.equal(r.ok, true, r.ok ? '' : formatConfigErrors(r.errors));
  });

  it('refuses promote in an order on a non-promotable resource', () => {
    expectOnly(withConstraints('  - { type: order, id: o1, first: web, firstAction: promote, then: vip, thenAction: start }'), '21:53', 'order "o1": "web" is a primitive, so it is never promoted');
  });
});

describe('validateConfig: thenAction defaults to firstAction', () => {
  it('refuses "promote a promotable, then a primitive" without thenAction', () => {
    expectOnly(
      withConstraints('  - { type: order, id: o1, first: db-clone, firstAction: promote, then: web }'),
      '21:5',
      'order "o1": thenAction defaults to firstAction (promote), but "web" is a primitive, so it is never promoted',
      'add thenAction: start',
    );
  });
});

describe('validateConfig: a resource with itself', () => {
  it('refuses a colocation with itself', () => {
    expectOnly(withConstraints('  - { type: colocation, id: c1, resource: web, with: web, score: 5 }'), '21:54', 'colocation "c1" places "web" with itself');
  });

  it('refuses an order with itself', () => {
    expectOnly(withConstraints('  - { type: order, id: o1, first: web, then: web }'), '21:46', 'order "o1" orders "web" after itself');
  });
});

describe('validateConfig: cycles', () => {
  it('refuses a mandatory order cycle, with its path, at the constraint that closes it', () => {
    const e = expectOnly(
      withConstraints(
        '  - { type: order, id: o1, first: vip, then: g }',
        '  - { type: order, id: o2, first: g, then: web }',
        '  - { type: order, id: o3, first: web, then: vip }',
      ),
      '23:5',
      'order cycle: g → web → vip → g',
    );
    assert.ok(e.hint?.includes('orders "o1", "o2", "o3" form a loop'), e.hint);
  });

  it('refuses a cycle through an optional order too', () => {
    expectOnly(
      withConstraints('  - { type: order, id: o1, first: vip, then: web, kind: optional }', '  - { type: order, id: o2, first: web, then: vip }'),
      '22:5',
      'order cycle: vip → web → vip',
    );
  });

  it('ignores serialize orders, which have no direction', () => {
    const r = parseConfig(
      withConstraints('  - { type: order, id: o1, first: vip, then: web, kind: serialize }', '  - { type: order, id: o2, first: web, then: vip }'),
      'c.yaml',
    );
    assert.equal(r.ok, true, r.ok ? '' : formatConfigErrors(r.errors));
  });

  it('finds a loop made by stops against the reverse of a symmetrical order', () => {
    expectOnly(
      withConstraints(
        '  - { type: order, id: o1, first: vip, then: web }',
        '  - { type: order, id: o2, first: vip, firstAction: stop, then: web, thenAction: stop, symmetrical: false }',
      ),
      '22:5',
      'order cycle: stop vip → stop web → stop vip',
    );
  });

  it('reports a loop of symmetrical orders once, on the start side', () => {
    expectOnly(
      withConstraints(
        '  - { type: order, id: o1, first: vip, then: web }',
        '  - { type: order, id: o2, first: vip, firstAction: stop, then: web, thenAction: stop }',
      ),
      '22:5',
      'order cycle: vip → web → vip',
    );
  });

  it('finds a loop through the implied start-before-promote of a promotable', () => {
    expectOnly(
      withConstraints(
        '  - { type: order, id: o1, first: db-clone, firstAction: promote, then: web, thenAction: start }',
        '  - { type: order, id: o2, first: web, then: db-clone }',
      ),
      '22:5',
      'order cycle: promote db-clone → start web → start db-clone → promote db-clone',
    );
  });

  it('refuses a colocation cycle', () => {
    expectOnly(
      withConstraints(
        '  - { type: colocation, id: c1, resource: vip, with: web, score: 10 }',
        '  - { type: colocation, id: c2, resource: web, with: g, score: 10 }',
        '  - { type: colocation, id: c3, resource: g, with: vip, score: 10 }',
      ),
      '23:5',
      'colocation cycle: g → vip → web → g',
      'colocations "c1", "c2", "c3" form a loop',
    );
  });

  it('reports separate cycles separately', () => {
    const errors = errorsOf(
      withConstraints(
        '  - { type: order, id: o1, first: vip, then: web }',
        '  - { type: order, id: o2, first: web, then: vip }',
        '  - { type: order, id: o3, first: g, then: api-clone }',
        '  - { type: order, id: o4, first: api-clone, then: g }',
      ),
    );
    assert.equal(errors.length, 2, formatConfigErrors(errors));
    expectError(errors, '22:5', 'order cycle: vip → web → vip');
    expectError(errors, '24:5', 'order cycle: api-clone → g → api-clone');
  });
});

describe('validateConfig: impossible constraints', () => {
  it('refuses +INFINITY and -INFINITY colocations of the same pair', () => {
    expectOnly(
      withConstraints(
        '  - { type: colocation, id: c1, resource: vip, with: web, score: INFINITY }',
        '  - { type: colocation, id: c2, resource: vip, with: web, score: -INFINITY }',
      ),
      '22:66',
      'colocation "c2" (-INFINITY) contradicts colocation "c1" (INFINITY): "vip" and "web" cannot be both together and apart',
      '"c1" at line 21:5',
    );
  });

  it('finds the contradiction in either direction, besides the loop', () => {
    const errors = errorsOf(
      withConstraints(
        '  - { type: colocation, id: c1, resource: vip, with: web, score: INFINITY }',
        '  - { type: colocation, id: c2, resource: web, with: vip, score: -INFINITY }',
      ),
    );
    expectError(errors, '22:66', 'contradicts colocation "c1"');
    expectError(errors, '22:5', 'colocation cycle: vip → web → vip');
  });

  it('lets roles tell two colocations of a pair apart', () => {
    const r = parseConfig(
      withConstraints(
        '  - { type: colocation, id: c1, resource: vip, with: db-clone, withRole: promoted, score: INFINITY }',
        '  - { type: colocation, id: c2, resource: vip, with: db-clone, withRole: unpromoted, score: -INFINITY }',
      ),
      'c.yaml',
    );
    assert.equal(r.ok, true, r.ok ? '' : formatConfigErrors(r.errors));
  });

  it('refuses a resource banned from every node', () => {
    const errors = errorsOf(
      withConstraints(
        '  - { type: location, id: l1, resource: web, node: n1, score: -INFINITY }',
        '  - { type: location, id: l2, resource: web, rules: [{ score: -INFINITY, expressions: [{ attribute: role, op: ne, value: ctl }] }] }',
        '  - { type: location, id: l3, resource: web, node: n2, score: -INFINITY }',
      ),
    );
    assert.equal(errors.length, 1, formatConfigErrors(errors));
    expectError(errors, '19:28', 'primitive "web" can run on no node: every node is banned (by "l1", "l2" (rule), "l3")', 'targetRole: stopped');
  });

  it('accepts a resource banned everywhere when its targetRole is stopped', () => {
    const text = doc(
      ...HEAD,
      'resources:',
      '  - { type: primitive, id: web, agent: process, targetRole: stopped }',
      'constraints:',
      '  - { type: location, id: l1, resource: web, rules: [{ score: -INFINITY, expressions: [{ attribute: "#uname", op: defined }] }] }',
    );
    const r = parseConfig(text, 'c.yaml');
    assert.equal(r.ok, true, r.ok ? '' : formatConfigErrors(r.errors));
  });

  it('refuses a resource no location allows in an opt-in cluster', () => {
    const text = doc('cluster:', '  name: lab', '  symmetric: false', 'nodes:', '  - name: n1', 'resources:', '  - { type: primitive, id: web, agent: process }');
    expectOnly(text, '7:28', 'primitive "web" can run on no node: the cluster is opt-in (symmetric: false)');
  });

  it('refuses +INFINITY locations to two nodes for a primitive, not for a clone', () => {
    const errors = errorsOf(
      withConstraints(
        '  - { type: location, id: l1, resource: web, node: n1, score: INFINITY }',
        '  - { type: location, id: l2, resource: web, node: n2, score: INFINITY }',
        '  - { type: location, id: l3, resource: api-clone, node: n1, score: INFINITY }',
        '  - { type: location, id: l4, resource: api-clone, node: n2, score: INFINITY }',
      ),
    );
    assert.equal(errors.length, 1, formatConfigErrors(errors));
    expectError(errors, '22:52', 'location "l2" requires primitive "web" on node "n2", but location "l1" requires it on "n1"', '"l1" at line 21:5');
  });

  it('refuses +INFINITY and -INFINITY locations to the same node', () => {
    expectOnly(
      withConstraints(
        '  - { type: location, id: l1, resource: web, node: n1, score: INFINITY }',
        '  - { type: location, id: l2, resource: web, node: n1, score: -INFINITY }',
      ),
      '21:52',
      'location "l1" requires "web" on node "n1", which "l2" bans',
    );
  });
});

describe('validateConfig: operations', () => {
  function withOps(...ops: string[]): string {
    return doc(...HEAD, 'resources:', '  - type: primitive', '    id: web', '    agent: process', '    operations:', ...ops);
  }

  it('refuses an interval on a start', () => {
    expectOnly(withOps('      - { name: start, interval: 10s }'), '15:34', '"web" operation start has an interval, but only monitors repeat');
  });

  it('needs an interval on a monitor, and more than 0', () => {
    const errors = errorsOf(withOps('      - { name: monitor }', '      - { name: monitor, interval: 0s }'));
    expectError(errors, '15:9', '"web" operation monitor needs an interval');
    expectError(errors, '16:36', 'interval must be more than 0');
    assert.equal(errors.length, 2, formatConfigErrors(errors));
  });

  it('refuses a role on a monitor of a primitive outside a promotable', () => {
    expectOnly(withOps('      - { name: monitor, interval: 10s, role: promoted }'), '15:47', 'has role promoted, but "web" is not in a promotable clone');
  });

  it('refuses a role on an operation other than monitor', () => {
    expectOnly(withOps('      - { name: stop, role: started }'), '15:29', 'operation stop has a role, but only monitors take one');
  });

  it('refuses promote on a primitive outside a promotable', () => {
    expectOnly(withOps('      - { name: promote }'), '15:17', 'is not in a promotable clone, so it is never promoted');
  });

  it('refuses two monitors with the same interval, even for different roles', () => {
    const text = doc(
      ...HEAD,
      'resources:',
      '  - type: promotable',
      '    id: db-clone',
      '    of:',
      '      type: primitive',
      '      id: db',
      '      agent: "ocf:heartbeat:galera"',
      '      operations:',
      '        - { name: monitor, interval: 10s, role: promoted }',
      '        - { name: monitor, interval: 10s, role: unpromoted }',
    );
    expectOnly(text, '19:11', '"db" defines operation monitor every 10s twice', 'first defined at line 18:11');
  });

  it('refuses a zero timeout', () => {
    expectOnly(withOps('      - { name: start, timeout: 0s }'), '15:33', 'timeout must be more than 0');
  });

  it('refuses onFail demote outside a promotable', () => {
    expectOnly(withOps('      - { name: monitor, interval: 5s, onFail: demote }'), '15:48', 'onFail: demote, which applies only to promote');
  });

  it('refuses onFail fence when fencing is off', () => {
    const text = doc('cluster:', '  name: lab', '  fencing: false', 'nodes:', '  - name: n1', 'resources:', '  - { type: primitive, id: web, agent: process, onFail: fence }');
    expectOnly(text, '7:57', 'onFail: fence needs fencing, but the cluster has fencing: false');
  });

  it('refuses requires fencing when fencing is off, in the defaults too', () => {
    const text = doc(
      'cluster:',
      '  name: lab',
      '  fencing: false',
      '  defaults: { requires: fencing }',
      'nodes:',
      '  - name: n1',
      'resources:',
      '  - { type: primitive, id: web, agent: process, requires: fencing }',
    );
    const errors = errorsOf(text);
    assert.equal(errors.length, 2, formatConfigErrors(errors));
    expectError(errors, '4:25', 'requires: fencing needs fencing, but the cluster has fencing: false');
    expectError(errors, '8:59', 'requires: fencing needs fencing');
  });

  it('accepts migrationThreshold INFINITY', () => {
    const text = doc('cluster:', '  name: lab', 'nodes:', '  - name: n1', 'resources:', '  - { type: primitive, id: web, agent: process, migrationThreshold: INFINITY }');
    assert.equal(parseConfig(text, 'c.yaml').ok, true);
  });
});

describe('validateConfig: clones', () => {
  it('refuses promotedMax above maxCopies', () => {
    const text = doc(
      ...HEAD,
      'resources:',
      '  - { type: promotable, id: db-clone, maxCopies: 2, promotedMax: 3, of: { type: primitive, id: db, agent: process } }',
    );
    expectOnly(text, '11:66', 'promotable "db-clone": promotedMax (3) is more than maxCopies (2)');
  });

  it('refuses maxPerNode above maxCopies', () => {
    const text = doc(...HEAD, 'resources:', '  - { type: clone, id: c, maxCopies: 2, maxPerNode: 3, of: { type: primitive, id: p, agent: process } }');
    expectOnly(text, '11:53', 'clone "c": maxPerNode (3) is more than maxCopies (2)');
  });

  it('refuses promotedMaxPerNode above the default maxPerNode of 1', () => {
    const text = doc(...HEAD, 'resources:', '  - { type: promotable, id: d, promotedMaxPerNode: 2, of: { type: primitive, id: p, agent: process } }');
    expectOnly(text, '11:52', 'promotedMaxPerNode (2) is more than maxPerNode (1, the default)');
  });

  it('refuses targetRole promoted outside a promotable', () => {
    const text = doc(...HEAD, 'resources:', '  - { type: primitive, id: web, agent: process, targetRole: promoted }');
    expectOnly(text, '11:61', 'has targetRole promoted, but only promotable clones have roles');
  });
});

describe('validateConfig: all at once', () => {
  it('reports every problem of the file, in file order', () => {
    const errors = errorsOf(
      withConstraints(
        '  - { type: location, id: l1, resource: nope, node: n1, score: 1 }',
        '  - { type: colocation, id: c1, resource: web, with: web, score: 5 }',
        '  - { type: order, id: l1, first: vip, then: web }',
      ),
    );
    assert.deepEqual(
      errors.map((e) => `${e.line}:${e.column}`),
      ['21:41', '22:54', '23:24'],
      formatConfigErrors(errors),
    );
  });
});

describe('validateConfig: fencing topology', () => {
  /** Lines 10–13: two devices; tests append the topology from line 14. */
  const DEVICES = [
    'fenceDevices:',
    '  - { id: ipmi-n1, agent: fence_ipmilan, nodes: [n1], params: { ip: 10.9.0.1, username: admin, password: pw, lanplus: 0 } }',
    '  - { id: pdu, agent: fence_apc, nodes: [n1, n2] }',
    '  - { id: scsi, agent: fence_scsi, nodes: [n1, n2, n3], unfence: true, verify: false }',
  ];
  const withTopology = (...lines: string[]): string => doc(...HEAD, ...DEVICES, 'fenceTopology:', ...lines);

  it('accepts levels of configured devices that fence the node', () => {
    const r = parseConfig(withTopology('  - { node: n1, levels: [[ipmi-n1], [pdu, scsi]] }', '  - { node: n2, levels: [[pdu]] }'), 'c.yaml');
    assert.equal(r.ok, true, r.ok ? '' : formatConfigErrors(r.errors));
  });

  it('refuses a level naming a device that is not configured, with the closest name', () => {
    expectOnly(withTopology('  - { node: n1, levels: [[ipmi-n2]] }'), '15:27', 'level 1 of n1 names fence device "ipmi-n2", which is not configured', 'did you mean "ipmi-n1"?');
  });

  it('refuses a device that does not fence the node', () => {
    expectOnly(withTopology('  - { node: n2, levels: [[pdu], [ipmi-n1]] }'), '15:34', 'fence device "ipmi-n1" does not fence node "n2" (its nodes: n1)', 'add n2 to the device');
  });

  it('refuses a topology for an unknown node', () => {
    expectOnly(withTopology('  - { node: n9, levels: [[pdu]] }'), '15:13', 'fencing topology for node "n9", which is not configured');
  });

  it('refuses two topologies for one node', () => {
    const e = expectOnly(withTopology('  - { node: n1, levels: [[pdu]] }', '  - { node: n1, levels: [[ipmi-n1]] }'), '16:13', 'node "n1" has two fencing topologies');
    assert.ok(e.hint?.includes('first defined at line 15:13'), e.hint);
  });

  it('refuses a device twice in one level, and empty levels', () => {
    expectOnly(withTopology('  - { node: n1, levels: [[pdu, pdu]] }'), '15:32', 'fence device "pdu" is named twice in level 1 of n1');
    expectOnly(withTopology('  - { node: n1, levels: [[]] }'), '15:26', 'a fencing level names at least one device');
    expectOnly(withTopology('  - { node: n1, levels: [] }'), '15:25', 'a fencing topology has at least one level');
  });

  it('refuses params Haven sets itself, and line breaks, without quoting the value', () => {
    const errors = errorsOf(
      doc(...HEAD, 'fenceDevices:', '  - id: d', '    agent: fence_ipmilan', '    nodes: [n1]', '    params:', '      plug: n1', '      password: "secret\\naction=on"'),
    );
    expectError(errors, '15:13', 'fence device "d" sets "plug", which Haven sets for each run');
    const e = expectError(errors, '16:17', 'the value of password of fence device "d" holds a line break');
    assert.doesNotMatch(formatConfigErrors(errors), /secret/);
    assert.ok(e);
  });
});
