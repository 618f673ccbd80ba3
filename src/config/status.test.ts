// Status snapshots: parsed from YAML or JSON like configs, with the same located errors, and
// checked against the configuration: the configured nodes, all of them, and no copy on a
// node nobody knows. Unconfigured resources are orphans and pass.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SourceError } from '../errors.js';
import type { Config } from '../model/config.js';
import { formatConfigErrors, parseConfig } from './load.js';
import { parseStatus } from './status.js';

function doc(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

const CONFIG: Config = (() => {
  const r = parseConfig(
    doc(
      'cluster: { name: lab }',
      'nodes: [{ name: n1 }, { name: n2 }]',
      'resources:',
      '  - { type: primitive, id: vip, agent: vip }',
      '  - { type: clone, id: api-clone, of: { type: primitive, id: api, agent: process } }',
      '  - { type: promotable, id: db-clone, of: { type: primitive, id: db, agent: process } }',
      '  - { type: group, id: g, members: [{ type: primitive, id: m1, agent: process }] }',
    ),
    'c.yaml',
  );
  if (!r.ok) throw new Error(formatConfigErrors(r.errors));
  return r.config;
})();

function errorsOf(text: string, config?: Config): readonly SourceError[] {
  const r = parseStatus(text, 's.yaml', config);
  if (r.ok) assert.fail('expected the status to be refused');
  return r.errors;
}

function expectOnly(text: string, at: string, fragment: string, hint?: string): void {
  const errors = errorsOf(text, CONFIG);
  assert.equal(errors.length, 1, formatConfigErrors(errors));
  const e = errors[0] as SourceError;
  assert.equal(`${e.line}:${e.column}`, at, formatConfigErrors(errors));
  assert.ok(e.message.includes(fragment), `"${e.message}" should contain "${fragment}"`);
  if (hint !== undefined) assert.ok(e.hint?.includes(hint), `hint "${e.hint ?? ''}" should contain "${hint}"`);
}

describe('parseStatus', () => {
  it('parses YAML with short copy states, ISO times and durations', () => {
    const r = parseStatus(
      doc(
        'time: 2026-11-24T10:00:00Z',
        'nodes: { n1: { state: online }, n2: { state: unclean } }',
        'resources:',
        '  vip: { n2: started }',
        '  db: { n1: { state: promoted, promotionScore: 10, monitors: [10s] } }',
        'failures: [{ resource: vip, node: n2, count: INFINITY, last: 1700000000000 }]',
      ),
      's.yaml',
      CONFIG,
    );
    assert.equal(r.ok, true, r.ok ? '' : formatConfigErrors(r.errors));
    if (!r.ok) return;
    assert.equal(r.status.time, Date.parse('2026-11-24T10:00:00Z'));
    assert.deepEqual(r.status.resources?.['vip']?.['n2'], { state: 'started' });
    assert.deepEqual(r.status.resources?.['db']?.['n1']?.monitors, [10_000]);
  });

  it('parses JSON', () => {
    const r = parseStatus('{"nodes": {"n1": {"state": "online"}, "n2": {"state": "offline"}}}', 's.json', CONFIG);
    assert.equal(r.ok, true, r.ok ? '' : formatConfigErrors(r.errors));
  });

  it('locates errors in JSON text too', () => {
    const errors = errorsOf('{\n  "nodes": {\n    "n1": {"state": "onlin"}\n  }\n}\n');
    assert.equal(errors.length, 1);
    assert.equal(`${errors[0]?.line}:${errors[0]?.column}`, '3:21');
    assert.ok(errors[0]?.hint?.includes('did you mean "online"?'));
  });

  it('lists the allowed copy states for a misspelt one', () => {
    const errors = errorsOf(doc('nodes: { n1: { state: online } }', 'resources:', '  vip: { n1: runing }'));
    assert.equal(errors.length, 1, formatConfigErrors(errors));
    assert.equal(`${errors[0]?.line}:${errors[0]?.column}`, '3:14');
    assert.match(errors[0]?.message ?? '', /resources\.vip\.n1: expected one of "stopped", "started", "promoted", "failed" or "unknown" or a map, got "runing"/);
  });

  it('reports a bad time at its value', () => {
    const errors = errorsOf(doc('time: yesterday', 'nodes: { n1: { state: online } }'));
    assert.equal(`${errors[0]?.line}:${errors[0]?.column}`, '1:7');
    assert.ok(errors[0]?.message.includes('"yesterday" is not a time'));
  });

  it('reports a node name that is not an id at the key', () => {
    const errors = errorsOf(doc('nodes:', '  "bad node": { state: online }'));
    assert.equal(`${errors[0]?.line}:${errors[0]?.column}`, '2:3');
    assert.ok(errors[0]?.message.includes('key "bad node" is not valid'), errors[0]?.message);
  });
});

describe('checkStatus against the configuration', () => {
  const NODES = 'nodes: { n1: { state: online }, n2: { state: online } }';

  it('refuses a node that is not configured, at its key', () => {
    expectOnly(doc('nodes:', '  n1: { state: online }', '  n2: { state: online }', '  n3: { state: online }'), '4:3', 'node "n3" is not a configured node');
  });

  it('refuses a status that leaves out a configured node', () => {
    expectOnly(doc('time: 0', 'nodes:', '  n1: { state: online }'), '2:1', 'configured node "n2" is missing from the status', 'offline, unclean or fenced');
  });

  it('accepts copies of unconfigured resources: they are orphans', () => {
    const r = parseStatus(doc(NODES, 'resources:', '  old-service: { n1: started }'), 's.yaml', CONFIG);
    assert.equal(r.ok, true, r.ok ? '' : formatConfigErrors(r.errors));
  });

  it('refuses a copy on an unknown node, orphan or not', () => {
    const errors = errorsOf(doc(NODES, 'resources:', '  old-service: { n9: started }', '  vip: { n3: started }'), CONFIG);
    assert.deepEqual(
      errors.map((e) => `${e.line}:${e.column} ${e.message}`),
      [
        '3:18 copy of "old-service" on node "n9", which is not a configured node',
        '4:10 copy of "vip" on node "n3", which is not a configured node',
      ],
    );
  });

  it('refuses a copy on a node the status does not list, without a config too', () => {
    const errors = errorsOf(doc('nodes: { n1: { state: online } }', 'resources:', '  vip: { n2: started }'));
    assert.equal(errors.length, 1);
    assert.equal(`${errors[0]?.line}:${errors[0]?.column}`, '3:10');
    assert.ok(errors[0]?.message.includes('which is not listed under nodes'));
  });

  it('refuses a failure on an unknown node', () => {
    expectOnly(doc(NODES, 'failures:', '  - { resource: vip, node: n7, count: 1, last: 0 }'), '3:28', 'failure of "vip" on node "n7", which is not a configured node');
  });

  it('refuses copies listed under a clone id instead of its primitive', () => {
    expectOnly(doc(NODES, 'resources:', '  api-clone: { n1: started }'), '3:3', '"api-clone" is a clone; a status lists copies by primitive id', 'list the copies of "api"');
  });

  it('refuses a promoted copy of a resource outside a promotable', () => {
    expectOnly(doc(NODES, 'resources:', '  vip: { n1: promoted }'), '3:14', '"vip" is promoted on node "n1", but it is not in a promotable clone');
  });

  it('accepts numbered extra copies of a clone, not of a primitive', () => {
    assert.equal(parseStatus(doc(NODES, 'resources:', '  api:1: { n1: started }'), 's.yaml', CONFIG).ok, true);
    expectOnly(doc(NODES, 'resources:', '  vip:1: { n1: started }'), '3:3', '"vip:1" names copy 1 of "vip", which is not cloned');
  });
});
