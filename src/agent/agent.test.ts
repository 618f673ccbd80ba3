// The agent in-process, over its API without a socket (app.request()), with the real `process`
// resource agent running `sleep 1000`, and a fake controller that is a real local HTTP server.

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import type { Hono } from 'hono';
import { HavenError } from '../errors.js';
import { agentStateSchema, operationResultSchema, type OperationRequest, type OperationResult } from '../model/wire.js';
import { resourceAgentFor } from '../resources/index.js';
import type { ResourceAgent } from '../resources/types.js';
import { Agent, type AgentOptions } from './agent.js';
import { createAgentApi } from './api.js';
import { STATE_FILE } from './state-file.js';
import { alive, eventually, fakeController, killQuietly, memoryLogger, pidOf, request, sleepSpec, tempDir, type FakeController } from './test-support.js';

/** Every PID a test started, killed at the end whatever happened. */
const started = new Set<number>();
const cleanups: (() => Promise<void>)[] = [];

after(async () => {
  for (const pid of started) killQuietly(pid);
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

interface Harness {
  readonly agent: Agent;
  readonly app: Hono;
  readonly dir: string;
  readonly lines: Record<string, unknown>[];
  op(req: OperationRequest | Record<string, unknown>): Promise<{ status: number; body: unknown }>;
  result(req: OperationRequest): Promise<OperationResult>;
}

async function harness(opts: { dir?: string; controller?: FakeController; agentFor?: (kind: string) => ResourceAgent; extra?: Partial<AgentOptions> } = {}): Promise<Harness> {
  let dir = opts.dir;
  if (dir === undefined) {
    const t = await tempDir();
    cleanups.push(t.remove);
    dir = t.path;
  }
  const { log, lines } = memoryLogger('n1');
  const agent = new Agent({
    node: 'n1',
    stateDir: dir,
    resourceAgentFor: opts.agentFor ?? resourceAgentFor,
    reportEndpoints: opts.controller === undefined ? [] : [opts.controller.url],
    log,
    reporter: { initialBackoffMs: 20, maxBackoffMs: 200, requestTimeoutMs: 2_000 },
    drainMs: 500,
    ...opts.extra,
  });
  await agent.start();
  cleanups.push(() => agent.close());
  const app = createAgentApi(agent);
  const op = async (req: OperationRequest | Record<string, unknown>): Promise<{ status: number; body: unknown }> => {
    const res = await app.request('/v1/operations', { method: 'POST', body: JSON.stringify(req), headers: { 'content-type': 'application/json' } });
    return { status: res.status, body: await res.json() };
  };
  const result = async (req: OperationRequest): Promise<OperationResult> => {
    const r = await op(req);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const out = operationResultSchema.parse(r.body);
    const pid = pidOf(dir, req.instance);
    if (pid !== undefined) started.add(pid);
    return out;
  };
  return { agent, app, dir, lines, op, result };
}

async function stateOf(app: Hono) {
  const res = await app.request('/v1/state');
  assert.equal(res.status, 200);
  return agentStateSchema.parse(await res.json());
}

describe('operations over the API', () => {
  it('starts, monitors and stops a real process', async () => {
    const h = await harness();
    const start = await h.result(request({ operation: 'start' }));
    assert.equal(start.rc, 0, start.output);
    assert.equal(start.state, 'started');
    const pid = pidOf(h.dir, 'web');
    assert.ok(pid !== undefined && alive(pid), 'the program runs');

    const mon = await h.result(request({ operation: 'monitor-start', intervalMs: 100, timeoutMs: 5_000 }));
    assert.equal(mon.rc, 0);
    // Replacing the same monitor is idempotent: still one monitor at 100 ms.
    await h.result(request({ operation: 'monitor-start', intervalMs: 100, timeoutMs: 5_000 }));
    let state = await stateOf(h.app);
    assert.deepEqual(state.copies.map((c) => [c.instance, c.state, c.monitors]), [['web', 'started', [100]]]);
    assert.equal(state.epoch, 1);

    const probe = await h.result(request({ operation: 'probe' }));
    assert.equal(probe.rc, 0);

    const stop = await h.result(request({ operation: 'stop' }));
    assert.equal(stop.rc, 0, stop.output);
    assert.equal(stop.state, 'stopped');
    await eventually(() => !alive(pid), 5_000, 'the program is gone after stop');
    state = await stateOf(h.app);
    assert.deepEqual(state.copies, [], 'a stopped copy is forgotten, with its monitors');
    // No monitor runs after the stop: no event is raised for the now-dead copy.
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(h.agent.pendingEvents(), []);

    const after = await h.result(request({ operation: 'probe' }));
    assert.equal(after.rc, 7, 'a probe of a stopped copy answers "not running"');
    assert.equal(after.state, 'stopped');
    assert.deepEqual((await stateOf(h.app)).copies, [], 'a copy probed as not running stays unknown');
  });

  it('logs one line per operation with node, instance, op, rc and epoch', async () => {
    const h = await harness();
    await h.result(request({ operation: 'start', epoch: 4 }));
    await h.result(request({ operation: 'stop', epoch: 4 }));
    const ops = h.lines.filter((l) => l['op'] === 'start' || l['op'] === 'stop');
    assert.deepEqual(
      ops.map((l) => [l['node'], l['instance'], l['op'], l['rc'], l['epoch'], l['from'], l['to']]),
      [
        ['n1', 'web', 'start', 0, 4, 'unknown', 'started'],
        ['n1', 'web', 'stop', 0, 4, 'started', 'stopped'],
      ],
    );
  });

  it('refuses params the resource agent rejects with rc 6 before anything runs', async () => {
    const h = await harness();
    const r = await h.result(request({ operation: 'start', resource: { primitive: 'web', agent: 'process', params: { args: '1000', colour: 'red' } } }));
    assert.equal(r.rc, 6);
    assert.match(r.output, /command: required/);
    assert.match(r.output, /colour/);
    assert.equal(r.state, 'stopped');
    assert.equal(pidOf(h.dir, 'web'), undefined, 'nothing was spawned');
    assert.deepEqual((await stateOf(h.app)).copies, []);
  });

  it('answers rc 5 for a resource agent kind this host cannot run', async () => {
    const h = await harness();
    const r = await h.result(request({ operation: 'start', resource: { primitive: 'x', agent: 'teleporter', params: {} } }));
    assert.equal(r.rc, 5);
    assert.match(r.output, /no resource agent for "teleporter" on n1/);
    assert.deepEqual((await stateOf(h.app)).copies, []);
  });

  it('refuses a bad body with 400 and the problems, and changes nothing', async () => {
    const h = await harness();
    await h.result(request({ operation: 'start', epoch: 2 }));
    const before = await readFile(join(h.dir, STATE_FILE), 'utf8');
    const stateBefore = await stateOf(h.app);

    const bad = await h.op({ ...request({ operation: 'stop', epoch: 9 }), operation: 'halt', timeoutMs: -1, extra: true });
    assert.equal(bad.status, 400);
    const err = bad.body as { code: string; problems: { path: unknown[]; message: string }[] };
    assert.equal(err.code, 'USAGE');
    assert.deepEqual(err.problems.map((p) => p.path).sort(), [['extra'], ['operation'], ['timeoutMs']].sort());

    const notJson = await h.app.request('/v1/operations', { method: 'POST', body: '{"epoch": 9,' });
    assert.equal(notJson.status, 400);
    const noInterval = await h.op(request({ operation: 'monitor-start', epoch: 9 }));
    assert.equal(noInterval.status, 400, 'monitor-start without intervalMs');

    assert.deepEqual(await stateOf(h.app), stateBefore);
    assert.equal(h.agent.epoch, 2, 'the epoch of a refused request is not taken');
    assert.equal(await readFile(join(h.dir, STATE_FILE), 'utf8'), before);
    const pid = pidOf(h.dir, 'web');
    assert.ok(pid !== undefined && alive(pid), 'the copy still runs');
  });

  it('refuses a stale epoch with 409 CONFLICT, also after a restart', async () => {
    const h = await harness();
    await h.result(request({ operation: 'start', epoch: 5 }));
    const stale = await h.op(request({ operation: 'stop', epoch: 4 }));
    assert.equal(stale.status, 409);
    assert.equal((stale.body as { code: string }).code, 'CONFLICT');
    const pid = pidOf(h.dir, 'web');
    assert.ok(pid !== undefined && alive(pid), 'the stale stop did not run');
    const same = await h.op(request({ operation: 'probe', epoch: 5 }));
    assert.equal(same.status, 200, 'the same epoch is accepted');

    await h.agent.close();
    const again = await harness({ dir: h.dir });
    assert.equal(again.agent.epoch, 5, 'the highest epoch is kept in the state dir');
    assert.equal((await again.op(request({ operation: 'stop', epoch: 4 }))).status, 409);
  });

  it('refuses a command that waited in the queue while a newer epoch was accepted', async () => {
    const gate = gatedAgent();
    const h = await harness({ agentFor: () => gate.agent });
    const first = h.op(request({ operation: 'start', epoch: 1 }));
    await eventually(() => gate.running === 1, 2_000, 'the first start runs');
    const old = h.op(request({ operation: 'stop', epoch: 1 })); // queued behind the start
    const newer = h.op(request({ operation: 'probe', epoch: 2, instance: 'other' }));
    assert.equal((await newer).status, 200);
    gate.release();
    assert.equal((await first).status, 200);
    assert.equal((await old).status, 409, 'the old leader’s stop is refused when its turn comes');
  });
});

describe('queues and timeouts', () => {
  it('serializes operations on one copy and runs different copies in parallel', async () => {
    const log: string[] = [];
    const slow: ResourceAgent = {
      kind: 'slow',
      validate: () => Promise.resolve([]),
      run: async (op, ctx) => {
        log.push(`begin ${op} ${ctx.instance}`);
        await new Promise((r) => setTimeout(r, 150));
        log.push(`end ${op} ${ctx.instance}`);
        return { rc: op === 'monitor' ? 0 : 0, output: '' };
      },
    };
    const h = await harness({ agentFor: () => slow });
    const t0 = performance.now();
    // Submitted back to back, as the API hands them over in arrival order.
    await Promise.all([
      h.agent.submit(request({ operation: 'start', instance: 'a' })),
      h.agent.submit(request({ operation: 'probe', instance: 'a' })),
      h.agent.submit(request({ operation: 'start', instance: 'b' })),
    ]);
    const took = performance.now() - t0;
    const a = log.filter((l) => l.endsWith(' a'));
    assert.deepEqual(a, ['begin start a', 'end start a', 'begin monitor a', 'end monitor a'], 'one copy: one at a time, in order');
    assert.ok(log.indexOf('begin start b') < log.indexOf('end start a'), 'b ran beside a');
    assert.ok(took < 2_000, `took ${took} ms`);
  });

  it('answers a timed-out operation with rc 1 and timedOut, even if the resource agent ignores its signal', async () => {
    const stuck: ResourceAgent = {
      kind: 'stuck',
      validate: () => Promise.resolve([]),
      run: () => new Promise(() => undefined),
    };
    const h = await harness({ agentFor: () => stuck });
    const t0 = performance.now();
    const r = await h.result(request({ operation: 'start', timeoutMs: 200 }));
    const took = performance.now() - t0;
    assert.equal(r.rc, 1);
    assert.equal(r.timedOut, true);
    assert.equal(r.state, 'failed');
    assert.match(r.output, /timed out after 200 ms/);
    assert.ok(took >= 190 && took < 200 + 1_000 + 1_500, `took ${took} ms`);
  });

  it('aborts the resource agent’s signal at the timeout', async () => {
    let aborted = false;
    const polite: ResourceAgent = {
      kind: 'polite',
      validate: () => Promise.resolve([]),
      run: (_op, ctx) =>
        new Promise((resolve) =>
          ctx.signal.addEventListener('abort', () => {
            aborted = true;
            resolve({ rc: 1, output: 'gave up', timedOut: true });
          }),
        ),
    };
    const h = await harness({ agentFor: () => polite });
    const r = await h.result(request({ operation: 'stop', timeoutMs: 100 }));
    assert.ok(aborted);
    assert.equal(r.timedOut, true);
    assert.equal(r.state, 'failed', 'a stop that timed out leaves a failed copy');
  });
});

describe('events to the controller', () => {
  it('reports a killed process at once (watch), and the copy is stopped', async () => {
    const ctl = await fakeController();
    cleanups.push(ctl.close);
    const h = await harness({ controller: ctl });
    await h.result(request({ operation: 'start', epoch: 3 }));
    await h.result(request({ operation: 'monitor-start', epoch: 3, intervalMs: 10_000 }));
    const pid = pidOf(h.dir, 'web') as number;
    const killedAt = performance.now();
    killQuietly(pid);
    const report = await ctl.waitFor((r) => r.events.some((e) => e.instance === 'web'), 5_000);
    const latency = performance.now() - killedAt;
    assert.equal(report.node, 'n1');
    assert.equal(report.incarnation, h.agent.incarnation);
    const ev = report.events[0];
    assert.equal(ev?.rc, 7);
    assert.equal(ev?.state, 'stopped');
    assert.equal(ev?.primitive, 'web');
    assert.equal(ev?.seq, 1);
    // Far below the 10 s monitor: the watch saw it. Generous bound for a loaded machine.
    assert.ok(latency < 3_000, `kill → report took ${latency.toFixed(0)} ms`);
    process.stderr.write(`# kill → report acknowledged: ${latency.toFixed(0)} ms\n`);
    assert.equal((await stateOf(h.app)).copies[0]?.state, 'stopped');
    await eventually(() => h.agent.pendingEvents().length === 0, 2_000, 'the acknowledged event leaves the queue');
  });

  it('reports what a recurring monitor finds when the resource agent cannot watch', async () => {
    const ctl = await fakeController();
    cleanups.push(ctl.close);
    const { watch: _watch, ...unwatched } = resourceAgentFor('process');
    const h = await harness({ controller: ctl, agentFor: () => unwatched });
    await h.result(request({ operation: 'start' }));
    await h.result(request({ operation: 'monitor-start', intervalMs: 150, timeoutMs: 5_000 }));
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(ctl.reports.length, 0, 'a healthy copy raises no event');
    killQuietly(pidOf(h.dir, 'web'));
    const report = await ctl.waitFor((r) => r.events.length > 0, 5_000);
    assert.deepEqual(
      report.events.map((e) => [e.instance, e.intervalMs, e.rc, e.state]),
      [['web', 150, 7, 'stopped']],
    );
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(ctl.reports.length, 1, 'the same result again is no new event');
  });

  it('retries an unacknowledged event with backoff until a 2xx, keeping its seq', async () => {
    const ctl = await fakeController();
    cleanups.push(ctl.close);
    ctl.refuse(3);
    const h = await harness({ controller: ctl });
    await h.result(request({ operation: 'start' }));
    killQuietly(pidOf(h.dir, 'web'));
    const report = await ctl.waitFor((r) => r.events.length > 0, 10_000);
    assert.equal(ctl.calls(), 4, 'three refusals, then the acknowledged one');
    assert.deepEqual(report.events.map((e) => e.seq), [1]);
    await eventually(() => h.agent.pendingEvents().length === 0, 2_000, 'queue empties on acknowledgement');
    for (let i = 0; ; i++) {
      const saved = JSON.parse(await readFile(join(h.dir, STATE_FILE), 'utf8')) as { pendingEvents: unknown[] };
      if (saved.pendingEvents.length === 0) break;
      assert.ok(i < 100, 'the state dir forgets the acknowledged event');
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  it('keeps unacknowledged events in the state dir and delivers them after a restart', async () => {
    const ctlPort = await freePort();
    const h = await harness({ extra: { reportEndpoints: [`http://127.0.0.1:${ctlPort}/v1/agents/report`] } });
    await h.result(request({ operation: 'start' }));
    killQuietly(pidOf(h.dir, 'web'));
    await eventually(() => h.agent.pendingEvents().length === 1, 5_000, 'the event is queued while the controller is away');
    const firstIncarnation = h.agent.incarnation;
    await h.agent.close();
    const saved = JSON.parse(await readFile(join(h.dir, STATE_FILE), 'utf8')) as { pendingEvents: { incarnation: number }[] };
    assert.equal(saved.pendingEvents.length, 1);

    const ctl = await fakeController(ctlPort);
    cleanups.push(ctl.close);
    const again = await harness({ dir: h.dir, controller: ctl });
    assert.ok(again.agent.incarnation > firstIncarnation, 'a restart is a newer incarnation');
    const report = await ctl.waitFor((r) => r.incarnation === firstIncarnation, 5_000);
    assert.deepEqual(report.events.map((e) => [e.seq, e.instance, e.rc]), [[1, 'web', 7]]);
  });
});

describe('restart and adoption', () => {
  it('re-adopts a running process without restarting it, and watches it again', async () => {
    const ctl = await fakeController();
    cleanups.push(ctl.close);
    const h = await harness({ controller: ctl });
    await h.result(request({ operation: 'start' }));
    await h.result(request({ operation: 'monitor-start', intervalMs: 5_000 }));
    const pid = pidOf(h.dir, 'web') as number;
    await h.agent.close();
    assert.ok(alive(pid), 'closing the agent leaves the copy running');

    const again = await harness({ dir: h.dir, controller: ctl });
    await again.agent.adopted();
    assert.equal(pidOf(h.dir, 'web'), pid, 'the same process');
    assert.ok(alive(pid));
    const state = await stateOf(again.app);
    assert.deepEqual(state.copies.map((c) => [c.instance, c.state, c.monitors]), [['web', 'started', [5_000]]]);
    assert.ok(again.lines.some((l) => l['op'] === 'adopt' && l['rc'] === 0));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(ctl.reports.length, 0, 'nothing to report: it runs as recorded');

    killQuietly(pid);
    const report = await ctl.waitFor((r) => r.incarnation === again.agent.incarnation, 5_000);
    assert.equal(report.events[0]?.state, 'stopped', 'the adopted copy is watched');
  });

  it('reports a copy that died while the agent was down', async () => {
    const ctl = await fakeController();
    cleanups.push(ctl.close);
    const h = await harness({ controller: ctl });
    await h.result(request({ operation: 'start', instance: 'web' }));
    await h.result(request({ operation: 'start', instance: 'api', resource: sleepSpec('api') }));
    const pid = pidOf(h.dir, 'web') as number;
    await h.agent.close();
    killQuietly(pid);
    await eventually(() => !alive(pid), 5_000, 'the copy is dead');

    const again = await harness({ dir: h.dir, controller: ctl });
    const report = await ctl.waitFor((r) => r.incarnation === again.agent.incarnation, 5_000);
    assert.deepEqual(
      report.events.map((e) => [e.instance, e.intervalMs, e.rc, e.state]),
      [['web', 0, 7, 'stopped']],
    );
    const state = await stateOf(again.app);
    assert.deepEqual(state.copies.map((c) => [c.instance, c.state]), [
      ['api', 'started'],
      ['web', 'stopped'],
    ]);
  });

  it('refuses a state dir that belongs to another node or does not parse', async () => {
    const h = await harness();
    await h.agent.close();
    const { log } = memoryLogger('n2');
    const other = new Agent({ node: 'n2', stateDir: h.dir, resourceAgentFor, reportEndpoints: [], log });
    await assert.rejects(other.start(), /belongs to node "n1"/);
    assert.equal(other.lifecycle, 'failed');

    await writeFile(join(h.dir, STATE_FILE), '{"v": 1, "node": "n1", "copies": [');
    const torn = new Agent({ node: 'n1', stateDir: h.dir, resourceAgentFor, reportEndpoints: [], log });
    await assert.rejects(torn.start(), (err: unknown) => err instanceof HavenError && err.code === 'IO' && /not valid JSON/.test(err.message));
  });
});

/** A resource agent whose operations wait until released; `running` counts those under way. */
function gatedAgent(): { agent: ResourceAgent; release: () => void; running: number } {
  let open: () => void = () => undefined;
  const gate = new Promise<void>((r) => {
    open = r;
  });
  const state = {
    running: 0,
    release: () => open(),
    agent: {
      kind: 'gated',
      validate: () => Promise.resolve([]),
      run: async (op) => {
        state.running += 1;
        if (op === 'start') await gate;
        return { rc: op === 'monitor' ? 7 : 0, output: '' };
      },
    } satisfies ResourceAgent,
  };
  return state;
}

async function freePort(): Promise<number> {
  const ctl = await fakeController();
  const port = Number(new URL(ctl.url).port);
  await ctl.close();
  return port;
}

describe('leases and self-fencing', () => {
  const LEASE = 300;
  const grant = (epoch: number, leaseMs = LEASE) => ({ v: 1 as const, kind: 'lease' as const, cluster: 'c', node: 'n1', controller: 'c1', epoch, seq: 0, incarnation: 0, leaseMs });
  const policy = (noQuorumPolicy: 'stop' | 'freeze', requires: 'quorum' | 'fencing' | 'nothing' = 'fencing') => ({ leaseMs: LEASE, noQuorumPolicy, requires: () => requires });

  it('stops what needs quorum when no grant comes within the lease, reports it, and refuses starts until a grant', async () => {
    const ctl = await fakeController();
    cleanups.push(() => ctl.close());
    const h = await harness({ controller: ctl, extra: { selfFence: policy('stop') } });
    h.agent.leaseGranted(grant(1), performance.now());
    await h.result(request({ operation: 'start', epoch: 1 }));
    const pid = pidOf(h.dir, 'web');
    assert.ok(pid !== undefined && alive(pid));
    // No more grants: the lease lapses ≈ 300 ms later and the agent stops the copy itself.
    const report = await ctl.waitFor((r) => r.events.some((e) => e.operation === 'self-fence'), 5_000);
    const ev = report.events.find((e) => e.operation === 'self-fence')!;
    assert.equal(ev.state, 'stopped');
    assert.match(ev.output, /lease lapsed/);
    await eventually(() => !alive(pid), 2_000, 'the copy was stopped');
    assert.equal(h.agent.leaseInfo()?.lapsed, true);
    assert.deepEqual((await stateOf(h.app)).copies, []);
    const refused = await h.op(request({ operation: 'start', epoch: 1 }));
    assert.equal(refused.status, 409);
    assert.match(JSON.stringify(refused.body), /lease lapsed/);
    // A grant ends the lapse: starts are accepted again.
    assert.equal(h.agent.leaseGranted(grant(1), performance.now()), true);
    assert.equal(h.agent.leaseInfo()?.held, true);
    await h.result(request({ operation: 'start', epoch: 1 }));
    assert.equal((await stateOf(h.app)).copies[0]?.state, 'started');
  });

  it('freeze keeps the copy running through a lapse; requires nothing is never touched', async () => {
    for (const [p, requires] of [['freeze', 'fencing'], ['stop', 'nothing']] as const) {
      const h = await harness({ extra: { selfFence: policy(p, requires) } });
      await h.result(request({ operation: 'start', epoch: 1 }));
      const pid = pidOf(h.dir, 'web')!;
      await eventually(() => h.agent.leaseInfo()?.lapsed === true, 3_000, 'the lease lapsed');
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(alive(pid), `${p}/${requires}: the copy still runs`);
      assert.equal((await stateOf(h.app)).copies[0]?.state, 'started');
      const start = await h.op(request({ operation: 'start', instance: 'other', resource: sleepSpec('other'), epoch: 1 }));
      assert.equal(start.status, requires === 'nothing' ? 200 : 409, JSON.stringify(start.body));
      const other = pidOf(h.dir, 'other');
      if (other !== undefined) started.add(other);
    }
  });

  it('self-fences by the requires the controller sent with the copy, not by its own file (haven apply changed it)', async () => {
    // The agent's file says requires nothing; the controller's configuration says quorum for
    // `web` and nothing for `other`: the lapse stops web, keeps other, and the record survives a restart.
    const ctl = await fakeController();
    cleanups.push(() => ctl.close());
    const h = await harness({ controller: ctl, extra: { selfFence: policy('stop', 'nothing') } });
    h.agent.leaseGranted(grant(1, 1_500), performance.now());
    await h.result(request({ operation: 'start', epoch: 1, resource: { ...sleepSpec(), requires: 'quorum' } }));
    await h.result(request({ operation: 'start', instance: 'other', resource: { ...sleepSpec('other'), requires: 'nothing' }, epoch: 1 }));
    const web = pidOf(h.dir, 'web')!;
    const other = pidOf(h.dir, 'other')!;
    started.add(other);
    assert.equal((await stateOf(h.app)).copies.find((c) => c.instance === 'web')?.resource.requires, 'quorum', 'recorded with the copy');
    const report = await ctl.waitFor((r) => r.events.some((e) => e.operation === 'self-fence'), 5_000);
    assert.deepEqual(report.events.filter((e) => e.operation === 'self-fence').map((e) => e.instance), ['web']);
    await eventually(() => !alive(web), 3_000, 'web stopped at the lapse');
    assert.ok(alive(other), 'other (requires nothing) still runs');
    const refused = await h.op(request({ operation: 'start', epoch: 1, resource: { ...sleepSpec(), requires: 'fencing' } }));
    assert.equal(refused.status, 409, 'a start of what requires fencing is refused while the lease is lapsed');
  });

  it('ignores a grant of an epoch older than the one accepted; a newer one raises the epoch', async () => {
    const h = await harness({ extra: { selfFence: policy('stop') } });
    assert.equal(h.agent.leaseGranted(grant(5), performance.now()), true);
    assert.equal(h.agent.epoch, 5);
    const before = h.agent.leaseInfo()!.remainingMs;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(h.agent.leaseGranted(grant(4, 10_000), performance.now()), false, 'a stale controller cannot extend the lease');
    assert.ok(h.agent.leaseInfo()!.remainingMs <= before);
    const stale = await h.op(request({ operation: 'start', epoch: 4 }));
    assert.equal(stale.status, 409);
    assert.equal(h.agent.leaseGranted(grant(6), performance.now()), true);
    assert.equal(h.agent.epoch, 6);
  });
});
