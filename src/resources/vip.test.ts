// The vip agent: params, and start/monitor/stop in a throwaway network namespace, with the
// gratuitous ARP going on after start has answered.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { canMakeNetns, createTestNetns, type TestNetns } from './netns.test-support.js';
import { inSubnet, parseVipParams, vipAgent } from './vip.js';

describe('vip params', () => {
  it('wants an IPv4 ip, a prefix 1–32, an arpCount 0–100, and no unknown names', () => {
    const r = parseVipParams({ ip: '10.0.0.300', cidrNetmask: 33, arpCount: -1, nic: 'eth0' });
    assert.ok(Array.isArray(r));
    const text = r.join('\n');
    assert.match(text, /ip: "10\.0\.0\.300" is not an IPv4 address/);
    assert.match(text, /cidrNetmask: must be a whole number from 1 to 32/);
    assert.match(text, /arpCount: must be a whole number from 0 to 100/);
    assert.match(text, /unknown param "nic"/);
    assert.deepEqual(parseVipParams({}), ['ip: required (an IPv4 address such as 192.168.10.100)']);
    assert.deepEqual(parseVipParams({ ip: '10.1.2.3', cidrNetmask: '16' }), { ip: '10.1.2.3', prefix: 16, interface: undefined, arpCount: 3 });
  });

  it('knows which subnet holds an address', () => {
    assert.equal(inSubnet('10.1.2.200', '10.1.2.1', 24), true);
    assert.equal(inSubnet('10.1.3.1', '10.1.2.1', 24), false);
    assert.equal(inSubnet('10.1.3.1', '10.1.2.1', 16), true);
    assert.equal(inSubnet('192.168.0.1', '10.0.0.1', 1), false);
  });

  it('an operation with bad params answers rc 6 and touches nothing', async () => {
    const r = await vipAgent.run('start', { instance: 'v', primitive: 'v', params: { ip: 'nope' }, timeoutMs: 1000, intervalMs: 0, signal: AbortSignal.timeout(1000), stateDir: '/nonexistent' });
    assert.equal(r.rc, 6);
  });
});

describe('vip agent in a network namespace', { skip: !canMakeNetns() && 'needs root and ip netns' }, () => {
  let ns: TestNetns;
  before(() => {
    ns = createTestNetns();
  });
  after(() => ns.close());

  const has = (ip: string): boolean => ns.ip('-4', 'addr', 'show', 'dev', 'hv0').includes(` ${ip}/24 `);

  it('probe 7, start adds the address on the interface whose subnet holds it and answers at once, monitor 0, stop removes it, monitor 7', async () => {
    const vip = `${ns.subnet}.100`;
    const params = { ip: vip };
    assert.equal((await ns.run('vip', 'monitor', params)).rc, 7);
    const tx0 = ns.txPackets('hv0');
    const s = await ns.run('vip', 'start', params);
    assert.equal(s.rc, 0, s.output);
    assert.match(s.output, new RegExp(`${vip}/24 added to hv0; 3 gratuitous ARP`));
    assert.ok(s.ms < 1000, `start took ${s.ms} ms: it must not wait for the ARP announcements`);
    console.log(`# vip start took ${s.ms.toFixed(1)} ms`);
    assert.ok(has(vip));
    // The first announcement leaves at once; the other two follow, 1 s apart, after start answered.
    let tx = tx0;
    for (let i = 0; i < 50 && tx === tx0; i++) {
      await sleep(20);
      tx = ns.txPackets('hv0');
    }
    assert.equal(tx, tx0 + 1, 'one gratuitous ARP right after start');
    await sleep(2500);
    assert.equal(ns.txPackets('hv0'), tx0 + 3, 'three announcements in all');

    const again = await ns.run('vip', 'start', params);
    assert.equal(again.rc, 0);
    assert.match(again.output, /already on hv0/);
    assert.equal((await ns.run('vip', 'monitor', params)).rc, 0);
    assert.equal((await ns.run('vip', 'stop', params)).rc, 0);
    assert.equal(has(vip), false);
    assert.equal((await ns.run('vip', 'monitor', params)).rc, 7);
    assert.equal((await ns.run('vip', 'stop', params)).rc, 0);
  });

  it('an explicit interface and prefix are used; a missing interface is rc 5, no matching subnet rc 6', async () => {
    const params = { ip: '10.9.9.9', cidrNetmask: 32, interface: 'hv1', arpCount: 0 };
    const s = await ns.run('vip', 'start', params);
    assert.equal(s.rc, 0, s.output);
    assert.match(ns.ip('-4', 'addr', 'show', 'dev', 'hv1'), / 10\.9\.9\.9\/32 /);
    assert.equal((await ns.run('vip', 'monitor', params)).rc, 0);
    assert.equal((await ns.run('vip', 'monitor', { ...params, interface: 'hv0' })).rc, 7);
    assert.equal((await ns.run('vip', 'stop', params)).rc, 0);
    assert.equal((await ns.run('vip', 'start', { ip: `${ns.subnet}.101`, interface: 'hv9' })).rc, 5);
    const none = await ns.run('vip', 'start', { ip: '10.8.8.8' });
    assert.equal(none.rc, 6);
    assert.match(none.output, /no interface has a subnet that holds 10\.8\.8\.8/);
  });
});
