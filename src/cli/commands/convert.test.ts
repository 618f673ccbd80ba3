// `haven convert` as an operator runs it: files in and out, the unconverted list on stderr,
// exit codes 0 (converted, warnings or not), 1 (refused input), 2 (usage).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseConfig } from '../../config/load.js';
import { parseStatus } from '../../config/status.js';
import { fixturePath, ROOT, tempFile } from '../../convert/convert.test-support.js';

function haven(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'haven.js'), ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('haven convert from-cib', () => {
  test('writes a config and a status that Haven loads, lists what it left out, exits 0', () => {
    const dir = mkdtempSync(join(tmpdir(), 'haven-convert-cli-'));
    const configOut = join(dir, 'config.yaml');
    const statusOut = join(dir, 'status.yaml');
    const r = haven('convert', 'from-cib', fixturePath('cib', 'openstack-3ctl.xml'), '--config-out', configOut, '--status-out', statusOut);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /haven: not converted: fencing device stonith-fence_ipmilan-525400aa0001 \(stonith:fence_ipmilan\)/);
    assert.match(r.stderr, /items not converted; see docs\/pacemaker.md/);
    const text = readFileSync(configOut, 'utf8');
    assert.match(text, /interval: 10s/);
    assert.match(text, /stickiness: INFINITY/);
    const config = parseConfig(text, configOut);
    assert.ok(config.ok, JSON.stringify(!config.ok && config.errors));
    const status = parseStatus(readFileSync(statusOut, 'utf8'), statusOut, config.config);
    assert.ok(status.ok, JSON.stringify(!status.ok && status.errors));
    assert.equal(status.status.resources?.['rabbitmq']?.['controller-1']?.state, 'failed');

    const check = haven('check', configOut, '--status', statusOut);
    assert.equal(check.status, 0, check.stderr);
  });

  test('--json prints config, status and the unconverted list', () => {
    const r = haven('convert', 'from-cib', fixturePath('cib', 'openstack-3ctl.xml'), '--json');
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { config: { cluster: { name: string } }; status: { nodes: object }; unconverted: { path: string; what: string; why: string }[]; problems: unknown[] };
    assert.equal(out.config.cluster.name, 'tripleo_cluster');
    assert.deepEqual(Object.keys(out.status.nodes), ['controller-0', 'controller-1', 'controller-2']);
    assert.ok(out.unconverted.some((u) => u.what.startsWith('fencing device')));
    assert.deepEqual(out.problems, []);
  });

  test('without --config-out the config goes to stdout', () => {
    const r = haven('convert', 'from-cib', fixturePath('cib', 'openstack-3ctl.xml'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^cluster:\n {2}name: tripleo_cluster/);
    assert.match(r.stderr, /has a status section; write it with --status-out FILE/);
  });

  test('refuses what is not a CIB with exit 1, and a missing file with NOT_FOUND', () => {
    const bad = haven('convert', 'from-cib', tempFile('bad.xml', '<cib><configuration></cib>'));
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /haven: not well-formed XML: .*line 1/);
    const notCib = haven('convert', 'from-cib', tempFile('x.xml', '<html/>'));
    assert.equal(notCib.status, 1);
    assert.match(notCib.stderr, /not a Pacemaker CIB \(hint: save one with: cibadmin --query > cib.xml\)/);
    const missing = haven('convert', 'from-cib', '/nonexistent/cib.xml');
    assert.equal(missing.status, 3);
  });

  test('usage errors exit 2', () => {
    assert.equal(haven('convert', 'from-cib').status, 2);
    assert.equal(haven('convert', 'to-cib').status, 2, 'to-cib needs --config');
  });
});

describe('haven convert to-cib', () => {
  test('writes the CIB to a file, the corosync matters on stderr', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'haven-convert-cli-')), 'cib.xml');
    const r = haven(
      'convert',
      'to-cib',
      '--config',
      fixturePath('convert', 'rich-config.yaml'),
      '--status',
      fixturePath('convert', 'rich-status.yaml'),
      '-o',
      out,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(readFileSync(out, 'utf8'), /^<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9"/);
    assert.match(r.stderr, /not converted: heartbeat rings \(rings\)/);
  });

  test('prints the CIB on stdout; refuses an invalid config with exit 1', () => {
    const r = haven('convert', 'to-cib', '--config', fixturePath('convert', 'steady-config.yaml'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /<primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2">/);
    const bad = haven('convert', 'to-cib', '--config', tempFile('c.yaml', 'cluster: {name: x}\nnodes: []\n'));
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /configuration refused/);
  });
});
