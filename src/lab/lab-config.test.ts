// lab.yaml: a valid Haven configuration, with the operator's resources merged in and their
// mistakes reported in their own file.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { ConfigInvalidError } from '../errors.js';
import { parsePartition, substituteLabNet } from './lab.js';
import { labConfigText, parseExtras } from './lab-config.js';
import { planLab } from './layout.js';

const state = planLab({ name: 'demo', id: 2, hosts: 3, rings: 2, stateDir: '/run/haven-lab', config: '/run/haven-lab/demo/lab.yaml', daemons: true, node: 'node', haven: 'haven.js', now: new Date(0) });

describe('labConfigText', () => {
  it('writes the cluster, rings, a node per host, the controller and the lab power switch', () => {
    const { text, config } = labConfigText(state, '/run/haven-lab');
    const doc = parse(text) as Record<string, unknown>;
    assert.deepEqual(doc['cluster'], { name: 'demo', heartbeat: { interval: '50ms', ringTimeout: '300ms' } });
    assert.deepEqual(doc['rings'], [{ name: 'ring0' }, { name: 'ring1' }]);
    assert.deepEqual(config.nodes.map((n) => [n.name, n.addresses]), [
      ['h1', { ring0: '10.202.0.1', ring1: '10.202.1.1' }],
      ['h2', { ring0: '10.202.0.2', ring1: '10.202.1.2' }],
      ['h3', { ring0: '10.202.0.3', ring1: '10.202.1.3' }],
    ]);
    assert.deepEqual(config.controllers, [{ name: 'controller', addresses: { ring0: '10.202.0.240', ring1: '10.202.1.240' } }]);
    assert.deepEqual(config.fenceDevices, [{ id: 'lab-power', agent: 'lab', params: { lab: 'demo' }, nodes: ['h1', 'h2', 'h3'] }]);
  });

  it('tells the fence agent where the lab lives when it is not in the default directory', () => {
    const elsewhere = { ...state, stateDir: '/tmp/labs' };
    assert.deepEqual(labConfigText(elsewhere, '/run/haven-lab').config.fenceDevices?.[0]?.params, { lab: 'demo', state_dir: '/tmp/labs' });
  });

  it("merges an operator's resources and constraints, as written", () => {
    const text = [
      'resources:',
      '  - { type: primitive, id: web-ip, agent: vip, params: { ip: "${LAB_NET}.0.100" } }',
      '  - { type: primitive, id: web, agent: process, params: { command: node }, operations: [{ name: monitor, interval: 1s }] }',
      'constraints:',
      '  - { type: colocation, id: web-with-ip, resource: web, with: web-ip, score: INFINITY }',
      '  - { type: location, id: web-prefers-h1, resource: web, node: h1, score: 50 }',
      '',
    ].join('\n');
    const { text: out, config } = labConfigText(state, '/run/haven-lab', parseExtras(substituteLabNet(text, 2), 'web.yaml'));
    assert.deepEqual(config.resources?.map((r) => r.id), ['web-ip', 'web']);
    assert.equal(config.constraints?.length, 2);
    assert.match(out, /ip: 10\.202\.0\.100/);
    assert.match(out, /interval: 1s/, 'durations stay as written');
  });

  it('refuses a bad resources file whole, each problem located in that file', () => {
    const text = ['resources:', '  - { type: primitive, id: web, agent: proces }', 'constraints:', '  - { type: location, id: l, resource: nope, node: h1, score: 1 }', ''].join('\n');
    assert.throws(
      () => labConfigText(state, '/run/haven-lab', parseExtras(text, 'web.yaml')),
      (err: unknown) => err instanceof ConfigInvalidError && err.errors.length === 1 && err.errors[0]?.file === 'web.yaml' && err.errors[0]?.line === 2,
    );
    const dangling = ['resources:', '  - { type: primitive, id: web, agent: process }', 'constraints:', '  - { type: location, id: l, resource: nope, node: h1, score: 1 }', ''].join('\n');
    assert.throws(
      () => labConfigText(state, '/run/haven-lab', parseExtras(dangling, 'web.yaml')),
      (err: unknown) => err instanceof ConfigInvalidError && err.errors.every((e) => e.file === 'web.yaml') && err.errors.some((e) => e.line === 4 && /nope/.test(e.message)),
    );
    assert.throws(() => parseExtras('nodes: []\n', 'web.yaml'), (err: unknown) => err instanceof ConfigInvalidError && /unknown key "nodes"/.test(err.errors[0]?.message ?? ''));
  });
});

describe('parsePartition', () => {
  const hosts = ['h1', 'h2', 'h3', 'controller', 'client'];
  it('reads groups separated by "/" and hosts by commas or blanks, in one argument or several', () => {
    assert.deepEqual(parsePartition(['h1,h2', '/', 'h3'], hosts), [['h1', 'h2'], ['h3']]);
    assert.deepEqual(parsePartition(['h1,h2/h3,controller'], hosts), [['h1', 'h2'], ['h3', 'controller']]);
    assert.deepEqual(parsePartition(['h1', '/', 'h2', '/', 'h3'], hosts), [['h1'], ['h2'], ['h3']]);
  });
  it('refuses one group, an empty group, an unknown host and a host in two groups', () => {
    assert.throws(() => parsePartition(['h1,h2'], hosts), { code: 'USAGE' });
    assert.throws(() => parsePartition(['h1', '/'], hosts), { code: 'USAGE' });
    assert.throws(() => parsePartition(['h1', '/', 'h9'], hosts), { code: 'NOT_FOUND' });
    assert.throws(() => parsePartition(['h1', '/', 'h1'], hosts), /in two groups/);
  });
});
