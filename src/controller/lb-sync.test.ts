// lb-sync: the servers a load balancer's params carry, the wanted state of every server (pure),
// and the pushes to the load balancer copies, with a fake agent client: at once on a change,
// only what differs, retried after a failure, drained before a backend copy's stop.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { configSchema, type Config } from '../model/config.js';
import type { ServersRequest, ServersResult } from '../model/lb.js';
import type { NodeReport } from '../detector/index.js';
import { balancersOf, expandParams, LbSync, wantedServers, type LbView } from './lb-sync.js';

const INPUT = {
  cluster: { name: 'c', heartbeat: { interval: '50ms', ringTimeout: '300ms' } },
  rings: [{ name: 'ring0' }, { name: 'ring1' }],
  nodes: ['h1', 'h2', 'h3'].map((n, i) => ({ name: n, addresses: { ring0: `10.0.0.${i + 1}`, ring1: `10.0.1.${i + 1}` } })),
  resources: [
    { type: 'clone', id: 'api', of: { type: 'primitive', id: 'api-web', agent: 'process', params: { command: 'x' } } },
    {
      type: 'group',
      id: 'lb',
      members: [
        { type: 'primitive', id: 'lb-vip', agent: 'vip', params: { ip: '10.0.0.100' } },
        { type: 'primitive', id: 'lb-haproxy', agent: 'haproxy', params: { 'api.bind': '10.0.0.100:80', 'api.backend': 'api', 'api.port': 8080, drainTimeout: '300ms' } },
      ],
    },
  ],
};
const CONFIG: Config = configSchema.parse(INPUT);

type NodeView = { state: 'online' | 'unclean' | 'fenced' | 'offline' | 'unknown'; standby: boolean };

function view(nodes: Record<string, Partial<NodeView>>, copies: Record<string, Record<string, string>>): LbView {
  return {
    nodes: new Map(['h1', 'h2', 'h3'].map((n) => [n, { state: 'online', standby: false, ...nodes[n] } as NodeView])),
    copies: new Map(Object.entries(copies).map(([k, per]) => [k, new Map(Object.entries(per).map(([n, state]) => [n, { state: state as 'started' }]))])),
  };
}

const ALL_UP = { 'api-web': { h1: 'started', h2: 'started', h3: 'started' }, 'lb-haproxy': { h1: 'started' } };

describe('lb-sync, pure parts', () => {
  it("fills a service's servers in from the cluster's nodes and the service port; other params unchanged", () => {
    const prim = CONFIG.resources![1]!.type === 'group' ? CONFIG.resources![1]!.members[1]! : undefined;
    assert.ok(prim);
    assert.equal(expandParams(CONFIG, prim)['api.servers'], 'h1=10.0.0.1:8080 h2=10.0.0.2:8080 h3=10.0.0.3:8080');
    const onRing1 = { ...prim, params: { ...prim.params, ring: 'ring1' } };
    assert.equal(expandParams(CONFIG, onRing1)['api.servers'], 'h1=10.0.1.1:8080 h2=10.0.1.2:8080 h3=10.0.1.3:8080');
    const written = { ...prim, params: { ...prim.params, 'api.servers': 'x=10.9.9.9:1' } };
    assert.equal(expandParams(CONFIG, written)['api.servers'], 'x=10.9.9.9:1', "the operator's list is kept");
    const { balancers, problems } = balancersOf(CONFIG);
    assert.deepEqual(problems, []);
    assert.deepEqual(balancers[0]?.services, [{ name: 'api', balance: 'roundrobin', backend: ['api-web'], servers: ['h1', 'h2', 'h3'] }]);
    assert.equal(balancers[0]?.suspectAfterMs, 150, 'half the ring timeout');
  });

  it('reports a backend that names no resource, without holding anything else back', () => {
    const bad = configSchema.parse({ ...INPUT, resources: [{ type: 'primitive', id: 'lb', agent: 'haproxy', params: { 'api.bind': '*:80', 'api.backend': 'nope' } }] });
    const { balancers, problems } = balancersOf(bad);
    assert.deepEqual(balancers, []);
    assert.match(problems.join(), /api\.backend names "nope", which is not a configured resource/);
  });

  it('wants a server ready when its node is online and runs the backend; out, draining or closed otherwise', () => {
    const b = balancersOf(CONFIG).balancers[0]!;
    const state = (v: LbView, silent: string[] = []): string[] => wantedServers(b, v, new Set(silent)).map((w) => `${w.server}:${w.state}${w.shutdown === true ? '!' : ''}`);
    assert.deepEqual(state(view({}, ALL_UP)), ['h1:ready', 'h2:ready', 'h3:ready']);
    assert.deepEqual(state(view({ h2: { state: 'unclean' } }, ALL_UP)), ['h1:ready', 'h2:maint!', 'h3:ready'], 'a lost node: out, its sessions closed');
    assert.deepEqual(state(view({}, ALL_UP), ['h3']), ['h1:ready', 'h2:ready', 'h3:maint'], 'silent on every ring: out, sessions kept');
    assert.deepEqual(state(view({}, ALL_UP), ['h1', 'h2', 'h3']), ['h1:ready', 'h2:ready', 'h3:ready'], 'silence alone never empties a service');
    assert.deepEqual(state(view({ h1: { state: 'unclean' } }, ALL_UP), ['h2', 'h3']), ['h1:maint!', 'h2:ready', 'h3:ready'], 'a lost node stays out');
    assert.deepEqual(state(view({}, { 'api-web': { h1: 'started', h2: 'failed' } })), ['h1:ready', 'h2:maint!', 'h3:maint'], 'a failed copy: out and closed; no copy: out');
    assert.deepEqual(state(view({ h1: { standby: true } }, ALL_UP)), ['h1:drain', 'h2:ready', 'h3:ready'], 'standby: drain');
    assert.deepEqual(state(view({}, { 'api-web': { h1: 'started', h2: 'stopped', h3: 'started' }, 'api-web:1': { h2: 'started' } })), ['h1:ready', 'h2:ready', 'h3:ready'], 'any copy of the backend on the node counts');
  });
});

