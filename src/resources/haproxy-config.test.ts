// The haproxy agent's params and the HAProxy configuration Haven renders from them (pure).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatServers, parseHaproxyParams, parseServers, renderHaproxyConfig, type HaproxySpec } from './haproxy-config.js';

const SERVERS = 'h1=10.0.0.1:8080 h2=10.0.0.2:8080 h3=10.0.0.3:8080';

function spec(params: Record<string, string | number | boolean>): HaproxySpec {
  const s = parseHaproxyParams(params, { needServers: true });
  if (Array.isArray(s)) throw new Error(s.join('; '));
  return s;
}

const render = (params: Record<string, string | number | boolean>, states = {}): string => renderHaproxyConfig(spec(params), { instance: 'lb', statsSocket: '/run/lb/stats.sock', states });

/** The lines of one section (frontend/backend NAME) of a rendered config. */
function section(text: string, header: string): string[] {
  const lines = text.split('\n');
  const i = lines.indexOf(header);
  assert.ok(i >= 0, `no section "${header}" in:\n${text}`);
  const out: string[] = [];
  for (const l of lines.slice(i + 1)) {
    if (!l.startsWith('  ')) break;
    out.push(l.trim());
  }
  return out;
}

describe('haproxy params', () => {
  it('parses services, their servers and the defaults', () => {
    const s = spec({ 'api.bind': '10.0.0.100:80', 'api.servers': SERVERS, 'api.port': 8080 });
    assert.equal(s.services.length, 1);
    const api = s.services[0]!;
    assert.deepEqual([api.name, api.bindAddress, api.bindPort, api.balance, api.mode, api.retries, api.connectTimeoutMs], ['api', '10.0.0.100', 80, 'roundrobin', 'tcp', 3, 100]);
    assert.deepEqual(api.servers?.map((x) => x.name), ['h1', 'h2', 'h3']);
    assert.deepEqual([s.checkIntervalMs, s.checkFall, s.checkRise, s.drainTimeoutMs], [2000, 3, 2, 5000]);
  });

  it('refuses bad params with one message each, naming the closest known one', () => {
    const problems = parseHaproxyParams({
      'api.bnd': '10.0.0.100:80',
      'api.servers': 'h1=10.0.0.1',
      'api.balance': 'roundrobim',
      'db.bind': '10.0.0.300:3306',
      'db.backend': 'galera',
      retrys: 3,
      connectTimeout: 'soon',
    });
    assert.ok(Array.isArray(problems));
    const text = problems.join('\n');
    assert.match(text, /unknown param "api\.bnd" \(did you mean "api\.bind"\?\)/);
    assert.match(text, /api\.bind: required/);
    assert.match(text, /api\.servers: "h1=10\.0\.0\.1" is not NAME=ADDR:PORT/);
    assert.match(text, /api\.balance: "roundrobim" is not one of .* \(did you mean "roundrobin"\?\)/);
    assert.match(text, /db\.bind: "10\.0\.0\.300" is not an IPv4 address/);
    assert.match(text, /unknown param "retrys" \(did you mean "retries"\?\)/);
    assert.match(text, /connectTimeout: "soon" is not a duration/);
  });

  it('needs a service, and its servers before it runs (the controller fills them from the backend clone)', () => {
    assert.match((parseHaproxyParams({}) as string[]).join(), /no service/);
    assert.ok(!Array.isArray(parseHaproxyParams({ 'api.bind': '*:80', 'api.backend': 'api' })), 'fine for validate');
    assert.match((parseHaproxyParams({ 'api.bind': '*:80', 'api.backend': 'api' }, { needServers: true }) as string[]).join(), /api\.servers: not filled in from clone "api"/);
    assert.match((parseHaproxyParams({ 'api.bind': '*:80' }) as string[]).join(), /name its backend clone \(api\.backend\) or list its servers/);
  });

  it('refuses two services on one address', () => {
    const p = parseHaproxyParams({ 'a.bind': '10.0.0.100:80', 'a.servers': SERVERS, 'b.bind': '10.0.0.100:80', 'b.servers': SERVERS });
    assert.match((p as string[]).join(), /b\.bind: 10\.0\.0\.100:80 is also a\.bind/);
  });

  it('reads and writes the servers form', () => {
    const s = parseServers(SERVERS);
    assert.ok(Array.isArray(s));
    assert.equal(formatServers(s), SERVERS);
    assert.match(String(parseServers('h1=10.0.0.1:80 h1=10.0.0.2:80')), /named twice/);
  });
});

