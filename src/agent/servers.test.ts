// POST /v1/servers on the agent's API (no socket: app.request), with a fake load balancer kind:
// the request reaches the copy's resource agent with its own directory; a stale epoch, a kind
// without servers and a bad body are refused and change nothing.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ServerWant } from '../model/lb.js';
import type { OperationContext, ResourceAgent } from '../resources/types.js';
import { Agent } from './agent.js';
import { createAgentApi } from './api.js';
import { memoryLogger, request, sleepSpec, tempDir } from './test-support.js';

describe('POST /v1/servers', () => {
  const calls: { ctx: OperationContext; servers: readonly ServerWant[] }[] = [];
  const balancer: ResourceAgent = {
    kind: 'fake-lb',
    validate: () => Promise.resolve([]),
    run: () => Promise.resolve({ rc: 0, output: '' }),
    setServers: (ctx, servers) => {
      calls.push({ ctx, servers });
      return Promise.resolve({ applied: true, output: `${servers.length} servers`, servers: servers.map((s) => ({ service: s.service, server: s.server, admin: s.state, operational: 'up' as const, sessions: 0 })) });
    },
  };
  const plain: ResourceAgent = { kind: 'plain', validate: () => Promise.resolve([]), run: () => Promise.resolve({ rc: 0, output: '' }) };
  let agent: Agent;
  let dir: { path: string; remove: () => Promise<void> };
  let app: ReturnType<typeof createAgentApi>;

  before(async () => {
    dir = await tempDir();
    agent = new Agent({ node: 'n1', stateDir: dir.path, resourceAgentFor: (k) => (k === 'fake-lb' ? balancer : plain), reportEndpoints: [], log: memoryLogger('n1').log });
    await agent.start();
    app = createAgentApi(agent);
  });
  after(async () => {
    await agent.close();
    await dir.remove();
  });

  const body = (over: Record<string, unknown> = {}): string =>
    JSON.stringify({
      epoch: 3,
      instance: 'lb',
      resource: { primitive: 'lb', agent: 'fake-lb', params: { 'api.bind': '*:80' } },
      servers: [
        { service: 'api', server: 'n1', state: 'ready' },
        { service: 'api', server: 'n2', state: 'maint', shutdown: true, reason: 'n2 is unclean' },
      ],
      timeoutMs: 2000,
      ...over,
    });
  const post = (text: string): Promise<Response> => Promise.resolve(app.request('/v1/servers', { method: 'POST', body: text, headers: { 'content-type': 'application/json' } }));

  it('hands the servers to the copy’s resource agent, with the copy’s own directory, and answers what it saw', async () => {
    const res = await post(body());
    assert.equal(res.status, 200);
    const out = (await res.json()) as { applied: boolean; output: string; servers: { server: string; admin: string }[] };
    assert.equal(out.applied, true);
    assert.deepEqual(out.servers.map((s) => `${s.server}:${s.admin}`), ['n1:ready', 'n2:maint']);
    assert.equal(calls.length, 1);
    assert.match(calls[0]?.ctx.stateDir ?? '', /copies\/copy-lb$/);
    assert.equal(calls[0]?.servers[1]?.shutdown, true);
  });

  it('refuses a stale epoch (409), a kind without servers (400) and a bad body (400), and changes nothing', async () => {
    await agent.submit(request({ operation: 'start', epoch: 5, resource: sleepSpec('other'), instance: 'other' })).catch(() => undefined);
    const before = calls.length;
    const stale = await post(body({ epoch: 4 }));
    assert.equal(stale.status, 409);
    assert.equal(((await stale.json()) as { code: string }).code, 'CONFLICT');
    const notLb = await post(body({ epoch: 5, resource: { primitive: 'web', agent: 'plain', params: {} } }));
    assert.equal(notLb.status, 400);
    assert.match(((await notLb.json()) as { message: string }).message, /has no backend servers/);
    const bad = await post(body({ epoch: 5, servers: [{ service: 'api', server: 'n1', state: 'off' }] }));
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { code: string }).code, 'USAGE');
    assert.equal((await post('{')).status, 400);
    assert.equal(calls.length, before);
  });
});
