import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigInvalidError, HavenError } from '../errors.js';
import { EmbeddedStore } from '../store/embedded.js';
import { ConfigManager, withFixedFrom } from './config-manager.js';

const V1 = `# the cluster
cluster:
  name: c
nodes:
  - { name: n1, addresses: { r0: 10.0.0.1 } }
  - { name: n2, addresses: { r0: 10.0.0.2 } }
rings: [{ name: r0 }]
resources:
  - { type: primitive, id: web, agent: process, params: { command: sleep, args: "9" } }
`;
const V2 = V1.replace('args: "9"', 'args: "10"');
const V3_ADD_DB = `${V2}  - { type: primitive, id: db, agent: process, params: { command: sleep, args: "1" } }\n`;

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function fresh(): Promise<{ store: EmbeddedStore; manager: (by?: string) => ConfigManager }> {
  const dir = await mkdtemp(join(tmpdir(), 'hvtest-configs-'));
  dirs.push(dir);
  const store = new EmbeddedStore(dir);
  let t = 1_700_000_000_000;
  return { store, manager: (by = 'controller c1') => new ConfigManager({ store, by, clock: () => ++t }) };
}

const meta = (baseVersion: number, message = 'a change') => ({ baseVersion, by: 'operator alice', message, origin: 'apply' as const });

describe('configuration manager', () => {
  it('records the --config file as version 1 when the store has none, then starts from the newest', async () => {
    const { store, manager } = await fresh();
    const m = manager();
    const first = await m.adopt({ path: '/etc/haven.yaml', text: V1 });
    assert.equal(first.running.version, 1);
    assert.match(first.how, /version 1 from \/etc\/haven\.yaml \(the store had none\)/);
    assert.deepEqual(await store.configVersion(1), { ...first.running.entry, text: V1 });
    assert.equal(first.running.entry.origin, 'file');
    await m.record(m.prepare(V2, 'v2.yaml'), meta(1, 'bump web'));
    // A restart with the original file: the applied version runs, and the log says the file is not used.
    const again = await manager().adopt({ path: '/etc/haven.yaml', text: V1 });
    assert.equal(again.running.version, 2);
    assert.equal(again.running.text, V2);
    assert.match(again.how, /version 2 from the store \(by operator alice at .*: bump web\); \/etc\/haven\.yaml differs from it and is not used/);
    assert.equal(await store.lastConfigVersion(), 2, 'a restart records nothing new');
  });

  it('a stale base is refused with both versions and records nothing', async () => {
    const { store, manager } = await fresh();
    const m = manager();
    await m.adopt({ path: 'f.yaml', text: V1 });
    const mine = m.prepare(V3_ADD_DB, 'mine.yaml');
    await m.record(m.prepare(V2, 'theirs.yaml'), meta(1, 'theirs'));
    await assert.rejects(m.record(mine, meta(1, 'mine')), (err: unknown) => err instanceof HavenError && err.code === 'CONFLICT' && /based on configuration version 1, but version 2 runs now/.test(err.message));
    assert.equal(await store.lastConfigVersion(), 2);
    assert.equal(m.running.text, V2);
  });

  it('two controllers on one store: the second recording of a version is refused by the store', async () => {
    const { store, manager } = await fresh();
    const a = manager('controller c1');
    const b = manager('controller c2');
    await a.adopt({ path: 'f.yaml', text: V1 });
    await b.adopt({ path: 'f.yaml', text: V1 });
    await a.record(a.prepare(V2, 'a.yaml'), meta(1));
    await assert.rejects(b.record(b.prepare(V3_ADD_DB, 'b.yaml'), meta(1)), (err: unknown) => err instanceof HavenError && err.code === 'CONFLICT' && /recorded meanwhile/.test(err.message));
    assert.equal((await store.configVersion(2))?.text, V2);
  });

  it('refuses a bad configuration with every error located in its text, and a fixed field with a rolling-restart hint', async () => {
    const { manager } = await fresh();
    const m = manager();
    await m.adopt({ path: 'f.yaml', text: V1 });
    const bad = V1.replace('agent: process', 'agent: nonsense').replace('name: n2', 'name: n1');
    assert.throws(() => m.prepare(bad, 'bad.yaml'), (err: unknown) => {
      assert.ok(err instanceof ConfigInvalidError);
      assert.ok(err.errors.length >= 1);
      assert.ok(err.errors.every((e) => e.file === 'bad.yaml' && e.line > 1));
      return true;
    });
    const moreNodes = V1.replace('rings:', '  - { name: n3, addresses: { r0: 10.0.0.3 } }\nrings:');
    assert.throws(() => m.prepare(moreNodes, 'n3.yaml'), (err: unknown) => err instanceof HavenError && err.code === 'CONFIG_INVALID' && /nodes \(n3 added\)/.test(err.message) && /rolling restart/.test(err.hint ?? ''));
    assert.equal(m.running.version, 1);
  });

  it('a restart with a file whose fixed fields differ (a rolling restart) records a version: fixed fields from the file, the rest as applied', async () => {
    const { store, manager } = await fresh();
    const m = manager();
    await m.adopt({ path: 'f.yaml', text: V1 });
    await m.record(m.prepare(V3_ADD_DB, 'v2.yaml'), meta(1, 'add db'));
    const newFile = V1.replace('rings:', '  - { name: n3, addresses: { r0: 10.0.0.3 } }\nrings:');
    const r = await manager().adopt({ path: 'f.yaml', text: newFile });
    assert.equal(r.running.version, 3);
    assert.equal(r.running.entry.origin, 'restart');
    assert.match(r.running.entry.message, /nodes \(n3 added\) taken from the file/);
    assert.deepEqual(r.running.config.nodes.map((n) => n.name), ['n1', 'n2', 'n3']);
    assert.deepEqual((r.running.config.resources ?? []).map((x) => x.id), ['web', 'db'], 'the applied resources are kept');
    assert.match(r.running.text, /^# the cluster/, 'comments kept');
    assert.equal(await store.lastConfigVersion(), 3);
  });

  it('withFixedFrom replaces only the fixed fields', () => {
    const stored = `${V3_ADD_DB}constraints: []\n`.replace('name: c\n', 'name: c\n  fencing: false\n');
    const file = V1.replace('name: c\n', 'name: c\n  heartbeat: { interval: 100ms }\n  fencing: true\n').replace('10.0.0.2', '10.0.0.22');
    const merged = withFixedFrom(stored, file);
    assert.match(merged, /heartbeat:\n\s+interval: 100ms/);
    assert.match(merged, /fencing: false/, 'policy stays as applied');
    assert.match(merged, /10\.0\.0\.22/);
    assert.match(merged, /id: db/);
  });

  it('versions of the history are read back; an unknown one is NOT_FOUND', async () => {
    const { manager } = await fresh();
    const m = manager();
    await m.adopt({ path: 'f.yaml', text: V1 });
    await m.record(m.prepare(V2, 'v2.yaml'), meta(1));
    assert.equal((await m.version(1)).text, V1);
    assert.deepEqual((await m.history(10)).map((v) => v.version), [1, 2]);
    await assert.rejects(m.version(7), (err: unknown) => err instanceof HavenError && err.code === 'NOT_FOUND' && /versions 1 to 2/.test(err.hint ?? ''));
  });
});
