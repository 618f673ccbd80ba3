// `haven check` and `haven plan` as an operator runs them: a real process, real files, exit
// codes, data on stdout and messages on stderr.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { useColor } from './run.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function haven(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env['NO_COLOR'];
  const r = spawnSync(process.execPath, ['bin/haven.js', ...args], { cwd: ROOT, encoding: 'utf8', env, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const FIX = 'test/fixtures/check';
const EXAMPLE = 'examples/three-node.yaml';

describe('haven check', () => {
  it('prints one ok line on stdout and exits 0 for a valid config', () => {
    const r = haven('check', `${FIX}/valid.yaml`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ok: 3 nodes, 2 resources, 1 constraint\n');
    assert.equal(r.stderr, '');
  });

  it('prints every schema error as file:line:col on stderr and exits 1', () => {
    const r = haven('check', `${FIX}/invalid.yaml`);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      [
        `${FIX}/invalid.yaml:4:19: cluster.noQuorumPolicy: "freze" is not an allowed value (hint: did you mean "freeze"? allowed values: stop, freeze, demote, ignore)`,
        `${FIX}/invalid.yaml:10:49: resources[1]: unknown key "stickyness" (hint: did you mean "stickiness"?)`,
        `haven: ${FIX}/invalid.yaml: configuration refused (2 errors)`,
        '',
      ].join('\n'),
    );
  });

  it('refuses whole-config mistakes the same way', () => {
    const r = haven('check', `${FIX}/semantic.yaml`);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^test\/fixtures\/check\/semantic\.yaml:12:5: order cycle: a → b → a \(hint: /);
  });

  it('refuses params the built-in agents would refuse at start, each where it is, naming the closest known one', () => {
    const r = haven('check', `${FIX}/params.yaml`);
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split('\n');
    assert.match(lines[0] ?? '', /^test\/fixtures\/check\/params\.yaml:8:\d+: vip: vip: unknown param "cidr" \(known: ip, cidrNetmask, interface, arpCount\)/);
    assert.ok(lines.some((l) => /params\.yaml:1[2-4]:\d+: lb: haproxy: unknown param "api\.backnd" \(did you mean "api\.backend"\?\)/.test(l)), r.stderr);
    assert.ok(lines.some((l) => /params\.yaml:17:\d+: web: command: required/.test(l)), r.stderr);
    assert.match(r.stderr, /configuration refused \(\d+ errors\)/);
  });

  it('locates YAML syntax errors', () => {
    const r = haven('check', `${FIX}/syntax.yaml`);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^test\/fixtures\/check\/syntax\.yaml:4:1: YAML: /);
  });

  it('prints the result as JSON on stdout with --json', () => {
    const ok = haven('check', `${FIX}/valid.yaml`, '--json');
    assert.equal(ok.code, 0);
    assert.deepEqual(JSON.parse(ok.stdout), { ok: true, file: `${FIX}/valid.yaml`, nodes: 3, resources: 2, constraints: 1, status: [] });
    const bad = haven('check', `${FIX}/invalid.yaml`, '--json');
    assert.equal(bad.code, 1);
    const body = JSON.parse(bad.stdout) as { ok: boolean; errors: { line: number; column: number; path: unknown[] }[] };
    assert.equal(body.ok, false);
    assert.deepEqual(
      body.errors.map((e) => [e.line, e.column, e.path]),
      [
        [4, 19, ['cluster', 'noQuorumPolicy']],
        [10, 49, ['resources', 1, 'stickyness']],
      ],
    );
  });

  it('checks status snapshots against the config with --status', () => {
    const r = haven('check', `${FIX}/valid.yaml`, '--status', `${FIX}/status-bad.yaml`);
    assert.equal(r.code, 1);
    assert.deepEqual(
      r.stderr.trimEnd().split('\n').map((l) => l.split(': ').slice(0, 2).join(': ')),
      [
        `${FIX}/status-bad.yaml:2:1: configured node "n3" is missing from the status (hint`,
        `${FIX}/status-bad.yaml:5:3: node "n4" is not a configured node (hint`,
        `${FIX}/status-bad.yaml:7:23: copy of "web" on node "n4", which is not a configured node (hint`,
        `haven: ${FIX}/status-bad.yaml`,
      ],
    );
  });

  it('accepts the example cluster and its status snapshots', () => {
    const r = haven(
      'check',
      EXAMPLE,
      '--status',
      'examples/three-node-status-steady.yaml',
      'examples/three-node-status-unclean.yaml',
      'examples/three-node-status-failed-monitor.yaml',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split('\n')[0], 'ok: 5 nodes, 12 resources, 25 constraints');
    assert.equal(r.stdout.trimEnd().split('\n').length, 4);
  });

  it('exits 2 on a usage error', () => {
    assert.equal(haven('check').code, 2);
    assert.equal(haven('check', `${FIX}/valid.yaml`, '--bogus').code, 2);
  });

  it('exits 3 when the file does not exist', () => {
    const r = haven('check', `${FIX}/missing.yaml`);
    assert.equal(r.code, 3);
    assert.equal(r.stderr, `haven: ${FIX}/missing.yaml: no such file\n`);
  });
});

describe('haven plan', () => {
  const unclean = ['plan', '--config', EXAMPLE, '--status', 'examples/three-node-status-unclean.yaml'];

  it('prints the summary and the DAG with what each action waits for', () => {
    const r = haven(...unclean);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Transition Summary:\n {2}\* Fence +ctl1 /);
    assert.match(r.stdout, /\n {2}\* Move +vip +\( ctl1 -> ctl\d \) +ctl1 is unclean/);
    assert.match(r.stdout, /\nActions \(\d+, in an order they may run\):\n {3}1\. fence ctl1 /);
    assert.match(r.stdout, /waits for: fence ctl1 \[1\]/);
    assert.ok(!r.stdout.includes('\x1b['), 'no colour when stdout is not a terminal');
  });

  it('has nothing to do in the steady state', () => {
    const r = haven('plan', '--config', EXAMPLE, '--status', 'examples/three-node-status-steady.yaml');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\(nothing to do\)/);
  });

  it('prints the same JSON every time with --json', () => {
    const a = haven(...unclean, '--json');
    const b = haven(...unclean, '--json');
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, b.stdout);
    const plan = JSON.parse(a.stdout) as { actions: { id: string }[]; edges: unknown[] };
    assert.equal(plan.actions[0]?.id, 'fence ctl1');
    assert.deepEqual(Object.keys(plan), ['actions', 'edges', 'transitions', 'placements', 'notes']);
  });

  it('prints Graphviz dot with --dot', () => {
    const r = haven(...unclean, '--dot');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.startsWith('digraph plan {'));
    assert.match(r.stdout, /"fence ctl1" -> /);
  });

  it('explains one resource with --explain', () => {
    const r = haven('plan', '--config', EXAMPLE, '--status', 'examples/three-node-status-failed-monitor.yaml', '--explain', 'cinder-volume');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\nPlacement of cinder-volume:\n {2}Node +Score +Result\n/);
    assert.match(r.stdout, /\n {2}comp1 +-INFINITY +not allowed\n/);
    assert.match(r.stdout, /\n {2}ctl2 +50 +location cinder-volume-prefers-ctl2\n/);
    assert.match(r.stdout, /\nDecision: /);
  });

  it('explains the resource around a primitive named inside a clone, saying so on stderr', () => {
    const r = haven(...unclean, '--explain', 'galera');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Placement of galera-clone:/);
    assert.match(r.stderr, /"galera" is placed as part of "galera-clone"/);
  });

  it('exits 3 for an unknown resource to explain, with a suggestion', () => {
    const r = haven(...unclean, '--explain', 'cinder-volum');
    assert.equal(r.code, 3);
    assert.equal(r.stderr, 'haven: no resource "cinder-volum" is configured (hint: did you mean "cinder-volume"?)\n');
  });

  it('exits 2 on usage errors', () => {
    assert.equal(haven('plan', '--config', EXAMPLE).code, 2, 'missing --status');
    assert.equal(haven(...unclean, '--json', '--dot').code, 2);
    const r = haven(...unclean, '--now', 'teatime');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--now "teatime" is not a time/);
  });

  it('exits 1 when the status does not fit the config', () => {
    const r = haven('plan', '--config', `${FIX}/valid.yaml`, '--status', `${FIX}/status-bad.yaml`);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /status refused \(3 errors\)/);
    assert.equal(r.stdout, '');
  });
});

describe('useColor', () => {
  const tty = { isTTY: true } as NodeJS.WriteStream;
  const pipe = { isTTY: false } as NodeJS.WriteStream;

  it('colours a terminal, never a pipe, never with NO_COLOR set', () => {
    assert.equal(useColor(tty, {}), true);
    assert.equal(useColor(pipe, {}), false);
    assert.equal(useColor(tty, { NO_COLOR: '1' }), false);
    assert.equal(useColor(tty, { NO_COLOR: '' }), false);
  });
});