describe('renderHaproxyConfig', () => {
  it('renders a frontend on the VIP and a round-robin backend whose dead server costs a retry', () => {
    const text = render({ 'api.bind': '10.0.0.100:80', 'api.servers': SERVERS, 'api.port': 8080, 'api.mode': 'http', 'api.check': 'http:/health' });
    assert.match(text, /^ {2}stats socket \/run\/lb\/stats\.sock mode 600 level admin expose-fd listeners$/m);
    assert.match(text, /^ {2}default-server inter 2s fall 3 rise 2$/m);
    assert.deepEqual(section(text, 'frontend fe_api'), ['mode http', 'bind 10.0.0.100:80', 'default_backend be_api']);
    assert.deepEqual(section(text, 'backend be_api'), [
      'mode http',
      'timeout connect 100ms',
      'retries 3',
      'option redispatch 1',
      'balance roundrobin',
      'option httpchk GET /health',
      'server h1 10.0.0.1:8080 check',
      'server h2 10.0.0.2:8080 check',
      'server h3 10.0.0.3:8080 check',
    ]);
  });

  it('renders a single writer: the first server takes everything, the others are backups, stuck on the destination', () => {
    const be = section(render({ 'db.bind': '10.0.0.100:3306', 'db.servers': SERVERS, 'db.balance': 'single-writer' }), 'backend be_db');
    assert.ok(be.includes('balance first'));
    assert.ok(be.includes('stick-table type ip size 1 nopurge'));
    assert.ok(be.includes('stick on dst'));
    assert.deepEqual(
      be.filter((l) => l.startsWith('server')),
      ['server h1 10.0.0.1:8080 check', 'server h2 10.0.0.2:8080 check backup', 'server h3 10.0.0.3:8080 check backup'],
    );
  });

  it('renders source stickiness with consistent hashing', () => {
    const be = section(render({ 'api.bind': '*:80', 'api.servers': SERVERS, 'api.balance': 'source' }), 'backend be_api');
    assert.ok(be.includes('balance source') && be.includes('hash-type consistent'));
  });

  it('starts servers Haven took out disabled, and honours per-service retries, timeouts and no checks', () => {
    const text = render({ 'api.bind': '*:80', 'api.servers': SERVERS, 'api.retries': 0, 'api.connectTimeout': '50ms', 'api.check': 'none', checkInterval: '500ms' }, { api: { h2: 'maint', h3: 'drain' } });
    const be = section(text, 'backend be_api');
    assert.ok(be.includes('retries 0') && be.includes('timeout connect 50ms'));
    assert.deepEqual(
      be.filter((l) => l.startsWith('server')),
      ['server h1 10.0.0.1:8080', 'server h2 10.0.0.2:8080 disabled', 'server h3 10.0.0.3:8080 disabled'],
    );
    assert.match(text, /default-server inter 500ms fall 3 rise 2/);
  });

  it('is a pure function: the same input gives the same bytes', () => {
    const p = { 'api.bind': '10.0.0.100:80', 'api.servers': SERVERS, 'db.bind': '10.0.0.100:3306', 'db.servers': SERVERS, 'db.balance': 'single-writer' };
    assert.equal(render(p), render({ ...p }));
    assert.equal(render(p).match(/^frontend /gm)?.length, 2);
  });
});
