// Delivering events to controllers: failover between controllers, the preferred one first,
// backoff cut short by a new event, events of an earlier incarnation in their own report; and
// the atomic state file the agent keeps them in.

import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { AgentEvent } from '../model/wire.js';
import { AtomicFile } from '../atomic-file.js';
import { Reporter } from './reporter.js';
import { eventually, fakeController, memoryLogger, tempDir } from './test-support.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups) await c();
});

function event(seq: number, instance = 'web'): AgentEvent {
  return { seq, instance, primitive: instance, operation: 'monitor', intervalMs: 0, rc: 7, output: 'gone', at: 1, state: 'stopped' };
}

async function deadUrl(): Promise<string> {
  const c = await fakeController();
  await c.close();
  return c.url;
}

describe('Reporter', () => {
  it('fails over to the next controller and then prefers the one that acknowledged', async () => {
    const ctl = await fakeController();
    cleanups.push(ctl.close);
    const dead = await deadUrl();
    const { log } = memoryLogger('n1');
    let changes = 0;
    const r = new Reporter({ node: 'n1', endpoints: [dead, ctl.url], log, onChange: () => changes++, initialBackoffMs: 10 });
    r.start();
    r.add({ incarnation: 5, event: event(1) });
    await ctl.waitFor((x) => x.events.some((e) => e.seq === 1), 5_000);
    const attempts = r.stats().attempts;
    assert.equal(attempts, 2, 'the dead one, then the live one');
    r.add({ incarnation: 5, event: event(2) });
    await ctl.waitFor((x) => x.events.some((e) => e.seq === 2), 5_000);
    assert.equal(r.stats().attempts, attempts + 1, 'straight to the controller that acknowledged');
    await eventually(() => changes === 4, 2_000, 'every queue change (2 queued, 2 acknowledged) is handed to the persister');
    await r.close();
  });

  it('sends events of an earlier incarnation in their own report, oldest first', async () => {
    const ctl = await fakeController();
    cleanups.push(ctl.close);
    const { log } = memoryLogger('n1');
    const r = new Reporter({ node: 'n1', endpoints: [ctl.url], log, onChange: () => undefined });
    r.restore([
      { incarnation: 1, event: event(7) },
      { incarnation: 1, event: event(8) },
    ]);
    r.add({ incarnation: 2, event: event(1) });
    r.start();
    await eventually(() => ctl.reports.length === 2, 5_000, 'two reports');
    assert.deepEqual(
      ctl.reports.map((x) => [x.incarnation, x.events.map((e) => e.seq)]),
      [
        [1, [7, 8]],
        [2, [1]],
      ],
    );
    await r.close();
  });

  it('sends a new event at once instead of waiting out a long backoff', async () => {
    const ctl = await fakeController();
    cleanups.push(ctl.close);
    ctl.refuse(1);
    const { log } = memoryLogger('n1');
    const r = new Reporter({ node: 'n1', endpoints: [ctl.url], log, onChange: () => undefined, initialBackoffMs: 60_000, maxBackoffMs: 60_000 });
    r.start();
    r.add({ incarnation: 1, event: event(1) });
    await eventually(() => ctl.calls() === 1, 5_000, 'the first try is refused');
    await new Promise((res) => setTimeout(res, 100)); // the refusal is in: the reporter waits out its backoff
    const t0 = performance.now();
    r.add({ incarnation: 1, event: event(2) });
    const report = await ctl.waitFor(() => true, 5_000);
    assert.ok(performance.now() - t0 < 3_000);
    assert.deepEqual(report.events.map((e) => e.seq), [1, 2], 'the refused event goes with the new one');
    await r.close();
  });

  it('keeps events queued when closed before they were acknowledged', async () => {
    const { log } = memoryLogger('n1');
    const r = new Reporter({ node: 'n1', endpoints: [await deadUrl()], log, onChange: () => undefined, initialBackoffMs: 10 });
    r.start();
    r.add({ incarnation: 1, event: event(1) });
    await new Promise((res) => setTimeout(res, 100));
    await r.close();
    assert.deepEqual(r.pending().map((p) => p.event.seq), [1]);
  });

  it('retries at once when an event arrives while a report is failing', async () => {
    const ctl = await fakeController();
    cleanups.push(ctl.close);
    const { log } = memoryLogger('n1');
    let release: () => void = () => undefined;
    const held = new Promise<void>((res) => {
      release = res;
    });
    let first = true;
    let inFlight = false;
    // The first POST hangs until released, then fails; the event queued meanwhile must not wait a backoff.
    const slowFetch: typeof fetch = async (input, init) => {
      if (first) {
        first = false;
        inFlight = true;
        await held;
        throw new Error('connection reset');
      }
      return fetch(input, init);
    };
    const r = new Reporter({ node: 'n1', endpoints: [ctl.url], log, onChange: () => undefined, initialBackoffMs: 60_000, fetch: slowFetch });
    r.start();
    r.add({ incarnation: 1, event: event(1) });
    await eventually(() => inFlight, 2_000, 'the first report is in flight');
    r.add({ incarnation: 1, event: event(2) });
    release();
    const report = await ctl.waitFor(() => true, 5_000);
    assert.deepEqual(report.events.map((e) => e.seq), [1, 2]);
    await r.close();
  });
});

describe('AtomicFile', () => {
  it('ends with the newest of many concurrent saves and leaves no temporary file', async () => {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const f = new AtomicFile(join(dir.path, 'x.json'));
    await Promise.all(Array.from({ length: 50 }, (_, i) => f.save(JSON.stringify({ i }))));
    assert.deepEqual(JSON.parse(await readFile(join(dir.path, 'x.json'), 'utf8')), { i: 49 });
    assert.deepEqual(await readdir(dir.path), ['x.json']);
  });

  it('rejects the saves whose write failed', async () => {
    const f = new AtomicFile('/nonexistent-hvtest-dir/x.json');
    await assert.rejects(f.save('{}'), /ENOENT/);
  });
});
