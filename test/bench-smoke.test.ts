// The scheduler bench's generator, at a size small enough for every test run: the clusters it
// makes are valid, the same for the same seed, and the two snapshots mean what the bench says
// they mean (steady: nothing to do; cold start: every resource started exactly once). Timing is
// the bench's business (npm run bench:scheduler), not a test's.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { checkStatus } from '../src/config/status.js';
import { validateConfig } from '../src/config/validate.js';
import { plan } from '../src/scheduler/index.js';
import { BENCH_NOW, generateCluster, generateConfig, GROUP_SIZE } from '../bench/scheduler/generate.js';

describe('bench cluster generator', () => {
  const spec = { nodes: 12, resources: 400 } as const;
  const cluster = generateCluster(spec);
  const { config } = cluster;
  const primitives = (config.resources ?? []).flatMap((r) => (r.type === 'group' ? r.members.map((m) => m.id) : [r.id]));

  test('makes a valid config of the asked size, with the constraints it promises', () => {
    assert.deepEqual(validateConfig(config), []);
    assert.equal(config.nodes.length, spec.nodes);
    assert.equal(primitives.length, spec.resources);
    assert.equal(new Set(primitives).size, spec.resources);
    const groups = spec.resources / GROUP_SIZE;
    const kinds = (t: string) => (config.constraints ?? []).filter((c) => c.type === t).length;
    assert.equal(kinds('colocation'), groups / 2);
    assert.equal(kinds('order'), groups / 2);
    assert.ok(kinds('location') >= groups / 10, 'every 10th group prefers a node');
    assert.ok(config.nodes.every((n) => n.attributes?.['zone'] !== undefined && n.attributes['rack'] !== undefined));
  });

  test('is deterministic: the same seed gives the same cluster, another seed another', () => {
    assert.deepEqual(generateConfig({ ...spec, seed: 7 }), generateConfig({ ...spec, seed: 7 }));
    assert.notDeepEqual(generateConfig({ ...spec, seed: 7 }), generateConfig({ ...spec, seed: 8 }));
  });

  test('both snapshots are valid for the config', () => {
    assert.deepEqual(checkStatus(cluster.cold, config), []);
    assert.deepEqual(checkStatus(cluster.steady, config), []);
  });

  test('the steady snapshot plans nothing', () => {
    assert.equal(cluster.steadyActions, 0);
    const p = plan(config, cluster.steady, BENCH_NOW);
    assert.deepEqual(p.actions, []);
    assert.deepEqual(p.edges, []);
  });

  test('the cold start probes every node and starts every resource exactly once, colocated groups together', () => {
    const p = plan(config, cluster.cold, BENCH_NOW);
    const startedOn = new Map<string, string[]>();
    for (const a of p.actions) {
      assert.ok(a.kind !== 'stop' && a.kind !== 'fence', `${a.id}: nothing runs, so nothing should stop or be fenced`);
      if (a.kind === 'start') startedOn.set(a.resource!, [...(startedOn.get(a.resource!) ?? []), a.node!]);
    }
    for (const id of primitives) assert.equal(startedOn.get(id)?.length, 1, `${id} starts ${startedOn.get(id)?.length ?? 0} times`);
    assert.equal(startedOn.size, primitives.length);
    const probed = p.actions.filter((a) => a.kind === 'probe').map((a) => a.node);
    assert.deepEqual(new Set(probed), new Set(config.nodes.map((n) => n.name)));

    const nodeOfGroup = (id: string): string => {
      const g = (config.resources ?? []).find((r) => r.id === id);
      assert.ok(g && g.type === 'group');
      const nodes = new Set(g.members.map((m) => startedOn.get(m.id)![0]!));
      assert.equal(nodes.size, 1, `members of ${id} start on ${[...nodes].join(', ')}`);
      return [...nodes][0]!;
    };
    for (const c of config.constraints ?? []) {
      if (c.type === 'colocation') assert.equal(nodeOfGroup(c.resource), nodeOfGroup(c.with), `${c.id}: ${c.resource} runs with ${c.with}`);
    }
  });
});
