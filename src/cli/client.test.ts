// Endpoints the CLI is given: one controller, or several (comma-separated), of which each call
// reaches the leader (findLeader over HTTP here; over lab sockets in src/lab/controllers.test.ts).

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, describe, it } from 'node:test';
import { call, parseEndpoint, resolveEndpoint } from './client.js';

describe('controller endpoints', () => {
  it('one URL, a socket, or a comma list of both', () => {
    assert.equal(parseEndpoint('http://10.0.0.1:7000').base?.port, '7000');
    assert.equal(parseEndpoint('unix:/run/x.sock').socketPath, '/run/x.sock');
    const list = parseEndpoint('http://10.0.0.1:7000,unix:/run/x.sock');
    assert.equal(list.candidates?.length, 2);
    assert.match(list.describe, /the leader of http:\/\/10\.0\.0\.1:7000, unix:\/run\/x\.sock/);
    assert.equal(resolveEndpoint(undefined, { HAVEN_CONTROLLER: 'http://a:1,http://b:2' }).candidates?.length, 2);
    assert.throws(() => parseEndpoint('http://a:1,,http://b:2'), { code: 'USAGE' });
    assert.throws(() => parseEndpoint('http://a:1,ftp://b'), { code: 'USAGE' });
  });

  describe('several controllers over HTTP', () => {
    const servers: Server[] = [];
    after(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));
    /** A fake controller: its health says its role; a POST to a follower is refused as the API does. */
    async function fake(name: string, role: () => 'leader' | 'follower'): Promise<string> {
      const s = createServer((req, res) => {
        res.setHeader('content-type', 'application/json');
        if (req.url === '/v1/health') {
          res.end(JSON.stringify({ ok: true, name, role: role(), phase: 'running', epoch: 7, leader: null }));
        } else if (req.method === 'POST' && role() === 'follower') {
          res.statusCode = 409;
          res.end(JSON.stringify({ code: 'CONFLICT', message: `controller ${name} does not lead` }));
        } else res.end(JSON.stringify({ answeredBy: name }));
      });
      servers.push(s);
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      const port = (s.address() as { port: number }).port;
      return `http://127.0.0.1:${port}`;
    }

    it('a command goes to the leader, a read too; with nobody leading a read goes to a follower and a command fails UNREACHABLE', async () => {
      let leader = 'b';
      const a = await fake('a', () => (leader === 'a' ? 'leader' : 'follower'));
      const b = await fake('b', () => (leader === 'b' ? 'leader' : 'follower'));
      const ep = parseEndpoint(`http://127.0.0.1:1,${a},${b}`); // the first answers nothing
      assert.deepEqual(await call(ep, 'POST', '/v1/resources/web/clear', {}), { answeredBy: 'b' });
      leader = 'a';
      assert.deepEqual(await call(ep, 'GET', '/v1/status'), { answeredBy: 'a' });
      leader = 'none';
      assert.deepEqual(await call(ep, 'GET', '/v1/status'), { answeredBy: 'a' });
      await assert.rejects(call(ep, 'POST', '/v1/resources/web/clear', {}), { code: 'UNREACHABLE', message: /no controller leads: 2 of 3 answered/ });
    });
  });
});