/** A fake agent client recording every push, answering like an HAProxy with no sessions. */
class FakeAgents {
  readonly calls: { node: string; req: ServersRequest }[] = [];
  fail = false;
  sessions = 0;
  async servers(node: string, req: ServersRequest): Promise<ServersResult> {
    this.calls.push({ node, req });
    await new Promise((r) => setTimeout(r, 1));
    if (this.fail) throw new Error('agent unreachable');
    return { applied: true, output: 'ok', servers: req.servers.map((w) => ({ service: w.service, server: w.server, admin: w.state, operational: 'up', sessions: w.state === 'ready' || w.state === 'drain' ? this.sessions : 0 })) };
  }
  last(): string {
    const c = this.calls.at(-1);
    return c === undefined ? '' : `${c.node} ${c.req.instance}: ${c.req.servers.map((w) => `${w.server}:${w.state}`).join(' ')}`;
  }
}

function harness(v: { current: LbView }, reports?: Map<string, NodeReport>) {
  const agents = new FakeAgents();
  const events: string[] = [];
  let clock = 1000;
  const lb = new LbSync({
    config: CONFIG,
    agents,
    log: pino({ level: 'silent' }),
    epoch: () => 7,
    active: () => true,
    view: () => v.current,
    event: (_k, m) => events.push(m),
    monotonic: () => clock,
    ...(reports === undefined ? {} : { report: (n: string) => reports.get(n) }),
  });
  return { agents, events, lb, tick: (ms: number) => (clock += ms) };
}

