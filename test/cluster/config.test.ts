// Configuration changes through the API on a real cluster (loopback, the real binaries):
// `haven apply` adds a resource (it starts), changes a constraint (it moves); a controller
// restart keeps the applied version and restarts nothing; a stale apply is refused (409) and
// changes nothing; a fixed field is refused; `haven rollback` returns to an earlier version
// (the resource stops); the history tells who, when, why. With three controllers on etcd: a
// follower shows the applied version, and the one that takes over after a kill -9 runs it.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { EtcdCluster, haveEtcd } from '../store/etcd-harness.js';
import { LoopbackCluster } from './harness.js';

const BIN = fileURLToPath(new URL('../../../bin/haven.js', import.meta.url));
const where = LoopbackCluster.where;
const sleeper = (id: string, seconds: number) => ({
  type: 'primitive',
  id,
  agent: 'process',
  params: { command: 'sleep', args: String(seconds) },
  operations: [{ name: 'monitor', interval: '1s', timeout: '5s' }],
});

function haven(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('configuration changes through the API', { timeout: 240_000 }, () => {
  let c: LoopbackCluster;
  let url: string;
  const file = (name: string, edit: (doc: Record<string, unknown>) => void): string => {
    const doc = parse(readFileSync(c.configPath, 'utf8')) as Record<string, unknown>;
    edit(doc);
    const path = join(c.dir, name);
    writeFileSync(path, `# ${name}\n${stringify(doc)}`);
    return path;
  };
  const withDb = (score: number) => (doc: Record<string, unknown>) => {
    (doc['resources'] as unknown[]).push(sleeper('db', 200_002));
    doc['constraints'] = [{ type: 'location', id: 'db-prefers', resource: 'db', node: score > 0 ? 'n1' : 'n2', score: 1000 }];
  };

  before(async () => {
    // A long lease: the restart below is about the configuration, and this machine may be slow to start a process.
    c = new LoopbackCluster({ nodes: 3, resources: [sleeper('web', 200_001)], cluster: { quorum: { lease: '15s' } } });
    await c.start();
    url = c.controllerUrl('c1');
  });
  after(async () => {
    await c?.close();
  });

  it('starts at version 1, the --config file, and says so', async () => {
    const s = await c.status();
    assert.equal(s.config?.version, 1);
    assert.equal(s.config?.entry.origin, 'file');
    assert.match(s.config?.how ?? '', /version 1 from .*cluster\.yaml \(the store had none\)/);
    const status = await haven(['status', '--controller', url]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /config: configuration version 1 from /);
  });

  it('a bad file is refused with located errors before anything is sent; nothing changes', async () => {
    const bad = file('bad.yaml', (doc) => (doc['resources'] as unknown[]).push({ type: 'primitive', id: 'web', agent: 'process' }));
    const r = await haven(['apply', bad, '--yes', '--controller', url]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /bad\.yaml:\d+:\d+: .*web/);
    assert.equal((await c.status()).config?.version, 1);
  });

  it('haven apply adds a resource: the diff and the plan are shown, the resource starts', async () => {
    const v2 = file('v2.yaml', withDb(1));
    const dry = await haven(['apply', v2, '--dry-run', '--controller', url]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /resources:\n\s+\+ db \(primitive\) \(added\)/);
    assert.match(dry.stdout, /constraints:\n\s+\+ db-prefers \(location\) \(added\)/);
    assert.match(dry.stdout, /Start\s+db\s+\( n1 \)/);
    assert.equal((await c.status()).config?.version, 1, 'a dry run changes nothing');
    const unconfirmed = await haven(['apply', v2, '--controller', url]);
    assert.equal(unconfirmed.code, 2, 'not confirmed without a terminal or --yes');
    assert.match(unconfirmed.stderr, /--yes/);

    const r = await haven(['apply', v2, '--yes', '-m', 'add db', '--controller', url]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /applied: configuration version 2 \(replaces 1\): add db/);
    const s = await c.waitFor('db running on n1', (x) => where(x, 'db').join() === 'n1' && x.plan === null);
    assert.equal(s.config?.version, 2);
    assert.ok(c.pidOf('n1', 'db'), 'db has a live process on n1');
    const events = await c.events();
    assert.ok(events.some((e) => /configuration version 2 applied by operator .*: add db; resource db added, constraint db-prefers added/.test(e.message)), 'the event says who, why and what');
  });

  it('haven apply changes a constraint: the resource moves', async () => {
    const webPid = c.pidOf(where(await c.status(), 'web')[0]!, 'web');
    const r = await haven(['apply', file('v3.yaml', withDb(-1)), '--yes', '-m', 'db to n2', '--controller', url]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /~ db-prefers \(location\) \(changed\)\n(.*\n)*?.*- node: n1\n.*\+ node: n2/);
    const s = await c.waitFor('db moved to n2', (x) => where(x, 'db').join() === 'n2' && x.plan === null);
    assert.equal(s.config?.version, 3);
    assert.equal(c.pidOf(where(s, 'web')[0]!, 'web'), webPid, 'web was left alone');
  });

  it('a controller restart keeps the applied version and restarts nothing', async () => {
    const before = await c.waitFor('idle', (x) => x.plan === null);
    const dbPid = c.pidOf('n2', 'db');
    await c.stopController();
    c.startController(); // with the original file (version 1's text)
    const s = await c.waitFor('the controller back and idle', (x) => x.epoch > before.epoch && x.phase === 'running' && x.plan === null && x.nodes.every((n) => n.probed));
    assert.equal(s.config?.version, 3);
    assert.match(s.config?.how ?? '', /version 3 from the store \(by operator .*: db to n2\); .*cluster\.yaml differs from it and is not used/);
    assert.deepEqual(where(s, 'db'), ['n2']);
    assert.equal(c.pidOf('n2', 'db'), dbPid, 'the same db process');
  });

  it('a stale apply is refused with 409 and both versions; a fixed field is refused naming it; nothing changes', async () => {
    const text = readFileSync(file('v-stale.yaml', (doc) => (doc['resources'] as unknown[]).push(sleeper('cache', 9))), 'utf8');
    const stale = await c.post('/v1/config', { config: text, baseVersion: 2, message: 'based on an old version' });
    assert.equal(stale.status, 409);
    assert.match(JSON.stringify(stale.body), /based on configuration version 2, but version 3 runs now/);
    assert.deepEqual([(stale.body as { baseVersion: number }).baseVersion, (stale.body as { runningVersion: number }).runningVersion], [2, 3]);
    const moreNodes = file('v-nodes.yaml', (doc) => {
      withDb(-1)(doc);
      (doc['nodes'] as unknown[]).push({ name: 'n9', addresses: { r0: '127.100.0.9', r1: '127.101.0.9' } });
    });
    const fixed = await haven(['apply', moreNodes, '--yes', '--controller', url]);
    assert.equal(fixed.code, 1, fixed.stderr);
    assert.match(fixed.stderr, /cannot change while the cluster runs: nodes \(n9 added\).*rolling restart/);
    const s = await c.status();
    assert.equal(s.config?.version, 3);
    assert.equal(where(s, 'cache').length, 0);
  });

  it('haven rollback returns to an earlier version as a new one: the resource stops', async () => {
    const dbPid = c.pidOf('n2', 'db');
    assert.ok(dbPid);
    const r = await haven(['rollback', '1', '--yes', '-m', 'db was a mistake', '--controller', url]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /- db \(primitive\) \(removed\)/);
    assert.match(r.stdout, /Stop\s+db\s+\( n2 \)/);
    assert.match(r.stdout, /applied: configuration version 4 \(replaces 3\): db was a mistake/);
    const s = await c.waitFor('db stopped everywhere', (x) => where(x, 'db').length === 0 && x.plan === null && x.config?.version === 4);
    assert.deepEqual(where(s, 'web').length, 1);
    assert.equal(c.pidOf('n2', 'db'), undefined, 'the db process is gone');

    const history = await haven(['config', 'history', '--controller', url]);
    assert.equal(history.code, 0, history.stderr);
    const lines = history.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 4);
    assert.match(lines[0]!, /^\s+1 .* file\s+controller c1\s+first start with --config/);
    assert.match(lines[1]!, /^\s+2 .* apply\s+operator .*\(replaces 1\)\s+add db/);
    assert.match(lines[3]!, /^\s+4 .* rollback to 1\s+operator .*\(replaces 3\)\s+db was a mistake\s+\[running\]$/);
    const show = await haven(['config', 'show', '2', '--controller', url]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /^# v2\.yaml\n/, 'the text as applied, comments and all');
    assert.equal((await haven(['config', 'show', '9', '--controller', url])).code, 3, 'an unknown version is NOT_FOUND');
    const again = await haven(['rollback', '4', '--yes', '--controller', url]);
    assert.equal(again.code, 2, 'the running version is no rollback');
  });
});

describe('configuration changes with three controllers on etcd', { skip: haveEtcd ? false : 'Debian etcd-server is not installed (/usr/bin/etcd)', timeout: 240_000 }, () => {
  let etcd: EtcdCluster;
  let c: LoopbackCluster;
  before(async () => {
    etcd = await EtcdCluster.start(3, { heartbeatMs: 50, electionMs: 500 });
    c = new LoopbackCluster({
      nodes: 3,
      controllers: 3,
      etcd: { endpoints: etcd.endpoints },
      cluster: { name: `cfg-${process.pid}-${Math.floor(Math.random() * 1e6)}`, quorum: { lease: '15s' } },
      resources: [sleeper('web', 200_011)],
    });
    await c.start();
  });
  after(async () => {
    await c?.close();
    await etcd?.stop();
  });

  it('an apply through any controller reaches the leader; followers show it; the next leader runs it and restarts nothing', async () => {
    const first = await c.waitForLeader('steady', (s) => s.plan === null && where(s, 'web').length === 1);
    assert.equal(first.status.config?.version, 1);
    const path = join(c.dir, 'v2.yaml');
    const doc = parse(readFileSync(c.configPath, 'utf8')) as Record<string, unknown>;
    (doc['resources'] as unknown[]).push(sleeper('db', 200_012));
    writeFileSync(path, stringify(doc));
    const every = c.controllerNames.map((n) => c.controllerUrl(n)).join(',');
    const r = await haven(['apply', path, '--yes', '-m', 'add db', '--controller', every]);
    assert.equal(r.code, 0, r.stderr);
    const applied = await c.waitForLeader('db running', (s) => where(s, 'db').length === 1 && s.plan === null && s.config?.version === 2);
    const running = { web: c.pidOf(where(applied.status, 'web')[0]!, 'web'), db: c.pidOf(where(applied.status, 'db')[0]!, 'db') };
    for (const name of c.controllerNames.filter((n) => n !== applied.name)) {
      await c.waitFor(`${name} shows version 2`, (s) => s.role === 'follower' && s.config?.version === 2 && s.resources.some((x) => x.id === 'db'), 10_000, name);
    }
    await c.stopController('SIGKILL', applied.name);
    const next = await c.waitForLeader('a new leader, idle', (s) => s.name !== applied.name && s.phase === 'running' && s.nodes.every((n) => n.probed) && s.plan === null, 20_000);
    assert.equal(next.status.config?.version, 2);
    assert.match(next.status.config?.how ?? '', /version 2 from the store \(by operator .*: add db\)/);
    assert.equal(c.pidOf(where(next.status, 'db')[0]!, 'db'), running.db, 'db was not restarted');
    assert.equal(c.pidOf(where(next.status, 'web')[0]!, 'web'), running.web, 'web was not restarted');
    const history = await haven(['config', 'history', '--json', '--controller', every]);
    assert.equal(history.code, 0, history.stderr);
    assert.deepEqual((JSON.parse(history.stdout) as { versions: { version: number; origin: string }[] }).versions.map((v) => `${v.version} ${v.origin}`), ['1 file', '2 apply']);
  });
});
