// The haproxy resource agent and its runtime API client against a real HAProxy (Debian's) on
// loopback, with three small HTTP servers that answer with their names: balancing modes, servers
// taken out and put back through the runtime API, reloads under load with no failed request,
// states kept for a start, a dead server costing a retry, bad params refused.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ServerWant } from '../model/lb.js';
import { OCF_RC } from '../model/wire.js';
import { haproxyAgent, haproxyPaths, showProc } from './haproxy.js';
import { parseServersState, parseShowProc, runtimeCommand, showServers } from './haproxy-runtime.js';
import type { OperationContext } from './types.js';

const haveHaproxy = spawnSync('haproxy', ['-v']).status === 0;
const NAMES = ['h1', 'h2', 'h3'] as const;

async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** One GET through the frontend: the name of the server that answered, or the error. */
function get(port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve(res.statusCode === 200 ? body.trim() : `http ${res.statusCode}`));
    });
    req.setTimeout(2000, () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
    req.end();
  });
}

async function gets(port: number, n: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const who = await get(port);
    out[who] = (out[who] ?? 0) + 1;
  }
  return out;
}

describe('haproxy agent on a real HAProxy', { skip: haveHaproxy ? false : 'haproxy is not installed (apt-get install haproxy)', timeout: 120_000 }, () => {
  const servers: Server[] = [];
  const ports: number[] = [];
  const dirs: string[] = [];
  const contexts: OperationContext[] = [];
  let serverList = '';

  before(async () => {
    for (const name of NAMES) {
      const srv = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
        res.end(`${name}\n`);
      });
      await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
      servers.push(srv);
      ports.push((srv.address() as AddressInfo).port);
    }
    serverList = NAMES.map((n, i) => `${n}=127.0.0.1:${ports[i]}`).join(' ');
  });

  after(async () => {
    for (const ctx of contexts) await haproxyAgent.run('stop', { ...ctx, timeoutMs: 10_000 });
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A copy with its own directory and frontend port; stopped by after(). */
  async function copy(params: Record<string, string | number | boolean>): Promise<{ ctx: (p?: Record<string, string | number | boolean>) => OperationContext; port: number; dir: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'hvtest-haproxy-'));
    dirs.push(dir);
    const port = await freePort();
    const base = { 'api.bind': `127.0.0.1:${port}`, 'api.servers': serverList, 'api.mode': 'http', ...params };
    const ctx = (p: Record<string, string | number | boolean> = {}): OperationContext => ({
      instance: 'lb',
      primitive: 'lb',
      params: { ...base, ...p },
      timeoutMs: 10_000,
      intervalMs: 0,
      signal: new AbortController().signal,
      stateDir: dir,
    });
    contexts.push(ctx());
    return { ctx, port, dir };
  }

  const wants = (states: Partial<Record<(typeof NAMES)[number], ServerWant['state']>>): ServerWant[] => NAMES.map((n) => ({ service: 'api', server: n, state: states[n] ?? 'ready' }));

  it('starts HAProxy balancing round robin over the servers, seen through its runtime API', async () => {
    const { ctx, port, dir } = await copy({});
    const started = await haproxyAgent.run('start', ctx());
    assert.equal(started.rc, OCF_RC.SUCCESS, started.output);
    assert.deepEqual(await gets(port, 9), { h1: 3, h2: 3, h3: 3 });
    assert.equal((await haproxyAgent.run('monitor', ctx())).rc, OCF_RC.SUCCESS);
    const seen = await showServers(haproxyPaths(dir).stats);
    assert.deepEqual(
      seen.map((s) => [s.backend, s.server, s.admin, s.port]),
      NAMES.map((n, i) => ['be_api', n, 'ready', ports[i]]),
    );
    assert.equal((await haproxyAgent.run('start', ctx())).output.startsWith('already running'), true, 'a second start changes nothing');
  });

  it('takes a server out at once (maint), drains one, and puts them back (ready)', async () => {
    const { ctx, port } = await copy({});
    assert.equal((await haproxyAgent.run('start', ctx())).rc, 0);
    const out = await haproxyAgent.setServers!(ctx(), wants({ h2: 'maint', h3: 'drain' }));
    assert.equal(out.applied, true);
    assert.match(out.output, /api\/h2 ready → maint, api\/h3 ready → drain/);
    assert.deepEqual(
      out.servers.map((s) => `${s.server}:${s.admin}`),
      ['h1:ready', 'h2:maint', 'h3:drain'],
    );
    assert.deepEqual(await gets(port, 12), { h1: 12 }, 'no new request reaches a server out or draining');
    const back = await haproxyAgent.setServers!(ctx(), wants({}));
    assert.deepEqual(
      back.servers.map((s) => s.admin),
      ['ready', 'ready', 'ready'],
    );
    assert.deepEqual(await gets(port, 9), { h1: 3, h2: 3, h3: 3 }, 'traffic returns at once');
    const again = await haproxyAgent.setServers!(ctx(), wants({}));
    assert.equal(again.output, 'no change');
  });

  it('reloads with a new configuration under load without one failed request, keeping its master', async () => {
    const { ctx, port, dir } = await copy({});
    assert.equal((await haproxyAgent.run('start', ctx())).rc, 0);
    await haproxyAgent.setServers!(ctx(), wants({ h3: 'maint' }));
    const master = await showProc(haproxyPaths(dir).master, Date.now() + 5000, new AbortController().signal);
    assert.ok(master !== undefined);
    let stop = false;
    const results: string[] = [];
    const clients = Array.from({ length: 6 }, async () => {
      while (!stop) results.push(await get(port));
    });
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const r = await haproxyAgent.run('start', ctx({ clientTimeout: `${20 + i}s` }));
      assert.equal(r.rc, OCF_RC.SUCCESS, r.output);
      assert.match(r.output, /^reloaded/);
    }
    await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await Promise.all(clients);
    const failed = results.filter((x) => !NAMES.includes(x as (typeof NAMES)[number]));
    assert.ok(results.length > 100, `enough requests (${results.length})`);
    assert.deepEqual(failed, [], 'no request failed across five reloads');
    assert.ok(!results.includes('h3'), 'the server Haven took out stays out across reloads');
    const after = await showProc(haproxyPaths(dir).master, Date.now() + 5000, new AbortController().signal);
    assert.equal(after?.masterPid, master.masterPid);
    assert.equal(after?.reloads, master.reloads + 5);
    assert.match(readFileSync(haproxyPaths(dir).config, 'utf8'), /timeout client 24s/);
  });

  it('keeps the states asked for while stopped and starts with them', async () => {
    const { ctx, port, dir } = await copy({});
    const kept = await haproxyAgent.setServers!(ctx(), wants({ h1: 'maint' }));
    assert.equal(kept.applied, false);
    assert.equal((await haproxyAgent.run('start', ctx())).rc, 0);
    assert.deepEqual(await gets(port, 6), { h2: 3, h3: 3 });
    assert.deepEqual(
      parseServersState(await runtimeCommand(haproxyPaths(dir).stats, 'show servers state')).map((s) => s.admin),
      ['maint', 'ready', 'ready'],
    );
    const stopped = await haproxyAgent.run('stop', ctx());
    assert.equal(stopped.rc, OCF_RC.SUCCESS, stopped.output);
    assert.equal((await haproxyAgent.run('monitor', ctx())).rc, OCF_RC.NOT_RUNNING);
    assert.match(await get(port), /^error ECONNREFUSED/);
  });

  it('single writer: one server takes everything, and the new writer stays when the old one returns', async () => {
    const { ctx, port } = await copy({ 'api.balance': 'single-writer' });
    assert.equal((await haproxyAgent.run('start', ctx())).rc, 0);
    assert.deepEqual(await gets(port, 5), { h1: 5 });
    await haproxyAgent.setServers!(ctx(), wants({ h1: 'maint' }));
    assert.deepEqual(await gets(port, 5), { h2: 5 }, 'the first backup takes over');
    await haproxyAgent.setServers!(ctx(), wants({}));
    assert.deepEqual(await gets(port, 5), { h2: 5 }, 'no flip back to h1: one writer at a time, and not a new one');
  });

  it('source stickiness: one client stays on one server', async () => {
    const { ctx, port } = await copy({ 'api.balance': 'source' });
    assert.equal((await haproxyAgent.run('start', ctx())).rc, 0);
    const seen = await gets(port, 9);
    assert.equal(Object.keys(seen).length, 1, JSON.stringify(seen));
  });

  it('a dead server costs a retry on another server, not an error', async () => {
    const dead = await freePort(); // nothing listens there: refused
    const { ctx, port } = await copy({ 'api.servers': `h1=127.0.0.1:${ports[0]} h2=127.0.0.1:${dead} h3=127.0.0.1:${ports[2]}`, 'api.check': 'none' });
    assert.equal((await haproxyAgent.run('start', ctx())).rc, 0);
    const seen = await gets(port, 30);
    assert.deepEqual(Object.keys(seen).sort(), ['h1', 'h3'], JSON.stringify(seen));
  });

  it('refuses bad params (rc 6) and servers it does not have, and changes nothing', async () => {
    const { ctx } = await copy({});
    const bad = await haproxyAgent.run('start', ctx({ 'api.balance': 'random' }));
    assert.equal(bad.rc, OCF_RC.ERR_CONFIGURED);
    assert.match(bad.output, /api\.balance/);
    assert.deepEqual(await haproxyAgent.validate({ 'api.bind': '*:80' }), ['api: name its backend clone (api.backend) or list its servers (api.servers: "n1=10.0.0.11:8080 n2=10.0.0.12:8080")']);
    await assert.rejects(haproxyAgent.setServers!(ctx(), [{ service: 'api', server: 'h9', state: 'maint' }]), /service api has no server "h9"/);
    const notBuilt = await haproxyAgent.run('start', { ...ctx(), params: { 'api.bind': '*:80', 'api.backend': 'api' } });
    assert.equal(notBuilt.rc, OCF_RC.ERR_CONFIGURED);
    assert.match(notBuilt.output, /not filled in from clone "api"/);
  });
});