const settle = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('LbSync', () => {
  it('pushes the wanted states to every running load balancer copy, once per change, with the epoch', async () => {
    const v = { current: view({}, ALL_UP) };
    const { agents, events, lb } = harness(v);
    lb.poke();
    await settle();
    assert.equal(agents.calls.length, 1);
    assert.equal(agents.last(), 'h1 lb-haproxy: h1:ready h2:ready h3:ready');
    assert.equal(agents.calls[0]?.req.epoch, 7);
    assert.equal(agents.calls[0]?.req.resource.params['api.servers'], 'h1=10.0.0.1:8080 h2=10.0.0.2:8080 h3=10.0.0.3:8080');
    lb.poke();
    await settle();
    assert.equal(agents.calls.length, 1, 'nothing changed: nothing sent');
    v.current = view({ h3: { state: 'unclean' } }, ALL_UP);
    lb.poke();
    await settle();
    assert.equal(agents.last(), 'h1 lb-haproxy: h1:ready h2:ready h3:maint');
    assert.equal(agents.calls.at(-1)?.req.servers[2]?.shutdown, true);
    assert.deepEqual(events, ['lb-haproxy: api server h3 out of rotation (h3 is unclean)']);
    lb.stop();
  });

  it('retries a push that failed', async () => {
    const v = { current: view({}, ALL_UP) };
    const { agents, lb } = harness(v);
    agents.fail = true;
    lb.poke();
    await settle(50);
    agents.fail = false;
    await settle(300);
    assert.ok(agents.calls.length >= 2, `retried (${agents.calls.length} calls)`);
    assert.equal(agents.last(), 'h1 lb-haproxy: h1:ready h2:ready h3:ready');
    lb.stop();
  });

  it('takes a node silent on every ring out before it is declared lost, and back when heard', async () => {
    const reports = new Map<string, NodeReport>();
    const heardAt = (n: string, at: number): NodeReport => ({ node: n, verdict: { kind: 'alive', node: n, since: 0, reason: '', up: ['ring0', 'ring1'] }, incarnation: 1, epoch: 7, rings: [{ lastHeard: at }, { lastHeard: at - 10 }] }) as unknown as NodeReport;
    for (const n of ['h1', 'h2', 'h3']) reports.set(n, heardAt(n, 1000));
    const v = { current: view({}, ALL_UP) };
    const { agents, lb, tick } = harness(v, reports);
    lb.poke();
    await settle();
    tick(100);
    reports.set('h1', heardAt('h1', 1100));
    reports.set('h3', heardAt('h3', 1100));
    await settle(40);
    assert.equal(agents.last(), 'h1 lb-haproxy: h1:ready h2:ready h3:ready', '100 ms of silence is not enough');
    tick(60); // h2 last heard 160 ms ago: past half the ring timeout
    reports.set('h1', heardAt('h1', 1160));
    reports.set('h3', heardAt('h3', 1160));
    await settle(40);
    assert.equal(agents.last(), 'h1 lb-haproxy: h1:ready h2:maint h3:ready');
    assert.notEqual(agents.calls.at(-1)?.req.servers[1]?.shutdown, true, 'sessions kept: it may be heard again');
    reports.set('h2', heardAt('h2', 1160));
    await settle(40);
    assert.equal(agents.last(), 'h1 lb-haproxy: h1:ready h2:ready h3:ready');
    lb.stop();
  });

  it('drains a backend copy before its stop, waits for its sessions, then takes it out', async () => {
    const v = { current: view({}, ALL_UP) };
    const { agents, lb } = harness(v);
    lb.poke();
    await settle();
    agents.sessions = 2;
    const began = Date.now();
    const done = lb.before('stop', 'api-web', 'h2', new AbortController().signal);
    await settle(60);
    assert.equal(agents.last(), 'h1 lb-haproxy: h1:ready h2:drain h3:ready', 'draining first');
    agents.sessions = 0;
    await done;
    assert.ok(Date.now() - began < 1000, 'returns once the sessions are over, before drainTimeout');
    assert.equal(agents.last(), 'h1 lb-haproxy: h1:ready h2:maint h3:ready', 'out before the stop is sent');
    // The stop happened: the copy is gone, the override with it.
    v.current = view({}, { 'api-web': { h1: 'started', h3: 'started' }, 'lb-haproxy': { h1: 'started' } });
    lb.poke();
    await settle();
    v.current = view({}, ALL_UP);
    lb.poke();
    await settle();
    assert.equal(agents.last(), 'h1 lb-haproxy: h1:ready h2:ready h3:ready', 'started again: back in rotation');
    lb.stop();
  });

  it('gives up waiting for sessions after drainTimeout, and gives a starting load balancer its states first', async () => {
    const v = { current: view({}, ALL_UP) };
    const { agents, lb } = harness(v);
    lb.poke();
    await settle();
    agents.sessions = 5;
    const began = Date.now();
    await lb.before('stop', 'api-web', 'h3', new AbortController().signal);
    const took = Date.now() - began;
    assert.ok(took >= 250 && took < 2000, `bounded by drainTimeout 300 ms (took ${took} ms)`);
    assert.equal(agents.last(), 'h1 lb-haproxy: h1:ready h2:ready h3:maint');
    const before = agents.calls.length;
    await lb.before('start', 'lb-haproxy', 'h2', new AbortController().signal);
    assert.equal(agents.calls.length, before + 1);
    assert.match(agents.last(), /^h2 lb-haproxy: /);
    await lb.before('stop', 'lb-vip', 'h1', new AbortController().signal);
    assert.equal(agents.calls.length, before + 1, 'not a backend: nothing to drain');
    lb.stop();
  });
});
