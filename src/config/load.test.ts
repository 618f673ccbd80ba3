// Schema-level loading: every error at once, each at the line:column of the node to edit,
// with the hint an operator needs; syntax errors located too; nothing half-accepted.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SourceError } from '../errors.js';
import { formatConfigErrors, parseConfig } from './load.js';

/** Lines joined by newlines, so a test can count line numbers by position in the list. */
function doc(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

function errorsOf(text: string): readonly SourceError[] {
  const r = parseConfig(text, 'c.yaml');
  assert.equal(r.ok, false, 'expected the config to be refused');
  if (r.ok) throw new Error('unreachable');
  assert.equal('config' in r, false, 'a refused config must not come with a Config');
  return r.errors;
}

/** The one error at line:col, asserting its message holds `fragment`. */
function expectError(errors: readonly SourceError[], at: string, fragment: string, hint?: string): SourceError {
  const found = errors.filter((e) => `${e.line}:${e.column}` === at && e.message.includes(fragment));
  assert.equal(found.length, 1, `no error at ${at} containing "${fragment}"; got:\n${formatConfigErrors(errors)}`);
  const e = found[0] as SourceError;
  if (hint !== undefined) assert.ok(e.hint?.includes(hint), `hint of ${at} should contain "${hint}", got "${e.hint ?? ''}"`);
  return e;
}

const MINIMAL = doc('cluster:', '  name: lab', 'nodes:', '  - name: n1');

describe('parseConfig: a valid file', () => {
  it('returns the Config with durations in ms and scores as numbers', () => {
    const r = parseConfig(
      doc(
        'cluster:',
        '  name: lab',
        '  defaults: { failureTimeout: 2m, stickiness: INFINITY }',
        'nodes:',
        '  - name: n1',
        'resources:',
        '  - type: primitive',
        '    id: web',
        '    agent: process',
        '    operations: [{ name: monitor, interval: 500ms }]',
      ),
      'c.yaml',
    );
    assert.equal(r.ok, true, r.ok ? '' : formatConfigErrors(r.errors));
    if (!r.ok) return;
    assert.equal(r.config.cluster.defaults?.failureTimeout, 120_000);
    assert.equal(r.config.cluster.defaults?.stickiness, 1_000_000);
    const web = r.config.resources?.[0];
    assert.equal(web?.type === 'primitive' ? web.operations?.[0]?.interval : undefined, 500);
  });

  it('accepts JSON text too (YAML is a superset)', () => {
    const r = parseConfig('{"cluster": {"name": "lab"}, "nodes": [{"name": "n1"}]}', 'c.json');
    assert.equal(r.ok, true);
  });
});

describe('parseConfig: schema errors', () => {
  it('points an unknown key at the key itself and suggests the closest known key', () => {
    const errors = errorsOf(doc('cluster:', '  name: lab', '  fencng: true', 'nodes:', '  - name: n1'));
    expectError(errors, '3:3', 'cluster: unknown key "fencng"', 'did you mean "fencing"?');
  });

  it('lists the allowed keys when no known key is close', () => {
    const errors = errorsOf(doc('cluster:', '  name: lab', 'nodes:', '  - name: n1', '    colour: blue'));
    const e = expectError(errors, '5:5', 'nodes[0]: unknown key "colour"');
    assert.equal(e.hint, 'allowed keys: name, addresses, attributes, capacity, standby, maintenance');
  });

  it('suggests camelCase for a Pacemaker-style key', () => {
    const errors = errorsOf(
      doc('cluster:', '  name: lab', 'nodes:', '  - name: n1', 'resources:', '  - { type: primitive, id: a, agent: vip, migration-threshold: 3 }'),
    );
    expectError(errors, '6:43', 'unknown key "migration-threshold"', 'did you mean "migrationThreshold"?');
  });

  it('finds the allowed keys of the right member of a discriminated union', () => {
    const errors = errorsOf(
      doc('cluster:', '  name: lab', 'nodes:', '  - name: n1', 'constraints:', '  - { type: order, id: o, first: a, then: b, score: 5 }'),
    );
    expectError(errors, '6:46', 'unknown key "score"', 'allowed keys: type, id, first, firstAction, then, thenAction, kind, symmetrical');
  });

  it('lists the allowed values of an enum, with the likely one first', () => {
    const errors = errorsOf(doc('cluster:', '  name: lab', '  noQuorumPolicy: freze', 'nodes:', '  - name: n1'));
    const e = expectError(errors, '3:19', 'cluster.noQuorumPolicy: "freze" is not an allowed value');
    assert.equal(e.hint, 'did you mean "freeze"? allowed values: stop, freeze, demote, ignore');
  });

  it('reports a bad resource type at the type value, with the allowed types', () => {
    const errors = errorsOf(doc('cluster:', '  name: lab', 'nodes:', '  - name: n1', 'resources:', '  - type: primitve', '    id: a'));
    expectError(errors, '6:11', 'resources[0].type: "primitve" is not an allowed value', 'did you mean "primitive"? allowed values: primitive, group, clone, promotable');
  });

  it('points a missing key at the map that lacks it, by its own key when it has one', () => {
    const errors = errorsOf(doc('cluster:', '  fencing: true', 'nodes:', '  - name: n1'));
    expectError(errors, '1:1', 'cluster: missing required key "name"');
  });

  it('points a missing key of a list item at the item', () => {
    const errors = errorsOf(doc('cluster:', '  name: lab', 'nodes:', '  - name: n1', 'resources:', '  - type: primitive', '    id: web'));
    expectError(errors, '6:5', 'resources[0]: missing required key "agent"');
  });

  it('points a missing top-level key at the start of the file', () => {
    const errors = errorsOf(doc('cluster:', '  name: lab'));
    expectError(errors, '1:1', 'missing required key "nodes"');
  });

  it('keeps the messages written in the schema', () => {
    const errors = errorsOf(doc('cluster:', '  name: lab', 'nodes: []'));
    expectError(errors, '3:8', 'nodes: a cluster needs at least one node');
  });

  it('reports a bad duration at its value', () => {
    const errors = errorsOf(
      doc('cluster:', '  name: lab', 'nodes:', '  - name: n1', 'resources:', '  - type: primitive', '    id: web', '    agent: process', '    failureTimeout: 10x'),
    );
    expectError(errors, '9:21', '"10x" is not a duration');
  });

  it('reports a bad id with the rule it breaks', () => {
    const errors = errorsOf(doc('cluster:', '  name: lab', 'nodes:', '  - name: "n 1"'));
    expectError(errors, '4:11', 'nodes[0].name: "n 1" is not valid: must start with a letter or digit');
  });

  it('says what a union accepts when the value fits none of it', () => {
    const errors = errorsOf(
      doc('cluster:', '  name: lab', 'nodes:', '  - name: n1', 'resources:', '  - { type: primitive, id: a, agent: vip, stickiness: true }'),
    );
    expectError(errors, '6:55', 'resources[0].stickiness: expected a number or a string, got true');
  });

  it('reports a number below its minimum', () => {
    const errors = errorsOf(doc('cluster:', '  name: lab', 'rings:', '  - { name: r1, port: 0 }', 'nodes:', '  - name: n1'));
    expectError(errors, '4:23', 'rings[0].port: must be ≥ 1');
  });

  it('reports a wrong type with what was found', () => {
    const errors = errorsOf(doc('cluster:', '  name: lab', '  fencing: "yes"', 'nodes:', '  - name: n1'));
    expectError(errors, '3:12', 'cluster.fencing: expected a boolean, got "yes"');
  });

  it('points an empty value at its key', () => {
    const errors = errorsOf(doc('cluster:', 'nodes:', '  - name: n1'));
    expectError(errors, '1:1', 'cluster: expected a map, got nothing (null)');
  });

  it('reports every error of the file at once, in file order', () => {
    const errors = errorsOf(
      doc(
        'cluster:',
        '  name: lab',
        '  fencng: true',
        '  noQuorumPolicy: never',
        'nodes:',
        '  - name: n1',
        'resources:',
        '  - { type: primitive, id: a, agent: nope }',
        '  - { type: clone, id: b }',
      ),
    );
    assert.deepEqual(
      errors.map((e) => `${e.line}:${e.column}`),
      ['3:3', '4:19', '8:38', '9:5'],
    );
  });

  it('says so when the document is empty', () => {
    const errors = errorsOf('# nothing here\n');
    expectError(errors, '1:1', 'the document is empty');
  });
});

describe('parseConfig: YAML syntax errors', () => {
  it('reports a syntax error with its position and no schema errors', () => {
    const errors = errorsOf(doc('cluster:', '  name: lab', 'nodes:', '  - name: n1', '    attributes: { a: 1', 'resources: []'));
    assert.ok(errors.length >= 1);
    assert.ok(errors.every((e) => e.message.startsWith('YAML: ')), formatConfigErrors(errors));
    assert.equal(errors[0]?.line, 6);
  });

  it('reports a duplicate key at the second occurrence', () => {
    const errors = errorsOf(doc('cluster:', '  name: lab', '  name: other', 'nodes:', '  - name: n1'));
    expectError(errors, '3:3', 'YAML: duplicate key');
  });

  it('refuses several documents in one file', () => {
    const errors = errorsOf(`${MINIMAL}---\n${MINIMAL}`);
    expectError(errors, '5:1', 'several YAML documents');
  });

  it('refuses an unknown tag rather than ignoring it', () => {
    const errors = errorsOf(doc('cluster:', '  name: !secret lab', 'nodes:', '  - name: n1'));
    expectError(errors, '2:9', 'YAML: unresolved tag');
  });
});

describe('parseConfig: anchors and merge keys', () => {
  const SHARED = [
    'cluster: { name: lab }',
    'nodes: [{ name: n1 }]',
    'x-monitored: &monitored',
    '  agent: process',
    '  operations: [{ name: monitor, interval: 10s }]',
    'resources:',
    '  - { <<: *monitored, type: primitive, id: a }',
    '  - { <<: *monitored, type: primitive, id: b, agent: vip }',
  ];

  it('takes shared fields from a top-level x- key through merge keys; own fields win', () => {
    const r = parseConfig(doc(...SHARED), 'c.yaml');
    assert.equal(r.ok, true, r.ok ? '' : formatConfigErrors(r.errors));
    if (!r.ok) return;
    const [a, b] = r.config.resources ?? [];
    assert.equal(a?.type === 'primitive' ? a.agent : undefined, 'process');
    assert.equal(b?.type === 'primitive' ? b.agent : undefined, 'vip');
    assert.equal(a?.type === 'primitive' ? a.operations?.[0]?.interval : undefined, 10_000);
  });

  it('points an error in merged fields at the anchor, where it has to be fixed', () => {
    const text = doc(...SHARED).replace('interval: 10s', 'interval: 10x');
    const errors = errorsOf(text);
    assert.equal(errors.length, 2, formatConfigErrors(errors));
    expectError(errors, '5:43', 'resources[0].operations[0].interval: "10x" is not a duration');
    expectError(errors, '5:43', 'resources[1].operations[0].interval: "10x" is not a duration');
  });

  it('allows x- keys only at the top level', () => {
    const errors = errorsOf(doc('cluster:', '  name: lab', '  x-note: hi', 'nodes: [{ name: n1 }]'));
    expectError(errors, '3:3', 'cluster: unknown key "x-note"');
  });
});

describe('formatConfigErrors', () => {
  it('prints file:line:col: message (hint: …), one line each', () => {
    const text = formatConfigErrors([
      { file: 'a.yaml', line: 3, column: 7, path: ['x'], message: 'bad thing', hint: 'do this' },
      { file: 'a.yaml', line: 9, column: 1, path: [], message: 'other thing' },
    ]);
    assert.equal(text, 'a.yaml:3:7: bad thing (hint: do this)\na.yaml:9:1: other thing\n');
  });
});