describe('runtime API answers', () => {
  it('parses show servers state and show proc', () => {
    const text = [
      '1',
      '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port',
      '3 be_api 1 h1 10.0.0.1 2 0 1 1 12 6 3 4 6 0 0 0 - 8080 - 0 0 - - 0',
      '3 be_api 2 h2 10.0.0.2 0 5 1 1 0 1 0 0 14 0 0 0 - 8080 - 0 0 - - 0',
      '3 be_api 3 h3 10.0.0.3 2 8 1 1 0 1 0 0 14 0 0 0 - 8080 - 0 0 - - 0',
      '3 be_api 4 h4 10.0.0.4 2 4 1 1 0 1 0 0 14 0 0 0 - 8080 - 0 0 - - 0',
      '',
    ].join('\n');
    assert.deepEqual(
      parseServersState(text).map((s) => `${s.server} ${s.admin} ${s.operational}`),
      ['h1 ready up', 'h2 maint down', 'h3 drain up', 'h4 ready up'],
      'a config-disabled server set ready again keeps only the config bit: ready',
    );
    assert.throws(() => parseServersState('Unknown command\n'), /unexpected/);
    const proc = parseShowProc('#<PID> <type> <reloads> <uptime> <version>\n12776           master          10 [failed: 0]  0d00h10m39s     2.6.12\n# workers\n371             worker          0               0d00h00m02s     2.6.12\n');
    assert.deepEqual(proc, { masterPid: 12776, reloads: 10, failed: 0, workers: [371] });
  });
});
