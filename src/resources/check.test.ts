// Health checks: parsing the `check` param, and each kind failing the way an operator expects.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCheck, runCheck } from './check.js';

describe('parseCheck', () => {
  it('reads tcp, http and cmd checks', () => {
    assert.deepEqual(parseCheck('tcp:8080'), { kind: 'tcp', host: '127.0.0.1', port: 8080 });
    assert.deepEqual(parseCheck('tcp:db.local:5432'), { kind: 'tcp', host: 'db.local', port: 5432 });
    assert.deepEqual(parseCheck('tcp:[::1]:80'), { kind: 'tcp', host: '::1', port: 80 });
    assert.deepEqual(parseCheck('http://127.0.0.1:9/health'), { kind: 'http', url: 'http://127.0.0.1:9/health' });
    assert.deepEqual(parseCheck('cmd: pg_isready -q'), { kind: 'cmd', command: 'pg_isready -q' });
  });

  it('says what is wrong with a bad one', () => {
    assert.match(parseCheck('tcp:70000') as string, /needs a port from 1 to 65535/);
    assert.match(parseCheck('tcp::80') as string, /empty host/);
    assert.match(parseCheck('cmd:  ') as string, /needs a command line/);
    assert.match(parseCheck('http://[bad') as string, /not a valid URL/);
    assert.match(parseCheck('ping 10.0.0.1') as string, /is not a check \(write tcp:PORT/);
  });
});

describe('runCheck', () => {
  it('a cmd check that hangs is killed at its timeout, with its children', async () => {
    const t0 = performance.now();
    const r = await runCheck({ kind: 'cmd', command: 'sleep 5 & sleep 5' }, 200, AbortSignal.timeout(10_000));
    assert.equal(r.ok, false);
    assert.match(r.detail, /no answer within 200 ms/);
    assert.ok(performance.now() - t0 < 2000);
  });

  it('a cmd check reports its exit code and output', async () => {
    assert.deepEqual(await runCheck({ kind: 'cmd', command: 'true' }, 2000, AbortSignal.timeout(5000)), { ok: true, detail: '`true`: exit 0' });
    const r = await runCheck({ kind: 'cmd', command: 'echo not ready >&2; exit 3' }, 2000, AbortSignal.timeout(5000));
    assert.deepEqual(r, { ok: false, detail: '`echo not ready >&2; exit 3`: exit 3: not ready' });
  });

  it('a tcp check to a closed port fails at once, an aborted one says so', async () => {
    const r = await runCheck({ kind: 'tcp', host: '127.0.0.1', port: 1 }, 2000, AbortSignal.timeout(5000));
    assert.deepEqual(r, { ok: false, detail: 'tcp 127.0.0.1:1: ECONNREFUSED' });
    const ac = new AbortController();
    ac.abort();
    assert.equal((await runCheck({ kind: 'tcp', host: '127.0.0.1', port: 1 }, 2000, ac.signal)).ok, false);
  });
});
