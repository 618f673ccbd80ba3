import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from './load.js';
import { diffConfigs, lineDiff, renderDiff, summarizeChanges, type ConfigDocument } from './diff.js';

const BASE = `
cluster:
  name: c
  stickiness: 0
nodes:
  - name: n1
  - name: n2
resources:
  - type: primitive
    id: web
    agent: process
    params: { command: sleep, args: "100" }
    operations:
      - { name: monitor, interval: 10s, timeout: 20s }
  - type: primitive
    id: old
    agent: process
    params: { command: sleep, args: "200" }
constraints:
  - { type: location, id: web-on-n1, resource: web, node: n1, score: 100 }
`.replace('  stickiness: 0\n', '  fencing: false\n');

function doc(text: string): ConfigDocument {
  const r = parseConfig(text, 't.yaml');
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
  return { raw: r.source.toJS(), config: r.config };
}

describe('config diff', () => {
  it('finds resources added, removed and changed, constraints and cluster policy, by name', () => {
    const after = BASE.replace('args: "100"', 'args: "101"')
      .replace(/  - type: primitive\n    id: old\n    agent: process\n    params: \{ command: sleep, args: "200" \}\n/, '')
      .replace('constraints:', '  - { type: primitive, id: db, agent: "ocf:heartbeat:Dummy" }\nconstraints:')
      .replace('score: 100 }', 'score: -100 }\n  - { type: order, id: db-then-web, first: db, then: web }')
      .replace('  fencing: false\n', '  fencing: false\n  noQuorumPolicy: freeze\n');
    const changes = diffConfigs(doc(BASE), doc(after));
    assert.deepEqual(summarizeChanges(changes), [
      'cluster policy noQuorumPolicy added',
      'resource web changed',
      'resource old removed',
      'resource db added',
      'constraint web-on-n1 changed',
      'constraint db-then-web added',
    ]);
    const text = renderDiff(changes);
    assert.match(text, /^cluster:\n {2}\+ noQuorumPolicy: freeze \(added\)$/m);
    assert.match(text, /~ web \(primitive\) \(changed\)\n(.*\n)*?\s+- {3}args: "100"\n\s+\+ {3}args: "101"/);
    assert.match(text, /- old \(primitive\) \(removed\)\n\s+type: primitive\n\s+id: old/);
    assert.match(text, /\+ db \(primitive\) \(added\)/);
    assert.match(text, /~ web-on-n1 \(location\) \(changed\)\n(.*\n)*?\s+- score: 100\n\s+\+ score: -100/);
    assert.doesNotMatch(text, /\x1b\[/, 'no colour unless asked');
    assert.match(renderDiff(changes, { color: true }), /\x1b\[32m/);
  });

  it('sees no change where the parsed configuration is the same: order, units, comments, anchors', () => {
    const same = BASE.replace('interval: 10s', 'interval: 10000ms')
      .replace(/(  - type: primitive\n    id: web\n(?:    .*\n|      .*\n)*?)(  - type: primitive\n    id: old\n    agent: process\n    params: \{ command: sleep, args: "200" \}\n)/, '$2$1')
      .replace('cluster:', '# a comment\nx-shared: &s { command: sleep }\ncluster:');
    assert.notEqual(same, BASE);
    assert.deepEqual(diffConfigs(doc(BASE), doc(same)), []);
    assert.equal(renderDiff([]), 'no change\n');
  });

  it('a changed policy value is one line: before → after', () => {
    const changes = diffConfigs(doc(BASE), doc(BASE.replace('fencing: false', 'fencing: true')));
    assert.equal(renderDiff(changes), 'cluster:\n  ~ fencing: false → true\n');
  });

  it('line diff: changed lines with one line of context, long unchanged runs shortened', () => {
    const a = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const b = ['a', 'b', 'c', 'X', 'e', 'f', 'g'];
    assert.deepEqual(lineDiff(a, b), [
      { op: ' ', line: 'a' },
      { op: '…', line: '' },
      { op: ' ', line: 'c' },
      { op: '-', line: 'd' },
      { op: '+', line: 'X' },
      { op: ' ', line: 'e' },
    ]);
    assert.deepEqual(lineDiff(['x'], ['x', 'y']), [
      { op: ' ', line: 'x' },
      { op: '+', line: 'y' },
    ]);
  });
});
