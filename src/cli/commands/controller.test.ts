// `haven controller --store …`: which store a controller opens, and what is refused before anything starts.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Config } from '../../model/config.js';
import { DEFAULT_LEADER_LEASE_S, openStore } from './controller.js';

const config = { cluster: { name: 'prod' }, nodes: [{ name: 'n1', addresses: { r0: '10.0.0.2' } }] } as unknown as Config;

describe('haven controller --store', () => {
  it('embedded by default (in --state-dir); etcd with every member and the leader lease', async () => {
    const e = openStore({ store: 'embedded', stateDir: '/tmp/x' }, config);
    assert.equal(e.kind, 'embedded');
    assert.equal(e.describe, 'embedded:/tmp/x');
    const d = openStore({ store: 'etcd:http://10.0.0.1:2379,http://10.0.0.2:2379/', stateDir: '/tmp/x' }, config);
    assert.equal(d.kind, 'etcd');
    assert.equal(d.describe, `etcd:http://10.0.0.1:2379,http://10.0.0.2:2379 (leader lease ${DEFAULT_LEADER_LEASE_S} s)`);
    await d.store.close();
    const two = openStore({ store: 'etcd:http://10.0.0.1:2379', leaderLease: '2', stateDir: '/tmp/x' }, config);
    assert.match(two.describe, /leader lease 2 s/);
    await two.store.close();
  });

  it('refuses a store it does not know, a bad URL, an empty entry, a bad lease, a lease without etcd', () => {
    for (const store of ['ftp://x', 'etcd:', 'etcd:http://a:1,,http://b:2', 'etcd:10.0.0.1:2379', 'etcd:http://a:1/path']) {
      assert.throws(() => openStore({ store, stateDir: '/tmp/x' }, config), { code: 'USAGE' }, store);
    }
    for (const leaderLease of ['0', '1.5', '61', 'soon']) {
      assert.throws(() => openStore({ store: 'etcd:http://a:1', leaderLease, stateDir: '/tmp/x' }, config), { code: 'USAGE' }, leaderLease);
    }
    assert.throws(() => openStore({ store: 'embedded', leaderLease: '1', stateDir: '/tmp/x' }, config), { code: 'USAGE', message: /etcd/ });
  });
});
